/**
 * The controller's fleet-wide powers — rotation, revocation and lockdown, backups — plugged into
 * the running controller in one place. Each power is built from the same dependencies and may add
 * OperatorService rpcs (on the operator API's guard), DeviceService rpcs (replacing their
 * NOT_IMPLEMENTED answers), and background work started once every listener is bound and stopped
 * before the transports close.
 *
 * Trust boundary: composition only; each power module states its own.
 */
import type { DeviceService, ServiceHandlers } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import type { FleetEvents, FleetPublisher } from '../fleet-events/index.js';
import type { Guard } from '../operator/guard.js';
import type { OperatorRpc, RpcHandlers } from '../operator/policy.js';
import type { Logger } from '../runtime/logger.js';
import type { SecondaryKmsSettings } from '../backup/index.js';
import type { DataDirPaths } from '../datadir/layout.js';
import { createRotationPower } from '../rotation/index.js';
import { createCommandsPower } from '../commands/index.js';
import { createBackupPower } from '../backup/index.js';
import { createDestructivePower } from '../destructive/index.js';

export interface FleetPowerDeps {
  readonly core: ControllerCore;
  readonly events: FleetEvents;
  readonly publisher: FleetPublisher;
  readonly logger: Logger;
  /** The data directory being served (backups read its public files). */
  readonly dataDir?: DataDirPaths;
  /** The secondary KMS that backups also wrap every key with (serve --secondary-kms). */
  readonly secondaryKms?: SecondaryKmsSettings;
}

export interface FleetPower {
  /** OperatorService handlers this power adds (built on the operator API's guard). */
  readonly operatorRpcs?: (guard: Guard) => Partial<RpcHandlers<OperatorRpc>>;
  /** DeviceService handlers this power provides. */
  readonly deviceRpcs?: Partial<ServiceHandlers<typeof DeviceService>>;
  /** Starts background work (schedulers, broker subscriptions) once every listener is bound. */
  start?(): Promise<void>;
  /** Stops it; runs before the transports close. */
  stop?(): Promise<void>;
}

/** Every power of this build, in the order they start (and the reverse order they stop). */
export async function createFleetPowers(_deps: FleetPowerDeps): Promise<FleetPower[]> {
  const powers: FleetPower[] = [];
  // Each power adds itself here with one line: powers.push(await createXxxPower(_deps));
  powers.push(await createRotationPower(_deps));
  powers.push(await createCommandsPower(_deps));
  powers.push(await createBackupPower(_deps));
  powers.push(await createDestructivePower(_deps)); // after the commands power: serves ApproveLift for every kind
  return powers;
}
