/**
 * Test harness of the operator API specs (not exported from ./index.ts): a real SQLite repository
 * in a temp dir, the service served by a real grpc-js server on 127.0.0.1:0 (insecure credentials:
 * TLS is the transport layer's job and is tested end to end by the composition root), a real
 * typed client, and real X.509 device certificates from @fleetkey/crypto.
 *
 * `fleets` is a small FleetAdministration that records the fleet and its 'fleet.create' audit
 * record through the repository, with no KMS. That is fine here: the operator API only delegates
 * to the port and maps what comes back; making the KMS keys, CA and first epoch is the lead's
 * src/fleets/ implementation and is tested there.
 *
 * Trust boundary: test code only; keys and credentials here are throwaway.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, ServerCredentials, type Server } from '@grpc/grpc-js';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueDeviceCertificate, type Signer } from '@fleetkey/crypto';
import { addService, bindServer, closeClient, createClient, createServer, OperatorService, RpcError, shutdownServer, type CallOptions, type ServiceClient } from '@fleetkey/protocol';
import { manualClock, type ManualClock } from '../store/testing.js';
import {
  generateToken,
  hashToken,
  openSqliteRepository,
  type AuditRecord,
  type Device,
  type OperatorFleetScope,
  type OperatorRole,
  type Repository,
} from '../store/index.js';
import type { ComponentHealthReport, FleetAdministration, FleetDescription, OperatorServiceDeps } from './deps.js';
import { createOperatorService } from './operator-service.js';

const DAY_MS = 86_400_000;

export interface TestOperator {
  readonly id: string;
  readonly credential: string;
}

export interface Harness {
  readonly dir: string;
  /** The SQLite file (WAL mode: recent writes also sit in `${path}-wal`). */
  readonly path: string;
  readonly repository: Repository;
  readonly clock: ManualClock;
  readonly client: ServiceClient<typeof OperatorService>;
  /** An all-fleets admin made the way `fleet-controller init` makes the first one. */
  readonly admin: TestOperator;
  /** Signs audit heads; its public key is the only trusted one. */
  readonly auditSigner: Signer;
  /** Errors the adapter saw that were not FleetkeyErrors (each one a bug). */
  readonly unexpected: unknown[];
  /** What `deps.health()` answers; tests change it. */
  health: ComponentHealthReport[];
  leader: boolean;
  /** Call options carrying `authorization: Bearer <credential>`. */
  as(operator: TestOperator | string): CallOptions;
  /** Makes an operator directly in the store (bypassing the API under test). */
  makeOperator(role: OperatorRole, fleets?: readonly string[]): Promise<TestOperator>;
  /** Records a fleet (through the in-test FleetAdministration). */
  makeFleet(fleetId: string): Promise<void>;
  makeGroup(fleetId: string, groupId: string): Promise<void>;
  /** Enrolls a device with a real certificate issued by the fleet's test CA. */
  makeDevice(fleetId: string, deviceId: string, options?: { groupId?: string; serial?: string }): Promise<Device>;
  /** Every audit record, in order. */
  auditRecords(): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

/** Resolves to the RpcError a call failed with; fails the test when it succeeded. */
export async function rpcFailure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

export async function startHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'fk-operator-'));
  const path = join(dir, 'state.db');
  const clock = manualClock();
  const repository = await openSqliteRepository({ path, clock });
  const cas = new Map<string, { signer: Signer; pem: string }>();
  const auditPair = await generateKeyPair('ECDSA_P256');
  const auditSigner = createLocalSigner(auditPair.privateKey, { keyId: 'audit-head-key' });
  const trustedKeys = new Map<string, KeyObject>([[auditSigner.keyId, auditPair.publicKey]]);

  const fleets: FleetAdministration = {
    async createFleet(params, actor) {
      return repository.transaction(async (tx) => {
        const fleet = await tx.createFleet({ id: params.fleetId, name: params.displayName });
        await tx.audit.append({ actor, action: 'fleet.create', fleetId: fleet.id, result: 'ok', details: { kms: params.kmsProvider ?? 'local' } });
        return fleet;
      });
    },
    async describeFleet(fleetId): Promise<FleetDescription | undefined> {
      if ((await repository.getFleet(fleetId)) === undefined) return undefined;
      const active = await repository.listEpochs(fleetId, { groupId: null, states: ['active'] });
      return { kmsProvider: 'local', caAlgorithm: 'ECDSA_P256', emergencyAlgorithm: 'RSA_2048', activeEpochVersion: active.at(-1)?.version ?? null };
    },
  };

  const harness = {
    dir,
    path,
    repository,
    clock,
    auditSigner,
    unexpected: [] as unknown[],
    health: [{ name: 'store', healthy: true, detail: '' }] as ComponentHealthReport[],
    leader: true,
  } as Harness & { client: ServiceClient<typeof OperatorService>; admin: TestOperator };

  const deps: OperatorServiceDeps = {
    repository,
    clock,
    fleets,
    auditPublicKeys: (keyId) => trustedKeys.get(keyId),
    health: async () => harness.health,
    version: '0.1.0-test',
    isLeader: () => harness.leader,
  };

  const server: Server = createServer();
  addService(server, OperatorService, createOperatorService(deps), { onUnexpectedError: (error) => harness.unexpected.push(error) });
  const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createInsecure());
  const client = createClient(OperatorService, `127.0.0.1:${port}`, credentials.createInsecure());

  const makeOperator = async (role: OperatorRole, fleetIds: readonly string[] = []): Promise<TestOperator> => {
    const credential = generateToken('operator');
    const fleetScope: OperatorFleetScope = fleetIds.length === 0 ? { kind: 'all' } : { kind: 'fleets', fleetIds };
    const operator = await repository.createOperator({ name: `${role} ${fleetIds.join(',') || 'all'}`, role, fleetScope, tokenHash: hashToken(credential) });
    return { id: operator.id, credential };
  };

  Object.assign(harness, {
    client,
    admin: await makeOperator('admin'),
    as: (operator: TestOperator | string): CallOptions => ({
      metadata: { authorization: `Bearer ${typeof operator === 'string' ? operator : operator.credential}` },
    }),
    makeOperator,
    async makeFleet(fleetId: string) {
      await fleets.createFleet({ fleetId, displayName: `Fleet ${fleetId}` }, 'system');
    },
    async makeGroup(fleetId: string, groupId: string) {
      await repository.createGroup({ fleetId, id: groupId, name: `Group ${groupId}` });
    },
    async makeDevice(fleetId: string, deviceId: string, options: { groupId?: string; serial?: string } = {}) {
      let ca = cas.get(fleetId);
      if (ca === undefined) {
        const signer = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey);
        const now = new Date(clock());
        const certificate = await createCaCertificate({ signer, fleet: fleetId, commonName: `${fleetId} CA`, notBefore: now, notAfter: new Date(clock() + 3650 * DAY_MS) });
        ca = { signer, pem: certificate.pem };
        cas.set(fleetId, ca);
      }
      const device = await generateKeyPair('ECDSA_P256');
      const issued = await issueDeviceCertificate({
        issuerSigner: ca.signer,
        issuerCertificate: ca.pem,
        publicKey: device.publicKey,
        fleet: fleetId,
        deviceId,
        notBefore: new Date(clock()),
        notAfter: new Date(clock() + 365 * DAY_MS),
      });
      return repository.createDevice({
        fleetId,
        deviceId,
        groupId: options.groupId ?? null,
        serial: options.serial ?? `SN-${deviceId}`,
        certificateDer: issued.der,
        certificateSerial: issued.serialNumber,
        keyAlgorithm: 'ECDSA_P256',
      });
    },
    async auditRecords() {
      const out: AuditRecord[] = [];
      for (;;) {
        const page = await repository.audit.listRecords(out.at(-1)?.sequence ?? 0, 1000);
        out.push(...page);
        if (page.length < 1000) return out;
      }
    },
    async close() {
      closeClient(client);
      await shutdownServer(server, 1_000);
      await repository.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
  return harness;
}
