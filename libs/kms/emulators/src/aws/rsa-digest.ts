/**
 * RSA signatures over a caller-supplied digest (AWS KMS `MessageType: DIGEST`). node:crypto hashes
 * the message itself, so the emulator builds the encoded message here and applies the raw RSA
 * operation: EMSA-PKCS1-v1_5 (RFC 8017 §9.2) with the DigestInfo prefix, and EMSA-PSS (RFC 8017
 * §9.1) with MGF1 over the same hash and a salt as long as the digest, as AWS KMS uses it.
 *
 * Trust boundary: test and demo only; the digest is caller bytes, the key is emulator state.
 */
import { constants, createHash, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type RsaHash = 'sha256' | 'sha384' | 'sha512';

export const DIGEST_LENGTH: Readonly<Record<RsaHash, number>> = Object.freeze({ sha256: 32, sha384: 48, sha512: 64 });

// RFC 8017 §9.2 note 1: DER DigestInfo prefixes.
const DIGEST_INFO_PREFIX: Readonly<Record<RsaHash, Buffer>> = Object.freeze({
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
});

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: RsaHash, seed: Buffer, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let counter = 0; parts.length * DIGEST_LENGTH[hash] < length; counter += 1) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    parts.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with sLen = hLen. */
function pssEncode(hash: RsaHash, digest: Uint8Array, emBits: number): Buffer {
  const hLen = DIGEST_LENGTH[hash];
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([0x01]), salt]);
  const mask = mgf1(hash, h, emLen - hLen - 1);
  for (let i = 0; i < db.length; i += 1) db[i] = db[i]! ^ mask[i]!;
  db[0] = db[0]! & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with sLen = hLen. */
function pssVerify(hash: RsaHash, digest: Uint8Array, em: Buffer, emBits: number): boolean {
  const hLen = DIGEST_LENGTH[hash];
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < 2 * hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((maskedDb[0]! & ~topMask) !== 0) return false;
  const mask = mgf1(hash, h, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i += 1) db[i] = maskedDb[i]! ^ mask[i]!;
  db[0] = db[0]! & topMask;
  const psLength = emLen - 2 * hLen - 2;
  for (let i = 0; i < psLength; i += 1) if (db[i] !== 0) return false;
  if (db[psLength] !== 0x01) return false;
  const salt = db.subarray(db.length - hLen);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
}

/** Raw RSA private operation on a full-width block (RSASP1, RFC 8017 §5.2.1). */
function rawSign(privateKey: KeyObject, block: Buffer): Buffer {
  const k = Math.ceil(modulusBits(privateKey) / 8);
  const padded = Buffer.concat([Buffer.alloc(k - block.length), block]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, padded);
}

export function signRsaDigest(privateKey: KeyObject, hash: RsaHash, digest: Uint8Array, pss: boolean): Buffer {
  if (pss) return rawSign(privateKey, pssEncode(hash, digest, modulusBits(privateKey) - 1));
  // privateEncrypt with PKCS#1 padding applies EMSA-PKCS1-v1_5 type-1 padding to T = DigestInfo.
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]));
}

/** False for any wrong, malformed or wrong-length signature. */
export function verifyRsaDigest(publicKey: KeyObject, hash: RsaHash, digest: Uint8Array, signature: Uint8Array, pss: boolean): boolean {
  const bits = modulusBits(publicKey);
  if (signature.length !== Math.ceil(bits / 8)) return false;
  try {
    if (pss) {
      const em = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
      const emLen = Math.ceil((bits - 1) / 8);
      // RSAVP1 output is k bytes; EM is its last emLen bytes, the rest must be zero (§8.1.2 step 2c).
      const lead = em.subarray(0, em.length - emLen);
      if (lead.some((b) => b !== 0)) return false;
      return pssVerify(hash, digest, em.subarray(em.length - emLen), bits - 1);
    }
    const t = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    const expected = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
    return t.length === expected.length && timingSafeEqual(t, expected);
  } catch {
    return false;
  }
}
