/**
 * Validation of a device certificate against the fleet CA certificates: the check every mTLS peer,
 * the controller and the broker run before believing a device is who it says. Steps, in order:
 * strict parse; issuer found by name (and key id) among the trust anchors; signature; issuer is a
 * fleet CA valid at `at`; device validity at `at`; device profile (extensions, SAN, names); fleet
 * match (CA's fleet, and `expectedFleet`); OpenSSL's own view (node X509Certificate) agrees;
 * revocation through the callback.
 *
 * Trust boundary: `certificate` is attacker-supplied; `caCertificates`, `at` and `isRevoked` are
 * trusted configuration. Only `CertificateInvalid` / `CertificateRevoked` come out for bad input.
 */
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import { keyMatchesSignatureAlgorithm } from '../sign/key-algorithm.js';
import { verifySignature } from '../sign/verify.js';
import { CertificateInvalid, CertificateRevoked } from './errors.js';
import type { CertificateInvalidReason } from './errors.js';
import { readAuthorityKeyIdentifier, readBasicConstraints, readExtendedKeyUsage, readKeyUsage, readSanUris } from './extensions.js';
import { parseFleetkeyUri } from './names.js';
import {
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_KEY_USAGE,
  OID_KP_CLIENT_AUTH,
  OID_KP_SERVER_AUTH,
  OID_SUBJECT_ALT_NAME,
} from './oids.js';
import { parseCertificate } from './parse-certificate.js';
import type { CertificateInput, ParsedCertificate } from './parse-certificate.js';
import { equalBytes } from './pem.js';
import { caProblem, hasUnknownCriticalExtension, subjectKeyIdOf } from './profile.js';

/** Most trust anchors one validation looks at (a fleet has one CA, two during a CA rotation). */
export const MAX_CA_CERTIFICATES = 16;

export interface ValidateDeviceCertificateParams {
  readonly certificate: CertificateInput;
  /** The fleet CA certificates trusted as anchors (PEM or DER). */
  readonly caCertificates: readonly CertificateInput[];
  /** The time to validate at (inject the clock; never read here). */
  readonly at: Date;
  /** Called with the lowercase hex serial number of an otherwise valid certificate. */
  readonly isRevoked?: (serialNumberHex: string) => boolean;
  /** When set, the device must belong to this fleet. */
  readonly expectedFleet?: string;
}

export interface ValidatedDevice {
  readonly fleet: string;
  readonly deviceId: string;
  /** Lowercase hex serial number. */
  readonly serialNumber: string;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
  readonly keyAlgorithm: AsymmetricAlgorithm;
  /** Lowercase hex serial number of the CA certificate that issued it. */
  readonly issuerSerialNumber: string;
}

function fail(reason: CertificateInvalidReason): never {
  throw new CertificateInvalid(reason);
}

function within(cert: ParsedCertificate, at: Date): boolean {
  // RFC 5280 §4.1.2.5: the validity period includes both notBefore and notAfter.
  return at.getTime() >= cert.notBefore.getTime() && at.getTime() <= cert.notAfter.getTime();
}

function parseAnchors(caCertificates: readonly CertificateInput[]): ParsedCertificate[] {
  if (!Array.isArray(caCertificates)) throw new TypeError('"caCertificates" expected an array');
  if (caCertificates.length < 1 || caCertificates.length > MAX_CA_CERTIFICATES) {
    throw new RangeError(`"caCertificates" expected 1-${MAX_CA_CERTIFICATES} certificates, got ${caCertificates.length}`);
  }
  return caCertificates.map((input, index) => {
    try {
      return parseCertificate(input);
    } catch (error) {
      throw new RangeError(`"caCertificates[${index}]" is not a valid certificate`, { cause: error });
    }
  });
}

function findIssuer(device: ParsedCertificate, anchors: readonly ParsedCertificate[]): ParsedCertificate {
  const akiExt = device.extensions.get(OID_AUTHORITY_KEY_IDENTIFIER);
  const aki = akiExt && readAuthorityKeyIdentifier(akiExt.value);
  if (akiExt && !aki) fail('bad-extensions');
  const candidates = anchors.filter((ca) => {
    if (!equalBytes(ca.subjectDer, device.issuerDer)) return false;
    const ski = subjectKeyIdOf(ca);
    return !aki || !ski || equalBytes(aki, ski);
  });
  if (candidates.length === 0) fail('unknown-issuer');
  // Precondition: the device certificate's signature verifies with an anchor's public key.
  const issuer = candidates.find(
    (ca) =>
      keyMatchesSignatureAlgorithm(ca.publicKey, device.signatureAlgorithm) &&
      verifySignature(ca.publicKey, device.signatureAlgorithm, device.tbsDer, device.signature),
  );
  if (!issuer) fail('bad-signature');
  return issuer;
}

function checkDeviceProfile(device: ParsedCertificate): { fleet: string; deviceId: string } {
  if (hasUnknownCriticalExtension(device)) fail('unknown-critical-extension');
  // Precondition: a device certificate is not a CA and may sign, but not certificates.
  const basic = device.extensions.get(OID_BASIC_CONSTRAINTS);
  if (basic) {
    const constraints = readBasicConstraints(basic.value);
    if (!constraints || constraints.ca) fail('bad-extensions');
  }
  const usageExt = device.extensions.get(OID_KEY_USAGE);
  const usage = usageExt && readKeyUsage(usageExt.value);
  if (usage === undefined || (usage & KeyUsageFlags.digitalSignature) === 0) fail('bad-extensions');
  if (usage & (KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)) fail('bad-extensions');
  // Precondition: the device certificate is good for both ends of agent-to-agent mTLS.
  const ekuExt = device.extensions.get(OID_EXT_KEY_USAGE);
  const eku = ekuExt && readExtendedKeyUsage(ekuExt.value);
  if (!eku || !eku.includes(OID_KP_CLIENT_AUTH) || !eku.includes(OID_KP_SERVER_AUTH)) fail('bad-extensions');
  // Precondition: the identity is exactly one fleetkey SAN URI, and the subject names agree with it.
  const sanExt = device.extensions.get(OID_SUBJECT_ALT_NAME);
  const uris = sanExt && readSanUris(sanExt.value);
  if (!uris || uris.length !== 1) fail('bad-identity');
  const identity = parseFleetkeyUri(uris[0]!);
  if (!identity) fail('bad-identity');
  if (device.subject.commonName !== identity.deviceId || device.subject.organization !== identity.fleet) fail('bad-identity');
  return identity;
}

/** OpenSSL parses the same bytes and agrees on the signature and the issuer link (defence in depth). */
function opensslAgrees(device: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    const deviceX509 = new X509Certificate(device.der);
    return deviceX509.verify(issuer.publicKey) && deviceX509.checkIssued(new X509Certificate(issuer.der));
  } catch {
    return false;
  }
}

/**
 * Validates a device certificate and returns who it names.
 * @throws CertificateInvalid (code CERTIFICATE_INVALID, with a `reason`) when it does not validate.
 * @throws CertificateRevoked (code CERTIFICATE_REVOKED) when `isRevoked` names its serial number.
 * @throws TypeError / RangeError for malformed trusted parameters (anchors, `at`, `expectedFleet`).
 */
export function validateDeviceCertificate(params: ValidateDeviceCertificateParams): ValidatedDevice {
  const { at, isRevoked, expectedFleet } = params;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError('"at" expected a valid Date');
  if (isRevoked !== undefined && typeof isRevoked !== 'function') throw new TypeError('"isRevoked" expected a function');
  if (expectedFleet !== undefined && typeof expectedFleet !== 'string') throw new TypeError('"expectedFleet" expected a string');
  const anchors = parseAnchors(params.caCertificates);
  const device = parseCertificate(params.certificate);

  const issuer = findIssuer(device, anchors);
  // Precondition: the issuing anchor is a fleet CA, valid at `at`.
  const problem = caProblem(issuer);
  if (problem) fail(problem);
  if (!within(issuer, at)) fail('issuer-not-valid');
  // Precondition: the device certificate is valid at `at`.
  if (at.getTime() < device.notBefore.getTime()) fail('not-yet-valid');
  if (at.getTime() > device.notAfter.getTime()) fail('expired');

  const { fleet, deviceId } = checkDeviceProfile(device);
  // Precondition: the device belongs to the fleet of the CA that issued it (no cross-tenant certificates).
  if (fleet !== issuer.subject.organization) fail('wrong-fleet');
  if (expectedFleet !== undefined && fleet !== expectedFleet) fail('wrong-fleet');
  if (!opensslAgrees(device, issuer)) fail('bad-signature');
  // Precondition: a revoked certificate is refused even though everything else checks out.
  if (isRevoked?.(device.serialNumber)) throw new CertificateRevoked(device.serialNumber);

  return {
    fleet,
    deviceId,
    serialNumber: device.serialNumber,
    notAfter: device.notAfter,
    publicKey: device.publicKey,
    keyAlgorithm: device.keyAlgorithm,
    issuerSerialNumber: issuer.serialNumber,
  };
}
