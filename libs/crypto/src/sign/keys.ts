/**
 * Key-pair generation for the asymmetric KeyAlgorithms (device identity keys, test CAs, the local
 * provider). RSA keys always use e = 65537.
 *
 * Trust boundary: returns a private KeyObject; the caller owns where it goes (a keystore, a KMS).
 */
import { generateKeyPair as nodeGenerateKeyPair } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { UnsupportedAlgorithm, algorithmInfo } from '@fleetkey/key-types';
import type { KeyAlgorithm } from '@fleetkey/key-types';

export interface AsymmetricKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const NODE_CURVES = Object.freeze({ 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const);

function done(resolve: (pair: AsymmetricKeyPair) => void, reject: (error: Error) => void) {
  return (error: Error | null, publicKey: KeyObject, privateKey: KeyObject) => {
    if (error) reject(error);
    else resolve({ privateKey, publicKey });
  };
}

/**
 * Makes a fresh key pair in libuv's thread pool.
 * @throws (rejects with) UnsupportedAlgorithm for symmetric or unknown algorithms (AES_256_GCM, ...).
 */
export function generateKeyPair(algorithm: KeyAlgorithm): Promise<AsymmetricKeyPair> {
  return new Promise((resolve, reject) => {
    // Inside the executor so an unknown algorithm rejects like a symmetric one instead of throwing.
    const info = algorithmInfo(algorithm);
    switch (info.family) {
      case 'rsa':
        nodeGenerateKeyPair('rsa', { modulusLength: info.bits, publicExponent: 0x10001 }, done(resolve, reject));
        return;
      case 'ec':
        nodeGenerateKeyPair('ec', { namedCurve: NODE_CURVES[info.curve!] }, done(resolve, reject));
        return;
      case 'okp':
        nodeGenerateKeyPair('ed25519', {}, done(resolve, reject));
        return;
      default:
        reject(new UnsupportedAlgorithm(`key algorithm ${algorithm} has no key pair`));
    }
  });
}
