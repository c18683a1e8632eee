/**
 * The repository PORT of the controller's state: interfaces and record types only. The SQLite
 * implementation lives in ./sqlite/; a PostgreSQL one (issue 9) implements the same interface and
 * passes the same conformance suite (./testing.ts), so callers never change.
 *
 * Every method is async even though SQLite is synchronous, because a network database is not.
 * `transaction(fn)` hands `fn` a transactional view: everything done through it commits or rolls
 * back together (fn's rejection rolls back). Inside `fn`, use only the view.
 *
 * Trust boundary: the store holds only hashes of bearer tokens and KMS-wrapped key material; it
 * never sees a token or a plaintext key. Tenancy: every read of devices, enrollment tokens and
 * epochs names its fleet; listing across fleets needs the explicit `ALL_FLEETS` selector, which
 * only an all-fleets admin caller may pass (the operator API checks that, not the store).
 *
 * Audit seam: the hash-chained audit log is the `audit: AuditRepository` member of
 * `RepositoryTx`, so a state change and its audit record commit in one transaction (../audit/).
 */
import type { KeyState } from '@fleetkey/key-types';

/** Milliseconds since the Unix epoch (UTC). The caller's injected clock provides every timestamp. */
export type Millis = number;

/** Selects one fleet, or — explicitly — every fleet (all-fleets admin scope only). */
export type FleetSelector = { readonly fleetId: string } | typeof ALL_FLEETS;
export const ALL_FLEETS = Object.freeze({ allFleets: true as const });

export interface Fleet {
  /** Identifier (IDENTIFIER_PATTERN): appears in topics, certificates and key ids. */
  readonly id: string;
  /** Human-readable name. */
  readonly name: string;
  readonly createdAt: Millis;
  /** When the fleet was deleted (decommissioned); null while it exists. A deleted fleet is hidden. */
  readonly deletedAt: Millis | null;
}

export interface Group {
  readonly fleetId: string;
  /** Identifier, unique within its fleet. */
  readonly id: string;
  readonly name: string;
  readonly createdAt: Millis;
}

export const OPERATOR_ROLES = ['admin', 'operator', 'factory', 'auditor'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** The fleets an operator may act on. */
export type OperatorFleetScope = { readonly kind: 'all' } | { readonly kind: 'fleets'; readonly fleetIds: readonly string[] };

export interface Operator {
  readonly id: string;
  readonly name: string;
  readonly role: OperatorRole;
  readonly fleetScope: OperatorFleetScope;
  /** SHA-256 of the bearer token (./tokens.ts); the token itself is never stored. */
  readonly tokenHash: Uint8Array;
  readonly createdAt: Millis;
  readonly revokedAt: Millis | null;
}

export interface EnrollmentToken {
  readonly id: string;
  readonly fleetId: string;
  readonly groupId: string | null;
  /** Optional pattern the device serial must match (interpreted by provisioning, stored verbatim). */
  readonly serialPattern: string | null;
  readonly tokenHash: Uint8Array;
  readonly createdAt: Millis;
  readonly expiresAt: Millis;
  readonly usedAt: Millis | null;
  readonly usedByDeviceId: string | null;
  readonly revokedAt: Millis | null;
}

/** Why a burn did not succeed. `unknown` also covers a hash from another deployment. */
export type BurnFailureReason = 'unknown' | 'used' | 'expired' | 'revoked';
export type BurnResult = { readonly ok: true; readonly token: EnrollmentToken } | { readonly ok: false; readonly reason: BurnFailureReason };

export const DEVICE_STATUSES = ['active', 'revoked'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export interface Device {
  readonly fleetId: string;
  readonly deviceId: string;
  readonly groupId: string | null;
  /** Hardware serial reported at provisioning; empty when the station did not send one. */
  readonly serial: string;
  readonly certificateDer: Uint8Array;
  /** Certificate serial number, lower-case hex. */
  readonly certificateSerial: string;
  readonly keyAlgorithm: string;
  readonly status: DeviceStatus;
  readonly enrolledAt: Millis;
  readonly revokedAt: Millis | null;
  /** Why it was revoked (operator's words, not secret); null while active. */
  readonly revocationReason: string | null;
  /** Last time the device reached the controller (an ack, a status report, a key-bundle fetch). */
  readonly lastContact: Millis | null;
  /** Highest key-bundle / command / revocation-list sequence the device acknowledged as applied. */
  readonly ackedBundleSequence: number;
  readonly ackedCommandSequence: number;
  readonly ackedRevocationSequence: number;
}

/** What a device acknowledges (messages.proto AckKind). */
export const DEVICE_ACK_KINDS = ['key-bundle', 'command', 'revocation-list'] as const;
export type DeviceAckKind = (typeof DEVICE_ACK_KINDS)[number];

/** Signed emergency commands (messages.proto CommandAction). */
export const COMMAND_ACTIONS = ['lockdown', 'lift', 'revoke', 'fetch-keys', 'pin-emergency-key'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

/** Whom a command applies to: the fleet, one group of it, or one device of it. */
export type CommandScope =
  | { readonly kind: 'fleet' }
  | { readonly kind: 'group'; readonly groupId: string }
  | { readonly kind: 'device'; readonly deviceId: string };

export interface IssuedCommand {
  readonly fleetId: string;
  /** The fleet's command sequence (from nextSequence): strictly increasing, never reused. */
  readonly sequence: number;
  readonly action: CommandAction;
  readonly scope: CommandScope;
  readonly reason: string;
  /** Operator id, or 'system'. */
  readonly issuedBy: string;
  readonly issuedAt: Millis;
  readonly expiresAt: Millis;
  /** The lift request a LIFT executes; null otherwise. */
  readonly requestId: string | null;
  readonly wipe: boolean;
  /** The SignedCommand bytes exactly as published (MQTT) and streamed (gRPC). */
  readonly signedCommand: Uint8Array;
}
export type NewCommand = IssuedCommand;

/** A device's answer to a command (messages.proto AckOutcome). */
export const COMMAND_ACK_OUTCOMES = ['applied', 'rejected-signature', 'rejected-replay', 'rejected-expired', 'rejected-malformed', 'failed'] as const;
export type CommandAckOutcome = (typeof COMMAND_ACK_OUTCOMES)[number];

export interface CommandAck {
  readonly fleetId: string;
  readonly sequence: number;
  readonly deviceId: string;
  readonly outcome: CommandAckOutcome;
  readonly ackedAt: Millis;
}
export interface NewCommandAck {
  readonly fleetId: string;
  readonly sequence: number;
  readonly deviceId: string;
  readonly outcome: CommandAckOutcome;
}

export const LIFT_REQUEST_STATES = ['pending', 'executed', 'expired', 'superseded'] as const;
export type LiftRequestState = (typeof LIFT_REQUEST_STATES)[number];

/**
 * What a two-operator request does once a second operator approves it: lift a lockdown, or one of
 * the destructive actions that go through the same approval (issue 6).
 */
export const APPROVAL_KINDS = ['lift', 'destroy-epoch', 'delete-fleet'] as const;
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

export interface LiftApproval {
  readonly operatorId: string;
  readonly approvedAt: Millis;
}

export interface LiftRequest {
  readonly id: string;
  readonly kind: ApprovalKind;
  readonly fleetId: string;
  readonly scope: CommandScope;
  readonly reason: string;
  readonly requestedBy: string;
  readonly requestedAt: Millis;
  readonly expiresAt: Millis;
  readonly state: LiftRequestState;
  /** The LIFT command's sequence once executed (lifts); null otherwise. */
  readonly executedSequence: number | null;
  /** In approval order; the requester's own approval is the first. */
  readonly approvals: readonly LiftApproval[];
  /**
   * What a destructive request destroys, as a JSON object (at most MAX_APPROVAL_TARGET_LENGTH
   * characters, interpreted by its executor, stored verbatim); null for a lift (its scope says it).
   */
  readonly target: string | null;
}
/** Longest `LiftRequest.target` JSON text the store accepts. */
export const MAX_APPROVAL_TARGET_LENGTH = 1024;
export interface NewLiftRequest {
  /** Default 'lift'. */
  readonly kind?: ApprovalKind;
  /** Required (a JSON object) for every kind but 'lift', which has none. */
  readonly target?: string | null;
  readonly fleetId: string;
  readonly scope: CommandScope;
  readonly reason: string;
  readonly requestedBy: string;
  readonly expiresAt: Millis;
}

/** Signed public artefacts the controller keeps current per fleet: epoch manifests (one per key series) and the revocation list. */
export const SIGNED_ARTIFACT_KINDS = ['epoch-manifest', 'revocation-list'] as const;
export type SignedArtifactKind = (typeof SIGNED_ARTIFACT_KINDS)[number];

export interface SignedArtifact {
  readonly fleetId: string;
  readonly kind: SignedArtifactKind;
  /** The key series for a manifest ('fleet' or a group id); '' for the revocation list. */
  readonly name: string;
  /** The artefact's own sequence (monotonic per fleet, kind and name). */
  readonly sequence: number;
  /** The signed wrapper's protobuf bytes, exactly as signed and served. */
  readonly bytes: Uint8Array;
  readonly issuedAt: Millis;
}

export interface CommunicationEpoch {
  readonly fleetId: string;
  /** null: the fleet-wide epoch series; otherwise a group's own series. */
  readonly groupId: string | null;
  readonly version: number;
  readonly state: KeyState;
  /** The epoch key as an envelope wrapped by the KEK (libs/kms envelope format). */
  readonly wrappedKey: Uint8Array;
  readonly notBefore: Millis;
  readonly notAfter: Millis;
  readonly createdAt: Millis;
}

export interface NewFleet {
  readonly id: string;
  readonly name: string;
}
export interface NewGroup {
  readonly fleetId: string;
  readonly id: string;
  readonly name: string;
}
export interface NewOperator {
  /** The operator's id (an identifier); default: a fresh UUID. */
  readonly id?: string;
  readonly name: string;
  readonly role: OperatorRole;
  readonly fleetScope: OperatorFleetScope;
  readonly tokenHash: Uint8Array;
}
export interface NewEnrollmentToken {
  readonly fleetId: string;
  readonly groupId?: string | null;
  readonly serialPattern?: string | null;
  readonly tokenHash: Uint8Array;
  readonly expiresAt: Millis;
}
export interface NewDevice {
  readonly fleetId: string;
  readonly deviceId: string;
  readonly groupId?: string | null;
  readonly serial: string;
  readonly certificateDer: Uint8Array;
  readonly certificateSerial: string;
  readonly keyAlgorithm: string;
}
export interface NewEpoch {
  readonly fleetId: string;
  readonly groupId?: string | null;
  readonly version: number;
  readonly state: KeyState;
  readonly wrappedKey: Uint8Array;
  readonly notBefore: Millis;
  readonly notAfter: Millis;
}

export interface DeviceFilter {
  readonly groupId?: string;
  readonly status?: DeviceStatus;
}
export interface EnrollmentTokenFilter {
  readonly groupId?: string;
  /** Only tokens neither used, revoked nor expired at this instant. */
  readonly usableAt?: Millis;
}
export interface EpochFilter {
  /** undefined: every series of the fleet; null: the fleet-wide series; a string: that group's. */
  readonly groupId?: string | null;
  readonly states?: readonly KeyState[];
}

/**
 * Everything the controller reads and writes, as one transactional view. Timestamps of changes
 * come from the implementation's injected clock. Unless stated otherwise a method throws:
 * - TypeError / RangeError for malformed arguments (a bad identifier throws InvalidIdentifier);
 * - RecordExists when a natural key is taken; RecordNotFound when a named record is missing.
 */
export interface RepositoryTx {
  // fleets and groups
  createFleet(input: NewFleet): Promise<Fleet>;
  /** A deleted fleet is undefined unless `includeDeleted`. */
  getFleet(fleetId: string, options?: { readonly includeDeleted?: boolean }): Promise<Fleet | undefined>;
  /** Deleted fleets are left out unless `includeDeleted`. */
  listFleets(options?: { readonly includeDeleted?: boolean }): Promise<Fleet[]>;
  /**
   * Marks a fleet deleted. From then on nothing new can be made in it (groups, tokens, devices,
   * epochs, commands, requests, artefacts: RecordNotFound), and getFleet/listFleets hide it; its
   * records and the audit log stay readable.
   * @throws RecordNotFound when the fleet does not exist or is deleted already.
   */
  deleteFleet(fleetId: string): Promise<Fleet>;
  /** @throws RecordNotFound when the fleet does not exist. */
  createGroup(input: NewGroup): Promise<Group>;
  getGroup(fleetId: string, groupId: string): Promise<Group | undefined>;
  listGroups(fleetId: string): Promise<Group[]>;

  // operators
  /** @throws RecordNotFound when a scoped fleet does not exist; RecordExists when the id or the token hash is taken. */
  createOperator(input: NewOperator): Promise<Operator>;
  getOperator(id: string): Promise<Operator | undefined>;
  /** Looks an operator up by token hash (compared in constant time); revoked operators are returned with `revokedAt`. */
  findOperatorByTokenHash(tokenHash: Uint8Array): Promise<Operator | undefined>;
  listOperators(): Promise<Operator[]>;
  /** Idempotent: revoking a revoked operator keeps the first `revokedAt`. @throws RecordNotFound */
  revokeOperator(id: string): Promise<Operator>;

  // enrollment tokens
  /** @throws RecordNotFound for an unknown fleet or group. */
  createEnrollmentToken(input: NewEnrollmentToken): Promise<EnrollmentToken>;
  getEnrollmentToken(fleetId: string, id: string): Promise<EnrollmentToken | undefined>;
  listEnrollmentTokens(fleets: FleetSelector, filter?: EnrollmentTokenFilter): Promise<EnrollmentToken[]>;
  /** Idempotent. @throws RecordNotFound when no such token in that fleet. */
  revokeEnrollmentToken(fleetId: string, id: string): Promise<EnrollmentToken>;
  /**
   * Burns a token atomically: of any number of concurrent burns of one token (across processes
   * and replicas) exactly one gets `ok: true`. The hash itself names the fleet, so no fleet
   * argument: the caller then checks the token's scope against its request.
   * Call it on the repository itself or in a transaction of its own (with its audit record), never
   * inside the enrollment's transaction: a token is burnt even when the enrollment then fails, and
   * a rolled-back enrollment would un-burn it.
   */
  burnEnrollmentToken(tokenHash: Uint8Array, now: Millis): Promise<BurnResult>;
  /** Records which device a burnt token enrolled. @throws RecordNotFound */
  setEnrollmentTokenDevice(fleetId: string, tokenId: string, deviceId: string): Promise<void>;

  // devices
  /** @throws RecordExists when the device id is taken in the fleet; RecordNotFound for an unknown fleet or group. */
  createDevice(input: NewDevice): Promise<Device>;
  getDevice(fleetId: string, deviceId: string): Promise<Device | undefined>;
  listDevices(fleets: FleetSelector, filter?: DeviceFilter): Promise<Device[]>;
  /** Idempotent: keeps the first `revokedAt` and reason. @throws RecordNotFound */
  revokeDevice(fleetId: string, deviceId: string, reason?: string): Promise<Device>;
  /**
   * Records that the device applied `sequence` of `kind`: the stored sequence only ever grows
   * (a late, lower ack changes nothing) and lastContact is set. @throws RecordNotFound
   */
  recordDeviceAck(fleetId: string, deviceId: string, kind: DeviceAckKind, sequence: number): Promise<Device>;
  /** Sets lastContact to now. @throws RecordNotFound */
  touchDevice(fleetId: string, deviceId: string): Promise<void>;
  /** Certificate renewal. @throws RecordNotFound; IllegalStateTransition when the device is revoked. */
  updateDeviceCertificate(fleetId: string, deviceId: string, certificateDer: Uint8Array, certificateSerial: string): Promise<Device>;

  // communication epochs
  /** @throws RecordExists when the version exists in that series; RecordNotFound for an unknown fleet or group. */
  createEpoch(input: NewEpoch): Promise<CommunicationEpoch>;
  getEpoch(fleetId: string, groupId: string | null, version: number): Promise<CommunicationEpoch | undefined>;
  /** Ordered by group (fleet-wide first), then version ascending. */
  listEpochs(fleetId: string, filter?: EpochFilter): Promise<CommunicationEpoch[]>;
  /** Highest version in a series, 0 when none. */
  latestEpochVersion(fleetId: string, groupId: string | null): Promise<number>;
  /** @throws RecordNotFound; IllegalStateTransition when the key-state lifecycle forbids it. */
  setEpochState(fleetId: string, groupId: string | null, version: number, state: KeyState): Promise<CommunicationEpoch>;
  /**
   * Crypto-shredding: moves the epoch to `destroyed` and overwrites its wrapped key with an empty
   * blob in the same statement; a destroyed epoch's `wrappedKey` is empty and means "gone".
   * @throws RecordNotFound; IllegalStateTransition when its state may not become destroyed
   *   (pending, expired and revoked may; move active/retiring on first).
   */
  destroyEpoch(fleetId: string, groupId: string | null, version: number): Promise<CommunicationEpoch>;

  // command sequence
  /** Next command sequence number of a fleet: 1, 2, 3… never reused, even across replicas. @throws RecordNotFound */
  nextSequence(fleetId: string): Promise<number>;
  /** The last command sequence handed out for the fleet, 0 when none. */
  currentSequence(fleetId: string): Promise<number>;

  // signed commands and their acknowledgements
  /** @throws RecordExists when the fleet already has that sequence; RecordNotFound for an unknown fleet. */
  createCommand(input: NewCommand): Promise<IssuedCommand>;
  getCommand(fleetId: string, sequence: number): Promise<IssuedCommand | undefined>;
  /** Ascending by sequence; `afterSequence` excludes it and everything before; at most `limit` (≤ 1000, default 1000). */
  listCommands(fleetId: string, filter?: { readonly afterSequence?: number; readonly action?: CommandAction; readonly limit?: number }): Promise<IssuedCommand[]>;
  /** The fleet's latest command of one of `actions` for exactly `scope`, undefined when none. */
  latestCommandFor(fleetId: string, scope: CommandScope, actions: readonly CommandAction[]): Promise<IssuedCommand | undefined>;
  /** One ack per device and command: a later ack replaces an earlier one. @throws RecordNotFound for an unknown command or device. */
  recordCommandAck(input: NewCommandAck): Promise<CommandAck>;
  /** Ordered by device id. */
  listCommandAcks(fleetId: string, sequence: number): Promise<CommandAck[]>;

  // two-operator lift requests
  /** The requester's approval is recorded as the first. @throws RecordNotFound for an unknown fleet. */
  createLiftRequest(input: NewLiftRequest): Promise<LiftRequest>;
  getLiftRequest(fleetId: string, id: string): Promise<LiftRequest | undefined>;
  /** Newest first. Only lifts unless `kind` says otherwise ('any': every kind). */
  listLiftRequests(fleetId: string, filter?: { readonly state?: LiftRequestState; readonly kind?: ApprovalKind | 'any' }): Promise<LiftRequest[]>;
  /**
   * Adds an operator's approval to a pending request.
   * @throws RecordNotFound; RecordExists when that operator already approved; IllegalStateTransition when not pending.
   */
  addLiftApproval(fleetId: string, id: string, operatorId: string): Promise<LiftRequest>;
  /**
   * pending → executed (a lift: with the LIFT's sequence; other kinds: without), expired or
   * superseded. @throws RecordNotFound; IllegalStateTransition otherwise.
   */
  setLiftRequestState(fleetId: string, id: string, state: Exclude<LiftRequestState, 'pending'>, executedSequence?: number): Promise<LiftRequest>;

  // signed artefacts
  /**
   * Stores the current artefact of (fleet, kind, name), replacing the previous one.
   * @throws IllegalStateTransition when `sequence` is not greater than the stored one; RecordNotFound for an unknown fleet.
   */
  putSignedArtifact(input: Omit<SignedArtifact, 'issuedAt'>): Promise<SignedArtifact>;
  getSignedArtifact(fleetId: string, kind: SignedArtifactKind, name: string): Promise<SignedArtifact | undefined>;

  // settings / meta
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;

  /** The hash-chained audit log; append through the same view as the change it records. */
  readonly audit: AuditRepository;
}

/** What an audit record says happened. Append-only list: a released action is never renamed. */
export const AUDIT_ACTIONS = [
  'fleet.create',
  'group.create',
  'operator.create',
  'operator.revoke',
  'operator.authenticate',
  'token.create',
  'token.revoke',
  'token.burn',
  'device.enroll',
  'device.renew',
  'device.revoke',
  'epoch.create',
  'epoch.state',
  'key.create',
  'key.sign',
  'key.wrap',
  'key.unwrap',
  'controller.init',
  'controller.start',
  'controller.stop',
  'audit.head.sign',
  'command.issue',
  'command.ack',
  'lift.request',
  'lift.approve',
  'rotation.start',
  'backup.create',
  'rotation.policy',
  'approval.request',
  'approval.approve',
  'epoch.destroy',
  'fleet.delete',
  'tls.renew',
  'backup.restore',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_RESULTS = ['ok', 'denied', 'error'] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

/** A small flat object of NON-secret fields (bounds and the redaction guard: ../audit/details.ts). */
export type AuditDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface NewAuditRecord {
  /** Operator id, `device:<id>` or 'system'. */
  readonly actor: string;
  readonly action: AuditAction;
  readonly fleetId?: string | null;
  readonly deviceId?: string | null;
  /** Key id / version the operation used (never key material). */
  readonly keyRef?: string | null;
  readonly result: AuditResult;
  /** The FleetkeyError code when `result` is not 'ok'. */
  readonly errorCode?: string | null;
  readonly details?: AuditDetails;
}

export interface AuditRecord {
  /** 1, 2, 3… per controller: one linear chain across every fleet. */
  readonly sequence: number;
  readonly time: Millis;
  readonly actor: string;
  readonly action: AuditAction;
  readonly fleetId: string | null;
  readonly deviceId: string | null;
  readonly keyRef: string | null;
  readonly result: AuditResult;
  readonly errorCode: string | null;
  /** Canonical JSON text of the details exactly as hashed (sorted keys, no whitespace). */
  readonly detailsJson: string;
  /** 32 bytes: the previous record's hash (32 zero bytes for sequence 1). */
  readonly prevHash: Uint8Array;
  /** 32 bytes: SHA-256 over the canonical encoding (../audit/record-hash.ts). */
  readonly hash: Uint8Array;
}

/** A signature over the chain head at some sequence. */
export interface AuditHead {
  readonly sequence: number;
  readonly hash: Uint8Array;
  readonly signature: Uint8Array;
  readonly algorithm: string;
  readonly keyId: string;
  readonly signedAt: Millis;
}

/**
 * The append-only audit log. Raw rows come back as stored (a verifier must see what is there, not
 * a repaired view); only `append` and `appendHead` write.
 */
export interface AuditRepository {
  /**
   * Appends one record after the current last one (read inside the write transaction, so the chain
   * never forks) with time from the injected clock.
   * @throws AuditDetailsRefused when details (or any field) look like a secret; TypeError/RangeError
   *   for malformed or oversized fields.
   */
  append(input: NewAuditRecord): Promise<AuditRecord>;
  /** The last record, undefined when the log is empty. */
  head(): Promise<AuditRecord | undefined>;
  /** Records with sequence > `afterSequence`, ascending, at most `limit` (≤ MAX_AUDIT_PAGE). */
  listRecords(afterSequence: number, limit: number): Promise<AuditRecord[]>;
  /** Stores a signed head. @throws RangeError for malformed fields. */
  appendHead(head: AuditHead): Promise<AuditHead>;
  /** Signed heads with rowid order > `afterIndex` (0 first), ascending, at most `limit`; each with its index. */
  listHeads(afterIndex: number, limit: number): Promise<{ readonly index: number; readonly head: AuditHead }[]>;
}

/** Largest page a listRecords / listHeads call returns. */
export const MAX_AUDIT_PAGE = 1000;

export interface Repository extends RepositoryTx {
  /**
   * Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE or row
   * locks). Resolves with fn's value after COMMIT; rolls back and rejects with fn's error.
   * Other calls on this repository wait until the transaction ends.
   */
  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T>;
  /**
   * Makes erased content (a destroyed epoch's wrapped key) unrecoverable from the store's own
   * files: SQLite checkpoints and truncates its write-ahead log. Resolves false when a reader kept
   * it from completing (call again later). Backups made before hold what they held.
   */
  scrub(): Promise<boolean>;
  /** Closes the underlying connection(s). Further calls reject. */
  close(): Promise<void>;
}

/** The clock an implementation reads for the timestamps it sets (createdAt, revokedAt, …). */
export type Clock = () => Millis;
