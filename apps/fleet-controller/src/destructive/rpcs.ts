/**
 * The OperatorService rpcs of this power: RequestDestroyEpoch and RequestDeleteFleet, and the two
 * rpcs every two-operator request shares — ApproveLift and ListLiftRequests — which this power
 * serves for every kind: a lift is handed to the commands power's `approveLift` unchanged, a
 * destruction to ./approvals.ts. (Powers are merged in order, so this one, registered after the
 * commands power, serves both rpcs.)
 *
 * Trust boundary: every handler runs inside ../operator/guard.ts (credential, role, the fleet named
 * against the caller's scope; refusals audited) before it parses the rest of the request; the
 * finer checks (admin only, all-fleets scope) are ./approvals.ts's and are audited by the guard too.
 */
import { approveLift, type CommandIssuerDeps } from '../commands/index.js';
import { effectiveLiftState, liftRequestToProto, liftStateFilterFromProto } from '../commands/mapping.js';
import type { Guard } from '../operator/guard.js';
import { truncateUtf8 } from '../operator/mapping.js';
import { takePage, type PageKind } from '../operator/paging.js';
import type { RpcHandlers } from '../operator/policy.js';
import { optionalIdentifier, requiredHandle, requiredIdentifier, requireFleetExists } from '../operator/requests.js';
import { InvalidArgument } from '@fleetkey/key-types';
import type { LiftRequest as PbLiftRequest } from '@fleetkey/protocol';
import type { LiftRequest, Millis } from '../store/index.js';
import { approveDestruction, requestEpochDestruction, requestFleetDeletion } from './approvals.js';
import { approvalKindFilterFromProto, approvalKindToProto, describeTarget } from './targets.js';

/** operator.proto ApproveLiftResponse.notice and LiftRequest.target bounds (bytes). */
const MAX_NOTICE_BYTES = 2048;
const MAX_TARGET_BYTES = 256;
// The shared page-token format of ListLiftRequests (the commands power uses the same kind).
const LIFT_REQUESTS_PAGE: PageKind = 'lift-requests';

export type DestructiveOperatorRpc = 'requestDestroyEpoch' | 'requestDeleteFleet' | 'approveLift' | 'listLiftRequests';

/** A request of any kind as the operator API shows it. */
export function approvalRequestToProto(request: LiftRequest, now: Millis): PbLiftRequest {
  const view = liftRequestToProto(request, now);
  view.kind = approvalKindToProto(request.kind);
  view.target = truncateUtf8(describeTarget(request), MAX_TARGET_BYTES);
  return view;
}

/** @throws InvalidArgument unless 1 ≤ version ≤ 2^31-1. */
function epochVersion(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > 2 ** 31 - 1) throw new InvalidArgument('"version" expected an epoch version (at least 1)');
  return value;
}

export function destructiveOperatorRpcs(deps: CommandIssuerDeps): (guard: Guard) => RpcHandlers<DestructiveOperatorRpc> {
  const { core } = deps;
  const repository = core.repository;
  const fleetField = (value: string) => () => requiredIdentifier('fleet', 'fleet', value);

  return (guard) => ({
    requestDestroyEpoch: (request, context) =>
      guard.run('requestDestroyEpoch', context, fleetField(request.fleet), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const groupId = optionalIdentifier('group', request.group) ?? null;
        const created = await requestEpochDestruction(deps, caller, { fleetId, target: { groupId, version: epochVersion(request.version) }, reason: request.reason });
        return { request: approvalRequestToProto(created, core.clock()) };
      }),

    requestDeleteFleet: (request, context) =>
      guard.run('requestDeleteFleet', context, fleetField(request.fleet), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const created = await requestFleetDeletion(deps, caller, { fleetId, reason: request.reason });
        return { request: approvalRequestToProto(created, core.clock()) };
      }),

    approveLift: (request, context) =>
      guard.run('approveLift', context, fleetField(request.fleet), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const requestId = requiredHandle('lift_request_id', request.liftRequestId);
        const found = await repository.getLiftRequest(fleetId, requestId);
        if (found === undefined || found.kind === 'lift') {
          const lifted = await approveLift(deps, caller, { fleetId, liftRequestId: requestId });
          return { liftRequest: approvalRequestToProto(lifted, core.clock()), notice: '' };
        }
        const outcome = await approveDestruction(deps, caller, { fleetId, requestId });
        return { liftRequest: approvalRequestToProto(outcome.request, core.clock()), notice: truncateUtf8(outcome.notice, MAX_NOTICE_BYTES) };
      }),

    listLiftRequests: (request, context) =>
      guard.run('listLiftRequests', context, fleetField(request.fleet), async () => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const state = liftStateFilterFromProto(request.state);
        const kind = approvalKindFilterFromProto(request.kind);
        await requireFleetExists(repository, fleetId);
        const now = core.clock();
        const requests = (await repository.listLiftRequests(fleetId, { kind: kind ?? 'any' })).filter((item) => state === undefined || effectiveLiftState(item, now) === state);
        const page = takePage(requests, request, LIFT_REQUESTS_PAGE, ['integer', 'string'], (item) => [item.requestedAt, item.id]);
        return { liftRequests: page.items.map((item) => approvalRequestToProto(item, now)), nextPageToken: page.nextPageToken };
      }),
  });
}
