/**
 * Every fleetctl command against an OperatorService implemented in the test, over real TLS on a
 * real socket: what it sends (bearer token, request fields, page tokens) and what it prints, in
 * table and JSON form.
 */
import { X509Certificate } from 'node:crypto';
import { DeviceState, EnrollmentTokenState, KeyAlgorithm, OperatorRole } from '@fleetkey/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, FAKE_PAGE_SIZE, NEW_OPERATOR_CREDENTIAL, startFakeController, type FakeController } from '../test-support/fake-controller.js';
import { runFleetctl, type RunResult } from '../test-support/run.js';

let fake: FakeController;

beforeAll(async () => {
  fake = await startFakeController();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.calls.length = 0;
  fake.health.healthy = true;
});

/** Runs fleetctl as the admin: controller and CA by flag, token by environment. */
function admin(...argv: string[]): Promise<RunResult> {
  return runFleetctl(['--controller', fake.address, '--ca-file', fake.caFile, ...argv], { env: { FLEETKEY_TOKEN: ADMIN_TOKEN, HOME: fake.dir } });
}

function json(result: RunResult): Record<string, unknown> {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  // JSON.parse refuses anything but exactly one document.
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** Table lines, and the column where `header` starts in the header line. */
function table(result: RunResult): string[] {
  expect(result.code).toBe(0);
  return result.stdout.trimEnd().split('\n');
}

function expectAligned(lines: string[], header: string, cells: string[]): void {
  const column = lines[0]?.indexOf(header) ?? -1;
  expect(column).toBeGreaterThan(0);
  cells.forEach((cell, i) => expect(lines[i + 1]?.slice(column, column + cell.length)).toBe(cell));
}

function expectBearerOnEveryCall(): void {
  expect(fake.calls.length).toBeGreaterThan(0);
  for (const call of fake.calls) expect(call.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
}

describe('status', () => {
  it('shows health, version and components as fields and a table', async () => {
    const lines = table(await admin('status'));
    expect(lines).toContain(`Controller:  ${fake.address}`);
    expect(lines).toContain('Healthy:     yes');
    expect(lines).toContain('Version:     0.1.0');
    expect(lines.find((l) => l.startsWith('kms:local'))).toMatch(/^kms:local\s+yes\s+15 ms\s+2030-06-15T12:00:00Z\s+-$/);
    expectBearerOnEveryCall();
  });

  it('prints one JSON document with ISO times and latencies in ms', async () => {
    const doc = json(await admin('status', '-o', 'json'));
    expect(doc).toMatchObject({ controller: fake.address, healthy: true, version: '0.1.0', leader: true, checkedAt: '2030-06-15T12:00:00.000Z' });
    expect(doc.components).toEqual([
      { name: 'store', healthy: true, detail: '', latencyMs: 2, checkedAt: '2030-06-15T12:00:00.000Z' },
      { name: 'kms:local', healthy: true, detail: '', latencyMs: 15, checkedAt: '2030-06-15T12:00:00.000Z' },
    ]);
  });

  it('exits 1 when the controller reports itself unhealthy, still printing the report', async () => {
    fake.health.healthy = false;
    const result = await admin('status');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Healthy:     no');
    expect(result.stdout).toContain('provider timeout');
  });
});

describe('fleets', () => {
  it('lists every fleet by following page tokens to the end', async () => {
    const lines = table(await admin('fleets', 'list'));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^FLEET\s+DISPLAY NAME\s+DEVICES\s+KMS\s+CA KEY\s+EPOCH\s+LOCKED\s+CREATED$/);
    expectAligned(lines, 'DEVICES', ['10', '20', '30']);
    expectAligned(lines, 'LOCKED', ['no', 'no', 'yes']);
    const pages = fake.callsOf('listFleets');
    expect(pages.map((c) => c.request.pageToken)).toEqual(['', `offset:${FAKE_PAGE_SIZE}`]);
    expectBearerOnEveryCall();
  });

  it('prints fleets as JSON with algorithm names and ISO times', async () => {
    const doc = json(await admin('-o', 'json', 'fleets', 'list'));
    const fleets = doc.fleets as Record<string, unknown>[];
    expect(fleets.map((f) => f.fleet)).toEqual(['acme', 'globex', 'initech']);
    expect(fleets[1]).toEqual({
      fleet: 'globex',
      displayName: 'Globex robots',
      createdAt: '2030-05-17T12:00:00.000Z',
      kmsProvider: 'aws',
      caAlgorithm: 'ECDSA_P256',
      emergencyAlgorithm: 'ECDSA_P384',
      activeEpoch: { keyId: 'communication/globex/fleet', version: 4 },
      deviceCount: 20,
      locked: false,
    });
  });

  it('stops at --limit and asks only for what it needs', async () => {
    const doc = json(await admin('fleets', 'list', '--limit', '1', '-o', 'json'));
    expect((doc.fleets as unknown[]).length).toBe(1);
    expect(fake.callsOf('listFleets').map((c) => c.request.pageSize)).toEqual([1]);
  });

  it('creates a fleet with the requested KMS and algorithms', async () => {
    const doc = json(await admin('fleets', 'create', 'umbrella', '--display-name', 'Umbrella', '--kms', 'aws', '--ca-algorithm', 'ecdsa-p384', '--emergency-algorithm', 'ed25519', '-o', 'json'));
    expect(fake.callsOf('createFleet')[0]?.request).toMatchObject({
      fleet: 'umbrella',
      displayName: 'Umbrella',
      kmsProvider: 'aws',
      caAlgorithm: KeyAlgorithm.ECDSA_P384,
      emergencyAlgorithm: KeyAlgorithm.ED25519,
    });
    expect(doc.fleet).toMatchObject({ fleet: 'umbrella', caAlgorithm: 'ECDSA_P384', emergencyAlgorithm: 'ED25519', kmsProvider: 'aws' });
    const lines = table(await admin('fleets', 'create', 'wayne'));
    expect(lines[1]).toMatch(/^wayne\s+-\s+0\s+local\s+ECDSA_P256\s+v1\s+no\s+2030-06-15T12:00:00Z$/);
    expect(fake.callsOf('createFleet')[1]?.request).toMatchObject({ caAlgorithm: KeyAlgorithm.UNSPECIFIED, kmsProvider: '' });
  });

  it('refuses an unknown algorithm and a malformed fleet id before calling', async () => {
    expect((await admin('fleets', 'create', 'x', '--ca-algorithm', 'dsa')).code).toBe(2);
    expect((await admin('fleets', 'create', 'a/b')).code).toBe(2);
    expect(fake.callsOf('createFleet')).toHaveLength(0);
  });
});

describe('operators', () => {
  it('create prints the credential alone on stdout and warns on stderr that it is shown once', async () => {
    const result = await admin('operators', 'create', 'bob', '--role', 'operator', '--fleet', 'acme', '--fleet', 'globex', '--display-name', 'Bob');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${NEW_OPERATOR_CREDENTIAL}\n`);
    expect(result.stderr).toMatch(/^fleetctl: created operator bob \(role operator, fleets: acme,globex\)\. .*shown only once/);
    expect(result.stderr).not.toContain(NEW_OPERATOR_CREDENTIAL);
    expect(fake.callsOf('createOperator')[0]?.request).toMatchObject({ operatorId: 'bob', role: OperatorRole.OPERATOR, fleets: ['acme', 'globex'], displayName: 'Bob' });
  });

  it('create -o json carries the operator and the credential', async () => {
    const doc = json(await admin('operators', 'create', 'carol', '--role', 'auditor', '-o', 'json'));
    expect(doc.credential).toBe(NEW_OPERATOR_CREDENTIAL);
    expect(doc.operator).toEqual({ operatorId: 'carol', displayName: '', role: 'auditor', fleets: [], createdAt: '2030-06-15T12:00:00.000Z', createdBy: 'admin', revokedAt: null });
  });

  it('create requires a known role', async () => {
    expect((await admin('operators', 'create', 'dave')).code).toBe(2);
    expect((await admin('operators', 'create', 'dave', '--role', 'root')).code).toBe(2);
    expect(fake.callsOf('createOperator')).toHaveLength(0);
  });

  it('list pages through operators, with revoked ones only on request', async () => {
    const lines = table(await admin('operators', 'list'));
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['admin', 'alice', 'line-3']);
    expectAligned(lines, 'FLEETS', ['all', 'acme,globex', 'acme']);
    const all = json(await admin('operators', 'list', '--include-revoked', '-o', 'json'));
    const operators = all.operators as Record<string, unknown>[];
    expect(operators.map((o) => o.operatorId)).toEqual(['admin', 'alice', 'line-3', 'mallory']);
    expect(operators[3]).toMatchObject({ role: 'auditor', revokedAt: '2030-06-15T12:00:00.000Z' });
    expect(operators[0]?.revokedAt).toBeNull();
    expect(fake.callsOf('listOperators').filter((c) => c.request.includeRevoked === true)).toHaveLength(2);
  });

  it('revoke sends the reason and shows the revoked operator', async () => {
    const lines = table(await admin('operators', 'revoke', 'alice', '--reason', 'left the company'));
    expect(lines[1]).toMatch(/^alice\s+operator\s+acme,globex\s+Alice\s+\S+\s+admin\s+2030-06-15T12:00:00Z$/);
    expect(fake.callsOf('revokeOperator')[0]?.request).toMatchObject({ operatorId: 'alice', reason: 'left the company' });
    const doc = json(await admin('operators', 'revoke', 'alice', '-o', 'json'));
    expect(doc.operator).toMatchObject({ operatorId: 'alice', revokedAt: '2030-06-15T12:00:00.000Z' });
  });
});

describe('tokens', () => {
  it('create prints the secrets one per line and a summary on stderr', async () => {
    const result = await admin('tokens', 'create', '--fleet', 'acme', '--group', 'line-a', '--count', '3', '--ttl', '7d');
    expect(result.code).toBe(0);
    const secrets = result.stdout.trimEnd().split('\n');
    expect(secrets).toEqual([1, 2, 3].map((i) => `fket_${i}_${'9'.repeat(40)}`));
    expect(result.stderr).toBe('fleetctl: minted 3 enrollment tokens for fleet acme, group line-a, expiring 2030-06-22T12:00:00Z. The secrets below are shown only once (use -o json to keep their token ids).\n');
    expect(fake.callsOf('createEnrollmentToken')[0]?.request).toMatchObject({ fleet: 'acme', group: 'line-a', count: 3, serialNumber: '' });
    expect((fake.callsOf('createEnrollmentToken')[0]?.request.ttl as { seconds: bigint }).seconds).toBe(7n * 86_400n);
  });

  it('create -o json keeps each secret with its token id and expiry', async () => {
    const doc = json(await admin('tokens', 'create', '--fleet', 'acme', '--serial', 'SN-0042', '--ttl', '30m', '-o', 'json'));
    expect(doc.tokens).toEqual([
      {
        token: `fket_1_${'9'.repeat(40)}`,
        tokenId: 'new-1',
        fleet: 'acme',
        group: '',
        serialNumber: 'SN-0042',
        state: 'active',
        createdAt: '2030-06-15T12:00:00.000Z',
        expiresAt: '2030-06-15T12:30:00.000Z',
        createdBy: 'admin',
        usedAt: null,
        usedByDeviceId: '',
      },
    ]);
    // Without --ttl the field stays unset, so the controller's default applies.
    await admin('tokens', 'create', '--fleet', 'acme');
    expect(fake.callsOf('createEnrollmentToken')[1]?.request.ttl).toBeUndefined();
  });

  it('create sends a serial pattern for a batch', async () => {
    const batch = await admin('tokens', 'create', '--fleet', 'acme', '--serial', 'SN-2026-*', '--count', '2');
    expect(batch.code).toBe(0);
    expect(fake.callsOf('createEnrollmentToken')[0]?.request).toMatchObject({ serialNumber: 'SN-2026-*', count: 2 });
  });

  it('create refuses an exact --serial with more than one token, and bad counts and durations, before minting', async () => {
    const serial = await admin('tokens', 'create', '--fleet', 'acme', '--serial', 'SN-1', '--count', '2');
    expect(serial.code).toBe(2);
    expect(serial.stderr).toContain('--count 1');
    for (const argv of [['--count', '0'], ['--count', '1001'], ['--ttl', '31d'], ['--ttl', '24'], []]) {
      const result = await admin('tokens', 'create', ...(argv.length === 0 ? [] : ['--fleet', 'acme']), ...argv);
      expect(result.code, argv.join(' ')).toBe(2);
    }
    expect(fake.callsOf('createEnrollmentToken')).toHaveLength(0);
  });

  it('list filters by state and shows metadata only', async () => {
    const lines = table(await admin('tokens', 'list', '--fleet', 'acme'));
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['tok-1', 'tok-2', 'tok-3']);
    expectAligned(lines, 'STATE', ['active', 'used', 'expired']);
    expect(fake.callsOf('listEnrollmentTokens')).toHaveLength(2);
    const doc = json(await admin('tokens', 'list', '--fleet', 'acme', '--state', 'used', '-o', 'json'));
    expect(fake.callsOf('listEnrollmentTokens').at(-1)?.request.state).toBe(EnrollmentTokenState.USED);
    expect(doc.tokens).toEqual([
      expect.objectContaining({ tokenId: 'tok-2', state: 'used', serialNumber: 'SN-0042', usedByDeviceId: 'robot-1', usedAt: '2030-06-15T12:00:00.000Z' }),
    ]);
    expect(JSON.stringify(doc)).not.toContain('"token":');
  });

  it('revoke sends fleet and token id and shows the revoked token', async () => {
    const lines = table(await admin('tokens', 'revoke', 'tok-1', '--fleet', 'acme'));
    expectAligned(lines, 'STATE', ['revoked']);
    expect(fake.callsOf('revokeEnrollmentToken')[0]?.request).toMatchObject({ fleet: 'acme', tokenId: 'tok-1' });
    expect(json(await admin('tokens', 'revoke', 'tok-1', '--fleet', 'acme', '-o', 'json')).token).toMatchObject({ tokenId: 'tok-1', state: 'revoked' });
  });
});

describe('devices', () => {
  it('list pages through devices and passes the filters', async () => {
    const lines = table(await admin('devices', 'list', '--fleet', 'acme'));
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['robot-1', 'robot-2', 'robot-3']);
    expectAligned(lines, 'STATE', ['active', 'active', 'revoked']);
    expectAligned(lines, 'LAST CONTACT', ['2030-06-15T12:01:00Z', '-']);
    expect(fake.callsOf('listDevices')).toHaveLength(2);
    const doc = json(await admin('devices', 'list', '--fleet', 'acme', '--group', 'line-b', '--state', 'revoked', '-o', 'json'));
    expect(fake.callsOf('listDevices').at(-1)?.request).toMatchObject({ fleet: 'acme', group: 'line-b', state: DeviceState.REVOKED });
    expect(doc.devices).toEqual([expect.objectContaining({ deviceId: 'robot-3', state: 'revoked', revokedAt: '2030-06-15T12:00:00.000Z', certificatePem: null })]);
  });

  it('show -o json carries the device certificate as PEM that X.509 parsers accept', async () => {
    const doc = json(await admin('devices', 'show', 'robot-1', '--fleet', 'acme', '-o', 'json'));
    const device = doc.device as Record<string, unknown>;
    expect(device).toMatchObject({
      fleet: 'acme',
      deviceId: 'robot-1',
      state: 'active',
      lastCommandSequence: 12,
      lastKeyBundleSequence: 4,
      epochs: [{ keyId: 'communication/acme/fleet', version: 3, state: 'active', notAfter: '2030-06-16T12:00:00.000Z' }],
    });
    const pem = device.certificatePem as string;
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/);
    const certificate = new X509Certificate(pem);
    expect(Buffer.compare(certificate.raw, Buffer.from(fake.deviceCertificate))).toBe(0);
    expect(certificate.subject).toContain('CN=robot-1');
    expect(certificate.verify(new X509Certificate(fake.caPem).publicKey)).toBe(true);
    expect(fake.callsOf('getDevice')[0]?.request).toMatchObject({ fleet: 'acme', deviceId: 'robot-1' });
  });

  it('show prints fields, or only the PEM with --pem', async () => {
    const lines = table(await admin('devices', 'show', 'robot-1', '--fleet', 'acme'));
    expect(lines).toContain('Device:               robot-1');
    expect(lines).toContain('Epoch:                communication/acme/fleet v3 active');
    const pem = await admin('devices', 'show', 'robot-1', '--fleet', 'acme', '--pem');
    expect(pem.code).toBe(0);
    expect(new X509Certificate(pem.stdout).subject).toContain('CN=robot-1');
    const none = await admin('devices', 'show', 'robot-2', '--fleet', 'acme', '--pem');
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('fleetctl: the controller sent no certificate for device robot-2\n');
  });
});

describe('audit', () => {
  it('list pages through the log, after a sequence and up to a limit', async () => {
    const lines = table(await admin('audit', 'list', '--fleet', 'acme'));
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['1', '2', '3', '4', '5']);
    expectAligned(lines, 'RESULT', ['ok', 'ok', 'ok', 'failed', 'ok']);
    expect(fake.callsOf('listAuditRecords').map((c) => c.request.pageToken)).toEqual(['', 'offset:2', 'offset:4']);
    fake.calls.length = 0;
    const doc = json(await admin('audit', 'list', '--after', '1', '--limit', '3', '-o', 'json'));
    const records = doc.records as Record<string, unknown>[];
    expect(records.map((r) => r.sequence)).toEqual([2, 3, 4]);
    expect(records[0]).toEqual({
      sequence: 2,
      recordedAt: '2030-06-15T12:00:02.000Z',
      fleet: 'acme',
      actor: 'alice',
      action: 'token.create',
      subject: 'subject-2',
      success: true,
      details: { count: '2' },
      previousHash: Buffer.alloc(32, 1).toString('base64'),
      hash: Buffer.alloc(32, 2).toString('base64'),
    });
    expect(fake.callsOf('listAuditRecords').map((c) => [c.request.afterSequence, c.request.pageSize])).toEqual([[1n, 3]]);
  });

  it('verify exits 0 on a valid chain', async () => {
    const result = await admin('audit', 'verify', '--fleet', 'acme');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Chain:\s+valid$/m);
    const doc = json(await admin('audit', 'verify', '-o', 'json'));
    expect(doc).toMatchObject({ fleet: '', verified: true, valid: true, recordsChecked: 5, firstInvalidSequence: null, headSequence: 5, headSignatureValid: true });
    expect(fake.callsOf('verifyAudit').map((c) => c.request.fleet)).toEqual(['acme', '']);
  });

  it('verify exits 1 and names the first bad record when the chain does not verify', async () => {
    const result = await admin('audit', 'verify', '--fleet', 'tampered');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Chain:\s+INVALID$/m);
    expect(result.stdout).toMatch(/^First bad record:\s+3$/m);
    expect(result.stderr).toBe('fleetctl: the audit chain does not verify: the first bad record is sequence 3\n');
    const doc = await admin('audit', 'verify', '--fleet', 'tampered', '-o', 'json');
    expect(doc.code).toBe(1);
    expect(JSON.parse(doc.stdout)).toMatchObject({ verified: false, valid: false, firstInvalidSequence: 3 });
  });
});
