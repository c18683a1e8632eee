import { X509Certificate, createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyCommitmentMatches, unwrapWithPrivateKey, verifySignature } from '@fleetkey/crypto';
import { EpochManifestSchema, keyBundleWrapContext, signatureAlgorithmFromProto, verifyPayload, type RpcError } from '@fleetkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derToPem } from '../core/server-tls.js';
import { deviceIdentity, startProvisioningHarness, type ProvisioningHarness } from './testing.js';

let now = Date.now();
let harness: ProvisioningHarness;
beforeAll(async () => {
  harness = await startProvisioningHarness('acme', () => now);
});
afterAll(async () => {
  await harness?.close();
});

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    return error as RpcError;
  }
  throw new Error('expected the call to fail');
}

async function auditText(): Promise<string> {
  const records = await harness.core.repository.audit.listRecords(0, 1000);
  return JSON.stringify(records.map((record) => ({ ...record, prevHash: undefined, hash: undefined })));
}

describe('ProvisioningService.Enroll', () => {
  it('issues a certificate the fleet CA verifies, and a key bundle only the device can open', async () => {
    const { token } = await harness.mintToken();
    const device = await deviceIdentity('ECDSA_P256');
    const client = harness.provisioningClient();
    const response = await client.enroll({ enrollmentToken: token, csr: device.csr, deviceId: 'robot-1', serialNumber: 'SN-0001' });

    expect(response.fleet).toBe('acme');
    expect(response.deviceId).toBe('robot-1');
    expect(response.controllerAddress).toBe('controller.test:7443');
    expect(response.brokerAddress).toBe('mqtts://controller.test:8883');
    const certificate = new X509Certificate(response.certificate);
    const ca = new X509Certificate(response.caChain[0]!);
    expect(certificate.verify(ca.publicKey)).toBe(true);
    expect(certificate.subjectAltName).toBe('URI:fleetkey://acme/robot-1');
    expect(certificate.publicKey.equals(device.publicKey)).toBe(true);
    // openssl agrees, independently of node.
    const dir = mkdtempSync(join(tmpdir(), 'fk-openssl-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), derToPem(response.caChain[0]!));
      writeFileSync(join(dir, 'device.pem'), derToPem(response.certificate));
      expect(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'device.pem')], { encoding: 'utf8' })).toContain('OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The server CA is the controller's TLS CA, not the fleet CA.
    expect(Buffer.from(response.serverCaCertificates[0]!)).toEqual(new X509Certificate(harness.caPem).raw);

    const emergency = createPublicKey({ key: Buffer.from(response.emergencyKey!.publicKey), format: 'der', type: 'spki' });
    expect(response.emergencyKey!.key!.keyId).toBe('emergency/acme/emergency');
    const bundle = response.keyBundle!;
    const manifest = await verifyPayload(EpochManifestSchema, bundle.manifests[0]!, (input, signed) => {
      if (!verifySignature(emergency, signatureAlgorithmFromProto(signed.signatureAlgorithm), input, signed.signature)) throw new Error('bad manifest signature');
    });
    expect(manifest.epochs.map((epoch) => epoch.version)).toEqual([1]);
    const epochKey = unwrapWithPrivateKey(bundle.epochs[0]!.wrappedKey, device.privateKey, keyBundleWrapContext('robot-1'));
    expect(keyCommitmentMatches(epochKey, manifest.keyId, 1, manifest.epochs[0]!.keyCommitment)).toBe(true);
    expect(response.revocationList?.payload.length).toBeGreaterThan(0);

    const stored = await harness.core.repository.getDevice('acme', 'robot-1');
    expect(stored).toMatchObject({ status: 'active', serial: 'SN-0001', keyAlgorithm: 'ECDSA_P256' });
    expect(await auditText()).not.toContain(token);
  });

  it('serves RSA devices with RSA-OAEP-wrapped keys', async () => {
    const { token } = await harness.mintToken();
    const device = await deviceIdentity('RSA_2048', 'robot-rsa');
    const response = await harness.provisioningClient().enroll({ enrollmentToken: token, csr: device.csr, deviceId: 'robot-rsa' });
    expect(unwrapWithPrivateKey(response.keyBundle!.epochs[0]!.wrappedKey, device.privateKey, keyBundleWrapContext('robot-rsa'))).toHaveLength(32);
  });

  it.each([
    ['forged', async () => ({ token: `fk_enr_${'A'.repeat(43)}` }), 'enrollment token not recognised'],
    ['malformed', async () => ({ token: 'not-a-token' }), 'enrollment token not recognised'],
    ['revoked', async () => {
      const minted = await harness.mintToken();
      await harness.core.repository.revokeEnrollmentToken('acme', minted.id);
      return minted;
    }, 'enrollment token revoked'],
    ['expired', async () => {
      const minted = await harness.mintToken({ expiresAt: now + 1000 });
      now += 2000;
      return minted;
    }, 'enrollment token expired'],
  ])('refuses a %s token with its own message and enrolls nothing', async (_name, mint, message) => {
    const { token } = await mint();
    const device = await deviceIdentity();
    const error = await rejection(harness.provisioningClient().enroll({ enrollmentToken: token, csr: device.csr, deviceId: `robot-${_name}` }));
    expect(error.code).toBe('ENROLLMENT_TOKEN_REJECTED');
    expect(error.message).toContain(message);
    expect(await harness.core.repository.getDevice('acme', `robot-${_name}`)).toBeUndefined();
  });

  it('refuses a reused token even when its first use failed', async () => {
    const { token, id } = await harness.mintToken();
    const device = await deviceIdentity();
    const corrupted = new Uint8Array(device.csr);
    corrupted[corrupted.length - 5]! ^= 0x01;
    const first = await rejection(harness.provisioningClient().enroll({ enrollmentToken: token, csr: corrupted, deviceId: 'robot-retry' }));
    expect(first.code).toBe('CSR_INVALID');
    const stored = await harness.core.repository.getEnrollmentToken('acme', id);
    expect(stored?.usedAt).not.toBeNull();
    const second = await rejection(harness.provisioningClient().enroll({ enrollmentToken: token, csr: device.csr, deviceId: 'robot-retry' }));
    expect(second.code).toBe('ENROLLMENT_TOKEN_REJECTED');
    expect(second.message).toContain('already used');
    expect(await harness.core.repository.getDevice('acme', 'robot-retry')).toBeUndefined();
  });

  it('refuses a serial the token is not bound to, a key the policy refuses, and a taken id — each distinctly', async () => {
    const bound = await harness.mintToken({ serialPattern: 'SN-7*' });
    const device = await deviceIdentity();
    const outOfScope = await rejection(harness.provisioningClient().enroll({ enrollmentToken: bound.token, csr: device.csr, deviceId: 'robot-scope', serialNumber: 'SN-8000' }));
    expect(outOfScope.code).toBe('ENROLLMENT_TOKEN_REJECTED');
    expect(outOfScope.message).toContain('not valid for this device');

    const ed25519 = await deviceIdentity('ED25519');
    const refused = await rejection(harness.provisioningClient().enroll({ enrollmentToken: (await harness.mintToken()).token, csr: ed25519.csr, deviceId: 'robot-ed' }));
    expect(['UNSUPPORTED_ALGORITHM', 'CSR_INVALID']).toContain(refused.code);

    const taken = await rejection(harness.provisioningClient().enroll({ enrollmentToken: (await harness.mintToken()).token, csr: device.csr, deviceId: 'robot-1' }));
    expect(taken.code).toBe('RECORD_EXISTS');
    expect(taken.message).toContain('already enrolled');

    const matching = await harness.mintToken({ serialPattern: 'SN-7*' });
    await expect(harness.provisioningClient().enroll({ enrollmentToken: matching.token, csr: device.csr, deviceId: 'robot-scope', serialNumber: 'SN-7001' })).resolves.toBeDefined();
  });

  it('gives exactly one enrollment to concurrent uses of one token', async () => {
    const { token } = await harness.mintToken();
    const attempts = await Promise.allSettled(
      Array.from({ length: 6 }, async (_, index) => {
        const device = await deviceIdentity('ECDSA_P256', `robot-race-${index}`);
        return harness.provisioningClient().enroll({ enrollmentToken: token, csr: device.csr, deviceId: `robot-race-${index}` });
      }),
    );
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('DeviceService over mutual TLS', () => {
  async function enrolled(deviceId: string) {
    const device = await deviceIdentity('ECDSA_P256', deviceId);
    const response = await harness.provisioningClient().enroll({ enrollmentToken: (await harness.mintToken()).token, csr: device.csr, deviceId });
    return { ...device, certificateDer: response.certificate };
  }

  it('renews a certificate for the device that presents its current one, and refuses the old one afterwards', async () => {
    const device = await enrolled('robot-renew');
    const client = harness.deviceClient(device);
    const renewal = await deviceIdentity('ECDSA_P256', 'robot-renew');
    const renewed = await client.renewCertificate({ csr: renewal.csr });
    const certificate = new X509Certificate(renewed.certificate);
    expect(certificate.subjectAltName).toBe('URI:fleetkey://acme/robot-renew');
    expect(certificate.publicKey.equals(renewal.publicKey)).toBe(true);
    // A new key: the bundle comes re-wrapped to it.
    expect(unwrapWithPrivateKey(renewed.keyBundle!.epochs[0]!.wrappedKey, renewal.privateKey, keyBundleWrapContext('robot-renew'))).toHaveLength(32);

    const stale = harness.deviceClient(device);
    expect((await rejection(stale.getKeyBundle({}))).code).toBe('UNAUTHENTICATED');
    const fresh = harness.deviceClient({ privateKey: renewal.privateKey, certificateDer: renewed.certificate });
    const bundle = await fresh.getKeyBundle({});
    expect(bundle.keyBundle?.deviceId).toBe('robot-renew');
  });

  it('refuses a call without a client certificate (UNAUTHENTICATED) and one from a revoked device (PERMISSION_DENIED)', async () => {
    expect((await rejection(harness.deviceClient(undefined).getKeyBundle({}))).code).toBe('UNAUTHENTICATED');
    const device = await enrolled('robot-revoked');
    await harness.core.repository.revokeDevice('acme', 'robot-revoked');
    const refused = await rejection(harness.deviceClient(device).renewCertificate({ csr: device.csr }));
    expect(refused.code).toBe('CERTIFICATE_REVOKED');
    expect(refused.status).toBe(7);
  });

  it('says plainly that the command stream is not in this build', async () => {
    const device = await enrolled('robot-ack');
    const error = await rejection(harness.deviceClient(device).ack({}));
    expect(error.code).toBe('NOT_IMPLEMENTED');
  });
});

describe('the command sequence a new robot starts after', () => {
  async function enrollOne(deviceId: string, groupId?: string) {
    const device = await deviceIdentity('ECDSA_P256', deviceId);
    const { token } = await harness.mintToken(groupId === undefined ? {} : { groupId });
    return (await harness.provisioningClient().enroll({ enrollmentToken: token, csr: device.csr, deviceId })).commandSequence;
  }
  async function command(action: 'lockdown' | 'lift', scope: Parameters<typeof harness.core.repository.createCommand>[0]['scope']) {
    const sequence = await harness.core.repository.nextSequence('acme');
    await harness.core.repository.createCommand({
      fleetId: 'acme',
      sequence,
      action,
      scope,
      reason: 'drill',
      issuedBy: 'test',
      issuedAt: now,
      expiresAt: now + 3_600_000,
      requestId: null,
      wipe: false,
      signedCommand: new Uint8Array([1]),
    });
    return sequence;
  }

  it('is the fleet’s current sequence, or just before a lockdown in force that concerns the robot', async () => {
    await harness.core.repository.createGroup({ fleetId: 'acme', id: 'line-1', name: 'line 1' });
    await harness.core.repository.createGroup({ fleetId: 'acme', id: 'line-2', name: 'line 2' });
    const before = await harness.core.repository.currentSequence('acme');
    expect(await enrollOne('seq-a')).toBe(BigInt(before));

    const groupLockdown = await command('lockdown', { kind: 'group', groupId: 'line-1' });
    expect(await enrollOne('seq-b', 'line-1')).toBe(BigInt(groupLockdown - 1));
    // Another group's lockdown does not concern this robot.
    expect(await enrollOne('seq-c', 'line-2')).toBe(BigInt(groupLockdown));

    const fleetLockdown = await command('lockdown', { kind: 'fleet' });
    expect(await enrollOne('seq-d', 'line-1')).toBe(BigInt(groupLockdown - 1));
    expect(await enrollOne('seq-e')).toBe(BigInt(fleetLockdown - 1));

    await command('lift', { kind: 'fleet' });
    await command('lift', { kind: 'group', groupId: 'line-1' });
    expect(await enrollOne('seq-f', 'line-1')).toBe(BigInt(await harness.core.repository.currentSequence('acme')));
  });
});
