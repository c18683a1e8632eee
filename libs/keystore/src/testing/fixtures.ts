/**
 * Shared fixtures for the keystore conformance suite: a settable clock, record builders and
 * byte helpers.
 *
 * Trust boundary: test-only; the material here protects nothing.
 */
import { randomBytes } from 'node:crypto';
import { versionedKeyId, type KeyKind, type KeyState, type VersionedKeyId } from '@fleetkey/key-types';
import type { KeyRecordInput, KeyStore } from '../records/types.js';

export interface ConformanceStoreOptions {
  /** The clock the store must use for created/updated times and usability checks. */
  readonly now: () => Date;
}

export interface KeyStoreConformanceFactory {
  /** Shown in the describe() title. */
  readonly name: string;
  /** Makes a new, empty store that uses `options.now` as its clock. */
  create(options: ConformanceStoreOptions): Promise<KeyStore>;
  /** Persistent stores: close `store` and open the same store again. Omit for in-memory stores. */
  reopen?(store: KeyStore, options: ConformanceStoreOptions): Promise<KeyStore>;
  /** Runs after every test (remove temp files and the like). */
  cleanup?(): Promise<void> | void;
}

export class FakeClock {
  #ms: number;

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.#ms = start;
  }

  readonly now = (): Date => new Date(this.#ms);

  set(ms: number): void {
    this.#ms = ms;
  }

  advance(ms: number): void {
    this.#ms += ms;
  }

  get ms(): number {
    return this.#ms;
  }
}

export function commId(name: string, version: number, fleet = 'acme'): VersionedKeyId {
  return versionedKeyId('communication', fleet, name, version);
}

export function record(
  keyId: VersionedKeyId,
  overrides: Partial<Omit<KeyRecordInput, 'keyId'>> = {},
): KeyRecordInput {
  const algorithm = overrides.algorithm ?? (keyId.kind === 'device-identity' ? 'ECDSA_P256' : 'AES_256_GCM');
  return { keyId, algorithm, state: 'active' as KeyState, material: new Uint8Array(randomBytes(32)), ...overrides };
}

export function idOf(kind: KeyKind, fleet: string, name: string, version: number): VersionedKeyId {
  return versionedKeyId(kind, fleet, name, version);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

/** Tracks stores a test made so they are closed even when the test fails. */
export class OpenStores {
  readonly #stores: KeyStore[] = [];

  track<T extends KeyStore>(store: T): T {
    this.#stores.push(store);
    return store;
  }

  closeAll(): void {
    for (const store of this.#stores.splice(0)) {
      try {
        store.close();
      } catch {
        // already closed or broken by the test; nothing else to release
      }
    }
  }
}
