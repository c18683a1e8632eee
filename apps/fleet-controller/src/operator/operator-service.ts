/**
 * The controller's OperatorService (proto/fleetkey/v1/operator.proto): every rpc, composed from
 * one module per resource. Serve it with `addService(server, OperatorService, createOperatorService(deps))`
 * over TLS (the transport is the composition root's job).
 *
 * Trust boundary: the operator-facing edge of the controller. Every rpc passes ./guard.ts
 * (credential, role, fleet scope; refusals audited) before it reads or changes anything, and every
 * state change is audited in the same transaction as the change.
 */
import type { OperatorService, ServiceHandlers } from '@fleetkey/protocol';
import { auditRpcs } from './audit-rpcs.js';
import type { OperatorServiceDeps } from './deps.js';
import { deviceRpcs } from './device-rpcs.js';
import { enrollmentTokenRpcs } from './enrollment-token-rpcs.js';
import { fleetRpcs } from './fleet-rpcs.js';
import { createGuard } from './guard.js';
import { healthRpc } from './health-rpc.js';
import { operatorRpcs } from './operator-rpcs.js';
import { pendingRpcs } from './pending-rpcs.js';
import type { RpcHandlers } from './policy.js';

/** Handlers for every OperatorService rpc. */
export function createOperatorService(deps: OperatorServiceDeps): ServiceHandlers<typeof OperatorService> {
  const guard = createGuard(deps.repository);
  const handlers: RpcHandlers<keyof (typeof OperatorService)['method']> = {
    ...fleetRpcs(deps, guard),
    ...operatorRpcs(deps, guard),
    ...enrollmentTokenRpcs(deps, guard),
    ...deviceRpcs(deps, guard),
    ...auditRpcs(deps, guard),
    ...healthRpc(deps, guard),
    ...pendingRpcs(deps, guard),
  };
  for (const extension of deps.extensions ?? []) Object.assign(handlers, extension(guard));
  return Object.freeze(handlers);
}
