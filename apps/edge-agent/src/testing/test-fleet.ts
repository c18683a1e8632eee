/**
 * Test support: a fleet authority in memory — the fleet CA, the emergency key and the epoch keys a
 * controller would hold in its KMS — that provisions robots straight into real keystores in temp
 * dirs and signs commands, revocation lists and key bundles exactly as the controller does (same
 * libs/protocol functions). Unit and component tests of the agent use it where starting a
 * controller would add nothing; the end-to-end tests use the real controller binaries.
 *
 * Not for production: it holds every private key in memory.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueDeviceCertificate, summarizeCertificate, type Signer } from '@fleetkey/crypto';
import {
  CommandAction,
  CommandSchema,
  KeyBundleSchema,
  RevocationListSchema,
  SignedCommandSchema,
  SignedRevocationListSchema,
  ScopeSchema,
  buildKeyBundle,
  communicationKeyId,
  emergencyKeyId,
  issueEpochManifest,
  payloadSignerOf,
  signPayload,
  type KeyBundle,
  type SignedCommand,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import type { KeyState } from '@fleetkey/key-types';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { DATA_DIR_MODE } from '../state/layout.js';

const DAY_MS = 86_400_000;

export interface TestEpoch {
  readonly group: string | null;
  readonly version: number;
  state: KeyState;
  readonly notBefore: number;
  notAfter: number;
  readonly key: Uint8Array;
}

export interface TestRobot {
  readonly deviceId: string;
  readonly group: string | null;
  readonly dataDir: string;
  readonly privateKey: KeyObject;
  readonly certificate: Uint8Array;
  readonly serialNumber: string;
}

export interface TestFleetOptions {
  readonly fleet?: string;
  /** Milliseconds since the epoch the fleet is created at (certificates start a day earlier). */
  readonly now?: number;
}

export class TestFleet {
  readonly fleet: string;
  readonly caCertificate: Uint8Array;
  readonly emergencyPublicKey: KeyObject;
  readonly epochs: TestEpoch[] = [];
  readonly #caSigner: Signer;
  readonly #emergencySigner: Signer;
  #commandSequence = 0n;
  #revocationSequence = 0n;
  #manifestSequence = 0;
  #bundleSequence = 0;
  readonly #revoked: { deviceId: string; serialNumber: string }[] = [];
  readonly #now: number;

  private constructor(fleet: string, now: number, caSigner: Signer, caCertificate: Uint8Array, emergencySigner: Signer, emergencyPublicKey: KeyObject) {
    this.fleet = fleet;
    this.#now = now;
    this.#caSigner = caSigner;
    this.caCertificate = caCertificate;
    this.#emergencySigner = emergencySigner;
    this.emergencyPublicKey = emergencyPublicKey;
  }

  static async create(options: TestFleetOptions = {}): Promise<TestFleet> {
    const fleet = options.fleet ?? 'acme';
    const now = options.now ?? Date.now();
    const ca = await generateKeyPair('ECDSA_P256');
    const caSigner = createLocalSigner(ca.privateKey);
    const caCertificate = await createCaCertificate({ signer: caSigner, fleet, commonName: `${fleet} test CA`, notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 365 * DAY_MS) });
    const emergency = await generateKeyPair('ECDSA_P256');
    const testFleet = new TestFleet(fleet, now, caSigner, caCertificate.der, createLocalSigner(emergency.privateKey), emergency.publicKey);
    testFleet.epochs.push({ group: null, version: 1, state: 'active', notBefore: now - DAY_MS, notAfter: now + 2 * DAY_MS, key: new Uint8Array(randomBytes(32)) });
    return testFleet;
  }

  get emergencyKeyRef(): string {
    return `${emergencyKeyId(this.fleet)}@1`;
  }

  /** Issues a device certificate for `publicKey` (used by provision and by renewal tests). */
  async issueCertificate(deviceId: string, publicKey: KeyObject, validityMs = 30 * DAY_MS): Promise<Uint8Array> {
    const issued = await issueDeviceCertificate({
      issuerSigner: this.#caSigner,
      issuerCertificate: this.caCertificate,
      publicKey,
      fleet: this.fleet,
      deviceId,
      notBefore: new Date(this.#now - DAY_MS),
      notAfter: new Date(this.#now + validityMs),
    });
    return issued.der;
  }

  /**
   * Makes a robot: identity key, certificate, and a provisioned keystore in `dataDir` holding the
   * fleet's current epochs, as `edge-agent provision` leaves it.
   */
  async provision(deviceId: string, dataDir: string, options: { group?: string } = {}): Promise<TestRobot> {
    const group = options.group ?? null;
    const { privateKey, publicKey } = await generateKeyPair('ECDSA_P256');
    const certificate = await this.issueCertificate(deviceId, publicKey);
    await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
    const paths = agentPaths(dataDir);
    const state = await AgentState.create(paths.keystore, agentProtector(paths));
    try {
      state.recordProvisioning({
        identity: { fleet: this.fleet, group, deviceId, keyAlgorithm: 'ECDSA_P256', serialNumber: `SN-${deviceId}`, provisionedAt: new Date(this.#now) },
        privateKey,
        certificate,
        fleetCaChain: [this.caCertificate],
        serverCaCertificates: [this.caCertificate],
        endpoints: { controller: '127.0.0.1:1', broker: 'mqtts://127.0.0.1:1' },
        emergencyKeys: [{ keyRef: this.emergencyKeyRef, algorithm: 'ECDSA_P256', signatureAlgorithm: 'ECDSA_P256_SHA256', publicKey: new Uint8Array(this.emergencyPublicKey.export({ type: 'spki', format: 'der' })) }],
        epochs: this.epochs
          .filter((epoch) => epoch.group === null || epoch.group === group)
          .map((epoch) => ({ keyId: communicationKeyId(this.fleet, epoch.group), version: epoch.version, state: epoch.state, notBefore: epoch.notBefore, notAfter: epoch.notAfter, key: epoch.key })),
        sequences: { command: this.#commandSequence, keyBundle: 0, manifests: new Map() },
        revocationList: undefined,
      });
    } finally {
      state.close();
    }
    return { deviceId, group, dataDir, privateKey, certificate, serialNumber: summarizeCertificate(certificate).serialNumber };
  }

  /** Adds an epoch of the fleet key (or a group's) in `state` (default pending). */
  addEpoch(params: { group?: string | null; state?: KeyState; notAfter?: number } = {}): TestEpoch {
    const group = params.group ?? null;
    const version = Math.max(0, ...this.epochs.filter((epoch) => epoch.group === group).map((epoch) => epoch.version)) + 1;
    const epoch: TestEpoch = { group, version, state: params.state ?? 'pending', notBefore: this.#now - DAY_MS, notAfter: params.notAfter ?? this.#now + 3 * DAY_MS, key: new Uint8Array(randomBytes(32)) };
    this.epochs.push(epoch);
    return epoch;
  }

  /** The key bundle the controller would send `robot` now: one fresh signed manifest per series. */
  async bundleFor(robot: TestRobot): Promise<KeyBundle> {
    const groups = [null, ...(robot.group === null ? [] : [robot.group])];
    this.#manifestSequence += 1;
    const manifests = [];
    for (const group of groups) {
      const epochs = this.epochs.filter((epoch) => epoch.group === group);
      if (epochs.length === 0) continue;
      manifests.push(
        await issueEpochManifest({
          fleet: this.fleet,
          group,
          sequence: this.#manifestSequence,
          issuedAt: Date.now(),
          epochs,
          sign: payloadSignerOf(this.#emergencySigner, { keyId: emergencyKeyId(this.fleet), version: 1 }),
        }),
      );
    }
    this.#bundleSequence += 1;
    return buildKeyBundle({
      fleet: this.fleet,
      group: robot.group,
      deviceId: robot.deviceId,
      devicePublicKey: robot.privateKey,
      manifests,
      epochKeys: this.epochs.filter((epoch) => groups.includes(epoch.group)),
      sequence: this.#bundleSequence,
      issuedAt: Date.now(),
    });
  }

  bundleBytes(bundle: KeyBundle): Uint8Array {
    return toBinary(KeyBundleSchema, bundle);
  }

  /**
   * A signed command with the next sequence (or `sequence` to replay an old one). Scope defaults
   * to the whole fleet. `signer` replaces the emergency key (to forge one).
   */
  async command(params: {
    action: CommandAction;
    reason?: string;
    wipe?: boolean;
    scope?: { group?: string; deviceId?: string };
    sequence?: bigint;
    expiresAt?: number;
    issuedAt?: number;
    signer?: Signer;
    fleet?: string;
  }): Promise<SignedCommand> {
    if (params.sequence === undefined) this.#commandSequence += 1n;
    const sequence = params.sequence ?? this.#commandSequence;
    const issuedAt = params.issuedAt ?? Date.now();
    const fleet = params.fleet ?? this.fleet;
    const target =
      params.scope?.group !== undefined
        ? { case: 'group' as const, value: params.scope.group }
        : params.scope?.deviceId !== undefined
          ? { case: 'deviceId' as const, value: params.scope.deviceId }
          : { case: undefined };
    const scope = create(ScopeSchema, { fleet, target });
    const signed = await signPayload(
      CommandSchema,
      {
        fleet,
        sequence,
        issuedAt: timestampFromMs(issuedAt),
        expiresAt: timestampFromMs(params.expiresAt ?? issuedAt + 3_600_000),
        scope,
        action: params.action,
        reason: params.reason ?? 'test',
        wipe: params.wipe ?? false,
        requestId: `req-${sequence}`,
      },
      payloadSignerOf(params.signer ?? this.#emergencySigner, { keyId: emergencyKeyId(this.fleet), version: 1 }),
    );
    return create(SignedCommandSchema, signed);
  }

  commandBytes(command: SignedCommand): Uint8Array {
    return toBinary(SignedCommandSchema, command);
  }

  /** Revokes `robot` and returns the next signed revocation list. */
  async revoke(robot: TestRobot): Promise<SignedRevocationList> {
    this.#revoked.push({ deviceId: robot.deviceId, serialNumber: robot.serialNumber });
    return this.revocationList();
  }

  /** The current revocation list with the next sequence. */
  async revocationList(): Promise<SignedRevocationList> {
    this.#revocationSequence += 1n;
    const signed = await signPayload(
      RevocationListSchema,
      {
        fleet: this.fleet,
        sequence: this.#revocationSequence,
        issuedAt: timestampFromMs(Date.now()),
        revoked: this.#revoked.map((entry) => ({ deviceId: entry.deviceId, serialNumber: entry.serialNumber, revokedAt: timestampFromMs(Date.now()), reason: 'test' })),
      },
      payloadSignerOf(this.#emergencySigner, { keyId: emergencyKeyId(this.fleet), version: 1 }),
    );
    return create(SignedRevocationListSchema, signed);
  }

  revocationListBytes(list: SignedRevocationList): Uint8Array {
    return toBinary(SignedRevocationListSchema, list);
  }
}

export { CommandAction };
