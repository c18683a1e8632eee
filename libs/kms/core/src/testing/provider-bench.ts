/**
 * The one benchmark of a KmsProvider adapter, shared by the five adapters' `bench/*.bench.ts`
 * (each only starts its emulator or temp key file, builds the bare provider and calls
 * `runProviderBenchmarks`). In one run, against the same bare provider:
 *  - wrap / unwrap of 32 bytes and sign (one or more key specs) calls per second, bare adapter vs
 *    the same adapter through `withDefaults` (timeout -> retry -> circuit breaker -> cache ->
 *    metrics). Target: at most 5% overhead (`maxCostRatio: 1.05`), printed, not enforced;
 *  - a `withCache` getPublicKey hit vs a provider call, and — when the caller passes the
 *    emulator's request counter — a check that the cache hits made no provider request (throws);
 *  - an interleaved A/B loop per operation (bare and stack calls alternating, order flipped every
 *    round): median / p99 wall time and process CPU time per call. On a shared 2-core machine the
 *    sequential tinybench tables drift by tens of percent between tasks; alternation cancels the
 *    drift in wall time, and CPU time per call (this process runs adapter and emulator) is nearly
 *    immune to other processes' load, so these are the figures to read for the 5% target;
 *  - the wrap+unwrap round-trip latency distribution of the bare adapter, for sizing.
 * Figures are printed with @fleetkey/bench (`runComparison` / `printMeasurements`) and returned.
 *
 * Trust boundary: benchmark tooling only; never imported by production code. Keys it creates are
 * throwaway keys in the caller's emulator / temp key file.
 */
import { percentile, printMeasurements, runComparison, type BenchCase, type CaseFigures } from '@fleetkey/bench';
import { withCache } from '../decorators/cache.js';
import { withDefaults } from '../decorators/defaults.js';
import type { KmsContext, KmsKeySpec, KmsProvider } from '../provider.js';

/** A signing key spec to benchmark. */
export interface ProviderBenchSignSpec {
  readonly spec: KmsKeySpec;
  /**
   * Compare through `withDefaults` (tinybench table and A/B loop); default true. False times the
   * bare adapter only, e.g. for a spec whose cost is the emulator's, not the adapter's.
   */
  readonly compare?: boolean;
  /** Appended to the sign table's title, e.g. why the figure is emulator-bound. */
  readonly note?: string;
}

/** What the benchmark created, for vendor-specific extra cases. */
export interface ProviderBenchFixture {
  readonly aesKeyId: string;
  /** Key id per benchmarked sign spec. */
  readonly signKeyIds: Readonly<Partial<Record<KmsKeySpec, string>>>;
  readonly plaintext: Uint8Array;
  readonly context: KmsContext;
  readonly envelope: Uint8Array;
  readonly message: Uint8Array;
}

export interface ProviderBenchmarkOptions {
  /** Provider name for titles, e.g. "AWS". */
  readonly label: string;
  /** The bare adapter. The caller closes it (and its emulator) afterwards. */
  readonly bare: KmsProvider;
  /**
   * The provider's request counter (e.g. `() => emulator.faults.requests`). When given, the
   * benchmark checks that cache hits made no provider request and throws if they did.
   */
  readonly requests?: () => number;
  /** Sign specs, first compared one first; default ECDSA P-256 compared. */
  readonly signSpecs?: readonly ProviderBenchSignSpec[];
  /** Rounds of the interleaved A/B loop per operation (one bare + one stack call each); default 250. */
  readonly abRounds?: number;
  /** Warm-up rounds over both stacks before anything is measured; default 50. */
  readonly warmupRounds?: number;
  /** Sequential wrap+unwrap round trips timed for the latency distribution; default 200, 0 skips. */
  readonly roundTrips?: number;
  /** Milliseconds per tinybench task (default 1000). */
  readonly time?: number;
  /** Minimum iterations per tinybench task (default 64). */
  readonly iterations?: number;
  /** What one call does at this vendor, appended to the table titles. */
  readonly describe?: { readonly wrap?: string; readonly unwrap?: string; readonly getPublicKey?: string };
  /**
   * Provider for the getPublicKey comparison (baseline and under `withCache`), when the bare
   * adapter caches key info itself; default `bare`. The caller closes it.
   */
  readonly publicKeyProvider?: KmsProvider;
  /** Extra cases in the wrap table (e.g. the raw vendor call or the in-memory seal alone). */
  readonly extraWrapCases?: (fixture: ProviderBenchFixture) => readonly BenchCase[];
}

/** One operation's interleaved A/B figures (milliseconds wall, microseconds CPU). */
export interface AbFigures {
  readonly operation: string;
  readonly bareP50Ms: number;
  readonly stackP50Ms: number;
  readonly bareP99Ms: number;
  readonly stackP99Ms: number;
  readonly bareCpuUs: number;
  readonly stackCpuUs: number;
}

export interface ProviderBenchmarkResult {
  readonly tables: Readonly<Record<string, CaseFigures[]>>;
  readonly ab: readonly AbFigures[];
  /** Provider requests made by the cache hits (undefined without `requests`). */
  readonly cacheHitRequests: number | undefined;
  readonly metricsRecords: number;
}

const MAX_COST_RATIO = 1.05;
const CACHE_CHECK_HITS = 200;

type Call = () => Promise<unknown>;

function checkCount(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min || value > 1_000_000) throw new RangeError(`"${name}" expected an integer ${min}..1000000`);
}

function pct(stack: number, bare: number): string {
  return `${(((stack - bare) / bare) * 100).toFixed(1)}%`;
}

function verdict(stack: number, bare: number): string {
  return `target <= 5%: ${stack / bare <= MAX_COST_RATIO ? 'met' : 'MISSED'}`;
}

async function interleaved(operation: string, rounds: number, bare: Call, stack: Call): Promise<AbFigures> {
  const wall: [number[], number[]] = [[], []];
  const cpu = [0, 0];
  const calls = [bare, stack] as const;
  for (let i = 0; i < rounds; i += 1) {
    for (const side of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const cpuStart = process.cpuUsage();
      const started = performance.now();
      await calls[side]!();
      wall[side]!.push(performance.now() - started);
      const used = process.cpuUsage(cpuStart);
      cpu[side]! += used.user + used.system;
    }
  }
  return {
    operation,
    bareP50Ms: percentile(wall[0], 50),
    stackP50Ms: percentile(wall[1], 50),
    bareP99Ms: percentile(wall[0], 99),
    stackP99Ms: percentile(wall[1], 99),
    bareCpuUs: cpu[0]! / rounds,
    stackCpuUs: cpu[1]! / rounds,
  };
}

/**
 * Creates an AES-256 key and one key per sign spec on `bare`, then runs and prints every figure
 * described in the module comment.
 * @throws RangeError for out-of-range counts; Error when a stack call returns a wrong result or a
 * cache hit made a provider request; whatever the provider throws.
 */
export async function runProviderBenchmarks(options: ProviderBenchmarkOptions): Promise<ProviderBenchmarkResult> {
  const { label, bare } = options;
  const abRounds = options.abRounds ?? 250;
  const warmupRounds = options.warmupRounds ?? 50;
  const roundTrips = options.roundTrips ?? 200;
  checkCount(abRounds, 'abRounds', 1);
  checkCount(warmupRounds, 'warmupRounds', 0);
  checkCount(roundTrips, 'roundTrips', 0);
  const signSpecs = options.signSpecs ?? [{ spec: 'ECDSA_P256' }];
  if (signSpecs.length === 0) throw new RangeError('"signSpecs" must not be empty');
  const timing = { time: options.time ?? 1000, iterations: options.iterations ?? 64 };
  const detail = (text: string | undefined): string => (text === undefined ? '' : ` (${text})`);

  let metricsRecords = 0;
  const stack = withDefaults(bare, { metrics: { record: () => void (metricsRecords += 1) } });

  const aes = await bare.createKey({ spec: 'AES_256' });
  const signKeyIds: Partial<Record<KmsKeySpec, string>> = {};
  for (const { spec } of signSpecs) signKeyIds[spec] ??= (await bare.createKey({ spec })).keyId;
  const plaintext = new Uint8Array(32).fill(7);
  const context: KmsContext = { fleet: 'bench', purpose: 'store-key' };
  const envelope = await bare.wrap({ keyId: aes.keyId, plaintext, context });
  const message = new TextEncoder().encode('rotate fleet acme key 42');
  const fixture: ProviderBenchFixture = { aesKeyId: aes.keyId, signKeyIds, plaintext, context, envelope, message };

  const wrapOf = (p: KmsProvider): Call => () => p.wrap({ keyId: aes.keyId, plaintext, context });
  const unwrapOf = (p: KmsProvider): Call => () => p.unwrap({ envelope, context });
  const signOf = (p: KmsProvider, spec: KmsKeySpec): Call => () => p.sign({ keyId: signKeyIds[spec]!, data: message });
  const compared = signSpecs.filter((s) => s.compare !== false);

  // Sanity: what we time must work through both paths.
  const unwrapped = await stack.unwrap({ envelope: await stack.wrap({ keyId: aes.keyId, plaintext, context }), context });
  if (unwrapped.length !== plaintext.length || !unwrapped.every((b, i) => b === plaintext[i])) throw new Error(`${label}: stack wrap/unwrap round trip failed`);
  for (const { spec } of compared) {
    if ((await stack.sign({ keyId: signKeyIds[spec]!, data: message })).signature.length < 8) throw new Error(`${label}: stack sign ${spec} failed`);
  }

  // Warm the JIT, the SDK's middleware and the socket pool / channel for both stacks first, so the
  // baseline (which tinybench runs first) is not charged for warm-up.
  for (let i = 0; i < warmupRounds; i += 1) {
    for (const p of [bare, stack]) {
      await p.unwrap({ envelope: await p.wrap({ keyId: aes.keyId, plaintext, context }), context });
      for (const { spec } of signSpecs) await signOf(p, spec)();
    }
  }

  const tables: Record<string, CaseFigures[]> = {};
  tables.wrap = await runComparison({
    ...timing,
    title: `${label} wrap 32 bytes${detail(options.describe?.wrap)}: bare adapter vs withDefaults`,
    baseline: { name: 'wrap, bare adapter', fn: wrapOf(bare) },
    cases: [{ name: 'wrap, withDefaults stack', fn: wrapOf(stack), maxCostRatio: MAX_COST_RATIO }, ...(options.extraWrapCases?.(fixture) ?? [])],
  });
  tables.unwrap = await runComparison({
    ...timing,
    title: `${label} unwrap${detail(options.describe?.unwrap)}: bare adapter vs withDefaults`,
    baseline: { name: 'unwrap, bare adapter', fn: unwrapOf(bare) },
    cases: [{ name: 'unwrap, withDefaults stack', fn: unwrapOf(stack), maxCostRatio: MAX_COST_RATIO }],
  });
  const [first, ...rest] = signSpecs as [ProviderBenchSignSpec, ...ProviderBenchSignSpec[]];
  const signCases: BenchCase[] = [];
  if (first.compare !== false) signCases.push({ name: `sign ${first.spec}, withDefaults stack`, fn: signOf(stack, first.spec), maxCostRatio: MAX_COST_RATIO });
  for (const s of rest) {
    signCases.push({ name: `sign ${s.spec}, bare adapter`, fn: signOf(bare, s.spec) });
    if (s.compare !== false) signCases.push({ name: `sign ${s.spec}, withDefaults stack`, fn: signOf(stack, s.spec) });
  }
  const notes = signSpecs.filter((s) => s.note !== undefined).map((s) => `${s.spec}: ${s.note}`);
  tables.sign = await runComparison({
    ...timing,
    title: `${label} sign ${signSpecs.map((s) => s.spec).join(', ')}${notes.length === 0 ? '' : ` (${notes.join('; ')})`}: bare adapter vs withDefaults`,
    baseline: { name: `sign ${first.spec}, bare adapter`, fn: signOf(bare, first.spec) },
    cases: signCases,
  });

  const publicKeyProvider = options.publicKeyProvider ?? bare;
  const publicKeyId = signKeyIds[first.spec]!;
  const cached = withCache(publicKeyProvider, { ttlMs: 300_000 });
  await cached.getPublicKey({ keyId: publicKeyId });
  tables.getPublicKey = await runComparison({
    ...timing,
    title: `${label} getPublicKey: provider call${detail(options.describe?.getPublicKey)} vs withCache hit`,
    baseline: { name: 'getPublicKey, provider call', fn: () => publicKeyProvider.getPublicKey({ keyId: publicKeyId }) },
    cases: [{ name: 'getPublicKey, cache hit', fn: () => cached.getPublicKey({ keyId: publicKeyId }) }],
  });
  let cacheHitRequests: number | undefined;
  if (options.requests !== undefined) {
    const before = options.requests();
    for (let i = 0; i < CACHE_CHECK_HITS; i += 1) await cached.getPublicKey({ keyId: publicKeyId });
    cacheHitRequests = options.requests() - before;
  }

  const ab: AbFigures[] = [];
  ab.push(await interleaved('wrap', abRounds, wrapOf(bare), wrapOf(stack)));
  ab.push(await interleaved('unwrap', abRounds, unwrapOf(bare), unwrapOf(stack)));
  for (const { spec } of compared) ab.push(await interleaved(`sign ${spec}`, abRounds, signOf(bare, spec), signOf(stack, spec)));
  printMeasurements(
    `${label} withDefaults overhead, interleaved A/B (${abRounds} rounds per operation; the figures to read for the <= 5% target)`,
    ab.flatMap((f) => [
      [`${f.operation}: CPU per call, bare / stack`, `${f.bareCpuUs.toFixed(0)} / ${f.stackCpuUs.toFixed(0)} µs (${pct(f.stackCpuUs, f.bareCpuUs)}; ${verdict(f.stackCpuUs, f.bareCpuUs)})`],
      [
        `${f.operation}: wall p50 (p99), bare / stack`,
        `${f.bareP50Ms.toFixed(3)} (${f.bareP99Ms.toFixed(3)}) / ${f.stackP50Ms.toFixed(3)} (${f.stackP99Ms.toFixed(3)}) ms (p50 ${pct(f.stackP50Ms, f.bareP50Ms)}; ${verdict(f.stackP50Ms, f.bareP50Ms)})`,
      ],
    ]),
  );

  const summary: Array<[string, string]> = [];
  if (roundTrips > 0) {
    const samples: number[] = [];
    for (let i = 0; i < roundTrips; i += 1) {
      const started = performance.now();
      await bare.unwrap({ envelope: await bare.wrap({ keyId: aes.keyId, plaintext, context }), context });
      samples.push(performance.now() - started);
    }
    summary.push([`wrap+unwrap round trip, bare adapter (${roundTrips} sequential) p50 / p99`, `${percentile(samples, 50).toFixed(3)} / ${percentile(samples, 99).toFixed(3)} ms`]);
  }
  summary.push([
    `provider requests made by ${CACHE_CHECK_HITS} withCache hits`,
    cacheHitRequests === undefined ? 'not checked (no request counter)' : `${cacheHitRequests} (expected 0: ${cacheHitRequests === 0 ? 'ok' : 'FAILED'})`,
  ]);
  summary.push(['metrics records seen by the withDefaults stack', String(metricsRecords)]);
  printMeasurements(`${label} summary`, summary);
  if (cacheHitRequests !== undefined && cacheHitRequests !== 0) throw new Error(`${label}: ${cacheHitRequests} provider requests during ${CACHE_CHECK_HITS} cache hits (expected 0)`);

  return { tables, ab, cacheHitRequests, metricsRecords };
}
