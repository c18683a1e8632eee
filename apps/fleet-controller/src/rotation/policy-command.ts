/**
 * `fleet-controller rotation-policy`: shows or sets the rotation policy of a fleet's key or a
 * group's key, directly in the data directory's state store (it is safe while `serve` runs: the
 * store is shared through SQLite's locking, and the scheduler reads the policy on every tick).
 * Setting a value keeps the others of the effective policy; the change is audited.
 *
 * Trust boundary: run by whoever can write the data directory (the controller's own account);
 * input is validated by the policy's bounds before anything is written.
 */
import { EXIT, durationArgument } from '@fleetkey/cli';
import { isFleetkeyError } from '@fleetkey/key-types';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { dataDirPaths, readControllerSettings } from '../datadir/layout.js';
import { RecordNotFound, openSqliteRepository } from '../store/index.js';
import { ROTATION_POLICY_BOUNDS, hasGroupPolicy, loadRotationPolicy, saveRotationPolicy, type RotationPolicy } from './policy.js';

export interface PolicyCommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

function threshold(value: string): number {
  const parsed = /^(0(\.\d{1,4})?|1(\.0{1,4})?)$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError('expected a share from 0 to 1, such as 0.9');
  return parsed;
}

const hours = (ms: number): string => `${(ms / 3_600_000).toFixed(ms % 3_600_000 === 0 ? 0 : 2)}h`;

export function registerRotationPolicyCommand(program: Command, io: PolicyCommandIo, state: { exitCode: number }): void {
  program
    .command('rotation-policy')
    .description(
      "Show or set how often a fleet's communication key (or a group's, with --group) is rotated: the interval, the grace window of the retired epoch, the acknowledged share that activates a new epoch early, and the deadline that activates it anyway. Without a setting it shows the effective policy; a group with a policy of its own gets its own key series at the next scheduler tick. Safe while serve runs.",
    )
    .requiredOption('--data-dir <dir>', 'the data directory')
    .requiredOption('--fleet <fleet>', 'the fleet')
    .option('--group <group>', "the group (default: the fleet's key and every group without a policy of its own)")
    .addOption(new Option('--interval <duration>', 'a new rotation this long after the previous one started (e.g. 24h)').argParser(durationArgument({ minMs: ROTATION_POLICY_BOUNDS.intervalMs.min, maxMs: ROTATION_POLICY_BOUNDS.intervalMs.max })))
    .addOption(new Option('--grace <duration>', 'how long a retired epoch still opens messages (e.g. 24h)').argParser(durationArgument({ minMs: ROTATION_POLICY_BOUNDS.graceMs.min, maxMs: ROTATION_POLICY_BOUNDS.graceMs.max })))
    .addOption(new Option('--threshold <share>', 'acknowledged share (0-1) that activates a new epoch early (e.g. 0.9)').argParser(threshold))
    .addOption(new Option('--deadline <duration>', 'activate a new epoch this long after its rotation started, acknowledged or not (e.g. 1h)').argParser(durationArgument({ minMs: ROTATION_POLICY_BOUNDS.deadlineMs.min, maxMs: ROTATION_POLICY_BOUNDS.deadlineMs.max })))
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(async (options: { dataDir: string; fleet: string; group?: string; interval?: number; grace?: number; threshold?: number; deadline?: number; output: 'text' | 'json' }) => {
      const paths = dataDirPaths(options.dataDir);
      try {
        readControllerSettings(paths);
        const repository = await openSqliteRepository({ path: paths.state, clock: Date.now });
        try {
          if ((await repository.getFleet(options.fleet)) === undefined) throw new RecordNotFound(`fleet ${options.fleet} does not exist`);
          const groupId = options.group ?? null;
          if (groupId !== null && (await repository.getGroup(options.fleet, groupId)) === undefined) throw new RecordNotFound(`group ${groupId} does not exist in fleet ${options.fleet}`);
          const current = await loadRotationPolicy(repository, options.fleet, groupId);
          const changes: Partial<{ -readonly [K in keyof RotationPolicy]: RotationPolicy[K] }> = {};
          if (options.interval !== undefined) changes.intervalMs = options.interval;
          if (options.grace !== undefined) changes.graceMs = options.grace;
          if (options.threshold !== undefined) changes.threshold = options.threshold;
          if (options.deadline !== undefined) changes.deadlineMs = options.deadline;
          let policy = current;
          if (Object.keys(changes).length > 0) {
            policy = { ...current, ...changes };
            await repository.transaction(async (tx) => {
              await saveRotationPolicy(tx, options.fleet, groupId, policy);
              await tx.audit.append({
                actor: 'system',
                action: 'rotation.policy',
                fleetId: options.fleet,
                result: 'ok',
                details: { group: groupId, intervalMs: policy.intervalMs, graceMs: policy.graceMs, thresholdPerMille: Math.round(policy.threshold * 1000), deadlineMs: policy.deadlineMs },
              });
            });
          }
          const own = groupId === null ? true : await hasGroupPolicy(repository, options.fleet, groupId);
          if (options.output === 'json') {
            io.stdout(`${JSON.stringify({ fleet: options.fleet, group: groupId, ownPolicy: own, ...policy })}\n`);
          } else {
            io.stdout(
              `${options.fleet}${groupId === null ? '' : `/${groupId}`}: rotate every ${hours(policy.intervalMs)}, grace ${hours(policy.graceMs)}, activate at ${Math.round(policy.threshold * 100)} % acknowledged or after ${hours(policy.deadlineMs)}${own ? '' : ' (inherited from the fleet)'}\n`,
            );
          }
        } finally {
          await repository.close();
        }
      } catch (error) {
        io.stderr(`fleet-controller: ${isFleetkeyError(error) ? error.message : 'cannot read the rotation policy: unexpected error'}\n`);
        state.exitCode = EXIT.failure;
      }
    });
}
