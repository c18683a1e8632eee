/**
 * Revocation edge cases on the real composition (./testing.ts), with the rotation replaced so it
 * can fail: the revocation stands and the error says what is left to do; and the revocation list
 * keeps only devices whose certificate is still valid.
 */
import { generateKeyPair, issueDeviceCertificate } from '@fleetkey/crypto';
import { InvalidArgument } from '@fleetkey/key-types';
import { MAX_REVOCATION_LIST_BYTES, RevocationListSchema, RpcError, decodeMessage } from '@fleetkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOCK_SKEW_MS } from '../fleets/create-fleet.js';
import { loadRevocationList } from '../fleets/settings.js';
import type { RevocationRotation } from './revocation.js';
import { startCommandsHarness, type CommandsHarness } from './testing.js';

let h: CommandsHarness;
const rotations: Parameters<RevocationRotation>[0][] = [];

beforeAll(async () => {
  h = await startCommandsHarness({
    rotate: async (input) => {
      rotations.push(input);
      throw new InvalidArgument('the KMS refused the data key');
    },
  });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('revocation', () => {
  it('when the rotation after a revocation fails, the device stays revoked and the error names the list, the command and what to run', async () => {
    await h.enrollRobot('robot-1', { group: 'line-1' });
    const failure = await h.operatorClient.revokeDevice({ fleet: 'acme', deviceId: 'robot-1', reason: 'lost', wipe: false }, h.admin.call).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RpcError);
    expect((failure as RpcError).code).toBe('ILLEGAL_STATE_TRANSITION');
    expect((failure as RpcError).message).toMatch(/robot-1" is revoked \(revocation list 2, REVOKE command 1\).*INVALID_ARGUMENT.*fleetctl rotate --fleet acme/);
    expect(rotations).toEqual([{ fleetId: 'acme', groupId: null, reason: 'revocation of device robot-1', actor: h.admin.id, excludeDeviceIds: ['robot-1'] }]);
    expect((await h.repository.getDevice('acme', 'robot-1'))?.status).toBe('revoked');
    expect((await h.repository.getCommand('acme', 1))?.action).toBe('revoke');
  });

  it('lists only revoked devices whose certificate has not expired', async () => {
    const keys = await h.core.fleetKeys('acme');
    const signer = await h.core.signer(keys.caKeyId);
    const pair = await generateKeyPair('ECDSA_P256');
    const long = h.clock() - 10 * 86_400_000;
    const expired = await issueDeviceCertificate({ issuerSigner: signer, issuerCertificate: keys.caCertificateDer, publicKey: pair.publicKey, fleet: 'acme', deviceId: 'old-robot', notBefore: new Date(long - CLOCK_SKEW_MS), notAfter: new Date(long) });
    await h.repository.createDevice({ fleetId: 'acme', deviceId: 'old-robot', serial: 'SN-old', certificateDer: expired.der, certificateSerial: expired.serialNumber, keyAlgorithm: 'ECDSA_P256' });
    await h.repository.revokeDevice('acme', 'old-robot', 'retired');
    await h.enrollRobot('robot-2');

    await h.operatorClient.revokeDevice({ fleet: 'acme', deviceId: 'robot-2', reason: 'stolen', wipe: true }, h.admin.call).catch(() => undefined);
    const list = decodeMessage(RevocationListSchema, (await loadRevocationList(h.repository, 'acme'))!.payload, { maxBytes: MAX_REVOCATION_LIST_BYTES });
    expect(list.sequence).toBe(3n);
    expect(list.revoked.map((entry) => entry.deviceId).sort()).toEqual(['robot-1', 'robot-2']);
  });
});
