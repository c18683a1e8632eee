/**
 * Which lockdowns are in force, and who confirmed them.
 *
 * Definition (docs/operations.md, "Emergency lockdown"): a lockdown of scope S (the fleet, group G,
 * or device D) is in force exactly when the fleet's latest LOCKDOWN-or-LIFT command whose scope is
 * S is a LOCKDOWN. Scopes do not nest: a LIFT ends only the lockdown of the very scope it names, so
 * lifting the fleet leaves a group's own lockdown in force, and a device is locked while any
 * lockdown in force concerns it. Expiry plays no part (LOCKDOWN fails safe).
 *
 * Acknowledgement: a robot in the lockdown's scope (an active device of the fleet, of the group,
 * or the device itself) has acknowledged it when it acked that command's sequence as APPLIED; every
 * other robot in scope is pending. A robot enrolled while a lockdown concerning it is in force is
 * told a command sequence just before that lockdown (../provisioning/enroll.ts), so it applies it
 * and acknowledges like the others.
 *
 * Trust boundary: reads only; every query names its fleet.
 */
import type { CommandAction, Device, IssuedCommand, RepositoryTx } from '../store/index.js';
import { scopeConcerns, scopeKey } from './scope.js';

/** The store's page bound for listCommands. */
const COMMAND_PAGE = 1000;

type Reader = Pick<RepositoryTx, 'listCommands' | 'listCommandAcks' | 'listDevices'>;

async function allCommands(reader: Pick<RepositoryTx, 'listCommands'>, fleetId: string, action: CommandAction): Promise<IssuedCommand[]> {
  const out: IssuedCommand[] = [];
  for (;;) {
    const page = await reader.listCommands(fleetId, { action, afterSequence: out.at(-1)?.sequence ?? 0, limit: COMMAND_PAGE });
    out.push(...page);
    if (page.length < COMMAND_PAGE) return out;
  }
}

/** The LOCKDOWN commands in force in a fleet, oldest first (see the module comment). */
export async function lockdownsInForce(reader: Pick<RepositoryTx, 'listCommands'>, fleetId: string): Promise<IssuedCommand[]> {
  const commands = [...(await allCommands(reader, fleetId, 'lockdown')), ...(await allCommands(reader, fleetId, 'lift'))].sort((a, b) => a.sequence - b.sequence);
  const latest = new Map<string, IssuedCommand>();
  for (const command of commands) latest.set(scopeKey(command.scope), command);
  return [...latest.values()].filter((command) => command.action === 'lockdown').sort((a, b) => a.sequence - b.sequence);
}

/** The lockdown in force for exactly this scope key, if any. */
export async function lockdownInForceFor(reader: Pick<RepositoryTx, 'listCommands'>, fleetId: string, key: string): Promise<IssuedCommand | undefined> {
  return (await lockdownsInForce(reader, fleetId)).find((command) => scopeKey(command.scope) === key);
}

export interface LockdownAcknowledgements {
  /** Device ids in scope that acked the lockdown as applied, sorted. */
  readonly acknowledged: readonly string[];
  /** Device ids in scope that have not, sorted. */
  readonly pending: readonly string[];
}

/** Active devices of a fleet, read once per status request and shared by every lockdown. */
export function activeDevicesOf(reader: Pick<RepositoryTx, 'listDevices'>, fleetId: string): Promise<Device[]> {
  return reader.listDevices({ fleetId }, { status: 'active' });
}

/** Who in the lockdown's scope confirmed it (see the module comment). */
export async function lockdownAcknowledgements(reader: Reader, lockdown: IssuedCommand, activeDevices?: readonly Device[]): Promise<LockdownAcknowledgements> {
  const devices = activeDevices ?? (await activeDevicesOf(reader, lockdown.fleetId));
  const applied = new Set((await reader.listCommandAcks(lockdown.fleetId, lockdown.sequence)).filter((ack) => ack.outcome === 'applied').map((ack) => ack.deviceId));
  const acknowledged: string[] = [];
  const pending: string[] = [];
  for (const device of devices) {
    if (device.fleetId !== lockdown.fleetId || !scopeConcerns(lockdown.scope, device)) continue;
    (applied.has(device.deviceId) ? acknowledged : pending).push(device.deviceId);
  }
  return { acknowledged: acknowledged.sort(), pending: pending.sort() };
}
