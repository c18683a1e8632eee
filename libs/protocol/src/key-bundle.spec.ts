import { randomBytes } from 'node:crypto';
import { createLocalSigner, generateKeyPair, keyCommitmentMatches, unwrapWithPrivateKey, verifySignature } from '@fleetkey/crypto';
import { describe, expect, it } from 'vitest';
import { EpochManifestSchema, KeyState as PbKeyState } from './index.js';
import {
  buildKeyBundle,
  communicationKeyId,
  emergencyKeyId,
  issueEpochManifest,
  keyBundleWrapContext,
  payloadSignerOf,
} from './key-bundle.js';
import { signatureAlgorithmFromProto } from './enums.js';
import { verifyPayload } from './signed.js';

const now = Date.UTC(2026, 10, 25);

describe('key bundles', () => {
  it('names keys per fleet and group and reserves the fleet-wide name', () => {
    expect(communicationKeyId('acme', null)).toBe('communication/acme/fleet');
    expect(communicationKeyId('acme', 'line-2')).toBe('communication/acme/line-2');
    expect(emergencyKeyId('acme')).toBe('emergency/acme/emergency');
    expect(() => communicationKeyId('acme', 'fleet')).toThrow(RangeError);
  });

  it.each(['ECDSA_P256', 'RSA_2048'] as const)('a %s device unwraps exactly the keys the signed manifest commits to', async (deviceAlgorithm) => {
    const emergency = await generateKeyPair('ECDSA_P256');
    const signer = createLocalSigner(emergency.privateKey);
    const epochKey = randomBytes(32);
    const manifest = await issueEpochManifest({
      fleet: 'acme',
      group: null,
      sequence: 1,
      issuedAt: now,
      epochs: [{ version: 1, state: 'active', notBefore: now, notAfter: now + 86_400_000, key: epochKey }],
      sign: payloadSignerOf(signer, { keyId: emergencyKeyId('acme'), version: 1 }),
    });
    const device = await generateKeyPair(deviceAlgorithm);
    const bundle = buildKeyBundle({
      fleet: 'acme',
      group: null,
      deviceId: 'robot-1',
      devicePublicKey: device.publicKey,
      manifests: [manifest],
      epochKeys: [{ group: null, version: 1, key: epochKey }],
      sequence: 1,
      issuedAt: now,
    });

    // The robot's side, written out here from the proto comments: verify, unwrap, check commitment.
    const parsed = await verifyPayload(EpochManifestSchema, bundle.manifests[0]!, (input, signed) => {
      if (!verifySignature(emergency.publicKey, signatureAlgorithmFromProto(signed.signatureAlgorithm), input, signed.signature)) throw new Error('bad signature');
    });
    expect(parsed.keyId).toBe('communication/acme/fleet');
    expect(parsed.epochs[0]!.state).toBe(PbKeyState.ACTIVE);
    expect(bundle.manifests[0]!.signingKey?.keyId).toBe('emergency/acme/emergency');
    const unwrapped = unwrapWithPrivateKey(bundle.epochs[0]!.wrappedKey, device.privateKey, keyBundleWrapContext('robot-1'));
    expect(Buffer.from(unwrapped)).toEqual(epochKey);
    expect(keyCommitmentMatches(unwrapped, parsed.keyId, 1, parsed.epochs[0]!.keyCommitment)).toBe(true);
    // Bound to the recipient: another device id as context does not open it.
    expect(() => unwrapWithPrivateKey(bundle.epochs[0]!.wrappedKey, device.privateKey, keyBundleWrapContext('robot-2'))).toThrow();
  });

  it('refuses a manifest without epochs and a device key that cannot receive keys', async () => {
    const signer = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey);
    await expect(issueEpochManifest({ fleet: 'acme', group: null, sequence: 1, issuedAt: now, epochs: [], sign: payloadSignerOf(signer, { keyId: 'x', version: 1 }) })).rejects.toThrow(RangeError);
    const ed = await generateKeyPair('ED25519');
    expect(() =>
      buildKeyBundle({ fleet: 'acme', group: null, deviceId: 'r', devicePublicKey: ed.publicKey, manifests: [], epochKeys: [{ group: null, version: 1, key: randomBytes(32) }], sequence: 1, issuedAt: now }),
    ).toThrow(/cannot receive wrapped keys/);
  });
});
