/**
 * Emergency lockdown and its two-operator lift:
 * - `fleetctl lockdown --fleet F [--group G | --device D] --reason R [--wipe]` issues a signed
 *   LOCKDOWN for the fleet, one group or one device;
 * - `fleetctl lockdown status --fleet F` shows the lockdowns in force, how many robots confirmed
 *   each (the controller's count of APPLIED acknowledgements), which robots in scope have and have
 *   not (from each device's last applied command), and the pending lift requests;
 * - `fleetctl lift --fleet F [--group G | --device D] --reason R` asks for the lockdown of exactly
 *   that scope to be lifted; table output is the request id alone on stdout;
 * - `fleetctl approve REQUEST_ID --fleet F`: a second, different operator's approval, which makes
 *   the controller sign and publish the LIFT.
 *
 * Trust boundary: reasons are the operator's text, bounded and free of control characters before
 * they are sent; everything shown comes from the controller and is printed through the Printer,
 * which neutralizes control characters.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { ApprovalKind, DeviceState, LiftRequestState, type Device, type LiftRequest, type Lockdown, type Scope, type ScopeSchema } from '@fleetkey/protocol';
import { Option, type Command } from 'commander';
import { MAX_REASON_BYTES, boundedText, identifier } from '../arguments.js';
import type { Runtime } from '../context.js';
import type { OperatorClient } from '../connection.js';
import { collectPages } from '../paging.js';
import { enumName, isoTime, jsonInteger, tableTime, type Column } from '../output.js';

const LIFT_STATES = LiftRequestState as unknown as Readonly<Record<number, string>>;
const APPROVAL_KINDS = ApprovalKind as unknown as Readonly<Record<number, string>>;

interface ScopeOptions {
  readonly fleet?: string;
  readonly group?: string;
  readonly device?: string;
}

function scopeOf(options: ScopeOptions & { fleet: string }): MessageInitShape<typeof ScopeSchema> {
  if (options.group !== undefined) return { fleet: options.fleet, target: { case: 'group', value: options.group } };
  if (options.device !== undefined) return { fleet: options.fleet, target: { case: 'deviceId', value: options.device } };
  return { fleet: options.fleet };
}

/** `{ kind: 'fleet' | 'group' | 'device', id }` of a scope, for JSON. */
export function scopeJson(scope: Scope | undefined): { kind: string; id: string | null } {
  switch (scope?.target.case) {
    case 'group':
      return { kind: 'group', id: scope.target.value };
    case 'deviceId':
      return { kind: 'device', id: scope.target.value };
    default:
      return { kind: 'fleet', id: null };
  }
}

/** `fleet`, `group line-1`, `device robot-7`, for tables. */
export function scopeText(scope: Scope | undefined): string {
  const { kind, id } = scopeJson(scope);
  return id === null ? kind : `${kind} ${id}`;
}

function inScope(scope: Scope | undefined, device: Device): boolean {
  switch (scope?.target.case) {
    case 'group':
      return device.group === scope.target.value;
    case 'deviceId':
      return device.deviceId === scope.target.value;
    default:
      return true;
  }
}

export function lockdownJson(lockdown: Lockdown): Record<string, unknown> {
  return {
    scope: scopeJson(lockdown.scope),
    reason: lockdown.reason,
    commandSequence: jsonInteger(lockdown.commandSequence),
    requestId: lockdown.requestId,
    issuedAt: isoTime(lockdown.issuedAt),
    issuedBy: lockdown.issuedBy,
    wipe: lockdown.wipe,
    devicesAcknowledged: lockdown.devicesAcknowledged,
    devicesPending: lockdown.devicesPending,
  };
}

export function liftRequestJson(request: LiftRequest): Record<string, unknown> {
  return {
    liftRequestId: request.liftRequestId,
    fleet: request.scope?.fleet ?? '',
    scope: scopeJson(request.scope),
    reason: request.reason,
    requestedBy: request.requestedBy,
    requestedAt: isoTime(request.requestedAt),
    approvals: request.approvals.map((approval) => ({ operatorId: approval.operatorId, approvedAt: isoTime(approval.approvedAt) })),
    state: enumName(LIFT_STATES, request.state),
    expiresAt: isoTime(request.expiresAt),
    commandSequence: request.state === LiftRequestState.EXECUTED ? jsonInteger(request.commandSequence) : null,
    kind: enumName(APPROVAL_KINDS, request.kind),
    target: request.target,
  };
}

function lockdownFields(lockdown: Lockdown): [string, string][] {
  return [
    ['Scope', scopeText(lockdown.scope)],
    ['Command sequence', lockdown.commandSequence.toString()],
    ['Issued', tableTime(lockdown.issuedAt)],
    ['Issued by', lockdown.issuedBy],
    ['Wipe', lockdown.wipe ? 'yes' : 'no'],
    ['Reason', lockdown.reason],
    ['Confirmed', `${lockdown.devicesAcknowledged} of ${lockdown.devicesAcknowledged + lockdown.devicesPending} devices`],
  ];
}

function liftFields(request: LiftRequest): [string, string][] {
  return [
    ['Lift request', request.liftRequestId],
    ['Scope', scopeText(request.scope)],
    ['State', enumName(LIFT_STATES, request.state)],
    ['Requested by', request.requestedBy],
    ['Approvals', request.approvals.map((approval) => approval.operatorId).join(', ')],
    ['Expires', tableTime(request.expiresAt)],
    ['Reason', request.reason],
    ['LIFT command', request.state === LiftRequestState.EXECUTED ? `sequence ${request.commandSequence}` : ''],
  ];
}

const LOCKDOWN_COLUMNS: readonly Column<Lockdown>[] = [
  { header: 'SCOPE', value: (l) => scopeText(l.scope) },
  { header: 'SEQUENCE', value: (l) => l.commandSequence.toString() },
  { header: 'ISSUED', value: (l) => tableTime(l.issuedAt) },
  { header: 'BY', value: (l) => l.issuedBy },
  { header: 'WIPE', value: (l) => (l.wipe ? 'yes' : 'no') },
  { header: 'CONFIRMED', value: (l) => String(l.devicesAcknowledged) },
  { header: 'PENDING', value: (l) => String(l.devicesPending) },
  { header: 'REASON', value: (l) => l.reason },
];

interface DeviceConfirmation {
  readonly deviceId: string;
  readonly scope: string;
  readonly confirmed: boolean;
  readonly lastCommandSequence: bigint;
}

const CONFIRMATION_COLUMNS: readonly Column<DeviceConfirmation>[] = [
  { header: 'DEVICE', value: (c) => c.deviceId },
  { header: 'LOCKDOWN', value: (c) => c.scope },
  { header: 'CONFIRMED', value: (c) => (c.confirmed ? 'yes' : 'no') },
  { header: 'LAST APPLIED COMMAND', value: (c) => c.lastCommandSequence.toString() },
];

const LIFT_COLUMNS: readonly Column<LiftRequest>[] = [
  { header: 'LIFT REQUEST', value: (r) => r.liftRequestId },
  { header: 'SCOPE', value: (r) => scopeText(r.scope) },
  { header: 'REQUESTED BY', value: (r) => r.requestedBy },
  { header: 'APPROVALS', value: (r) => String(r.approvals.length) },
  { header: 'EXPIRES', value: (r) => tableTime(r.expiresAt) },
  { header: 'REASON', value: (r) => r.reason },
];

/**
 * Who in each lockdown's scope has and has not confirmed: an active device has when the last
 * command it acknowledged as applied is the lockdown's or a later one.
 */
function confirmationsOf(lockdowns: readonly Lockdown[], devices: readonly Device[]): { lockdown: Lockdown; confirmations: DeviceConfirmation[] }[] {
  return lockdowns.map((lockdown) => ({
    lockdown,
    confirmations: devices
      .filter((device) => device.state === DeviceState.ACTIVE && inScope(lockdown.scope, device))
      .map((device) => ({ deviceId: device.deviceId, scope: scopeText(lockdown.scope), confirmed: device.lastCommandSequence >= lockdown.commandSequence, lastCommandSequence: device.lastCommandSequence })),
  }));
}

async function activeDevices(client: OperatorClient, fleet: string): Promise<Device[]> {
  return collectPages(async (pageToken, pageSize) => {
    const page = await client.listDevices({ fleet, group: '', state: DeviceState.ACTIVE, pageToken, pageSize });
    return { items: page.devices, nextPageToken: page.nextPageToken };
  });
}

function scopeOptions(command: Command): Command {
  return command
    .addOption(new Option('--group <group>', 'only this group of the fleet').argParser(identifier('group id')).conflicts('device'))
    .addOption(new Option('--device <device>', 'only this device of the fleet').argParser(identifier('device id')).conflicts('group'));
}

function reasonOption(what: string): Option {
  return new Option('--reason <text>', `why (required; ${what})`).argParser(boundedText(MAX_REASON_BYTES));
}

function requireOption<T>(command: Command, value: T | undefined, flag: string): T {
  if (value === undefined) command.error(`error: required option '${flag}' not specified`, { exitCode: 2, code: 'commander.missingMandatoryOptionValue' });
  return value;
}

export function registerLockdownCommands(program: Command, runtime: Runtime): void {
  // --fleet, --group, --device and --reason belong to `lockdown` itself, so they may come before
  // or after `status`; each action checks the ones it needs.
  const lockdown = scopeOptions(
    program
      .command('lockdown')
      .description('lock down a fleet, a group or a device with a signed LOCKDOWN command (roles admin, operator); `lockdown status` shows who confirmed')
      .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id'))),
  )
    .addOption(reasonOption('shown on the robots and in the audit log'))
    .option('--wipe', 'also tell the robots to shred their communication keys')
    .action(async (options: ScopeOptions & { reason?: string; wipe?: boolean }, command: Command) => {
      const fleet = requireOption(command, options.fleet, '--fleet <fleet>');
      const reason = requireOption(command, options.reason, '--reason <text>');
      await runtime.operator(command, async (client, out) => {
        const response = await client.lockdown({ scope: scopeOf({ ...options, fleet }), reason, wipe: options.wipe === true });
        if (out.json) out.document({ lockdown: response.lockdown === undefined ? null : lockdownJson(response.lockdown) });
        else out.fields(response.lockdown === undefined ? [] : lockdownFields(response.lockdown));
      });
    });

  lockdown
    .command('status')
    .description('the lockdowns in force in a fleet, which robots have and have not confirmed them, and the pending lift requests (roles admin, operator, auditor)')
    .action(async (_options: unknown, command: Command) => {
      const fleet = requireOption(command, command.optsWithGlobals<ScopeOptions>().fleet, '--fleet <fleet>');
      await runtime.operator(command, async (client, out) => {
        const status = await client.getLockdownStatus({ fleet });
        const devices = status.lockdowns.length === 0 ? [] : await activeDevices(client, fleet);
        const confirmations = confirmationsOf(status.lockdowns, devices);
        if (out.json) {
          out.document({
            fleet,
            lockdowns: confirmations.map(({ lockdown: item, confirmations: devicesInScope }) => ({
              ...lockdownJson(item),
              confirmed: devicesInScope.filter((c) => c.confirmed).map((c) => c.deviceId),
              notConfirmed: devicesInScope.filter((c) => !c.confirmed).map((c) => c.deviceId),
            })),
            pendingLiftRequests: status.pendingLiftRequests.map(liftRequestJson),
          });
          return;
        }
        if (status.lockdowns.length === 0) out.note(`no lockdown is in force in fleet ${fleet}`);
        out.table(LOCKDOWN_COLUMNS, status.lockdowns);
        const rows = confirmations.flatMap((entry) => entry.confirmations);
        if (rows.length > 0) {
          out.line('');
          out.table(CONFIRMATION_COLUMNS, rows);
        }
        if (status.pendingLiftRequests.length > 0) {
          out.line('');
          out.table(LIFT_COLUMNS, status.pendingLiftRequests);
        }
      });
    });

  scopeOptions(
    program
      .command('lift')
      .description('ask for the lockdown of exactly this scope to be lifted; a second, different operator approves it (roles admin, operator). Table output is the request id alone')
      .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory()),
  )
    .addOption(reasonOption('shown in the lift request, on the robots and in the audit log').makeOptionMandatory())
    .action(async (options: ScopeOptions & { fleet: string; reason: string }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const { liftRequest } = await client.requestLift({ scope: scopeOf(options), reason: options.reason });
        if (out.json) {
          out.document({ liftRequest: liftRequest === undefined ? null : liftRequestJson(liftRequest) });
          return;
        }
        if (liftRequest === undefined) return;
        out.note(`lift request for ${scopeText(liftRequest.scope)} recorded, expiring ${tableTime(liftRequest.expiresAt)}; another operator approves it with: fleetctl approve ${liftRequest.liftRequestId} --fleet ${options.fleet}`);
        out.line(liftRequest.liftRequestId);
      });
    });

  program
    .command('approve')
    .description("approve another operator's request — a lift (the second approval signs and publishes the LIFT), an epoch destruction or a fleet deletion (admin) — which the second approval executes (roles admin, operator)")
    .argument('<request-id>', 'the lift request id (from `fleetctl lift` or `lockdown status`)', identifier('lift request id'))
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .action(async (liftRequestId: string, options: { fleet: string }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const { liftRequest, notice } = await client.approveLift({ fleet: options.fleet, liftRequestId });
        if (out.json) {
          out.document({ liftRequest: liftRequest === undefined ? null : liftRequestJson(liftRequest), notice });
        } else {
          out.fields(liftRequest === undefined ? [] : [...liftFields(liftRequest), ['Kind', enumName(APPROVAL_KINDS, liftRequest.kind)], ['Target', liftRequest.target]]);
          if (notice !== '') out.note(notice);
        }
      });
    });
}
