/**
 * Distribution of key bundles after a rotation step: every affected active device gets its bundle
 * — the fleet's signed manifests and each usable epoch key wrapped to the device's identity key —
 * published RETAINED at QoS 1 on its `devices/<id>/keys` topic and emitted on FleetEvents
 * ('bundle') for open command streams. Robots that were away fetch the same bundle with
 * DeviceService.GetKeyBundle.
 *
 * A fleet's epochs, manifests and plaintext epoch keys are loaded ONCE per distribution run, so
 * per-device work is the local public-key wrapping only (no KMS call, no store read per device),
 * and an epoch key already wrapped to a device certificate is reused from a bounded cache, so a
 * rotation wraps only the new epoch. `FleetBundleSource.bundleFor` builds what provisioning's
 * `keyBundleFor` builds (same series, manifests, wrapping parameters and sequence = sum of the
 * manifests' sequences); a test holds them equal and opens both as a robot does.
 *
 * Runs are serialized per fleet and always build from the state current when they start: a newer
 * request aborts the running one at its next chunk and the next run covers both, so the last
 * retained bundle of every device is built from the newest state, never an older run's.
 *
 * Trust boundary: plaintext epoch keys live in this module only as copies held for one run and
 * zeroized when it ends; the caches hold public material only (device public keys, keys already
 * wrapped to them — the bytes published anyway), keyed by device certificate and by a digest of
 * the stored epoch, so a renewed key or another epoch never gets a stale wrap. Stored
 * certificates are walked with a bounded DER reader, the key they carry checked by node:crypto.
 * Only active devices receive anything: a revoked device is skipped even if a caller names it, and
 * `clearRetained` removes what the broker still holds for one.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { wrapToPublicKey } from '@fleetkey/crypto';
import {
  DEVICE_WRAP_PROVIDER,
  EpochManifestSchema,
  KeyBundleSchema,
  KeyRefSchema,
  MAX_SIGNED_PAYLOAD_BYTES,
  TOPIC_SPECS,
  communicationKeyId,
  decodeMessage,
  deviceKeysTopic,
  keyBundleWrapContext,
  type KeyBundle,
  type KeyRef,
  type SignedEpochManifest,
} from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import type { FleetEvents, FleetPublisher } from '../fleet-events/index.js';
import { loadEpochManifest } from '../fleets/settings.js';
import type { Logger } from '../runtime/logger.js';
import type { CommunicationEpoch, Device } from '../store/index.js';
import { USABLE_STATES, copyEpochKeys } from './series.js';

/** Devices handled between two yields to the event loop (gRPC and MQTT keep being served). */
export const DISTRIBUTION_CHUNK = 64;
/** Failures logged one by one per run; the rest are counted in one summary line. */
export const MAX_LOGGED_FAILURES = 10;
/** Most device public keys kept parsed between runs (one per device certificate). */
export const MAX_CACHED_DEVICE_KEYS = 200_000;
/**
 * Most wrapped epoch keys kept between runs (about 200 bytes each): a rotation then wraps only the
 * new epoch for each device, the epochs it already holds are served as wrapped before.
 */
export const MAX_CACHED_WRAPPED_KEYS = 100_000;
/** Bound of a DER length field this parser accepts (certificates are at most a few KiB). */
const MAX_DER_LENGTH_BYTES = 3;

const deviceKeys = new Map<string, KeyObject>();
const wrappedKeys = new Map<string, Uint8Array>();

function remember<V>(cache: Map<string, V>, bound: number, key: string, value: V): V {
  if (cache.size >= bound) {
    const [oldest] = cache.keys();
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(key, value);
  return value;
}

/** One DER TLV at `offset`: its tag, where its contents start and where it ends. @throws RangeError */
function derElement(der: Uint8Array, offset: number, end: number): { tag: number; offset: number; start: number; next: number } {
  if (offset + 2 > end) throw new RangeError('truncated DER');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > MAX_DER_LENGTH_BYTES || start + count > end) throw new RangeError('unsupported DER length');
    length = 0;
    for (let index = 0; index < count; index++) length = length * 256 + der[start + index]!;
    start += count;
  }
  if (start + length > end) throw new RangeError('truncated DER');
  return { tag, offset, start, next: start + length };
}

/**
 * The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1): Certificate SEQUENCE →
 * tbsCertificate SEQUENCE → [0] version, serialNumber, signature, issuer, validity, subject,
 * subjectPublicKeyInfo. Only walks the structure; the key itself is checked by createPublicKey.
 * @throws RangeError for anything else.
 */
export function spkiOfCertificate(der: Uint8Array): Uint8Array {
  const certificate = derElement(der, 0, der.length);
  if (certificate.tag !== 0x30) throw new RangeError('not a certificate');
  const tbs = derElement(der, certificate.start, certificate.next);
  if (tbs.tag !== 0x30) throw new RangeError('not a certificate');
  let field = derElement(der, tbs.start, tbs.next);
  if (field.tag === 0xa0) field = derElement(der, field.next, tbs.next);
  const expected = [0x02, 0x30, 0x30, 0x30, 0x30]; // serialNumber, signature, issuer, validity, subject
  for (const tag of expected) {
    if (field.tag !== tag) throw new RangeError('not a certificate');
    field = derElement(der, field.next, tbs.next);
  }
  if (field.tag !== 0x30) throw new RangeError('not a certificate');
  return der.subarray(field.offset, field.next);
}

/** The identity public key of a device's current certificate (parsed once per certificate). */
export function devicePublicKey(device: Pick<Device, 'fleetId' | 'deviceId' | 'certificateSerial' | 'certificateDer'>): KeyObject {
  const cacheKey = `${device.fleetId}/${device.deviceId}/${device.certificateSerial}`;
  const cached = deviceKeys.get(cacheKey);
  if (cached !== undefined) return cached;
  const key = createPublicKey({ key: Buffer.from(spkiOfCertificate(device.certificateDer)), format: 'der', type: 'spki' });
  return remember(deviceKeys, MAX_CACHED_DEVICE_KEYS, cacheKey, key);
}

interface LoadedSeries {
  readonly groupId: string | null;
  readonly manifest: SignedEpochManifest;
  readonly sequence: number;
  readonly epochs: readonly CommunicationEpoch[];
  /** Per version: a digest of the stored (KEK-wrapped) epoch, naming it in the wrapped-key cache. */
  readonly fingerprints: ReadonlyMap<number, string>;
}

function fingerprintOf(epoch: CommunicationEpoch): string {
  return createHash('sha256').update(epoch.wrappedKey).digest('base64url').slice(0, 22);
}

/** Everything a fleet's bundles are built from, loaded once; `release()` zeroizes the key copies. */
export class FleetBundleSource {
  readonly #series: ReadonlyMap<string | null, LoadedSeries>;
  readonly #keys: ReadonlyMap<string, Uint8Array>;
  readonly #release: () => void;

  private constructor(
    readonly fleetId: string,
    private readonly clock: () => number,
    series: Map<string | null, LoadedSeries>,
    keys: Map<string, Uint8Array>,
    release: () => void,
  ) {
    this.#series = series;
    this.#keys = keys;
    this.#release = release;
  }

  /** Loads every series of the fleet that has a signed manifest, with copies of its usable keys. */
  static async load(core: ControllerCore, fleetId: string): Promise<FleetBundleSource> {
    const epochs = await core.repository.listEpochs(fleetId, { states: USABLE_STATES });
    const byGroup = new Map<string | null, CommunicationEpoch[]>([[null, []]]);
    for (const epoch of epochs) {
      const list = byGroup.get(epoch.groupId) ?? [];
      list.push(epoch);
      byGroup.set(epoch.groupId, list);
    }
    const series = new Map<string | null, LoadedSeries>();
    const keys = new Map<string, Uint8Array>();
    const releases: (() => void)[] = [];
    const release = (): void => releases.forEach((fn) => fn());
    try {
      for (const [groupId, seriesEpochs] of byGroup) {
        const manifest = await loadEpochManifest(core.repository, fleetId, groupId);
        if (manifest === undefined) continue;
        const sequence = Number(decodeMessage(EpochManifestSchema, manifest.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES }).sequence);
        const copies = await copyEpochKeys(core, seriesEpochs);
        releases.push(copies.release);
        for (const [version, key] of copies.keys) keys.set(`${groupId ?? ''}\u0000${version}`, key);
        series.set(groupId, { groupId, manifest, sequence, epochs: seriesEpochs, fingerprints: new Map(seriesEpochs.map((epoch) => [epoch.version, fingerprintOf(epoch)])) });
      }
    } catch (error) {
      release();
      throw error;
    }
    return new FleetBundleSource(fleetId, core.clock, series, keys, release);
  }

  /** The sequence a device's bundle carries now: the sum of its series' manifest sequences. */
  bundleSequenceOf(groupId: string | null): number {
    return (this.#series.get(null)?.sequence ?? 0) + (groupId === null ? 0 : (this.#series.get(groupId)?.sequence ?? 0));
  }

  /**
   * The device's bundle (what keyBundleFor builds, from the state loaded). An epoch key already
   * wrapped for this device certificate in an earlier run is reused: wrapped keys are public
   * (they are published), only the new epoch costs a wrap.
   * @throws RangeError for a device that is not active or not of this fleet, or whose stored
   *   certificate is not DER; node:crypto's error for a key it cannot import; UnsupportedAlgorithm
   *   for an identity key that cannot receive wrapped keys.
   */
  bundleFor(device: Device): KeyBundle {
    // Precondition: only active devices of this fleet ever receive epoch keys.
    if (device.fleetId !== this.fleetId || device.status !== 'active') throw new RangeError(`device ${device.deviceId} is not an active device of ${this.fleetId}`);
    const publicKey = devicePublicKey(device);
    const context = keyBundleWrapContext(device.deviceId);
    const manifests: SignedEpochManifest[] = [];
    const epochs: { key: KeyRef; wrappedKey: Uint8Array }[] = [];
    for (const groupId of device.groupId === null ? [null] : [null, device.groupId]) {
      const series = this.#series.get(groupId);
      if (series === undefined) continue;
      manifests.push(series.manifest);
      const keyId = communicationKeyId(this.fleetId, groupId);
      for (const epoch of series.epochs) {
        const plaintext = this.#keys.get(`${groupId ?? ''}\u0000${epoch.version}`);
        if (plaintext === undefined) continue;
        const cacheKey = `${this.fleetId}/${device.deviceId}/${device.certificateSerial}/${keyId}@${epoch.version}/${series.fingerprints.get(epoch.version)}`;
        const wrappedKey =
          wrappedKeys.get(cacheKey) ??
          remember(wrappedKeys, MAX_CACHED_WRAPPED_KEYS, cacheKey, wrapToPublicKey({ recipient: publicKey, provider: DEVICE_WRAP_PROVIDER, keyId, keyVersion: epoch.version, plaintext, context }));
        epochs.push({ key: create(KeyRefSchema, { keyId, version: epoch.version }), wrappedKey });
      }
    }
    return create(KeyBundleSchema, {
      fleet: this.fleetId,
      group: device.groupId ?? '',
      deviceId: device.deviceId,
      manifests,
      epochs,
      issuedAt: timestampFromMs(this.clock()),
      sequence: BigInt(this.bundleSequenceOf(device.groupId)),
    });
  }

  release(): void {
    this.#release();
  }
}

/** Which devices of a fleet a distribution covers: all of them, or those of some groups. */
export type DistributionScope = { readonly kind: 'fleet' } | { readonly kind: 'groups'; readonly groupIds: ReadonlySet<string> };

export interface DistributionReport {
  /** Bundles published. */
  readonly published: number;
  /** Devices whose bundle could not be built or published (logged; they can still GetKeyBundle). */
  readonly failed: number;
  /** False when the distributor stopped first (the next start republishes everything). */
  readonly complete: boolean;
}

export interface BundleDistributorOptions {
  readonly core: ControllerCore;
  readonly publisher: FleetPublisher;
  readonly events: FleetEvents;
  readonly logger: Logger;
}

function mergeScopes(a: DistributionScope | undefined, b: DistributionScope): DistributionScope {
  if (a === undefined) return b;
  if (a.kind === 'fleet' || b.kind === 'fleet') return { kind: 'fleet' };
  return { kind: 'groups', groupIds: new Set([...a.groupIds, ...b.groupIds]) };
}

interface Waiter {
  resolve(report: DistributionReport): void;
}

interface FleetQueue {
  pending: DistributionScope | undefined;
  waiters: Waiter[];
  generation: number;
  running: Promise<void> | undefined;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Publishes bundles, one serialized run per fleet at a time (see the module comment). */
export class BundleDistributor {
  readonly #options: BundleDistributorOptions;
  readonly #queues = new Map<string, FleetQueue>();
  #stopped = false;

  constructor(options: BundleDistributorOptions) {
    this.#options = options;
  }

  /**
   * Publishes the current bundle of every active device in `scope`. Resolves when a run covering
   * this request has finished (a later request may widen that run); never rejects — a failed run
   * is logged and reported as incomplete.
   */
  distribute(fleetId: string, scope: DistributionScope): Promise<DistributionReport> {
    if (this.#stopped) return Promise.resolve({ published: 0, failed: 0, complete: false });
    let queue = this.#queues.get(fleetId);
    if (queue === undefined) {
      queue = { pending: undefined, waiters: [], generation: 0, running: undefined };
      this.#queues.set(fleetId, queue);
    }
    const fleetQueue = queue;
    fleetQueue.pending = mergeScopes(fleetQueue.pending, scope);
    fleetQueue.generation += 1;
    const done = new Promise<DistributionReport>((resolve) => fleetQueue.waiters.push({ resolve }));
    fleetQueue.running ??= this.#drain(fleetId, fleetQueue).finally(() => {
      fleetQueue.running = undefined;
      if (fleetQueue.pending === undefined) this.#queues.delete(fleetId);
    });
    return done;
  }

  /**
   * Removes the retained bundles of devices that must no longer receive keys (revoked devices):
   * an empty retained message deletes the retained one [MQTT-3.3.1-10].
   */
  async clearRetained(fleetId: string, deviceIds: readonly string[]): Promise<void> {
    for (const deviceId of deviceIds) {
      await this.#options.publisher.publish(deviceKeysTopic(fleetId, deviceId), new Uint8Array(0), { qos: TOPIC_SPECS['device-keys'].qos, retain: true });
    }
  }

  /** Stops every run at its next chunk and waits for them; later requests resolve as incomplete. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#queues.values()].map((queue) => queue.running));
  }

  async #drain(fleetId: string, queue: FleetQueue): Promise<void> {
    while (queue.pending !== undefined) {
      const scope = queue.pending;
      const waiters = queue.waiters.splice(0);
      queue.pending = undefined;
      const generation = queue.generation;
      const superseded = () => this.#stopped || queue.generation !== generation;
      try {
        const report = await this.#run(fleetId, scope, superseded);
        if (!report.complete && !this.#stopped) {
          // A newer request interrupted this run: the next one covers this scope too.
          queue.pending = mergeScopes(queue.pending, scope);
          queue.waiters.push(...waiters);
        } else {
          for (const waiter of waiters) waiter.resolve(report);
        }
      } catch (error) {
        // Never rejects: callers fire and forget, and devices can still fetch their bundle over gRPC.
        this.#options.logger.error({ err: error, fleet: fleetId }, 'key bundle distribution failed');
        for (const waiter of waiters) waiter.resolve({ published: 0, failed: 0, complete: false });
      }
    }
    if (this.#stopped) for (const waiter of queue.waiters.splice(0)) waiter.resolve({ published: 0, failed: 0, complete: false });
  }

  async #devicesOf(fleetId: string, scope: DistributionScope): Promise<Device[]> {
    const { repository } = this.#options.core;
    if (scope.kind === 'fleet') return repository.listDevices({ fleetId }, { status: 'active' });
    const devices: Device[] = [];
    for (const groupId of [...scope.groupIds].sort()) devices.push(...(await repository.listDevices({ fleetId }, { groupId, status: 'active' })));
    return devices;
  }

  async #run(fleetId: string, scope: DistributionScope, superseded: () => boolean): Promise<DistributionReport> {
    const { core, publisher, events, logger } = this.#options;
    const devices = await this.#devicesOf(fleetId, scope);
    const source = await FleetBundleSource.load(core, fleetId);
    let published = 0;
    let failed = 0;
    try {
      for (let start = 0; start < devices.length; start += DISTRIBUTION_CHUNK) {
        if (superseded()) return { published, failed, complete: false };
        const chunk = devices.slice(start, start + DISTRIBUTION_CHUNK);
        const outcomes = await Promise.all(
          chunk.map(async (device) => {
            try {
              const bundle = source.bundleFor(device);
              await publisher.publish(deviceKeysTopic(fleetId, device.deviceId), toBinary(KeyBundleSchema, bundle), { qos: TOPIC_SPECS['device-keys'].qos, retain: true });
              events.emit('bundle', fleetId, device.deviceId, bundle);
              return true;
            } catch (error) {
              failed += 1;
              if (failed <= MAX_LOGGED_FAILURES) logger.warn({ err: error, fleet: fleetId, device: device.deviceId }, 'key bundle not published');
              return false;
            }
          }),
        );
        published += outcomes.filter(Boolean).length;
        await yieldToEventLoop();
      }
      if (failed > MAX_LOGGED_FAILURES) logger.warn({ fleet: fleetId, failed }, 'key bundles not published (first ones logged above)');
      return { published, failed, complete: true };
    } finally {
      source.release();
    }
  }
}

const distributors = new WeakMap<ControllerCore, BundleDistributor>();

/** Makes `distributor` the one `rotateNow` and the scheduler use for this core (the rotation power does this). */
export function registerDistributor(core: ControllerCore, distributor: BundleDistributor): () => void {
  distributors.set(core, distributor);
  return () => {
    if (distributors.get(core) === distributor) distributors.delete(core);
  };
}

/** The distributor registered for the core; undefined without one (devices then fetch bundles over gRPC). */
export function distributorOf(core: ControllerCore): BundleDistributor | undefined {
  return distributors.get(core);
}
