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
  openKeyBundle,
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

describe('openKeyBundle (the robot side)', () => {
  async function fixture() {
    const emergency = await generateKeyPair('ECDSA_P256');
    const signer = createLocalSigner(emergency.privateKey);
    const device = await generateKeyPair('ECDSA_P256');
    const keys = [randomBytes(32), randomBytes(32)];
    const manifest = await issueEpochManifest({
      fleet: 'acme',
      group: null,
      sequence: 4,
      issuedAt: now,
      epochs: [
        { version: 1, state: 'retiring', notBefore: now - 10, notAfter: now + 1000, key: keys[0]! },
        { version: 2, state: 'active', notBefore: now, notAfter: now + 2000, key: keys[1]! },
      ],
      sign: payloadSignerOf(signer, { keyId: emergencyKeyId('acme'), version: 1 }),
    });
    const build = (overrides: Partial<Parameters<typeof buildKeyBundle>[0]> = {}) =>
      buildKeyBundle({
        fleet: 'acme',
        group: null,
        deviceId: 'robot-1',
        devicePublicKey: device.publicKey,
        manifests: [manifest],
        epochKeys: [
          { group: null, version: 1, key: keys[0]! },
          { group: null, version: 2, key: keys[1]! },
        ],
        sequence: 4,
        issuedAt: now,
        ...overrides,
      });
    const pinned = new Map([[`${emergencyKeyId('acme')}@1`, { publicKey: emergency.publicKey, algorithm: signer.algorithm }]]);
    const open = (bundle: ReturnType<typeof build>, more: Partial<Parameters<typeof openKeyBundle>[0]> = {}) =>
      openKeyBundle({ bundle, fleet: 'acme', deviceId: 'robot-1', privateKey: device.privateKey, emergencyKeys: pinned, ...more });
    return { build, open, keys, device, manifest };
  }

  it('accepts a genuine bundle: every epoch with its state, window and key', async () => {
    const { build, open, keys } = await fixture();
    const opened = await open(build());
    expect(opened.manifests).toEqual([{ keyId: 'communication/acme/fleet', sequence: 4 }]);
    expect(opened.epochs.map((e) => [e.version, e.state, e.group, e.notAfter - now])).toEqual([
      [1, 'retiring', null, 1000],
      [2, 'active', null, 2000],
    ]);
    expect(Buffer.from(opened.epochs[1]!.key)).toEqual(keys[1]);
  });

  it('refuses a bundle for another robot, a replayed manifest, an unpinned signer, a tampered key and a substituted key', async () => {
    const { build, open, device } = await fixture();
    await expect(open(build({ deviceId: 'robot-2' }))).rejects.toThrow(/addressed to another robot/);
    await expect(open(build(), { appliedManifestSequences: new Map([['communication/acme/fleet', 4]]) })).rejects.toThrow(/not newer/);
    await expect(open(build(), { emergencyKeys: new Map() })).rejects.toThrow(/did not pin/);
    const tampered = build();
    tampered.epochs[0]!.wrappedKey[tampered.epochs[0]!.wrappedKey.length - 1]! ^= 1;
    await expect(open(tampered)).rejects.toMatchObject({ code: 'KEY_BUNDLE_REJECTED' });
    // Anyone can wrap a key to the robot's public key; the signed commitment is what refuses it.
    const substituted = build({ epochKeys: [{ group: null, version: 2, key: randomBytes(32) }] });
    await expect(open(substituted)).rejects.toThrow(/does not match its signed commitment/);
    const forgedSigner = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey);
    const forged = await issueEpochManifest({
      fleet: 'acme',
      group: null,
      sequence: 9,
      issuedAt: now,
      epochs: [{ version: 3, state: 'active', notBefore: now, notAfter: now + 1, key: randomBytes(32) }],
      sign: payloadSignerOf(forgedSigner, { keyId: emergencyKeyId('acme'), version: 1 }),
    });
    await expect(open(build({ manifests: [forged], epochKeys: [] }))).rejects.toThrow(/signature does not verify/);
    expect(device.privateKey.type).toBe('private');
  });
});
