/**
 * The Google Cloud KMS emulator driven by the real `@google-cloud/kms` client over a real socket:
 * wire compatibility, real crypto, CRC32C integrity fields, IAM, and the status codes the real
 * service answers with.
 */
import { constants, createHash, createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { credentials, status } from '@grpc/grpc-js';
import { crc32c } from '@fleetkey/crypto';
import { GCP_EMULATOR_TOKEN, startGcpKmsEmulator } from './index.js';
import type { GcpKmsEmulator } from './index.js';

const LOCATION = 'projects/fleetkey-test/locations/global';
const VIEWER_TOKEN = 'viewer-token';
const ENCRYPTER_TOKEN = 'encrypter-token';

let emulator: GcpKmsEmulator;
let client: KeyManagementServiceClient;
let ring: string;

const bearer = (token: string) => ({ retry: null, otherArgs: { headers: { authorization: `Bearer ${token}` } } });
const admin = bearer(GCP_EMULATOR_TOKEN);
const crc = (data: Uint8Array | string) => ({ value: crc32c(typeof data === 'string' ? Buffer.from(data) : data) });

async function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: number; details: string };
  }
  throw new Error('expected the call to fail');
}

let keySeq = 0;
async function createKey(purpose: 'ENCRYPT_DECRYPT' | 'ASYMMETRIC_SIGN', algorithm?: string) {
  const [key] = await client.createCryptoKey(
    { parent: ring, cryptoKeyId: `k${++keySeq}`, cryptoKey: { purpose, ...(algorithm ? { versionTemplate: { algorithm: algorithm as never } } : {}) } },
    admin,
  );
  return key.name!;
}

beforeAll(async () => {
  emulator = await startGcpKmsEmulator({
    tokens: {
      [GCP_EMULATOR_TOKEN]: ['roles/cloudkms.admin', 'roles/cloudkms.cryptoKeyEncrypterDecrypter', 'roles/cloudkms.signerVerifier'],
      [VIEWER_TOKEN]: ['roles/cloudkms.viewer'],
      [ENCRYPTER_TOKEN]: ['roles/cloudkms.cryptoKeyEncrypterDecrypter'],
    },
  });
  client = new KeyManagementServiceClient({ apiEndpoint: emulator.host, port: emulator.port, sslCreds: credentials.createInsecure(), projectId: 'fleetkey-test', universeDomain: 'googleapis.com' });
  const [created] = await client.createKeyRing({ parent: LOCATION, keyRingId: 'ring', keyRing: {} }, admin);
  ring = created.name!;
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

describe('GCP KMS emulator: key rings and keys', () => {
  it('creates and reads a key ring; a second create is ALREADY_EXISTS; an unknown one NOT_FOUND', async () => {
    const [got] = await client.getKeyRing({ name: ring }, admin);
    expect(got.name).toBe(`${LOCATION}/keyRings/ring`);
    expect((await grpcError(client.createKeyRing({ parent: LOCATION, keyRingId: 'ring', keyRing: {} }, admin))).code).toBe(status.ALREADY_EXISTS);
    expect((await grpcError(client.getKeyRing({ name: `${LOCATION}/keyRings/nope` }, admin))).code).toBe(status.NOT_FOUND);
  });

  it('creates a symmetric key with a primary version and labels', async () => {
    const [key] = await client.createCryptoKey({ parent: ring, cryptoKeyId: 'labelled', cryptoKey: { purpose: 'ENCRYPT_DECRYPT', labels: { team: 'robots' } } }, admin);
    expect(key.purpose).toBe('ENCRYPT_DECRYPT');
    expect(key.primary?.name).toBe(`${ring}/cryptoKeys/labelled/cryptoKeyVersions/1`);
    expect(key.primary?.state).toBe('ENABLED');
    expect(key.versionTemplate?.algorithm).toBe('GOOGLE_SYMMETRIC_ENCRYPTION');
    expect(key.labels).toEqual({ team: 'robots' });
    const [again] = await client.getCryptoKey({ name: key.name! }, admin);
    expect(again.labels).toEqual({ team: 'robots' });
  });

  it('refuses bad labels, unknown names, unimplemented algorithms and purpose/algorithm mismatches', async () => {
    const bad = await grpcError(client.createCryptoKey({ parent: ring, cryptoKeyId: 'badlabel', cryptoKey: { purpose: 'ENCRYPT_DECRYPT', labels: { Team: 'x' } } }, admin));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(client.getCryptoKey({ name: 'not/a/name' }, admin))).code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(client.getCryptoKey({ name: `${ring}/cryptoKeys/missing` }, admin))).code).toBe(status.NOT_FOUND);
    const mac = await grpcError(client.createCryptoKey({ parent: ring, cryptoKeyId: 'mac', cryptoKey: { purpose: 'MAC', versionTemplate: { algorithm: 'HMAC_SHA256' } } }, admin));
    expect(mac.code).toBe(status.UNIMPLEMENTED);
    const mismatch = await grpcError(client.createCryptoKey({ parent: ring, cryptoKeyId: 'mm', cryptoKey: { purpose: 'ENCRYPT_DECRYPT', versionTemplate: { algorithm: 'EC_SIGN_P256_SHA256' } } }, admin));
    expect(mismatch.code).toBe(status.INVALID_ARGUMENT);
  });

  it('lists crypto keys page by page', async () => {
    const seen = new Set<string>();
    let pageToken = '';
    let pages = 0;
    do {
      const [keys, , raw] = await client.listCryptoKeys({ parent: ring, pageSize: 1, pageToken }, { ...admin, autoPaginate: false });
      keys.forEach((k) => seen.add(k.name!));
      pageToken = raw?.nextPageToken ?? '';
      pages++;
    } while (pageToken !== '');
    expect(pages).toBe(seen.size);
    expect(seen.has(`${ring}/cryptoKeys/labelled`)).toBe(true);
  });
});

describe('GCP KMS emulator: Encrypt / Decrypt', () => {
  it('round-trips with AAD, verifies request checksums and returns response checksums', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const plaintext = Buffer.from('a content key, 32 bytes long!!!');
    const aad = Buffer.from('context');
    const [enc] = await client.encrypt({ name, plaintext, plaintextCrc32c: crc(plaintext), additionalAuthenticatedData: aad, additionalAuthenticatedDataCrc32c: crc(aad) }, admin);
    expect(enc.name).toBe(`${name}/cryptoKeyVersions/1`);
    expect(enc.verifiedPlaintextCrc32c).toBe(true);
    expect(enc.verifiedAdditionalAuthenticatedDataCrc32c).toBe(true);
    expect(Number(enc.ciphertextCrc32c?.value)).toBe(crc32c(enc.ciphertext as Uint8Array));
    const [dec] = await client.decrypt({ name, ciphertext: enc.ciphertext, ciphertextCrc32c: crc(enc.ciphertext as Uint8Array), additionalAuthenticatedData: aad }, admin);
    expect(Buffer.from(dec.plaintext as Uint8Array)).toEqual(plaintext);
    expect(Number(dec.plaintextCrc32c?.value)).toBe(crc32c(plaintext));
    expect(dec.usedPrimary).toBe(true);
  });

  it('answers verified_*_crc32c = false when no checksum was sent', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const [enc] = await client.encrypt({ name, plaintext: Buffer.from('x') }, admin);
    expect(enc.verifiedPlaintextCrc32c).toBe(false);
    expect(enc.verifiedAdditionalAuthenticatedDataCrc32c).toBe(false);
  });

  it('refuses a request whose checksum does not match its data (INVALID_ARGUMENT)', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const plaintext = Buffer.from('x');
    const error = await grpcError(client.encrypt({ name, plaintext, plaintextCrc32c: { value: crc32c(plaintext) ^ 1 } }, admin));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    const [enc] = await client.encrypt({ name, plaintext }, admin);
    const ciphertext = enc.ciphertext as Uint8Array;
    expect((await grpcError(client.decrypt({ name, ciphertext, ciphertextCrc32c: { value: crc32c(ciphertext) ^ 1 } }, admin))).code).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses wrong AAD, a flipped bit and another key’s ciphertext with one INVALID_ARGUMENT', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const other = await createKey('ENCRYPT_DECRYPT');
    const [enc] = await client.encrypt({ name, plaintext: Buffer.from('secret'), additionalAuthenticatedData: Buffer.from('a') }, admin);
    const ciphertext = Buffer.from(enc.ciphertext as Uint8Array);
    const wrongAad = await grpcError(client.decrypt({ name, ciphertext, additionalAuthenticatedData: Buffer.from('b') }, admin));
    const flipped = Buffer.from(ciphertext);
    flipped[flipped.length - 1]! ^= 1;
    const tampered = await grpcError(client.decrypt({ name, ciphertext: flipped, additionalAuthenticatedData: Buffer.from('a') }, admin));
    const otherKey = await grpcError(client.decrypt({ name: other, ciphertext, additionalAuthenticatedData: Buffer.from('a') }, admin));
    for (const e of [wrongAad, tampered, otherKey]) {
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      expect(e.details).toBe(wrongAad.details);
    }
  });

  it('Precondition: a ciphertext is at least header + nonce + tag and at most the bound', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    expect((await grpcError(client.decrypt({ name, ciphertext: Buffer.alloc(10) }, admin))).code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(client.decrypt({ name, ciphertext: Buffer.alloc(70 * 1024) }, admin))).code).toBe(status.INVALID_ARGUMENT);
  });

  it('rotation: a new primary encrypts, old ciphertexts still decrypt (used_primary false)', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const [old] = await client.encrypt({ name, plaintext: Buffer.from('v1') }, admin);
    const [v2] = await client.createCryptoKeyVersion({ parent: name, cryptoKeyVersion: {} }, admin);
    expect(v2.name).toBe(`${name}/cryptoKeyVersions/2`);
    const [updated] = await client.updateCryptoKeyPrimaryVersion({ name, cryptoKeyVersionId: '2' }, admin);
    expect(updated.primary?.name).toBe(v2.name);
    const [fresh] = await client.encrypt({ name, plaintext: Buffer.from('v2') }, admin);
    expect(fresh.name).toBe(v2.name);
    const [dec] = await client.decrypt({ name, ciphertext: old.ciphertext }, admin);
    expect(Buffer.from(dec.plaintext as Uint8Array).toString()).toBe('v1');
    expect(dec.usedPrimary).toBe(false);
  });

  it('a DISABLED version is FAILED_PRECONDITION for Encrypt and Decrypt; re-enabling restores it', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const [enc] = await client.encrypt({ name, plaintext: Buffer.from('x') }, admin);
    const version = `${name}/cryptoKeyVersions/1`;
    const [disabled] = await client.updateCryptoKeyVersion({ cryptoKeyVersion: { name: version, state: 'DISABLED' }, updateMask: { paths: ['state'] } }, admin);
    expect(disabled.state).toBe('DISABLED');
    expect((await grpcError(client.encrypt({ name, plaintext: Buffer.from('x') }, admin))).code).toBe(status.FAILED_PRECONDITION);
    expect((await grpcError(client.decrypt({ name, ciphertext: enc.ciphertext }, admin))).code).toBe(status.FAILED_PRECONDITION);
    const [got] = await client.getCryptoKeyVersion({ name: version }, admin);
    expect(got.state).toBe('DISABLED');
    await client.updateCryptoKeyVersion({ cryptoKeyVersion: { name: version, state: 'ENABLED' }, updateMask: { paths: ['state'] } }, admin);
    await client.decrypt({ name, ciphertext: enc.ciphertext }, admin);
  });

  it('wrong key purpose is FAILED_PRECONDITION (Encrypt with a signing key, GetPublicKey / AsymmetricSign with a symmetric key)', async () => {
    const signing = await createKey('ASYMMETRIC_SIGN', 'EC_SIGN_P256_SHA256');
    const symmetric = await createKey('ENCRYPT_DECRYPT');
    expect((await grpcError(client.encrypt({ name: signing, plaintext: Buffer.from('x') }, admin))).code).toBe(status.FAILED_PRECONDITION);
    expect((await grpcError(client.getPublicKey({ name: `${symmetric}/cryptoKeyVersions/1` }, admin))).code).toBe(status.FAILED_PRECONDITION);
    const sign = client.asymmetricSign({ name: `${symmetric}/cryptoKeyVersions/1`, digest: { sha256: Buffer.alloc(32) } }, admin);
    expect((await grpcError(sign)).code).toBe(status.FAILED_PRECONDITION);
    expect((await grpcError(client.updateCryptoKeyPrimaryVersion({ name: signing, cryptoKeyVersionId: '1' }, admin))).code).toBe(status.FAILED_PRECONDITION);
  });
});

describe('GCP KMS emulator: AsymmetricSign / GetPublicKey', () => {
  const message = Buffer.from('fleetkey: sign me');
  it.each([
    ['EC_SIGN_P256_SHA256', 'sha256', {}],
    ['EC_SIGN_P384_SHA384', 'sha384', {}],
    ['RSA_SIGN_PKCS1_2048_SHA256', 'sha256', {}],
    ['RSA_SIGN_PKCS1_3072_SHA256', 'sha256', {}],
    ['RSA_SIGN_PSS_2048_SHA256', 'sha256', { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
  ] as const)('%s: the signature of the digest verifies over the message with the PEM alone', async (algorithm, hash, options) => {
    const name = await createKey('ASYMMETRIC_SIGN', algorithm);
    const version = `${name}/cryptoKeyVersions/1`;
    const [pub] = await client.getPublicKey({ name: version }, admin);
    expect(pub.algorithm).toBe(algorithm);
    expect(Number(pub.pemCrc32c?.value)).toBe(crc32c(Buffer.from(pub.pem!)));
    const digest = createHash(hash).update(message).digest();
    const [sig] = await client.asymmetricSign({ name: version, digest: { [hash]: digest }, digestCrc32c: crc(digest) }, admin);
    expect(sig.verifiedDigestCrc32c).toBe(true);
    expect(sig.name).toBe(version);
    expect(Number(sig.signatureCrc32c?.value)).toBe(crc32c(sig.signature as Uint8Array));
    expect(verify(hash, message, { key: createPublicKey(pub.pem!), ...options }, sig.signature as Uint8Array)).toBe(true);
  });

  it('EC_SIGN_ED25519 signs the data itself and refuses a digest', async () => {
    const name = await createKey('ASYMMETRIC_SIGN', 'EC_SIGN_ED25519');
    const version = `${name}/cryptoKeyVersions/1`;
    const [pub] = await client.getPublicKey({ name: version }, admin);
    const [sig] = await client.asymmetricSign({ name: version, data: message, dataCrc32c: crc(message) }, admin);
    expect(sig.verifiedDataCrc32c).toBe(true);
    expect(verify(null, message, createPublicKey(pub.pem!), sig.signature as Uint8Array)).toBe(true);
    const digest = await grpcError(client.asymmetricSign({ name: version, digest: { sha256: Buffer.alloc(32) } }, admin));
    expect(digest.code).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses the wrong digest kind or length, a bad digest checksum, and a disabled version', async () => {
    const name = await createKey('ASYMMETRIC_SIGN', 'EC_SIGN_P256_SHA256');
    const version = `${name}/cryptoKeyVersions/1`;
    expect((await grpcError(client.asymmetricSign({ name: version, digest: { sha384: Buffer.alloc(48) } }, admin))).code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(client.asymmetricSign({ name: version, digest: { sha256: Buffer.alloc(31) } }, admin))).code).toBe(status.INVALID_ARGUMENT);
    const digest = Buffer.alloc(32, 7);
    expect((await grpcError(client.asymmetricSign({ name: version, digest: { sha256: digest }, digestCrc32c: { value: crc32c(digest) ^ 1 } }, admin))).code).toBe(status.INVALID_ARGUMENT);
    await client.updateCryptoKeyVersion({ cryptoKeyVersion: { name: version, state: 'DISABLED' }, updateMask: { paths: ['state'] } }, admin);
    expect((await grpcError(client.asymmetricSign({ name: version, digest: { sha256: digest } }, admin))).code).toBe(status.FAILED_PRECONDITION);
    expect((await grpcError(client.getPublicKey({ name: version }, admin))).code).toBe(status.FAILED_PRECONDITION);
  });

  it('asymmetric keys have no primary; new versions list in order', async () => {
    const name = await createKey('ASYMMETRIC_SIGN', 'EC_SIGN_P256_SHA256');
    const [key] = await client.getCryptoKey({ name }, admin);
    expect(key.primary).toBeNull();
    await client.createCryptoKeyVersion({ parent: name, cryptoKeyVersion: {} }, admin);
    const [versions] = await client.listCryptoKeyVersions({ parent: name }, { ...admin, autoPaginate: false });
    expect(versions.map((v) => v.name)).toEqual([`${name}/cryptoKeyVersions/1`, `${name}/cryptoKeyVersions/2`]);
  });
});

describe('GCP KMS emulator: PENDING_GENERATION (generationDelayMs)', () => {
  it('a new asymmetric version is PENDING_GENERATION and unusable until the delay has passed', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const slow = await startGcpKmsEmulator({ clock: () => new Date(now), generationDelayMs: 2000 });
    const c = new KeyManagementServiceClient({ apiEndpoint: slow.host, port: slow.port, sslCreds: credentials.createInsecure(), projectId: 'p', universeDomain: 'googleapis.com' });
    try {
      const [r] = await c.createKeyRing({ parent: LOCATION, keyRingId: 'r', keyRing: {} }, admin);
      const [key] = await c.createCryptoKey({ parent: r.name!, cryptoKeyId: 'k', cryptoKey: { purpose: 'ASYMMETRIC_SIGN', versionTemplate: { algorithm: 'EC_SIGN_P256_SHA256' } } }, admin);
      const version = `${key.name}/cryptoKeyVersions/1`;
      expect((await c.getCryptoKeyVersion({ name: version }, admin))[0].state).toBe('PENDING_GENERATION');
      expect((await grpcError(c.asymmetricSign({ name: version, digest: { sha256: Buffer.alloc(32) } }, admin))).code).toBe(status.FAILED_PRECONDITION);
      expect((await grpcError(c.getPublicKey({ name: version }, admin))).code).toBe(status.FAILED_PRECONDITION);
      now += 2000;
      expect((await c.getCryptoKeyVersion({ name: version }, admin))[0].state).toBe('ENABLED');
      await c.asymmetricSign({ name: version, digest: { sha256: Buffer.alloc(32) } }, admin);
      // Symmetric versions are usable at once, as on Google Cloud.
      const [sym] = await c.createCryptoKey({ parent: r.name!, cryptoKeyId: 's', cryptoKey: { purpose: 'ENCRYPT_DECRYPT' } }, admin);
      expect(sym.primary?.state).toBe('ENABLED');
    } finally {
      await c.close();
      await slow.close();
    }
  });

  it('refuses a generation delay out of bounds', async () => {
    await expect(startGcpKmsEmulator({ generationDelayMs: -1 })).rejects.toThrow(RangeError);
  });
});

describe('GCP KMS emulator: authentication and IAM', () => {
  it('a call without credentials is UNAUTHENTICATED', async () => {
    expect((await grpcError(client.getKeyRing({ name: ring }, { retry: null }))).code).toBe(status.UNAUTHENTICATED);
  });

  it('an unknown token is UNAUTHENTICATED', async () => {
    expect((await grpcError(client.getKeyRing({ name: ring }, bearer('not-a-token')))).code).toBe(status.UNAUTHENTICATED);
  });

  it('Precondition: only a bounded "Bearer <token>" is considered', async () => {
    const basic = { retry: null, otherArgs: { headers: { authorization: `Basic ${GCP_EMULATOR_TOKEN}` } } };
    expect((await grpcError(client.getKeyRing({ name: ring }, basic))).code).toBe(status.UNAUTHENTICATED);
    expect((await grpcError(client.getKeyRing({ name: ring }, bearer('x'.repeat(5000))))).code).toBe(status.UNAUTHENTICATED);
  });

  it('anonymousRoles (demo option) lets calls without credentials through, within those roles only', async () => {
    const open = await startGcpKmsEmulator({ anonymousRoles: ['roles/cloudkms.viewer'] });
    const anonymous = new KeyManagementServiceClient({ apiEndpoint: open.host, port: open.port, sslCreds: credentials.createInsecure(), projectId: 'p', universeDomain: 'googleapis.com' });
    try {
      expect((await grpcError(anonymous.getKeyRing({ name: `${LOCATION}/keyRings/none` }, { retry: null }))).code).toBe(status.NOT_FOUND);
      const create = anonymous.createKeyRing({ parent: LOCATION, keyRingId: 'r', keyRing: {} }, { retry: null });
      expect((await grpcError(create)).code).toBe(status.PERMISSION_DENIED);
    } finally {
      await anonymous.close();
      await open.close();
    }
  });

  it('a token without the permission is PERMISSION_DENIED, naming the permission', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const viewer = await grpcError(client.encrypt({ name, plaintext: Buffer.from('x') }, bearer(VIEWER_TOKEN)));
    expect(viewer.code).toBe(status.PERMISSION_DENIED);
    expect(viewer.details).toContain('cloudkms.cryptoKeyVersions.useToEncrypt');
    const [key] = await client.getCryptoKey({ name }, bearer(VIEWER_TOKEN));
    expect(key.name).toBe(name);
    await client.encrypt({ name, plaintext: Buffer.from('x') }, bearer(ENCRYPTER_TOKEN));
    expect((await grpcError(client.createCryptoKeyVersion({ parent: name, cryptoKeyVersion: {} }, bearer(ENCRYPTER_TOKEN)))).code).toBe(status.PERMISSION_DENIED);
  });
});

describe('GCP KMS emulator: faults and integrity tampering', () => {
  it('throttling is RESOURCE_EXHAUSTED, errors and outage are UNAVAILABLE, and every request is counted', async () => {
    const before = emulator.faults.requests;
    try {
      emulator.faults.set({ throttleRate: 1 });
      expect((await grpcError(client.getKeyRing({ name: ring }, admin))).code).toBe(status.RESOURCE_EXHAUSTED);
      emulator.faults.set({ errorRate: 1 });
      expect((await grpcError(client.getKeyRing({ name: ring }, admin))).code).toBe(status.UNAVAILABLE);
      emulator.faults.set({ outage: true });
      expect((await grpcError(client.getKeyRing({ name: ring }, admin))).code).toBe(status.UNAVAILABLE);
    } finally {
      emulator.faults.reset();
    }
    await client.getKeyRing({ name: ring }, admin);
    expect(emulator.faults.requests - before).toBe(4);
  });

  it('tampering corrupts response checksums or clears verified flags, so clients can test their checks', async () => {
    const name = await createKey('ENCRYPT_DECRYPT');
    const plaintext = Buffer.from('x');
    try {
      emulator.setResponseTamper('checksum');
      const [bad] = await client.encrypt({ name, plaintext }, admin);
      expect(Number(bad.ciphertextCrc32c?.value)).not.toBe(crc32c(bad.ciphertext as Uint8Array));
      emulator.setResponseTamper('unverified');
      const [unverified] = await client.encrypt({ name, plaintext, plaintextCrc32c: crc(plaintext) }, admin);
      expect(unverified.verifiedPlaintextCrc32c).toBe(false);
    } finally {
      emulator.setResponseTamper('none');
    }
  });
});
