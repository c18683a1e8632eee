/**
 * The rotation scheduler: on every tick, for every fleet and every key series (the fleet-wide one,
 * each group that has epochs, each group that has a policy of its own), it takes one step of the
 * state machine (./advance.ts), republishes bundles after a change, and starts the next rotation
 * when the policy's interval has passed since the last one started (./rotate.ts) — or at once,
 * superseding the pending epoch, when a device that may hold it was revoked since it was made
 * (a revocation whose own rotation failed).
 *
 * Crash safety by construction: the scheduler holds no state of its own. Everything it decides
 * comes from the epochs table and the signed manifests, so after a crash or a restart the first
 * tick (run at start) resumes a pending rotation or rolls it forward, and a full republish of every
 * fleet's bundles rebuilds what the embedded broker's memory lost. Ticks never overlap.
 *
 * One controller runs the scheduler; with replicas (issue 9) a leader lease will gate `tick`. The
 * store's unique versions and the optimistic checks keep even two concurrent schedulers sound.
 *
 * Trust boundary: no input from outside the controller; logs name fleets, series and versions only.
 */
import { isFleetkeyError } from '@fleetkey/key-types';
import type { ControllerCore } from '../core/core.js';
import type { Logger } from '../runtime/logger.js';
import { advanceSeries } from './advance.js';
import type { BundleDistributor, DistributionReport } from './bundles.js';
import { hasGroupPolicy, loadSchedulerTick } from './policy.js';
import { rotateNow } from './rotate.js';
import { seriesName } from './series.js';

/** The reason recorded for rotations the scheduler starts. */
export const SCHEDULED_REASON = 'scheduled rotation';
/** The reason recorded when the scheduler supersedes a pending epoch a since-revoked device may hold. */
export const SUPERSEDING_REASON = 'a device was revoked after the pending epoch was distributed';

export interface TickReport {
  readonly activated: readonly string[];
  readonly expired: readonly string[];
  readonly rotated: readonly string[];
  /** Series whose step failed (logged; retried at the next tick). */
  readonly failed: readonly string[];
  /** Distributions the tick started (resolve when published; never reject). */
  readonly distributions: readonly Promise<DistributionReport>[];
}

export interface RotationSchedulerOptions {
  readonly core: ControllerCore;
  readonly logger: Logger;
  /** Publishes bundles after changes; without one, devices fetch them over gRPC. */
  readonly distributor?: BundleDistributor;
  /** Overrides the stored `rotation-scheduler` tick. */
  readonly tickIntervalMs?: number;
}

export class RotationScheduler {
  readonly #options: RotationSchedulerOptions;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RotationSchedulerOptions) {
    this.#options = options;
  }

  /** Starts ticking: the first tick now (not awaited), then one every tick interval. */
  async start(): Promise<void> {
    if (this.#loop !== undefined) return;
    const tickIntervalMs = this.#options.tickIntervalMs ?? (await loadSchedulerTick(this.#options.core.repository));
    this.#loop = this.#run(tickIntervalMs);
  }

  /** Stops ticking and waits for a running tick to end. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
  }

  /** One pass over every fleet and series at the core's current time. */
  async tick(): Promise<TickReport> {
    const { core, logger, distributor } = this.#options;
    const report = { activated: [] as string[], expired: [] as string[], rotated: [] as string[], failed: [] as string[], distributions: [] as Promise<DistributionReport>[] };
    for (const fleet of await core.repository.listFleets()) {
      for (const groupId of await this.#seriesOf(fleet.id)) {
        if (this.#stopped) return report;
        const name = seriesName(fleet.id, groupId);
        try {
          const outcome = await advanceSeries(core, fleet.id, groupId);
          if (outcome.activated !== null) report.activated.push(`${name}@${outcome.activated}`);
          report.expired.push(...outcome.expired.map((version) => `${name}@${version}`));
          if (outcome.changed) {
            logger.info({ series: name, activated: outcome.activated, retired: outcome.retired, expired: outcome.expired }, 'key series advanced');
            if (distributor !== undefined) report.distributions.push(distributor.distribute(fleet.id, groupId === null ? { kind: 'fleet' } : { kind: 'groups', groupIds: new Set([groupId]) }));
          }
          const due = outcome.lastRotationAt === null || outcome.lastRotationAt + outcome.policy.intervalMs <= core.clock();
          if (outcome.compromised || (!outcome.pending && due)) {
            const started = await rotateNow(core, { fleetId: fleet.id, groupId, actor: 'system', reason: outcome.compromised ? SUPERSEDING_REASON : SCHEDULED_REASON });
            report.rotated.push(`${name}@${started.version}`);
            report.distributions.push(started.distribution);
            logger.info({ series: name, version: started.version, activationDeadline: new Date(started.activationDeadline).toISOString() }, 'scheduled rotation started');
          }
        } catch (error) {
          report.failed.push(name);
          if (isFleetkeyError(error, 'ILLEGAL_STATE_TRANSITION')) logger.warn({ err: error, series: name }, 'rotation step deferred to the next tick');
          else logger.error({ err: error, series: name }, 'rotation step failed');
        }
      }
    }
    return report;
  }

  /** null (fleet-wide) first, then every group with epochs or a policy of its own. */
  async #seriesOf(fleetId: string): Promise<(string | null)[]> {
    const { repository } = this.#options.core;
    const groups = new Set<string>();
    for (const epoch of await repository.listEpochs(fleetId)) if (epoch.groupId !== null) groups.add(epoch.groupId);
    for (const group of await repository.listGroups(fleetId)) if (!groups.has(group.id) && (await hasGroupPolicy(repository, fleetId, group.id))) groups.add(group.id);
    return [null, ...[...groups].sort()];
  }

  async #run(tickIntervalMs: number): Promise<void> {
    const { core, logger, distributor } = this.#options;
    let first = true;
    while (!this.#stopped) {
      try {
        await this.tick();
        if (first && distributor !== undefined) {
          // The embedded broker keeps retained messages in memory only: rebuild every bundle.
          for (const fleet of await core.repository.listFleets()) void distributor.distribute(fleet.id, { kind: 'fleet' });
        }
      } catch (error) {
        logger.error({ err: error }, 'rotation tick failed');
      }
      first = false;
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, tickIntervalMs);
        this.#timer.unref();
      });
      this.#wake = undefined;
    }
  }
}
