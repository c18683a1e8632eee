/**
 * The Python robot-app example (examples/python-robot-app) against the real agent, as an
 * integrator runs it: stubs generated from proto/ by its generate.sh (protoc + the gRPC Python
 * plugin), robot_app.py run by a system Python with grpcio, over the socket of a real
 * `edge-agent serve` whose robot was provisioned by a real controller. Covers the tour of every
 * call, opening an envelope sealed by another app, the error trailer on a refused Open, the app
 * token of an agent that asks for one, and the refusal of a locked robot (DEVICE_LOCKED) while
 * GetStatus still answers.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, AgentProcess, ControllerProcess, closeClient, eventually, robotApp } from '../testing/processes.js';

const run = promisify(execFile);
const EXAMPLE_DIR = new URL('../../../../examples/python-robot-app/', import.meta.url).pathname;
const GENERATE = join(EXAMPLE_DIR, 'generate.sh');
const ROBOT_APP = join(EXAMPLE_DIR, 'robot_app.py');
// The system Python first: a pyenv `python3` on PATH often has no grpcio.
const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3', 'python'];
const DEVICE_ID = 'robot-py';
const TOKEN_DEVICE_ID = 'robot-py-token';

let parent: string;
let python: string;
let generated: string;
let controller: ControllerProcess;
let agent: AgentProcess;
let tokenAgent: AgentProcess | undefined;
let app: ReturnType<typeof robotApp> | undefined;

interface AppRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function findPython(): Promise<string> {
  for (const candidate of PYTHON_CANDIDATES) {
    try {
      await run(candidate, ['-c', 'import grpc, google.protobuf']);
      return candidate;
    } catch {
      // Not installed, or without grpcio: try the next one.
    }
  }
  throw new Error(`no Python with grpcio and protobuf among ${PYTHON_CANDIDATES.join(', ')} (Debian: apt-get install python3-grpcio python3-protobuf)`);
}

interface AppTarget {
  readonly socketPath: string;
  readonly token?: string;
}

/** Runs robot_app.py against an agent (default: the robot-py one, no token); resolves its exit code and output whatever the code. */
async function robotAppPy(args: readonly string[] = [], target: AppTarget = { socketPath: agent.socketPath }): Promise<AppRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: generated, PYTHONDONTWRITEBYTECODE: '1', FLEETKEY_AGENT_SOCKET: target.socketPath };
  delete env.FLEETKEY_APP_TOKEN;
  if (target.token !== undefined) env.FLEETKEY_APP_TOKEN = target.token;
  try {
    const { stdout, stderr } = await run(python, [ROBOT_APP, ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-py-app-'));
  python = await findPython();
  generated = join(parent, 'gen');
  await run('sh', [GENERATE, generated]);
  controller = new ControllerProcess(parent);
  await controller.start();
  await controller.provision(DEVICE_ID, join(parent, DEVICE_ID));
  agent = new AgentProcess(join(parent, DEVICE_ID), join(parent, 'py.sock'));
  await agent.start();
  app = robotApp(agent.socketPath);
}, 180_000);

afterAll(async () => {
  if (app !== undefined) closeClient(app);
  await tokenAgent?.stop();
  await agent?.stop();
  await controller?.stop();
  if (parent !== undefined) await rm(parent, { recursive: true, force: true });
});

describe('the Python robot-app example against edge-agent serve', () => {
  it('calls GetStatus, Seal, Open, Sign/Verify and Encrypt/Decrypt, one line each, and exits 0', async () => {
    const result = await robotAppPy();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [status, sealed, opened, signed, storage, ...rest] = lines(result.stdout);
    expect(status).toMatch(new RegExp(`^status: fleet=acme device=${DEVICE_ID} group=- locked=no epochs=\\[\\S+@1 active\\] agent=\\S+$`));
    expect(sealed).toMatch(/^sealed: 19 bytes -> \d+-byte envelope with key \S+ epoch 1$/);
    expect(opened).toMatch(new RegExp(`^opened: 'hello from ${DEVICE_ID}' from ${DEVICE_ID} \\(key \\S+ epoch 1, active\\)$`));
    expect(signed).toMatch(new RegExp(`^signed: \\d+-byte ecdsa_p256_sha256 signature; verify: valid, signer ${DEVICE_ID}$`));
    expect(storage).toMatch(/^encrypt\/decrypt: round trip ok with key \S+ epoch 1$/);
    expect(rest).toEqual([]);
  });

  it('--open opens an envelope sealed by another app, naming the robot that sealed it', async () => {
    const sealed = await app!.seal({ plaintext: new TextEncoder().encode('waypoint 17 from node'), associatedData: new TextEncoder().encode('route-7'), purpose: 'telemetry' });
    const file = join(parent, 'from-node.env');
    await writeFile(file, sealed.envelope);
    const result = await robotAppPy(['--open', file]);
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual([`opened: 'waypoint 17 from node' from ${DEVICE_ID} (key ${sealed.key!.keyId} epoch 1, active)`]);
  });

  it('prints the status and the fleetkey-error-code trailer and exits non-zero when Open is refused', async () => {
    // Sealed with other associated data than the example opens with: authenticated, so refused.
    const sealed = await app!.seal({ plaintext: new TextEncoder().encode('not for this route'), associatedData: new TextEncoder().encode('route-8'), purpose: 'telemetry' });
    const file = join(parent, 'other-route.env');
    await writeFile(file, sealed.envelope);
    const result = await robotAppPy(['--open', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: INVALID_ARGUMENT fleetkey-error-code=DECRYPTION_FAILED: /)]);
    expect(result.stderr).not.toContain('not for this route');
  });

  it('sends FLEETKEY_APP_TOKEN as a bearer token to an agent that asks for one; without it the agent refuses', async () => {
    const minted = JSON.parse((await run(process.execPath, [AGENT_BIN, 'app-token', '--name', 'python-example', '-o', 'json'])).stdout) as { token: string; configEntry: { name: string; tokenSha256: string } };
    const config = join(parent, 'token-agent.json');
    await writeFile(config, JSON.stringify({ apps: [minted.configEntry] }), { mode: 0o600 });
    await controller.provision(TOKEN_DEVICE_ID, join(parent, TOKEN_DEVICE_ID));
    tokenAgent = new AgentProcess(join(parent, TOKEN_DEVICE_ID), join(parent, 'py-token.sock'), ['--config', config]);
    await tokenAgent.start();

    const withToken = await robotAppPy([], { socketPath: tokenAgent.socketPath, token: minted.token });
    expect(withToken.code).toBe(0);
    expect(lines(withToken.stdout)).toHaveLength(5);
    expect(lines(withToken.stdout)[0]).toMatch(new RegExp(`^status: fleet=acme device=${TOKEN_DEVICE_ID} `));

    const without = await robotAppPy([], { socketPath: tokenAgent.socketPath });
    expect(without.code).toBe(1);
    expect(without.stdout).toBe('');
    expect(lines(without.stderr)).toEqual([expect.stringMatching(/^error: UNAUTHENTICATED fleetkey-error-code=UNAUTHENTICATED: /)]);
    expect(without.stderr).not.toContain(minted.token);
  }, 120_000);

  it('on a locked robot still shows the status, then is refused with DEVICE_LOCKED', async () => {
    await controller.fleetctl('lockdown', '--fleet', 'acme', '--reason', 'py');
    await eventually(async () => ((await app!.getStatus({})).locked ? true : undefined), 'the agent to lock');
    const result = await robotAppPy();
    expect(result.code).toBe(1);
    expect(lines(result.stdout)).toEqual([expect.stringMatching(new RegExp(`^status: fleet=acme device=${DEVICE_ID} group=- locked=yes \\(py\\) `))]);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: FAILED_PRECONDITION fleetkey-error-code=DEVICE_LOCKED: /)]);
  });
});
