/**
 * Building and reading the X.509 v3 extensions fleetkey uses (RFC 5280 §4.2.1). Readers never
 * throw: they return undefined on anything malformed, and the caller turns that into its error.
 *
 * Trust boundary: readers take attacker-supplied extension values.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  ExtendedKeyUsage,
  Extension,
  KeyIdentifier,
  KeyUsage,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import type { Extensions, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';

/** Key identifiers are 160 bits (RFC 7093 §2 method 1). */
export const KEY_IDENTIFIER_LENGTH = 20;
/** Most extensions one certificate or CSR may carry; ours carry at most six. */
export const MAX_EXTENSIONS = 32;
/** Most names in one subjectAltName read from a CSR or certificate. */
export const MAX_SAN_ENTRIES = 16;

export function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/**
 * RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 over the subjectPublicKey BIT STRING
 * value. (RFC 5280's SHA-1 method would do too; this keeps SHA-1 out of the code base.)
 */
export function keyIdentifierOf(spki: SubjectPublicKeyInfo): Uint8Array {
  const digest = createHash('sha256').update(new Uint8Array(spki.subjectPublicKey)).digest();
  return new Uint8Array(digest.subarray(0, KEY_IDENTIFIER_LENGTH));
}

export function subjectKeyIdentifier(keyId: Uint8Array): SubjectKeyIdentifier {
  return new SubjectKeyIdentifier(keyId);
}

export function authorityKeyIdentifier(keyId: Uint8Array): AuthorityKeyIdentifier {
  return new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) });
}

export interface RawExtension {
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** Extensions by OID; undefined when an OID repeats (RFC 5280 §4.2) or there are too many. */
export function indexExtensions(extensions: Extensions | undefined): Map<string, RawExtension> | undefined {
  const map = new Map<string, RawExtension>();
  if (!extensions) return map;
  if (extensions.length > MAX_EXTENSIONS) return undefined;
  for (const ext of extensions) {
    if (map.has(ext.extnID)) return undefined;
    map.set(ext.extnID, { critical: ext.critical === true, value: new Uint8Array(ext.extnValue.buffer) });
  }
  return map;
}

function parse<T>(value: Uint8Array, type: new () => T): T | undefined {
  try {
    const parsed = AsnConvert.parse(value, type);
    // One encoding only: the value must re-encode to the same bytes.
    const again = new Uint8Array(AsnConvert.serialize(parsed));
    return Buffer.from(again).equals(value) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function readBasicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } | undefined {
  const parsed = parse(value, BasicConstraints);
  if (!parsed) return undefined;
  return parsed.pathLenConstraint === undefined ? { ca: parsed.cA } : { ca: parsed.cA, pathLength: parsed.pathLenConstraint };
}

/** KeyUsage bits as KeyUsageFlags (digitalSignature = 1, keyEncipherment = 4, ...). */
export function readKeyUsage(value: Uint8Array): number | undefined {
  return parse(value, KeyUsage)?.toNumber();
}

export function readExtendedKeyUsage(value: Uint8Array): string[] | undefined {
  const parsed = parse(value, ExtendedKeyUsage);
  return parsed ? [...parsed] : undefined;
}

export function readKeyIdentifier(value: Uint8Array): Uint8Array | undefined {
  const parsed = parse(value, SubjectKeyIdentifier);
  return parsed ? new Uint8Array(parsed.buffer) : undefined;
}

/** The keyIdentifier of an AuthorityKeyIdentifier; undefined if absent or if issuer/serial are used instead. */
export function readAuthorityKeyIdentifier(value: Uint8Array): Uint8Array | undefined {
  const parsed = parse(value, AuthorityKeyIdentifier);
  if (!parsed?.keyIdentifier || parsed.authorityCertIssuer || parsed.authorityCertSerialNumber) return undefined;
  return new Uint8Array(parsed.keyIdentifier.buffer);
}

/** The URIs of a subjectAltName; undefined when it holds anything but URIs or too many names. */
export function readSanUris(value: Uint8Array): string[] | undefined {
  const parsed = parse(value, SubjectAlternativeName);
  if (!parsed || parsed.length === 0 || parsed.length > MAX_SAN_ENTRIES) return undefined;
  const uris: string[] = [];
  for (const name of parsed) {
    if (name.uniformResourceIdentifier === undefined) return undefined;
    uris.push(name.uniformResourceIdentifier);
  }
  return uris;
}
