/**
 * The key store of the Azure Key Vault emulator: named keys with versions holding real RSA / EC
 * key pairs, and the operations Key Vault runs on them (create, get, list, versions, rotate,
 * update, wrapKey / unwrapKey / encrypt / decrypt with RSA-OAEP(-256) and RSA1_5, sign / verify
 * over a digest). Answers follow the Key Vault REST reference (api-version 7.x / 2025-07-01):
 * KeyBundle `{key: JsonWebKey, attributes, tags}` with Unix-seconds times, base64url bytes.
 *
 * Trust boundary: request bodies come from an authenticated test client and are validated field
 * by field; every refusal is a `KeyVaultHttpError` in the service's shape. Private keys never
 * leave this module (the JWK returned is the public half, as Key Vault returns it).
 */
import { constants, generateKeyPair, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { DIGEST_LENGTH, ecdsaSignDigest, ecdsaVerifyDigest, rsaPkcs1SignDigest, rsaPkcs1VerifyDigest, rsaPssSignDigest, rsaPssVerifyDigest } from '../digest-signing/index.js';
import type { EcCurve } from '../digest-signing/index.js';
import { KeyVaultHttpError, badParameter, keyDisabled, keyNotFound, operationNotPermitted } from './errors.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Key Vault object names: 1-127 characters of 0-9, a-z, A-Z and '-'. */
const KEY_NAME_PATTERN = /^[0-9A-Za-z-]{1,127}$/;
/** Versions are 32 lowercase hex characters. */
const VERSION_PATTERN = /^[0-9a-f]{32}$/;
/** Most keys one emulated vault holds (bounds memory in long demo runs). */
export const MAX_KEYS = 10_000;
/** Most versions of one key. */
export const MAX_VERSIONS_PER_KEY = 1_000;
/** Key Vault allows at most 15 tags, names up to 512 and values up to 256 characters. */
export const MAX_TAGS = 15;
const MAX_TAG_NAME_LENGTH = 512;
const MAX_TAG_VALUE_LENGTH = 256;
/** Largest base64url `value` accepted in a key operation (an RSA-4096 block is 512 bytes). */
export const MAX_OPERATION_VALUE_BYTES = 1024;
/** Page size of list answers (Key Vault's `maxresults` is 1..25). */
export const MAX_PAGE_SIZE = 25;

export const KEY_OPERATIONS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey', 'import', 'export'] as const;
export type KeyOperation = (typeof KEY_OPERATIONS)[number];
const RSA_DEFAULT_OPS: readonly KeyOperation[] = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];
const EC_DEFAULT_OPS: readonly KeyOperation[] = ['sign', 'verify'];
const RSA_SIZES = [2048, 3072, 4096];
const NODE_CURVES: Readonly<Record<string, string>> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', 'P-256K': 'secp256k1' };

/** RSA encryption algorithms (JWA RFC 7518 §4.2, §4.3) with the OAEP hash and the input bound. */
const ENCRYPTION_ALGORITHMS: Readonly<Record<string, { padding: number; oaepHash?: string; overhead: number }>> = {
  'RSA-OAEP-256': { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', overhead: 2 * 32 + 2 },
  'RSA-OAEP': { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1', overhead: 2 * 20 + 2 },
  RSA1_5: { padding: constants.RSA_PKCS1_PADDING, overhead: 11 },
};

interface SignatureAlgorithmSpec {
  readonly family: 'RSA' | 'EC';
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly scheme: 'pkcs1' | 'pss' | 'ecdsa';
  /** Key Vault curve name, ECDSA only. */
  readonly curve?: EcCurve;
}

/**
 * The JWA signature algorithms Key Vault's sign / verify accept (RFC 7518 §3): RS* RSASSA-PKCS1-v1_5,
 * PS* RSASSA-PSS with MGF1 over the same hash and salt length = hash length, ES* ECDSA as raw r‖s
 * (RFC 7518 §3.4). All run over the client's digest through ../digest-signing.
 */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithmSpec>> = Object.freeze({
  RS256: { family: 'RSA', hash: 'sha256', scheme: 'pkcs1' },
  RS384: { family: 'RSA', hash: 'sha384', scheme: 'pkcs1' },
  RS512: { family: 'RSA', hash: 'sha512', scheme: 'pkcs1' },
  PS256: { family: 'RSA', hash: 'sha256', scheme: 'pss' },
  PS384: { family: 'RSA', hash: 'sha384', scheme: 'pss' },
  PS512: { family: 'RSA', hash: 'sha512', scheme: 'pss' },
  ES256: { family: 'EC', hash: 'sha256', scheme: 'ecdsa', curve: 'P-256' },
  ES384: { family: 'EC', hash: 'sha384', scheme: 'ecdsa', curve: 'P-384' },
  ES512: { family: 'EC', hash: 'sha512', scheme: 'ecdsa', curve: 'P-521' },
  ES256K: { family: 'EC', hash: 'sha256', scheme: 'ecdsa', curve: 'P-256K' },
});

/** Signs `digest` (already checked to be the hash's length); ECDSA as raw r‖s. */
function signDigest(alg: SignatureAlgorithmSpec, privateKey: KeyObject, digest: Uint8Array): Buffer {
  if (alg.scheme === 'pkcs1') return rsaPkcs1SignDigest(privateKey, alg.hash, digest);
  if (alg.scheme === 'pss') return rsaPssSignDigest(privateKey, alg.hash, digest);
  return ecdsaSignDigest(alg.curve!, privateKey, digest, alg.hash);
}

/** True when `signature` is valid for `digest`; false for anything malformed (never throws). */
function verifyDigest(alg: SignatureAlgorithmSpec, publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (alg.scheme === 'pkcs1') return rsaPkcs1VerifyDigest(publicKey, alg.hash, digest, signature);
    if (alg.scheme === 'pss') return rsaPssVerifyDigest(publicKey, alg.hash, digest, signature);
    return ecdsaVerifyDigest(alg.curve!, publicKey, digest, signature, alg.hash);
  } catch {
    return false;
  }
}

interface KeyVersion {
  readonly version: string;
  readonly kty: 'RSA' | 'RSA-HSM' | 'EC' | 'EC-HSM';
  readonly keySize?: number;
  readonly crv?: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  keyOps: KeyOperation[];
  enabled: boolean;
  nbf?: number;
  exp?: number;
  readonly created: number;
  updated: number;
  tags: Record<string, string>;
}

export type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseTags(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw badParameter("Property 'tags' must be an object of strings.");
  const entries = Object.entries(value);
  if (entries.length > MAX_TAGS) throw badParameter(`Tags are limited to ${MAX_TAGS} per object.`);
  const tags: Record<string, string> = {};
  for (const [name, tag] of entries) {
    if (typeof tag !== 'string' || name.length === 0 || name.length > MAX_TAG_NAME_LENGTH || tag.length > MAX_TAG_VALUE_LENGTH) {
      throw badParameter("Property 'tags' has an invalid tag name or value.");
    }
    tags[name] = tag;
  }
  return tags;
}

function parseKeyOps(value: unknown, fallback: readonly KeyOperation[]): KeyOperation[] {
  if (value === undefined || value === null) return [...fallback];
  if (!Array.isArray(value) || !value.every((op) => typeof op === 'string' && (KEY_OPERATIONS as readonly string[]).includes(op))) {
    throw badParameter("Property 'key_ops' has an invalid value.");
  }
  return [...new Set(value as KeyOperation[])];
}

function parseBytes(body: Json, field: string): Buffer {
  const value = body[field];
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(value)) throw badParameter(`Property '${field}' is required and must be base64url.`);
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length > MAX_OPERATION_VALUE_BYTES) throw badParameter(`Property '${field}' is too long.`);
  return bytes;
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export interface KeyStoreOptions {
  /** The vault URL used in `kid`s (`https://127.0.0.1:port`). */
  readonly vaultUrl: () => string;
  readonly now: () => Date;
}

export class KeyVaultKeyStore {
  readonly #keys = new Map<string, KeyVersion[]>();
  readonly #options: KeyStoreOptions;

  constructor(options: KeyStoreOptions) {
    this.#options = options;
  }

  #kid(name: string, version: string): string {
    return `${this.#options.vaultUrl()}/keys/${name}/${version}`;
  }

  #versions(name: string): KeyVersion[] {
    const versions = this.#keys.get(name);
    if (!versions) throw keyNotFound(name);
    return versions;
  }

  /** The named version, or the latest for an empty / absent version. */
  #find(name: string, version: string | undefined): KeyVersion {
    const versions = this.#versions(name);
    if (!version) return versions[versions.length - 1]!;
    const found = VERSION_PATTERN.test(version) ? versions.find((v) => v.version === version) : undefined;
    if (!found) throw keyNotFound(name, version);
    return found;
  }

  #bundle(name: string, v: KeyVersion): Json {
    const jwk: Json = { kid: this.#kid(name, v.version), kty: v.kty, key_ops: [...v.keyOps] };
    const exported = v.publicKey.export({ format: 'jwk' });
    if (v.kty.startsWith('RSA')) Object.assign(jwk, { n: exported.n, e: exported.e });
    else Object.assign(jwk, { crv: v.crv, x: exported.x, y: exported.y });
    return { key: jwk, attributes: this.#attributes(v), tags: { ...v.tags } };
  }

  #attributes(v: KeyVersion): Json {
    return {
      enabled: v.enabled,
      ...(v.nbf === undefined ? {} : { nbf: v.nbf }),
      ...(v.exp === undefined ? {} : { exp: v.exp }),
      created: v.created,
      updated: v.updated,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
      exportable: false,
    };
  }

  #item(name: string, v: KeyVersion, withVersion: boolean): Json {
    return { kid: withVersion ? this.#kid(name, v.version) : `${this.#options.vaultUrl()}/keys/${name}`, attributes: this.#attributes(v), tags: { ...v.tags } };
  }

  async #newVersion(template: {
    kty: KeyVersion['kty'];
    keySize?: number;
    crv?: string;
    keyOps: KeyOperation[];
    enabled: boolean;
    tags: Record<string, string>;
  }): Promise<KeyVersion> {
    const pair = template.kty.startsWith('RSA')
      ? await generateKeyPairAsync('rsa', { modulusLength: template.keySize ?? 2048 })
      : await generateKeyPairAsync('ec', { namedCurve: NODE_CURVES[template.crv!]! });
    const now = unixSeconds(this.#options.now());
    return {
      version: randomBytes(16).toString('hex'),
      kty: template.kty,
      ...(template.keySize === undefined ? {} : { keySize: template.keySize }),
      ...(template.crv === undefined ? {} : { crv: template.crv }),
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      keyOps: template.keyOps,
      enabled: template.enabled,
      created: now,
      updated: now,
      tags: template.tags,
    };
  }

  #append(name: string, version: KeyVersion): void {
    const versions = this.#keys.get(name);
    if (versions) {
      if (versions.length >= MAX_VERSIONS_PER_KEY) throw badParameter(`A key may have at most ${MAX_VERSIONS_PER_KEY} versions in this emulator.`);
      versions.push(version);
    } else {
      if (this.#keys.size >= MAX_KEYS) throw badParameter(`This emulated vault holds at most ${MAX_KEYS} keys.`);
      this.#keys.set(name, [version]);
    }
  }

  /** POST /keys/{name}/create: a new key, or a new version when the name exists. */
  async create(name: string, body: Json): Promise<Json> {
    if (!KEY_NAME_PATTERN.test(name)) throw badParameter('The request URI contains an invalid name: ' + name.slice(0, 127));
    const kty = body['kty'];
    if (kty === 'oct' || kty === 'oct-HSM') {
      // Symmetric keys exist only in Managed HSM, not in a vault.
      throw badParameter(`Key type '${kty}' is not supported by this vault. Symmetric keys are available in Managed HSM only.`);
    }
    if (kty !== 'RSA' && kty !== 'RSA-HSM' && kty !== 'EC' && kty !== 'EC-HSM') throw badParameter("Property 'kty' has an invalid value.");
    const attributes = body['attributes'];
    if (attributes !== undefined && attributes !== null && !isRecord(attributes)) throw badParameter("Property 'attributes' must be an object.");
    const enabled = isRecord(attributes) && typeof attributes['enabled'] === 'boolean' ? attributes['enabled'] : true;
    const tags = parseTags(body['tags']);
    if (kty.startsWith('RSA')) {
      const keySize = body['key_size'] ?? 2048;
      if (typeof keySize !== 'number' || !RSA_SIZES.includes(keySize)) throw badParameter("Property 'key_size' must be 2048, 3072 or 4096.");
      if (body['public_exponent'] !== undefined && body['public_exponent'] !== null && body['public_exponent'] !== 65537) {
        throw badParameter("Property 'public_exponent' must be 65537.");
      }
      const version = await this.#newVersion({ kty, keySize, keyOps: parseKeyOps(body['key_ops'], RSA_DEFAULT_OPS), enabled, tags });
      this.#append(name, version);
      return this.#bundle(name, version);
    }
    const crv = body['crv'] ?? 'P-256';
    if (typeof crv !== 'string' || NODE_CURVES[crv] === undefined) throw badParameter("Property 'crv' has an invalid value.");
    const keyOps = parseKeyOps(body['key_ops'], EC_DEFAULT_OPS);
    if (keyOps.some((op) => op !== 'sign' && op !== 'verify' && op !== 'import' && op !== 'export')) {
      throw badParameter("Property 'key_ops' has an operation an EC key does not support.");
    }
    const version = await this.#newVersion({ kty, crv, keyOps, enabled, tags });
    this.#append(name, version);
    return this.#bundle(name, version);
  }

  /** GET /keys/{name}[/{version}]. Disabled keys can still be read (their attributes say so). */
  get(name: string, version: string | undefined): Json {
    return this.#bundle(name, this.#find(name, version));
  }

  /** GET /keys: one item per key (its latest version's attributes), names sorted. */
  listKeys(): Json[] {
    return [...this.#keys.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, versions]) => this.#item(name, versions[versions.length - 1]!, false));
  }

  /** GET /keys/{name}/versions. */
  listVersions(name: string): Json[] {
    return this.#versions(name).map((v) => this.#item(name, v, true));
  }

  /** POST /keys/{name}/rotate: a new version with the latest one's type, size, operations and tags. */
  async rotate(name: string): Promise<Json> {
    const latest = this.#find(name, undefined);
    const version = await this.#newVersion({
      kty: latest.kty,
      ...(latest.keySize === undefined ? {} : { keySize: latest.keySize }),
      ...(latest.crv === undefined ? {} : { crv: latest.crv }),
      keyOps: [...latest.keyOps],
      enabled: true,
      tags: { ...latest.tags },
    });
    this.#append(name, version);
    return this.#bundle(name, version);
  }

  /** PATCH /keys/{name}/{version}: key_ops, attributes (enabled, nbf, exp) and tags. */
  update(name: string, version: string | undefined, body: Json): Json {
    const v = this.#find(name, version);
    if (body['key_ops'] !== undefined && body['key_ops'] !== null) {
      v.keyOps = parseKeyOps(body['key_ops'], v.keyOps);
    }
    const attributes = body['attributes'];
    if (attributes !== undefined && attributes !== null) {
      if (!isRecord(attributes)) throw badParameter("Property 'attributes' must be an object.");
      if (attributes['enabled'] !== undefined && attributes['enabled'] !== null) {
        if (typeof attributes['enabled'] !== 'boolean') throw badParameter("Property 'enabled' must be a boolean.");
        v.enabled = attributes['enabled'];
      }
      for (const field of ['nbf', 'exp'] as const) {
        const value = attributes[field];
        if (value === undefined || value === null) continue;
        if (typeof value !== 'number' || !Number.isInteger(value)) throw badParameter(`Property '${field}' must be a Unix time.`);
        v[field] = value;
      }
    }
    if (body['tags'] !== undefined && body['tags'] !== null) v.tags = parseTags(body['tags']);
    v.updated = unixSeconds(this.#options.now());
    return this.#bundle(name, v);
  }

  /** The version a crypto operation may use: exists, enabled, inside nbf/exp, and permits `operation`. */
  #usable(name: string, version: string | undefined, operation: KeyOperation): KeyVersion {
    const v = this.#find(name, version);
    // Key Vault checks the key state before its permitted operations.
    if (!v.enabled) throw keyDisabled(operation);
    const now = unixSeconds(this.#options.now());
    if ((v.nbf !== undefined && now < v.nbf) || (v.exp !== undefined && now > v.exp)) {
      throw new KeyVaultHttpError(403, 'Forbidden', `Operation ${operation} is not allowed on an expired or not yet valid key.`, 'KeyExpired');
    }
    if (!v.keyOps.includes(operation)) throw operationNotPermitted(operation);
    return v;
  }

  /** POST …/wrapkey and …/encrypt: RSA public-key encryption of `value`. */
  encrypt(name: string, version: string | undefined, operation: 'wrapKey' | 'encrypt', body: Json): Json {
    const v = this.#usable(name, version, operation);
    const alg = ENCRYPTION_ALGORITHMS[String(body['alg'])];
    if (!alg) throw badParameter("Property 'alg' has an invalid value.");
    if (!v.kty.startsWith('RSA')) throw badParameter('Key and algorithm are not compatible.');
    const value = parseBytes(body, 'value');
    if (value.length === 0 || value.length > v.keySize! / 8 - alg.overhead) throw badParameter("Property 'value' is too long for the key and algorithm.");
    const result = publicEncrypt({ key: v.publicKey, padding: alg.padding, ...(alg.oaepHash ? { oaepHash: alg.oaepHash } : {}) }, value);
    return { kid: this.#kid(name, v.version), value: result.toString('base64url') };
  }

  /** POST …/unwrapkey and …/decrypt. Any decryption failure is one BadParameter answer. */
  decrypt(name: string, version: string | undefined, operation: 'unwrapKey' | 'decrypt', body: Json): Json {
    const v = this.#usable(name, version, operation);
    const alg = ENCRYPTION_ALGORITHMS[String(body['alg'])];
    if (!alg) throw badParameter("Property 'alg' has an invalid value.");
    if (!v.kty.startsWith('RSA')) throw badParameter('Key and algorithm are not compatible.');
    const value = parseBytes(body, 'value');
    if (value.length !== v.keySize! / 8) throw badParameter('The ciphertext could not be decrypted.');
    let plaintext: Buffer;
    try {
      plaintext = privateDecrypt({ key: v.privateKey, padding: alg.padding, ...(alg.oaepHash ? { oaepHash: alg.oaepHash } : {}) }, value);
    } catch {
      throw badParameter('The ciphertext could not be decrypted.');
    }
    try {
      return { kid: this.#kid(name, v.version), value: plaintext.toString('base64url') };
    } finally {
      plaintext.fill(0);
    }
  }

  #signatureAlgorithm(v: KeyVersion, body: Json, digestField: string) {
    const alg = SIGNATURE_ALGORITHMS[String(body['alg'])];
    if (!alg) throw badParameter("Property 'alg' has an invalid value.");
    if (!v.kty.startsWith(alg.family) || (alg.curve !== undefined && alg.curve !== v.crv)) throw badParameter('Key and algorithm are not compatible.');
    const digest = parseBytes(body, digestField);
    if (digest.length !== DIGEST_LENGTH[alg.hash]) throw badParameter('Invalid digest length for the signature algorithm.');
    return { alg, digest };
  }

  /** POST …/sign: signs the digest in `value`; ECDSA as raw r‖s. */
  sign(name: string, version: string | undefined, body: Json): Json {
    const v = this.#usable(name, version, 'sign');
    const { alg, digest } = this.#signatureAlgorithm(v, body, 'value');
    return { kid: this.#kid(name, v.version), value: Buffer.from(signDigest(alg, v.privateKey, digest)).toString('base64url') };
  }

  /** POST …/verify: `{value: boolean}`. */
  verify(name: string, version: string | undefined, body: Json): Json {
    const v = this.#usable(name, version, 'verify');
    const { alg, digest } = this.#signatureAlgorithm(v, body, 'digest');
    const signature = parseBytes(body, 'value');
    return { value: verifyDigest(alg, v.publicKey, digest, signature) };
  }
}
