/** Tests for the DER <-> P1363 ECDSA signature conversion: round trips and a table of bad DER. */
import { generateKeyPairSync, sign, verify, webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NamedCurve } from '@fleetkey/key-types';
import { derToP1363, ecdsaScalarSize, maxEcdsaDerLength, p1363ToDer } from './ecdsa-der.js';

const ORDERS: Record<NamedCurve, bigint> = {
  'P-256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'P-384': 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  'P-521':
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};
const NODE_CURVE: Record<NamedCurve, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };
const HASH: Record<NamedCurve, string> = { 'P-256': 'sha256', 'P-384': 'sha384', 'P-521': 'sha512' };
const CURVES: NamedCurve[] = ['P-256', 'P-384', 'P-521'];

function scalarBytes(value: bigint, size: number): Uint8Array {
  return Uint8Array.from(Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex'));
}

function raw(r: bigint, s: bigint, curve: NamedCurve): Uint8Array {
  const size = ecdsaScalarSize(curve);
  const out = new Uint8Array(size * 2);
  out.set(scalarBytes(r, size), 0);
  out.set(scalarBytes(s, size), size);
  return out;
}

function expectInvalid(fn: () => unknown): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }));
}

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('derToP1363 / p1363ToDer', () => {
  for (const curve of CURVES) {
    const order = ORDERS[curve];
    const scalar = fc.bigInt({ min: 1n, max: order - 1n });

    it(`round-trips every in-range r, s for ${curve} (property)`, () => {
      fc.assert(
        fc.property(scalar, scalar, (r, s) => {
          const p1363 = raw(r, s, curve);
          const der = p1363ToDer(p1363, curve);
          expect(der.length).toBeLessThanOrEqual(maxEcdsaDerLength(curve));
          expect(derToP1363(der, curve)).toEqual(p1363);
          expect(p1363ToDer(derToP1363(der, curve), curve)).toEqual(der);
        }),
        { numRuns: 300 },
      );
    });

    it(`round-trips small and edge scalars for ${curve}`, () => {
      for (const [r, s] of [
        [1n, 1n],
        [0x7fn, 0x80n],
        [order - 1n, order - 1n],
        [1n, order - 1n],
      ] as const) {
        const p1363 = raw(r, s, curve);
        expect(derToP1363(p1363ToDer(p1363, curve), curve)).toEqual(p1363);
      }
    });

    it(`agrees with node:crypto's own encodings for ${curve}`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: NODE_CURVE[curve] });
      const data = Buffer.from('fleetkey');
      for (let i = 0; i < 20; i += 1) {
        const der = sign(HASH[curve], data, { key: privateKey, dsaEncoding: 'der' });
        const p1363 = derToP1363(der, curve);
        expect(verify(HASH[curve], data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, p1363)).toBe(true);
        expect(Buffer.from(p1363ToDer(p1363, curve))).toEqual(der);
      }
      // WebCrypto is an independent consumer of the raw r‖s form.
      const der = sign(HASH[curve], data, { key: privateKey, dsaEncoding: 'der' });
      const cryptoKey = await webcrypto.subtle.importKey(
        'spki',
        publicKey.export({ type: 'spki', format: 'der' }),
        { name: 'ECDSA', namedCurve: curve },
        false,
        ['verify'],
      );
      const ok = await webcrypto.subtle.verify(
        { name: 'ECDSA', hash: HASH[curve].replace('sha', 'SHA-') },
        cryptoKey,
        derToP1363(der, curve),
        data,
      );
      expect(ok).toBe(true);
    });

    it(`never throws anything but SIGNATURE_INVALID on random bytes for ${curve} (property)`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) => {
          try {
            const p1363 = derToP1363(bytes, curve);
            // Whatever is accepted re-encodes to the very same bytes: one encoding per signature.
            expect(p1363ToDer(p1363, curve)).toEqual(bytes);
          } catch (error) {
            expect(error).toMatchObject({ code: 'SIGNATURE_INVALID' });
          }
        }),
        { numRuns: 500 },
      );
    });
  }

  const one = '020101';
  const badDer: Array<[string, string]> = [
    ['empty', ''],
    ['too short', '3006020101020101'.slice(0, 12)],
    ['not a SEQUENCE', `3106${one}${one}`],
    ['SEQUENCE length too long', `3107${one}${one}`],
    ['SEQUENCE length too short', `3105${one}${one}`],
    ['trailing byte', `3006${one}${one}00`],
    ['indefinite length', `3080${one}${one}0000`],
    ['long-form length for a short content', `308106${one}${one}`],
    ['two-byte long-form length', `30820006${one}${one}`],
    ['r not an INTEGER', `3006030101${one}`],
    ['s missing', `3003${one}`],
    ['third INTEGER', `3009${one}${one}${one}`],
    ['zero r', `3006020100${one}`],
    ['zero s', `3006${one}020100`],
    ['negative r', `3006020180${one}`],
    ['non-minimal r (leading zero)', `300702020001${one}`],
    ['zero-length r', `30050200${one}`],
    ['r length past the end', `3006020501${one}`],
    ['r too long for the curve', `3027022200${'11'.repeat(33)}${one}`],
    ['r equal to n', `3029022100${ORDERS['P-256'].toString(16)}${one}`],
  ];

  for (const [name, der] of badDer) {
    it(`refuses bad DER: ${name}`, () => expectInvalid(() => derToP1363(hex(der), 'P-256')));
  }

  it('accepts the smallest valid DER', () => {
    expect(derToP1363(hex(`3006${one}${one}`), 'P-256')).toEqual(raw(1n, 1n, 'P-256'));
  });

  it('Precondition: the DER signature is no longer than the curve allows', () => {
    const longest = p1363ToDer(raw(ORDERS['P-256'] - 1n, ORDERS['P-256'] - 1n, 'P-256'), 'P-256');
    expect(longest.length).toBe(maxEcdsaDerLength('P-256'));
    expect(maxEcdsaDerLength('P-256')).toBe(72);
    expect(maxEcdsaDerLength('P-384')).toBe(104);
    expect(maxEcdsaDerLength('P-521')).toBe(139);
    const padded = new Uint8Array(maxEcdsaDerLength('P-256') + 1);
    padded.set(longest);
    expectInvalid(() => derToP1363(padded, 'P-256'));
  });

  it('Precondition: the INTEGER length is short-form and at most what a value below n needs', () => {
    expectInvalid(() => derToP1363(hex(`3027022200${'11'.repeat(33)}${one}`), 'P-256'));
    expectInvalid(() => derToP1363(hex(`3007028101 01${one}`), 'P-256'));
    // P-521: n < 2^521, so 66 content bytes always suffice and a 67th (sign) byte is refused.
    expectInvalid(() => derToP1363(hex(`308188024300${'01'.repeat(66)}024100${'ff'.repeat(64)}`), 'P-521'));
  });

  it('Precondition: the INTEGER is positive (high bit of the first byte clear)', () => {
    expectInvalid(() => derToP1363(hex(`3006020181${one}`), 'P-256'));
  });

  it('Precondition: no superfluous leading zero byte', () => {
    expectInvalid(() => derToP1363(hex(`300702020001${one}`), 'P-256'));
    expectInvalid(() => derToP1363(hex(`3006020100${one}`), 'P-256'));
  });

  it('Precondition: long-form lengths are used only when short form cannot hold the length', () => {
    expectInvalid(() => derToP1363(hex(`308106${one}${one}`), 'P-256'));
    // A P-521 signature of 128+ content bytes needs the long form and is accepted with it.
    const order = ORDERS['P-521'];
    const der = p1363ToDer(raw(order - 1n, order - 1n, 'P-521'), 'P-521');
    expect(der[1]).toBe(0x81);
    expect(derToP1363(der, 'P-521')).toEqual(raw(order - 1n, order - 1n, 'P-521'));
  });

  it('Precondition: the SEQUENCE length covers exactly the rest of the input (no trailing bytes)', () => {
    expectInvalid(() => derToP1363(hex(`3006${one}${one}00`), 'P-256'));
    expectInvalid(() => derToP1363(hex(`3007${one}${one}`), 'P-256'));
  });

  it('Precondition: r and s of a DER signature are in 1..n-1 (SEC 1 §4.1.4 step 1)', () => {
    const n = ORDERS['P-256'].toString(16);
    expectInvalid(() => derToP1363(hex(`3029022100${n}${one}`), 'P-256'));
    expectInvalid(() => derToP1363(hex(`3029${one}022100${n}`), 'P-256'));
    expectInvalid(() => derToP1363(hex(`3006${one}020100`), 'P-256'));
  });

  it('Precondition: a P1363 signature is exactly two scalars wide', () => {
    expectInvalid(() => p1363ToDer(new Uint8Array(63).fill(1), 'P-256'));
    expectInvalid(() => p1363ToDer(new Uint8Array(65).fill(1), 'P-256'));
    expectInvalid(() => p1363ToDer(new Uint8Array(96).fill(1), 'P-256'));
  });

  it('Precondition: r and s of a P1363 signature are in 1..n-1', () => {
    const n = ORDERS['P-256'];
    expectInvalid(() => p1363ToDer(raw(0n, 1n, 'P-256'), 'P-256'));
    expectInvalid(() => p1363ToDer(raw(1n, n, 'P-256'), 'P-256'));
    expectInvalid(() => p1363ToDer(new Uint8Array(64).fill(0xff), 'P-256'));
  });

  it('names an unknown curve with a RangeError', () => {
    expect(() => derToP1363(new Uint8Array(8), 'P-192' as NamedCurve)).toThrow(RangeError);
    expect(() => p1363ToDer(new Uint8Array(8), 'secp256k1' as NamedCurve)).toThrow(RangeError);
  });
});
