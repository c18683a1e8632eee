/**
 * The fleetkey certificate profile, read back from parsed certificates: what makes a certificate a
 * fleet CA, and the key usages a device certificate carries. Shared by issuance (to check the
 * issuer it is given) and validation (to check what it is shown).
 *
 * Trust boundary: inputs are parsed, possibly attacker-supplied, certificates.
 */
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import { isValidIdentifier } from '@fleetkey/key-types';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import { algorithmInfo } from '@fleetkey/key-types';
import type { CertificateInvalidReason } from './errors.js';
import { readBasicConstraints, readKeyIdentifier, readKeyUsage } from './extensions.js';
import { KNOWN_EXTENSIONS, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_SUBJECT_KEY_IDENTIFIER } from './oids.js';
import type { ParsedCertificate } from './parse-certificate.js';

/** Key usages of a device certificate: sign always; agree on EC keys; encipher on RSA keys (RFC 5280 §4.2.1.3). */
export function deviceKeyUsage(keyAlgorithm: AsymmetricAlgorithm): number {
  const family = algorithmInfo(keyAlgorithm).family;
  if (family === 'ec') return KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement;
  if (family === 'rsa') return KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment;
  return KeyUsageFlags.digitalSignature;
}

/** RFC 5280 §4.2: a certificate with a critical extension we do not understand must be rejected. */
export function hasUnknownCriticalExtension(cert: ParsedCertificate): boolean {
  for (const [oid, ext] of cert.extensions) if (ext.critical && !KNOWN_EXTENSIONS.has(oid)) return true;
  return false;
}

/** Why `cert` cannot act as a fleet CA, or undefined when it can. */
export function caProblem(cert: ParsedCertificate): CertificateInvalidReason | undefined {
  if (hasUnknownCriticalExtension(cert)) return 'unknown-critical-extension';
  const basic = cert.extensions.get(OID_BASIC_CONSTRAINTS);
  const constraints = basic && readBasicConstraints(basic.value);
  // RFC 5280 §4.2.1.9: cA must be asserted; §4.2.1.3: keyCertSign must be set to sign certificates.
  if (!constraints?.ca) return 'issuer-not-ca';
  const usage = cert.extensions.get(OID_KEY_USAGE);
  const bits = usage && readKeyUsage(usage.value);
  if (bits === undefined || (bits & KeyUsageFlags.keyCertSign) === 0) return 'issuer-not-ca';
  if (!isValidIdentifier(cert.subject.organization)) return 'bad-identity';
  return undefined;
}

/** The subjectKeyIdentifier of `cert`, if it has a well-formed one. */
export function subjectKeyIdOf(cert: ParsedCertificate): Uint8Array | undefined {
  const ext = cert.extensions.get(OID_SUBJECT_KEY_IDENTIFIER);
  return ext && readKeyIdentifier(ext.value);
}
