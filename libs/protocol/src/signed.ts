/**
 * The signing rule of messages.proto, in code: a signer serializes the inner message once and
 * signs `UTF-8(context) || 0x00 || payload`; a verifier checks the signature over the payload
 * bytes exactly as received and parses them only afterwards, never re-serializing (protobuf
 * encoding is not canonical, so re-serialized bytes may differ from what was signed).
 *
 * The signature primitives are not here: callers pass a signer (the controller's KMS-backed
 * emergency key, a robot's identity key) and a verifier (pinned emergency keys, a peer
 * certificate). The context string is chosen from the payload's schema, so a caller cannot pair
 * a payload type with the wrong context.
 *
 * Trust boundary: `verifyPayload` takes a signed wrapper straight from the network; nothing of
 * the payload is parsed before the verifier accepted the signature.
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { decodeMessage, encodeMessage } from './codec.js';
import { KeyRefSchema, type KeyRef, type SignatureAlgorithm } from './gen/fleetkey/v1/common_pb.js';
import {
  CommandSchema,
  EpochManifestSchema,
  RevocationListSchema,
  SealedPayloadSchema,
} from './gen/fleetkey/v1/messages_pb.js';
import { MAX_REVOCATION_LIST_BYTES, MAX_SEALED_PAYLOAD_BYTES, MAX_SIGNED_PAYLOAD_BYTES } from './limits.js';

/** The schemas whose serialized form is signed, and the context string each is signed under. */
export const SIGNING_CONTEXTS = Object.freeze({
  [CommandSchema.typeName]: 'fleetkey/v1 command',
  [RevocationListSchema.typeName]: 'fleetkey/v1 revocation-list',
  [EpochManifestSchema.typeName]: 'fleetkey/v1 epoch-manifest',
  [SealedPayloadSchema.typeName]: 'fleetkey/v1 sealed-message',
} as const);

const MAX_PAYLOAD_BYTES: Readonly<Record<string, number>> = Object.freeze({
  [CommandSchema.typeName]: MAX_SIGNED_PAYLOAD_BYTES,
  [RevocationListSchema.typeName]: MAX_REVOCATION_LIST_BYTES,
  [EpochManifestSchema.typeName]: MAX_SIGNED_PAYLOAD_BYTES,
  [SealedPayloadSchema.typeName]: MAX_SEALED_PAYLOAD_BYTES,
});

export type SignableSchema =
  | typeof CommandSchema
  | typeof RevocationListSchema
  | typeof EpochManifestSchema
  | typeof SealedPayloadSchema;

/** The fields SignedCommand, SignedRevocationList, SignedEpochManifest and SealedMessage share. */
export interface SignedPayload {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** Absent for SealedMessage, whose signer is named by its certificate. */
  readonly signingKey?: KeyRef | undefined;
}

/** What a signer returns for one signing input. */
export interface PayloadSignature {
  readonly signature: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signingKey?: MessageInitShape<typeof KeyRefSchema>;
}

/** Signs the exact bytes it is given (for ECDSA, a DER signature). */
export type PayloadSigner = (input: Uint8Array) => Promise<PayloadSignature> | PayloadSignature;

/**
 * Checks `signature` over `input` and THROWS when it is not valid (for example @fleetkey/crypto's
 * SignatureInvalid), or when the signing key is not one the caller trusts. It must return nothing:
 * a verifier that returns a boolean is refused, so `false` can never be mistaken for success.
 */
export type PayloadVerifier = (input: Uint8Array, signed: SignedPayload) => Promise<void> | void;

function contextOf(schema: DescMessage): string {
  const context = (SIGNING_CONTEXTS as Readonly<Record<string, string>>)[schema.typeName];
  if (context === undefined) throw new TypeError(`"schema" ${schema.typeName} is not a signed payload type`);
  return context;
}

/** `UTF-8(context) || 0x00 || payload`: the bytes a signature covers (messages.proto). */
export function signingInput(schema: SignableSchema, payload: Uint8Array): Uint8Array {
  const context = Buffer.from(contextOf(schema), 'utf8');
  const input = new Uint8Array(context.byteLength + 1 + payload.byteLength);
  input.set(context, 0);
  input[context.byteLength] = 0;
  input.set(payload, context.byteLength + 1);
  return input;
}

/**
 * Serializes `message` once and signs it under its schema's context.
 * @returns the fields of the signed wrapper (payload, signature, algorithm, signing key).
 * @throws MessageMalformed when the message breaks a field limit or the payload bound; whatever
 *   the signer throws.
 */
export async function signPayload<Desc extends SignableSchema>(
  schema: Desc,
  message: MessageInitShape<Desc>,
  sign: PayloadSigner,
): Promise<SignedPayload> {
  const payload = encodeMessage(schema, message, { maxBytes: MAX_PAYLOAD_BYTES[schema.typeName] ?? 0 });
  const result = await sign(signingInput(schema, payload));
  return {
    payload,
    signature: result.signature,
    signatureAlgorithm: result.signatureAlgorithm,
    ...(result.signingKey === undefined ? {} : { signingKey: create(KeyRefSchema, result.signingKey) }),
  };
}

/**
 * Verifies a signed wrapper, then parses its payload.
 * @throws whatever the verifier throws when the signature is not accepted (nothing is parsed);
 *   TypeError when the verifier returns a value instead of throwing or returning nothing;
 *   MessageMalformed when the verified payload is not a valid `schema` message.
 */
export async function verifyPayload<Desc extends SignableSchema>(
  schema: Desc,
  signed: SignedPayload,
  verify: PayloadVerifier,
  options: { readonly unknownFields?: 'drop' | 'reject' } = {},
): Promise<MessageShape<Desc>> {
  // Precondition: the signature is checked over the payload bytes exactly as received, before
  // any of them is parsed; the parsed message is never re-serialized for verification.
  const outcome: unknown = await verify(signingInput(schema, signed.payload), signed);
  // Precondition: a verifier that returns a value instead of throwing is refused.
  if (outcome !== undefined) {
    throw new TypeError('"verify" must throw on an invalid signature and return nothing; it returned a value');
  }
  return decodeMessage(schema, signed.payload, {
    maxBytes: MAX_PAYLOAD_BYTES[schema.typeName] ?? 0,
    ...(options.unknownFields === undefined ? {} : { unknownFields: options.unknownFields }),
  });
}
