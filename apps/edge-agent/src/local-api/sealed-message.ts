/**
 * Fleet messages (messages.proto SealedMessage / SealedPayload): data sealed with a communication
 * key epoch (envelope v1, key id and version in its header) and signed with the sender's identity
 * key, carrying the sender's certificate. Seal and Open of the local API, and anything else that
 * seals for the fleet, go through here so there is one format and one set of checks.
 *
 * Trust boundary: `openFleetMessage` takes bytes from another robot, via an app, the broker or a
 * disk. Nothing of the payload is believed before the sender's certificate chained to this fleet's
 * CA, passed the revocation list (serial and device id) and its key verified the signature over
 * the payload bytes as received; then the payload must name this fleet and the certificate's
 * device, and the envelope the key series of the payload's group. The sender's device id is bound
 * into the envelope context too, so a member cannot re-sign another robot's envelope as its own.
 * Every failure is a typed FleetkeyError; key copies are zeroized in `finally`.
 */
import { randomBytes } from 'node:crypto';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { SignatureInvalid, createLocalSigner, openEnvelope, readEnvelopeHeader, sealEnvelope, verifySignature, type EnvelopeContext, type Signer } from '@fleetkey/crypto';
import { InvalidArgument, PeerRefused, isValidIdentifier, type KeyState } from '@fleetkey/key-types';
import {
  MAX_SEALED_MESSAGE_BYTES,
  MessageMalformed,
  SealedMessageSchema,
  SealedPayloadSchema,
  communicationKeyId,
  decodeMessage,
  encodeMessage,
  signPayload,
  signatureAlgorithmFromProto,
  signatureAlgorithmToProto,
  verifyPayload,
  type PayloadSigner,
} from '@fleetkey/protocol';
import { AGENT_KEY_PROVIDER, associatedDataDigest, type AgentCore } from '../runtime/agent-core.js';

/** Most plaintext bytes one fleet message carries (agent.proto SealRequest.plaintext). */
export const MAX_SEALED_PLAINTEXT_BYTES = 1024 * 1024;
/** Most associated-data bytes (agent.proto SealRequest.associated_data). */
export const MAX_ASSOCIATED_DATA_BYTES = 4096;
/** SealedPayload.message_id is exactly this long. */
export const MESSAGE_ID_BYTES = 16;
/** The envelope context purpose of every fleet message (messages.proto SealedPayload.envelope). */
export const FLEET_MESSAGE_PURPOSE = 'pubsub';
/** The app label of a message sealed without a purpose. */
export const DEFAULT_APP_PURPOSE = 'app';

// AES-GCM tag (16 bytes) on top of the largest plaintext.
const MAX_FLEET_CIPHERTEXT_BYTES = MAX_SEALED_PLAINTEXT_BYTES + 16;

export interface SealFleetMessageParams {
  readonly plaintext: Uint8Array;
  /** Authenticated, not carried: the opener supplies the same bytes. */
  readonly associatedData: Uint8Array;
  /** Seal with the robot's group key instead of the fleet key. */
  readonly useGroupKey: boolean;
  /** Identifier bound into the envelope context; empty means "app". */
  readonly purpose: string;
}

export interface SealedFleetMessage {
  /** A serialized SealedMessage. */
  readonly message: Uint8Array;
  readonly keyId: string;
  readonly version: number;
}

export interface OpenFleetMessageParams {
  /** A serialized SealedMessage. */
  readonly message: Uint8Array;
  readonly associatedData: Uint8Array;
  readonly purpose: string;
}

export interface OpenedFleetMessage {
  readonly plaintext: Uint8Array;
  readonly keyId: string;
  readonly version: number;
  /** The state of the epoch that opened it, now. */
  readonly state: KeyState;
  /** From the sender's verified certificate. */
  readonly senderDeviceId: string;
  /** The sender's clock when it sealed. */
  readonly sentAt: Date;
}

const signers = new WeakMap<AgentCore, Signer>();

function identitySigner(core: AgentCore): Signer {
  let signer = signers.get(core);
  if (signer === undefined) {
    signer = createLocalSigner(core.privateKey(), { algorithm: core.signatureAlgorithm() });
    signers.set(core, signer);
  }
  return signer;
}

/** A PayloadSigner over the robot's identity key. */
export function identityPayloadSigner(core: AgentCore): PayloadSigner {
  const signer = identitySigner(core);
  return async (input) => ({ signature: await signer.sign(input), signatureAlgorithm: signatureAlgorithmToProto(signer.algorithm) });
}

/** Signs `data` with the robot's identity key. */
export async function signWithIdentity(core: AgentCore, data: Uint8Array): Promise<{ signature: Uint8Array; algorithm: Signer['algorithm'] }> {
  const signer = identitySigner(core);
  return { signature: await signer.sign(data), algorithm: signer.algorithm };
}

/** @throws InvalidArgument when the purpose is neither empty nor an identifier. */
function appPurpose(purpose: string): string {
  if (purpose === '') return DEFAULT_APP_PURPOSE;
  if (!isValidIdentifier(purpose)) throw new InvalidArgument('"purpose" must be empty or an identifier');
  return purpose;
}

function checkBytes(name: string, value: Uint8Array, max: number): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${name}" expected a Uint8Array`);
  if (value.byteLength > max) throw new InvalidArgument(`"${name}" is longer than ${max} bytes`);
}

function envelopeContext(sender: string, purpose: string, associatedData: Uint8Array): EnvelopeContext {
  return { sender, purpose: FLEET_MESSAGE_PURPOSE, app: purpose, aad: associatedDataDigest(associatedData) };
}

/**
 * Seals `plaintext` with the newest active epoch of the fleet key (or the robot's group key) and
 * signs it with the identity key.
 * @throws DeviceLocked | KeysExpired (no epoch may seal now) | InvalidArgument (purpose, sizes).
 */
export async function sealFleetMessage(core: AgentCore, params: SealFleetMessageParams): Promise<SealedFleetMessage> {
  checkBytes('plaintext', params.plaintext, MAX_SEALED_PLAINTEXT_BYTES);
  checkBytes('associatedData', params.associatedData, MAX_ASSOCIATED_DATA_BYTES);
  const purpose = appPurpose(params.purpose);
  const { fleet, group, deviceId } = core.identity;
  const sealing = core.sealingKey(params.useGroupKey);
  let envelope: Uint8Array;
  try {
    envelope = sealEnvelope({
      key: sealing.key,
      provider: AGENT_KEY_PROVIDER,
      keyId: sealing.keyId,
      keyVersion: sealing.version,
      plaintext: params.plaintext,
      context: envelopeContext(deviceId, purpose, params.associatedData),
    });
  } finally {
    sealing.key.fill(0);
  }
  const signed = await signPayload(
    SealedPayloadSchema,
    {
      fleet,
      group: params.useGroupKey ? (group ?? '') : '',
      senderDeviceId: deviceId,
      messageId: new Uint8Array(randomBytes(MESSAGE_ID_BYTES)),
      sentAt: timestampFromDate(core.now()),
      contentType: '',
      envelope,
    },
    identityPayloadSigner(core),
  );
  const message = encodeMessage(
    SealedMessageSchema,
    { payload: signed.payload, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, senderCertificate: core.certificate() },
    { maxBytes: MAX_SEALED_MESSAGE_BYTES },
  );
  return { message, keyId: sealing.keyId, version: sealing.version };
}

/**
 * Checks and opens a fleet message sealed by this or another robot of the fleet.
 * @throws DeviceLocked | MessageMalformed (undecodable, inconsistent) | CertificateInvalid |
 *   CertificateRevoked | PeerRefused (certificate or payload names someone else) |
 *   SignatureInvalid | EnvelopeMalformed | EnvelopeUnsupported | KeyNotFound (epoch not held) |
 *   KeyNotUsable (epoch past its not_after) | DecryptionFailed (tampered, or associated data or
 *   purpose not those given to Seal) | InvalidArgument (purpose, sizes).
 */
export async function openFleetMessage(core: AgentCore, params: OpenFleetMessageParams): Promise<OpenedFleetMessage> {
  core.assertUnlocked();
  checkBytes('associatedData', params.associatedData, MAX_ASSOCIATED_DATA_BYTES);
  const purpose = appPurpose(params.purpose);
  checkBytes('message', params.message, MAX_SEALED_MESSAGE_BYTES);
  const sealed = decodeMessage(SealedMessageSchema, params.message, { maxBytes: MAX_SEALED_MESSAGE_BYTES });
  // Precondition: the sender is known only from a certificate carried in the message.
  if (sealed.senderCertificate.byteLength === 0) throw new MessageMalformed('sealed message: no sender certificate');
  // Precondition: the certificate chains to this fleet's CA, is valid now and is not revoked.
  const sender = core.validatePeerCertificate(sealed.senderCertificate);
  const algorithm = signatureAlgorithmFromProto(sealed.signatureAlgorithm);
  // Precondition: the signature verifies over the payload bytes as received, before they are parsed.
  const payload = await verifyPayload(SealedPayloadSchema, sealed, (input, signed) => {
    let valid = false;
    try {
      valid = verifySignature(sender.publicKey, algorithm, input, signed.signature);
    } catch (cause) {
      // An algorithm that does not fit the certificate's key is the sender's doing, not misuse.
      throw new SignatureInvalid({ cause });
    }
    if (!valid) throw new SignatureInvalid();
  });
  // Precondition: the signed payload names this fleet and the device of the certificate.
  if (payload.fleet !== core.identity.fleet) throw new PeerRefused('the sealed message names another fleet');
  if (payload.senderDeviceId !== sender.deviceId) throw new PeerRefused('the sealed message names a sender other than its certificate');
  if (payload.messageId.byteLength !== MESSAGE_ID_BYTES) throw new MessageMalformed(`sealed message: message_id is not ${MESSAGE_ID_BYTES} bytes`);
  if (payload.sentAt === undefined) throw new MessageMalformed('sealed message: no sent_at');
  const header = readEnvelopeHeader(payload.envelope, { maxCiphertextLength: MAX_FLEET_CIPHERTEXT_BYTES });
  // Precondition: the envelope is sealed with the key series of the payload's group (the fleet
  // key when the group is empty), by this kind of agent.
  let series: string;
  try {
    series = communicationKeyId(payload.fleet, payload.group === '' ? null : payload.group);
  } catch (cause) {
    throw new MessageMalformed('sealed message: the group cannot name a key', { cause });
  }
  if (header.provider !== AGENT_KEY_PROVIDER || header.keyId !== series || header.keyVersion < 1) {
    throw new MessageMalformed('sealed message: the envelope is not sealed with the key of its group');
  }
  const opening = core.openingKey(header.keyId, header.keyVersion);
  try {
    const plaintext = openEnvelope(payload.envelope, opening.key, envelopeContext(sender.deviceId, purpose, params.associatedData), {
      maxCiphertextLength: MAX_FLEET_CIPHERTEXT_BYTES,
    });
    return { plaintext, keyId: opening.keyId, version: opening.version, state: opening.state, senderDeviceId: sender.deviceId, sentAt: timestampDate(payload.sentAt) };
  } finally {
    opening.key.fill(0);
  }
}
