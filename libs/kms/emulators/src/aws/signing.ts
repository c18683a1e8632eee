/**
 * Sign and Verify for asymmetric emulated keys: RAW messages through node:crypto, DIGEST messages
 * through the shared digest signers (../digest-signing; ECDSA as DER, RFC 3279 §2.2.3, as AWS
 * returns it), with AWS's rules: a DIGEST must be
 * exactly as long as the algorithm's hash, a RAW message is at most 4096 bytes, Ed25519 signs RAW
 * only, and an algorithm the key cannot make is InvalidKeyUsageException.
 *
 * Trust boundary: message, digest and signature are client bytes.
 */
import { constants, createHash, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { derToP1363, p1363ToDer } from '@fleetkey/crypto';
import { DIGEST_LENGTH, ecdsaSignDigest, ecdsaVerifyDigest, rsaPkcs1SignDigest, rsaPkcs1VerifyDigest, rsaPssSignDigest, rsaPssVerifyDigest } from '../digest-signing/index.js';
import { fault } from './errors.js';
import { KNOWN_UNIMPLEMENTED_SIGNING_ALGORITHMS, SIGNING_ALGORITHMS, isAwsSigningAlgorithm, signingAlgorithmsFor } from './key-specs.js';
import type { AwsSigningAlgorithm } from './key-specs.js';
import type { EmulatedKey } from './store.js';

/** AWS: Sign/Verify take at most 4096 bytes of message. */
export const MAX_SIGN_MESSAGE = 4096;

export type MessageType = 'RAW' | 'DIGEST';

export function checkSigningAlgorithm(key: EmulatedKey, algorithm: unknown): AwsSigningAlgorithm {
  if (typeof algorithm === 'string' && KNOWN_UNIMPLEMENTED_SIGNING_ALGORITHMS.includes(algorithm)) {
    throw fault('UnsupportedOperationException', `${algorithm} is not supported by this KMS emulator`);
  }
  if (!isAwsSigningAlgorithm(algorithm)) {
    throw fault('ValidationException', "1 validation error detected: Value at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set");
  }
  // Precondition: the key can make this algorithm (else InvalidKeyUsageException).
  if (key.keyUsage !== 'SIGN_VERIFY' || !signingAlgorithmsFor(key.keySpec).includes(algorithm)) {
    throw fault('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for ${algorithm}.`);
  }
  return algorithm;
}

export function checkMessageType(value: unknown): MessageType {
  if (value === undefined || value === null || value === 'RAW') return 'RAW';
  if (value === 'DIGEST') return 'DIGEST';
  throw fault('ValidationException', "1 validation error detected: Value at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST]");
}

/** The digest the algorithm signs, from the message or as given. */
function digestOf(algorithm: AwsSigningAlgorithm, messageType: MessageType, message: Buffer): Buffer {
  const info = SIGNING_ALGORITHMS[algorithm];
  if (info.hash === null) {
    if (messageType === 'DIGEST') throw fault('ValidationException', 'ED25519_SHA_512 requires MessageType RAW');
    return message;
  }
  if (messageType === 'RAW') return createHash(info.hash).update(message).digest();
  // Precondition: a DIGEST of the wrong length is ValidationException.
  if (message.length !== DIGEST_LENGTH[info.hash]) {
    throw fault('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`);
  }
  return message;
}

function keyPair(key: EmulatedKey): { privateKey: KeyObject; publicKey: KeyObject } {
  if (!key.pair) throw fault('InvalidKeyUsageException', `${key.arn} is not an asymmetric signing key.`);
  return key.pair;
}

export function signMessage(key: EmulatedKey, algorithm: AwsSigningAlgorithm, messageType: MessageType, message: Buffer): Buffer {
  const info = SIGNING_ALGORITHMS[algorithm];
  const { privateKey } = keyPair(key);
  const digest = digestOf(algorithm, messageType, message);
  switch (info.kind) {
    case 'ed25519':
      return sign(null, digest, privateKey);
    case 'ecdsa':
      return messageType === 'RAW' ? sign(info.hash, message, privateKey) : Buffer.from(p1363ToDer(ecdsaSignDigest(info.curve, privateKey, digest, info.hash), info.curve));
    case 'rsa-pkcs1':
    case 'rsa-pss': {
      const pss = info.kind === 'rsa-pss';
      // AWS KMS PSS: MGF1 with the same hash, salt as long as the digest (the module's default).
      if (messageType === 'DIGEST') return pss ? rsaPssSignDigest(privateKey, info.hash, digest) : rsaPkcs1SignDigest(privateKey, info.hash, digest);
      return sign(info.hash, message, pss ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_LENGTH[info.hash] } : privateKey);
    }
  }
}

export function verifyMessage(key: EmulatedKey, algorithm: AwsSigningAlgorithm, messageType: MessageType, message: Buffer, signature: Buffer): boolean {
  const info = SIGNING_ALGORITHMS[algorithm];
  const { publicKey } = keyPair(key);
  const digest = digestOf(algorithm, messageType, message);
  try {
    switch (info.kind) {
      case 'ed25519':
        return verify(null, digest, publicKey, signature);
      case 'ecdsa':
        // derToP1363 throws SignatureInvalid on malformed DER, which the catch below answers as false.
        return messageType === 'RAW' ? verify(info.hash, message, publicKey, signature) : ecdsaVerifyDigest(info.curve, publicKey, digest, derToP1363(signature, info.curve), info.hash);
      case 'rsa-pkcs1':
      case 'rsa-pss': {
        const pss = info.kind === 'rsa-pss';
        if (messageType === 'DIGEST') return pss ? rsaPssVerifyDigest(publicKey, info.hash, digest, signature) : rsaPkcs1VerifyDigest(publicKey, info.hash, digest, signature);
        return verify(info.hash, message, pss ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_LENGTH[info.hash] } : publicKey, signature);
      }
    }
  } catch {
    return false;
  }
}
