/**
 * The "done when", through the real binaries: `fleet-controller init` and `serve` (port 0
 * everywhere, a temp dir), tokens minted with `fleetctl`, a device enrolled through the real gRPC
 * API over TLS, found with `fleetctl devices list -o json`, its certificate accepted by openssl
 * against the CA chain; then mutual TLS, the broker with the device certificate, the HTTP probes,
 * `fleetctl audit verify`, and a clean SIGTERM — with no token in any log line.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { unwrapWithPrivateKey } from '@fleetkey/crypto';
import { DeviceService, ProvisioningService, closeClient, createClient, groupBroadcastTopic, keyBundleWrapContext } from '@fleetkey/protocol';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derToPem } from '../core/server-tls.js';
import { deviceIdentity } from '../provisioning/testing.js';
import { FLEETCTL_BIN, initDataDir, run, startServe, type ReadyAddresses, type ServeProcess } from './testing.js';

let parent: string;
let dataDir: string;
let adminToken: string;
let caFile: string;
let controller: ServeProcess;
let ready: ReadyAddresses;
const secrets: string[] = [];

async function fleetctl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [FLEETCTL_BIN, '--controller', ready.grpc, '--ca-file', caFile, ...args], {
    env: { ...process.env, FLEETKEY_TOKEN: adminToken, FLEETKEY_CONFIG: join(parent, 'no-config.json') },
  });
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-e2e-'));
  dataDir = join(parent, 'controller');
  const initialised = await initDataDir(dataDir, 'acme');
  expect(initialised.fleet).toBe('acme');
  adminToken = initialised.adminToken;
  caFile = initialised.caFile;
  secrets.push(adminToken);
  controller = await startServe(dataDir, process.env, ['--log-level', 'debug']);
  ready = controller.ready;
}, 60_000);

afterAll(async () => {
  if (controller?.child.exitCode === null) controller.child.kill('SIGKILL');
  await rm(parent, { recursive: true, force: true });
});

describe('a controller as an operator and a factory station meet it', () => {
  let device: Awaited<ReturnType<typeof deviceIdentity>>;
  let certificate: Uint8Array;
  let caChain: Uint8Array[];

  it('mints tokens with fleetctl and enrolls a robot through the real gRPC API', async () => {
    const minted = await fleetctl('tokens', 'create', '--fleet', 'acme', '--count', '2', '--ttl', '1h', '-o', 'json');
    const { tokens } = JSON.parse(minted.stdout) as { tokens: { token: string; tokenId: string }[] };
    expect(tokens).toHaveLength(2);
    secrets.push(...tokens.map((token) => token.token));

    device = await deviceIdentity('ECDSA_P256', 'robot-7');
    const ca = await readFile(caFile);
    const station = createClient(ProvisioningService, ready.grpc, credentials.createSsl(ca));
    try {
      const response = await station.enroll({ enrollmentToken: tokens[0]!.token, csr: device.csr, deviceId: 'robot-7', serialNumber: 'SN-7' });
      expect(response.deviceId).toBe('robot-7');
      expect(response.controllerAddress).toBe(ready.grpc);
      expect(response.brokerAddress).toBe(`mqtts://${ready.mqtt}`);
      certificate = response.certificate;
      caChain = response.caChain;
      // The same token again: refused, used.
      await expect(station.enroll({ enrollmentToken: tokens[0]!.token, csr: device.csr, deviceId: 'robot-8' })).rejects.toMatchObject({ code: 'ENROLLMENT_TOKEN_REJECTED' });
    } finally {
      closeClient(station);
    }
  });

  it('shows the robot in fleetctl devices list, and openssl accepts its certificate against the CA chain', async () => {
    const listed = JSON.parse((await fleetctl('devices', 'list', '--fleet', 'acme', '-o', 'json')).stdout) as { devices: { deviceId: string; state: string; certificateNotAfter: string }[] };
    expect(listed.devices.map((d) => d.deviceId)).toEqual(['robot-7']);
    expect(new Date(listed.devices[0]!.certificateNotAfter).getTime()).toBe(new Date(new X509Certificate(certificate).validTo).getTime());
    const shown = JSON.parse((await fleetctl('devices', 'show', 'robot-7', '--fleet', 'acme', '-o', 'json')).stdout) as { device?: { certificatePem: string }; certificatePem?: string };
    const pem = shown.device?.certificatePem ?? shown.certificatePem!;
    expect(new X509Certificate(pem).raw).toEqual(Buffer.from(certificate));
    await writeFile(join(parent, 'device.pem'), pem);
    await writeFile(join(parent, 'fleet-ca.pem'), caChain.map((der) => derToPem(der)).join(''));
    const verified = await run('openssl', ['verify', '-CAfile', join(parent, 'fleet-ca.pem'), join(parent, 'device.pem')]);
    expect(verified.stdout).toContain(': OK');
    expect(new X509Certificate(pem).verify(new X509Certificate(caChain[0]!).publicKey)).toBe(true);
  });

  it('lets the robot in over mutual TLS (gRPC) and to the broker with its certificate', async () => {
    const ca = await readFile(caFile);
    const keyPem = device.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const robot = createClient(DeviceService, ready.grpc, credentials.createSsl(ca, Buffer.from(keyPem), Buffer.from(derToPem(certificate))));
    try {
      const bundle = await robot.getKeyBundle({});
      expect(bundle.keyBundle?.deviceId).toBe('robot-7');
      expect(bundle.keyBundle?.epochs).toHaveLength(1);
      const epochKey = Buffer.from(unwrapWithPrivateKey(bundle.keyBundle!.epochs[0]!.wrappedKey, device.privateKey, keyBundleWrapContext('robot-7')));
      secrets.push(epochKey.toString('hex'), epochKey.toString('base64'), epochKey.toString('base64url'));
    } finally {
      closeClient(robot);
    }
    const [host, port] = ready.mqtt.split(':');
    const client = await connectAsync({ protocol: 'mqtts', host, port: Number(port), ca, key: keyPem, cert: derToPem(certificate), clientId: 'robot-7', reconnectPeriod: 0, connectTimeout: 5000 });
    try {
      const granted = await client.subscribeAsync('fleetkey/v1/acme/devices/robot-7/commands', { qos: 1 });
      expect(granted[0]!.qos).toBe(1);
    } finally {
      await client.endAsync();
    }
  });

  it('creates a second fleet while running: its robots enroll and are trusted over mutual TLS at once', async () => {
    await fleetctl('fleets', 'create', 'beta', '--display-name', 'Beta line');
    const fleets = JSON.parse((await fleetctl('fleets', 'list', '-o', 'json')).stdout) as { fleets: { fleet: string }[] };
    expect(fleets.fleets.map((f) => f.fleet).sort()).toEqual(['acme', 'beta']);
    const minted = JSON.parse((await fleetctl('tokens', 'create', '--fleet', 'beta', '--group', 'line-2', '-o', 'json')).stdout) as { tokens: { token: string }[] };
    secrets.push(minted.tokens[0]!.token);
    const robot = await deviceIdentity('ECDSA_P256', 'robot-7');
    const ca = await readFile(caFile);
    const station = createClient(ProvisioningService, ready.grpc, credentials.createSsl(ca));
    const enrolled = await station.enroll({ enrollmentToken: minted.tokens[0]!.token, csr: robot.csr, deviceId: 'robot-7' }).finally(() => closeClient(station));
    // Same device id as in acme: fleets are separate tenants, each with its own CA.
    expect(enrolled.fleet).toBe('beta');
    expect(enrolled.group).toBe('line-2');
    expect(Buffer.from(enrolled.caChain[0]!)).not.toEqual(Buffer.from(caChain[0]!));
    const keyPem = robot.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const client = createClient(DeviceService, ready.grpc, credentials.createSsl(ca, Buffer.from(keyPem), Buffer.from(derToPem(enrolled.certificate))));
    try {
      expect((await client.getKeyBundle({})).keyBundle?.fleet).toBe('beta');
    } finally {
      closeClient(client);
    }
    // Its group's broadcast topic is open to it on the broker; another group's is not.
    const [host, port] = ready.mqtt.split(':');
    const mqttClient = await connectAsync({ protocol: 'mqtts', host, port: Number(port), ca, key: keyPem, cert: derToPem(enrolled.certificate), clientId: 'robot-7', reconnectPeriod: 0, connectTimeout: 5000 });
    try {
      expect((await mqttClient.subscribeAsync(groupBroadcastTopic('beta', 'line-2'), { qos: 1 }))[0]!.qos).toBe(1);
      // mqtt.js rejects a subscription the SUBACK refuses (0x80).
      await expect(mqttClient.subscribeAsync(groupBroadcastTopic('beta', 'line-3'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    } finally {
      await mqttClient.endAsync();
    }
    const acmeDevices = JSON.parse((await fleetctl('devices', 'list', '--fleet', 'acme', '-o', 'json')).stdout) as { devices: { fleet: string }[] };
    expect(acmeDevices.devices.every((d) => d.fleet === 'acme')).toBe(true);
  });

  it('deletes a fleet only once a second admin approves, after which its robots are refused', async () => {
    const created = JSON.parse((await fleetctl('operators', 'create', 'second-admin', '--role', 'admin', '-o', 'json')).stdout) as { credential: string };
    secrets.push(created.credential);
    const request = JSON.parse((await fleetctl('fleets', 'delete', 'beta', '--reason', 'line closed', '-o', 'json')).stdout) as { liftRequest?: { liftRequestId: string }; request?: { liftRequestId: string } };
    const requestId = (request.liftRequest ?? request.request)!.liftRequestId;
    // The requester cannot approve its own request.
    await expect(fleetctl('approve', requestId, '--fleet', 'beta')).rejects.toMatchObject({ code: 4 });
    expect((JSON.parse((await fleetctl('fleets', 'list', '-o', 'json')).stdout) as { fleets: { fleet: string }[] }).fleets.map((f) => f.fleet)).toContain('beta');
    await run(process.execPath, [FLEETCTL_BIN, '--controller', ready.grpc, '--ca-file', caFile, 'approve', requestId, '--fleet', 'beta'], {
      env: { ...process.env, FLEETKEY_TOKEN: created.credential, FLEETKEY_CONFIG: join(parent, 'no-config.json') },
    });
    expect((JSON.parse((await fleetctl('fleets', 'list', '-o', 'json')).stdout) as { fleets: { fleet: string }[] }).fleets.map((f) => f.fleet)).toEqual(['acme']);
    await expect(fleetctl('devices', 'list', '--fleet', 'beta')).rejects.toMatchObject({ code: 5 });
  });

  it('answers the HTTP probes and exports metrics', async () => {
    const base = `http://${ready.http}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const readiness = await fetch(`${base}/readyz`);
    expect(readiness.status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/fleetkey_enrollments_total\{[^}]*fleet="acme"[^}]*\} 1/);
    expect(metrics).toMatch(/fleetkey_grpc_requests_total\{[^}]*method="Enroll"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/fleetkey_audit_records_total\{action="device.enroll",result="ok"\} 2/);
    expect(metrics).toMatch(/fleetkey_mqtt_clients \d/);
  });

  it('makes and checks a signed, encrypted backup through fleetctl', async () => {
    const archive = join(parent, 'state.fkb');
    const created = JSON.parse((await fleetctl('backup', 'create', '--out', archive, '-o', 'json')).stdout) as Record<string, unknown>;
    expect(JSON.stringify(created)).toContain('acme');
    const verified = JSON.parse((await fleetctl('backup', 'verify', archive, '-o', 'json')).stdout) as { valid: boolean };
    expect(verified.valid).toBe(true);
    const bytes = await readFile(archive);
    for (const secret of secrets) expect(bytes.includes(secret)).toBe(false);
  });

  it('verifies the audit chain with fleetctl, then stops cleanly on SIGTERM without a token in any log line', async () => {
    const verification = JSON.parse((await fleetctl('audit', 'verify', '-o', 'json')).stdout) as { valid: boolean; recordsChecked: number };
    expect(verification.valid).toBe(true);
    expect(verification.recordsChecked).toBeGreaterThan(10);
    const auditListing = (await fleetctl('audit', 'list', '-o', 'json')).stdout;
    expect(JSON.parse(auditListing).records.length).toBeGreaterThan(10);

    expect(await controller.stop()).toBe(0);
    const stderrLog = controller.stderr();
    expect(stderrLog).toContain('controller stopped');
    for (const secret of secrets) expect(stderrLog).not.toContain(secret);
    expect(stderrLog).not.toMatch(/fk_(op|enr)_[A-Za-z0-9_-]{20,}/);
    // Nor in the audit log (read before the stop) or anywhere in the data directory's files.
    for (const secret of secrets) expect(auditListing).not.toContain(secret);
    for (const name of ['state.db', 'state.db-wal', 'controller.json', 'ca.pem']) {
      const bytes = await readFile(join(dataDir, name)).catch(() => Buffer.alloc(0));
      for (const secret of secrets) expect(bytes.includes(secret), `${name} holds a secret`).toBe(false);
    }

  });
});
