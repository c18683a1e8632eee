/**
 * Strict parsing of one DER certificate into the fields fleetkey checks. Nothing here decides
 * whether to trust the certificate; `validate.ts` does that. Strictness: bounded size, the DER
 * must re-encode to the very same bytes (one encoding per certificate), v3 only, the inner and
 * outer signature algorithms equal and one of ours, no unique ids, no repeated extensions, a
 * positive serial number of at most 20 octets.
 *
 * Trust boundary: the input is attacker bytes; every failure is `CertificateInvalid`.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Version } from '@peculiar/asn1-x509';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import type { SignatureAlgorithm } from '../sign/algorithms.js';
import { keyAlgorithmOf } from '../sign/key-algorithm.js';
import { signatureAlgorithmOf } from './algorithm-identifiers.js';
import { CertificateInvalid } from './errors.js';
import type { CertificateInvalidReason } from './errors.js';
import { indexExtensions } from './extensions.js';
import type { RawExtension } from './extensions.js';
import { readName } from './names.js';
import type { NameParts } from './names.js';
import { decodePemOrDer, equalBytes, toHex } from './pem.js';

/** Largest certificate accepted (16 KiB); fleetkey certificates are under 2 KiB even with RSA-4096. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;
/** RFC 5280 §4.1.2.2: serial numbers are at most 20 octets. */
export const MAX_SERIAL_NUMBER_BYTES = 20;

/** A certificate as PEM text or DER bytes. */
export type CertificateInput = string | Uint8Array;

export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** The exact TBSCertificate bytes the signature covers. */
  readonly tbsDer: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  /** Lowercase hex of the serial number's magnitude (no sign byte). */
  readonly serialNumber: string;
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly subject: NameParts;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spkiDer: Uint8Array;
  readonly publicKey: KeyObject;
  readonly keyAlgorithm: AsymmetricAlgorithm;
  readonly extensions: ReadonlyMap<string, RawExtension>;
}

function fail(reason: CertificateInvalidReason, cause?: unknown): never {
  throw new CertificateInvalid(reason, cause === undefined ? {} : { cause });
}

/** Serial number magnitude, or undefined when it is zero, negative, non-minimal or too long. */
export function serialMagnitude(serial: Uint8Array): Uint8Array | undefined {
  if (serial.length === 0 || serial[0]! & 0x80) return undefined;
  const magnitude = serial[0] === 0 ? serial.subarray(1) : serial;
  if (serial[0] === 0 && (magnitude.length === 0 || (magnitude[0]! & 0x80) === 0)) return undefined;
  if (magnitude.length === 0 || magnitude.length > MAX_SERIAL_NUMBER_BYTES) return undefined;
  return magnitude;
}

/**
 * Parses and checks the form of one certificate.
 * @throws CertificateInvalid ('too-large' | 'malformed' | 'non-canonical' | 'unsupported-algorithm').
 * @throws TypeError when `input` is neither a string nor a Uint8Array.
 */
/** Parsed certificates kept by content: issuers and anchors are parsed once, not per issuance or handshake. */
export const PARSED_CERTIFICATE_CACHE_SIZE = 256;
const parsedByDigest = new Map<string, ParsedCertificate>();

/**
 * Parses and checks a certificate strictly. Results are cached by the SHA-256 of the DER (a hit
 * returns the same frozen object): a fleet CA is parsed once, not on every certificate it signs.
 */
export function parseCertificate(input: CertificateInput): ParsedCertificate {
  const der = decodePemOrDer(input, 'CERTIFICATE', MAX_CERTIFICATE_BYTES, (reason) => fail(reason));
  const digest = createHash('sha256').update(der).digest('base64');
  const cached = parsedByDigest.get(digest);
  if (cached !== undefined) return cached;
  const parsed = Object.freeze(parseUncached(new Uint8Array(der)));
  if (parsedByDigest.size >= PARSED_CERTIFICATE_CACHE_SIZE) parsedByDigest.delete(parsedByDigest.keys().next().value!);
  parsedByDigest.set(digest, parsed);
  return parsed;
}

function parseUncached(der: Uint8Array): ParsedCertificate {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch (error) {
    fail('malformed', error);
  }
  // Precondition: the certificate DER re-encodes to the same bytes (no BER, no trailing data).
  let reencoded: Uint8Array;
  try {
    reencoded = new Uint8Array(AsnConvert.serialize(cert));
  } catch (error) {
    fail('malformed', error);
  }
  if (!equalBytes(reencoded, der)) fail('non-canonical');
  const tbs = cert.tbsCertificate;
  if (!cert.tbsCertificateRaw) fail('malformed');
  const tbsDer = new Uint8Array(cert.tbsCertificateRaw);
  if (tbs.version !== Version.v3 || tbs.issuerUniqueID || tbs.subjectUniqueID) fail('malformed');

  const signatureAlgorithm = signatureAlgorithmOf(cert.signatureAlgorithm);
  // Precondition: the outer signatureAlgorithm equals the TBS signature field (RFC 5280 §4.1.1.2).
  if (!signatureAlgorithm || signatureAlgorithmOf(tbs.signature) !== signatureAlgorithm) fail('unsupported-algorithm');

  const serial = serialMagnitude(new Uint8Array(tbs.serialNumber));
  if (!serial) fail('malformed');

  const extensions = indexExtensions(tbs.extensions);
  if (!extensions) fail('bad-extensions');

  const subject = readName(tbs.subject);
  if (!subject) fail('bad-identity');

  const spkiDer = new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo));
  let publicKey: KeyObject;
  let keyAlgorithm: AsymmetricAlgorithm;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
    keyAlgorithm = keyAlgorithmOf(publicKey);
  } catch (error) {
    fail('unsupported-algorithm', error);
  }

  return {
    der,
    tbsDer,
    signatureAlgorithm,
    signature: new Uint8Array(cert.signatureValue),
    serialNumber: toHex(serial),
    issuerDer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
    subjectDer: new Uint8Array(AsnConvert.serialize(tbs.subject)),
    subject,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    spkiDer,
    publicKey,
    keyAlgorithm,
    extensions,
  };
}

/** What an operator view needs to show about a certificate, read with the strict parser. */
export interface CertificateSummary {
  /** Lowercase hex. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * The serial number and validity of a certificate (PEM or DER).
 * @throws CertificateInvalid when it does not parse strictly.
 */
export function summarizeCertificate(input: CertificateInput): CertificateSummary {
  const parsed = parseCertificate(input);
  return { serialNumber: parsed.serialNumber, notBefore: parsed.notBefore, notAfter: parsed.notAfter };
}
