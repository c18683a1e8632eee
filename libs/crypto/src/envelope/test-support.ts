/**
 * Test support for the envelope specs (not exported from the package): an independent byte-level
 * builder of envelope v1 that does NOT use the encoder under test, so the parser and the encoder
 * are each checked against the layout table in docs/envelope.md rather than against each other,
 * and a helper that runs a function and reports the error code it threw.
 *
 * Trust boundary: none; test code only.
 */
import { isFleetkeyError } from '@fleetkey/key-types';

/** Every field of an envelope as raw parts; lengths default to the real length of the part. */
export interface RawParts {
  magic: number[];
  version: number;
  algorithmId: number;
  providerLength?: number;
  provider: number[];
  keyIdLength?: number;
  keyId: number[];
  keyVersion: number;
  encapsulatedKeyLength?: number;
  encapsulatedKey: number[];
  nonceLength?: number;
  nonce: number[];
  ciphertextLength?: number;
  ciphertext: number[];
  trailing: number[];
}

export const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

export function baseParts(): RawParts {
  return {
    magic: [0x46, 0x4b],
    version: 1,
    algorithmId: 0x01,
    provider: ascii('local'),
    keyId: ascii('communication/acme/fleet'),
    keyVersion: 7,
    encapsulatedKey: [],
    nonce: Array.from({ length: 12 }, (_, i) => i + 1),
    ciphertext: Array.from({ length: 20 }, (_, i) => 0xa0 + i),
    trailing: [],
  };
}

const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Lays out the parts exactly as the docs' table says (big-endian), honouring overridden lengths. */
export function rawEnvelope(overrides: Partial<RawParts> = {}): Uint8Array {
  const p: RawParts = { ...baseParts(), ...overrides };
  return Uint8Array.from([
    ...p.magic,
    p.version,
    p.algorithmId,
    p.providerLength ?? p.provider.length,
    ...p.provider,
    ...u16(p.keyIdLength ?? p.keyId.length),
    ...p.keyId,
    ...u32(p.keyVersion),
    ...u16(p.encapsulatedKeyLength ?? p.encapsulatedKey.length),
    ...p.encapsulatedKey,
    p.nonceLength ?? p.nonce.length,
    ...p.nonce,
    ...u32(p.ciphertextLength ?? p.ciphertext.length),
    ...p.ciphertext,
    ...p.trailing,
  ]);
}

/** The header bytes (magic .. nonce) of raw parts, for building an AAD by hand. */
export function rawHeader(overrides: Partial<RawParts> = {}): Uint8Array {
  const full = rawEnvelope({ ...overrides, ciphertext: [], ciphertextLength: 0, trailing: [] });
  return full.subarray(0, full.length - 4);
}

/**
 * Runs `fn` and returns what it threw: the `code` of a FleetkeyError, `TypeError` / `RangeError`
 * / another constructor name for anything else, or `'NO_ERROR'`.
 */
export function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isFleetkeyError(error)) return error.code;
    return error instanceof Error ? error.constructor.name : typeof error;
  }
  return 'NO_ERROR';
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

/** Independent context encoding straight from docs/envelope.md (not the encoder under test). */
export function handContext(context: Readonly<Record<string, string>> | null): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(context ?? {}).sort()) {
    for (const text of [key, context![key]!]) {
      const utf8 = Buffer.from(text, 'utf8');
      parts.push(Buffer.from([utf8.length >>> 8, utf8.length & 0xff]), utf8);
    }
  }
  return Buffer.concat(parts);
}
