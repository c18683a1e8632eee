/**
 * The AWS KMS adapter: the KmsProvider port over @aws-sdk/client-kms. Wrap is one GenerateDataKey
 * (the CEK comes from KMS, bound to the envelope context as EncryptionContext) sealed into an
 * envelope v1 KMS_AES_256_GCM with core's helper; unwrap is one Decrypt naming the key ARN from
 * the envelope (so a blob of another key is IncorrectKeyException, not a silent success). Signing
 * hashes the message here and sends MessageType DIGEST (Ed25519: RAW). Key versions are 0: AWS
 * tracks backing keys itself, and RotateKeyOnDemand keeps old ciphertexts decryptable.
 *
 * Trust boundary: the edge between fleetkey and AWS. Only CEKs (owned and zeroized here or by
 * core's helpers), ciphertexts, signatures and public keys cross it; every SDK error is mapped
 * by errors.ts and never carries a secret.
 */
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  ListKeysCommand,
  RotateKeyOnDemandCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import type { KMSClient, Tag } from '@aws-sdk/client-kms';
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isSignatureAlgorithm } from '@fleetkey/crypto';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import {
  DATA_KEY_LENGTH,
  InvalidKeyUsage,
  KeyNotFound,
  UnsupportedKeySpec,
  dataKeyByWrapping,
  defaultSignatureAlgorithmOfSpec,
  isKmsKeySpec,
  openKmsEnvelope,
  purposeOfSpec,
  sealWithKmsWrappedKey,
} from '@fleetkey/kms-core';
import type { DataKey, KmsContext, KmsKeyDescription, KmsKeySpec, KmsOperation, KmsProvider, KmsSignature, KmsHealth } from '@fleetkey/kms-core';
import { describeAwsKey, descriptionOf, listAwsKeys } from './describe.js';
import { AWS_PROVIDER_NAME, mapAwsError } from './errors.js';
import { AWS_KEY_SPECS, AWS_SIGNING_ALGORITHMS, AWS_SUPPORTED_KEY_SPECS, MAX_AWS_RAW_MESSAGE, kmsSpecOf } from './specs.js';

/** AWS: a signature blob is at most 6144 bytes; anything longer cannot verify. */
export const MAX_AWS_SIGNATURE = 6144;
/** Key specs remembered per key id so sign() without an algorithm needs no DescribeKey (AWS key specs never change). */
export const MAX_REMEMBERED_SPECS = 4096;
/** AWS KMS key ids, ARNs and aliases are at most 2048 characters. */
export const MAX_AWS_KEY_ID = 2048;

export interface AwsKmsProviderDeps {
  readonly client: KMSClient;
  /** Whether close() destroys the client (true when the adapter built it). */
  readonly ownsClient: boolean;
  readonly healthKeyId?: string;
  /** Monotonic milliseconds, for health latency. */
  readonly now?: () => number;
}

function checkKeyId(keyId: unknown): string {
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > MAX_AWS_KEY_ID) {
    throw new TypeError(`"keyId" expected a string of 1..${MAX_AWS_KEY_ID} characters`);
  }
  return keyId;
}

function checkBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${name}" expected a Uint8Array`);
  return value;
}

/** The EncryptionContext AWS binds the CEK to: the envelope context, or none. */
function encryptionContextOf(context: KmsContext | undefined): Record<string, string> | undefined {
  return context && Object.keys(context).length ? { ...context } : undefined;
}

export class AwsKmsProvider implements KmsProvider {
  readonly name = AWS_PROVIDER_NAME;
  readonly supportedKeySpecs: readonly KmsKeySpec[] = AWS_SUPPORTED_KEY_SPECS;
  readonly #client: KMSClient;
  readonly #ownsClient: boolean;
  readonly #healthKeyId: string | undefined;
  readonly #now: () => number;
  readonly #specs = new Map<string, KmsKeySpec>();

  constructor(deps: AwsKmsProviderDeps) {
    this.#client = deps.client;
    this.#ownsClient = deps.ownsClient;
    this.#healthKeyId = deps.healthKeyId;
    this.#now = deps.now ?? (() => performance.now());
  }

  async #call<T>(operation: KmsOperation, keyId: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapAwsError(error, { operation, ...(keyId === undefined ? {} : { keyId }) });
    }
  }

  #remember(keyId: string, spec: KmsKeySpec): void {
    // Aliases can be retargeted to another key, so only key ids and key ARNs are remembered.
    if (keyId.startsWith('alias/') || keyId.includes(':alias/')) return;
    if (this.#specs.size >= MAX_REMEMBERED_SPECS) this.#specs.delete(this.#specs.keys().next().value as string);
    this.#specs.set(keyId, spec);
  }

  /** @throws UnsupportedKeySpec for a spec AWS does not have; mapped AWS errors. */
  async createKey(params: { spec: KmsKeySpec; tags?: Record<string, string>; description?: string }): Promise<KmsKeyDescription> {
    // Precondition: a key spec the port does not know is refused with UNSUPPORTED_ALGORITHM before any call (never substituted).
    if (!isKmsKeySpec(params?.spec) || !this.supportedKeySpecs.includes(params.spec)) {
      throw new UnsupportedKeySpec({ provider: this.name, operation: 'createKey', detail: `key spec ${String(params?.spec).slice(0, 32)}` });
    }
    const mapping = AWS_KEY_SPECS[params.spec];
    const tags: Tag[] = Object.entries(params.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    return this.#call('createKey', undefined, async () => {
      const out = await this.#client.send(
        new CreateKeyCommand({
          KeySpec: mapping.keySpec,
          KeyUsage: mapping.keyUsage,
          ...(params.description === undefined ? {} : { Description: params.description }),
          ...(tags.length ? { Tags: tags } : {}),
        }),
      );
      const description = descriptionOf(out.KeyMetadata, params.tags ?? {});
      if (!description) throw new UnsupportedKeySpec({ provider: this.name, operation: 'createKey', detail: 'AWS answered with an unexpected key spec' });
      this.#remember(description.keyId, description.spec);
      return description;
    });
  }

  async describeKey(keyId: string): Promise<KmsKeyDescription> {
    checkKeyId(keyId);
    return this.#call('describeKey', keyId, async () => {
      const { description } = await describeAwsKey(this.#client, keyId);
      this.#remember(keyId, description.spec);
      return description;
    });
  }

  async listKeys(filter?: { tags?: Record<string, string>; purpose?: 'encrypt' | 'sign'; limit?: number }): Promise<KmsKeyDescription[]> {
    return this.#call('listKeys', undefined, () => listAwsKeys(this.#client, filter));
  }

  /**
   * RotateKeyOnDemand: new backing key material for a symmetric key; AWS keeps every earlier
   * backing key, so older envelopes still unwrap (the version stays 0).
   * @throws UnsupportedKeySpec for asymmetric keys (AWS rotates symmetric encryption keys only).
   */
  async rotateKey(keyId: string): Promise<KmsKeyDescription> {
    checkKeyId(keyId);
    return this.#call('rotateKey', keyId, async () => {
      // DescribeKey first: RotateKeyOnDemand takes no alias, and asymmetric keys cannot rotate.
      const { description } = await describeAwsKey(this.#client, keyId);
      if (description.spec !== 'AES_256') {
        throw new UnsupportedKeySpec({ provider: this.name, keyId, operation: 'rotateKey', detail: 'AWS KMS rotates symmetric encryption keys only' });
      }
      await this.#client.send(new RotateKeyOnDemandCommand({ KeyId: description.keyId }));
      return description;
    });
  }

  async generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey> {
    return dataKeyByWrapping((p) => this.wrap(p), params);
  }

  /** One GenerateDataKey call: its Plaintext is the CEK, its CiphertextBlob the encapsulated key. */
  async wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    const keyId = checkKeyId(params?.keyId);
    const plaintext = checkBytes('plaintext', params.plaintext);
    const encryptionContext = encryptionContextOf(params.context);
    const out = await this.#call('wrap', keyId, () =>
      this.#client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', ...(encryptionContext ? { EncryptionContext: encryptionContext } : {}) })),
    );
    const cek = out.Plaintext;
    try {
      // AWS must have returned a 32-byte CEK, its ciphertext and the key ARN that made it.
      if (!cek || cek.length !== DATA_KEY_LENGTH || !out.CiphertextBlob?.length || !out.KeyId) {
        throw new KeyNotFound({ provider: this.name, keyId, operation: 'wrap', detail: 'GenerateDataKey answered without a data key' });
      }
      return sealWithKmsWrappedKey({
        provider: this.name,
        // The ARN, not the caller's alias: the envelope must still open after an alias moves.
        keyId: out.KeyId,
        keyVersion: 0,
        encapsulatedKey: out.CiphertextBlob,
        cek,
        plaintext,
        ...(params.context ? { context: params.context } : {}),
      });
    } finally {
      cek?.fill(0);
    }
  }

  /** One Decrypt call naming the envelope's key ARN and the context as EncryptionContext. */
  async unwrap(params: { envelope: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    const envelope = checkBytes('envelope', params?.envelope);
    const encryptionContext = encryptionContextOf(params.context);
    return openKmsEnvelope(
      envelope,
      async (header) => {
        const out = await this.#call('unwrap', header.keyId, () =>
          this.#client.send(
            new DecryptCommand({
              CiphertextBlob: header.encapsulatedKey,
              KeyId: header.keyId,
              ...(encryptionContext ? { EncryptionContext: encryptionContext } : {}),
            }),
          ),
        );
        if (!out.Plaintext) throw new KeyNotFound({ provider: this.name, keyId: header.keyId, operation: 'unwrap', detail: 'Decrypt answered without plaintext' });
        return out.Plaintext;
      },
      params.context,
      { provider: this.name },
    );
  }

  async #specOf(keyId: string, operation: KmsOperation): Promise<KmsKeySpec> {
    const known = this.#specs.get(keyId);
    if (known) return known;
    const out = await this.#call(operation, keyId, () => this.#client.send(new DescribeKeyCommand({ KeyId: keyId })));
    const spec = kmsSpecOf(out.KeyMetadata?.KeySpec, out.KeyMetadata?.KeyUsage);
    if (!spec) throw new InvalidKeyUsage({ provider: this.name, keyId, operation, detail: 'the key cannot sign' });
    this.#remember(keyId, spec);
    return spec;
  }

  async #algorithm(keyId: string, algorithm: SignatureAlgorithm | undefined, operation: KmsOperation): Promise<SignatureAlgorithm> {
    if (algorithm !== undefined) {
      if (!isSignatureAlgorithm(algorithm)) throw new UnsupportedKeySpec({ provider: this.name, keyId, operation, detail: `algorithm ${String(algorithm).slice(0, 32)}` });
      return algorithm;
    }
    const spec = await this.#specOf(keyId, operation);
    const chosen = defaultSignatureAlgorithmOfSpec(spec);
    // Precondition: wrong key usage -> INVALID_KEY_USAGE (a key of purpose encrypt cannot sign).
    if (!chosen || purposeOfSpec(spec) !== 'sign') throw new InvalidKeyUsage({ provider: this.name, keyId, operation, detail: 'the key cannot sign' });
    return chosen;
  }

  /** The Message / MessageType AWS gets: the digest, or the raw message for Ed25519. */
  #message(algorithm: SignatureAlgorithm, data: Uint8Array): { Message: Uint8Array; MessageType: 'RAW' | 'DIGEST' } {
    const { digest } = AWS_SIGNING_ALGORITHMS[algorithm];
    if (digest === null) {
      if (data.length > MAX_AWS_RAW_MESSAGE) throw new RangeError(`"data" expected at most ${MAX_AWS_RAW_MESSAGE} bytes for Ed25519 on AWS KMS, got ${data.length}`);
      return { Message: data, MessageType: 'RAW' };
    }
    return { Message: createHash(digest).update(data).digest(), MessageType: 'DIGEST' };
  }

  async sign(params: { keyId: string; data: Uint8Array; algorithm?: SignatureAlgorithm }): Promise<KmsSignature> {
    const keyId = checkKeyId(params?.keyId);
    const data = checkBytes('data', params.data);
    const algorithm = await this.#algorithm(keyId, params.algorithm, 'sign');
    const message = this.#message(algorithm, data);
    const out = await this.#call('sign', keyId, () =>
      this.#client.send(new SignCommand({ KeyId: keyId, SigningAlgorithm: AWS_SIGNING_ALGORITHMS[algorithm].algorithm, ...message })),
    );
    if (!out.Signature) throw new InvalidKeyUsage({ provider: this.name, keyId, operation: 'sign', detail: 'Sign answered without a signature' });
    return { signature: out.Signature, algorithm, keyVersion: 0 };
  }

  /** AWS Verify; its KMSInvalidSignatureException is the answer false, not an error. */
  async verify(params: { keyId: string; data: Uint8Array; signature: Uint8Array; algorithm?: SignatureAlgorithm; keyVersion?: number }): Promise<boolean> {
    const keyId = checkKeyId(params?.keyId);
    const data = checkBytes('data', params.data);
    const signature = checkBytes('signature', params.signature);
    const algorithm = await this.#algorithm(keyId, params.algorithm, 'verify');
    // Precondition: an empty or oversized signature verifies false without a KMS call (AWS would refuse the request).
    if (signature.length === 0 || signature.length > MAX_AWS_SIGNATURE) return false;
    if (AWS_SIGNING_ALGORITHMS[algorithm].digest === null && data.length > MAX_AWS_RAW_MESSAGE) return false;
    const message = this.#message(algorithm, data);
    try {
      const out = await this.#client.send(
        new VerifyCommand({ KeyId: keyId, SigningAlgorithm: AWS_SIGNING_ALGORITHMS[algorithm].algorithm, Signature: signature, ...message }),
      );
      return out.SignatureValid === true;
    } catch (error) {
      if ((error as { name?: unknown })?.name === 'KMSInvalidSignatureException') return false;
      throw mapAwsError(error, { operation: 'verify', keyId });
    }
  }

  /** GetPublicKey: the SPKI DER AWS returns, as a KeyObject. keyVersion is ignored (AWS asymmetric keys have one). */
  async getPublicKey(params: { keyId: string; keyVersion?: number }): Promise<KeyObject> {
    const keyId = checkKeyId(params?.keyId);
    const out = await this.#call('getPublicKey', keyId, () => this.#client.send(new GetPublicKeyCommand({ KeyId: keyId })));
    if (!out.PublicKey) throw new InvalidKeyUsage({ provider: this.name, keyId, operation: 'getPublicKey', detail: 'GetPublicKey answered without a key' });
    return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
  }

  /** Never throws: ok false with the error code as detail when AWS cannot be reached or refuses. */
  async health(): Promise<KmsHealth> {
    const started = this.#now();
    try {
      if (this.#healthKeyId !== undefined) await this.#client.send(new DescribeKeyCommand({ KeyId: this.#healthKeyId }));
      else await this.#client.send(new ListKeysCommand({ Limit: 1 }));
      return { ok: true, latencyMs: this.#now() - started };
    } catch (error) {
      const mapped = mapAwsError(error, { operation: 'health' });
      return { ok: false, latencyMs: this.#now() - started, detail: mapped.code };
    }
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}
