import { CsrInvalid } from '@fleetkey/crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CsrVerifierPool } from './csr-verifier-pool.js';
import { verifyDeviceCsr } from './device-keys.js';
import { deviceIdentity } from './testing.js';

const pools: CsrVerifierPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
});

async function refusal(promise: Promise<unknown>): Promise<CsrInvalid> {
  try {
    await promise;
  } catch (error) {
    return error as CsrInvalid;
  }
  throw new Error('expected a refusal');
}

describe('CsrVerifierPool', () => {
  it.each([0, 1, 2])('with %i workers answers exactly as inline verification does', async (size) => {
    const pool = new CsrVerifierPool(size);
    pools.push(pool);
    expect(pool.size).toBe(size);
    const [p256, rsa, ed25519] = await Promise.all([deviceIdentity('ECDSA_P256', 'a'), deviceIdentity('RSA_2048', 'b'), deviceIdentity('ED25519', 'c')]);
    for (const identity of [p256, rsa]) {
      const pooled = await pool.verify(identity.csr);
      const inline = verifyDeviceCsr(identity.csr);
      expect({ ...pooled, publicKey: undefined }).toEqual({ ...inline, publicKey: undefined });
      expect(pooled.publicKey.equals(identity.publicKey)).toBe(true);
    }
    const corrupted = new Uint8Array(p256.csr);
    corrupted[corrupted.length - 3]! ^= 0x40;
    for (const csr of [corrupted, ed25519.csr, new Uint8Array([0x30, 0x03, 0x02, 0x01])]) {
      let inlineReason: string | undefined;
      try {
        verifyDeviceCsr(csr);
      } catch (error) {
        inlineReason = (error as CsrInvalid).reason;
      }
      const refused = await refusal(pool.verify(csr));
      expect(refused).toBeInstanceOf(CsrInvalid);
      expect(refused.code).toBe('CSR_INVALID');
      expect(inlineReason).toBeDefined();
      expect(refused.reason).toBe(inlineReason);
    }
  });

  it('verifies inline after it is closed', async () => {
    const pool = new CsrVerifierPool(1);
    await pool.close();
    const identity = await deviceIdentity();
    expect((await pool.verify(identity.csr)).publicKey.equals(identity.publicKey)).toBe(true);
  });

  it('refuses an absurd size', () => {
    expect(() => new CsrVerifierPool(-1)).toThrow(RangeError);
    expect(() => new CsrVerifierPool(17)).toThrow(RangeError);
  });
});
