/**
 * Emergency commands (DESIGN.md flow 5; messages.proto Command / SignedCommand): what the robot does
 * with a SignedCommand from the command stream or the retained MQTT topics, in this order:
 *   1. decode with the codec's bounds                  -> REJECTED_MALFORMED
 *   2. signed by a pinned emergency key, over the payload bytes as received
 *                                                      -> REJECTED_SIGNATURE
 *   3. issued by this fleet (fleet and scope.fleet)     -> refused (REJECTED_MALFORMED, not acked)
 *   4. sequence greater than the last one persisted    -> REJECTED_REPLAY
 *   5. not expired (trusted time), except LOCKDOWN, which fails safe
 *                                                      -> REJECTED_EXPIRED
 *   6. in scope (the fleet, this robot's group, or this robot); a command for other robots only
 *      advances the persisted sequence (commands.proto: "sequences of commands that do not
 *      concern a robot still advance its counter")
 *   7. the effect, then the new sequence persisted (the effect first: both are idempotent, so a
 *      crash between them re-applies the command, never skips it).
 *
 * Acknowledgement policy (what the controller's commands/acks.ts does with each ack):
 * - APPLIED and REJECTED_EXPIRED / FAILED of verified commands are acked (the controller replays
 *   expired commands precisely so the robot acks what it refused).
 * - REJECTED_REPLAY is never acked: the controller keeps ONE outcome per device and command and
 *   overwrites it, so acking the duplicate MQTT copy of an applied command would turn its APPLIED
 *   into REJECTED_REPLAY and show the robot as not having confirmed a lockdown.
 * - Commands for other robots and of other fleets are not acked (they are not this robot's to
 *   confirm; the command stream never sends them).
 * - A forgery is acked (REJECTED_SIGNATURE) only when the sequence it claims is newer than the last
 *   applied, for the same reason as replays: it must not overwrite a real APPLIED.
 * The persisted sequence moves only when a command took effect or did not concern this robot, so a
 * refused or failed command leaves it unchanged.
 *
 * Trust boundary: the SignedCommand is untrusted until step 2; nothing of it is obeyed before
 * step 6. Refusals are logged at warn with sequence, action and why, never with the bytes.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { isFleetkeyError } from '@fleetkey/key-types';
import {
  AckOutcome,
  CommandAction,
  CommandSchema,
  MAX_SIGNED_COMMAND_BYTES,
  MAX_SIGNED_PAYLOAD_BYTES,
  SignedCommandSchema,
  assertWithinLimits,
  decodeMessage,
  verifyPayload,
  type Command,
  type SignedCommand,
} from '@fleetkey/protocol';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import { pinnedKeyOf, pinnedVerifier } from './pinned.js';

/** What the link does next because of a command. */
export type CommandEffect = 'none' | 'locked' | 'unlocked' | 'revoked' | 'fetch-keys';

export interface CommandResult {
  readonly outcome: AckOutcome;
  /** Command.sequence (0n when it could not be read). */
  readonly sequence: bigint;
  readonly requestId: string;
  /** Short text for the ack; never key material. */
  readonly detail: string;
  /** Whether to acknowledge (see the module comment). */
  readonly ack: boolean;
  readonly effect: CommandEffect;
}

const ACTION_NAMES: ReadonlyMap<CommandAction, string> = new Map([
  [CommandAction.LOCKDOWN, 'LOCKDOWN'],
  [CommandAction.LIFT, 'LIFT'],
  [CommandAction.REVOKE, 'REVOKE'],
  [CommandAction.FETCH_KEYS, 'FETCH_KEYS'],
  [CommandAction.PIN_EMERGENCY_KEY, 'PIN_EMERGENCY_KEY'],
]);

function actionName(action: CommandAction | undefined): string {
  return action === undefined ? 'unknown' : (ACTION_NAMES.get(action) ?? `unknown(${Number(action)})`);
}

interface Refusal {
  readonly outcome: AckOutcome;
  readonly why: string;
  readonly sequence?: bigint;
  readonly action?: CommandAction;
  readonly requestId?: string;
  readonly ack: boolean;
}

function refuse(logger: AgentLogger, refusal: Refusal, level: 'warn' | 'info' = 'warn'): CommandResult {
  const sequence = refusal.sequence ?? 0n;
  logger[level]({ sequence: sequence.toString(), action: actionName(refusal.action), refusal: refusal.why }, 'signed command refused');
  return { outcome: refusal.outcome, sequence, requestId: refusal.requestId ?? '', detail: refusal.why, ack: refusal.ack, effect: 'none' };
}

/** The sequence a wrapper claims, read without trusting it (for deciding whether a refusal may be acked). */
function claimedSequence(signed: SignedCommand): bigint | undefined {
  try {
    return decodeMessage(CommandSchema, signed.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES }).sequence;
  } catch {
    return undefined;
  }
}

function concernsThisRobot(core: AgentCore, command: Command): boolean {
  const target = command.scope?.target;
  switch (target?.case) {
    case 'group':
      return core.identity.group !== null && target.value === core.identity.group;
    case 'deviceId':
      return target.value === core.identity.deviceId;
    default:
      return true;
  }
}

function persistSequence(core: AgentCore, sequence: bigint): void {
  const sequences = core.state.sequences();
  if (sequence > sequences.command) core.state.setSequences({ ...sequences, command: sequence });
}

/**
 * Verifies and applies one signed command (see the module comment). Never throws for anything the
 * command carries; a failure of the keystore while applying is the FAILED outcome.
 */
export async function applySignedCommand(core: AgentCore, input: SignedCommand | Uint8Array, logger: AgentLogger): Promise<CommandResult> {
  // 1. Bounds before anything else.
  let signed: SignedCommand;
  try {
    if (input instanceof Uint8Array) {
      signed = decodeMessage(SignedCommandSchema, input, { maxBytes: MAX_SIGNED_COMMAND_BYTES });
    } else {
      assertWithinLimits(SignedCommandSchema, input);
      signed = input;
    }
  } catch {
    return refuse(logger, { outcome: AckOutcome.REJECTED_MALFORMED, why: 'the signed command does not decode within its limits', ack: false });
  }
  if (signed.payload.byteLength === 0 || signed.signature.byteLength === 0 || signed.signingKey === undefined) {
    return refuse(logger, { outcome: AckOutcome.REJECTED_MALFORMED, why: 'the signed command lacks its payload, signature or signing key', ack: false });
  }

  // 2. Precondition: signed by a pinned emergency key, verified over the payload bytes as received.
  const lastApplied = core.state.sequences().command;
  const forged = (why: string): CommandResult => {
    const claimed = claimedSequence(signed);
    return refuse(logger, { outcome: AckOutcome.REJECTED_SIGNATURE, why, ack: claimed !== undefined && claimed > lastApplied, ...(claimed === undefined ? {} : { sequence: claimed }) });
  };
  const pinned = pinnedKeyOf(core, signed);
  if (pinned === undefined) return forged('signed by a key this robot did not pin');
  let command: Command;
  try {
    command = await verifyPayload(CommandSchema, signed, pinnedVerifier(pinned));
  } catch (error) {
    if (isFleetkeyError(error, 'MESSAGE_MALFORMED')) return refuse(logger, { outcome: AckOutcome.REJECTED_MALFORMED, why: 'the signed payload is not a valid command', ack: false });
    return forged('the signature does not verify against the pinned emergency key');
  }
  const { sequence, action, requestId } = command;
  const about = { sequence, action, requestId };

  // 3. Precondition: nothing crosses fleets.
  const fleet = core.identity.fleet;
  if (command.fleet !== fleet || command.scope?.fleet !== fleet) {
    return refuse(logger, { ...about, outcome: AckOutcome.REJECTED_MALFORMED, why: 'the command belongs to another fleet', ack: false });
  }
  if (command.issuedAt !== undefined) core.noteTrustedTime(timestampMs(command.issuedAt));

  // 4. Precondition: only a sequence newer than the last persisted one is accepted.
  if (sequence <= lastApplied) {
    // Every command reaches a connected robot twice (stream and MQTT): the copy of the last one
    // applied is expected and logged at info; anything older is a replay worth a warning.
    const duplicate = sequence === lastApplied;
    return refuse(logger, { ...about, outcome: AckOutcome.REJECTED_REPLAY, why: duplicate ? `sequence ${sequence} was already applied (second copy)` : `sequence ${sequence} is not newer than ${lastApplied}`, ack: false }, duplicate ? 'info' : 'warn');
  }
  if (!ACTION_NAMES.has(action)) return refuse(logger, { ...about, outcome: AckOutcome.REJECTED_MALFORMED, why: 'unspecified or unknown action', ack: true });

  // 5. Precondition: expired commands are refused, except LOCKDOWN, which fails safe.
  if (action !== CommandAction.LOCKDOWN) {
    if (command.expiresAt === undefined) return refuse(logger, { ...about, outcome: AckOutcome.REJECTED_MALFORMED, why: 'the command has no expiry', ack: true });
    const expiresAt = timestampMs(command.expiresAt);
    if (core.now().getTime() > expiresAt) {
      return refuse(logger, { ...about, outcome: AckOutcome.REJECTED_EXPIRED, why: `expired at ${new Date(expiresAt).toISOString()}`, ack: true });
    }
  }

  // 6. Precondition: a command for other robots is not obeyed; its sequence still advances ours.
  if (!concernsThisRobot(core, command)) {
    try {
      persistSequence(core, sequence);
    } catch (error) {
      logger.error({ err: error, sequence: sequence.toString() }, 'persisting a command sequence failed');
    }
    refuse(logger, { ...about, outcome: AckOutcome.APPLIED, why: 'the command concerns other robots (sequence advanced)', ack: false });
    return { outcome: AckOutcome.APPLIED, sequence, requestId, detail: 'not in scope', ack: false, effect: 'none' };
  }

  // 7. The effect, then the sequence.
  let effect: CommandEffect;
  try {
    switch (action) {
      case CommandAction.LOCKDOWN:
        core.lock({ sequence, reason: command.reason, wipe: command.wipe, scope: lockScopeOf(command) });
        effect = 'locked';
        break;
      case CommandAction.LIFT:
        core.unlock(sequence, lockScopeOf(command));
        effect = core.isLocked() ? 'none' : 'unlocked';
        break;
      case CommandAction.REVOKE:
        // Precondition: a REVOKE names one device; a broader one is not something the controller issues.
        if (command.scope?.target.case !== 'deviceId') {
          return refuse(logger, { ...about, outcome: AckOutcome.REJECTED_MALFORMED, why: 'a REVOKE must name one device', ack: true });
        }
        core.lock({ sequence, reason: command.reason.length > 0 ? command.reason : 'device revoked', wipe: true, scope: REVOKED_LOCK_SCOPE });
        effect = 'revoked';
        break;
      case CommandAction.FETCH_KEYS:
        effect = 'fetch-keys';
        break;
      default:
        // PIN_EMERGENCY_KEY: trust in a new emergency key is not taken from the network by this
        // build; the sequence is left where it is so a later build can still apply it.
        logger.warn({ sequence: sequence.toString(), action: actionName(action) }, 'command not supported by this agent');
        return { outcome: AckOutcome.FAILED, sequence, requestId, detail: 'not supported by this agent', ack: true, effect: 'none' };
    }
    persistSequence(core, sequence);
  } catch (error) {
    logger.error({ err: error, sequence: sequence.toString(), action: actionName(action) }, 'applying a signed command failed');
    return { outcome: AckOutcome.FAILED, sequence, requestId, detail: 'applying the command failed on the robot', ack: true, effect: 'none' };
  }
  logger.info({ sequence: sequence.toString(), action: actionName(action), wipe: command.wipe, requestId }, 'signed command applied');
  return { outcome: AckOutcome.APPLIED, sequence, requestId, detail: '', ack: true, effect };
}

/** The lock scope of a revoked robot: no LIFT names it, so a revoked robot stays locked. */
export const REVOKED_LOCK_SCOPE = 'revoked';

/** The lock scope a LOCKDOWN or LIFT names: 'fleet', 'group:<G>' or 'device:<D>'. */
export function lockScopeOf(command: Command): string {
  const target = command.scope?.target;
  if (target?.case === 'group') return `group:${target.value}`;
  if (target?.case === 'deviceId') return `device:${target.value}`;
  return 'fleet';
}
