/** The key-file format: header table of bad inputs, body strictness, tamper = one outcome, round trips. */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEYFILE_HEADER_LENGTH } from '../constants.js';
import { decodeBody, encodeBody, type StoredKey } from './body.js';
import { decodeHeader, encodeHeader, type KeyFileHeader } from './header.js';
import { openKeyFile, sealKeyFile } from './seal.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

const HEADER: KeyFileHeader = { scrypt: { log2N: 15, r: 8, p: 1 }, salt: new Uint8Array(16).fill(5), generation: 3 };
const KEY_ID = '5f0c6f8e-1d2b-4c3a-9e8f-0a1b2c3d4e5f';

function aesKey(versions = 1): StoredKey {
  return {
    keyId: KEY_ID,
    spec: 'AES_256',
    enabled: true,
    createdAt: 1_700_000_000_000,
    tags: { fleet: 'acme' },
    primaryVersion: versions,
    versions: Array.from({ length: versions }, (_, i) => ({ version: i + 1, createdAt: 1_700_000_000_000 + i, material: new Uint8Array(32).fill(i + 1) })),
  };
}

describe('key-file header', () => {
  it('round-trips and is 34 bytes', () => {
    const bytes = encodeHeader(HEADER);
    expect(bytes.length).toBe(KEYFILE_HEADER_LENGTH);
    expect(KEYFILE_HEADER_LENGTH).toBe(34);
    expect(decodeHeader(bytes)).toEqual(HEADER);
  });

  it('round-trips every in-bounds header (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 15, max: 20 }),
        fc.integer({ min: 8, max: 16 }),
        fc.integer({ min: 1, max: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (log2N, r, p, salt, generation) => {
          const header = { scrypt: { log2N, r, p }, salt, generation };
          fc.pre(128 * 2 ** log2N * r <= 1024 * 1024 * 1024);
          expect(decodeHeader(encodeHeader(header))).toEqual(header);
        },
      ),
    );
  });

  const bad: Array<[string, (b: Uint8Array) => Uint8Array]> = [
    ['a truncated header', (b) => b.subarray(0, 20)],
    ['a bad magic', (b) => (b[0] = 0x00, b)],
    ['format version 2', (b) => (b[4] = 2, b)],
    ['an unknown KDF id', (b) => (b[5] = 2, b)],
    ['a salt length of 8', (b) => (b[9] = 8, b)],
    ['generation 0', (b) => (b.fill(0, 26, 34), b)],
    ['a generation beyond 2^53-1', (b) => (b.fill(0xff, 26, 34), b)],
  ];
  it.each(bad)('%s -> STORE_CORRUPT', (_title, damage) => {
    expect(codeOf(() => decodeHeader(damage(encodeHeader(HEADER))))).toBe('STORE_CORRUPT');
  });

  it.each([
    ['log2N 14 (below the floor)', 6, 14],
    ['log2N 21 (above the ceiling)', 6, 21],
    ['r 7', 7, 7],
    ['r 17', 7, 17],
    ['p 0', 8, 0],
    ['p 17', 8, 17],
  ])('Precondition: scrypt parameters read from the file are within bounds before scrypt runs (%s -> STORE_CORRUPT)', (_title, offset, value) => {
    const bytes = encodeHeader(HEADER);
    bytes[offset] = value;
    expect(codeOf(() => decodeHeader(bytes))).toBe('STORE_CORRUPT');
  });

  it('refuses log2N 20 with r 16 (2 GiB of scrypt memory)', () => {
    const bytes = encodeHeader(HEADER);
    bytes[6] = 20;
    bytes[7] = 16;
    expect(codeOf(() => decodeHeader(bytes))).toBe('STORE_CORRUPT');
  });
});

describe('key-file body', () => {
  it('round-trips keys and versions; material is copied out, never a view', () => {
    const body = encodeBody([aesKey(2)]);
    const [key] = decodeBody(body);
    body.fill(0);
    expect(key).toMatchObject({ keyId: KEY_ID, spec: 'AES_256', enabled: true, primaryVersion: 2, tags: { fleet: 'acme' } });
    expect(key!.versions.map((v) => v.material[0])).toEqual([1, 2]);
  });

  function withMetadata(change: (meta: Record<string, unknown>) => void, materialLength = 32): Uint8Array {
    const body = encodeBody([aesKey()]);
    const jsonLength = new DataView(body.buffer).getUint32(0);
    const meta = JSON.parse(Buffer.from(body.subarray(4, 4 + jsonLength)).toString('utf8')) as Record<string, unknown>;
    change(meta);
    const json = Buffer.from(JSON.stringify(meta), 'utf8');
    const out = new Uint8Array(4 + json.length + materialLength);
    new DataView(out.buffer).setUint32(0, json.length);
    out.set(json, 4);
    out.fill(1, 4 + json.length);
    return out;
  }
  const key0 = (m: Record<string, unknown>) => (m['keys'] as Array<Record<string, unknown>>)[0]!;
  const version0 = (m: Record<string, unknown>) => (key0(m)['versions'] as Array<Record<string, unknown>>)[0]!;

  it.each<[string, (m: Record<string, unknown>) => void, number?]>([
    ['an unknown top-level field', (m) => (m['extra'] = 1)],
    ['another format label', (m) => (m['format'] = 'other')],
    ['an unknown key field', (m) => (key0(m)['owner'] = 'x')],
    ['a missing key field', (m) => delete key0(m)['enabled']],
    ['a malformed key id', (m) => (key0(m)['keyId'] = 'not-a-uuid')],
    ['an unknown spec', (m) => (key0(m)['spec'] = 'AES_128')],
    ['enabled as a string', (m) => (key0(m)['enabled'] = 'true')],
    ['a negative createdAt', (m) => (key0(m)['createdAt'] = -1)],
    ['a primary version it does not have', (m) => (key0(m)['primaryVersion'] = 2)],
    ['versions not numbered 1..n', (m) => (version0(m)['version'] = 2)],
    ['an AES version of 31 bytes', (m) => (version0(m)['length'] = 31), 31],
    ['a tag value that is not a string', (m) => (key0(m)['tags'] = { a: 1 })],
    ['no versions', (m) => (key0(m)['versions'] = []), 0],
    ['a duplicated key', (m) => (m['keys'] = [key0(m), key0(m)]), 64],
    ['trailing bytes after the material', () => undefined, 33],
    ['a truncated material section', () => undefined, 31],
  ])('refuses %s -> STORE_CORRUPT', (_title, change, materialLength) => {
    expect(codeOf(() => decodeBody(withMetadata(change, materialLength)))).toBe('STORE_CORRUPT');
  });

  it('refuses a metadata length beyond the body, and non-JSON metadata', () => {
    const body = encodeBody([aesKey()]);
    new DataView(body.buffer).setUint32(0, body.length);
    expect(codeOf(() => decodeBody(body))).toBe('STORE_CORRUPT');
    const junk = new Uint8Array(8);
    new DataView(junk.buffer).setUint32(0, 4);
    junk.set([0xff, 0xfe, 0x7b, 0x7d], 4);
    expect(codeOf(() => decodeBody(junk))).toBe('STORE_CORRUPT');
  });

  it('refuses a private key that is not the spec it claims', () => {
    const body = encodeBody([{ ...aesKey(), spec: 'ECDSA_P256' }]);
    expect(codeOf(() => decodeBody(body))).toBe('STORE_CORRUPT');
  });
});

describe('sealed key file', () => {
  const fileKey = new Uint8Array(randomBytes(32));

  it('opens with the file key and binds the header: any flipped header or body bit is one ACCESS_DENIED', () => {
    const body = encodeBody([aesKey()]);
    const file = sealKeyFile(HEADER, fileKey, body);
    expect(Buffer.from(openKeyFile(file, fileKey)).equals(Buffer.from(body))).toBe(true);
    // Salt and generation bytes stay structurally valid, so only the authentication can catch them.
    for (const at of [12, 30, file.length - 1, file.length - 20]) {
      const tampered = file.slice();
      tampered[at]! ^= 0x01;
      expect([at, codeOf(() => openKeyFile(tampered, fileKey))]).toEqual([at, 'ACCESS_DENIED']);
    }
    expect(codeOf(() => openKeyFile(file, new Uint8Array(32)))).toBe('ACCESS_DENIED');
  });

  it('a wrong-key failure and a tamper failure carry the same message', () => {
    const file = sealKeyFile(HEADER, fileKey, encodeBody([]));
    const tampered = file.slice();
    tampered[tampered.length - 1]! ^= 1;
    const messages = [() => openKeyFile(file, new Uint8Array(32)), () => openKeyFile(tampered, fileKey)].map((fn) => {
      try {
        fn();
        return 'opened';
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(messages[0]).toBe(messages[1]);
    expect(messages[0]).not.toMatch(/tag|decrypt|salt|passphrase [a-z]+ wrong/i);
  });

  it('a body that is not an envelope is STORE_CORRUPT', () => {
    const file = new Uint8Array(KEYFILE_HEADER_LENGTH + 40);
    file.set(encodeHeader(HEADER), 0);
    expect(codeOf(() => openKeyFile(file, fileKey))).toBe('STORE_CORRUPT');
  });
});
