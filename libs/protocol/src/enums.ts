/**
 * Conversions between the domain vocabulary of @fleetkey/key-types (string literals) and the
 * protobuf enums of fleetkey.v1 (numbers on the wire). The tables are exhaustive in both
 * directions: adding a state, kind or algorithm to key-types fails the typecheck here until the
 * proto gains the matching value, and a test checks every proto value has a domain counterpart.
 *
 * Trust boundary: the `...FromProto` functions take numbers from untrusted messages; proto3 enums
 * are open, so any int32 can arrive. UNSPECIFIED and unknown values are MessageMalformed.
 */
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { KeyAlgorithm, KeyKind, KeyState } from '@fleetkey/key-types';
import { MessageMalformed } from './errors.js';
import {
  KeyAlgorithm as PbKeyAlgorithm,
  KeyKind as PbKeyKind,
  KeyState as PbKeyState,
  SignatureAlgorithm as PbSignatureAlgorithm,
} from './gen/fleetkey/v1/common_pb.js';

const KEY_STATE_TO_PROTO: Readonly<Record<KeyState, PbKeyState>> = Object.freeze({
  pending: PbKeyState.PENDING,
  active: PbKeyState.ACTIVE,
  retiring: PbKeyState.RETIRING,
  expired: PbKeyState.EXPIRED,
  revoked: PbKeyState.REVOKED,
  destroyed: PbKeyState.DESTROYED,
});

const KEY_KIND_TO_PROTO: Readonly<Record<KeyKind, PbKeyKind>> = Object.freeze({
  'fleet-ca': PbKeyKind.FLEET_CA,
  emergency: PbKeyKind.EMERGENCY,
  'fleet-master': PbKeyKind.FLEET_MASTER,
  'device-identity': PbKeyKind.DEVICE_IDENTITY,
  communication: PbKeyKind.COMMUNICATION,
  storage: PbKeyKind.STORAGE,
});

const KEY_ALGORITHM_TO_PROTO: Readonly<Record<KeyAlgorithm, PbKeyAlgorithm>> = Object.freeze({
  RSA_2048: PbKeyAlgorithm.RSA_2048,
  RSA_3072: PbKeyAlgorithm.RSA_3072,
  RSA_4096: PbKeyAlgorithm.RSA_4096,
  ECDSA_P256: PbKeyAlgorithm.ECDSA_P256,
  ECDSA_P384: PbKeyAlgorithm.ECDSA_P384,
  ECDSA_P521: PbKeyAlgorithm.ECDSA_P521,
  ED25519: PbKeyAlgorithm.ED25519,
  AES_256_GCM: PbKeyAlgorithm.AES_256_GCM,
  CHACHA20_POLY1305: PbKeyAlgorithm.CHACHA20_POLY1305,
});

const SIGNATURE_ALGORITHM_TO_PROTO: Readonly<Record<SignatureAlgorithm, PbSignatureAlgorithm>> = Object.freeze({
  ECDSA_P256_SHA256: PbSignatureAlgorithm.ECDSA_P256_SHA256,
  ECDSA_P384_SHA384: PbSignatureAlgorithm.ECDSA_P384_SHA384,
  ECDSA_P521_SHA512: PbSignatureAlgorithm.ECDSA_P521_SHA512,
  RSA_PSS_SHA256: PbSignatureAlgorithm.RSA_PSS_SHA256,
  RSA_PKCS1_SHA256: PbSignatureAlgorithm.RSA_PKCS1_SHA256,
  ED25519: PbSignatureAlgorithm.ED25519,
});

function invert<K extends string>(table: Readonly<Record<K, number>>): ReadonlyMap<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}

const KEY_STATE_FROM_PROTO = invert(KEY_STATE_TO_PROTO);
const KEY_KIND_FROM_PROTO = invert(KEY_KIND_TO_PROTO);
const KEY_ALGORITHM_FROM_PROTO = invert(KEY_ALGORITHM_TO_PROTO);
const SIGNATURE_ALGORITHM_FROM_PROTO = invert(SIGNATURE_ALGORITHM_TO_PROTO);

function fromProto<K extends string>(table: ReadonlyMap<number, K>, what: string, value: number): K {
  // Precondition: UNSPECIFIED and unknown wire values are MESSAGE_MALFORMED.
  const found = table.get(value);
  if (found === undefined) throw new MessageMalformed(`${what}: unspecified or unknown enum value ${Number(value)}`);
  return found;
}

export function keyStateToProto(state: KeyState): PbKeyState {
  return KEY_STATE_TO_PROTO[state];
}

/** @throws MessageMalformed for UNSPECIFIED or a value this build does not know. */
export function keyStateFromProto(value: PbKeyState): KeyState {
  return fromProto(KEY_STATE_FROM_PROTO, 'key state', value);
}

export function keyKindToProto(kind: KeyKind): PbKeyKind {
  return KEY_KIND_TO_PROTO[kind];
}

/** @throws MessageMalformed for UNSPECIFIED or a value this build does not know. */
export function keyKindFromProto(value: PbKeyKind): KeyKind {
  return fromProto(KEY_KIND_FROM_PROTO, 'key kind', value);
}

export function keyAlgorithmToProto(algorithm: KeyAlgorithm): PbKeyAlgorithm {
  return KEY_ALGORITHM_TO_PROTO[algorithm];
}

/** @throws MessageMalformed for UNSPECIFIED or a value this build does not know. */
export function keyAlgorithmFromProto(value: PbKeyAlgorithm): KeyAlgorithm {
  return fromProto(KEY_ALGORITHM_FROM_PROTO, 'key algorithm', value);
}

export function signatureAlgorithmToProto(algorithm: SignatureAlgorithm): PbSignatureAlgorithm {
  const found = SIGNATURE_ALGORITHM_TO_PROTO[algorithm];
  if (found === undefined) throw new RangeError(`unknown signature algorithm ${String(algorithm)}`);
  return found;
}

export function signatureAlgorithmFromProto(value: PbSignatureAlgorithm): SignatureAlgorithm {
  return fromProto(SIGNATURE_ALGORITHM_FROM_PROTO, 'signature algorithm', value);
}
