/**
 * Rotation policies: how often a key series rotates, how long a retired epoch stays openable, and
 * when a pending epoch is activated (acknowledged share or deadline). Kept in the store's settings
 * as strict JSON — `rotation-policy/<fleet>` for the fleet-wide series and for every group without
 * its own, `rotation-policy/<fleet>/<group>` for a group — so a policy travels with every backup.
 * A group that has a policy of its own gets its own key series at the next scheduler tick.
 *
 * The scheduler's tick interval is controller-wide: `rotation-scheduler` ({"tickIntervalMs": …}).
 *
 * Trust boundary: settings are read back as untrusted (someone may have edited the database):
 * every field is validated, unknown fields are refused, and a malformed record is an error, not a
 * silent fallback to the defaults.
 */
import { InvalidArgument, KIND_POLICIES, assertIdentifier } from '@fleetkey/key-types';
import { z } from 'zod';
import { parseStoredJson } from '../core/stored-json.js';
import type { RepositoryTx } from '../store/index.js';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export interface RotationPolicy {
  /** A new epoch is started this long after the previous rotation started. */
  readonly intervalMs: number;
  /** A retired epoch stays openable (`retiring`) this long after its successor is activated. */
  readonly graceMs: number;
  /** Share (0..1) of the series' active devices that must acknowledge the pending epoch to activate it early. */
  readonly threshold: number;
  /** A pending epoch is activated this long after its rotation started, acknowledged or not. */
  readonly deadlineMs: number;
}

const communication = KIND_POLICIES.communication.rotation;

/** DESIGN.md: every 24 h, a 24 h grace window; activation at 90 % or after one hour. */
export const DEFAULT_ROTATION_POLICY: RotationPolicy = Object.freeze({
  intervalMs: communication.mode === 'interval' ? communication.intervalMs : DAY_MS,
  graceMs: communication.mode === 'interval' ? communication.graceMs : DAY_MS,
  threshold: 0.9,
  deadlineMs: HOUR_MS,
});

/** Bounds of each field (milliseconds). Seconds-scale minimums exist for tests and drills. */
export const ROTATION_POLICY_BOUNDS = Object.freeze({
  intervalMs: { min: SECOND_MS, max: 366 * DAY_MS },
  graceMs: { min: SECOND_MS, max: 90 * DAY_MS },
  deadlineMs: { min: SECOND_MS, max: 30 * DAY_MS },
});

export const DEFAULT_TICK_INTERVAL_MS = 15 * SECOND_MS;
export const TICK_INTERVAL_BOUNDS = Object.freeze({ min: 100, max: HOUR_MS });

const millis = (bounds: { min: number; max: number }) => z.number().int().min(bounds.min).max(bounds.max);

const policySchema = z
  .strictObject({
    version: z.literal(1),
    intervalMs: millis(ROTATION_POLICY_BOUNDS.intervalMs),
    graceMs: millis(ROTATION_POLICY_BOUNDS.graceMs),
    threshold: z.number().min(0).max(1),
    deadlineMs: millis(ROTATION_POLICY_BOUNDS.deadlineMs),
  })
  // A pending epoch must be activated before the next rotation is due, or rotations would queue up.
  .refine((policy) => policy.deadlineMs <= policy.intervalMs, { message: 'deadlineMs must not exceed intervalMs', path: ['deadlineMs'] });

const schedulerSchema = z.strictObject({ version: z.literal(1), tickIntervalMs: millis(TICK_INTERVAL_BOUNDS) });

export const ROTATION_SCHEDULER_SETTING = 'rotation-scheduler';

/** `rotation-policy/<fleet>` or `rotation-policy/<fleet>/<group>`. @throws InvalidIdentifier */
export function rotationPolicySettingKey(fleetId: string, groupId: string | null): string {
  const fleet = assertIdentifier('fleet', fleetId);
  return groupId === null ? `rotation-policy/${fleet}` : `rotation-policy/${fleet}/${assertIdentifier('group', groupId)}`;
}

/**
 * Validates a policy, reporting every problem at once.
 * @throws InvalidArgument naming each bad field.
 */
export function validateRotationPolicy(policy: RotationPolicy): RotationPolicy {
  const parsed = policySchema.safeParse({ version: 1, ...policy });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'policy'}: ${issue.message}`);
    throw new InvalidArgument(`invalid rotation policy (${problems.join('; ')})`);
  }
  const { version: _version, ...valid } = parsed.data;
  return Object.freeze(valid);
}

/** Stores a policy for the fleet-wide series (groupId null) or one group. @throws InvalidArgument, InvalidIdentifier */
export async function saveRotationPolicy(tx: Pick<RepositoryTx, 'setSetting'>, fleetId: string, groupId: string | null, policy: RotationPolicy): Promise<void> {
  const valid = validateRotationPolicy(policy);
  await tx.setSetting(rotationPolicySettingKey(fleetId, groupId), JSON.stringify({ version: 1, ...valid }));
}

async function storedPolicy(tx: Pick<RepositoryTx, 'getSetting'>, key: string): Promise<RotationPolicy | undefined> {
  const text = await tx.getSetting(key);
  if (text === undefined) return undefined;
  const { version: _version, ...policy } = parseStoredJson(text, policySchema, `rotation policy ${key}`);
  return Object.freeze(policy);
}

/** Whether a group has a policy of its own (which gives it its own key series). */
export async function hasGroupPolicy(tx: Pick<RepositoryTx, 'getSetting'>, fleetId: string, groupId: string): Promise<boolean> {
  return (await tx.getSetting(rotationPolicySettingKey(fleetId, groupId))) !== undefined;
}

/**
 * The policy of a series: the group's own, else the fleet's, else DEFAULT_ROTATION_POLICY.
 * @throws InvalidArgument when a stored policy is malformed (never silently replaced by defaults).
 */
export async function loadRotationPolicy(tx: Pick<RepositoryTx, 'getSetting'>, fleetId: string, groupId: string | null): Promise<RotationPolicy> {
  if (groupId !== null) {
    const own = await storedPolicy(tx, rotationPolicySettingKey(fleetId, groupId));
    if (own !== undefined) return own;
  }
  return (await storedPolicy(tx, rotationPolicySettingKey(fleetId, null))) ?? DEFAULT_ROTATION_POLICY;
}

/** Stores the controller-wide scheduler tick. @throws InvalidArgument out of TICK_INTERVAL_BOUNDS. */
export async function saveSchedulerTick(tx: Pick<RepositoryTx, 'setSetting'>, tickIntervalMs: number): Promise<void> {
  const parsed = schedulerSchema.safeParse({ version: 1, tickIntervalMs });
  if (!parsed.success) throw new InvalidArgument(`"tickIntervalMs" expected an integer from ${TICK_INTERVAL_BOUNDS.min} to ${TICK_INTERVAL_BOUNDS.max}`);
  await tx.setSetting(ROTATION_SCHEDULER_SETTING, JSON.stringify(parsed.data));
}

/** The stored tick, else DEFAULT_TICK_INTERVAL_MS. @throws InvalidArgument when the record is malformed. */
export async function loadSchedulerTick(tx: Pick<RepositoryTx, 'getSetting'>): Promise<number> {
  const text = await tx.getSetting(ROTATION_SCHEDULER_SETTING);
  return text === undefined ? DEFAULT_TICK_INTERVAL_MS : parseStoredJson(text, schedulerSchema, 'rotation scheduler setting').tickIntervalMs;
}
