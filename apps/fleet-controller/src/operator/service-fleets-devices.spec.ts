/**
 * Fleets, devices and health over real gRPC: CreateFleet delegation and argument checks, the
 * fleet view (device count, active epoch, KMS facts), devices with their DER certificates and
 * filters, GetHealth, and the issue-6 rpcs answering NOT_IMPLEMENTED after the access checks.
 */
import { X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DeviceState, KeyAlgorithm } from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rpcFailure, startHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.makeFleet('alpha');
  await h.makeFleet('bravo');
});
afterEach(async () => {
  expect(h.unexpected).toEqual([]);
  await h.close();
});

describe('CreateFleet and ListFleets', () => {
  it('creates through FleetAdministration with the caller as actor and shows the fleet', async () => {
    const response = await h.client.createFleet({ fleet: 'charlie', displayName: 'Warehouse C', caAlgorithm: KeyAlgorithm.ECDSA_P384 }, h.as(h.admin));
    expect(response.fleet?.fleet).toBe('charlie');
    expect(response.fleet?.displayName).toBe('Warehouse C');
    expect(response.fleet?.kmsProvider).toBe('local');
    const record = (await h.auditRecords()).at(-1);
    expect([record?.actor, record?.action, record?.fleetId]).toEqual([h.admin.id, 'fleet.create', 'charlie']);
    expect((await rpcFailure(h.client.createFleet({ fleet: 'charlie' }, h.as(h.admin)))).status).toBe(status.ALREADY_EXISTS);
  });

  it('refuses a missing fleet id and a symmetric key algorithm', async () => {
    expect((await rpcFailure(h.client.createFleet({}, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.createFleet({ fleet: 'delta', caAlgorithm: KeyAlgorithm.AES_256_GCM }, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.createFleet({ fleet: 'delta', emergencyAlgorithm: 77 as KeyAlgorithm }, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
    expect(await h.repository.getFleet('delta')).toBeUndefined();
  });

  it('fills device_count (active devices only), active_epoch, kms_provider and algorithms', async () => {
    await h.makeDevice('alpha', 'robot-1');
    await h.makeDevice('alpha', 'robot-2');
    await h.makeDevice('alpha', 'robot-3');
    await h.repository.revokeDevice('alpha', 'robot-3');
    const wrappedKey = new Uint8Array(64).fill(7);
    await h.repository.createEpoch({ fleetId: 'alpha', version: 1, state: 'active', wrappedKey, notBefore: h.clock(), notAfter: h.clock() + 86_400_000 });
    const fleets = (await h.client.listFleets({}, h.as(h.admin))).fleets;
    const alpha = fleets.find((f) => f.fleet === 'alpha');
    expect(alpha?.deviceCount).toBe(2);
    expect(alpha?.activeEpoch).toMatchObject({ keyId: 'communication/alpha/fleet', version: 1 });
    expect([alpha?.kmsProvider, alpha?.caAlgorithm, alpha?.emergencyAlgorithm]).toEqual(['local', KeyAlgorithm.ECDSA_P256, KeyAlgorithm.RSA_2048]);
    expect(fleets.find((f) => f.fleet === 'bravo')?.activeEpoch).toBeUndefined();
    expect(fleets.find((f) => f.fleet === 'bravo')?.deviceCount).toBe(0);
  });

  it('pages fleets', async () => {
    const first = await h.client.listFleets({ pageSize: 1 }, h.as(h.admin));
    const second = await h.client.listFleets({ pageSize: 1, pageToken: first.nextPageToken }, h.as(h.admin));
    expect([first.fleets[0]?.fleet, second.fleets[0]?.fleet, second.nextPageToken]).toEqual(['alpha', 'bravo', '']);
  });
});

describe('ListDevices and GetDevice', () => {
  it('returns each device with its certificate (DER) that parses and names the device', async () => {
    const enrolled = await h.makeDevice('alpha', 'robot-1', { serial: 'SN-1' });
    const device = (await h.client.getDevice({ fleet: 'alpha', deviceId: 'robot-1' }, h.as(h.admin))).device;
    expect(Buffer.from(device?.certificate ?? []).equals(Buffer.from(enrolled.certificateDer))).toBe(true);
    const x509 = new X509Certificate(Buffer.from(device?.certificate ?? []));
    expect(x509.serialNumber.toLowerCase()).toBe(device?.certificateSerial);
    expect(x509.subjectAltName).toContain('robot-1');
    expect([device?.fleet, device?.deviceId, device?.serialNumber, device?.state]).toEqual(['alpha', 'robot-1', 'SN-1', DeviceState.ACTIVE]);
    expect(timestampMs(device!.enrolledAt!)).toBe(h.clock());

    const listed = (await h.client.listDevices({ fleet: 'alpha' }, h.as(h.admin))).devices;
    expect(Buffer.from(listed[0]?.certificate ?? []).equals(Buffer.from(enrolled.certificateDer))).toBe(true);
  });

  it('filters by group and state, pages by device id, and stays inside the fleet', async () => {
    await h.makeGroup('alpha', 'line-3');
    await h.makeDevice('alpha', 'robot-1', { groupId: 'line-3' });
    await h.makeDevice('alpha', 'robot-2');
    await h.makeDevice('alpha', 'robot-3', { groupId: 'line-3' });
    await h.makeDevice('bravo', 'robot-9');
    await h.repository.revokeDevice('alpha', 'robot-3');
    const ids = async (request: Parameters<typeof h.client.listDevices>[0]) => (await h.client.listDevices(request, h.as(h.admin))).devices.map((d) => d.deviceId);
    expect(await ids({ fleet: 'alpha' })).toEqual(['robot-1', 'robot-2', 'robot-3']);
    expect(await ids({ fleet: 'alpha', group: 'line-3' })).toEqual(['robot-1', 'robot-3']);
    expect(await ids({ fleet: 'alpha', state: DeviceState.REVOKED })).toEqual(['robot-3']);
    expect(await ids({ fleet: 'alpha', group: 'line-3', state: DeviceState.ACTIVE })).toEqual(['robot-1']);
    const page = await h.client.listDevices({ fleet: 'alpha', pageSize: 2 }, h.as(h.admin));
    expect(page.devices.map((d) => d.deviceId)).toEqual(['robot-1', 'robot-2']);
    const rest = await h.client.listDevices({ fleet: 'alpha', pageSize: 2, pageToken: page.nextPageToken }, h.as(h.admin));
    expect([rest.devices.map((d) => d.deviceId), rest.nextPageToken]).toEqual([['robot-3'], '']);
    expect((await rpcFailure(h.client.listDevices({ fleet: 'alpha', state: 9 as DeviceState }, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.listDevices({ fleet: 'charlie' }, h.as(h.admin)))).status).toBe(status.NOT_FOUND);
    expect((await rpcFailure(h.client.getDevice({ fleet: 'alpha', deviceId: 'robot-9' }, h.as(h.admin)))).status).toBe(status.NOT_FOUND);
    expect((await rpcFailure(h.client.getDevice({ fleet: 'alpha' }, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
  });

  it('a fleet-A operator cannot read fleet B devices, even by exact id', async () => {
    await h.makeDevice('bravo', 'robot-9');
    const alphaOperator = await h.makeOperator('operator', ['alpha']);
    expect((await rpcFailure(h.client.getDevice({ fleet: 'bravo', deviceId: 'robot-9' }, h.as(alphaOperator)))).status).toBe(status.PERMISSION_DENIED);
    expect((await rpcFailure(h.client.listDevices({ fleet: 'bravo' }, h.as(alphaOperator)))).status).toBe(status.PERMISSION_DENIED);
  });
});

describe('GetHealth', () => {
  it('reports version, leadership and components; unhealthy when any component is', async () => {
    const factory = await h.makeOperator('factory', ['alpha']);
    const healthy = await h.client.getHealth({}, h.as(factory));
    expect([healthy.healthy, healthy.version, healthy.leader, healthy.components.map((c) => c.name)]).toEqual([true, '0.1.0-test', true, ['store']]);
    h.health = [
      { name: 'store', healthy: true, detail: '' },
      { name: 'kms:local', healthy: false, detail: 'key file unreadable' },
    ];
    h.leader = false;
    const sick = await h.client.getHealth({}, h.as(factory));
    expect([sick.healthy, sick.leader, sick.components[1]?.detail]).toEqual([false, false, 'key file unreadable']);
    expect(timestampMs(sick.checkedAt!)).toBe(h.clock());
  });
});

describe('issue-6 rpcs', () => {
  it('answer NOT_IMPLEMENTED only after authentication and role checks', async () => {
    const error = await rpcFailure(h.client.rotateKeys({ fleet: 'alpha' }, h.as(h.admin)));
    expect([error.status, error.code]).toEqual([status.UNIMPLEMENTED, 'NOT_IMPLEMENTED']);
    expect(error.message).toContain('issue 6');
    expect((await rpcFailure(h.client.rotateKeys({ fleet: 'alpha' }, {}))).status).toBe(status.UNAUTHENTICATED);
    const auditor = await h.makeOperator('auditor');
    expect((await rpcFailure(h.client.rotateKeys({ fleet: 'alpha' }, h.as(auditor)))).status).toBe(status.PERMISSION_DENIED);
  });
});
