/**
 * The tour's robot side, as the edge agent will do it: an identity key and a CSR, enrollment
 * through ProvisioningService over TLS, then DeviceService over mutual TLS and the broker with
 * the device certificate. Everything a robot trusts afterwards comes from its enrollment answer:
 * the fleet CA chain, the controller's TLS CA and the emergency key it pins.
 *
 * Trust boundary: the controller's answers are untrusted until checked here — the certificate
 * against the fleet CA, each epoch manifest against the pinned emergency key, each unwrapped
 * epoch key against the manifest's commitment. Epoch keys are zeroized as soon as they are
 * checked; nothing here prints key bytes or tokens.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import {
  assertSignature,
  createCsr,
  createLocalSigner,
  generateKeyPair,
  keyCommitmentMatches,
  unwrapWithPrivateKey,
  validateDeviceCertificate,
  type ValidatedDevice,
} from '@fleetkey/crypto';
import {
  DeviceService,
  EpochManifestSchema,
  ProvisioningService,
  closeClient,
  createClient,
  keyBundleWrapContext,
  keyStateFromProto,
  signatureAlgorithmFromProto,
  verifyPayload,
  type EmergencyKey,
  type EnrollResponse,
  type KeyBundle,
} from '@fleetkey/protocol';
import { connectAsync, type MqttClient } from 'mqtt';

export interface Robot {
  readonly deviceId: string;
  readonly serialNumber: string;
  readonly privateKey: KeyObject;
  readonly csr: Uint8Array;
}

export interface EnrolledRobot extends Robot {
  readonly fleet: string;
  readonly certificatePem: string;
  readonly validated: ValidatedDevice;
  /** The controller's TLS CA (PEM), from `server_ca_certificates`: whom the robot connects to. */
  readonly serverCaPem: string;
  readonly emergencyKey: EmergencyKey;
  readonly brokerAddress: string;
}

/** A fresh ECDSA P-256 identity key and a CSR signed with it (proof of possession). */
export async function makeRobot(fleet: string, deviceId: string, serialNumber: string): Promise<Robot> {
  const identity = await generateKeyPair('ECDSA_P256');
  const csr = await createCsr({ signer: createLocalSigner(identity.privateKey), fleet, deviceId });
  return { deviceId, serialNumber, privateKey: identity.privateKey, csr: csr.der };
}

function pemOf(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

/**
 * `ProvisioningService.Enroll` over TLS (no client certificate: the token authenticates), then
 * the robot's own checks of what came back.
 * @throws RpcError as the controller answers (ENROLLMENT_TOKEN_REJECTED, CSR_INVALID, …);
 *   CertificateInvalid when the certificate does not chain to the fleet CA or names another device.
 */
export async function enroll(address: string, controllerCaPem: Buffer, robot: Robot, token: string): Promise<EnrolledRobot> {
  const station = createClient(ProvisioningService, address, credentials.createSsl(controllerCaPem));
  let response: EnrollResponse;
  try {
    response = await station.enroll({ enrollmentToken: token, csr: robot.csr, deviceId: robot.deviceId, serialNumber: robot.serialNumber, hardwareModel: 'tour-bot' });
  } finally {
    closeClient(station);
  }
  const validated = validateDeviceCertificate({
    certificate: response.certificate,
    caCertificates: response.caChain,
    at: new Date(),
    expectedFleet: response.fleet,
  });
  if (validated.deviceId !== robot.deviceId) throw new Error(`the certificate names ${validated.deviceId}, not ${robot.deviceId}`);
  if (response.emergencyKey === undefined || response.serverCaCertificates.length === 0) throw new Error('the enrollment answer lacks the emergency key or the server CA');
  return {
    ...robot,
    fleet: response.fleet,
    certificatePem: pemOf(response.certificate),
    validated,
    serverCaPem: response.serverCaCertificates.map(pemOf).join(''),
    emergencyKey: response.emergencyKey,
    brokerAddress: response.brokerAddress,
  };
}

function privateKeyPem(robot: Robot): string {
  return robot.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** TLS to the controller, presenting the device certificate (mutual TLS). */
export function deviceCredentials(robot: EnrolledRobot): ChannelCredentials {
  return credentials.createSsl(Buffer.from(robot.serverCaPem), Buffer.from(privateKeyPem(robot)), Buffer.from(robot.certificatePem));
}

/** `DeviceService.GetKeyBundle` with the given credentials. */
export async function fetchKeyBundle(address: string, channel: ChannelCredentials): Promise<KeyBundle> {
  const client = createClient(DeviceService, address, channel);
  try {
    const answer = await client.getKeyBundle({});
    if (answer.keyBundle === undefined) throw new Error('GetKeyBundle answered without a bundle');
    return answer.keyBundle;
  } finally {
    closeClient(client);
  }
}

export interface VerifiedEpoch {
  readonly keyId: string;
  readonly version: number;
  readonly state: string;
  readonly keyBytes: number;
}

/**
 * What a robot does with a bundle before it uses any key in it: every manifest must be signed by
 * the pinned emergency key, and every wrapped epoch key, once unwrapped with the identity key,
 * must match the commitment of the manifest that lists it.
 * @throws SignatureInvalid for a manifest not signed by the pinned key; DecryptionFailed for a key
 *   wrapped to someone else; Error when a key has no manifest entry or its commitment differs.
 */
export async function verifyKeyBundle(robot: EnrolledRobot, bundle: KeyBundle): Promise<VerifiedEpoch[]> {
  const pinned = robot.emergencyKey;
  const pinnedKey = createPublicKey({ key: Buffer.from(pinned.publicKey), format: 'der', type: 'spki' });
  const manifests = [];
  for (const signed of bundle.manifests) {
    // Precondition: the manifest names the pinned key and verifies under it before it is parsed.
    const manifest = await verifyPayload(EpochManifestSchema, signed, (input, received) => {
      if (received.signingKey?.keyId !== pinned.key?.keyId || received.signingKey?.version !== pinned.key?.version) {
        throw new Error('a manifest is signed by a key the robot does not pin');
      }
      assertSignature(pinnedKey, signatureAlgorithmFromProto(received.signatureAlgorithm), input, received.signature);
    });
    if (manifest.fleet !== robot.fleet) throw new Error('a manifest names another fleet');
    manifests.push(manifest);
  }
  const verified: VerifiedEpoch[] = [];
  for (const wrapped of bundle.epochs) {
    const ref = wrapped.key;
    const manifest = manifests.find((m) => m.keyId === ref?.keyId);
    const descriptor = manifest?.epochs.find((epoch) => epoch.version === ref?.version);
    if (ref === undefined || descriptor === undefined) throw new Error('a wrapped key is not listed in any signed manifest');
    const key = unwrapWithPrivateKey(wrapped.wrappedKey, robot.privateKey, keyBundleWrapContext(robot.deviceId));
    try {
      // Precondition: only a key the controller committed to in a signed manifest is accepted.
      if (!keyCommitmentMatches(key, ref.keyId, ref.version, descriptor.keyCommitment)) throw new Error(`the key of ${ref.keyId}@${ref.version} does not match its commitment`);
      verified.push({ keyId: ref.keyId, version: ref.version, state: keyStateFromProto(descriptor.state), keyBytes: key.length });
    } finally {
      key.fill(0);
    }
  }
  return verified;
}

/** Connects to the broker over TLS with the device certificate; the client id is the device id. */
export async function connectToBroker(robot: EnrolledRobot): Promise<MqttClient> {
  const url = new URL(robot.brokerAddress);
  if (url.protocol !== 'mqtts:') throw new Error('the broker address is not mqtts://');
  return connectAsync({
    protocol: 'mqtts',
    host: url.hostname,
    port: Number(url.port),
    ca: robot.serverCaPem,
    key: privateKeyPem(robot),
    cert: robot.certificatePem,
    clientId: robot.deviceId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

/** MQTT 3.1.1 §3.9.3: SUBACK return code 0x80 is Failure. */
export const SUBACK_FAILURE = 0x80;

/**
 * Subscribes to one topic at QoS 1 and returns the SUBACK return code: the granted QoS, or 0x80
 * when the broker refused (MQTT.js then rejects with the SUBACK packet attached).
 */
export async function subscribeReturnCode(client: MqttClient, topic: string): Promise<number> {
  try {
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    const code = granted[0]?.qos;
    if (code === undefined) throw new Error('the broker answered the subscription without a return code');
    return code;
  } catch (error) {
    const refused = (error as { packet?: { cmd?: unknown; granted?: unknown } }).packet;
    const code = refused?.cmd === 'suback' && Array.isArray(refused.granted) ? (refused.granted[0] as unknown) : undefined;
    if (typeof code === 'number' && (code & SUBACK_FAILURE) !== 0) return code;
    throw error;
  }
}
