/**
 * The OperatorService rpcs of this power: RevokeDevice, Lockdown, RequestLift, ApproveLift,
 * ListLiftRequests and GetLockdownStatus, each replacing its NOT_IMPLEMENTED answer.
 *
 * Trust boundary: every handler runs inside ./../operator/guard.ts (credential, role, and the fleet
 * the request names against the caller's scope; refusals audited) before it parses the rest of the
 * request. A request id of another fleet is looked up only in the fleet named, so it is NOT_FOUND.
 */
import type { Guard } from '../operator/guard.js';
import { deviceToProto, fleetEpochRef } from '../operator/mapping.js';
import type { PageKind } from '../operator/paging.js';
import { takePage } from '../operator/paging.js';
import type { RpcHandlers } from '../operator/policy.js';
import { requiredHandle, requiredIdentifier, requireFleetExists } from '../operator/requests.js';
import type { CommandIssuerDeps } from './issue-command.js';
import { approveLift, lockDown, requestLift } from './lockdown.js';
import { activeDevicesOf, lockdownAcknowledgements, lockdownsInForce } from './lockdown-state.js';
import { effectiveLiftState, liftRequestToProto, liftStateFilterFromProto, lockdownToProto } from './mapping.js';
import { revokeDevice, type RevocationRotation } from './revocation.js';
import { scopeFromProto } from './scope.js';

/** GetLockdownStatusResponse: at most 1000 lockdowns and 1000 pending lift requests. */
export const MAX_STATUS_ITEMS = 1000;
// Page tokens of ListLiftRequests. PageKind (../operator/paging.ts) does not list it yet; the
// token format is the shared one, and a token of another list is still refused (kind mismatch).
const LIFT_REQUESTS_PAGE: PageKind = 'lift-requests';

const SCOPE_RANK = Object.freeze({ fleet: 0, group: 1, device: 2 });

export type CommandOperatorRpc = 'revokeDevice' | 'lockdown' | 'requestLift' | 'approveLift' | 'listLiftRequests' | 'getLockdownStatus';

export function commandOperatorRpcs(deps: CommandIssuerDeps, rotate: RevocationRotation | undefined): (guard: Guard) => RpcHandlers<CommandOperatorRpc> {
  const { core } = deps;
  const repository = core.repository;
  const fleetField = (value: string) => () => requiredIdentifier('fleet', 'fleet', value);

  return (guard) => ({
    revokeDevice: (request, context) =>
      guard.run('revokeDevice', context, fleetField(request.fleet), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const deviceId = requiredIdentifier('device_id', 'device', request.deviceId);
        const outcome = await revokeDevice(deps, { fleetId, deviceId, reason: request.reason, wipe: request.wipe, actor: caller.id }, rotate);
        return {
          device: deviceToProto(outcome.device),
          revocationListSequence: BigInt(outcome.revocationListSequence),
          commandSequence: BigInt(outcome.command.sequence),
          ...(outcome.newEpochVersion === undefined ? {} : { newEpoch: fleetEpochRef(fleetId, outcome.newEpochVersion) }),
        };
      }),

    lockdown: (request, context) =>
      guard.run('lockdown', context, () => scopeFromProto(request.scope).fleetId, async (caller) => {
        const { fleetId, scope } = scopeFromProto(request.scope);
        const command = await lockDown(deps, caller, { fleetId, scope, reason: request.reason, wipe: request.wipe });
        return { lockdown: lockdownToProto(command, await lockdownAcknowledgements(repository, command)) };
      }),

    requestLift: (request, context) =>
      guard.run('requestLift', context, () => scopeFromProto(request.scope).fleetId, async (caller) => {
        const { fleetId, scope } = scopeFromProto(request.scope);
        const liftRequest = await requestLift(deps, caller, { fleetId, scope, reason: request.reason });
        return { liftRequest: liftRequestToProto(liftRequest, core.clock()) };
      }),

    approveLift: (request, context) =>
      guard.run('approveLift', context, fleetField(request.fleet), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const liftRequestId = requiredHandle('lift_request_id', request.liftRequestId);
        const liftRequest = await approveLift(deps, caller, { fleetId, liftRequestId });
        return { liftRequest: liftRequestToProto(liftRequest, core.clock()) };
      }),

    listLiftRequests: (request, context) =>
      guard.run('listLiftRequests', context, fleetField(request.fleet), async () => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const state = liftStateFilterFromProto(request.state);
        await requireFleetExists(repository, fleetId);
        const now = core.clock();
        const requests = (await repository.listLiftRequests(fleetId)).filter((item) => state === undefined || effectiveLiftState(item, now) === state);
        const page = takePage(requests, request, LIFT_REQUESTS_PAGE, ['integer', 'string'], (item) => [item.requestedAt, item.id]);
        return { liftRequests: page.items.map((item) => liftRequestToProto(item, now)), nextPageToken: page.nextPageToken };
      }),

    getLockdownStatus: (request, context) =>
      guard.run('getLockdownStatus', context, fleetField(request.fleet), async () => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        await requireFleetExists(repository, fleetId);
        // Past the response bound, the widest scopes are the ones an operator must not miss.
        const inForce = (await lockdownsInForce(repository, fleetId)).sort((a, b) => SCOPE_RANK[a.scope.kind] - SCOPE_RANK[b.scope.kind] || a.sequence - b.sequence).slice(0, MAX_STATUS_ITEMS);
        const devices = await activeDevicesOf(repository, fleetId);
        const lockdowns = [];
        for (const command of inForce) lockdowns.push(lockdownToProto(command, await lockdownAcknowledgements(repository, command, devices)));
        const now = core.clock();
        const pending = (await repository.listLiftRequests(fleetId, { state: 'pending' })).filter((item) => effectiveLiftState(item, now) === 'pending').slice(0, MAX_STATUS_ITEMS);
        return { lockdowns, pendingLiftRequests: pending.map((item) => liftRequestToProto(item, now)) };
      }),
  });
}
