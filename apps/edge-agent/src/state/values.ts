/**
 * The agent's non-secret state as keystore values: their names and the strict schemas they are
 * read back through. Everything here is public or integrity-only (certificates, public keys,
 * addresses, sequences, flags); secrets are key records, never values.
 *
 * Trust boundary: values come back from disk. The keystore authenticates them, but a value written
 * by an older or buggy build is still parsed strictly: unknown fields, wrong types, non-canonical
 * base64 and out-of-range numbers are StoreCorrupt naming the value, never echoing it.
 */
import { X509Certificate } from 'node:crypto';
import { isValidIdentifier } from '@fleetkey/key-types';
import { StoreCorrupt } from '@fleetkey/keystore';
import { z } from 'zod';

export const VALUE_NAMES = Object.freeze({
  identity: 'agent.identity',
  certificate: 'agent.certificate',
  fleetCa: 'agent.fleet-ca',
  serverCa: 'agent.server-ca',
  endpoints: 'agent.endpoints',
  emergencyKeys: 'agent.emergency-keys',
  sequences: 'agent.sequences',
  revocationList: 'agent.revocation-list',
  lock: 'agent.lock',
  contact: 'agent.contact',
});

/** The version of the value formats below; a newer one is refused rather than half-read. */
export const STATE_FORMAT_VERSION = 1;
/** Most certificates in a stored chain (EnrollResponse allows 8). */
export const MAX_STORED_CERTIFICATES = 8;
/** Most bytes of one stored certificate (EnrollResponse's limit). */
export const MAX_CERTIFICATE_BYTES = 16_384;
/** Most pinned emergency keys (the current one and its successor during a rotation, with room). */
export const MAX_EMERGENCY_KEYS = 4;
/** Most manifest series the agent tracks (a bundle carries at most 4 manifests). */
export const MAX_MANIFEST_SERIES = 8;
/** Most bytes of an emergency key's SPKI (messages.proto EmergencyKey). */
export const MAX_SPKI_BYTES = 2048;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL_U64 = /^(0|[1-9][0-9]{0,19})$/;
const MAX_U64 = (1n << 64n) - 1n;

export const identifier = z.string().refine(isValidIdentifier, 'expected an identifier');
const base64 = (maxBytes: number) => z.string().max(4 * Math.ceil(maxBytes / 3)).regex(BASE64, 'expected canonical base64');
export const u64Text = z.string().regex(DECIMAL_U64).refine((text) => BigInt(text) <= MAX_U64, 'expected a 64-bit unsigned integer');
const isoTime = z.iso.datetime();
const sequence = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const address = z.string().min(1).max(255);

export const identitySchema = z.strictObject({
  format: z.literal(STATE_FORMAT_VERSION),
  fleet: identifier,
  group: identifier.nullable(),
  deviceId: identifier,
  keyAlgorithm: z.enum(['ECDSA_P256', 'RSA_2048']),
  serialNumber: z.string().max(128),
  provisionedAt: isoTime,
});

export const certificatesSchema = z.strictObject({
  certificates: z.array(base64(MAX_CERTIFICATE_BYTES)).min(1).max(MAX_STORED_CERTIFICATES),
});

export const endpointsSchema = z.strictObject({
  controller: address,
  broker: address,
});

export const emergencyKeysSchema = z.strictObject({
  keys: z
    .array(
      z.strictObject({
        keyRef: z.string().min(1).max(255),
        algorithm: z.enum(['ECDSA_P256', 'RSA_2048']),
        signatureAlgorithm: z.enum(['ECDSA_P256_SHA256', 'RSA_PKCS1_SHA256', 'RSA_PSS_SHA256']),
        publicKey: base64(MAX_SPKI_BYTES),
      }),
    )
    .min(1)
    .max(MAX_EMERGENCY_KEYS),
});

export const sequencesSchema = z.strictObject({
  command: u64Text,
  keyBundle: sequence,
  manifests: z.record(z.string().min(1).max(255), sequence).refine((map) => Object.keys(map).length <= MAX_MANIFEST_SERIES, 'too many manifest series'),
});

export const lockSchema = z.strictObject({
  locked: z.boolean(),
  /** The command sequence that locked the agent, when a command did. */
  sequence: u64Text.nullable(),
  since: isoTime.nullable(),
  reason: z.string().max(512).optional(),
  /** The lockdown scopes in force ('fleet', 'group:G', 'device:D'); absent in states written before scopes were kept. */
  scopes: z.array(z.string().min(1).max(80)).max(16).optional(),
  /** The reason of each lockdown scope in force; absent in states written before it was kept. */
  reasons: z.record(z.string().min(1).max(80), z.string().max(512)).refine((map) => Object.keys(map).length <= 16, 'too many reasons').optional(),
});

export const contactSchema = z.strictObject({
  lastContact: isoTime.nullable(),
  offlineSince: isoTime.nullable(),
  /** The latest time the agent has seen (its clock's high-water mark); absent in older states. */
  latestSeen: isoTime.nullable().optional(),
});

export const chunkHeaderSchema = z.strictObject({
  sequence: u64Text,
  generation: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  length: z.number().int().min(1),
  chunks: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * Parses a stored JSON value through `schema`.
 * @throws StoreCorrupt naming the value (and the first failing path), never its contents.
 */
export function parseStoredJson<S extends z.ZodType>(name: string, value: unknown, schema: S): z.output<S> {
  if (typeof value !== 'string') throw new StoreCorrupt(`agent state: ${name} is not a text value`);
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new StoreCorrupt(`agent state: ${name} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoreCorrupt(`agent state: ${name} is malformed at ${issue?.path.join('.') || '(value)'}`);
  }
  return parsed.data;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes base64 a schema already proved canonical. */
export function decodeBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * Decodes stored certificates and proves each is one DER certificate.
 * @throws StoreCorrupt when one does not parse.
 */
export function decodeCertificates(name: string, encoded: readonly string[]): Uint8Array[] {
  return encoded.map((text, index) => {
    const der = decodeBase64(text);
    try {
      new X509Certificate(der);
    } catch {
      throw new StoreCorrupt(`agent state: ${name} certificate ${index} does not parse`);
    }
    return der;
  });
}
