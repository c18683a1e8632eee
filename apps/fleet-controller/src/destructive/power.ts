/**
 * The destructive-actions power of the controller (issue 6: "any other destructive action goes
 * through the same dual approval"), plugged in by ../serve/fleet-powers.ts AFTER the commands
 * power: RequestDestroyEpoch, RequestDeleteFleet, and ApproveLift / ListLiftRequests for every
 * request kind (./rpcs.ts). No background work.
 *
 * Trust boundary: composition only; each module states its own.
 */
import type { FleetPower, FleetPowerDeps } from '../serve/fleet-powers.js';
import { destructiveOperatorRpcs } from './rpcs.js';

export async function createDestructivePower(deps: FleetPowerDeps): Promise<FleetPower> {
  return { operatorRpcs: destructiveOperatorRpcs(deps) };
}
