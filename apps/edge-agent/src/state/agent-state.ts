/**
 * The agent's persistent state: one SecureKeyStore holding the identity key and the communication
 * epochs as key records, and everything else the agent must remember across restarts as typed
 * values (certificate and CA chains, addresses, pinned emergency keys, sequences, the revocation
 * list, the lock flag, contact times). Callers never touch value names or JSON.
 *
 * Trust boundary: the keystore authenticates what it returns; this layer still parses every value
 * strictly (values.ts). Secret bytes exist only in key records; the identity private key leaves as
 * a KeyObject, and every material buffer read here is zeroized before returning.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import {
  formatKeyId,
  parseVersionedKeyId,
  versionedKeyId,
  type KeyState,
  type VersionedKeyId,
} from '@fleetkey/key-types';
import { SecureKeyStore, StoreCorrupt, type SecureKeyStoreOptions, type StoreKeyProtector } from '@fleetkey/keystore';
import { readRevocationList, writeRevocationList, type StoredRevocationList } from './revocation-store.js';
import {
  STATE_FORMAT_VERSION,
  VALUE_NAMES,
  certificatesSchema,
  contactSchema,
  decodeBase64,
  decodeCertificates,
  emergencyKeysSchema,
  encodeBase64,
  endpointsSchema,
  identitySchema,
  lockSchema,
  parseStoredJson,
  sequencesSchema,
} from './values.js';

export type IdentityKeyAlgorithm = 'ECDSA_P256' | 'RSA_2048';

export interface AgentIdentity {
  readonly fleet: string;
  readonly group: string | null;
  readonly deviceId: string;
  readonly keyAlgorithm: IdentityKeyAlgorithm;
  readonly serialNumber: string;
  readonly provisionedAt: Date;
}

/** An emergency public key the agent pinned at provisioning (`emergency/<fleet>/emergency@v`). */
export interface PinnedEmergencyKey {
  readonly keyRef: string;
  readonly algorithm: IdentityKeyAlgorithm;
  readonly signatureAlgorithm: Extract<SignatureAlgorithm, 'ECDSA_P256_SHA256' | 'RSA_PKCS1_SHA256' | 'RSA_PSS_SHA256'>;
  /** SubjectPublicKeyInfo DER. */
  readonly publicKey: Uint8Array;
}

export interface Endpoints {
  /** DeviceService, `host:port` (mutual TLS). */
  readonly controller: string;
  /** `mqtts://host:port`. */
  readonly broker: string;
}

/** A communication epoch as stored (without its key). */
export interface StoredEpoch {
  readonly keyId: VersionedKeyId;
  readonly state: KeyState;
  readonly notBefore: Date | undefined;
  readonly notAfter: Date | undefined;
}

/** A communication epoch to store; `key` (32 bytes) stays the caller's to zeroize. */
export interface EpochInput {
  /** `communication/<fleet>/<series>` (the text form). */
  readonly keyId: string;
  readonly version: number;
  readonly state: KeyState;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly key: Uint8Array;
}

export interface Sequences {
  /** The last command sequence applied (or the fleet's at enrollment): commands must be newer. */
  readonly command: bigint;
  readonly keyBundle: number;
  /** Applied epoch manifest sequences by key id (`communication/<fleet>/<series>`). */
  readonly manifests: ReadonlyMap<string, number>;
}

export interface LockState {
  readonly locked: boolean;
  readonly sequence: bigint | null;
  readonly since: Date | null;
  /** The lockdown's reason as the signed command gave it (absent in states written before it was kept). */
  readonly reason?: string;
  /**
   * The lockdown scopes in force: 'fleet', 'group:<G>', 'device:<D>'. A lift of one scope leaves
   * the robot locked while another still holds it. Absent in states written before it was kept.
   */
  readonly scopes?: readonly string[];
  /** The reason each scope in force was locked for. */
  readonly reasons?: Readonly<Record<string, string>>;
}

export interface ContactState {
  readonly lastContact: Date | null;
  readonly offlineSince: Date | null;
  /** The latest time the agent has seen: a clock set back below it does not extend key use. */
  readonly latestSeen?: Date | null;
}

/** Everything provisioning learns, written in one go by `recordProvisioning`. */
export interface ProvisionedState {
  readonly identity: AgentIdentity;
  /** The identity private key; exported as PKCS#8 into a key record, never into a value. */
  readonly privateKey: KeyObject;
  readonly certificate: Uint8Array;
  readonly fleetCaChain: readonly Uint8Array[];
  readonly serverCaCertificates: readonly Uint8Array[];
  readonly endpoints: Endpoints;
  readonly emergencyKeys: readonly PinnedEmergencyKey[];
  readonly epochs: readonly EpochInput[];
  readonly sequences: Sequences;
  readonly revocationList: StoredRevocationList | undefined;
}

/** The key name of the identity key: the device id, under `device-identity/<fleet>/`. */
export function identityKeyId(fleet: string, deviceId: string): VersionedKeyId {
  return versionedKeyId('device-identity', fleet, deviceId, 1);
}

export class AgentState {
  readonly #store: SecureKeyStore;

  private constructor(store: SecureKeyStore) {
    this.#store = store;
  }

  /**
   * Creates an empty state keystore at `keystorePath`.
   * @throws StoreExists | whatever the protector throws.
   */
  static async create(keystorePath: string, protector: StoreKeyProtector, options: SecureKeyStoreOptions = {}): Promise<AgentState> {
    return new AgentState(await SecureKeyStore.create(keystorePath, protector, options));
  }

  /**
   * Opens an existing state keystore.
   * @throws StoreNotFound | StoreKeyInvalid | KeyFileInsecure | StoreCorrupt.
   */
  static async open(keystorePath: string, protector: StoreKeyProtector, options: SecureKeyStoreOptions = {}): Promise<AgentState> {
    return new AgentState(await SecureKeyStore.open(keystorePath, protector, options));
  }

  close(): void {
    this.#store.close();
  }

  #json(name: string, value: unknown): void {
    this.#store.setValue(name, JSON.stringify(value));
  }

  /**
   * Writes the whole provisioned state. The identity goes last: a store without it is not
   * provisioned, whatever else it holds.
   * @throws KeyExists when the store already holds these keys; RangeError for out-of-bound input.
   */
  recordProvisioning(state: ProvisionedState): void {
    const { identity } = state;
    const pkcs8 = new Uint8Array(state.privateKey.export({ type: 'pkcs8', format: 'der' }));
    try {
      this.#store.put({
        keyId: identityKeyId(identity.fleet, identity.deviceId),
        algorithm: identity.keyAlgorithm,
        state: 'active',
        material: pkcs8,
        publicKey: new Uint8Array(createPublicKey(state.privateKey).export({ type: 'spki', format: 'der' })),
      });
    } finally {
      pkcs8.fill(0);
    }
    this.#store.setValue(VALUE_NAMES.certificate, state.certificate);
    this.#json(VALUE_NAMES.fleetCa, { certificates: state.fleetCaChain.map(encodeBase64) });
    this.#json(VALUE_NAMES.serverCa, { certificates: state.serverCaCertificates.map(encodeBase64) });
    this.#json(VALUE_NAMES.endpoints, { controller: state.endpoints.controller, broker: state.endpoints.broker });
    this.#json(VALUE_NAMES.emergencyKeys, {
      keys: state.emergencyKeys.map((key) => ({ keyRef: key.keyRef, algorithm: key.algorithm, signatureAlgorithm: key.signatureAlgorithm, publicKey: encodeBase64(key.publicKey) })),
    });
    for (const epoch of state.epochs) this.putEpoch(epoch);
    this.setSequences(state.sequences);
    if (state.revocationList !== undefined) writeRevocationList(this.#store, state.revocationList);
    this.setLock({ locked: false, sequence: null, since: null });
    this.setContact({ lastContact: null, offlineSince: null });
    this.#json(VALUE_NAMES.identity, {
      format: STATE_FORMAT_VERSION,
      fleet: identity.fleet,
      group: identity.group,
      deviceId: identity.deviceId,
      keyAlgorithm: identity.keyAlgorithm,
      serialNumber: identity.serialNumber,
      provisionedAt: identity.provisionedAt.toISOString(),
    });
  }

  /** The identity, or undefined when the store is not provisioned. @throws StoreCorrupt. */
  identity(): AgentIdentity | undefined {
    const raw = this.#store.getValue(VALUE_NAMES.identity);
    if (raw === undefined) return undefined;
    const parsed = parseStoredJson(VALUE_NAMES.identity, raw, identitySchema);
    return { ...parsed, provisionedAt: new Date(parsed.provisionedAt) };
  }

  #requireIdentity(): AgentIdentity {
    const identity = this.identity();
    if (identity === undefined) throw new StoreCorrupt('agent state: not provisioned');
    return identity;
  }

  /** The identity private key (the PKCS#8 buffer read from the store is zeroized). @throws StoreCorrupt | KeyNotFound. */
  identityPrivateKey(): KeyObject {
    const identity = this.#requireIdentity();
    const record = this.#store.get(identityKeyId(identity.fleet, identity.deviceId), 1);
    try {
      if (record.algorithm !== identity.keyAlgorithm) throw new StoreCorrupt('agent state: the identity key has another algorithm than recorded');
      return createPrivateKey({ key: Buffer.from(record.material.buffer, record.material.byteOffset, record.material.byteLength), format: 'der', type: 'pkcs8' });
    } finally {
      record.material.fill(0);
    }
  }

  #requiredBytes(name: string): Uint8Array {
    const value = this.#store.getValue(name);
    if (!(value instanceof Uint8Array)) throw new StoreCorrupt(`agent state: ${name} is missing`);
    return value;
  }

  #requiredJson(name: string): string {
    const value = this.#store.getValue(name);
    if (value === undefined) throw new StoreCorrupt(`agent state: ${name} is missing`);
    if (typeof value !== 'string') throw new StoreCorrupt(`agent state: ${name} is not a text value`);
    return value;
  }

  /** The device certificate, DER. @throws StoreCorrupt. */
  deviceCertificate(): Uint8Array {
    const der = this.#requiredBytes(VALUE_NAMES.certificate);
    try {
      new X509Certificate(der);
    } catch {
      throw new StoreCorrupt(`agent state: ${VALUE_NAMES.certificate} does not parse`);
    }
    return der;
  }

  /** The fleet CA chain, DER, issuing CA first. @throws StoreCorrupt. */
  fleetCaChain(): Uint8Array[] {
    return decodeCertificates(VALUE_NAMES.fleetCa, parseStoredJson(VALUE_NAMES.fleetCa, this.#requiredJson(VALUE_NAMES.fleetCa), certificatesSchema).certificates);
  }

  /** The controller's TLS CA certificates, DER. @throws StoreCorrupt. */
  serverCaCertificates(): Uint8Array[] {
    return decodeCertificates(VALUE_NAMES.serverCa, parseStoredJson(VALUE_NAMES.serverCa, this.#requiredJson(VALUE_NAMES.serverCa), certificatesSchema).certificates);
  }

  /** @throws StoreCorrupt. */
  endpoints(): Endpoints {
    return parseStoredJson(VALUE_NAMES.endpoints, this.#requiredJson(VALUE_NAMES.endpoints), endpointsSchema);
  }

  /** @throws StoreCorrupt when a key does not parse or is not of its recorded algorithm. */
  emergencyKeys(): PinnedEmergencyKey[] {
    const { keys } = parseStoredJson(VALUE_NAMES.emergencyKeys, this.#requiredJson(VALUE_NAMES.emergencyKeys), emergencyKeysSchema);
    return keys.map((key) => {
      const publicKey = decodeBase64(key.publicKey);
      try {
        createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
      } catch {
        throw new StoreCorrupt(`agent state: pinned emergency key ${key.keyRef} does not parse`);
      }
      return { ...key, publicKey };
    });
  }

  /** The pinned keys as `openKeyBundle` takes them, by `keyId@version`. @throws StoreCorrupt. */
  emergencyKeyMap(): Map<string, { publicKey: KeyObject; algorithm: SignatureAlgorithm }> {
    return new Map(
      this.emergencyKeys().map((key) => [key.keyRef, { publicKey: createPublicKey({ key: Buffer.from(key.publicKey), format: 'der', type: 'spki' }), algorithm: key.signatureAlgorithm }]),
    );
  }

  /**
   * Stores one communication epoch as a key record in its manifest state.
   * @throws KeyExists | InvalidKeyId | RangeError.
   */
  putEpoch(epoch: EpochInput): void {
    const id = parseVersionedKeyId(`${epoch.keyId}@${epoch.version}`);
    if (id.kind !== 'communication') throw new RangeError('"keyId" expected a communication key id');
    this.#store.put({ keyId: id, algorithm: 'AES_256_GCM', state: epoch.state, material: epoch.key, notBefore: new Date(epoch.notBefore), notAfter: new Date(epoch.notAfter) });
  }

  /** The key of a held communication epoch (a copy: the caller zeroizes it). @throws KeyNotFound. */
  epochMaterial(keyId: VersionedKeyId): Uint8Array {
    if (keyId.kind !== 'communication') throw new RangeError('"keyId" expected a communication key id');
    return this.#store.get(keyId, keyId.version).material;
  }

  /** Moves a held epoch to the state its newer manifest gives. @throws KeyNotFound | IllegalStateTransition. */
  transitionEpoch(keyId: VersionedKeyId, state: KeyState): void {
    if (keyId.kind !== 'communication') throw new RangeError('"keyId" expected a communication key id');
    this.#store.transition(keyId, keyId.version, state);
  }

  /** Shreds a held epoch (secure delete, WAL checkpointed). @throws KeyNotFound. */
  deleteEpoch(keyId: VersionedKeyId): void {
    if (keyId.kind !== 'communication') throw new RangeError('"keyId" expected a communication key id');
    this.#store.secureDelete(keyId, keyId.version);
  }

  /** After a wipe: the next bundle's manifests are accepted whatever their sequence (the keys they list are gone). */
  forgetManifestSequences(): void {
    const sequences = this.sequences();
    this.setSequences({ ...sequences, manifests: new Map() });
  }

  /** A storage key's material (a copy: the caller zeroizes it). @throws KeyNotFound. */
  storageKeyMaterial(keyId: VersionedKeyId): Uint8Array {
    if (keyId.kind !== 'storage') throw new RangeError('"keyId" expected a storage key id');
    return this.#store.get(keyId, keyId.version).material;
  }

  /** Stores a new storage key; `key` stays the caller's. @throws KeyExists. */
  putStorageKey(keyId: VersionedKeyId, key: Uint8Array): void {
    if (keyId.kind !== 'storage') throw new RangeError('"keyId" expected a storage key id');
    this.#store.put({ keyId, algorithm: 'AES_256_GCM', state: 'active', material: key });
  }

  /**
   * Replaces the device certificate and CA chain after a renewal. The identity key stays: a
   * renewal is a CSR signed by the current key (replacing the key in place is not crash-safe with
   * one record per device id, and no flow needs it yet).
   */
  replaceCertificate(certificate: Uint8Array, caChain: readonly Uint8Array[]): void {
    this.#store.setValue(VALUE_NAMES.certificate, certificate);
    this.#json(VALUE_NAMES.fleetCa, { certificates: caChain.map(encodeBase64) });
  }

  /** Every communication epoch, by key id then version. */
  epochs(): StoredEpoch[] {
    return this.#store
      .list({ kind: 'communication' })
      .map((meta) => ({ keyId: meta.keyId, state: meta.state, notBefore: meta.notBefore, notAfter: meta.notAfter }))
      .sort((a, b) => formatKeyId(a.keyId).localeCompare(formatKeyId(b.keyId)) || a.keyId.version - b.keyId.version);
  }

  /** @throws StoreCorrupt. */
  sequences(): Sequences {
    const parsed = parseStoredJson(VALUE_NAMES.sequences, this.#requiredJson(VALUE_NAMES.sequences), sequencesSchema);
    return { command: BigInt(parsed.command), keyBundle: parsed.keyBundle, manifests: new Map(Object.entries(parsed.manifests)) };
  }

  setSequences(sequences: Sequences): void {
    if (typeof sequences.command !== 'bigint' || sequences.command < 0n) throw new RangeError('"command" expected a non-negative bigint');
    this.#json(VALUE_NAMES.sequences, { command: sequences.command.toString(), keyBundle: sequences.keyBundle, manifests: Object.fromEntries(sequences.manifests) });
    // Read back through the schema, so a value this build could not read again is never kept.
    this.sequences();
  }

  /** @throws StoreCorrupt when the stored list does not match its digest. */
  revocationList(): StoredRevocationList | undefined {
    return readRevocationList(this.#store);
  }

  setRevocationList(list: StoredRevocationList): void {
    writeRevocationList(this.#store, list);
  }

  /** Unlocked when nothing was ever recorded. @throws StoreCorrupt. */
  lock(): LockState {
    const raw = this.#store.getValue(VALUE_NAMES.lock);
    if (raw === undefined) return { locked: false, sequence: null, since: null };
    const parsed = parseStoredJson(VALUE_NAMES.lock, raw, lockSchema);
    return {
      locked: parsed.locked,
      sequence: parsed.sequence === null ? null : BigInt(parsed.sequence),
      since: parsed.since === null ? null : new Date(parsed.since),
      ...(parsed.reason === undefined ? {} : { reason: parsed.reason }),
      ...(parsed.scopes === undefined ? {} : { scopes: parsed.scopes }),
      ...(parsed.reasons === undefined ? {} : { reasons: parsed.reasons }),
    };
  }

  setLock(lock: LockState): void {
    this.#json(VALUE_NAMES.lock, { locked: lock.locked, sequence: lock.sequence?.toString() ?? null, since: lock.since?.toISOString() ?? null, ...(lock.reason === undefined ? {} : { reason: lock.reason }),
      ...(lock.scopes === undefined ? {} : { scopes: [...lock.scopes] }),
      ...(lock.reasons === undefined ? {} : { reasons: { ...lock.reasons } }),
    });
  }

  /** Never contacted when nothing was recorded. @throws StoreCorrupt. */
  contact(): ContactState {
    const raw = this.#store.getValue(VALUE_NAMES.contact);
    if (raw === undefined) return { lastContact: null, offlineSince: null };
    const parsed = parseStoredJson(VALUE_NAMES.contact, raw, contactSchema);
    return {
      lastContact: parsed.lastContact === null ? null : new Date(parsed.lastContact),
      offlineSince: parsed.offlineSince === null ? null : new Date(parsed.offlineSince),
      ...(parsed.latestSeen === undefined || parsed.latestSeen === null ? {} : { latestSeen: new Date(parsed.latestSeen) }),
    };
  }

  setContact(contact: ContactState): void {
    this.#json(VALUE_NAMES.contact, {
      lastContact: contact.lastContact?.toISOString() ?? null,
      offlineSince: contact.offlineSince?.toISOString() ?? null,
      ...(contact.latestSeen === undefined || contact.latestSeen === null ? {} : { latestSeen: contact.latestSeen.toISOString() }),
    });
  }
}
