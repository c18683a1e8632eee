/**
 * `fleetctl rotate --fleet F [--group G] [--reason R] [--wait]`: starts a two-phase rotation of the
 * fleet key (or a group's key) now. The new epoch is distributed as pending and activated by the
 * controller when enough robots acknowledged it or its activation deadline passed.
 *
 * With --wait, fleetctl follows the rotation: `acked/total` — active devices whose acknowledged
 * key-bundle sequence rose since the rotation started, out of the active devices it concerns — as
 * a progress bar when stdout is a terminal and as plain lines otherwise, until the fleet reports
 * the new epoch active (ListFleets active_epoch). A group key's state is not shown by the
 * operator API, so for a group fleetctl stops once every device acknowledged or the activation
 * deadline passed, and says which. An explicit --timeout bounds the whole wait (and each call);
 * without it fleetctl waits until shortly after the activation deadline. -o json prints only the
 * final state.
 *
 * Trust boundary: everything shown comes from the controller and goes through the printer.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { EXIT } from '@fleetkey/cli';
import { DeviceState, KeyState, type Device, type RotateKeysResponse } from '@fleetkey/protocol';
import { Option, type Command } from 'commander';
import { MAX_REASON_BYTES, boundedText, identifier, timeoutSeconds } from '../arguments.js';
import type { OperatorClient } from '../connection.js';
import type { Runtime } from '../context.js';
import { collectPages } from '../paging.js';
import { enumName, printable, type Printer, type TextSink } from '../output.js';

const KEY_STATES = KeyState as unknown as Readonly<Record<number, string>>;

/** Seconds between two progress polls unless --poll-interval says otherwise. */
export const DEFAULT_POLL_SECONDS = 2;
/** Without an explicit --timeout, fleetctl waits this long past the activation deadline (the controller activates at its next tick). */
export const WAIT_PAST_DEADLINE_MS = 5 * 60_000;
/** Width of the progress bar in characters. */
export const PROGRESS_BAR_WIDTH = 30;

interface RotateOptions {
  readonly fleet: string;
  readonly group?: string;
  readonly reason?: string;
  readonly wait?: boolean;
  readonly pollInterval: number;
}

/** How a wait ended. */
type Outcome = 'active' | 'acknowledged' | 'deadline-passed' | 'timed-out' | 'not-waited';

interface Progress {
  readonly acked: number;
  readonly total: number;
}

/** The waiting clock and sleep (real ones in production; tests pass small poll intervals). */
export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: WaitClock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

async function activeDevices(client: OperatorClient, fleet: string, group: string | undefined): Promise<Device[]> {
  return collectPages(async (pageToken, pageSize) => {
    const page = await client.listDevices({ fleet, group: group ?? '', state: DeviceState.ACTIVE, pageToken, pageSize });
    return { items: page.devices, nextPageToken: page.nextPageToken };
  });
}

/** Devices whose acknowledged bundle sequence rose past what it was before the rotation. */
function progressOf(devices: readonly Device[], baseline: ReadonlyMap<string, bigint>): Progress {
  const acked = devices.filter((device) => device.lastKeyBundleSequence > (baseline.get(device.deviceId) ?? 0n)).length;
  return { acked, total: devices.length };
}

async function fleetEpochActive(client: OperatorClient, fleet: string, version: number): Promise<boolean> {
  const fleets = await collectPages(async (pageToken, pageSize) => {
    const page = await client.listFleets({ pageToken, pageSize });
    return { items: page.fleets, nextPageToken: page.nextPageToken };
  });
  const found = fleets.find((candidate) => candidate.fleet === fleet);
  return (found?.activeEpoch?.version ?? 0) >= version;
}

/** `[#########---------]  12/40 acknowledged`, redrawn in place on a terminal. */
export function progressBar(progress: Progress, width = PROGRESS_BAR_WIDTH): string {
  const filled = progress.total === 0 ? width : Math.round((progress.acked / progress.total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${progress.acked}/${progress.total} acknowledged`;
}

function isTerminal(sink: TextSink): boolean {
  return (sink as { isTTY?: unknown }).isTTY === true;
}

function resultJson(options: RotateOptions, response: RotateKeysResponse, state: string, outcome: Outcome, progress: Progress | undefined): Record<string, unknown> {
  return {
    fleet: options.fleet,
    group: options.group ?? '',
    newEpoch: { keyId: response.newEpoch?.keyId ?? '', version: response.newEpoch?.version ?? 0 },
    state,
    activationDeadline: response.activationDeadline === undefined ? null : new Date(timestampMs(response.activationDeadline)).toISOString(),
    outcome,
    ...(progress === undefined ? {} : { acknowledged: progress.acked, devices: progress.total }),
  };
}

async function follow(
  client: OperatorClient,
  out: Printer,
  stdout: TextSink,
  options: RotateOptions,
  response: RotateKeysResponse,
  baseline: ReadonlyMap<string, bigint>,
  budgetMs: number | undefined,
  clock: WaitClock,
): Promise<{ outcome: Outcome; progress: Progress }> {
  const version = response.newEpoch?.version ?? 0;
  const deadline = response.activationDeadline === undefined ? clock.now() : timestampMs(response.activationDeadline);
  const giveUpAt = clock.now() + (budgetMs ?? Math.max(0, deadline - clock.now()) + WAIT_PAST_DEADLINE_MS);
  const terminal = isTerminal(stdout) && !out.json;
  let shown = '';
  const show = (progress: Progress): void => {
    if (out.json) return;
    if (terminal) stdout.write(`\r${progressBar(progress)}`);
    else {
      const line = `acknowledged ${progress.acked}/${progress.total}`;
      if (line !== shown) out.line(line);
      shown = line;
    }
  };
  const done = (outcome: Outcome, progress: Progress) => {
    if (terminal) stdout.write('\n');
    return { outcome, progress };
  };
  for (;;) {
    const progress = progressOf(await activeDevices(client, options.fleet, options.group), baseline);
    show(progress);
    if (options.group === undefined) {
      if (await fleetEpochActive(client, options.fleet, version)) return done('active', progress);
    } else {
      if (progress.acked === progress.total) return done('acknowledged', progress);
      if (clock.now() >= deadline) return done('deadline-passed', progress);
    }
    if (clock.now() >= giveUpAt) return done('timed-out', progress);
    await clock.sleep(Math.min(options.pollInterval * 1000, Math.max(0, giveUpAt - clock.now())));
  }
}

export function registerRotateCommand(program: Command, runtime: Runtime, clock: WaitClock = realClock): void {
  program
    .command('rotate')
    .description("rotate a fleet's communication key now, or a group's with --group (roles admin, operator)")
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .option('--group <group>', "rotate this group's key instead of the fleet key", identifier('group id'))
    .option('--reason <text>', `why (kept in the audit log; at most ${MAX_REASON_BYTES} bytes)`, boundedText(MAX_REASON_BYTES))
    .option('--wait', 'follow the rotation until the new epoch is active, showing acknowledgements')
    .addOption(new Option('--poll-interval <seconds>', 'seconds between progress checks with --wait').argParser(timeoutSeconds).default(DEFAULT_POLL_SECONDS))
    .action(async (options: RotateOptions, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        // Snapshot before the rotation: a device counts once its acknowledged sequence rises past it.
        const baseline = new Map<string, bigint>();
        if (options.wait === true) for (const device of await activeDevices(client, options.fleet, options.group)) baseline.set(device.deviceId, device.lastKeyBundleSequence);
        const response = await client.rotateKeys({ fleet: options.fleet, group: options.group ?? '', reason: options.reason ?? '' });
        const pendingState = enumName(KEY_STATES, response.state);
        let outcome: Outcome = 'not-waited';
        let progress: Progress | undefined;
        if (options.wait === true) {
          if (!out.json) out.line(`rotating ${printable(response.newEpoch?.keyId ?? '')} to version ${response.newEpoch?.version ?? 0}`);
          const explicit = command.getOptionValueSourceWithGlobals('timeout') === 'cli';
          const budgetMs = explicit ? runtime.options(command).timeout * 1000 : undefined;
          ({ outcome, progress } = await follow(client, out, runtime.io.stdout, options, response, baseline, budgetMs, clock));
        }
        const state = outcome === 'active' ? 'active' : pendingState;
        if (out.json) out.document(resultJson(options, response, state, outcome, progress));
        else {
          out.fields([
            ['Key', response.newEpoch?.keyId ?? ''],
            ['Version', String(response.newEpoch?.version ?? 0)],
            ['State', state],
            ['Activation deadline', response.activationDeadline === undefined ? '' : new Date(timestampMs(response.activationDeadline)).toISOString().replace(/\.\d{3}Z$/, 'Z')],
            ...(progress === undefined ? [] : ([['Acknowledged', `${progress.acked}/${progress.total}`]] as [string, string][])),
          ]);
        }
        if (outcome === 'timed-out') {
          out.note(`stopped waiting: version ${response.newEpoch?.version ?? 0} is still pending (it is activated at its deadline at the latest)`);
          runtime.exitCode = EXIT.failure;
        } else if (outcome === 'deadline-passed') {
          out.note('the activation deadline has passed: the controller activates the group key at its next scheduler tick (the operator API does not show group key states)');
        }
      });
    });
}
