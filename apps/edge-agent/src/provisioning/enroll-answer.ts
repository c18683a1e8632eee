/**
 * The robot's checks of an EnrollResponse, before anything of it is trusted or stored:
 * - the certificate chains to the returned fleet CA, names the fleet and this device id, and
 *   holds this robot's public key (validateDeviceCertificate, then an SPKI comparison);
 * - the emergency key to pin is a well-formed key of an allowed algorithm under
 *   `emergency/<fleet>/emergency@v`;
 * - the key bundle opens (openKeyBundle) against that emergency key: manifests signed by it,
 *   every epoch key unwrapped with our identity key and matching its signed commitment;
 * - the revocation list, when present, is signed by the same key and names the fleet;
 * - the controller's TLS CA certificates parse, and the addresses are present and bounded.
 *
 * Trust boundary: `response` comes from the network (over TLS, authenticated only by the CA the
 * station chose). Everything it contains is untrusted until these checks pass. On failure the
 * unwrapped epoch keys are zeroized; on success they belong to the caller.
 */
import { X509Certificate, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { defaultSignatureAlgorithm, keyAlgorithmOf, validateDeviceCertificate, verifySignature, type ValidatedDevice } from '@fleetkey/crypto';
import { assertAlgorithmAllowed, isValidIdentifier } from '@fleetkey/key-types';
import {
  MessageMalformed,
  RevocationListSchema,
  SignedRevocationListSchema,
  emergencyKeyId,
  keyAlgorithmFromProto,
  openKeyBundle,
  signatureAlgorithmToProto,
  verifyPayload,
  type EnrollResponse,
  type OpenedKeyBundle,
} from '@fleetkey/protocol';
import type { PinnedEmergencyKey } from '../state/index.js';
import { EnrollmentAnswerRejected } from './errors.js';

/** Longest address the agent keeps (EnrollResponse's limit). */
export const MAX_ADDRESS_LENGTH = 255;

export interface CheckEnrollmentParams {
  readonly response: EnrollResponse;
  readonly deviceId: string;
  readonly privateKey: KeyObject;
  /** The clock the certificate is validated at. */
  readonly now: Date;
  /** Used when the controller does not advertise its DeviceService address. */
  readonly fallbackControllerAddress: string;
}

export interface CheckedEnrollment {
  readonly fleet: string;
  readonly group: string | null;
  readonly device: ValidatedDevice;
  readonly certificate: Uint8Array;
  readonly fleetCaChain: readonly Uint8Array[];
  readonly serverCaCertificates: readonly Uint8Array[];
  readonly emergencyKey: PinnedEmergencyKey;
  /** Epoch keys inside belong to the caller, who zeroizes them. */
  readonly bundle: OpenedKeyBundle;
  readonly revocationList: { readonly sequence: bigint; readonly signed: Uint8Array } | undefined;
  readonly commandSequence: bigint;
  readonly controllerAddress: string;
  readonly brokerAddress: string;
}

function spkiOf(key: KeyObject): Buffer {
  return (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
}

function refuse(what: string, cause?: unknown): never {
  throw new EnrollmentAnswerRejected(what, { cause: cause ?? new MessageMalformed(what) });
}

function checkEmergencyKey(response: EnrollResponse, fleet: string): PinnedEmergencyKey & { key: KeyObject } {
  const pinned = response.emergencyKey;
  if (pinned === undefined || pinned.key === undefined) refuse('no emergency key to pin');
  if (pinned.key.keyId !== emergencyKeyId(fleet) || !Number.isInteger(pinned.key.version) || pinned.key.version < 1) refuse('the emergency key is not named emergency/<fleet>/emergency@<version>');
  let algorithm;
  let key: KeyObject;
  try {
    algorithm = keyAlgorithmFromProto(pinned.algorithm);
    assertAlgorithmAllowed('emergency', algorithm);
    key = createPublicKey({ key: Buffer.from(pinned.publicKey), format: 'der', type: 'spki' });
    if (keyAlgorithmOf(key) !== algorithm) throw new MessageMalformed('the emergency key is not of its stated algorithm');
  } catch (error) {
    refuse('the emergency key is malformed or of a refused algorithm', error);
  }
  if (algorithm !== 'ECDSA_P256' && algorithm !== 'RSA_2048') refuse('the emergency key is of a refused algorithm');
  // The controller's emergency signer uses the key's default scheme (kms-core kmsSigner).
  const signatureAlgorithm = defaultSignatureAlgorithm(algorithm) as PinnedEmergencyKey['signatureAlgorithm'];
  return { keyRef: `${pinned.key.keyId}@${pinned.key.version}`, algorithm, signatureAlgorithm, publicKey: new Uint8Array(pinned.publicKey), key };
}

function checkCertificates(list: readonly Uint8Array[], what: string): Uint8Array[] {
  if (list.length === 0) refuse(`no ${what}`);
  return list.map((der) => {
    try {
      new X509Certificate(der);
    } catch (error) {
      refuse(`a ${what} certificate does not parse`, error);
    }
    return new Uint8Array(der);
  });
}

// Printable ASCII without spaces: what a host:port or an mqtts:// URL consists of.
const ADDRESS_PATTERN = /^[\x21-\x7e]+$/;

function checkAddress(value: string, what: string): string {
  if (value.length === 0 || value.length > MAX_ADDRESS_LENGTH || !ADDRESS_PATTERN.test(value)) refuse(`the ${what} address is missing or malformed`);
  return value;
}

/**
 * Runs every check of the module header, in that order.
 * @throws EnrollmentAnswerRejected naming the first failed check (its cause keeps the typed error).
 */
export async function checkEnrollmentAnswer(params: CheckEnrollmentParams): Promise<CheckedEnrollment> {
  const { response } = params;
  const fleet = response.fleet;
  if (!isValidIdentifier(fleet)) refuse('the fleet is not a valid identifier');
  if (response.group !== '' && !isValidIdentifier(response.group)) refuse('the group is not a valid identifier');
  if (response.deviceId !== params.deviceId) refuse(`the answer is for device ${JSON.stringify(response.deviceId.slice(0, 64))}, not ${params.deviceId}`);

  // Precondition: the certificate chains to the returned fleet CA, for this fleet and device.
  const fleetCaChain = checkCertificates(response.caChain, 'fleet CA');
  let device: ValidatedDevice;
  try {
    device = validateDeviceCertificate({ certificate: response.certificate, caCertificates: fleetCaChain, at: params.now, expectedFleet: fleet });
  } catch (error) {
    refuse('the device certificate does not validate against the returned fleet CA', error);
  }
  if (device.deviceId !== params.deviceId) refuse(`the certificate names device ${device.deviceId}, not ${params.deviceId}`);
  // Precondition: the certificate holds this robot's key, not one the controller chose.
  const ours = spkiOf(params.privateKey);
  const certified = spkiOf(device.publicKey);
  if (ours.length !== certified.length || !timingSafeEqual(ours, certified)) refuse("the certificate does not hold this robot's public key");

  const emergency = checkEmergencyKey(response, fleet);
  const pinnedMap = new Map([[emergency.keyRef, { publicKey: emergency.key, algorithm: emergency.signatureAlgorithm }]]);

  const serverCaCertificates = checkCertificates(response.serverCaCertificates, 'controller TLS CA');
  const controllerAddress = checkAddress(response.controllerAddress === '' ? params.fallbackControllerAddress : response.controllerAddress, 'controller');
  const brokerAddress = checkAddress(response.brokerAddress, 'broker');
  if (!brokerAddress.startsWith('mqtts://')) refuse('the broker address is not mqtts://');

  // Precondition: the revocation list is signed by the pinned emergency key and names the fleet.
  let revocationList: CheckedEnrollment['revocationList'];
  if (response.revocationList !== undefined) {
    const signed = response.revocationList;
    try {
      const list = await verifyPayload(RevocationListSchema, signed, (input, received) => {
        const ref = received.signingKey;
        if (ref === undefined || `${ref.keyId}@${ref.version}` !== emergency.keyRef || received.signatureAlgorithm !== signatureAlgorithmToProto(emergency.signatureAlgorithm) || !verifySignature(emergency.key, emergency.signatureAlgorithm, input, received.signature)) {
          throw new MessageMalformed('the revocation list is not signed by the pinned emergency key');
        }
      });
      if (list.fleet !== fleet) throw new MessageMalformed('the revocation list names another fleet');
      revocationList = { sequence: list.sequence, signed: toBinary(SignedRevocationListSchema, signed) };
    } catch (error) {
      refuse('the revocation list does not verify', error);
    }
  }

  // Precondition: every epoch key opens against the pinned key and matches its signed commitment.
  if (response.keyBundle === undefined) refuse('no key bundle');
  let bundle: OpenedKeyBundle;
  try {
    bundle = await openKeyBundle({ bundle: response.keyBundle, fleet, deviceId: params.deviceId, privateKey: params.privateKey, emergencyKeys: pinnedMap });
  } catch (error) {
    refuse('the key bundle does not open', error);
  }

  return {
    fleet,
    group: response.group === '' ? null : response.group,
    device,
    certificate: new Uint8Array(response.certificate),
    fleetCaChain,
    serverCaCertificates,
    emergencyKey: { keyRef: emergency.keyRef, algorithm: emergency.algorithm, signatureAlgorithm: emergency.signatureAlgorithm, publicKey: emergency.publicKey },
    bundle,
    revocationList,
    commandSequence: response.commandSequence,
    controllerAddress,
    brokerAddress,
  };
}
