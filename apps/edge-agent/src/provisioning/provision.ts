/**
 * `edge-agent provision`: make the identity key in memory, send a CSR with the enrollment token
 * over TLS, check the answer (enroll-answer.ts), and only then write the whole state into a
 * keystore built in a staging directory that is renamed into place. Once a data directory is
 * provisioned, provisioning again enrolls nothing and spends no token.
 *
 * Trust boundary: the token is a secret read once and sent only to the controller, over TLS
 * verified against the station's CA file (or the system roots); it is never stored, logged or
 * put in an error. The identity private key exists in memory and, sealed, in the keystore; the
 * PKCS#8 buffers and unwrapped epoch keys are zeroized once stored.
 */
import type { KeyObject } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { createCsr, createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import { assertIdentifier } from '@fleetkey/key-types';
import { StoreCorrupt } from '@fleetkey/keystore';
import { ProvisioningService, closeClient, createClient, type EnrollResponse } from '@fleetkey/protocol';
import { AgentState, agentPaths, agentProtector, type AgentIdentity, type IdentityKeyAlgorithm } from '../state/index.js';
import { checkEnrollmentAnswer, type CheckedEnrollment } from './enroll-answer.js';
import { createStaging, inspectDataDir } from './data-dir.js';
import { DataDirConflict, ProvisionSettingInvalid } from './errors.js';

/** The fleet a CSR names: the controller ignores a CSR's names and uses the token's fleet. */
export const CSR_PLACEHOLDER_FLEET = 'unenrolled';
/** EnrollRequest limits (provisioning.proto). */
export const MAX_TOKEN_BYTES = 256;
export const MAX_SERIAL_BYTES = 128;
/** Printable ASCII, as tokens (`fk_enr_…`) and serial numbers are. */
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

export interface ProvisionOptions {
  readonly dataDir: string;
  /** `host:port` of the controller's gRPC listener. */
  readonly controller: string;
  /** Called only when an enrollment is needed, so a re-run needs no token. @throws ProvisionSettingInvalid. */
  readonly readToken: () => string;
  readonly deviceId: string;
  /** PEM bundle the controller's certificate must chain to; undefined: the system roots. */
  readonly caPem: Buffer | undefined;
  readonly keyAlgorithm: IdentityKeyAlgorithm;
  readonly serialNumber: string;
  readonly passphrase?: Uint8Array;
  readonly agentVersion: string;
  readonly timeoutMs: number;
  readonly now: () => Date;
}

export type ProvisionOutcome = { readonly kind: 'enrolled'; readonly identity: AgentIdentity } | { readonly kind: 'already-provisioned'; readonly identity: AgentIdentity };

function checkToken(token: string): string {
  if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES || !PRINTABLE_ASCII.test(token)) {
    throw new ProvisionSettingInvalid(`the enrollment token must be 1-${MAX_TOKEN_BYTES} printable ASCII characters`);
  }
  return token;
}

function checkSerial(serial: string): string {
  if (serial !== '' && (serial.length > MAX_SERIAL_BYTES || !/^[\x20-\x7e]+$/.test(serial))) {
    throw new ProvisionSettingInvalid(`--serial must be at most ${MAX_SERIAL_BYTES} printable ASCII characters`);
  }
  return serial;
}

function disposeProtector(protector: object): void {
  const dispose = (protector as { dispose?: () => void }).dispose;
  if (typeof dispose === 'function') dispose.call(protector);
}

/** Reads the identity of an existing agent keystore. @throws StoreKeyInvalid | KeyFileInsecure | StoreCorrupt. */
async function existingIdentity(options: ProvisionOptions): Promise<AgentIdentity> {
  const paths = agentPaths(options.dataDir);
  const protector = agentProtector(paths, options.passphrase === undefined ? {} : { passphrase: options.passphrase });
  try {
    const state = await AgentState.open(paths.keystore, protector, { now: options.now });
    try {
      const identity = state.identity();
      if (identity === undefined) throw new StoreCorrupt(`${paths.root} holds an agent keystore that was never provisioned`);
      return identity;
    } finally {
      state.close();
    }
  } finally {
    disposeProtector(protector);
  }
}

async function enroll(options: ProvisionOptions, token: string, csr: Uint8Array): Promise<EnrollResponse> {
  // Precondition: the controller is authenticated by TLS against --ca-file (or the system roots)
  // before the token is sent; grpc-js sends nothing before the handshake succeeds.
  const client = createClient(ProvisioningService, options.controller, credentials.createSsl(options.caPem ?? null), { defaultTimeoutMs: options.timeoutMs });
  try {
    return await client.enroll({ enrollmentToken: token, csr, deviceId: options.deviceId, serialNumber: options.serialNumber, agentVersion: options.agentVersion });
  } finally {
    closeClient(client);
  }
}

async function writeState(options: ProvisionOptions, checked: CheckedEnrollment, privateKey: KeyObject): Promise<AgentIdentity> {
  const target = agentPaths(options.dataDir);
  const staging = await createStaging(target);
  const protector = agentProtector(staging.paths, options.passphrase === undefined ? {} : { passphrase: options.passphrase });
  const identity: AgentIdentity = {
    fleet: checked.fleet,
    group: checked.group,
    deviceId: options.deviceId,
    keyAlgorithm: options.keyAlgorithm,
    serialNumber: options.serialNumber,
    provisionedAt: options.now(),
  };
  try {
    const state = await AgentState.create(staging.paths.keystore, protector, { now: options.now });
    try {
      state.recordProvisioning({
        identity,
        privateKey,
        certificate: checked.certificate,
        fleetCaChain: checked.fleetCaChain,
        serverCaCertificates: checked.serverCaCertificates,
        endpoints: { controller: checked.controllerAddress, broker: checked.brokerAddress },
        emergencyKeys: [checked.emergencyKey],
        epochs: checked.bundle.epochs,
        sequences: {
          command: checked.commandSequence,
          keyBundle: checked.bundle.sequence,
          manifests: new Map(checked.bundle.manifests.map((manifest) => [manifest.keyId, manifest.sequence])),
        },
        revocationList: checked.revocationList,
      });
    } finally {
      state.close();
    }
    await staging.commit();
    return identity;
  } catch (error) {
    await staging.discard();
    throw error;
  } finally {
    disposeProtector(protector);
  }
}

/**
 * Provisions the data directory, or reports the robot it already holds.
 * @throws DataDirConflict (the path holds something else, or another device id) | RpcError (the
 *   controller's refusal or an unreachable / untrusted controller) | EnrollmentAnswerRejected |
 *   ProvisionSettingInvalid | keystore errors for an existing store. On any failure the data
 *   directory is as it was.
 */
export async function provisionAgent(options: ProvisionOptions): Promise<ProvisionOutcome> {
  const deviceId = assertIdentifier('device', options.deviceId);
  const paths = agentPaths(options.dataDir);
  switch (await inspectDataDir(paths)) {
    case 'agent': {
      const identity = await existingIdentity(options);
      if (identity.deviceId !== deviceId) {
        throw new DataDirConflict(`${paths.root} is already provisioned as device ${identity.deviceId} of fleet ${identity.fleet}; not enrolling it again as ${deviceId}`);
      }
      return { kind: 'already-provisioned', identity };
    }
    case 'foreign':
      throw new DataDirConflict(`${paths.root} exists and is neither empty nor an agent data directory; provision never writes into it`);
    default:
      break;
  }
  const token = checkToken(options.readToken());
  checkSerial(options.serialNumber);

  const identityKey = await generateKeyPair(options.keyAlgorithm);
  const csr = await createCsr({ signer: createLocalSigner(identityKey.privateKey), fleet: CSR_PLACEHOLDER_FLEET, deviceId });
  const response = await enroll(options, token, csr.der);
  const checked = await checkEnrollmentAnswer({ response, deviceId, privateKey: identityKey.privateKey, now: options.now(), fallbackControllerAddress: options.controller });
  try {
    return { kind: 'enrolled', identity: await writeState(options, checked, identityKey.privateKey) };
  } finally {
    for (const epoch of checked.bundle.epochs) epoch.key.fill(0);
  }
}
