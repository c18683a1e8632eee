/**
 * The controller's core: the store, the KMS provider and the caches every service shares — KMS
 * signers (one describe + getPublicKey per key, then one KMS call per signature), fleet key
 * records, and unwrapped communication-epoch keys (one KMS unwrap per epoch, not per robot).
 *
 * Trust boundary: the epoch key cache is the one place plaintext communication keys live in the
 * controller's memory; `close()` zeroizes every one of them. Nothing here logs.
 */
import { kmsSigner, type KmsProvider, type KmsSigner } from '@fleetkey/kms-core';
import { loadFleetKeys, type FleetKeyRecord } from '../fleets/fleet-keys.js';
import { RecordNotFound, type CommunicationEpoch, type Repository } from '../store/index.js';
import type { ControllerKeyRecord } from './controller-keys.js';

/** Most epoch keys held unwrapped at once (a few per fleet: pending, active, retiring). */
export const MAX_CACHED_EPOCH_KEYS = 4096;

/** The KMS encryption context of an epoch key wrapped by its fleet's KEK. */
export function epochWrapContext(fleetId: string, groupId: string | null, version: number): Readonly<Record<string, string>> {
  return Object.freeze({ fleet: fleetId, series: groupId ?? '', purpose: 'communication-epoch', version: String(version) });
}

export interface ControllerCoreOptions {
  readonly repository: Repository;
  readonly kms: KmsProvider;
  readonly clock: () => number;
  readonly controllerKeys: ControllerKeyRecord;
}

export class ControllerCore {
  readonly repository: Repository;
  readonly kms: KmsProvider;
  readonly clock: () => number;
  readonly controllerKeys: ControllerKeyRecord;
  readonly #signers = new Map<string, Promise<KmsSigner>>();
  readonly #fleetKeys = new Map<string, FleetKeyRecord>();
  readonly #epochKeys = new Map<string, Uint8Array>();
  #closed = false;

  constructor(options: ControllerCoreOptions) {
    this.repository = options.repository;
    this.kms = options.kms;
    this.clock = options.clock;
    this.controllerKeys = options.controllerKeys;
  }

  /** A signer for a KMS signing key, made once and shared. A failed creation is not cached. */
  signer(keyId: string): Promise<KmsSigner> {
    this.#assertOpen();
    let pending = this.#signers.get(keyId);
    if (pending === undefined) {
      pending = kmsSigner(this.kms, keyId);
      this.#signers.set(keyId, pending);
      pending.catch(() => this.#signers.delete(keyId));
    }
    return pending;
  }

  /**
   * The fleet's key record (cached: records never change after the fleet is made).
   * @throws RecordNotFound when the fleet has no keys (unknown fleet).
   */
  async fleetKeys(fleetId: string): Promise<FleetKeyRecord> {
    this.#assertOpen();
    const cached = this.#fleetKeys.get(fleetId);
    if (cached !== undefined) return cached;
    const record = await loadFleetKeys(this.repository, fleetId);
    if (record === undefined) throw new RecordNotFound(`fleet ${fleetId} does not exist`);
    this.#fleetKeys.set(fleetId, record);
    return record;
  }

  /**
   * The plaintext of an epoch key, unwrapped by the fleet KEK once and then served from memory.
   * The returned buffer belongs to the cache: read it, never keep or zeroize it.
   */
  async epochKey(epoch: CommunicationEpoch): Promise<Uint8Array> {
    this.#assertOpen();
    const cacheKey = `${epoch.fleetId}\u0000${epoch.groupId ?? ''}\u0000${epoch.version}`;
    const cached = this.#epochKeys.get(cacheKey);
    if (cached !== undefined) return cached;
    const key = await this.kms.unwrap({ envelope: epoch.wrappedKey, context: epochWrapContext(epoch.fleetId, epoch.groupId, epoch.version) });
    if (this.#closed) {
      key.fill(0);
      throw new Error('the controller core is closed');
    }
    if (this.#epochKeys.size >= MAX_CACHED_EPOCH_KEYS) this.#evictOldest();
    this.#epochKeys.set(cacheKey, key);
    return key;
  }

  /**
   * Zeroizes and drops the cached plaintext of one epoch (it was destroyed): the next epochKey
   * call for it would have to unwrap it again, which a destroyed epoch's empty wrapping refuses.
   */
  forgetEpochKey(fleetId: string, groupId: string | null, version: number): void {
    const cacheKey = `${fleetId}\u0000${groupId ?? ''}\u0000${version}`;
    this.#epochKeys.get(cacheKey)?.fill(0);
    this.#epochKeys.delete(cacheKey);
  }

  /** Zeroizes every cached epoch key and drops the caches. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const key of this.#epochKeys.values()) key.fill(0);
    this.#epochKeys.clear();
    this.#signers.clear();
    this.#fleetKeys.clear();
  }

  #evictOldest(): void {
    const [oldest] = this.#epochKeys.keys();
    if (oldest === undefined) return;
    this.#epochKeys.get(oldest)?.fill(0);
    this.#epochKeys.delete(oldest);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the controller core is closed');
  }
}
