/**
 * RSA signatures over a digest the caller already computed (AWS KMS `MessageType: DIGEST`, Key
 * Vault RS* / PS*, Cloud KMS AsymmetricSign, Vault Transit `prehashed`). node:crypto hashes the
 * message itself, so the encoded message is built here and only the RSA primitive runs in
 * OpenSSL (`privateEncrypt` / `publicDecrypt` without padding = RSASP1 / RSAVP1, RFC 8017 §5.2):
 *   - RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with EMSA-PKCS1-v1_5 and the DigestInfo of §9.2 note 1;
 *   - RSASSA-PSS (RFC 8017 §8.1) with EMSA-PSS (§9.1), MGF1 (§B.2.1) over the same hash, a salt
 *     length chosen by the caller (default: the hash length), and verification with a fixed salt
 *     length or 'auto' (any salt length, as Go's PSSSaltLengthAuto).
 *
 * Trust boundary: test tooling for the KMS wire emulators only, never production. Digests and
 * signatures are client bytes: signing throws RangeError on a digest of the wrong length;
 * verification answers false for anything malformed (wrong length, value ≥ n, bad padding).
 */
import { constants, createHash, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { DIGEST_LENGTH, checkDigestLength } from './digests.js';
import type { DigestName } from './digests.js';

// RFC 8017 §9.2 note 1: DER of DigestInfo up to and including the OCTET STRING header, so
// T = prefix ‖ H. sha224 uses id-sha224 (2.16.840.1.101.3.4.2.4).
const DIGEST_INFO_PREFIX: Readonly<Record<DigestName, Buffer>> = Object.freeze({
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
});

/** modBits of an RSA KeyObject (public or private). @throws TypeError for any other key. */
function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if ((key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') || bits === undefined) throw new TypeError('"key" expected an RSA key');
  return bits;
}

/** RSASP1 (RFC 8017 §5.2.1) on an encoded message, left-padded with zeros to k bytes. */
function rsasp1(privateKey: KeyObject, em: Buffer): Buffer {
  if (privateKey.type !== 'private') throw new TypeError('"privateKey" expected an RSA private key');
  const k = Math.ceil(modulusBits(privateKey) / 8);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(k - em.length), em]));
}

/**
 * RSAVP1 (RFC 8017 §5.2.2) as k bytes, or null when the signature is not k bytes long
 * (§8.1.2 / §8.2.2 step 1) or its value is not below n (OpenSSL refuses it).
 */
function rsavp1(publicKey: KeyObject, signature: Uint8Array): Buffer | null {
  const k = Math.ceil(modulusBits(publicKey) / 8);
  if (signature.length !== k) return null;
  try {
    const m = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
    return m.length === k ? m : Buffer.concat([Buffer.alloc(k - m.length), m]);
  } catch {
    return null;
  }
}

/** EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2) of a precomputed H: 0x00 ‖ 0x01 ‖ PS (0xff…) ‖ 0x00 ‖ T. */
function pkcs1Encode(hash: DigestName, digest: Uint8Array, emLen: number): Buffer {
  const t = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
  // Step 3: emLen ≥ tLen + 11 (at least eight 0xff bytes of PS).
  if (emLen < t.length + 11) throw new RangeError('intended encoded message length too short');
  return Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(emLen - t.length - 3, 0xff), Buffer.from([0x00]), t]);
}

/** RSASSA-PKCS1-V1_5-SIGN (RFC 8017 §8.2.1) over a precomputed digest. */
export function rsaPkcs1SignDigest(privateKey: KeyObject, hash: DigestName, digest: Uint8Array): Buffer {
  checkDigestLength(hash, digest);
  const k = Math.ceil(modulusBits(privateKey) / 8);
  return rsasp1(privateKey, pkcs1Encode(hash, digest, k));
}

/**
 * RSASSA-PKCS1-V1_5-VERIFY (RFC 8017 §8.2.2): re-encodes and compares the whole encoded message
 * (step 4), so there is exactly one valid encoding. False on anything wrong.
 */
export function rsaPkcs1VerifyDigest(publicKey: KeyObject, hash: DigestName, digest: Uint8Array, signature: Uint8Array): boolean {
  if (DIGEST_LENGTH[hash] === undefined || digest.length !== DIGEST_LENGTH[hash]) return false;
  const em = rsavp1(publicKey, signature);
  if (!em) return false;
  let expected: Buffer;
  try {
    expected = pkcs1Encode(hash, digest, em.length);
  } catch {
    return false;
  }
  return timingSafeEqual(em, expected);
}

/** MGF1 (RFC 8017 §B.2.1) with `hash`. */
function mgf1(hash: DigestName, seed: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * DIGEST_LENGTH[hash] < length; counter += 1) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** H = Hash(M'), M' = (0x)00 00 00 00 00 00 00 00 ‖ mHash ‖ salt (RFC 8017 §9.1.1 steps 5–6). */
function pssHash(hash: DigestName, digest: Uint8Array, salt: Uint8Array): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
}

/** The largest PSS salt the key allows with `hash`: emLen − hLen − 2 (RFC 8017 §9.1.1 step 3). */
export function maxPssSaltLength(key: KeyObject, hash: DigestName): number {
  return Math.ceil((modulusBits(key) - 1) / 8) - DIGEST_LENGTH[hash] - 2;
}

/**
 * RSASSA-PSS-SIGN (RFC 8017 §8.1.1) over a precomputed digest, EMSA-PSS-ENCODE (§9.1.1) with
 * emBits = modBits − 1 and MGF1 over `hash`.
 * @param saltLength salt bytes, 0 … maxPssSaltLength(key, hash); default the hash length.
 * @throws RangeError for a wrong-length digest or an impossible salt length.
 */
export function rsaPssSignDigest(privateKey: KeyObject, hash: DigestName, digest: Uint8Array, saltLength: number = DIGEST_LENGTH[hash]): Buffer {
  checkDigestLength(hash, digest);
  const hLen = DIGEST_LENGTH[hash];
  const emBits = modulusBits(privateKey) - 1;
  const emLen = Math.ceil(emBits / 8);
  // Step 3: emLen ≥ hLen + sLen + 2.
  if (!Number.isSafeInteger(saltLength) || saltLength < 0 || emLen < hLen + saltLength + 2) {
    throw new RangeError(`"saltLength" expected 0 … ${emLen - hLen - 2}, got ${saltLength}`);
  }
  // Steps 4–6: salt, M', H.
  const salt = randomBytes(saltLength);
  const h = pssHash(hash, digest, salt);
  // Steps 7–8: DB = PS ‖ 0x01 ‖ salt.
  const db = Buffer.concat([Buffer.alloc(emLen - saltLength - hLen - 2), Buffer.from([0x01]), salt]);
  // Steps 9–10: maskedDB = DB ⊕ MGF1(H, emLen − hLen − 1).
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i += 1) db[i] = db[i]! ^ mask[i]!;
  // Step 11: clear the leftmost 8·emLen − emBits bits.
  db[0] = db[0]! & (0xff >> (8 * emLen - emBits));
  // Step 12: EM = maskedDB ‖ H ‖ 0xbc; then RSASP1 (§8.1.1 step 2).
  return rsasp1(privateKey, Buffer.concat([db, h, Buffer.from([0xbc])]));
}

/**
 * RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) over a precomputed digest with EMSA-PSS-VERIFY (§9.1.2).
 * @param saltLength the expected salt length, or 'auto' to accept any (the salt then starts
 *   after the first non-zero byte of DB, which must be 0x01); default the hash length.
 */
export function rsaPssVerifyDigest(
  publicKey: KeyObject,
  hash: DigestName,
  digest: Uint8Array,
  signature: Uint8Array,
  saltLength: number | 'auto' = DIGEST_LENGTH[hash],
): boolean {
  const hLen = DIGEST_LENGTH[hash];
  // §9.1.2 step 2 (length of mHash).
  if (hLen === undefined || digest.length !== hLen) return false;
  const emBits = modulusBits(publicKey) - 1;
  const emLen = Math.ceil(emBits / 8);
  const m = rsavp1(publicKey, signature);
  if (!m) return false;
  // §8.1.2 step 2c: I2OSP(m, emLen) fails (signature invalid) when m ≥ 256^emLen.
  const lead = m.length - emLen;
  if (m.subarray(0, lead).some((b) => b !== 0)) return false;
  const em = m.subarray(lead);
  const sLen = saltLength === 'auto' ? 0 : saltLength;
  // Steps 3–4: emLen ≥ hLen + sLen + 2, rightmost octet 0xbc.
  if (!Number.isSafeInteger(sLen) || sLen < 0 || emLen < hLen + sLen + 2 || em[emLen - 1] !== 0xbc) return false;
  // Steps 5–6: maskedDB ‖ H; the leftmost 8·emLen − emBits bits of maskedDB must be zero.
  const topMask = 0xff >> (8 * emLen - emBits);
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if ((maskedDb[0]! & ~topMask & 0xff) !== 0) return false;
  // Steps 7–9: DB = maskedDB ⊕ MGF1(H, emLen − hLen − 1), leftmost bits cleared.
  const mask = mgf1(hash, h, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i += 1) db[i] = maskedDb[i]! ^ mask[i]!;
  db[0] = db[0]! & topMask;
  // Step 10: DB = PS (zeros) ‖ 0x01 ‖ salt; with a fixed sLen the 0x01 sits at emLen − hLen − sLen − 2.
  const one = saltLength === 'auto' ? db.findIndex((b) => b !== 0) : emLen - hLen - sLen - 2;
  if (one < 0 || db[one] !== 0x01 || db.subarray(0, one).some((b) => b !== 0)) return false;
  // Steps 11–14: salt, M', H' = Hash(M'), compare with H.
  return timingSafeEqual(pssHash(hash, digest, db.subarray(one + 1)), h);
}
