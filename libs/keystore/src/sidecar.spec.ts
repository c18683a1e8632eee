/** The sidecar: strict parsing (a table of bad inputs), canonical base64, atomic replacement. */
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBase64Field, encodeBase64 } from './base64.js';
import { decodeSidecar, encodeSidecar, readSidecar, sidecarPath, writeSidecar, type Sidecar } from './sidecar.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

const GOOD: Sidecar = {
  cipher: 'chacha20',
  keyCheck: new Uint8Array(32).fill(9),
  protector: { kind: 'passphrase', kdf: 'scrypt', N: 32768, r: 8, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' },
};

function goodJson(): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(encodeSidecar(GOOD))) as Record<string, unknown>;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

describe('sidecar codec', () => {
  it('round-trips', () => {
    const decoded = decodeSidecar(encodeSidecar(GOOD));
    expect(decoded.cipher).toBe('chacha20');
    expect(Buffer.from(decoded.keyCheck).equals(Buffer.from(GOOD.keyCheck))).toBe(true);
    expect(decoded.protector).toEqual(GOOD.protector);
  });

  it.each([
    ['not JSON', () => bytes('{')],
    ['invalid UTF-8', () => new Uint8Array([0x7b, 0xff, 0x7d])],
    ['an array', () => bytes([])],
    ['an unknown top-level field', () => bytes({ ...goodJson(), extra: 1 })],
    ['another format', () => bytes({ ...goodJson(), format: 'something-else' })],
    ['version 2', () => bytes({ ...goodJson(), version: 2 })],
    ['a key check of 31 bytes', () => bytes({ ...goodJson(), keyCheck: encodeBase64(new Uint8Array(31)) })],
    ['a non-canonical key check', () => bytes({ ...goodJson(), keyCheck: `${encodeBase64(new Uint8Array(32))}\n` })],
    ['no protector', () => bytes({ ...goodJson(), protector: undefined })],
    ['a protector kind with capitals', () => bytes({ ...goodJson(), protector: { kind: 'File' } })],
    ['a protector field holding an object', () => bytes({ ...goodJson(), protector: { kind: 'file', x: {} } })],
    ['a protector field holding a huge string', () => bytes({ ...goodJson(), protector: { kind: 'file', x: 'a'.repeat(5000) } })],
    ['too many protector fields', () => bytes({ ...goodJson(), protector: Object.fromEntries([['kind', 'file'], ...Array.from({ length: 40 }, (_, i) => [`f${i}`, 1])]) })],
    ['an oversized file', () => new Uint8Array(20_000).fill(0x20)],
  ])('refuses %s (STORE_CORRUPT)', (_title, make) => {
    expect(codeOf(() => decodeSidecar(make()))).toBe('STORE_CORRUPT');
  });

  it('Precondition: the sidecar names the cipher this build opens; another cipher is never tried', () => {
    expect(codeOf(() => decodeSidecar(bytes({ ...goodJson(), cipher: 'sqlcipher' })))).toBe('STORE_CORRUPT');
  });

  it('Precondition: the sidecar is bounded in size before it is parsed', () => {
    expect(codeOf(() => decodeSidecar(bytes(`${JSON.stringify(goodJson())}${' '.repeat(17_000)}`)))).toBe('STORE_CORRUPT');
  });

  it('never throws anything but STORE_CORRUPT on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (input) => {
        const code = codeOf(() => decodeSidecar(input));
        return code === 'STORE_CORRUPT';
      }),
    );
  });
});

describe('strict base64', () => {
  it('Precondition: the field is canonical base64 of a bounded length before any byte is used', () => {
    expect(codeOf(() => decodeBase64Field('AA=A', 'f', 1, 4))).toBe('STORE_CORRUPT');
    expect(codeOf(() => decodeBase64Field('AAAA AAAA', 'f', 1, 8))).toBe('STORE_CORRUPT');
    expect(codeOf(() => decodeBase64Field('AAAAAAAA', 'f', 1, 3))).toBe('STORE_CORRUPT');
    expect(codeOf(() => decodeBase64Field(42, 'f', 1, 3))).toBe('STORE_CORRUPT');
  });

  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (input) =>
        Buffer.from(decodeBase64Field(encodeBase64(input), 'f', 1, 64)).equals(Buffer.from(input)),
      ),
    );
  });
});

describe('sidecar file', () => {
  it('is written atomically with mode 0600 and no temp file left behind', async () => {
    const dir = dirs.make();
    const db = path.join(dir, 'keys.db');
    await writeSidecar(db, GOOD);
    await writeSidecar(db, { ...GOOD, keyCheck: new Uint8Array(32).fill(1) });
    expect(readdirSync(dir)).toEqual(['keys.db.keyinfo.json']);
    expect(statSync(sidecarPath(db)).mode & 0o777).toBe(0o600);
    expect((await readSidecar(db)).keyCheck[0]).toBe(1);
  });

  it('is read back through the same strict parser', async () => {
    const dir = dirs.make();
    const db = path.join(dir, 'keys.db');
    writeFileSync(sidecarPath(db), '{"format":"x"}');
    await expect(readSidecar(db)).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    expect(readFileSync(sidecarPath(db), 'utf8')).toBe('{"format":"x"}');
  });
});
