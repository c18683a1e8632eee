/**
 * The rotation power of the running controller (../serve/fleet-powers.ts): the RotateKeys rpc, the
 * bundle distributor that `rotateNow` and the scheduler publish through, and the scheduler, started
 * once every listener is bound and stopped before the transports close.
 *
 * Trust boundary: composition only (see ./rotate.ts, ./advance.ts, ./bundles.ts, ./scheduler.ts).
 */
import type { FleetPower, FleetPowerDeps } from '../serve/fleet-powers.js';
import { BundleDistributor, registerDistributor } from './bundles.js';
import { rotationRpcs } from './rpc.js';
import { RotationScheduler } from './scheduler.js';

export interface RotationPowerOptions {
  /** Overrides the stored `rotation-scheduler` tick (./policy.ts). */
  readonly tickIntervalMs?: number;
}

export async function createRotationPower(deps: FleetPowerDeps, options: RotationPowerOptions = {}): Promise<FleetPower> {
  const logger = deps.logger.child({ component: 'rotation' });
  const distributor = new BundleDistributor({ core: deps.core, publisher: deps.publisher, events: deps.events, logger });
  const unregister = registerDistributor(deps.core, distributor);
  const scheduler = new RotationScheduler({ core: deps.core, logger, distributor, ...(options.tickIntervalMs === undefined ? {} : { tickIntervalMs: options.tickIntervalMs }) });
  return {
    operatorRpcs: (guard) => rotationRpcs(deps.core, guard),
    start: () => scheduler.start(),
    async stop() {
      await scheduler.stop();
      await distributor.stop();
      unregister();
    },
  };
}
