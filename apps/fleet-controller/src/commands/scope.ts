/**
 * Whom a command applies to — the fleet, one group of it, or one device of it — in the three forms
 * the controller needs: the store's `CommandScope`, the wire's `Scope` (common.proto), and a short
 * key that names a scope exactly (`fleet`, `group:<id>`, `device:<id>`), which is how lockdowns and
 * lifts are matched (scopes never nest: see ./lockdown-state.ts).
 *
 * Trust boundary: `scopeFromProto` takes operator requests; every id is checked against the
 * identifier grammar before it reaches the store, a topic or a signed command.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { assertIdentifier, InvalidArgument } from '@fleetkey/key-types';
import { ScopeSchema, type Scope } from '@fleetkey/protocol';
import type { CommandScope, Device } from '../store/index.js';

/** A request's scope, validated: the fleet it names and the narrower target, if any. */
export interface RequestedScope {
  readonly fleetId: string;
  readonly scope: CommandScope;
}

/**
 * The fleet and target of a request's `scope` field.
 * @throws InvalidArgument when the scope or its fleet is missing; InvalidIdentifier for a malformed id.
 */
export function scopeFromProto(scope: Scope | undefined): RequestedScope {
  if (scope === undefined || scope.fleet === '') throw new InvalidArgument('"scope.fleet" is required');
  const fleetId = assertIdentifier('fleet', scope.fleet);
  switch (scope.target.case) {
    case 'group':
      return { fleetId, scope: { kind: 'group', groupId: assertIdentifier('group', scope.target.value) } };
    case 'deviceId':
      return { fleetId, scope: { kind: 'device', deviceId: assertIdentifier('device', scope.target.value) } };
    default:
      return { fleetId, scope: { kind: 'fleet' } };
  }
}

/** The wire form of a scope. */
export function scopeToProto(fleetId: string, scope: CommandScope): MessageInitShape<typeof ScopeSchema> {
  switch (scope.kind) {
    case 'fleet':
      return { fleet: fleetId };
    case 'group':
      return { fleet: fleetId, target: { case: 'group', value: scope.groupId } };
    case 'device':
      return { fleet: fleetId, target: { case: 'deviceId', value: scope.deviceId } };
  }
}

/** The same, as a message (for responses that embed it). */
export function scopeMessage(fleetId: string, scope: CommandScope): Scope {
  return create(ScopeSchema, scopeToProto(fleetId, scope));
}

/** `fleet`, `group:<id>` or `device:<id>`: equal exactly when two scopes name the same robots the same way. */
export function scopeKey(scope: CommandScope): string {
  switch (scope.kind) {
    case 'fleet':
      return 'fleet';
    case 'group':
      return `group:${scope.groupId}`;
    case 'device':
      return `device:${scope.deviceId}`;
  }
}

/** For messages and logs: `the fleet`, `group line-1`, `device robot-7`. */
export function describeScope(scope: CommandScope): string {
  switch (scope.kind) {
    case 'fleet':
      return 'the fleet';
    case 'group':
      return `group ${scope.groupId}`;
    case 'device':
      return `device ${scope.deviceId}`;
  }
}

/** Whether a command of this scope concerns the device (its fleet is checked by the caller). */
export function scopeConcerns(scope: CommandScope, device: Pick<Device, 'deviceId' | 'groupId'>): boolean {
  switch (scope.kind) {
    case 'fleet':
      return true;
    case 'group':
      return device.groupId === scope.groupId;
    case 'device':
      return device.deviceId === scope.deviceId;
  }
}
