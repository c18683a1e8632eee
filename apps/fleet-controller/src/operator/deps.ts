/**
 * What the operator API needs from the rest of the controller, as injected ports: the state
 * store, the clock, fleet lifecycle (which needs the KMS), the trusted audit-head keys and the
 * health probes. The composition root (the lead's `serve`) builds them; tests pass small real
 * implementations.
 *
 * Trust boundary: everything here is trusted configuration. Requests never reach these objects
 * before authentication and authorization (./guard.ts).
 */
import type { KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '@fleetkey/key-types';
import type { Fleet, Millis, Repository } from '../store/index.js';
import type { Guard } from './guard.js';
import type { OperatorRpc, RpcHandlers } from './policy.js';

/** The KMS-side facts of a fleet that the store does not hold. */
export interface FleetDescription {
  readonly kmsProvider: string;
  readonly caAlgorithm: KeyAlgorithm;
  readonly emergencyAlgorithm: KeyAlgorithm;
  /** Version of the active fleet-wide communication epoch; null when none is active. */
  readonly activeEpochVersion: number | null;
}

export interface CreateFleetParams {
  readonly fleetId: string;
  readonly displayName: string;
  /** Undefined: the controller's default provider. */
  readonly kmsProvider?: string;
  /** Undefined: ECDSA_P256. */
  readonly caAlgorithm?: KeyAlgorithm;
  /** Undefined: ECDSA_P256. */
  readonly emergencyAlgorithm?: KeyAlgorithm;
}

/** Fleet lifecycle that needs the KMS (implemented by the lead in src/fleets/). */
export interface FleetAdministration {
  /**
   * Makes the fleet's KMS keys, CA certificate and first epoch, records the fleet and its audit
   * record ('fleet.create', actor).
   * @throws RecordExists, InvalidArgument, KMS errors
   */
  createFleet(params: CreateFleetParams, actor: string): Promise<Fleet>;
  /** Undefined when the fleet is unknown. */
  describeFleet(fleetId: string): Promise<FleetDescription | undefined>;
}

export interface ComponentHealthReport {
  /** e.g. "kms:aws", "store", "broker". */
  readonly name: string;
  readonly healthy: boolean;
  /** Short, non-secret. */
  readonly detail: string;
}

export interface OperatorServiceDeps {
  readonly repository: Repository;
  /** Milliseconds since the Unix epoch; the only time source of the service. */
  readonly clock: () => Millis;
  readonly fleets: FleetAdministration;
  /** Trusted public keys of audit-head signatures, by key id (for VerifyAudit). */
  readonly auditPublicKeys: (keyId: string) => KeyObject | undefined;
  readonly health: () => Promise<readonly ComponentHealthReport[]>;
  /** The controller's version string (max 64 bytes on the wire). */
  readonly version: string;
  /** Whether this replica holds the rotation-scheduler lease; absent means a single replica that does not. */
  readonly isLeader?: () => boolean;
  /**
   * Handlers of the fleet-wide powers (rotation, revocation, lockdown, backups), built by their
   * own modules on the same guard; each one given replaces the NOT_IMPLEMENTED answer.
   */
  readonly extensions?: readonly ((guard: Guard) => Partial<RpcHandlers<OperatorRpc>>)[];
}
