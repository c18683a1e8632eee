/**
 * The KeyManagementService handlers: request validation, IAM checks, CRC32C integrity checks and
 * the response shapes of google.cloud.kms.v1 (https://cloud.google.com/kms/docs/reference/rpc).
 * Every request first passes the shared FaultInjector, then authentication, then the operation.
 *
 * CRC32C (https://cloud.google.com/kms/docs/data-integrity-guidelines): when a request carries a
 * `*_crc32c` the emulator checks it (mismatch: INVALID_ARGUMENT) and answers `verified_*_crc32c =
 * true`; every response carries the CRC32C of the data it returns.
 *
 * Trust boundary: every field of every request is client input.
 */
import { createHash, sign as nodeSign } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Metadata, ServerUnaryCall, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import { crc32c, p1363ToDer } from '@fleetkey/crypto';
import { ecdsaSignDigest, rsaPkcs1SignDigest, rsaPssSignDigest } from '../digest-signing/index.js';
import type { FaultInjector } from '../faults.js';
import type { TokenAuthority } from './auth.js';
import { MAX_AAD_BYTES, MAX_CIPHERTEXT_BYTES, MAX_PLAINTEXT_BYTES, openSymmetric, sealSymmetric, versionOf } from './ciphertext.js';
import { keyRingOf, parseCryptoKeyName, parseKeyOrVersion, parseKeyRingName, parseLocation, parseVersionName, RESOURCE_ID } from './names.js';
import {
  GcpStatusError,
  checksumMismatch,
  decryptionFailed,
  incorrectPurpose,
  invalidArgument,
  quotaExceeded,
  unavailable,
  unimplemented,
} from './status.js';
import type { CryptoKeyRecord, GcpKmsStore, KeyRingRecord, VersionRecord } from './store.js';

/** Default and largest page of ListCryptoKeys / ListCryptoKeyVersions (Cloud KMS: max 1000). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** Ed25519 `data` limit for AsymmetricSign (Cloud KMS: 64 KiB). */
export const MAX_SIGN_DATA_BYTES = 64 * 1024;

/**
 * Corruption of responses in transit, for testing a client's integrity checks: 'checksum' makes
 * every returned `*_crc32c` wrong, 'unverified' answers `verified_*_crc32c = false`.
 */
export type ResponseTamper = 'none' | 'checksum' | 'unverified';

export interface ServiceContext {
  readonly store: GcpKmsStore;
  readonly faults: FaultInjector;
  readonly auth: TokenAuthority;
  readonly tamper: () => ResponseTamper;
}

// Requests are decoded by proto-loader from the shipped protos; fields are checked before use.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Req = any;
type Handler = (request: Req, metadata: Metadata) => Promise<object> | object;

const timestamp = (d: Date) => ({ seconds: Math.floor(d.getTime() / 1000), nanos: (d.getTime() % 1000) * 1e6 });
const int64 = (value: number) => ({ value });

function versionMessage(store: GcpKmsStore, key: CryptoKeyRecord, v: VersionRecord) {
  return {
    name: v.name,
    state: store.stateOf(v),
    protection_level: key.protectionLevel,
    algorithm: v.algorithm,
    create_time: timestamp(v.createTime),
    generate_time: timestamp(v.createTime),
  };
}

function keyMessage(store: GcpKmsStore, key: CryptoKeyRecord) {
  const primary = key.primary === undefined ? undefined : key.versions.get(key.primary);
  return {
    name: key.name,
    purpose: key.purpose,
    create_time: timestamp(key.createTime),
    version_template: { protection_level: key.protectionLevel, algorithm: key.algorithm },
    labels: { ...key.labels },
    ...(primary ? { primary: versionMessage(store, key, primary) } : {}),
  };
}

const ringMessage = (ring: KeyRingRecord) => ({ name: ring.name, create_time: timestamp(ring.createTime) });

/** A request's optional Int64Value checksum, or undefined when not sent. */
function checksumOf(field: Req): number | undefined {
  if (field === undefined || field === null) return undefined;
  const value = Number(field.value ?? 0);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw invalidArgument('CRC32C checksums must be in 0..2^32-1.');
  return value;
}

/** Verifies an optional client checksum; returns whether one was verified. */
function verifyChecksum(data: Buffer, field: Req, checksumField: string, dataField: string): boolean {
  const expected = checksumOf(field);
  if (expected === undefined) return false;
  if (crc32c(data) !== expected) throw checksumMismatch(checksumField, dataField);
  return true;
}

const bytesOf = (value: unknown): Buffer => (Buffer.isBuffer(value) ? value : Buffer.alloc(0));

function pageOf<T>(items: readonly T[], request: Req): { page: T[]; next: string } {
  const size = request.page_size ? Number(request.page_size) : DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 0) throw invalidArgument('page_size must be non-negative.');
  const take = Math.min(size || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  let offset = 0;
  if (request.page_token) {
    offset = Number.parseInt(Buffer.from(String(request.page_token), 'base64url').toString(), 10);
    if (!Number.isInteger(offset) || offset < 0 || offset > items.length) throw invalidArgument('Invalid page_token.');
  }
  const page = items.slice(offset, offset + take);
  const end = offset + page.length;
  return { page, next: end < items.length ? Buffer.from(String(end)).toString('base64url') : '' };
}

export function createService(ctx: ServiceContext): UntypedServiceImplementation {
  const { store, auth } = ctx;

  const keyAndRing = (name: string) => store.cryptoKey(name, keyRingOf(name));

  const handlers: Record<string, Handler> = {
    CreateKeyRing(req, md) {
      const parent = parseLocation(req.parent);
      if (typeof req.key_ring_id !== 'string' || !RESOURCE_ID.test(req.key_ring_id)) throw invalidArgument('key_ring_id must match [a-zA-Z0-9_-]{1,63}.');
      auth.authorize(md, 'cloudkms.keyRings.create', parent);
      return ringMessage(store.createKeyRing(`${parent}/keyRings/${req.key_ring_id}`));
    },

    GetKeyRing(req, md) {
      const name = parseKeyRingName(req.name);
      auth.authorize(md, 'cloudkms.keyRings.get', name);
      return ringMessage(store.keyRing(name));
    },

    async CreateCryptoKey(req, md) {
      const parent = parseKeyRingName(req.parent, 'parent');
      if (typeof req.crypto_key_id !== 'string' || !RESOURCE_ID.test(req.crypto_key_id)) throw invalidArgument('crypto_key_id must match [a-zA-Z0-9_-]{1,63}.');
      auth.authorize(md, 'cloudkms.cryptoKeys.create', parent);
      const template = req.crypto_key?.version_template ?? {};
      const key = await store.createCryptoKey({
        ring: parent,
        name: `${parent}/cryptoKeys/${req.crypto_key_id}`,
        purpose: String(req.crypto_key?.purpose ?? 'CRYPTO_KEY_PURPOSE_UNSPECIFIED'),
        algorithm: template.algorithm && template.algorithm !== 'CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED' ? String(template.algorithm) : undefined,
        protectionLevel: template.protection_level && template.protection_level !== 'PROTECTION_LEVEL_UNSPECIFIED' ? String(template.protection_level) : undefined,
        labels: req.crypto_key?.labels,
        skipInitialVersion: req.skip_initial_version_creation === true,
      });
      return keyMessage(store, key);
    },

    GetCryptoKey(req, md) {
      const name = parseCryptoKeyName(req.name);
      auth.authorize(md, 'cloudkms.cryptoKeys.get', name);
      return keyMessage(store, keyAndRing(name));
    },

    ListCryptoKeys(req, md) {
      const parent = parseKeyRingName(req.parent, 'parent');
      if (req.filter) throw unimplemented('ListCryptoKeys filter');
      auth.authorize(md, 'cloudkms.cryptoKeys.list', parent);
      const all = store.listKeys(parent);
      const { page, next } = pageOf(all, req);
      return { crypto_keys: page.map((k) => keyMessage(store, k)), next_page_token: next, total_size: all.length };
    },

    ListCryptoKeyVersions(req, md) {
      const parent = parseCryptoKeyName(req.parent, 'parent');
      if (req.filter) throw unimplemented('ListCryptoKeyVersions filter');
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.list', parent);
      const key = keyAndRing(parent);
      const all = [...key.versions.values()];
      const { page, next } = pageOf(all, req);
      return { crypto_key_versions: page.map((v) => versionMessage(store, key, v)), next_page_token: next, total_size: all.length };
    },

    async CreateCryptoKeyVersion(req, md) {
      const parent = parseCryptoKeyName(req.parent, 'parent');
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.create', parent);
      const key = keyAndRing(parent);
      return versionMessage(store, key, await store.createVersion(key));
    },

    GetCryptoKeyVersion(req, md) {
      const { key: keyName, version } = parseVersionName(req.name);
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.get', req.name);
      const key = keyAndRing(keyName);
      return versionMessage(store, key, store.version(key, version));
    },

    UpdateCryptoKeyPrimaryVersion(req, md) {
      const name = parseCryptoKeyName(req.name);
      const id = Number(req.crypto_key_version_id);
      if (!/^[1-9][0-9]{0,9}$/.test(String(req.crypto_key_version_id ?? ''))) throw invalidArgument('crypto_key_version_id is required.');
      auth.authorize(md, 'cloudkms.cryptoKeys.update', name);
      const key = keyAndRing(name);
      store.setPrimary(key, id);
      return keyMessage(store, key);
    },

    UpdateCryptoKeyVersion(req, md) {
      const body = req.crypto_key_version ?? {};
      const { key: keyName, version } = parseVersionName(body.name, 'crypto_key_version.name');
      const paths: string[] = req.update_mask?.paths ?? [];
      if (paths.length !== 1 || paths[0] !== 'state') throw invalidArgument('update_mask must be exactly ["state"].');
      if (body.state !== 'ENABLED' && body.state !== 'DISABLED') throw invalidArgument('state can only be updated to ENABLED or DISABLED.');
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.update', body.name);
      const key = keyAndRing(keyName);
      const v = store.version(key, version);
      if (store.stateOf(v) === 'PENDING_GENERATION') throw new GcpStatusError(status.FAILED_PRECONDITION, `${v.name} is still being generated.`);
      v.state = body.state;
      return versionMessage(store, key, v);
    },

    Encrypt(req, md) {
      const target = parseKeyOrVersion(req.name);
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.useToEncrypt', req.name);
      const key = keyAndRing(target.key);
      if (key.purpose !== 'ENCRYPT_DECRYPT') throw incorrectPurpose(req.name, key.purpose);
      const plaintext = bytesOf(req.plaintext);
      const aad = bytesOf(req.additional_authenticated_data);
      if (plaintext.length > MAX_PLAINTEXT_BYTES) throw invalidArgument(`The plaintext must be no larger than ${MAX_PLAINTEXT_BYTES} bytes.`);
      if (aad.length > MAX_AAD_BYTES) throw invalidArgument(`The additional_authenticated_data must be no larger than ${MAX_AAD_BYTES} bytes.`);
      const verifiedPlaintext = verifyChecksum(plaintext, req.plaintext_crc32c, 'plaintext_crc32c', 'plaintext');
      const verifiedAad = verifyChecksum(aad, req.additional_authenticated_data_crc32c, 'additional_authenticated_data_crc32c', 'additional_authenticated_data');
      const versionId = target.version ?? key.primary;
      if (versionId === undefined) throw new GcpStatusError(status.FAILED_PRECONDITION, `${key.name} has no primary version.`);
      const v = store.version(key, versionId);
      store.assertEnabled(v);
      const ciphertext = sealSymmetric(v.secret!, key.keyTag, v.id, plaintext, aad);
      return {
        name: v.name,
        ciphertext,
        ciphertext_crc32c: int64(crc32c(ciphertext)),
        verified_plaintext_crc32c: verifiedPlaintext,
        verified_additional_authenticated_data_crc32c: verifiedAad,
        protection_level: key.protectionLevel,
      };
    },

    Decrypt(req, md) {
      const name = parseCryptoKeyName(req.name);
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.useToDecrypt', name);
      const key = keyAndRing(name);
      if (key.purpose !== 'ENCRYPT_DECRYPT') throw incorrectPurpose(name, key.purpose);
      const ciphertext = bytesOf(req.ciphertext);
      const aad = bytesOf(req.additional_authenticated_data);
      if (ciphertext.length > MAX_CIPHERTEXT_BYTES) throw invalidArgument(`The ciphertext must be no larger than ${MAX_CIPHERTEXT_BYTES} bytes.`);
      if (aad.length > MAX_AAD_BYTES) throw invalidArgument(`The additional_authenticated_data must be no larger than ${MAX_AAD_BYTES} bytes.`);
      verifyChecksum(ciphertext, req.ciphertext_crc32c, 'ciphertext_crc32c', 'ciphertext');
      verifyChecksum(aad, req.additional_authenticated_data_crc32c, 'additional_authenticated_data_crc32c', 'additional_authenticated_data');
      const v = key.versions.get(versionOf(ciphertext, key.keyTag));
      if (!v) throw decryptionFailed();
      store.assertEnabled(v);
      const plaintext = openSymmetric(v.secret!, ciphertext, aad);
      return { plaintext, plaintext_crc32c: int64(crc32c(plaintext)), used_primary: v.id === key.primary, protection_level: key.protectionLevel };
    },

    AsymmetricSign(req, md) {
      const { key: keyName, version } = parseVersionName(req.name);
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.useToSign', req.name);
      const key = keyAndRing(keyName);
      const v = store.version(key, version);
      if (key.purpose !== 'ASYMMETRIC_SIGN') throw incorrectPurpose(v.name, key.purpose);
      store.assertEnabled(v);
      const signing = v.info.signing!;
      const data = req.data === undefined ? undefined : bytesOf(req.data);
      const digestCase: string | undefined = req.digest?.digest;
      const digest: Buffer | undefined = digestCase ? bytesOf(req.digest[digestCase]) : undefined;
      let signature: Buffer;
      let verifiedDigest = false;
      let verifiedData = false;
      if (signing.scheme === 'ed25519') {
        // PureEdDSA signs the message itself (RFC 8032 §5.1.6): Cloud KMS takes `data`, never a digest.
        if (digest !== undefined || data === undefined) throw invalidArgument('EC_SIGN_ED25519 requires data and does not accept a digest.');
        if (data.length > MAX_SIGN_DATA_BYTES) throw invalidArgument(`The data must be no larger than ${MAX_SIGN_DATA_BYTES} bytes.`);
        verifiedData = verifyChecksum(data, req.data_crc32c, 'data_crc32c', 'data');
        signature = nodeSign(null, data, v.privateKey!);
      } else {
        if (data !== undefined && data.length > 0) throw invalidArgument(`${v.algorithm} requires a digest; data is not accepted.`);
        if (digest === undefined || digestCase !== signing.digest) throw invalidArgument(`${v.algorithm} requires a ${signing.digest!.toUpperCase()} digest.`);
        const expectedLength = createHash(signing.digest!).digest().length;
        if (digest.length !== expectedLength) throw invalidArgument(`The digest must be ${expectedLength} bytes.`);
        verifiedDigest = verifyChecksum(digest, req.digest_crc32c, 'digest_crc32c', 'digest');
        if (signing.scheme === 'ecdsa') {
          // Cloud KMS returns DER (RFC 3279 §2.2.3); the shared signer gives raw r‖s.
          const curve = signing.digest === 'sha256' ? 'P-256' : 'P-384';
          signature = Buffer.from(p1363ToDer(ecdsaSignDigest(curve, v.privateKey!, digest, signing.digest!), curve));
        } else if (signing.scheme === 'pkcs1') {
          signature = rsaPkcs1SignDigest(v.privateKey!, signing.digest!, digest);
        } else {
          // RSA-PSS: MGF1 with the same hash, salt = digest length (the shared signer's default).
          signature = rsaPssSignDigest(v.privateKey!, signing.digest!, digest);
        }
      }
      return {
        signature,
        signature_crc32c: int64(crc32c(signature)),
        verified_digest_crc32c: verifiedDigest,
        verified_data_crc32c: verifiedData,
        name: v.name,
        protection_level: key.protectionLevel,
      };
    },

    GetPublicKey(req, md) {
      const { key: keyName, version } = parseVersionName(req.name);
      auth.authorize(md, 'cloudkms.cryptoKeyVersions.viewPublicKey', req.name);
      const key = keyAndRing(keyName);
      const v = store.version(key, version);
      if (key.purpose !== 'ASYMMETRIC_SIGN') throw incorrectPurpose(v.name, key.purpose);
      store.assertEnabled(v);
      const format = req.public_key_format ?? 'PUBLIC_KEY_FORMAT_UNSPECIFIED';
      if (format !== 'PUBLIC_KEY_FORMAT_UNSPECIFIED' && format !== 'PEM') throw unimplemented(`public_key_format ${format}`);
      const pem = v.publicKeyPem!;
      return {
        pem,
        algorithm: v.algorithm,
        pem_crc32c: int64(crc32c(Buffer.from(pem, 'utf8'))),
        name: v.name,
        protection_level: key.protectionLevel,
        public_key_format: 'PEM',
      };
    },
  };

  const implementation: UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    implementation[method] = (call: ServerUnaryCall<Req, object>, callback: sendUnaryData<object>) => {
      void answer(ctx, handler, call).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error)),
      );
    };
  }
  return implementation;
}

async function answer(ctx: ServiceContext, handler: Handler, call: ServerUnaryCall<Req, object>): Promise<object> {
  const decision = await ctx.faults.next();
  if (decision === 'throttle') throw quotaExceeded();
  if (decision === 'error' || decision === 'outage') throw unavailable();
  return tamper(await handler(call.request, call.metadata), ctx.tamper());
}

function tamper(response: object, mode: ResponseTamper): object {
  if (mode === 'none') return response;
  const out: Record<string, unknown> = { ...response };
  for (const [field, value] of Object.entries(out)) {
    if (mode === 'checksum' && field.endsWith('_crc32c') && typeof value === 'object' && value !== null) {
      out[field] = { value: ((value as { value: number }).value + 1) % 0x100000000 };
    }
    if (mode === 'unverified' && field.startsWith('verified_')) out[field] = false;
  }
  return out;
}

function toServiceError(error: unknown) {
  if (error instanceof GcpStatusError) return error.toServiceError();
  // An emulator bug, not a client error: INTERNAL, without internals in the message.
  return new GcpStatusError(status.INTERNAL, 'Internal error encountered.').toServiceError();
}
