/**
 * OperatorService.RotateKeys (roles admin, operator): starts a two-phase rotation of the fleet key
 * or a group's key now and answers with the new epoch, its state (pending) and its activation
 * deadline. Bundles are published after the answer; the rotation itself is committed before it.
 *
 * Trust boundary: runs behind the operator guard (authenticated caller, role and fleet scope
 * checked, refusals audited); the request's group and reason are validated before any KMS call.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { KeyRefSchema, RotateKeysResponseSchema, keyStateToProto } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import type { Guard } from '../operator/guard.js';
import type { RpcHandlers } from '../operator/policy.js';
import { optionalIdentifier, requiredIdentifier } from '../operator/requests.js';
import { rotateNow } from './rotate.js';

export function rotationRpcs(core: ControllerCore, guard: Guard): RpcHandlers<'rotateKeys'> {
  return {
    rotateKeys: (request, context) =>
      guard.run(
        'rotateKeys',
        context,
        () => requiredIdentifier('fleet', 'fleet', request.fleet),
        async (caller) => {
          const started = await rotateNow(core, {
            fleetId: request.fleet,
            groupId: optionalIdentifier('group', request.group) ?? null,
            actor: caller.id,
            reason: request.reason,
          });
          return create(RotateKeysResponseSchema, {
            newEpoch: create(KeyRefSchema, { keyId: started.keyId, version: started.version }),
            state: keyStateToProto(started.state),
            activationDeadline: timestampFromMs(started.activationDeadline),
          });
        },
      ),
  };
}
