/**
 * The rpcs that arrive with issue 6 (rotation, revocation, lockdown, backups). They are served
 * already so the contract is complete: each authenticates, checks roles and the named fleet like
 * any other rpc (refusals are audited), and only then answers NOT_IMPLEMENTED — so a caller
 * without the right learns nothing more than PERMISSION_DENIED.
 *
 * Trust boundary: runs behind ./guard.ts; request bodies are not read beyond the fleet they name.
 */
import { NotImplemented } from '@fleetkey/key-types';
import type { OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { RPC_POLICIES, type OperatorRpc, type RpcHandlers } from './policy.js';
import { requiredIdentifier } from './requests.js';

type PendingRpc =
  | 'revokeDevice'
  | 'rotateKeys'
  | 'lockdown'
  | 'requestLift'
  | 'approveLift'
  | 'listLiftRequests'
  | 'getLockdownStatus'
  | 'createBackup'
  | 'verifyBackup'
  | 'requestDestroyEpoch'
  | 'requestDeleteFleet';

const refuse = (rpc: OperatorRpc) => async (): Promise<never> => {
  throw new NotImplemented(`${RPC_POLICIES[rpc].name} arrives with rotation, revocation, lockdown and backups (issue 6)`);
};

/** A response stream whose first read runs `outcome` (which rejects), ending the call with its status. */
function refusedStream<T>(outcome: () => Promise<never>): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => ({ next: outcome }) };
}

export function pendingRpcs(_deps: OperatorServiceDeps, guard: Guard): RpcHandlers<PendingRpc> {
  const fleet = (value: string | undefined) => () => requiredIdentifier('fleet', 'fleet', value ?? '');

  return {
    revokeDevice: (request, context) => guard.run('revokeDevice', context, fleet(request.fleet), refuse('revokeDevice')),
    rotateKeys: (request, context) => guard.run('rotateKeys', context, fleet(request.fleet), refuse('rotateKeys')),
    lockdown: (request, context) => guard.run('lockdown', context, fleet(request.scope?.fleet), refuse('lockdown')),
    requestLift: (request, context) => guard.run('requestLift', context, fleet(request.scope?.fleet), refuse('requestLift')),
    approveLift: (request, context) => guard.run('approveLift', context, fleet(request.fleet), refuse('approveLift')),
    listLiftRequests: (request, context) => guard.run('listLiftRequests', context, fleet(request.fleet), refuse('listLiftRequests')),
    getLockdownStatus: (request, context) => guard.run('getLockdownStatus', context, fleet(request.fleet), refuse('getLockdownStatus')),
    createBackup: (_request, context) => refusedStream(() => guard.run('createBackup', context, () => undefined, refuse('createBackup'))),
    verifyBackup: (_requests, context) => guard.run('verifyBackup', context, () => undefined, refuse('verifyBackup')),
    requestDestroyEpoch: (request, context) => guard.run('requestDestroyEpoch', context, fleet(request.fleet), refuse('requestDestroyEpoch')),
    requestDeleteFleet: (request, context) => guard.run('requestDeleteFleet', context, fleet(request.fleet), refuse('requestDeleteFleet')),
  };
}
