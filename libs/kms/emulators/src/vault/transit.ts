/**
 * The Transit secrets engine behind one mount: named keys in memory and the HTTP operations on
 * them, each answering with Vault's status codes and texts (400 for a bad request or an unknown key
 * on the operation paths, 404 with an empty error list for reading an unknown key or an empty list,
 * 204 for a delete). `requiredCapability` tells the ACL check which capability a request needs,
 * including Vault's create-versus-update existence check on `keys/:name` and `encrypt/:name`.
 *
 * Trust boundary: test and demo tooling only. Every field is attacker input; plaintext and key
 * material never appear in a reply except where Vault returns them (decrypt, datakey/plaintext).
 */
import { randomBytes } from 'node:crypto';
import type { Capability } from './acl.js';
import type { Fields } from './fields.js';
import { boolField, decodeBase64, hasField, intField, stringField } from './fields.js';
import type { TransitKey, TransitKeyType } from './keys.js';
import { KEY_NAME_PATTERN, MAX_KEY_VERSIONS, generateVersion, isTransitKeyType, readKey, supportsSigning } from './keys.js';
import type { SignOptions } from './operations.js';
import { HASH_ALGORITHMS, decrypt, encrypt, signInput, verifyInput } from './operations.js';
import type { Reply } from './replies.js';
import { NOT_FOUND, NO_CONTENT, UNSUPPORTED_PATH, badRequest, dataReply, errorReply } from './replies.js';

/** Bound on named keys per mount, so a runaway test cannot exhaust memory. */
export const MAX_KEYS_PER_MOUNT = 10_000;
/** Datakey sizes Vault accepts, in bits. */
export const DATAKEY_BITS = [128, 256, 512] as const;

export interface TransitRequest {
  /** Upper-case HTTP method; `LIST` also stands for `GET ?list=true`. */
  readonly method: string;
  /** Segments after the mount, e.g. ['encrypt', 'my-key']. */
  readonly segments: readonly string[];
  readonly fields: Fields;
}

type Route =
  | { kind: 'list' }
  | { kind: 'key'; name: string }
  | { kind: 'rotate'; name: string }
  | { kind: 'key-config'; name: string }
  | { kind: 'mount-config' }
  | { kind: 'encrypt' | 'decrypt' | 'rewrap'; name: string }
  | { kind: 'datakey'; name: string; plaintext: boolean | undefined; type: string }
  | { kind: 'sign' | 'verify'; name: string; hash: string | undefined };

function route(method: string, segments: readonly string[]): Route | undefined {
  const [head, a, b] = segments;
  const named = (name: string | undefined): name is string => name !== undefined && KEY_NAME_PATTERN.test(name);
  switch (head) {
    case 'keys':
      if (segments.length === 1 && method === 'LIST') return { kind: 'list' };
      if (segments.length === 2 && named(a)) return { kind: 'key', name: a };
      if (segments.length === 3 && named(a) && b === 'rotate') return { kind: 'rotate', name: a };
      if (segments.length === 3 && named(a) && b === 'config') return { kind: 'key-config', name: a };
      return undefined;
    case 'config':
      return segments.length === 2 && a === 'keys' ? { kind: 'mount-config' } : undefined;
    case 'encrypt':
    case 'decrypt':
    case 'rewrap':
      return segments.length === 2 && named(a) ? { kind: head, name: a } : undefined;
    case 'datakey':
      if (segments.length !== 3 || a === undefined || !named(b)) return undefined;
      return { kind: 'datakey', name: b, type: a, plaintext: a === 'plaintext' ? true : a === 'wrapped' ? false : undefined };
    case 'sign':
    case 'verify':
      if (segments.length === 2 && named(a)) return { kind: head, name: a, hash: undefined };
      if (segments.length === 3 && named(a) && b !== undefined) return { kind: head, name: a, hash: b };
      return undefined;
    default:
      return undefined;
  }
}

function failed(outcome: { error: string; internal?: boolean }): Reply {
  return outcome.internal ? errorReply(500, outcome.error) : badRequest(outcome.error);
}

/** Decodes an optional base64 field; a string result is the Go error text. */
function optionalBase64(fields: Fields, name: string): Buffer | undefined | string {
  const text = stringField(fields, name);
  if (text === '') return undefined;
  return decodeBase64(text);
}

export class TransitEngine {
  readonly #keys = new Map<string, TransitKey>();
  #disableUpsert: boolean;

  constructor(options: { readonly disableUpsert?: boolean } = {}) {
    this.#disableUpsert = options.disableUpsert ?? false;
  }

  /** The capability Vault's ACL check asks for, or undefined for an unsupported path. */
  requiredCapability(request: TransitRequest): Capability | undefined {
    const r = route(request.method, request.segments);
    if (!r) return undefined;
    const write = request.method === 'POST' || request.method === 'PUT';
    switch (r.kind) {
      case 'list':
        return 'list';
      case 'key':
        if (request.method === 'GET') return 'read';
        if (request.method === 'DELETE') return 'delete';
        if (write) return this.#keys.has(r.name) ? 'update' : 'create';
        return undefined;
      case 'mount-config':
        return request.method === 'GET' ? 'read' : write ? 'update' : undefined;
      case 'encrypt':
        if (!write) return undefined;
        // Vault's ExistenceCheck: encrypting to a missing key is a create (the upsert).
        return this.#keys.has(r.name) ? 'update' : 'create';
      default:
        return write ? 'update' : undefined;
    }
  }

  async handle(request: TransitRequest): Promise<Reply> {
    const r = route(request.method, request.segments);
    if (!r) return UNSUPPORTED_PATH;
    const fields = request.fields;
    switch (r.kind) {
      case 'list':
        return this.#list();
      case 'key':
        if (request.method === 'GET') return this.#read(r.name);
        if (request.method === 'DELETE') return this.#delete(r.name);
        return this.#create(r.name, fields);
      case 'rotate':
        return this.#rotate(r.name);
      case 'key-config':
        return this.#configure(r.name, fields);
      case 'mount-config':
        return this.#mountConfig(request.method, fields);
      case 'encrypt':
        return this.#encrypt(r.name, fields);
      case 'decrypt':
        return this.#decrypt(r.name, fields);
      case 'rewrap':
        return this.#rewrap(r.name, fields);
      case 'datakey':
        return this.#datakey(r.name, r.plaintext, r.type, fields);
      case 'sign':
        return this.#sign(r.name, r.hash, fields);
      case 'verify':
        return this.#verify(r.name, r.hash, fields);
    }
  }

  #list(): Reply {
    if (this.#keys.size === 0) return NOT_FOUND; // Vault answers an empty LIST with 404
    return dataReply({ keys: [...this.#keys.keys()].sort() });
  }

  #read(name: string): Reply {
    const key = this.#keys.get(name);
    return key ? dataReply(readKey(key)) : NOT_FOUND;
  }

  #delete(name: string): Reply {
    const key = this.#keys.get(name);
    if (!key) return NO_CONTENT;
    if (!key.deletionAllowed) return badRequest('deletion is not allowed for this policy');
    this.#keys.delete(name);
    return NO_CONTENT;
  }

  async #newKey(name: string, type: TransitKeyType): Promise<TransitKey> {
    const key: TransitKey = {
      name,
      type,
      versions: new Map([[1, await generateVersion(type)]]),
      latestVersion: 1,
      minDecryptionVersion: 1,
      minEncryptionVersion: 0,
      deletionAllowed: false,
    };
    // Two concurrent creates of one name: the first stored wins, as with Vault's lock manager.
    const existing = this.#keys.get(name);
    if (existing) return existing;
    this.#keys.set(name, key);
    return key;
  }

  async #create(name: string, fields: Fields): Promise<Reply> {
    const type = stringField(fields, 'type', 'aes256-gcm96');
    if (!isTransitKeyType(type)) return badRequest(`unknown key type ${type}`);
    for (const unsupported of ['derived', 'convergent_encryption', 'exportable', 'allow_plaintext_backup']) {
      const flag = boolField(fields, unsupported);
      if (typeof flag === 'string') return badRequest(flag);
      if (flag) return badRequest(`${unsupported} is not supported by the fleetkey Vault emulator`);
    }
    const existing = this.#keys.get(name);
    if (existing) return dataReply(readKey(existing), [`key ${name} already existed`]);
    if (this.#keys.size >= MAX_KEYS_PER_MOUNT) return errorReply(500, 'key limit of the emulator reached');
    return dataReply(readKey(await this.#newKey(name, type)));
  }

  async #rotate(name: string): Promise<Reply> {
    const key = this.#keys.get(name);
    if (!key) return badRequest('key not found');
    if (key.latestVersion >= MAX_KEY_VERSIONS) return errorReply(500, 'version limit of the emulator reached');
    const version = await generateVersion(key.type);
    key.latestVersion += 1;
    key.versions.set(key.latestVersion, version);
    return dataReply(readKey(key));
  }

  #configure(name: string, fields: Fields): Reply {
    const key = this.#keys.get(name);
    if (!key) return badRequest(`no existing key named ${name} could be found`);
    const warnings: string[] = [];
    let minDecryption = key.minDecryptionVersion;
    let minEncryption = key.minEncryptionVersion;
    if (hasField(fields, 'min_decryption_version')) {
      const value = intField(fields, 'min_decryption_version');
      if (typeof value === 'string') return badRequest(value);
      if (value < 0) return badRequest('min decryption version cannot be negative');
      minDecryption = value === 0 ? 1 : value;
      if (value === 0) warnings.push('since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1');
      if (minDecryption > key.latestVersion) {
        return badRequest(`cannot set min decryption version of ${minDecryption}, latest key version is ${key.latestVersion}`);
      }
    }
    if (hasField(fields, 'min_encryption_version')) {
      const value = intField(fields, 'min_encryption_version');
      if (typeof value === 'string') return badRequest(value);
      if (value < 0) return badRequest('min encryption version cannot be negative');
      if (value > key.latestVersion) {
        return badRequest(`cannot set min encryption version of ${value}, latest key version is ${key.latestVersion}`);
      }
      minEncryption = value;
    }
    if (minEncryption > 0 && minEncryption < minDecryption) {
      return badRequest('cannot set min encryption/decryption values; min encryption version must be greater than or equal to min decryption version');
    }
    if (hasField(fields, 'exportable')) {
      const value = boolField(fields, 'exportable');
      if (typeof value === 'string') return badRequest(value);
      if (value) return badRequest('exportable is not supported by the fleetkey Vault emulator');
    }
    let deletionAllowed = key.deletionAllowed;
    if (hasField(fields, 'deletion_allowed')) {
      const value = boolField(fields, 'deletion_allowed');
      if (typeof value === 'string') return badRequest(value);
      deletionAllowed = value;
    }
    key.minDecryptionVersion = minDecryption;
    key.minEncryptionVersion = minEncryption;
    key.deletionAllowed = deletionAllowed;
    return dataReply(readKey(key), warnings.length > 0 ? warnings : null);
  }

  #mountConfig(method: string, fields: Fields): Reply {
    if (method !== 'GET') {
      const value = boolField(fields, 'disable_upsert');
      if (typeof value === 'string') return badRequest(value);
      this.#disableUpsert = value;
    }
    return dataReply({ disable_upsert: this.#disableUpsert });
  }

  async #encrypt(name: string, fields: Fields): Promise<Reply> {
    if (!hasField(fields, 'plaintext')) return badRequest('missing plaintext to encrypt');
    const plaintext = decodeBase64(stringField(fields, 'plaintext'));
    if (typeof plaintext === 'string') return badRequest(plaintext);
    const associatedData = optionalBase64(fields, 'associated_data');
    if (typeof associatedData === 'string') return badRequest(associatedData);
    const keyVersion = intField(fields, 'key_version');
    if (typeof keyVersion === 'string') return badRequest(keyVersion);
    let key = this.#keys.get(name);
    if (!key) {
      // Vault upserts an aes256-gcm96 key unless transit/config/keys disable_upsert is set.
      if (this.#disableUpsert) return badRequest('encryption key not found');
      const type = stringField(fields, 'type', 'aes256-gcm96');
      if (type.startsWith('ecdsa-')) return badRequest(`key type ${type} not supported for this operation`);
      if (!isTransitKeyType(type)) return badRequest(`unknown key type ${type}`);
      key = await this.#newKey(name, type);
    }
    const result = encrypt(key, plaintext, keyVersion, associatedData);
    if (!result.ok) return failed(result);
    return dataReply({ ciphertext: result.value.ciphertext, key_version: result.value.keyVersion });
  }

  #decrypt(name: string, fields: Fields): Reply {
    const ciphertext = stringField(fields, 'ciphertext');
    if (ciphertext === '') return badRequest('missing ciphertext to decrypt');
    const associatedData = optionalBase64(fields, 'associated_data');
    if (typeof associatedData === 'string') return badRequest(associatedData);
    const key = this.#keys.get(name);
    if (!key) return badRequest('encryption key not found');
    const result = decrypt(key, ciphertext, associatedData);
    if (!result.ok) return failed(result);
    try {
      return dataReply({ plaintext: result.value.plaintext.toString('base64') });
    } finally {
      result.value.plaintext.fill(0);
    }
  }

  #rewrap(name: string, fields: Fields): Reply {
    const ciphertext = stringField(fields, 'ciphertext');
    if (ciphertext === '') return badRequest('missing ciphertext to decrypt');
    const keyVersion = intField(fields, 'key_version');
    if (typeof keyVersion === 'string') return badRequest(keyVersion);
    const key = this.#keys.get(name);
    if (!key) return badRequest('encryption key not found');
    // Vault's rewrap takes no associated_data: AD-bound ciphertexts fail here, as they do in Vault.
    const opened = decrypt(key, ciphertext, undefined);
    if (!opened.ok) return failed(opened);
    try {
      const sealed = encrypt(key, opened.value.plaintext, keyVersion, undefined);
      if (!sealed.ok) return failed(sealed);
      return dataReply({ ciphertext: sealed.value.ciphertext, key_version: sealed.value.keyVersion });
    } finally {
      opened.value.plaintext.fill(0);
    }
  }

  #datakey(name: string, plaintext: boolean | undefined, type: string, fields: Fields): Reply {
    if (plaintext === undefined) return badRequest(`invalid type ${type}`);
    const bits = intField(fields, 'bits', 256);
    if (typeof bits === 'string') return badRequest(bits);
    if (!(DATAKEY_BITS as readonly number[]).includes(bits)) return badRequest('invalid bits value; must be 128, 256, or 512');
    const keyVersion = intField(fields, 'key_version');
    if (typeof keyVersion === 'string') return badRequest(keyVersion);
    const key = this.#keys.get(name);
    if (!key) return badRequest('encryption key not found');
    const material = randomBytes(bits / 8);
    try {
      // Vault's datakey path takes no associated_data; the emulator ignores it like any unknown field.
      const sealed = encrypt(key, material, keyVersion, undefined);
      if (!sealed.ok) return failed(sealed);
      return dataReply({
        ciphertext: sealed.value.ciphertext,
        key_version: sealed.value.keyVersion,
        ...(plaintext ? { plaintext: material.toString('base64') } : {}),
      });
    } finally {
      material.fill(0);
    }
  }

  #signOptions(key: TransitKey, urlHash: string | undefined, fields: Fields): SignOptions | Reply {
    const hashName = urlHash ?? stringField(fields, 'hash_algorithm', stringField(fields, 'algorithm', 'sha2-256'));
    const hash = HASH_ALGORITHMS[hashName];
    if (!hash) return badRequest(`invalid hash algorithm "${hashName}"`);
    const marshaling = stringField(fields, 'marshaling_algorithm', 'asn1');
    if (marshaling !== 'asn1' && marshaling !== 'jws') return badRequest(`invalid marshaling type "${marshaling}"`);
    const prehashed = boolField(fields, 'prehashed');
    if (typeof prehashed === 'string') return badRequest(prehashed);
    const signatureAlgorithm = stringField(fields, 'signature_algorithm', 'pss');
    if (signatureAlgorithm !== 'pss' && signatureAlgorithm !== 'pkcs1v15') return errorReply(500, `unsupported rsa signature algorithm ${signatureAlgorithm}`);
    const saltText = stringField(fields, 'salt_length', 'auto');
    let saltLength: SignOptions['saltLength'];
    if (saltText === 'auto' || saltText === 'hash') saltLength = saltText;
    else if (/^\d{1,4}$/.test(saltText)) saltLength = Number(saltText);
    else return badRequest(`invalid salt_length: ${saltText.slice(0, 16)}`);
    if (key.type === 'ed25519') {
      // path_sign_verify_ce.go: CE signs pure Ed25519 only.
      if (prehashed) return badRequest('only Pure Ed25519 signatures supported, prehashed must be false');
      if (hashName === 'sha2-512' && (urlHash !== undefined || hasField(fields, 'hash_algorithm'))) {
        return badRequest('only Pure Ed25519 signatures supported, hash_alogithm should not be set');
      }
    }
    return { hash, prehashed, signatureAlgorithm, marshaling, saltLength };
  }

  #sign(name: string, urlHash: string | undefined, fields: Fields): Reply {
    const key = this.#keys.get(name);
    if (!key) return badRequest('signing key not found');
    if (!supportsSigning(key.type)) return badRequest(`key type ${key.type} does not support signing`);
    const options = this.#signOptions(key, urlHash, fields);
    if ('status' in options) return options;
    const input = decodeBase64(stringField(fields, 'input'));
    if (typeof input === 'string') return badRequest(`unable to decode input as base64: ${input}`);
    const keyVersion = intField(fields, 'key_version');
    if (typeof keyVersion === 'string') return badRequest(keyVersion);
    const result = signInput(key, input, keyVersion, options);
    if (!result.ok) return failed(result);
    return dataReply({ signature: result.value.signature, key_version: result.value.keyVersion });
  }

  #verify(name: string, urlHash: string | undefined, fields: Fields): Reply {
    if (!hasField(fields, 'signature')) return badRequest("neither a 'signature' nor an 'hmac' were given to verify");
    const key = this.#keys.get(name);
    if (!key) return badRequest('encryption key not found');
    if (!supportsSigning(key.type)) return badRequest(`key type ${key.type} does not support verification`);
    const options = this.#signOptions(key, urlHash, fields);
    if ('status' in options) return options;
    const input = decodeBase64(stringField(fields, 'input'));
    if (typeof input === 'string') return badRequest(`unable to decode input as base64: ${input}`);
    const result = verifyInput(key, input, stringField(fields, 'signature'), options);
    if (!result.ok) return failed(result);
    return dataReply({ valid: result.value });
  }
}
