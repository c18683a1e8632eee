/**
 * OperatorService.RotateKeys over a real gRPC server on 127.0.0.1:0, served by the operator API
 * with the rotation extension and the real core (local KMS, SQLite): roles, fleet scope, the
 * answer, refusals and their audit records.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { ServerCredentials, credentials, status } from '@grpc/grpc-js';
import { KeyState, OperatorService, RpcError, addService, bindServer, closeClient, createClient, createServer, shutdownServer, type ServiceClient } from '@fleetkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '@grpc/grpc-js';
import { createFleetAdministration } from '../fleets/administration.js';
import { createOperatorService } from '../operator/operator-service.js';
import { RPC_POLICIES } from '../operator/policy.js';
import { generateToken, hashToken, type OperatorRole } from '../store/index.js';
import { rotationRpcs } from './rpc.js';
import { startRotationHarness, type RotationHarness } from './testing.js';

let h: RotationHarness;
let server: Server;
let client: ServiceClient<typeof OperatorService>;
const tokens: Partial<Record<string, string>> = {};

async function operator(name: string, role: OperatorRole, fleetIds: readonly string[] = []): Promise<void> {
  const token = generateToken('operator');
  await h.repository.createOperator({ name, role, fleetScope: fleetIds.length === 0 ? { kind: 'all' } : { kind: 'fleets', fleetIds }, tokenHash: hashToken(token) });
  tokens[name] = token;
}

const as = (name: string) => ({ metadata: { authorization: `Bearer ${tokens[name]}` } });

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error.status;
    throw error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  h = await startRotationHarness();
  await h.repository.createFleet({ id: 'other', name: 'other' });
  await h.repository.createGroup({ fleetId: h.fleet, id: 'line-a', name: 'A' });
  await operator('alice', 'operator', ['acme']);
  await operator('root', 'admin');
  await operator('audrey', 'auditor');
  await operator('bob', 'operator', ['other']);
  server = createServer();
  addService(
    server,
    OperatorService,
    createOperatorService({
      repository: h.repository,
      clock: h.clock,
      fleets: createFleetAdministration(h.core, () => undefined),
      auditPublicKeys: () => undefined,
      health: async () => [],
      version: 'test',
      extensions: [(guard) => rotationRpcs(h.core, guard)],
    }),
  );
  const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createInsecure());
  client = createClient(OperatorService, `127.0.0.1:${port}`, credentials.createInsecure());
});
afterAll(async () => {
  closeClient(client);
  await shutdownServer(server, 1000);
  await h.close();
});

describe('RotateKeys', () => {
  it('starts a rotation for an operator of the fleet and answers new epoch, PENDING and the activation deadline', async () => {
    const response = await client.rotateKeys({ fleet: 'acme', reason: 'monthly drill' }, as('alice'));
    expect(response.newEpoch).toMatchObject({ keyId: 'communication/acme/fleet', version: 2 });
    expect(response.state).toBe(KeyState.PENDING);
    expect(timestampMs(response.activationDeadline!)).toBe(h.clock() + 3_600_000);
    const record = (await h.repository.audit.listRecords(0, 1000)).find((r) => r.action === 'rotation.start' && r.result === 'ok');
    expect(record).toMatchObject({ actor: expect.any(String), keyRef: 'communication/acme/fleet@2' });
    expect(JSON.parse(record!.detailsJson).reason).toBe('monthly drill');
  });

  it('rotates a group key when the request names a group', async () => {
    const response = await client.rotateKeys({ fleet: 'acme', group: 'line-a' }, as('root'));
    expect(response.newEpoch).toMatchObject({ keyId: 'communication/acme/line-a', version: 1 });
  });

  it('answers FAILED_PRECONDITION while a rotation is pending', async () => {
    expect(await statusOf(client.rotateKeys({ fleet: 'acme' }, as('root')))).toBe(status.FAILED_PRECONDITION);
  });

  it.each([
    ['an auditor', 'audrey', 'acme', status.PERMISSION_DENIED],
    ['an operator of another fleet', 'bob', 'acme', status.PERMISSION_DENIED],
  ])('refuses %s with PERMISSION_DENIED, audited', async (_name, who, fleet, expected) => {
    const denials = async () => (await h.repository.audit.listRecords(0, 1000)).filter((r) => r.action === RPC_POLICIES.rotateKeys.deniedAction && r.result === 'denied' && r.errorCode === 'PERMISSION_DENIED').length;
    const before = { kms: h.kmsCalls('generateDataKey'), denials: await denials() };
    expect(await statusOf(client.rotateKeys({ fleet }, as(who)))).toBe(expected);
    expect(h.kmsCalls('generateDataKey')).toBe(before.kms);
    expect(await denials()).toBe(before.denials + 1);
  });

  it('refuses an anonymous caller with UNAUTHENTICATED, an unknown group with NOT_FOUND and a missing fleet with INVALID_ARGUMENT', async () => {
    expect(await statusOf(client.rotateKeys({ fleet: 'acme' }))).toBe(status.UNAUTHENTICATED);
    expect(await statusOf(client.rotateKeys({ fleet: 'acme', group: 'line-z' }, as('root')))).toBe(status.NOT_FOUND);
    expect(await statusOf(client.rotateKeys({ fleet: '' }, as('root')))).toBe(status.INVALID_ARGUMENT);
  });
});
