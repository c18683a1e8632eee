/**
 * In-memory state of one emulated AWS KMS account in one region: keys (with their backing keys,
 * AWS's name for key material versions), aliases and tags, and how a client's `KeyId` (key id,
 * key ARN, alias name or alias ARN) resolves to a key.
 *
 * Trust boundary: key ids and alias names are client input; key material never leaves this
 * module except through the operations that AWS also allows (public keys).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { fault } from './errors.js';
import type { AwsKeySpec, AwsKeyUsage } from './key-specs.js';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface EmulatedKey {
  readonly keyId: string;
  readonly arn: string;
  readonly createdAt: Date;
  readonly description: string;
  readonly keySpec: AwsKeySpec;
  readonly keyUsage: AwsKeyUsage;
  state: KeyState;
  deletionDate?: Date;
  readonly tags: Map<string, string>;
  rotationEnabled: boolean;
  rotationPeriodDays: number;
  /** Symmetric backing keys, oldest first; the last one encrypts. */
  readonly backing: Buffer[];
  readonly rotations: { readonly date: Date; readonly type: 'AUTOMATIC' | 'ON_DEMAND' }[];
  readonly pair?: { readonly privateKey: KeyObject; readonly publicKey: KeyObject };
}

export interface EmulatedAlias {
  readonly name: string;
  readonly arn: string;
  targetKeyId: string;
  readonly createdAt: Date;
  updatedAt: Date;
}

/** AWS default quota of customer managed keys per account and region is 100,000; far fewer here. */
export const MAX_KEYS = 10_000;
/** AWS: at most 50 tags per key. */
export const MAX_TAGS = 50;
/** AWS: KeyId is at most 2048 characters. */
export const MAX_KEY_ID_INPUT = 2048;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class KmsState {
  readonly keys = new Map<string, EmulatedKey>();
  readonly aliases = new Map<string, EmulatedAlias>();

  constructor(
    readonly region: string,
    readonly accountId: string,
  ) {}

  keyArn(keyId: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  aliasArn(name: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:${name}`;
  }

  addKey(init: Omit<EmulatedKey, 'keyId' | 'arn' | 'state' | 'rotationEnabled' | 'rotationPeriodDays' | 'backing' | 'rotations' | 'tags'> & { tags: Map<string, string> }): EmulatedKey {
    if (this.keys.size >= MAX_KEYS) throw fault('LimitExceededException', 'Too many keys in this emulator');
    const keyId = randomUUID();
    const key: EmulatedKey = {
      ...init,
      keyId,
      arn: this.keyArn(keyId),
      state: 'Enabled',
      rotationEnabled: false,
      rotationPeriodDays: 365,
      backing: init.keySpec === 'SYMMETRIC_DEFAULT' ? [randomBytes(32)] : [],
      rotations: [],
    };
    this.keys.set(keyId, key);
    return key;
  }

  /**
   * Resolves a KeyId in any of the four forms AWS accepts.
   * @throws AwsKmsFault NotFoundException when nothing matches (as AWS answers unknown ids).
   */
  resolve(input: unknown, options: { allowAlias?: boolean } = {}): EmulatedKey {
    if (typeof input !== 'string' || input.length === 0 || input.length > MAX_KEY_ID_INPUT) {
      throw fault('ValidationException', '1 validation error detected: Value at \'keyId\' failed to satisfy constraint: Member must have length between 1 and 2048');
    }
    const allowAlias = options.allowAlias ?? true;
    let keyId: string | undefined;
    const arnPrefix = `arn:aws:kms:${this.region}:${this.accountId}:`;
    const local = input.startsWith('arn:') ? (input.startsWith(arnPrefix) ? input.slice(arnPrefix.length) : undefined) : input;
    if (local === undefined) throw fault('NotFoundException', `Invalid arn ${input.slice(0, 256)}`);
    if (local.startsWith('alias/')) {
      if (!allowAlias) throw fault('NotFoundException', `Alias ${this.aliasArn(local)} is not found.`);
      const alias = this.aliases.get(local);
      if (!alias) throw fault('NotFoundException', `Alias ${this.aliasArn(local)} is not found.`);
      keyId = alias.targetKeyId;
    } else if (local.startsWith('key/') && input.startsWith('arn:')) {
      keyId = local.slice(4);
    } else if (!input.startsWith('arn:')) {
      keyId = local;
    }
    const key = keyId !== undefined && UUID_PATTERN.test(keyId) ? this.keys.get(keyId) : undefined;
    if (!key) {
      if (keyId !== undefined && !UUID_PATTERN.test(keyId)) throw fault('NotFoundException', `Invalid keyId ${input.slice(0, 256)}`);
      throw fault('NotFoundException', `Key '${keyId === undefined ? input.slice(0, 256) : this.keyArn(keyId)}' does not exist`);
    }
    return key;
  }
}

/**
 * AWS answers use of a disabled key with DisabledException and of a key pending deletion with
 * KMSInvalidStateException (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html).
 */
export function requireUsable(key: EmulatedKey): void {
  if (key.state === 'Disabled') throw fault('DisabledException', `${key.arn} is disabled.`);
  if (key.state === 'PendingDeletion') throw fault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
}
