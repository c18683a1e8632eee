/**
 * Cryptographic operations of the AWS KMS emulator: GenerateDataKey,
 * GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt, Sign, Verify, GetPublicKey —
 * with AWS's rules on key usage (InvalidKeyUsageException), key state (DisabledException /
 * KMSInvalidStateException), ciphertext (InvalidCiphertextException, IncorrectKeyException) and
 * signatures (KMSInvalidSignatureException).
 *
 * Trust boundary: request bodies are client input. A ciphertext that does not authenticate gets
 * the same answer whatever the reason (wrong context, tampered bytes, unknown key inside).
 */
import { constants, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { MAX_CIPHERTEXT_BLOB, MAX_PLAINTEXT, openCiphertext, parseCiphertextBlob, sealCiphertext } from './ciphertext.js';
import type { EncryptionContext } from './ciphertext.js';
import { fault } from './errors.js';
import { encryptionContext, requiredBlob } from './input.js';
import type { Json } from './input.js';
import type { Operation, OperationContext } from './key-operations.js';
import { encryptionAlgorithmsFor, signingAlgorithmsFor } from './key-specs.js';
import type { AwsEncryptionAlgorithm } from './key-specs.js';
import { MAX_SIGN_MESSAGE, checkMessageType, checkSigningAlgorithm, signMessage, verifyMessage } from './signing.js';
import { requireUsable } from './store.js';
import type { EmulatedKey } from './store.js';

/** AWS: GenerateDataKey NumberOfBytes is 1..1024. */
export const MAX_DATA_KEY_BYTES = 1024;
/** AWS: a signature is at most 6144 bytes. */
export const MAX_SIGNATURE = 6144;

const INVALID_CIPHERTEXT = 'The ciphertext is invalid.';

function encryptionKey(ctx: OperationContext, keyIdInput: unknown): EmulatedKey {
  const key = ctx.state.resolve(keyIdInput);
  requireUsable(key);
  // Precondition: a signing key cannot encrypt or make data keys (InvalidKeyUsageException).
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') throw fault('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for Encrypt.`);
  return key;
}

function encryptionAlgorithm(body: Json, key: EmulatedKey): AwsEncryptionAlgorithm {
  const value = body['EncryptionAlgorithm'] ?? 'SYMMETRIC_DEFAULT';
  if (value !== 'SYMMETRIC_DEFAULT' && value !== 'RSAES_OAEP_SHA_1' && value !== 'RSAES_OAEP_SHA_256') {
    throw fault('ValidationException', "1 validation error detected: Value at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set");
  }
  if (!encryptionAlgorithmsFor(key.keySpec).includes(value)) throw fault('InvalidKeyUsageException', `${value} is not valid for ${key.arn}.`);
  return value;
}

function encryptWith(key: EmulatedKey, algorithm: AwsEncryptionAlgorithm, plaintext: Buffer, context: EncryptionContext): Buffer {
  if (algorithm === 'SYMMETRIC_DEFAULT') {
    const version = key.backing.length;
    return sealCiphertext(key.keyId, version, key.backing[version - 1]!, plaintext, context);
  }
  const oaepHash = algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
  try {
    return publicEncrypt({ key: key.pair!.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, plaintext);
  } catch {
    throw fault('ValidationException', 'Plaintext is too long for this RSA key and algorithm.');
  }
}

function encrypt(ctx: OperationContext, body: Json): Json {
  const key = encryptionKey(ctx, body['KeyId']);
  const algorithm = encryptionAlgorithm(body, key);
  const plaintext = requiredBlob(body, 'Plaintext', MAX_PLAINTEXT);
  const context = encryptionContext(body, 'EncryptionContext');
  if (algorithm !== 'SYMMETRIC_DEFAULT' && Object.keys(context).length) throw fault('ValidationException', 'EncryptionContext is not supported with asymmetric keys.');
  return { CiphertextBlob: encryptWith(key, algorithm, plaintext, context).toString('base64'), KeyId: key.arn, EncryptionAlgorithm: algorithm };
}

/** Decrypts a blob; the key comes from the blob (symmetric) or from KeyId (asymmetric, required). */
function decryptBlob(ctx: OperationContext, body: Json, blobMember: string, contextMember: string, keyMember: string): { key: EmulatedKey; plaintext: Buffer } {
  const blob = requiredBlob(body, blobMember, MAX_CIPHERTEXT_BLOB);
  const context = encryptionContext(body, contextMember);
  const named = body[keyMember] === undefined || body[keyMember] === null ? undefined : ctx.state.resolve(body[keyMember]);
  const algorithm = body['EncryptionAlgorithm'] ?? body['SourceEncryptionAlgorithm'] ?? 'SYMMETRIC_DEFAULT';
  if (algorithm !== 'SYMMETRIC_DEFAULT') {
    if (!named) throw fault('ValidationException', 'KeyId is required to decrypt with an asymmetric KMS key.');
    requireUsable(named);
    if (named.keyUsage !== 'ENCRYPT_DECRYPT' || !encryptionAlgorithmsFor(named.keySpec).includes(algorithm as AwsEncryptionAlgorithm)) {
      throw fault('InvalidKeyUsageException', `${named.arn} is not valid for ${String(algorithm).slice(0, 32)}.`);
    }
    try {
      const oaepHash = algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
      return { key: named, plaintext: privateDecrypt({ key: named.pair!.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, blob) };
    } catch {
      throw fault('InvalidCiphertextException', INVALID_CIPHERTEXT);
    }
  }
  const parsed = parseCiphertextBlob(blob);
  if (!parsed) throw fault('InvalidCiphertextException', INVALID_CIPHERTEXT);
  const key = ctx.state.keys.get(parsed.keyId);
  if (!key || key.keySpec !== 'SYMMETRIC_DEFAULT') throw fault('InvalidCiphertextException', INVALID_CIPHERTEXT);
  // Precondition: Decrypt naming another key than the blob is IncorrectKeyException.
  if (named && named.keyId !== key.keyId) throw fault('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
  requireUsable(key);
  const backing = parsed.version >= 1 ? key.backing[parsed.version - 1] : undefined;
  const plaintext = backing ? openCiphertext(parsed, backing, context) : null;
  // Precondition: a tampered ciphertext blob is InvalidCiphertextException (it must authenticate under its backing key and the given context).
  if (!plaintext) throw fault('InvalidCiphertextException', INVALID_CIPHERTEXT);
  return { key, plaintext };
}

function decrypt(ctx: OperationContext, body: Json): Json {
  const { key, plaintext } = decryptBlob(ctx, body, 'CiphertextBlob', 'EncryptionContext', 'KeyId');
  try {
    return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: body['EncryptionAlgorithm'] ?? 'SYMMETRIC_DEFAULT' };
  } finally {
    plaintext.fill(0);
  }
}

function reEncrypt(ctx: OperationContext, body: Json): Json {
  const destination = encryptionKey(ctx, body['DestinationKeyId']);
  const algorithm = body['DestinationEncryptionAlgorithm'] ?? 'SYMMETRIC_DEFAULT';
  const destAlgorithm = encryptionAlgorithm({ EncryptionAlgorithm: algorithm }, destination);
  const { key: source, plaintext } = decryptBlob(ctx, body, 'CiphertextBlob', 'SourceEncryptionContext', 'SourceKeyId');
  try {
    const blob = encryptWith(destination, destAlgorithm, plaintext, encryptionContext(body, 'DestinationEncryptionContext'));
    return {
      CiphertextBlob: blob.toString('base64'),
      SourceKeyId: source.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: body['SourceEncryptionAlgorithm'] ?? 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: destAlgorithm,
    };
  } finally {
    plaintext.fill(0);
  }
}

function dataKeyLength(body: Json): number {
  const spec = body['KeySpec'];
  const bytes = body['NumberOfBytes'];
  if ((spec === undefined || spec === null) === (bytes === undefined || bytes === null)) {
    throw fault('ValidationException', 'Please specify either number of bytes or key spec.');
  }
  if (spec === 'AES_256') return 32;
  if (spec === 'AES_128') return 16;
  if (spec !== undefined && spec !== null) throw fault('ValidationException', "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]");
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > MAX_DATA_KEY_BYTES) {
    throw fault('ValidationException', `1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and ${MAX_DATA_KEY_BYTES}`);
  }
  return bytes;
}

function generateDataKey(withPlaintext: boolean): Operation {
  return (ctx, body) => {
    const key = encryptionKey(ctx, body['KeyId']);
    // AWS: data keys come only from symmetric encryption keys.
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw fault('InvalidKeyUsageException', `${key.arn} is not a symmetric encryption key.`);
    const plaintext = randomBytes(dataKeyLength(body));
    try {
      const blob = encryptWith(key, 'SYMMETRIC_DEFAULT', plaintext, encryptionContext(body, 'EncryptionContext'));
      return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, ...(withPlaintext ? { Plaintext: plaintext.toString('base64') } : {}) };
    } finally {
      plaintext.fill(0);
    }
  };
}

function signingKey(ctx: OperationContext, body: Json): EmulatedKey {
  const key = ctx.state.resolve(body['KeyId']);
  requireUsable(key);
  return key;
}

function sign(ctx: OperationContext, body: Json): Json {
  const key = signingKey(ctx, body);
  const algorithm = checkSigningAlgorithm(key, body['SigningAlgorithm']);
  const messageType = checkMessageType(body['MessageType']);
  const message = requiredBlob(body, 'Message', MAX_SIGN_MESSAGE);
  return { KeyId: key.arn, Signature: signMessage(key, algorithm, messageType, message).toString('base64'), SigningAlgorithm: algorithm };
}

function verify(ctx: OperationContext, body: Json): Json {
  const key = signingKey(ctx, body);
  const algorithm = checkSigningAlgorithm(key, body['SigningAlgorithm']);
  const messageType = checkMessageType(body['MessageType']);
  const message = requiredBlob(body, 'Message', MAX_SIGN_MESSAGE);
  const signature = requiredBlob(body, 'Signature', MAX_SIGNATURE);
  // AWS answers an invalid signature with KMSInvalidSignatureException, never SignatureValid: false.
  if (!verifyMessage(key, algorithm, messageType, message, signature)) throw fault('KMSInvalidSignatureException', 'Signature is not valid.');
  return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm };
}

function getPublicKey(ctx: OperationContext, body: Json): Json {
  const key = ctx.state.resolve(body['KeyId']);
  requireUsable(key);
  if (!key.pair) throw fault('UnsupportedOperationException', `${key.arn} is a symmetric key and has no public key.`);
  const spki = key.pair.publicKey.export({ format: 'der', type: 'spki' });
  const usage = key.keyUsage === 'SIGN_VERIFY' ? { SigningAlgorithms: signingAlgorithmsFor(key.keySpec) as string[] } : { EncryptionAlgorithms: encryptionAlgorithmsFor(key.keySpec) };
  return {
    KeyId: key.arn,
    PublicKey: spki.toString('base64'),
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    KeyUsage: key.keyUsage,
    ...usage,
  };
}

export const CRYPTO_OPERATIONS: Readonly<Record<string, Operation>> = Object.freeze({
  GenerateDataKey: generateDataKey(true),
  GenerateDataKeyWithoutPlaintext: generateDataKey(false),
  Encrypt: encrypt,
  Decrypt: decrypt,
  ReEncrypt: reEncrypt,
  Sign: sign,
  Verify: verify,
  GetPublicKey: getPublicKey,
});
