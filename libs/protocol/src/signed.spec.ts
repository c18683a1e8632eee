import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './codec.js';
import { SignatureAlgorithm } from './gen/fleetkey/v1/common_pb.js';
import {
  CommandAction,
  CommandSchema,
  RevocationListSchema,
  SignedCommandSchema,
  type SignedCommand,
} from './gen/fleetkey/v1/messages_pb.js';
import { MAX_SIGNED_COMMAND_BYTES } from './limits.js';
import { SIGNING_CONTEXTS, signPayload, signingInput, verifyPayload, type PayloadVerifier, type SignedPayload } from './signed.js';

// A real ECDSA P-256 key pair standing in for the fleet's emergency key.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const EMERGENCY_KEY = { keyId: 'emergency/acme/emergency', version: 1 };

class BadSignature extends Error {
  readonly code = 'SIGNATURE_INVALID';
}

function signer(key: KeyObject) {
  return (input: Uint8Array) => ({
    signature: new Uint8Array(nodeSign('sha256', input, key)),
    signatureAlgorithm: SignatureAlgorithm.ECDSA_P256_SHA256,
    signingKey: EMERGENCY_KEY,
  });
}

const verifier =
  (key: KeyObject): PayloadVerifier =>
  (input, signed) => {
    if (signed.signatureAlgorithm !== SignatureAlgorithm.ECDSA_P256_SHA256) throw new BadSignature('signature invalid');
    if (!nodeVerify('sha256', input, key, signed.signature)) throw new BadSignature('signature invalid');
  };

const command = {
  fleet: 'acme',
  sequence: 7n,
  issuedAt: timestampFromMs(1_700_000_000_000),
  expiresAt: timestampFromMs(1_700_000_600_000),
  scope: { fleet: 'acme' },
  action: CommandAction.LOCKDOWN,
  reason: 'test',
  requestId: 'req-7',
};

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('signingInput', () => {
  it('is UTF-8(context) || 0x00 || payload', () => {
    const input = signingInput(CommandSchema, Uint8Array.from([1, 2, 3]));
    expect(Buffer.from(input).toString('latin1')).toBe('fleetkey/v1 command\u0000\u0001\u0002\u0003');
  });

  it('differs per payload type, so one signature never serves two types', () => {
    const payload = Uint8Array.from([1, 2, 3]);
    expect(signingInput(CommandSchema, payload)).not.toEqual(signingInput(RevocationListSchema, payload));
    expect(new Set(Object.values(SIGNING_CONTEXTS)).size).toBe(Object.keys(SIGNING_CONTEXTS).length);
  });

  it('refuses a schema that is not a signed payload type', () => {
    expect(() => signingInput(SignedCommandSchema as never, new Uint8Array())).toThrow(TypeError);
  });
});

describe('signPayload / verifyPayload', () => {
  it('round-trips a command signed with a real ECDSA P-256 key', async () => {
    const signed = await signPayload(CommandSchema, command, signer(privateKey));
    // Over the wire and back, as a robot receives it from MQTT.
    const wire = toBinary(SignedCommandSchema, create(SignedCommandSchema, signed));
    const back: SignedCommand = decodeMessage(SignedCommandSchema, wire, { maxBytes: MAX_SIGNED_COMMAND_BYTES });
    const decoded = await verifyPayload(CommandSchema, back, verifier(publicKey));
    expect(decoded.sequence).toBe(7n);
    expect(decoded.action).toBe(CommandAction.LOCKDOWN);
    expect(back.signingKey).toEqual(expect.objectContaining(EMERGENCY_KEY));
  });

  it('Precondition: the signature is checked over the payload bytes exactly as received, before any of them is parsed', async () => {
    const signed = await signPayload(CommandSchema, command, signer(privateKey));
    // Tampered payload: refused by the verifier, and the garbage is never handed to the parser.
    const tampered: SignedPayload = { ...signed, payload: Uint8Array.from([0xff, 0xff, 0xff]) };
    expect(await codeOf(verifyPayload(CommandSchema, tampered, verifier(publicKey)))).toBe('SIGNATURE_INVALID');
    // Validly signed garbage passes the verifier, then fails parsing: verification came first.
    const garbage = Uint8Array.from([0xff, 0xff]);
    const signedGarbage: SignedPayload = {
      payload: garbage,
      signature: new Uint8Array(nodeSign('sha256', signingInput(CommandSchema, garbage), privateKey)),
      signatureAlgorithm: SignatureAlgorithm.ECDSA_P256_SHA256,
    };
    expect(await codeOf(verifyPayload(CommandSchema, signedGarbage, verifier(publicKey)))).toBe('MESSAGE_MALFORMED');
  });

  it('verifies non-canonical encodings as signed: the parsed message is never re-serialized', async () => {
    // Fields in reverse order plus an unknown field: valid protobuf, not what toBinary would emit.
    const payload = new BinaryWriter()
      .tag(9, WireType.LengthDelimited).string('req-9')
      .tag(2, WireType.Varint).uint64(9n)
      .tag(1, WireType.LengthDelimited).string('acme')
      .tag(200, WireType.Varint).uint32(1)
      .finish();
    const signature = new Uint8Array(nodeSign('sha256', signingInput(CommandSchema, payload), privateKey));
    const signed = { payload, signature, signatureAlgorithm: SignatureAlgorithm.ECDSA_P256_SHA256 };
    const decoded = await verifyPayload(CommandSchema, signed, verifier(publicKey));
    expect(decoded.sequence).toBe(9n);
    expect(toBinary(CommandSchema, decoded)).not.toEqual(payload);
    expect(await codeOf(verifyPayload(CommandSchema, signed, verifier(publicKey), { unknownFields: 'reject' }))).toBe('MESSAGE_MALFORMED');
  });

  it('refuses a signature made under another payload type context', async () => {
    const list = await signPayload(RevocationListSchema, { fleet: 'acme', sequence: 1n }, signer(privateKey));
    expect(await codeOf(verifyPayload(CommandSchema, list, verifier(publicKey)))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a signature by another key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signed = await signPayload(CommandSchema, command, signer(other.privateKey));
    expect(await codeOf(verifyPayload(CommandSchema, signed, verifier(publicKey)))).toBe('SIGNATURE_INVALID');
  });

  it('Precondition: a verifier that returns a value instead of throwing is refused', async () => {
    const signed = await signPayload(CommandSchema, command, signer(privateKey));
    const booleanVerifier = (() => false) as unknown as PayloadVerifier;
    await expect(verifyPayload(CommandSchema, signed, booleanVerifier)).rejects.toThrow(TypeError);
  });

  it('refuses to sign a command that breaks a field limit', async () => {
    expect(await codeOf(signPayload(CommandSchema, { ...command, reason: 'x'.repeat(513) }, signer(privateKey)))).toBe('MESSAGE_MALFORMED');
  });
});
