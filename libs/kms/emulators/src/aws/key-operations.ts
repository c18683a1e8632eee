/**
 * Key-management operations of the AWS KMS emulator: CreateKey, DescribeKey, ListKeys,
 * ListResourceTags, TagResource, CreateAlias, UpdateAlias, DeleteAlias, ListAliases, EnableKey, DisableKey,
 * Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations,
 * ScheduleKeyDeletion, CancelKeyDeletion — request and response members as the AWS KMS API
 * Reference names them.
 *
 * Trust boundary: request bodies are client input; responses never carry private key material.
 */
import { generateKeyPair } from '@fleetkey/crypto';
import { randomBytes } from 'node:crypto';
import { fault } from './errors.js';
import { page, optionalString, requiredString } from './input.js';
import type { Json } from './input.js';
import { KEY_SPECS, encryptionAlgorithmsFor, isAwsKeySpec, signingAlgorithmsFor } from './key-specs.js';
import type { AwsKeySpec, AwsKeyUsage } from './key-specs.js';
import { MAX_TAGS, requireUsable } from './store.js';
import type { EmulatedAlias, EmulatedKey, KmsState } from './store.js';

export interface OperationContext {
  readonly state: KmsState;
  readonly now: () => Date;
}

const KEY_ALGORITHM_FOR: Partial<Record<AwsKeySpec, Parameters<typeof generateKeyPair>[0]>> = {
  RSA_2048: 'RSA_2048',
  RSA_3072: 'RSA_3072',
  RSA_4096: 'RSA_4096',
  ECC_NIST_P256: 'ECDSA_P256',
  ECC_NIST_P384: 'ECDSA_P384',
  ECC_NIST_P521: 'ECDSA_P521',
  ECC_NIST_EDWARDS25519: 'ED25519',
};

/** Epoch seconds, as AWS JSON 1.1 encodes timestamps. */
export function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

export function keyMetadata(ctx: OperationContext, key: EmulatedKey): Json {
  const encryption = key.keyUsage === 'ENCRYPT_DECRYPT' ? encryptionAlgorithmsFor(key.keySpec) : [];
  const signing = key.keyUsage === 'SIGN_VERIFY' ? signingAlgorithmsFor(key.keySpec) : [];
  return {
    AWSAccountId: ctx.state.accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.state,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: false,
    ...(encryption.length ? { EncryptionAlgorithms: encryption } : {}),
    ...(signing.length ? { SigningAlgorithms: signing } : {}),
    ...(key.deletionDate ? { DeletionDate: epochSeconds(key.deletionDate) } : {}),
    ...(key.keySpec === 'SYMMETRIC_DEFAULT' && key.rotations.length
      ? { CurrentKeyMaterialId: key.backing.length.toString(16).padStart(64, '0') }
      : {}),
  };
}

function readTags(body: Json): Map<string, string> {
  const tags = new Map<string, string>();
  const raw = body['Tags'];
  if (raw === undefined || raw === null) return tags;
  if (!Array.isArray(raw) || raw.length > MAX_TAGS) throw fault('TagException', `Tags must be a list of at most ${MAX_TAGS} tags`);
  for (const tag of raw) {
    const key = (tag as Json)?.['TagKey'];
    const value = (tag as Json)?.['TagValue'];
    if (typeof key !== 'string' || key.length < 1 || key.length > 128 || typeof value !== 'string' || value.length > 256) {
      throw fault('TagException', 'TagKey must be 1..128 characters and TagValue 0..256');
    }
    if (key.startsWith('aws:')) throw fault('TagException', 'Tag keys beginning with aws: are reserved');
    tags.set(key, value);
  }
  return tags;
}

async function createKey(ctx: OperationContext, body: Json): Promise<Json> {
  const keySpec = body['KeySpec'] ?? body['CustomerMasterKeySpec'] ?? 'SYMMETRIC_DEFAULT';
  if (!isAwsKeySpec(keySpec)) {
    if (typeof keySpec === 'string' && /^(HMAC_|SM2|ML_DSA_|ECC_SECG_)/.test(keySpec)) {
      throw fault('UnsupportedOperationException', `KeySpec ${keySpec} is not supported by this KMS emulator`);
    }
    throw fault('ValidationException', "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set");
  }
  const keyUsage = (body['KeyUsage'] ?? (keySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined)) as AwsKeyUsage | undefined;
  if (keyUsage === undefined) throw fault('ValidationException', `You must specify a KeyUsage value for an asymmetric KMS key.`);
  if (!(KEY_SPECS[keySpec].usages as readonly string[]).includes(keyUsage)) {
    throw fault('ValidationException', `KeyUsage ${String(keyUsage).slice(0, 32)} is not compatible with KeySpec ${keySpec}`);
  }
  const description = optionalString(body, 'Description', 8192) ?? '';
  const tags = readTags(body);
  const algorithm = KEY_ALGORITHM_FOR[keySpec];
  const pair = algorithm ? await generateKeyPair(algorithm) : undefined;
  const key = ctx.state.addKey({ createdAt: ctx.now(), description, keySpec, keyUsage, tags, ...(pair ? { pair } : {}) });
  return { KeyMetadata: keyMetadata(ctx, key) };
}

function describeKey(ctx: OperationContext, body: Json): Json {
  return { KeyMetadata: keyMetadata(ctx, ctx.state.resolve(body['KeyId'])) };
}

function listKeys(ctx: OperationContext, body: Json): Json {
  const all = [...ctx.state.keys.values()];
  const { items, nextMarker, truncated } = page(all, body);
  return { Keys: items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), Truncated: truncated, ...(nextMarker ? { NextMarker: nextMarker } : {}) };
}

function listResourceTags(ctx: OperationContext, body: Json): Json {
  // AWS: ListResourceTags takes a key id or key ARN, not an alias.
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  const { items, nextMarker, truncated } = page([...key.tags.entries()], body);
  return { Tags: items.map(([TagKey, TagValue]) => ({ TagKey, TagValue })), Truncated: truncated, ...(nextMarker ? { NextMarker: nextMarker } : {}) };
}

function tagResource(ctx: OperationContext, body: Json): Json {
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  const tags = readTags(body);
  if (new Set([...key.tags.keys(), ...tags.keys()]).size > MAX_TAGS) throw fault('TagException', `At most ${MAX_TAGS} tags per key`);
  for (const [k, v] of tags) key.tags.set(k, v);
  return {};
}

const ALIAS_PATTERN = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

function createAlias(ctx: OperationContext, body: Json): Json {
  const name = requiredString(body, 'AliasName', 256);
  // Precondition: alias names start with alias/, and alias/aws/ is reserved (InvalidAliasNameException).
  if (!ALIAS_PATTERN.test(name) || name.startsWith('alias/aws/')) throw fault('InvalidAliasNameException', `Alias name ${name.slice(0, 256)} is not valid`);
  if (ctx.state.aliases.has(name)) throw fault('AlreadyExistsException', `An alias with the name ${ctx.state.aliasArn(name)} already exists`);
  const key = ctx.state.resolve(body['TargetKeyId'], { allowAlias: false });
  const now = ctx.now();
  ctx.state.aliases.set(name, { name, arn: ctx.state.aliasArn(name), targetKeyId: key.keyId, createdAt: now, updatedAt: now });
  return {};
}

function existingAlias(ctx: OperationContext, body: Json): EmulatedAlias {
  const name = requiredString(body, 'AliasName', 256);
  const alias = ctx.state.aliases.get(name);
  if (!alias) throw fault('NotFoundException', `Alias ${ctx.state.aliasArn(name.slice(0, 256))} is not found.`);
  return alias;
}

/** AWS: the new target must have the same key usage and be symmetric iff the old one is. */
function updateAlias(ctx: OperationContext, body: Json): Json {
  const alias = existingAlias(ctx, body);
  const target = ctx.state.resolve(body['TargetKeyId'], { allowAlias: false });
  const current = ctx.state.keys.get(alias.targetKeyId);
  if (current && (current.keyUsage !== target.keyUsage || (current.keySpec === 'SYMMETRIC_DEFAULT') !== (target.keySpec === 'SYMMETRIC_DEFAULT'))) {
    throw fault('ValidationException', `${target.arn} is not the same key type and usage as the alias's current key.`);
  }
  alias.targetKeyId = target.keyId;
  alias.updatedAt = ctx.now();
  return {};
}

function deleteAlias(ctx: OperationContext, body: Json): Json {
  ctx.state.aliases.delete(existingAlias(ctx, body).name);
  return {};
}

function listAliases(ctx: OperationContext, body: Json): Json {
  const filterKey = body['KeyId'] === undefined || body['KeyId'] === null ? undefined : ctx.state.resolve(body['KeyId'], { allowAlias: false });
  const all = [...ctx.state.aliases.values()].filter((a) => !filterKey || a.targetKeyId === filterKey.keyId);
  const { items, nextMarker, truncated } = page(all, body);
  return {
    Aliases: items.map((a) => ({ AliasName: a.name, AliasArn: a.arn, TargetKeyId: a.targetKeyId, CreationDate: epochSeconds(a.createdAt), LastUpdatedDate: epochSeconds(a.updatedAt) })),
    Truncated: truncated,
    ...(nextMarker ? { NextMarker: nextMarker } : {}),
  };
}

function setEnabled(enabled: boolean) {
  return (ctx: OperationContext, body: Json): Json => {
    const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
    if (key.state === 'PendingDeletion') throw fault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = enabled ? 'Enabled' : 'Disabled';
    return {};
  };
}

/** AWS rotates only symmetric encryption keys; asymmetric keys answer UnsupportedOperationException. */
function rotatableKey(ctx: OperationContext, body: Json): EmulatedKey {
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  requireUsable(key);
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw fault('UnsupportedOperationException', `${key.arn} key spec ${key.keySpec} does not support rotation.`);
  return key;
}

function enableKeyRotation(ctx: OperationContext, body: Json): Json {
  const key = rotatableKey(ctx, body);
  const period = body['RotationPeriodInDays'];
  if (period !== undefined && period !== null) {
    if (typeof period !== 'number' || !Number.isInteger(period) || period < 90 || period > 2560) {
      throw fault('ValidationException', "1 validation error detected: Value at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560");
    }
    key.rotationPeriodDays = period;
  }
  key.rotationEnabled = true;
  return {};
}

function disableKeyRotation(ctx: OperationContext, body: Json): Json {
  rotatableKey(ctx, body).rotationEnabled = false;
  return {};
}

function getKeyRotationStatus(ctx: OperationContext, body: Json): Json {
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw fault('UnsupportedOperationException', `${key.arn} does not support rotation.`);
  return { KeyId: key.arn, KeyRotationEnabled: key.rotationEnabled, RotationPeriodInDays: key.rotationPeriodDays };
}

/** New backing key material; earlier backing keys stay to decrypt older ciphertexts. */
function rotateKeyOnDemand(ctx: OperationContext, body: Json): Json {
  const key = rotatableKey(ctx, body);
  key.backing.push(randomBytes(32));
  key.rotations.push({ date: ctx.now(), type: 'ON_DEMAND' });
  return { KeyId: key.keyId };
}

function listKeyRotations(ctx: OperationContext, body: Json): Json {
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw fault('UnsupportedOperationException', `${key.arn} does not support rotation.`);
  const { items, nextMarker, truncated } = page(key.rotations, body);
  return { Rotations: items.map((r) => ({ KeyId: key.keyId, RotationDate: epochSeconds(r.date), RotationType: r.type })), Truncated: truncated, ...(nextMarker ? { NextMarker: nextMarker } : {}) };
}

function scheduleKeyDeletion(ctx: OperationContext, body: Json): Json {
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  const days = body['PendingWindowInDays'] ?? 30;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
    throw fault('ValidationException', "1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30");
  }
  if (key.state === 'PendingDeletion') throw fault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  key.state = 'PendingDeletion';
  key.deletionDate = new Date(ctx.now().getTime() + days * 86_400_000);
  return { KeyId: key.arn, DeletionDate: epochSeconds(key.deletionDate), KeyState: key.state, PendingWindowInDays: days };
}

function cancelKeyDeletion(ctx: OperationContext, body: Json): Json {
  const key = ctx.state.resolve(body['KeyId'], { allowAlias: false });
  if (key.state !== 'PendingDeletion') throw fault('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
  key.state = 'Disabled';
  delete key.deletionDate;
  return { KeyId: key.arn };
}

export type Operation = (ctx: OperationContext, body: Json) => Json | Promise<Json>;

export const KEY_OPERATIONS: Readonly<Record<string, Operation>> = Object.freeze({
  CreateKey: createKey,
  DescribeKey: describeKey,
  ListKeys: listKeys,
  ListResourceTags: listResourceTags,
  TagResource: tagResource,
  CreateAlias: createAlias,
  UpdateAlias: updateAlias,
  DeleteAlias: deleteAlias,
  ListAliases: listAliases,
  EnableKey: setEnabled(true),
  DisableKey: setEnabled(false),
  EnableKeyRotation: enableKeyRotation,
  DisableKeyRotation: disableKeyRotation,
  GetKeyRotationStatus: getKeyRotationStatus,
  RotateKeyOnDemand: rotateKeyOnDemand,
  ListKeyRotations: listKeyRotations,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  CancelKeyDeletion: cancelKeyDeletion,
});
