/** The `passphrase` protector: scrypt floor and ceiling, tamper detection, one error for every failure. */
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '@fleetkey/crypto';
import { passphraseProtector } from './passphrase.js';
import type { ProtectorDescriptor } from './types.js';

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

const PASSPHRASE = 'correct horse battery staple';

describe('passphrase protector', () => {
  it('wraps a random store key and unlocks it with the same passphrase', async () => {
    const protector = passphraseProtector({ passphrase: PASSPHRASE });
    const { storeKey, descriptor } = await protector.create();
    expect(storeKey).toHaveLength(32);
    expect(descriptor).toMatchObject({ kind: 'passphrase', kdf: 'scrypt', N: 32768, r: 8, p: 1 });
    const envelope = decodeEnvelope(Buffer.from(descriptor['wrappedStoreKey'] as string, 'base64'));
    expect(envelope).toMatchObject({ algorithm: 'AES_256_GCM', provider: 'keystore', keyId: 'store-key', keyVersion: 1 });
    const again = passphraseProtector({ passphrase: new TextEncoder().encode(PASSPHRASE) });
    expect(Buffer.from(await again.unlock(descriptor)).equals(Buffer.from(storeKey))).toBe(true);
  });

  it('two creates use different salts and keys', async () => {
    const protector = passphraseProtector({ passphrase: PASSPHRASE });
    const a = await protector.create();
    const b = await protector.create();
    expect(a.descriptor['salt']).not.toBe(b.descriptor['salt']);
    expect(Buffer.from(a.storeKey).equals(Buffer.from(b.storeKey))).toBe(false);
  });

  it('normalises string passphrases to NFC', async () => {
    const composed = 'pass\u00e9phrase';
    const decomposed = 'passe\u0301phrase';
    const { storeKey, descriptor } = await passphraseProtector({ passphrase: composed }).create();
    expect(Buffer.from(await passphraseProtector({ passphrase: decomposed }).unlock(descriptor)).equals(Buffer.from(storeKey))).toBe(true);
  });

  describe('one outcome for every unlock failure', () => {
    let base: ProtectorDescriptor;
    const protector = passphraseProtector({ passphrase: PASSPHRASE });
    it.each([
      ['a wrong passphrase', (d: ProtectorDescriptor) => d, 'wrong passphrase!!'],
      ['a different salt', (d: ProtectorDescriptor) => ({ ...d, salt: Buffer.alloc(16, 7).toString('base64') }), PASSPHRASE],
      ['a different N', (d: ProtectorDescriptor) => ({ ...d, N: 65536 }), PASSPHRASE],
      [
        'a flipped bit in the wrap',
        (d: ProtectorDescriptor) => {
          const bytes = Buffer.from(d['wrappedStoreKey'] as string, 'base64');
          bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
          return { ...d, wrappedStoreKey: bytes.toString('base64') };
        },
        PASSPHRASE,
      ],
      ['a wrap that is not an envelope', (d: ProtectorDescriptor) => ({ ...d, wrappedStoreKey: Buffer.alloc(40, 1).toString('base64') }), PASSPHRASE],
    ])('%s -> STORE_KEY_INVALID', async (_title, tamper, passphrase) => {
      base ??= (await protector.create()).descriptor;
      const error = await passphraseProtector({ passphrase }).unlock(tamper(base)).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('STORE_KEY_INVALID');
      expect((error as Error).message).not.toMatch(/decrypt|tag|salt|scrypt/i);
    });
  });

  it.each([
    ['N below the floor', { N: 2 ** 14 }],
    ['N above the ceiling', { N: 2 ** 21 }],
    ['N not a power of two', { N: 40000 }],
    ['r below the floor', { r: 4 }],
    ['p zero', { p: 0 }],
    ['N as a string', { N: '32768' }],
  ])('Precondition: scrypt parameters read from disk are within bounds before scrypt runs (%s -> STORE_CORRUPT)', async (_title, change) => {
    const protector = passphraseProtector({ passphrase: PASSPHRASE });
    const { descriptor } = await protector.create();
    expect(await codeOfAsync(protector.unlock({ ...descriptor, ...change } as ProtectorDescriptor))).toBe('STORE_CORRUPT');
  });

  it.each([
    ['a missing salt', { salt: undefined }],
    ['a short salt', { salt: Buffer.alloc(8).toString('base64') }],
    ['a non-canonical salt', { salt: '!!!!' }],
    ['another kdf', { kdf: 'pbkdf2' }],
    ['another kind', { kind: 'file' }],
    ['an oversized wrap', { wrappedStoreKey: Buffer.alloc(300).toString('base64') }],
  ])('a malformed descriptor (%s) is STORE_CORRUPT', async (_title, change) => {
    const protector = passphraseProtector({ passphrase: PASSPHRASE });
    const { descriptor } = await protector.create();
    expect(await codeOfAsync(protector.unlock({ ...descriptor, ...change } as unknown as ProtectorDescriptor))).toBe('STORE_CORRUPT');
  });

  it('Precondition: a new store is never protected by scrypt parameters weaker than N=2^15, r=8, p=1', () => {
    expect(() => passphraseProtector({ passphrase: PASSPHRASE, scrypt: { N: 2 ** 14, r: 8, p: 1 } })).toThrow(RangeError);
    expect(() => passphraseProtector({ passphrase: PASSPHRASE, scrypt: { N: 2 ** 15, r: 7, p: 1 } })).toThrow(RangeError);
    expect(() => passphraseProtector({ passphrase: PASSPHRASE, scrypt: { N: 2 ** 16, r: 8, p: 2 } })).not.toThrow();
  });

  it('bounds the passphrase length and type', () => {
    expect(() => passphraseProtector({ passphrase: 'short' })).toThrow(RangeError);
    expect(() => passphraseProtector({ passphrase: 'x'.repeat(1025) })).toThrow(RangeError);
    expect(() => passphraseProtector({ passphrase: 42 as never })).toThrow(TypeError);
  });

  it('dispose wipes the passphrase copy and refuses later use', async () => {
    const protector = passphraseProtector({ passphrase: PASSPHRASE });
    protector.dispose();
    expect(await codeOfAsync(protector.create())).toBe('TypeError');
  });
});
