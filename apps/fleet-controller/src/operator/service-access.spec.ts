/**
 * Who gets in, over real gRPC: missing / malformed / unknown / revoked credentials, every rpc ×
 * every role against the roles operator.proto states, and fleet scoping (a fleet-A operator can
 * neither see nor touch fleet B). Every refusal must leave a 'denied' audit record.
 */
import { readFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateToken, OPERATOR_ROLES, type OperatorRole } from '../store/index.js';
import { RPC_POLICIES, type OperatorRpc } from './policy.js';
import { rpcFailure, startHarness, type Harness, type TestOperator } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.makeFleet('alpha');
  await h.makeFleet('bravo');
  await h.makeDevice('alpha', 'robot-a1');
  await h.makeDevice('bravo', 'robot-b1');
});
afterEach(async () => {
  expect(h.unexpected).toEqual([]);
  await h.close();
});

/** Calls `rpc` as `caller` with a request that is valid for an admin; resolves the gRPC status (0 = OK). */
async function callStatus(rpc: OperatorRpc, caller: TestOperator | string, fleet = 'alpha'): Promise<number> {
  const c = h.client;
  const o = h.as(caller);
  const fresh = `n${Math.random().toString(36).slice(2, 10)}`;
  const calls: Record<OperatorRpc, () => Promise<unknown>> = {
    createFleet: () => c.createFleet({ fleet: fresh }, o),
    listFleets: () => c.listFleets({}, o),
    createOperator: () => c.createOperator({ displayName: 'new one', role: 2, fleets: [fleet] }, o),
    listOperators: () => c.listOperators({}, o),
    revokeOperator: async () => c.revokeOperator({ operatorId: (await h.makeOperator('factory', [fleet])).id }, o),
    createEnrollmentToken: () => c.createEnrollmentToken({ fleet }, o),
    listEnrollmentTokens: () => c.listEnrollmentTokens({ fleet }, o),
    revokeEnrollmentToken: async () => {
      const minted = await c.createEnrollmentToken({ fleet }, h.as(h.admin));
      return c.revokeEnrollmentToken({ fleet, tokenId: minted.tokens[0]?.info?.tokenId ?? '' }, o);
    },
    listDevices: () => c.listDevices({ fleet }, o),
    getDevice: () => c.getDevice({ fleet, deviceId: fleet === 'alpha' ? 'robot-a1' : 'robot-b1' }, o),
    revokeDevice: () => c.revokeDevice({ fleet, deviceId: 'robot-a1', reason: 'lost' }, o),
    rotateKeys: () => c.rotateKeys({ fleet }, o),
    lockdown: () => c.lockdown({ scope: { fleet }, reason: 'drill' }, o),
    requestLift: () => c.requestLift({ scope: { fleet }, reason: 'drill over' }, o),
    approveLift: () => c.approveLift({ fleet, liftRequestId: 'lift-1' }, o),
    listLiftRequests: () => c.listLiftRequests({ fleet }, o),
    getLockdownStatus: () => c.getLockdownStatus({ fleet }, o),
    requestDestroyEpoch: () => c.requestDestroyEpoch({ fleet, version: 1, reason: 'drill' }, o),
    requestDeleteFleet: () => c.requestDeleteFleet({ fleet, reason: 'drill' }, o),
    createBackup: async () => {
      for await (const chunk of c.createBackup({}, o)) void chunk;
    },
    verifyBackup: () => c.verifyBackup(o).finish(),
    listAuditRecords: () => c.listAuditRecords({ fleet }, o),
    verifyAudit: () => c.verifyAudit({ fleet }, o),
    getHealth: () => c.getHealth({}, o),
  };
  try {
    await calls[rpc]();
    return status.OK;
  } catch (error) {
    return (await rpcFailure(Promise.reject(error))).status;
  }
}

const PENDING: readonly OperatorRpc[] = ['revokeDevice', 'rotateKeys', 'lockdown', 'requestLift', 'approveLift', 'listLiftRequests', 'getLockdownStatus', 'createBackup', 'verifyBackup', 'requestDestroyEpoch', 'requestDeleteFleet'];

describe('authentication', () => {
  it('answers UNAUTHENTICATED with one message for a missing, malformed, unknown or revoked bearer, and audits each', async () => {
    const revoked = await h.makeOperator('auditor');
    await h.repository.revokeOperator(revoked.id);
    const attempts: [string, Record<string, string>][] = [
      ['missing', {}],
      ['malformed', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['malformed', { authorization: `Bearer ${generateToken('enrollment')}` }],
      ['malformed', { authorization: 'Bearer fk_op_' }],
      ['unknown', { authorization: `Bearer ${generateToken('operator')}` }],
      ['revoked', { authorization: `Bearer ${revoked.credential}` }],
    ];
    const before = (await h.auditRecords()).length;
    const messages = new Set<string>();
    for (const [, metadata] of attempts) {
      const error = await rpcFailure(h.client.listFleets({}, { metadata }));
      expect(error.status).toBe(status.UNAUTHENTICATED);
      expect(error.code).toBe('UNAUTHENTICATED');
      messages.add(error.message);
    }
    expect(messages.size).toBe(1);

    const records = (await h.auditRecords()).slice(before);
    expect(records.map((r) => [r.actor, r.action, r.result, r.errorCode])).toEqual(attempts.map(() => ['anonymous', 'operator.authenticate', 'denied', 'UNAUTHENTICATED']));
    expect(records.map((r) => JSON.parse(r.detailsJson).cause)).toEqual(attempts.map(([cause]) => cause));
    expect(JSON.parse(records.at(-1)?.detailsJson ?? '{}').operator).toBe(revoked.id);
    // Nothing the callers presented reaches the log.
    const logged = JSON.stringify(records.map((r) => r.detailsJson));
    for (const [, metadata] of attempts) if (metadata['authorization']) expect(logged).not.toContain(metadata['authorization'].slice(7));
  });

  it('checks the credential before anything else: an anonymous bad request is UNAUTHENTICATED, not INVALID_ARGUMENT', async () => {
    const error = await rpcFailure(h.client.listDevices({ fleet: '' }, {}));
    expect(error.status).toBe(status.UNAUTHENTICATED);
  });
});

/**
 * The roles each rpc admits, read from the `Roles: ...` line of its comment in operator.proto —
 * the contract, independent of RPC_POLICIES (which the test checks against it).
 */
function rolesFromProto(): Map<string, OperatorRole[]> {
  const text = readFileSync(new URL('../../../../proto/fleetkey/v1/operator.proto', import.meta.url), 'utf8');
  const service = text.slice(text.indexOf('service OperatorService {'), text.indexOf('\n}', text.indexOf('service OperatorService {')));
  const roles = new Map<string, OperatorRole[]>();
  // Each rpc's comment sits right above it: pair every `Roles:` sentence with the rpc that follows.
  const pattern = /Roles: ([a-z, ]+)\.\s*\n\s*(?:\/\/[^\n]*\n\s*)*rpc (\w+)\(/g;
  for (const match of service.matchAll(pattern)) {
    const listed = (match[1] ?? '').split(',').map((role) => role.trim());
    roles.set(match[2] ?? '', listed[0] === 'any' ? [...OPERATOR_ROLES] : (listed as OperatorRole[]));
  }
  return roles;
}

describe('roles (every rpc × every role)', () => {
  const contract = rolesFromProto();
  const rpcs = Object.keys(RPC_POLICIES) as OperatorRpc[];
  const allowedByContract = (rpc: OperatorRpc): readonly OperatorRole[] => contract.get(RPC_POLICIES[rpc].name) ?? [];
  const table: [OperatorRpc, OperatorRole, boolean][] = rpcs.flatMap((rpc) => OPERATOR_ROLES.map((role) => [rpc, role, allowedByContract(rpc).includes(role)] as [OperatorRpc, OperatorRole, boolean]));

  it('RPC_POLICIES states exactly the roles of operator.proto, for every rpc of the service', () => {
    expect(contract.size).toBe(rpcs.length);
    for (const rpc of rpcs) {
      expect(allowedByContract(rpc).length, RPC_POLICIES[rpc].name).toBeGreaterThan(0);
      expect([...RPC_POLICIES[rpc].roles].sort(), RPC_POLICIES[rpc].name).toEqual([...allowedByContract(rpc)].sort());
    }
  });

  it.each(table)('%s as %s: allowed=%s', async (rpc, role, allowed) => {
    const caller = await h.makeOperator(role);
    const before = (await h.auditRecords()).filter((r) => r.result === 'denied').length;
    const code = await callStatus(rpc, caller);
    const denials = (await h.auditRecords()).filter((r) => r.result === 'denied');
    if (allowed) {
      expect(code).toBe(PENDING.includes(rpc) ? status.UNIMPLEMENTED : status.OK);
      expect(denials.length).toBe(before);
    } else {
      expect(code).toBe(status.PERMISSION_DENIED);
      expect(denials.length).toBe(before + 1);
      const record = denials.at(-1);
      expect([record?.actor, record?.action, record?.errorCode]).toEqual([caller.id, RPC_POLICIES[rpc].deniedAction, 'PERMISSION_DENIED']);
      expect(JSON.parse(record?.detailsJson ?? '{}').rpc).toBe(RPC_POLICIES[rpc].name);
    }
  });
});

describe('fleet scoping', () => {
  const FLEET_RPCS: readonly OperatorRpc[] = [
    'createEnrollmentToken',
    'listEnrollmentTokens',
    'revokeEnrollmentToken',
    'listDevices',
    'getDevice',
    'revokeDevice',
    'rotateKeys',
    'lockdown',
    'requestLift',
    'approveLift',
    'listLiftRequests',
    'getLockdownStatus',
    'requestDestroyEpoch',
    'requestDeleteFleet',
    'listAuditRecords',
    'verifyAudit',
  ];

  it.each(FLEET_RPCS)('Precondition: %s on a fleet outside the caller’s scope is PERMISSION_DENIED (and audited with that fleet)', async (rpc) => {
    const role = RPC_POLICIES[rpc].roles[0] as OperatorRole;
    const caller = await h.makeOperator(role, ['alpha']);
    expect(await callStatus(rpc, caller, 'alpha')).not.toBe(status.PERMISSION_DENIED);
    expect(await callStatus(rpc, caller, 'bravo')).toBe(status.PERMISSION_DENIED);
    const record = (await h.auditRecords()).filter((r) => r.result === 'denied').at(-1);
    expect([record?.actor, record?.fleetId]).toEqual([caller.id, 'bravo']);
  });

  it('lists only the fleets in scope', async () => {
    const scoped = await h.makeOperator('auditor', ['alpha']);
    expect((await h.client.listFleets({}, h.as(scoped))).fleets.map((f) => f.fleet)).toEqual(['alpha']);
    expect((await h.client.listFleets({}, h.as(h.admin))).fleets.map((f) => f.fleet)).toEqual(['alpha', 'bravo']);
  });

  it('Precondition: the controller-wide audit log needs the all-fleets scope; a fleet filter shows only that fleet', async () => {
    const scoped = await h.makeOperator('auditor', ['alpha']);
    expect((await rpcFailure(h.client.listAuditRecords({}, h.as(scoped)))).status).toBe(status.PERMISSION_DENIED);
    await h.client.createEnrollmentToken({ fleet: 'bravo' }, h.as(h.admin));
    await h.client.createEnrollmentToken({ fleet: 'alpha' }, h.as(h.admin));
    const records = (await h.client.listAuditRecords({ fleet: 'alpha' }, h.as(scoped))).records;
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.fleet))).toEqual(new Set(['alpha']));
    const all = (await h.client.listAuditRecords({}, h.as(h.admin))).records;
    expect(new Set(all.map((r) => r.fleet))).toEqual(new Set(['', 'alpha', 'bravo']));
  });

  it('Precondition: CreateFleet needs the all-fleets scope, even for an admin', async () => {
    const scopedAdmin = await h.makeOperator('admin', ['alpha']);
    expect((await rpcFailure(h.client.createFleet({ fleet: 'charlie' }, h.as(scopedAdmin)))).status).toBe(status.PERMISSION_DENIED);
    expect(await h.repository.getFleet('charlie')).toBeUndefined();
  });
});
