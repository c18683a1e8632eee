/**
 * The cryptographic operations of Transit on one key: encrypt / decrypt (AES-256-GCM with a
 * 96-bit nonce and optional associated data; RSA-OAEP-SHA256 for RSA keys), sign / verify
 * (ECDSA, RSA PSS / PKCS#1 v1.5, Ed25519; message or prehashed digest; ASN.1 or JWS marshaling).
 * Ciphertexts and signatures carry Vault's `vault:vN:` prefix naming the key version, and every
 * refusal uses the text keysutil.Policy answers with.
 *
 * Trust boundary: ciphertexts, signatures and digests come from the network. A failed AEAD open
 * answers Vault's single fixed message; plaintext never appears in an error.
 */
import { constants, createCipheriv, createDecipheriv, createHash, publicEncrypt, privateDecrypt, randomBytes, sign, verify } from 'node:crypto';
import { p1363ToDer } from '@fleetkey/crypto';
import { CURVES, DIGEST_LENGTH, ecdsaSignDigest, ecdsaVerifyDigest, maxPssSaltLength, rsaPkcs1SignDigest, rsaPkcs1VerifyDigest, rsaPssSignDigest, rsaPssVerifyDigest } from '../digest-signing/index.js';
import type { DigestName } from '../digest-signing/index.js';
import type { KeyVersion, TransitKey } from './keys.js';
import { ecCurveOf, isRsa, isSymmetric, supportsEncryption } from './keys.js';

/** AES-GCM nonce and tag lengths Vault uses (aes256-gcm96: 96-bit nonce, 128-bit tag). */
export const GCM_NONCE_LENGTH = 12;
export const GCM_TAG_LENGTH = 16;

/** keysutil ErrTooOld. */
export const ERR_TOO_OLD = 'ciphertext or signature version is disallowed by policy (too old)';
/** What Go's crypto/cipher answers for a failed GCM open; Vault passes it through as a 400. */
export const ERR_AUTH_FAILED = 'cipher: message authentication failed';

/** A refusal (400 text) or a value. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string; readonly internal?: boolean };

function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}
function fail<T>(error: string, internal = false): Outcome<T> {
  return { ok: false, error, internal };
}

function prefix(version: number): string {
  return `vault:v${version}:`;
}

/** Splits `vault:vN:body` the way keysutil does, with its error texts. */
export function parseVersioned(value: string, what: 'ciphertext' | 'signature', key: TransitKey): Outcome<{ version: number; body: string }> {
  if (!value.startsWith('vault:v')) return fail(`invalid ${what}: no prefix`);
  const rest = value.slice('vault:v'.length);
  const colon = rest.indexOf(':');
  if (colon < 0) return fail(`invalid ${what}: wrong number of fields`);
  const versionText = rest.slice(0, colon);
  if (!/^\d{1,9}$/.test(versionText)) return fail(`invalid ${what}: version number could not be decoded`);
  let version = Number(versionText);
  if (version === 0) version = 1; // keysutil compatibility: v0 means v1
  if (version > key.latestVersion) return fail(`invalid ${what}: version is too new`);
  if (key.minDecryptionVersion > 0 && version < key.minDecryptionVersion) return fail(ERR_TOO_OLD);
  return ok({ version, body: rest.slice(colon + 1) });
}

function versionFor(key: TransitKey, requested: number, operation: 'encryption' | 'signing'): Outcome<{ number: number; version: KeyVersion }> {
  if (requested < 0) return fail(operation === 'signing' ? 'requested version for signing is negative' : 'requested version for encryption is negative');
  const number = requested === 0 ? key.latestVersion : requested;
  if (number > key.latestVersion) {
    return fail(operation === 'signing' ? 'requested version for signing is higher than the latest key version' : 'requested version for encryption is higher than the latest key version');
  }
  if (key.minEncryptionVersion > 0 && number < key.minEncryptionVersion) {
    return fail(`requested version for ${operation} is less than the minimum encryption key version`);
  }
  const version = key.versions.get(number);
  if (!version) return fail('no such key version');
  return ok({ number, version });
}

/** Policy.EncryptWithFactory. `associatedData` is already decoded (undefined when absent). */
export function encrypt(key: TransitKey, plaintext: Buffer, keyVersion: number, associatedData: Buffer | undefined): Outcome<{ ciphertext: string; keyVersion: number }> {
  if (!supportsEncryption(key.type)) return fail(`message encryption not supported for key type ${key.type}`);
  if (associatedData !== undefined && !isSymmetric(key.type)) return fail(`'[0].associated_data' provided for non-AEAD cipher suite ${key.type}`);
  const chosen = versionFor(key, keyVersion, 'encryption');
  if (!chosen.ok) return chosen;
  const { number, version } = chosen.value;
  if (isSymmetric(key.type)) {
    const nonce = randomBytes(GCM_NONCE_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', version.secret!, nonce, { authTagLength: GCM_TAG_LENGTH });
    if (associatedData) cipher.setAAD(associatedData);
    const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return ok({ ciphertext: prefix(number) + body.toString('base64'), keyVersion: number });
  }
  try {
    const body = publicEncrypt({ key: version.publicKey!, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, plaintext);
    return ok({ ciphertext: prefix(number) + body.toString('base64'), keyVersion: number });
  } catch {
    return fail('message too long for RSA public key size');
  }
}

/** Policy.DecryptWithFactory. Returns the plaintext and the version that made the ciphertext. */
export function decrypt(key: TransitKey, ciphertext: string, associatedData: Buffer | undefined): Outcome<{ plaintext: Buffer; keyVersion: number }> {
  if (!supportsEncryption(key.type)) return fail(`message decryption not supported for key type ${key.type}`);
  if (associatedData !== undefined && !isSymmetric(key.type)) return fail(`'[0].associated_data' provided for non-AEAD cipher suite ${key.type}`);
  const parsed = parseVersioned(ciphertext, 'ciphertext', key);
  if (!parsed.ok) return parsed;
  const { version: number, body } = parsed.value;
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(body)) return fail('invalid ciphertext: could not decode base64');
  const raw = Buffer.from(body, 'base64');
  const version = key.versions.get(number);
  if (!version) return fail('no such key version');
  if (isSymmetric(key.type)) {
    // Precondition: nonce ‖ ciphertext ‖ tag, so at least nonce + tag bytes.
    if (raw.length < GCM_NONCE_LENGTH + GCM_TAG_LENGTH) return fail('invalid ciphertext length');
    try {
      const decipher = createDecipheriv('aes-256-gcm', version.secret!, raw.subarray(0, GCM_NONCE_LENGTH), { authTagLength: GCM_TAG_LENGTH });
      if (associatedData) decipher.setAAD(associatedData);
      decipher.setAuthTag(raw.subarray(raw.length - GCM_TAG_LENGTH));
      const plaintext = Buffer.concat([decipher.update(raw.subarray(GCM_NONCE_LENGTH, raw.length - GCM_TAG_LENGTH)), decipher.final()]);
      return ok({ plaintext, keyVersion: number });
    } catch {
      return fail(ERR_AUTH_FAILED);
    }
  }
  try {
    const plaintext = privateDecrypt({ key: version.privateKey!, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, raw);
    return ok({ plaintext, keyVersion: number });
  } catch {
    return fail('failed to RSA decrypt the ciphertext: crypto/rsa: decryption error', true);
  }
}

/** keysutil.HashTypeMap (the subset node:crypto and the emulator share). */
export const HASH_ALGORITHMS: Readonly<Record<string, DigestName>> = Object.freeze({
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
});

export interface SignOptions {
  readonly hash: DigestName;
  readonly prehashed: boolean;
  readonly signatureAlgorithm: 'pss' | 'pkcs1v15';
  readonly marshaling: 'asn1' | 'jws';
  /** 'auto' (largest when signing, any when verifying), 'hash' (digest length) or a byte count. */
  readonly saltLength: 'auto' | 'hash' | number;
}

function pssSalt(options: SignOptions): number | 'auto' {
  if (options.saltLength === 'hash') return DIGEST_LENGTH[options.hash];
  if (options.saltLength === 'auto') return 'auto';
  return options.saltLength;
}

function parseDer(signature: Buffer, size: number): { r: Buffer; s: Buffer } | undefined {
  let offset = 0;
  const take = (): number | undefined => signature[offset++];
  if (take() !== 0x30) return undefined;
  let length = take() ?? 0;
  if (length === 0x81) length = take() ?? 0;
  if (offset + length !== signature.length) return undefined;
  const parts: Buffer[] = [];
  for (let i = 0; i < 2; i += 1) {
    if (take() !== 0x02) return undefined;
    const l = take() ?? 0;
    const value = signature.subarray(offset, offset + l);
    offset += l;
    if (value.length !== l || l === 0) return undefined;
    const trimmed = value[0] === 0 ? value.subarray(1) : value;
    if (trimmed.length > size) return undefined;
    parts.push(Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]));
  }
  if (offset !== signature.length) return undefined;
  return { r: parts[0]!, s: parts[1]! };
}

/** Policy.SignWithOptions. `input` is the message, or the digest when `prehashed`. */
export function signInput(key: TransitKey, input: Buffer, keyVersion: number, options: SignOptions): Outcome<{ signature: string; keyVersion: number }> {
  const chosen = versionFor(key, keyVersion, 'signing');
  if (!chosen.ok) return chosen;
  const { number, version } = chosen.value;
  const curve = ecCurveOf(key.type);
  const digest = (): Buffer => (options.prehashed ? input : createHash(options.hash).update(input).digest());
  let raw: Buffer;
  if (curve) {
    // Go's ecdsa.Sign takes a digest of any length (truncated to bits(n)), so no hash is passed.
    const rs = ecdsaSignDigest(curve, version.privateKey!, digest());
    raw = options.marshaling === 'jws' ? rs : Buffer.from(p1363ToDer(rs, curve));
  } else if (isRsa(key.type)) {
    const hashed = digest();
    if (hashed.length !== DIGEST_LENGTH[options.hash]) return fail('crypto/rsa: input must be hashed message', true);
    if (options.signatureAlgorithm === 'pkcs1v15') {
      raw = rsaPkcs1SignDigest(version.privateKey!, options.hash, hashed);
    } else {
      const max = maxPssSaltLength(version.privateKey!, options.hash);
      const requested = pssSalt(options);
      const salt = requested === 'auto' ? max : requested;
      if (salt < 0 || salt > max) return fail(`requested salt length ${salt} is invalid`);
      raw = rsaPssSignDigest(version.privateKey!, options.hash, hashed, salt);
    }
  } else {
    raw = sign(null, input, version.privateKey!);
  }
  const encoded = options.marshaling === 'jws' ? raw.toString('base64url') : raw.toString('base64');
  return ok({ signature: prefix(number) + encoded, keyVersion: number });
}

/** Policy.VerifySignatureWithOptions. */
export function verifyInput(key: TransitKey, input: Buffer, signature: string, options: SignOptions): Outcome<boolean> {
  const parsed = parseVersioned(signature, 'signature', key);
  if (!parsed.ok) return parsed;
  const version = key.versions.get(parsed.value.version);
  if (!version) return fail('no such key version');
  const body = parsed.value.body;
  const valid64 = options.marshaling === 'jws' ? /^[A-Za-z0-9_-]*$/.test(body) : /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(body);
  if (!valid64) return fail('invalid base64 signature value');
  const raw = Buffer.from(body, options.marshaling === 'jws' ? 'base64url' : 'base64');
  const curve = ecCurveOf(key.type);
  const digest = (): Buffer => (options.prehashed ? input : createHash(options.hash).update(input).digest());
  if (curve) {
    const size = CURVES[curve].bytes;
    let rs: { r: Buffer; s: Buffer } | undefined;
    if (options.marshaling === 'jws') {
      rs = raw.length === 2 * size ? { r: raw.subarray(0, size), s: raw.subarray(size) } : undefined;
      if (!rs) return ok(false);
    } else {
      rs = parseDer(raw, size);
      if (!rs) return fail('supplied signature is invalid');
    }
    return ok(ecdsaVerifyDigest(curve, version.publicKey!, digest(), Buffer.concat([rs.r, rs.s])));
  }
  if (isRsa(key.type)) {
    const hashed = digest();
    if (options.signatureAlgorithm === 'pkcs1v15') return ok(rsaPkcs1VerifyDigest(version.publicKey!, options.hash, hashed, raw));
    const salt = pssSalt(options);
    return ok(rsaPssVerifyDigest(version.publicKey!, options.hash, hashed, raw, salt));
  }
  try {
    return ok(verify(null, input, version.publicKey!, raw));
  } catch {
    return ok(false);
  }
}
