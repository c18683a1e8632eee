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

export interface FleetPowerDeps {
  readonly core: ControllerCore;
  readonly events: FleetEvents;
  readonly publisher: FleetPublisher;
  readonly logger: Logger;
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
  return powers;
}
