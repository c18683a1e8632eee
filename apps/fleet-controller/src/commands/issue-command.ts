/**
 * Issuing a signed emergency command (DESIGN.md flow 5): take the fleet's next command sequence,
 * build the Command, have the fleet's emergency key in the KMS sign it, store it with its audit
 * record in one transaction, then publish the SignedCommand bytes retained at QoS 1 — on the
 * fleet's emergency topic, or for a device-scoped command on that device's commands topic — and
 * hand it to every open DeviceService.StreamCommands stream (FleetEvents 'command').
 *
 * Expiry (Command.expires_at): robots refuse an expired command, except LOCKDOWN, which fails safe
 * (a robot that comes back late still locks). The TTLs below are chosen per action:
 * - LOCKDOWN 30 days: informational only, robots lock whatever its age.
 * - LIFT 7 days: a robot away longer than a week stays locked when it returns (the safe side); the
 *   operator locks that device again and lifts it with a fresh pair of approvals.
 * - REVOKE 30 days: the revoked robot is also refused by the broker and the controller, and the
 *   epoch it held is rotated out, so a late REVOKE only adds the local wipe.
 * - FETCH_KEYS 1 day: a hint to fetch now; the next rotation pushes keys anyway.
 * - PIN_EMERGENCY_KEY 30 days.
 *
 * Trust boundary: the signature is made by the KMS over the serialized Command exactly as stored
 * and published; nothing re-serializes it afterwards. Publishing or streaming failures never undo
 * a stored command: StreamCommands replays it from the store (the authoritative path).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { assertIdentifier, InvalidArgument, isFleetkeyError, isValidIdentifier } from '@fleetkey/key-types';
import { CommandAction as PbCommandAction, CommandSchema, SignedCommandSchema, deviceCommandsTopic, emergencyTopic, signPayload } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import type { FleetEvents, FleetPublisher } from '../fleet-events/index.js';
import type { Logger } from '../runtime/logger.js';
import type { CommandAction, CommandScope, IssuedCommand, RepositoryTx } from '../store/index.js';
import { withFleetLock } from './fleet-lock.js';
import { scopeKey, scopeToProto } from './scope.js';
import { emergencyPayloadSigner, reasonDetail, requiredReason } from './signing.js';

const DAY_MS = 86_400_000;

/** How long each action's command stays valid (see the module comment for why). */
export const COMMAND_TTL_MS: Readonly<Record<CommandAction, number>> = Object.freeze({
  lockdown: 30 * DAY_MS,
  lift: 7 * DAY_MS,
  revoke: 30 * DAY_MS,
  'fetch-keys': DAY_MS,
  'pin-emergency-key': 30 * DAY_MS,
});
/** No command may claim validity beyond a year. */
export const MAX_COMMAND_TTL_MS = 365 * DAY_MS;

const ACTION_TO_PROTO: Readonly<Record<CommandAction, PbCommandAction>> = Object.freeze({
  lockdown: PbCommandAction.LOCKDOWN,
  lift: PbCommandAction.LIFT,
  revoke: PbCommandAction.REVOKE,
  'fetch-keys': PbCommandAction.FETCH_KEYS,
  'pin-emergency-key': PbCommandAction.PIN_EMERGENCY_KEY,
});

export function commandActionToProto(action: CommandAction): PbCommandAction {
  return ACTION_TO_PROTO[action];
}

/** What issuing needs from the running controller. */
export interface CommandIssuerDeps {
  readonly core: ControllerCore;
  readonly events: FleetEvents;
  readonly publisher: FleetPublisher;
  readonly logger: Logger;
}

export interface IssueCommandInput {
  readonly fleetId: string;
  readonly action: CommandAction;
  readonly scope: CommandScope;
  /** Required; shown on the robots and in audit. */
  readonly reason: string;
  /** Operator id, or 'system'. */
  readonly issuedBy: string;
  readonly wipe?: boolean;
  /** The lift request a LIFT executes. */
  readonly requestId?: string | null;
  /** Default: COMMAND_TTL_MS[action]. */
  readonly ttlMs?: number;
}

export interface IssueCommandHooks {
  /**
   * Runs inside the transaction that stores the command (and its audit record), so a change that
   * belongs to the command — a lift request marked executed — commits with it or not at all.
   */
  readonly withinTransaction?: (tx: RepositoryTx, command: IssuedCommand) => Promise<void>;
}

/** The topic a command is published on: the device's own for device-scoped commands, else the fleet's emergency topic. */
export function commandTopic(command: Pick<IssuedCommand, 'fleetId' | 'scope'>): string {
  return command.scope.kind === 'device' ? deviceCommandsTopic(command.fleetId, command.scope.deviceId) : emergencyTopic(command.fleetId);
}

function checkInput(input: IssueCommandInput): number {
  assertIdentifier('fleet', input.fleetId);
  if (input.scope.kind === 'group') assertIdentifier('group', input.scope.groupId);
  if (input.scope.kind === 'device') assertIdentifier('device', input.scope.deviceId);
  requiredReason('reason', input.reason);
  if (input.requestId !== undefined && input.requestId !== null && !isValidIdentifier(input.requestId)) throw new InvalidArgument('"requestId" expected an identifier');
  const ttl = input.ttlMs ?? COMMAND_TTL_MS[input.action];
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_COMMAND_TTL_MS) throw new InvalidArgument(`"ttlMs" expected 1..${MAX_COMMAND_TTL_MS}`);
  return ttl;
}

/**
 * Issues a command (see the module comment), serialized with every other issue of the fleet.
 * @returns the stored command, already published and streamed.
 * @throws InvalidArgument / InvalidIdentifier for bad input; RecordNotFound for an unknown fleet;
 *   KMS errors when the emergency key cannot sign; whatever `hooks.withinTransaction` throws
 *   (nothing is stored then).
 */
export function issueCommand(deps: CommandIssuerDeps, input: IssueCommandInput, hooks: IssueCommandHooks = {}): Promise<IssuedCommand> {
  return withFleetLock(deps.core, input.fleetId, () => issueCommandLocked(deps, input, hooks));
}

/** issueCommand for a caller that already holds the fleet's lock (./fleet-lock.ts). */
export async function issueCommandLocked(deps: CommandIssuerDeps, input: IssueCommandInput, hooks: IssueCommandHooks = {}): Promise<IssuedCommand> {
  const ttl = checkInput(input);
  const { core } = deps;
  const fleetId = input.fleetId;
  try {
    // The signer first: an unknown fleet or an unusable key fails before a sequence is spent.
    const { sign, keys } = await emergencyPayloadSigner(core, fleetId);
    const sequence = await core.repository.nextSequence(fleetId);
    const issuedAt = core.clock();
    const expiresAt = issuedAt + ttl;
    const requestId = input.requestId ?? null;
    const wipe = input.wipe === true;
    const signed = await signPayload(
      CommandSchema,
      {
        fleet: fleetId,
        sequence: BigInt(sequence),
        issuedAt: timestampFromMs(issuedAt),
        expiresAt: timestampFromMs(expiresAt),
        scope: scopeToProto(fleetId, input.scope),
        action: commandActionToProto(input.action),
        reason: input.reason,
        wipe,
        requestId: requestId ?? '',
      },
      sign,
    );
    const signedCommand = toBinary(SignedCommandSchema, create(SignedCommandSchema, signed));
    const command = await core.repository.transaction(async (tx) => {
      const stored = await tx.createCommand({ fleetId, sequence, action: input.action, scope: input.scope, reason: input.reason, issuedBy: input.issuedBy, issuedAt, expiresAt, requestId, wipe, signedCommand });
      await tx.audit.append({
        actor: input.issuedBy,
        action: 'command.issue',
        fleetId,
        deviceId: input.scope.kind === 'device' ? input.scope.deviceId : null,
        keyRef: `emergency:${keys.emergencyKeyId}`,
        result: 'ok',
        details: { command: input.action, sequence, scope: scopeKey(input.scope), wipe, expiresAt, ...(requestId === null ? {} : { liftRequest: requestId }), ...reasonDetail(input.reason) },
      });
      await hooks.withinTransaction?.(tx, stored);
      return stored;
    });
    await publishCommand(deps, command);
    deps.events.emit('command', command);
    return command;
  } catch (error) {
    await core.repository.audit
      .append({
        actor: input.issuedBy,
        action: 'command.issue',
        fleetId,
        result: 'error',
        errorCode: isFleetkeyError(error) ? error.code : 'INTERNAL',
        details: { command: input.action, scope: scopeKey(input.scope) },
      })
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Publishes a stored command retained at QoS 1. A broker failure is logged, not thrown: the command
 * is stored and reaches robots over StreamCommands; the next command on the topic replaces it.
 */
export async function publishCommand(deps: Pick<CommandIssuerDeps, 'publisher' | 'logger'>, command: IssuedCommand): Promise<void> {
  try {
    await deps.publisher.publish(commandTopic(command), command.signedCommand, { qos: 1, retain: true });
  } catch (error) {
    deps.logger.error({ err: error, fleet: command.fleetId, sequence: command.sequence, command: command.action }, 'publishing a signed command failed; robots get it over StreamCommands');
  }
}
