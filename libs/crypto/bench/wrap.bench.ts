/**
 * Wrapping a 32-byte key to one device key, against raw node:crypto measured in the same run:
 *  - ECIES P-256 wrap vs one ephemeral ECDH derive (createECDH + generateKeys + computeSecret),
 *    the floor any ECIES wrap pays. Target: at most 1.5x (HKDF + AES-GCM + envelope framing on top).
 *    ECIES unwrap is printed beside it (KeyObject import of the point + ECDH + HKDF + open).
 *  - RSA-OAEP-2048 wrap vs one raw publicEncrypt of 32 bytes with OAEP-SHA256. Target: at most 2x.
 *    An RSA public operation (e = 65537) is cheap, about 30-50 µs here, and the envelope seal on
 *    top (fresh CEK, AES-256-GCM, header, AAD) costs 15-30 µs on its own, so 1.5x is not reachable
 *    without dropping the envelope; 2x says "the framing costs no more than the RSA operation".
 * This is the per-robot cost of distributing a rotated communication key (DESIGN.md): local
 * public-key work, one KMS call per epoch.
 *
 * Trust boundary: none; benchmark with throwaway keys.
 */
import { constants, createECDH, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { runComparison } from '@fleetkey/bench';
import { unwrapWithPrivateKey, wrapToPublicKey } from '../src/index.js';

const communicationKey = randomBytes(32);
const context = { device: 'robot-17', purpose: 'communication-key', epoch: '42' };
const fields = { provider: 'device', keyId: 'acme/robot-17/identity', keyVersion: 1 };

const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const recipientPoint = createECDH('prime256v1');
recipientPoint.generateKeys();
const point = recipientPoint.getPublicKey();

const wrapEcies = () => wrapToPublicKey({ recipient: p256.publicKey, ...fields, plaintext: communicationKey, context });
const wrapRsa = () => wrapToPublicKey({ recipient: rsa.publicKey, ...fields, plaintext: communicationKey, context });
const eciesEnvelope = wrapEcies();

// Sanity: what we time must work.
if (!Buffer.from(unwrapWithPrivateKey(eciesEnvelope, p256.privateKey, context)).equals(communicationKey)) throw new Error('ECIES round trip failed');
if (!Buffer.from(unwrapWithPrivateKey(wrapRsa(), rsa.privateKey, context)).equals(communicationKey)) throw new Error('RSA round trip failed');

await runComparison({
  title: 'ECIES P-256 wrap of a 32-byte key to one device key',
  baseline: {
    name: 'ephemeral ECDH P-256 (createECDH + computeSecret)',
    fn: () => {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      return ecdh.computeSecret(point);
    },
  },
  cases: [
    { name: 'wrapToPublicKey (ECIES P-256)', fn: wrapEcies, maxCostRatio: 1.5 },
    { name: 'unwrapWithPrivateKey (ECIES P-256)', fn: () => unwrapWithPrivateKey(eciesEnvelope, p256.privateKey, context) },
  ],
});

await runComparison({
  title: 'RSA-OAEP-2048 wrap of a 32-byte key to one device key',
  baseline: {
    name: 'publicEncrypt OAEP-SHA256 (raw)',
    fn: () => publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, communicationKey),
  },
  cases: [{ name: 'wrapToPublicKey (RSA-OAEP-2048)', fn: wrapRsa, maxCostRatio: 2 }],
});
