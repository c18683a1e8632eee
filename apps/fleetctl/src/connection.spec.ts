/**
 * Failures as an operator meets them, over real TLS and real sockets: a refused credential, a
 * role that may not act, a missing record, a conflict, a controller that is not there, a CA file
 * that does not match. Each is one line on stderr and its own exit code, and never shows the token.
 */
import { createServer } from 'node:net';
import { EXIT } from '@fleetkey/cli';
import { RpcError } from '@fleetkey/protocol';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SettingsInvalid, type ConnectionSettings } from './config.js';
import { describeFailure } from './connection.js';
import { ADMIN_TOKEN, AUDITOR_TOKEN, startFakeController, type FakeController } from './test-support/fake-controller.js';
import { runFleetctl, type RunResult } from './test-support/run.js';

let fake: FakeController;

beforeAll(async () => {
  fake = await startFakeController();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.calls.length = 0;
});

function run(token: string, argv: string[], overrides: { controller?: string; caFile?: string } = {}): Promise<RunResult> {
  return runFleetctl(['--controller', overrides.controller ?? fake.address, '--ca-file', overrides.caFile ?? fake.caFile, '--token', token, ...argv], { env: { HOME: fake.dir } });
}

/** One line on stderr, nothing on stdout, and no token anywhere in it. */
function expectOneLineFailure(result: RunResult, code: number, ...secrets: string[]): string {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^fleetctl: [^\n]+\n$/);
  for (const secret of secrets) expect(result.stderr).not.toContain(secret);
  return result.stderr;
}

/** A port on 127.0.0.1 nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('failures over the wire', () => {
  it('a refused credential exits 3 with a hint, and the token is not echoed', async () => {
    const wrong = 'fkop_wrong_5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e';
    const stderr = expectOneLineFailure(await run(wrong, ['fleets', 'list']), EXIT.unauthenticated, wrong);
    expect(stderr).toBe('fleetctl: the controller refused the credential from --token (run `fleetctl login` or check FLEETKEY_TOKEN)\n');
    // The token reached the controller as a bearer credential, and nowhere else.
    expect(fake.calls[0]?.authorization).toBe(`Bearer ${wrong}`);
  });

  it('a role that may not act exits 4 with the reason', async () => {
    const stderr = expectOneLineFailure(await run(AUDITOR_TOKEN, ['tokens', 'create', '--fleet', 'acme']), EXIT.permissionDenied, AUDITOR_TOKEN);
    expect(stderr).toBe('fleetctl: permission denied: role auditor may not call createEnrollmentToken\n');
  });

  it('a missing record exits 5', async () => {
    const stderr = expectOneLineFailure(await run(ADMIN_TOKEN, ['devices', 'show', 'robot-9', '--fleet', 'acme']), EXIT.notFound, ADMIN_TOKEN);
    expect(stderr).toBe('fleetctl: not found: device robot-9 does not exist in fleet acme\n');
    expectOneLineFailure(await run(ADMIN_TOKEN, ['operators', 'revoke', 'nobody']), EXIT.notFound);
  });

  it('an existing record and a state conflict exit 7', async () => {
    expect(expectOneLineFailure(await run(ADMIN_TOKEN, ['fleets', 'create', 'acme']), EXIT.conflict)).toBe('fleetctl: already exists: fleet acme already exists\n');
    expect(expectOneLineFailure(await run(ADMIN_TOKEN, ['tokens', 'revoke', 'tok-2', '--fleet', 'acme']), EXIT.conflict)).toContain('tok-2 is not active');
  });

  it('an unreachable controller exits 6 and names the address', async () => {
    const port = await closedPort();
    const stderr = expectOneLineFailure(await run(ADMIN_TOKEN, ['status'], { controller: `127.0.0.1:${port}` }), EXIT.unavailable, ADMIN_TOKEN);
    expect(stderr).toContain(`cannot reach the controller at 127.0.0.1:${port} (from --controller)`);
    expect(stderr).toContain('ECONNREFUSED');
  });

  it('Precondition: a controller certificate the CA file does not vouch for is refused', async () => {
    const stderr = expectOneLineFailure(await run(ADMIN_TOKEN, ['status'], { caFile: fake.otherCaFile }), EXIT.unavailable, ADMIN_TOKEN);
    expect(stderr).toContain(`TLS with the controller at ${fake.address} failed`);
    expect(stderr).toContain(`the CA file ${fake.otherCaFile} (from --ca-file)`);
    // The token was never sent: the handshake failed before any call.
    expect(fake.calls).toHaveLength(0);
  });

  it('Precondition: a certificate that does not name the address is refused', async () => {
    // The server certificate names 127.0.0.1 and localhost only.
    const port = fake.address.split(':')[1] ?? '';
    const ok = await run(ADMIN_TOKEN, ['status'], { controller: `localhost:${port}` });
    expect(ok.code).toBe(0);
    // `127.1` reaches the same socket, but is a name the certificate does not carry.
    const stderr = expectOneLineFailure(await run(ADMIN_TOKEN, ['status'], { controller: `127.1:${port}` }), EXIT.unavailable);
    expect(stderr).toContain(`TLS with the controller at 127.1:${port} failed`);
    expect(stderr).toContain('does not match');
    expect(fake.calls.map((c) => c.method)).toEqual(['getHealth']);
  });

  it('a missing or non-PEM CA file is a settings error (exit 2) naming the file', async () => {
    const missing = expectOneLineFailure(await run(ADMIN_TOKEN, ['status'], { caFile: `${fake.dir}/none.pem` }), EXIT.usage, ADMIN_TOKEN);
    expect(missing).toContain(`cannot read the CA file ${fake.dir}/none.pem (from --ca-file): ENOENT`);
    const notPem = expectOneLineFailure(await run(ADMIN_TOKEN, ['status'], { caFile: fake.dir }), EXIT.usage);
    expect(notPem).toContain('is not a PEM file');
  });

  it('Precondition: no token used by this run reaches stderr, whatever put it in a message', async () => {
    const port = await closedPort();
    const envToken = 'fkop_env_1234567890abcdef1234567890abcdef';
    for (const argv of [
      ['--controller', `127.0.0.1:${port}`, '--ca-file', fake.caFile, 'status'],
      ['--controller', fake.address, '--ca-file', fake.otherCaFile, 'status'],
      ['--controller', fake.address, '--ca-file', fake.caFile, 'devices', 'show', 'nope', '--fleet', 'acme'],
      ['--controller', 'not an address', '--ca-file', fake.caFile, 'status'],
    ]) {
      const result = await runFleetctl(argv, { env: { HOME: fake.dir, FLEETKEY_TOKEN: envToken } });
      expect(result.code).not.toBe(0);
      expect(result.stderr).not.toContain(envToken);
      expect(result.stderr).not.toContain(envToken.slice(0, 20));
    }
  });
});

describe('describeFailure', () => {
  const settings: ConnectionSettings = {
    controller: 'ctl.example:8443',
    caFile: '/etc/fleetkey/ca.pem',
    token: 'secret-token',
    controllerSource: 'FLEETKEY_CONTROLLER',
    caFileSource: 'the config file /x',
    tokenSource: 'FLEETKEY_TOKEN',
  };

  it.each([
    [Status.UNAUTHENTICATED, EXIT.unauthenticated],
    [Status.PERMISSION_DENIED, EXIT.permissionDenied],
    [Status.NOT_FOUND, EXIT.notFound],
    [Status.ALREADY_EXISTS, EXIT.conflict],
    [Status.FAILED_PRECONDITION, EXIT.conflict],
    [Status.INVALID_ARGUMENT, EXIT.usage],
    [Status.UNAVAILABLE, EXIT.unavailable],
    [Status.DEADLINE_EXCEEDED, EXIT.unavailable],
    [Status.UNIMPLEMENTED, EXIT.failure],
    [Status.INTERNAL, EXIT.failure],
  ])('maps gRPC status %i to exit code %i', (status, exitCode) => {
    expect(describeFailure(new RpcError('details', { status }), { settings, timeoutSeconds: 10 }).exitCode).toBe(exitCode);
  });

  it('says how long it waited when the deadline passed', () => {
    expect(describeFailure(new RpcError('Deadline exceeded', { status: Status.DEADLINE_EXCEEDED }), { settings, timeoutSeconds: 2.5 }).message).toBe(
      'the controller at ctl.example:8443 did not answer within 2.5 s; try a longer --timeout',
    );
  });

  it('tells a dependency outage of a live controller from an unreachable one', () => {
    const remote = describeFailure(new RpcError('kms:aws unavailable', { status: Status.UNAVAILABLE, remoteCode: 'PROVIDER_UNAVAILABLE' }), { settings });
    expect(remote.message).toBe('the controller at ctl.example:8443 is unavailable: kms:aws unavailable');
  });

  it('Precondition: control characters in server text never reach the terminal', () => {
    const hostile = describeFailure(new RpcError('bad\u001b]0;pwned\u0007\u001b[2Jname\nsecond line', { status: Status.NOT_FOUND }));
    // eslint-disable-next-line no-control-regex
    expect(hostile.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(hostile.message).toContain('pwned');
  });

  it('maps local settings errors to usage and anything else to failure', () => {
    expect(describeFailure(new SettingsInvalid('no CA file')).exitCode).toBe(EXIT.usage);
    expect(describeFailure(new TypeError('boom'))).toEqual({ message: 'unexpected error: boom', exitCode: EXIT.failure });
  });
});
