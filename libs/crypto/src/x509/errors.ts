/**
 * Typed errors of the X.509 part of @fleetkey/crypto. Messages are fixed per reason and never echo
 * certificate or CSR bytes; `reason` is a short stable literal for logs and audit records.
 *
 * Trust boundary: thrown on attacker-supplied certificates and CSRs.
 */
import { FleetkeyError } from '@fleetkey/key-types';

export type CsrInvalidReason =
  | 'too-large'
  | 'malformed'
  | 'non-canonical'
  | 'unsupported-algorithm'
  | 'key-not-allowed'
  | 'bad-signature'
  | 'bad-identity';

/** A PKCS#10 request that fleetkey will not certify. */
export class CsrInvalid extends FleetkeyError {
  readonly code = 'CSR_INVALID' as const;
  readonly reason: CsrInvalidReason;

  constructor(reason: CsrInvalidReason, options: { cause?: unknown } = {}) {
    super(`certificate request invalid: ${reason}`, options);
    this.reason = reason;
  }
}

export type CertificateInvalidReason =
  | 'too-large'
  | 'malformed'
  | 'non-canonical'
  | 'unsupported-algorithm'
  | 'unknown-issuer'
  | 'bad-signature'
  | 'issuer-not-ca'
  | 'issuer-not-valid'
  | 'expired'
  | 'not-yet-valid'
  | 'unknown-critical-extension'
  | 'bad-extensions'
  | 'bad-identity'
  | 'wrong-fleet';

/** A certificate that does not chain to a fleet CA, is outside its validity, or is not a fleetkey device certificate. */
export class CertificateInvalid extends FleetkeyError {
  readonly code = 'CERTIFICATE_INVALID' as const;
  readonly reason: CertificateInvalidReason;

  constructor(reason: CertificateInvalidReason, options: { cause?: unknown } = {}) {
    super(`certificate invalid: ${reason}`, options);
    this.reason = reason;
  }
}

/** A certificate that is otherwise valid but whose serial number the revocation callback names. */
export class CertificateRevoked extends FleetkeyError {
  readonly code = 'CERTIFICATE_REVOKED' as const;
  /** Lowercase hex serial number of the revoked certificate (public, not secret). */
  readonly serialNumber: string;

  constructor(serialNumber: string) {
    super('certificate revoked');
    this.serialNumber = serialNumber;
  }
}
