/**
 * @fleetkey/bench — one way to run and print benchmarks. Every comparison measures its baseline
 * in the same run on the same machine, because shared machines are noisy and a figure without a
 * same-run baseline says little. Only benchmark files import this; nothing in production does.
 */
import { Bench } from 'tinybench';

export interface BenchCase {
  readonly name: string;
  readonly fn: () => unknown | Promise<unknown>;
  /** Optional target: the case may cost at most this many times the baseline. Printed, not enforced. */
  readonly maxCostRatio?: number;
}

export interface ComparisonOptions {
  readonly title: string;
  readonly baseline: BenchCase;
  readonly cases: readonly BenchCase[];
  /** Milliseconds per task (default 1000). */
  readonly time?: number;
  /** Minimum iterations per task (default 64). */
  readonly iterations?: number;
}

export interface CaseFigures {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly samples: number;
  /** How many times the baseline's time per operation this case takes (1 for the baseline). */
  readonly costRatio: number;
  readonly maxCostRatio?: number;
}

function figuresOf(bench: Bench, benchCase: BenchCase, baselineOps: number | undefined): CaseFigures {
  const task = bench.getTask(benchCase.name);
  const result = task?.result;
  if (!task || !result || !('latency' in result) || !('throughput' in result)) {
    throw new Error(`benchmark "${benchCase.name}" produced no result (state: ${result?.state ?? 'missing'})`);
  }
  const opsPerSecond = result.throughput.mean;
  return {
    name: benchCase.name,
    opsPerSecond,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    samples: result.latency.samplesCount,
    costRatio: baselineOps === undefined ? 1 : baselineOps / opsPerSecond,
    ...(benchCase.maxCostRatio === undefined ? {} : { maxCostRatio: benchCase.maxCostRatio }),
  };
}

/** Runs the baseline and every case, prints a table, and returns the figures. */
export async function runComparison(options: ComparisonOptions): Promise<CaseFigures[]> {
  const bench = new Bench({ time: options.time ?? 1000, iterations: options.iterations ?? 64, warmup: true });
  for (const item of [options.baseline, ...options.cases]) bench.add(item.name, item.fn);
  await bench.run();
  const baseline = figuresOf(bench, options.baseline, undefined);
  const rows = [baseline, ...options.cases.map((c) => figuresOf(bench, c, baseline.opsPerSecond))];
  printTable(options.title, rows);
  return rows;
}

export function formatRate(opsPerSecond: number): string {
  return opsPerSecond >= 1000 ? `${(opsPerSecond / 1000).toFixed(1)}k/s` : `${opsPerSecond.toFixed(1)}/s`;
}

function verdict(row: CaseFigures): string {
  if (row.maxCostRatio === undefined) return '';
  return row.costRatio <= row.maxCostRatio ? `target <= ${row.maxCostRatio}x: met` : `target <= ${row.maxCostRatio}x: MISSED`;
}

export function printTable(title: string, rows: readonly CaseFigures[]): void {
  console.log(`\n## ${title}`);
  const header = ['case', 'rate', 'p50 ms', 'p99 ms', 'samples', 'x baseline', ''];
  const body = rows.map((r, i) => [
    i === 0 ? `${r.name} (baseline)` : r.name,
    formatRate(r.opsPerSecond),
    r.p50Ms.toFixed(4),
    r.p99Ms.toFixed(4),
    String(r.samples),
    r.costRatio.toFixed(2),
    verdict(r),
  ]);
  printRows([header, ...body]);
}

/** Prints free-form measurements (for example a one-off timing) as an aligned table. */
export function printMeasurements(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
  console.log(`\n## ${title}`);
  printRows([['measurement', 'value'], ...rows.map((r) => [...r])]);
}

function printRows(rows: string[][]): void {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd());
}

/** Nearest-rank percentile of already-collected samples (milliseconds). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('"samples" must not be empty');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
