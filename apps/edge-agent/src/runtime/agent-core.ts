/**
 * The running agent's view of its state: the one object the local API, the controller link and the
 * peer channels share. It caches what every call needs (identity key, certificate, CA chain,
 * revocation set), decides what may be done now (locked? which epoch seals? is the clock to be
 * trusted?) and applies the changes the controller sends, persisting each before it takes effect
 * so a crash or restart never loses a lockdown or a key.
 *
 * Trust boundary: callers hand it only verified inputs (signed commands, bundles and lists are
 * verified by the link before they reach `lock`, `storeBundle`, `setRevocationList`). Keys leave
 * it as copies the caller must zeroize; the trusted time never moves backwards with the system
 * clock.
 */
import { EventEmitter } from 'node:events';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { CertificateRevoked, defaultSignatureAlgorithm, summarizeCertificate, validateDeviceCertificate, type SignatureAlgorithm, type ValidatedDevice } from '@fleetkey/crypto';
import { DeviceLocked, KeysExpired, PeerRefused, canTransition, formatKeyId, formatVersionedKeyId, isFleetkeyError, parseVersionedKeyId, versionedKeyId, type KeyState, type VersionedKeyId } from '@fleetkey/key-types';
import { KeyNotFound, KeyNotUsable } from '@fleetkey/keystore';
import { MAX_SIGNED_REVOCATION_LIST_BYTES, MAX_REVOCATION_LIST_BYTES, RevocationListSchema, SignedRevocationListSchema, communicationKeyId, decodeMessage, type OpenedKeyBundle } from '@fleetkey/protocol';
import type { AgentIdentity, AgentState, LockState, StoredEpoch } from '../state/index.js';
import type { StoredRevocationList } from '../state/revocation-store.js';

/** Default bound on how long cached keys may seal without contact with the controller. */
export const DEFAULT_MAX_OFFLINE_MS = 72 * 3_600_000;
/** Contact times are written to the keystore at most this often (the in-memory value is exact). */
export const CONTACT_PERSIST_INTERVAL_MS = 60_000;
/** A system clock this far behind the trusted time is reported as having jumped backwards. */
export const CLOCK_TOLERANCE_MS = 5 * 60_000;
/** The envelope provider of communication and storage keys held by the agent. */
export const AGENT_KEY_PROVIDER = 'fleetkey';

export interface AgentLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface AgentCoreOptions {
  /** Milliseconds since the epoch; tests inject a fake clock. */
  readonly clock?: () => number;
  readonly maxOfflineMs?: number;
  readonly logger?: AgentLogger;
}

/** A key handed out for one operation; the caller zeroizes `key`. */
export interface KeyUse {
  readonly keyId: string;
  readonly version: number;
  readonly state: KeyState;
  readonly key: Uint8Array;
}

export interface ClockReport {
  readonly systemTime: Date;
  readonly trustedTime: Date;
  /** The system clock is more than CLOCK_TOLERANCE_MS behind the latest trusted time seen. */
  readonly behind: boolean;
}

export interface AgentEvents {
  locked: [LockState & { reason: string }];
  unlocked: [];
  revocations: [];
  keys: [];
  certificate: [];
}

/** Peer certificates whose chain check is remembered (the fleet's robots an agent talks to). */
export const VALIDATED_CERTIFICATE_CACHE_SIZE = 1024;

interface ValidatedEntry {
  readonly device: ValidatedDevice;
  /** The window in which the chain holds: the certificate's and every CA's validity intersected. */
  readonly notBefore: number;
  readonly notAfter: number;
}

const SILENT: AgentLogger = { info() {}, warn() {}, error() {} };

interface RevocationIndex {
  readonly sequence: bigint;
  readonly deviceIds: ReadonlySet<string>;
  readonly serials: ReadonlySet<string>;
}

export class AgentCore extends EventEmitter<AgentEvents> {
  readonly state: AgentState;
  readonly identity: AgentIdentity;
  readonly maxOfflineMs: number;
  readonly #clock: () => number;
  readonly #logger: AgentLogger;
  readonly #privateKey: KeyObject;
  #certificate: Uint8Array;
  #caChain: Uint8Array[];
  #revocations: RevocationIndex;
  #lock: LockState & { reason: string };
  /**
   * The latest time seen: the clock's high-water mark, a verified command's issue time, the last
   * contact. Expiry is judged by max(clock, this), so a clock set back does not extend key use.
   */
  #latestSeen: number;
  #latestSeenPersisted = 0;
  #lastContact: number | null;
  #offlineSince: number | null;
  #contactPersistedAt = 0;
  #clockWarned = false;
  /** The held epochs (metadata), read from the keystore once and after every change. */
  #epochs: StoredEpoch[] | undefined;
  /** Epoch keys already read from the keystore, by `keyId@version`; zeroized on every change. */
  readonly #epochKeys = new Map<string, Uint8Array>();
  /** Certificates that chained to the fleet CA, by SHA-256; time and revocation are checked on every use. */
  readonly #validated = new Map<string, ValidatedEntry>();
  /** The pinned emergency keys, parsed once: this build never changes them after provisioning. */
  #emergencyKeys: ReadonlyMap<string, { publicKey: KeyObject; algorithm: SignatureAlgorithm }> | undefined;

  /** @throws StoreCorrupt when the state is not provisioned or a value does not parse. */
  constructor(state: AgentState, options: AgentCoreOptions = {}) {
    super();
    const identity = state.identity();
    if (identity === undefined) throw new TypeError('the agent state is not provisioned');
    const maxOfflineMs = options.maxOfflineMs ?? DEFAULT_MAX_OFFLINE_MS;
    if (!Number.isSafeInteger(maxOfflineMs) || maxOfflineMs < 60_000) throw new RangeError('"maxOfflineMs" expected at least one minute');
    this.state = state;
    this.identity = identity;
    this.maxOfflineMs = maxOfflineMs;
    this.#clock = options.clock ?? Date.now;
    this.#logger = options.logger ?? SILENT;
    this.#privateKey = state.identityPrivateKey();
    this.#certificate = state.deviceCertificate();
    this.#caChain = state.fleetCaChain();
    this.#revocations = indexRevocations(state.revocationList());
    const lock = state.lock();
    this.#lock = { ...lock, reason: lock.reason ?? '' };
    const contact = state.contact();
    this.#lastContact = contact.lastContact?.getTime() ?? null;
    this.#offlineSince = contact.offlineSince?.getTime() ?? null;
    this.#latestSeen = Math.max(identity.provisionedAt.getTime(), this.#lastContact ?? 0, contact.latestSeen?.getTime() ?? 0);
    this.#latestSeenPersisted = this.#latestSeen;
  }

  // ---- time ---------------------------------------------------------------------------------

  /**
   * The time every expiry is judged by: the system clock, never earlier than the latest time
   * already seen (kept across restarts). A clock behind that is reported once and not trusted.
   */
  now(): Date {
    const system = this.#clock();
    if (system > this.#latestSeen) {
      this.#latestSeen = system;
      if (system - this.#latestSeenPersisted >= CONTACT_PERSIST_INTERVAL_MS) this.#persistContact();
    } else if (system + CLOCK_TOLERANCE_MS < this.#latestSeen && !this.#clockWarned) {
      this.#clockWarned = true;
      this.#logger.warn({ systemTime: new Date(system).toISOString(), trustedTime: new Date(this.#latestSeen).toISOString() }, 'the system clock is behind a time already seen; expiry is judged by the later time');
    }
    return new Date(Math.max(system, this.#latestSeen));
  }

  clockReport(): ClockReport {
    const system = this.#clock();
    return { systemTime: new Date(system), trustedTime: new Date(Math.max(system, this.#latestSeen)), behind: system + CLOCK_TOLERANCE_MS < this.#latestSeen };
  }

  /** A time vouched for by the controller (a verified command's issue time); the trusted time never falls below it. */
  noteTrustedTime(ms: number): void {
    if (Number.isFinite(ms) && ms > this.#latestSeen && ms <= this.#clock() + CLOCK_TOLERANCE_MS) this.#latestSeen = ms;
  }

  // ---- identity -----------------------------------------------------------------------------

  privateKey(): KeyObject {
    return this.#privateKey;
  }

  /** The device certificate, DER (do not modify). */
  certificate(): Uint8Array {
    return this.#certificate;
  }

  /** The fleet CA chain, DER, issuing CA first (do not modify). */
  fleetCaChain(): readonly Uint8Array[] {
    return this.#caChain;
  }

  signatureAlgorithm(): SignatureAlgorithm {
    return defaultSignatureAlgorithm(this.identity.keyAlgorithm);
  }

  /** The pinned emergency keys by `keyId@version`, as `openKeyBundle` takes them (parsed once). @throws StoreCorrupt. */
  emergencyKeyMap(): ReadonlyMap<string, { publicKey: KeyObject; algorithm: SignatureAlgorithm }> {
    this.#emergencyKeys ??= this.state.emergencyKeyMap();
    return this.#emergencyKeys;
  }

  certificateNotAfter(): Date {
    return summarizeCertificate(this.#certificate).notAfter;
  }

  /**
   * Stores a renewed certificate (same identity key) and switches to it.
   * @throws whatever the keystore throws; nothing changes then.
   */
  replaceCertificate(certificate: Uint8Array, caChain: readonly Uint8Array[]): void {
    this.state.replaceCertificate(certificate, caChain);
    this.#certificate = certificate;
    this.#caChain = [...caChain];
    this.#validated.clear();
    this.emit('certificate');
  }

  // ---- lock ---------------------------------------------------------------------------------

  lockState(): LockState & { reason: string } {
    return this.#lock;
  }

  isLocked(): boolean {
    return this.#lock.locked;
  }

  /** @throws DeviceLocked while locked. */
  assertUnlocked(): void {
    if (this.#lock.locked) throw new DeviceLocked(this.#lock.reason);
  }

  /**
   * Enters LOCKED for `scope` ('fleet', 'group:<G>', 'device:<D>'; default 'fleet'), persisted
   * first so a restart stays locked; with `wipe`, every communication epoch is shredded too.
   * Lockdowns of several scopes add up: each needs its own lift.
   */
  lock(params: { sequence: bigint; reason: string; wipe: boolean; scope?: string }): void {
    const scope = params.scope ?? 'fleet';
    const held = this.#lock.locked ? this.#lock : undefined;
    const scopes = [...new Set([...(held?.scopes ?? []), scope])];
    const reasons = { ...(held?.reasons ?? {}), [scope]: params.reason };
    const next = { locked: true, sequence: params.sequence, since: held?.since ?? this.now(), reason: params.reason, scopes, reasons };
    this.state.setLock(next);
    this.#lock = next;
    // No key stays in memory while locked (the keystore keeps them unless the command wipes).
    this.#epochsChanged();
    if (params.wipe) this.shredCommunicationKeys();
    this.emit('locked', next);
  }

  /**
   * A verified LIFT of `scope` (default: every scope) with a higher sequence: the robot leaves
   * LOCKED once no lockdown scope remains; until then the reason shown is one still in force.
   */
  unlock(sequence: bigint, scope?: string): void {
    if (!this.#lock.locked) return;
    const remaining = scope === undefined || this.#lock.scopes === undefined ? [] : this.#lock.scopes.filter((held) => held !== scope);
    if (remaining.length > 0) {
      const reasons = Object.fromEntries(Object.entries(this.#lock.reasons ?? {}).filter(([held]) => remaining.includes(held)));
      const reason = reasons[remaining[remaining.length - 1]!] ?? this.#lock.reason;
      const next = { ...this.#lock, sequence, scopes: remaining, reasons, reason };
      this.state.setLock(next);
      this.#lock = next;
      return;
    }
    const next = { locked: false, sequence, since: null, reason: '' };
    this.state.setLock(next);
    this.#lock = next;
    this.emit('unlocked');
  }

  /** Securely deletes every communication epoch (lockdown with wipe, revocation). */
  shredCommunicationKeys(): number {
    let shredded = 0;
    this.#epochsChanged();
    for (const epoch of this.state.epochs()) {
      this.state.deleteEpoch(epoch.keyId);
      shredded += 1;
    }
    this.#epochsChanged();
    this.state.forgetManifestSequences();
    this.emit('keys');
    return shredded;
  }

  // ---- communication keys -------------------------------------------------------------------

  /** The held epochs (cached; the keystore is read again after any change). */
  heldEpochs(): readonly StoredEpoch[] {
    this.#epochs ??= this.state.epochs();
    return this.#epochs;
  }

  /** A copy of an epoch's key (the caller zeroizes it); the keystore is read once per epoch. */
  #epochKey(keyId: VersionedKeyId): Uint8Array {
    const name = formatVersionedKeyId(keyId);
    let key = this.#epochKeys.get(name);
    if (key === undefined) {
      const material = this.state.epochMaterial(keyId);
      key = new Uint8Array(material);
      material.fill(0);
      this.#epochKeys.set(name, key);
    }
    // A real copy (Buffer#slice would share memory, and the caller zeroizes what it gets).
    return new Uint8Array(key);
  }

  /** Forgets the cached epochs and zeroizes the cached keys (every epoch change goes through here). */
  #epochsChanged(): void {
    this.#epochs = undefined;
    for (const key of this.#epochKeys.values()) key.fill(0);
    this.#epochKeys.clear();
  }

  /** The key id of the series this robot seals with: its group's key, or the fleet key. */
  sealingSeries(useGroupKey: boolean): string {
    if (!useGroupKey) return communicationKeyId(this.identity.fleet, null);
    if (this.identity.group === null) throw new KeysExpired('this robot has no group key (it belongs to no group)');
    return communicationKeyId(this.identity.fleet, this.identity.group);
  }

  /**
   * The epoch to seal with now: the newest active epoch of the series inside its window, provided
   * the robot has heard from the controller within max_offline.
   * @throws DeviceLocked | KeysExpired naming why.
   */
  sealingKey(useGroupKey: boolean): KeyUse {
    this.assertUnlocked();
    const now = this.now();
    const series = this.sealingSeries(useGroupKey);
    const lastHeard = this.#lastContact ?? this.identity.provisionedAt.getTime();
    if (now.getTime() - lastHeard > this.maxOfflineMs) {
      throw new KeysExpired(`no contact with the controller since ${new Date(lastHeard).toISOString()}, longer than max_offline (${Math.round(this.maxOfflineMs / 3_600_000)} h); data sealed earlier still opens`);
    }
    const candidates = this.heldEpochs()
      .filter((epoch) => formatKeyId(epoch.keyId) === series && epoch.state === 'active')
      .sort((a, b) => b.keyId.version - a.keyId.version);
    for (const epoch of candidates) {
      if (epoch.notBefore !== undefined && epoch.notBefore.getTime() > now.getTime()) continue;
      if (epoch.notAfter !== undefined && epoch.notAfter.getTime() <= now.getTime()) continue;
      return { keyId: series, version: epoch.keyId.version, state: epoch.state, key: this.#epochKey(epoch.keyId) };
    }
    throw new KeysExpired(candidates.length === 0 ? `no active epoch of ${series} is held` : `every active epoch of ${series} is past its not_after`);
  }

  /**
   * The key of one epoch for opening (pending, active or retiring, before its not_after).
   * @throws DeviceLocked | KeyNotFound | KeyNotUsable.
   */
  openingKey(keyId: string, version: number): KeyUse {
    this.assertUnlocked();
    const id = parseVersionedKeyId(`${keyId}@${version}`);
    if (id.kind !== 'communication' || id.fleet !== this.identity.fleet) throw new KeyNotFound(`key ${keyId}@${version} is not a communication key of this fleet`);
    const epoch = this.heldEpochs().find((candidate) => formatKeyId(candidate.keyId) === keyId && candidate.keyId.version === version);
    if (epoch === undefined) throw new KeyNotFound(`epoch ${keyId}@${version} is not held by this robot`);
    const now = this.now().getTime();
    if (!['pending', 'active', 'retiring'].includes(epoch.state)) throw new KeyNotUsable(`epoch ${keyId}@${version} cannot open: state ${epoch.state}`);
    if (epoch.notAfter !== undefined && epoch.notAfter.getTime() <= now) throw new KeyNotUsable(`epoch ${keyId}@${version} cannot open: past its not_after`);
    return { keyId, version, state: epoch.state, key: this.#epochKey(epoch.keyId) };
  }

  /**
   * Stores what a verified bundle carries: new epochs are added, known ones move to the state
   * their manifest now gives, epochs of a listed series that the manifest no longer lists are
   * shredded; then the sequences are recorded. The opened keys stay the caller's to zeroize.
   */
  storeBundle(opened: OpenedKeyBundle): void {
    this.#epochsChanged();
    try {
      this.#storeBundle(opened);
    } finally {
      this.#epochsChanged();
    }
    this.emit('keys');
  }

  #storeBundle(opened: OpenedKeyBundle): void {
    const listedSeries = new Set(opened.manifests.map((manifest) => manifest.keyId));
    const held = this.state.epochs();
    const incoming = new Set(opened.epochs.map((epoch) => `${epoch.keyId}@${epoch.version}`));
    for (const epoch of opened.epochs) {
      const existing = held.find((candidate) => formatKeyId(candidate.keyId) === epoch.keyId && candidate.keyId.version === epoch.version);
      if (existing === undefined) {
        this.state.putEpoch({ keyId: epoch.keyId, version: epoch.version, state: epoch.state, notBefore: epoch.notBefore, notAfter: epoch.notAfter, key: epoch.key });
      } else if (existing.state !== epoch.state || existing.notAfter?.getTime() !== epoch.notAfter) {
        // A robot that missed steps may see a jump the lifecycle table does not allow in one move
        // (pending -> retiring); the commitment proved the key, so the record is simply rewritten.
        if (canTransition(existing.state, epoch.state) && existing.notAfter?.getTime() === epoch.notAfter) {
          this.state.transitionEpoch(existing.keyId, epoch.state);
        } else {
          this.state.deleteEpoch(existing.keyId);
          this.state.putEpoch({ keyId: epoch.keyId, version: epoch.version, state: epoch.state, notBefore: epoch.notBefore, notAfter: epoch.notAfter, key: epoch.key });
        }
      }
    }
    for (const epoch of held) {
      const series = formatKeyId(epoch.keyId);
      if (listedSeries.has(series) && !incoming.has(`${series}@${epoch.keyId.version}`)) this.state.deleteEpoch(epoch.keyId);
    }
    const sequences = this.state.sequences();
    const manifests = new Map(sequences.manifests);
    for (const manifest of opened.manifests) manifests.set(manifest.keyId, manifest.sequence);
    this.state.setSequences({ ...sequences, keyBundle: Math.max(sequences.keyBundle, opened.sequence), manifests });
  }

  // ---- storage keys -------------------------------------------------------------------------

  /**
   * The storage key `name` (created on first use, kept in the keystore; never leaves the robot).
   * @throws DeviceLocked.
   */
  storageKey(name: string): KeyUse {
    this.assertUnlocked();
    const id = versionedKeyId('storage', this.identity.fleet, name, 1);
    try {
      return { keyId: formatKeyId(id), version: 1, state: 'active', key: this.state.storageKeyMaterial(id) };
    } catch (error) {
      if (!isFleetkeyError(error, 'KEY_NOT_FOUND')) throw error;
    }
    const key = new Uint8Array(randomBytes(32));
    try {
      this.state.putStorageKey(id, key);
    } catch (error) {
      // Two first uses at once: the other one made it; use theirs.
      key.fill(0);
      if (!isFleetkeyError(error, 'KEY_EXISTS')) throw error;
      return { keyId: formatKeyId(id), version: 1, state: 'active', key: this.state.storageKeyMaterial(id) };
    }
    return { keyId: formatKeyId(id), version: 1, state: 'active', key };
  }

  /** The storage key named by an envelope's key id and version. @throws DeviceLocked | KeyNotFound. */
  storageKeyFor(keyId: string, version: number): KeyUse {
    this.assertUnlocked();
    const id = parseVersionedKeyId(`${keyId}@${version}`);
    if (id.kind !== 'storage' || id.fleet !== this.identity.fleet) throw new KeyNotFound(`key ${keyId}@${version} is not a storage key of this robot`);
    return { keyId, version, state: 'active', key: this.state.storageKeyMaterial(id) };
  }

  // ---- revocation ---------------------------------------------------------------------------

  revocationSequence(): bigint {
    return this.#revocations.sequence;
  }

  isRevoked(deviceId: string, serialNumberHex?: string): boolean {
    return this.#revocations.deviceIds.has(deviceId) || (serialNumberHex !== undefined && this.#revocations.serials.has(serialNumberHex.toLowerCase()));
  }

  /** Stores a verified, newer revocation list and switches to it. */
  setRevocationList(list: StoredRevocationList): void {
    this.state.setRevocationList(list);
    this.#revocations = indexRevocations(list);
    this.emit('revocations');
  }

  /**
   * Validates another robot's certificate: chains to this fleet's CA, within its validity now,
   * of this fleet, not revoked (by serial or device id), and naming `expectedDeviceId` if given.
   * @throws PeerRefused | CertificateRevoked | CertificateInvalid.
   */
  validatePeerCertificate(certificate: Uint8Array, expectedDeviceId?: string): ValidatedDevice {
    const now = this.now().getTime();
    const digest = createHash('sha256').update(certificate).digest('base64url');
    let entry = this.#validated.get(digest);
    if (entry === undefined || now < entry.notBefore || now > entry.notAfter) {
      entry = this.#validate(certificate);
      this.#validated.delete(digest);
      if (this.#validated.size >= VALIDATED_CERTIFICATE_CACHE_SIZE) this.#validated.delete(this.#validated.keys().next().value!);
      this.#validated.set(digest, entry);
    }
    const { device } = entry;
    if (this.#revocations.serials.has(device.serialNumber) || this.#revocations.deviceIds.has(device.deviceId)) throw new CertificateRevoked(device.serialNumber);
    if (expectedDeviceId !== undefined && expectedDeviceId.length > 0 && device.deviceId !== expectedDeviceId) {
      throw new PeerRefused(`the peer is ${device.deviceId}, not the expected ${expectedDeviceId}`);
    }
    return device;
  }

  /** The full check (chain, fleet, time) once per certificate; the window it holds for is kept with it. */
  #validate(certificate: Uint8Array): ValidatedEntry {
    const at = this.now();
    let device: ValidatedDevice;
    try {
      device = validateDeviceCertificate({ certificate, caCertificates: this.#caChain, at, expectedFleet: this.identity.fleet });
    } catch (error) {
      if (isFleetkeyError(error, 'CERTIFICATE_INVALID') || isFleetkeyError(error, 'CERTIFICATE_REVOKED')) throw error;
      throw new PeerRefused('the peer certificate is not valid', { cause: error });
    }
    const own = summarizeCertificate(certificate);
    const windows = this.#caChain.map((ca) => summarizeCertificate(ca));
    return {
      device,
      notBefore: Math.max(own.notBefore.getTime(), ...windows.map((ca) => ca.notBefore.getTime())),
      notAfter: Math.min(own.notAfter.getTime(), ...windows.map((ca) => ca.notAfter.getTime())),
    };
  }

  // ---- contact ------------------------------------------------------------------------------

  /** The controller or broker answered: the robot is online. */
  recordContact(): void {
    const now = this.#clock();
    const wasOffline = this.#offlineSince !== null;
    this.#lastContact = now;
    this.#offlineSince = null;
    // The controller answered over mutual TLS: the clock is taken as right again, which also
    // undoes a high-water mark a clock that once jumped ahead left behind.
    this.#latestSeen = now;
    this.#clockWarned = false;
    if (wasOffline || now - this.#contactPersistedAt >= CONTACT_PERSIST_INTERVAL_MS) this.#persistContact();
  }

  /** Neither the controller nor the broker is reachable. */
  recordOffline(): void {
    if (this.#offlineSince !== null) return;
    this.#offlineSince = this.#clock();
    this.#persistContact();
  }

  contact(): { lastContact: Date | null; offlineSince: Date | null } {
    return { lastContact: this.#lastContact === null ? null : new Date(this.#lastContact), offlineSince: this.#offlineSince === null ? null : new Date(this.#offlineSince) };
  }

  #persistContact(): void {
    this.#contactPersistedAt = this.#clock();
    this.#latestSeenPersisted = this.#latestSeen;
    this.state.setContact({ ...this.contact(), latestSeen: new Date(this.#latestSeen) });
  }

  /** Writes the exact contact times (at shutdown). */
  flush(): void {
    this.#persistContact();
  }

  /** At shutdown: zeroizes the keys held in memory (the keystore keeps them). */
  dispose(): void {
    this.#epochsChanged();
    this.#validated.clear();
  }
}

/** Indexes a stored list (verified before it was stored; parsed strictly again here). */
function indexRevocations(list: StoredRevocationList | undefined): RevocationIndex {
  if (list === undefined) return { sequence: 0n, deviceIds: new Set(), serials: new Set() };
  const signed = decodeMessage(SignedRevocationListSchema, list.signed, { maxBytes: MAX_SIGNED_REVOCATION_LIST_BYTES });
  const parsed = decodeMessage(RevocationListSchema, signed.payload, { maxBytes: MAX_REVOCATION_LIST_BYTES });
  return {
    sequence: list.sequence,
    deviceIds: new Set(parsed.revoked.map((entry) => entry.deviceId)),
    serials: new Set(parsed.revoked.map((entry) => entry.serialNumber.toLowerCase())),
  };
}

/** The envelope context hash of associated data (context values are bounded; AAD is not). */
export function associatedDataDigest(associatedData: Uint8Array): string {
  return createHash('sha256').update(associatedData).digest('base64url');
}
