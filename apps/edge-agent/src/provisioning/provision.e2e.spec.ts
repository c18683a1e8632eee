/**
 * `edge-agent provision` and `status` against a real controller started through its binaries
 * (`fleet-controller init` / `serve` on port 0, tokens minted with `fleetctl`). The first
 * provisioning and its status run the real edge-agent binary; the refusals run the same CLI
 * in-process (same code path, fewer processes on a 2-core machine).
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { createCaCertificate, createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { EXIT } from '@fleetkey/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../cli.js';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { readStatus, type AgentStatus } from '../status/index.js';

const run = promisify(execFile);
const CONTROLLER_BIN = new URL('../../../fleet-controller/bin/fleet-controller.mjs', import.meta.url).pathname;
const FLEETCTL_BIN = new URL('../../../fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;
const AGENT_BIN = new URL('../../bin/edge-agent.mjs', import.meta.url).pathname;

let parent: string;
let adminToken: string;
let caFile: string;
let grpc: string;
let controller: ReturnType<typeof spawn> | undefined;

async function fleetctl(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [FLEETCTL_BIN, '--controller', grpc, '--ca-file', caFile, ...args], {
    env: { ...process.env, FLEETKEY_TOKEN: adminToken, FLEETKEY_CONFIG: join(parent, 'no-config.json') },
  });
  return stdout;
}

async function mintToken(): Promise<{ token: string; tokenId: string }> {
  const minted = JSON.parse(await fleetctl('tokens', 'create', '--fleet', 'acme', '--ttl', '1h', '-o', 'json')) as { tokens: { token: string; tokenId: string }[] };
  return minted.tokens[0]!;
}

async function tokenState(tokenId: string): Promise<string | undefined> {
  const listed = JSON.parse(await fleetctl('tokens', 'list', '--fleet', 'acme', '-o', 'json')) as { tokens: { tokenId: string; state: string }[] };
  return listed.tokens.find((t) => t.tokenId === tokenId)?.state;
}

/** The CLI in-process with captured output. */
async function agent(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, now: () => new Date() };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

async function writeToken(name: string, token: string): Promise<string> {
  const path = join(parent, name);
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  return path;
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-agent-e2e-'));
  const init = await run(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', join(parent, 'controller'), '--fleet', 'acme', '-o', 'json']);
  ({ adminToken, caFile } = JSON.parse(init.stdout) as { adminToken: string; caFile: string });
  const child = spawn(process.execPath, [CONTROLLER_BIN, 'serve', '--data-dir', join(parent, 'controller'), '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  controller = child;
  child.stderr!.resume();
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  if (line === undefined) throw new Error('the controller exited before it was ready');
  grpc = (JSON.parse(line) as { grpc: string }).grpc;
}, 90_000);

afterAll(async () => {
  if (controller !== undefined && controller.exitCode === null) {
    controller.kill('SIGTERM');
    await once(controller, 'exit');
  }
  await rm(parent, { recursive: true, force: true });
});

describe('edge-agent provision and status against a real controller', () => {
  let dataDir: string;
  let first: { token: string; tokenId: string };

  it('provisions through the real binary, and status shows fleet, device, certificate expiry and epoch 1 active', async () => {
    first = await mintToken();
    dataDir = join(parent, 'robot-1');
    const tokenFile = await writeToken('token-1', first.token);
    const provisioned = await run(process.execPath, [AGENT_BIN, 'provision', '--controller', grpc, '--ca-file', caFile, '--token-file', tokenFile, '--device-id', 'robot-1', '--data-dir', dataDir, '--serial', 'SN-1', '-o', 'json']);
    const fromProvision = JSON.parse(provisioned.stdout) as AgentStatus;
    expect(fromProvision.provisioned).toBe(true);
    expect(provisioned.stdout).not.toContain(first.token);

    const shown = await run(process.execPath, [AGENT_BIN, 'status', '--data-dir', dataDir, '-o', 'json']);
    const status = JSON.parse(shown.stdout) as AgentStatus;
    expect(Object.keys(status).sort()).toEqual(['certificateNotAfter', 'deviceId', 'epochs', 'fleet', 'lastContact', 'locked', 'offlineSince', 'provisioned']);
    expect(status).toMatchObject({ provisioned: true, fleet: 'acme', deviceId: 'robot-1', locked: false, lastContact: null, offlineSince: null });
    expect(status.epochs).toHaveLength(1);
    expect(status.epochs[0]).toMatchObject({ version: 1, state: 'active' });
    expect(Date.parse(status.epochs[0]!.notAfter!)).toBeGreaterThan(Date.now());

    const listed = JSON.parse(await fleetctl('devices', 'list', '--fleet', 'acme', '-o', 'json')) as { devices: { deviceId: string; certificateNotAfter: string }[] };
    const device = listed.devices.find((d) => d.deviceId === 'robot-1');
    expect(device).toBeDefined();
    expect(status.certificateNotAfter).toBe(new Date(device!.certificateNotAfter).toISOString());
    expect(await tokenState(first.tokenId)).toBe('used');

    const table = await agent(['status', '--data-dir', dataDir]);
    expect(table.code).toBe(EXIT.ok);
    expect(table.stdout).toMatch(/device id:\s+robot-1/);
    expect(table.stdout).toMatch(/communication\/acme\/fleet@1\s+active/);
  }, 60_000);

  it('keeps everything it stored readable and consistent: the certificate holds the stored identity key', async () => {
    const paths = agentPaths(dataDir);
    const state = await AgentState.open(paths.keystore, agentProtector(paths));
    try {
      const certificate = new X509Certificate(state.deviceCertificate());
      const privateKey = state.identityPrivateKey();
      expect(certificate.checkPrivateKey(privateKey)).toBe(true);
      expect(certificate.verify(new X509Certificate(state.fleetCaChain()[0]!).publicKey)).toBe(true);
      expect(state.emergencyKeys().map((key) => key.keyRef)).toEqual(['emergency/acme/emergency@1']);
      expect(state.endpoints()).toEqual({ controller: grpc, broker: expect.stringMatching(/^mqtts:\/\/127\.0\.0\.1:\d+$/) as unknown });
      expect(state.sequences().manifests.get('communication/acme/fleet')).toBeGreaterThan(0);
    } finally {
      state.close();
    }
  });

  it('never writes the identity private key in the clear into any file of the data directory', async () => {
    const paths = agentPaths(dataDir);
    const state = await AgentState.open(paths.keystore, agentProtector(paths));
    const privateKey = state.identityPrivateKey();
    state.close();
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const scalar = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const needles = [pkcs8, scalar, Buffer.from(scalar.toString('hex')), Buffer.from(scalar.toString('base64')), Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)];
    const files = await readdir(dataDir);
    expect(files).toContain('agent.db');
    for (const name of files) {
      const bytes = await readFile(join(dataDir, name));
      for (const needle of needles) expect(bytes.includes(needle), `${name} holds the key`).toBe(false);
    }
    // The scan can fail: the same needles are found in a file that does hold the key.
    await writeFile(join(parent, 'control.der'), pkcs8);
    expect((await readFile(join(parent, 'control.der'))).includes(scalar)).toBe(true);
  });

  it('does not enroll again once provisioned: exit 0, the status, and the second token stays unused', async () => {
    const second = await mintToken();
    const result = await agent(['provision', '--controller', grpc, '--ca-file', caFile, '--token', second.token, '--device-id', 'robot-1', '--data-dir', dataDir]);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stderr).toContain('already provisioned as robot-1 of fleet acme');
    expect(result.stdout).toMatch(/fleet:\s+acme/);
    expect(await tokenState(second.tokenId)).toBe('active');
  }, 30_000);

  it('refuses a used token with one line (exit 3) and leaves no data directory', async () => {
    const target = join(parent, 'robot-2');
    const result = await agent(['provision', '--controller', grpc, '--ca-file', caFile, '--device-id', 'robot-2', '--data-dir', target], { FLEETKEY_ENROLLMENT_TOKEN: first.token });
    expect(result.code).toBe(EXIT.unauthenticated);
    expect(result.stderr).toBe('edge-agent: the controller refused the enrollment token: enrollment token already used\n');
    expect(result.stderr).not.toContain(first.token);
    expect(await exists(target)).toBe(false);
    expect((await readdir(parent)).filter((name) => name.includes('provision-'))).toEqual([]);
  }, 30_000);

  it('refuses a controller its CA file does not vouch for (exit 6), without spending the token', async () => {
    const otherCa = await generateKeyPair('ECDSA_P256');
    const now = Date.now();
    const cert = await createCaCertificate({ signer: createLocalSigner(otherCa.privateKey), fleet: 'elsewhere', commonName: 'not the controller', notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
    const wrongCa = join(parent, 'wrong-ca.pem');
    await writeFile(wrongCa, cert.pem);
    const token = await mintToken();
    const target = join(parent, 'robot-3');
    const result = await agent(['provision', '--controller', grpc, '--ca-file', wrongCa, '--token', token.token, '--device-id', 'robot-3', '--data-dir', target, '--timeout', '10']);
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toMatch(/^edge-agent: TLS with the controller at 127\.0\.0\.1:\d+ failed: [^\n]*\n$/);
    expect(await exists(target)).toBe(false);
    expect(await tokenState(token.tokenId)).toBe('active');
  }, 30_000);

  it('reports an unreachable controller (exit 6) and leaves an existing empty data directory empty', async () => {
    const target = join(parent, 'robot-4');
    await mkdir(target);
    const result = await agent(['provision', '--controller', '127.0.0.1:1', '--ca-file', caFile, '--token', 'fk_enr_unused', '--device-id', 'robot-4', '--data-dir', target, '--timeout', '10']);
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toMatch(/^edge-agent: cannot reach the controller at 127\.0\.0\.1:1: [^\n]*\n$/);
    expect(await readdir(target)).toEqual([]);
  }, 30_000);

  it('refuses a device id already taken in the fleet (exit 7, RECORD_EXISTS) and writes nothing', async () => {
    const token = await mintToken();
    const target = join(parent, 'robot-1-again');
    const result = await agent(['provision', '--controller', grpc, '--ca-file', caFile, '--token-file', await writeToken('token-dup', token.token), '--device-id', 'robot-1', '--data-dir', target]);
    expect(result.code).toBe(EXIT.conflict);
    expect(result.stderr).toMatch(/^edge-agent: the controller refused the enrollment: [^\n]*robot-1[^\n]*already enrolled[^\n]*\n$/);
    expect(await exists(target)).toBe(false);
  }, 30_000);

  it('refuses a data directory already provisioned as another device, and touches nothing', async () => {
    const before = await readFile(join(dataDir, 'agent.db'));
    const result = await agent(['provision', '--controller', grpc, '--ca-file', caFile, '--token', 'fk_enr_unused', '--device-id', 'robot-9', '--data-dir', dataDir]);
    expect(result.code).toBe(EXIT.conflict);
    expect(result.stderr).toContain('already provisioned as device robot-1 of fleet acme');
    expect(await readFile(join(dataDir, 'agent.db'))).toEqual(before);
  });

  it('refuses to open the keystore with a wrong key file', async () => {
    const copy = join(parent, 'robot-1-copy');
    await cp(dataDir, copy, { recursive: true });
    await rm(join(copy, 'agent.key'));
    await writeFile(join(copy, 'agent.key'), randomBytes(32), { mode: 0o600 });
    await chmod(join(copy, 'agent.key'), 0o600);
    const error = await readStatus({ dataDir: copy }).then(() => undefined, (e: unknown) => e);
    expect(isFleetkeyError(error, 'STORE_KEY_INVALID')).toBe(true);
    const result = await agent(['status', '--data-dir', copy]);
    expect(result.code).toBe(EXIT.failure);
    expect(result.stderr).toBe('edge-agent: store key invalid: the protector did not unlock this keystore\n');
  });

  it('reports a missing data directory as not provisioned, exit 0', async () => {
    const result = await agent(['status', '--data-dir', join(parent, 'nowhere'), '-o', 'json']);
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toEqual({ provisioned: false, fleet: null, deviceId: null, certificateNotAfter: null, epochs: [], locked: false, lastContact: null, offlineSince: null });
  });
});
