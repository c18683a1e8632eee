/**
 * Reading AWS key metadata into the port's KmsKeyDescription: DescribeKey + ListResourceTags for
 * one key, ListKeys pages for many (with tag and purpose filters applied here, since AWS cannot
 * filter ListKeys). The key id the port hands out is the key ARN: it names region and account,
 * so an envelope or a stored id stays unambiguous across regions.
 *
 * Trust boundary: AWS answers are trusted service output but still checked for shape; keys the
 * port does not model (HMAC, SM2, RSA encryption keys, AWS managed keys) are skipped in lists
 * and refused as UnsupportedKeySpec on describe.
 */
import { DescribeKeyCommand, ListKeysCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import type { KMSClient, KeyMetadata } from '@aws-sdk/client-kms';
import { UnsupportedKeySpec, purposeOfSpec } from '@fleetkey/kms-core';
import type { KmsKeyDescription, KmsKeyPurpose } from '@fleetkey/kms-core';
import { AWS_PROVIDER_NAME } from './errors.js';
import { kmsSpecOf } from './specs.js';

/** AWS: at most 50 tags per key, so one ListResourceTags page of 50 holds them all. */
export const MAX_TAGS_PER_KEY = 50;
/** Default and largest `limit` of listKeys (each listed key costs two more AWS calls). */
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/** AWS ListKeys page size (its maximum). */
export const LIST_PAGE_SIZE = 1000;
/** Most ListKeys pages walked for one listKeys call (1,000,000 keys). */
export const MAX_LIST_PAGES = 1000;

export async function readTags(client: KMSClient, keyArn: string): Promise<Record<string, string>> {
  const out = await client.send(new ListResourceTagsCommand({ KeyId: keyArn, Limit: MAX_TAGS_PER_KEY }));
  const tags: Record<string, string> = {};
  for (const tag of out.Tags ?? []) if (tag.TagKey !== undefined) tags[tag.TagKey] = tag.TagValue ?? '';
  return tags;
}

/** The port description of AWS metadata, or undefined for keys the port does not model. */
export function descriptionOf(metadata: KeyMetadata | undefined, tags: Record<string, string>): KmsKeyDescription | undefined {
  if (!metadata?.Arn || metadata.KeyManager === 'AWS') return undefined;
  const spec = kmsSpecOf(metadata.KeySpec, metadata.KeyUsage);
  if (!spec) return undefined;
  return {
    provider: AWS_PROVIDER_NAME,
    keyId: metadata.Arn,
    spec,
    purpose: purposeOfSpec(spec),
    enabled: metadata.KeyState === 'Enabled',
    // AWS tracks backing keys itself and never names their versions in ciphertexts or signatures.
    currentVersion: 0,
    ...(metadata.CreationDate ? { createdAt: metadata.CreationDate } : {}),
    tags: Object.freeze({ ...tags }),
  };
}

/**
 * DescribeKey + ListResourceTags.
 * @throws UnsupportedKeySpec for a key the port does not model; SDK errors unchanged (the caller maps).
 */
export async function describeAwsKey(client: KMSClient, keyId: string): Promise<{ description: KmsKeyDescription; metadata: KeyMetadata }> {
  const { KeyMetadata: metadata } = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
  const tags = metadata?.Arn && metadata.KeyManager !== 'AWS' && kmsSpecOf(metadata.KeySpec, metadata.KeyUsage) ? await readTags(client, metadata.Arn) : {};
  const description = descriptionOf(metadata, tags);
  if (!description || !metadata) {
    throw new UnsupportedKeySpec({ provider: AWS_PROVIDER_NAME, keyId, operation: 'describeKey', detail: `AWS key spec ${String(metadata?.KeySpec).slice(0, 32)} / ${String(metadata?.KeyUsage).slice(0, 32)} is not modelled` });
  }
  return { description, metadata };
}

export interface ListFilter {
  readonly tags?: Record<string, string>;
  readonly purpose?: KmsKeyPurpose;
  readonly limit?: number;
}

function matches(description: KmsKeyDescription, filter: ListFilter): boolean {
  if (filter.purpose !== undefined && description.purpose !== filter.purpose) return false;
  for (const [k, v] of Object.entries(filter.tags ?? {})) if (description.tags[k] !== v) return false;
  return true;
}

/**
 * Walks ListKeys and describes each key until `limit` matches; keys pending deletion and keys the
 * port does not model are skipped.
 * @throws RangeError for a limit outside 1..MAX_LIST_LIMIT; SDK errors unchanged.
 */
export async function listAwsKeys(client: KMSClient, filter: ListFilter = {}): Promise<KmsKeyDescription[]> {
  const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new RangeError(`"limit" expected an integer in 1..${MAX_LIST_LIMIT}, got ${limit}`);
  const found: KmsKeyDescription[] = [];
  let marker: string | undefined;
  for (let pages = 0; pages < MAX_LIST_PAGES; pages += 1) {
    const out = await client.send(new ListKeysCommand({ Limit: LIST_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }));
    for (const entry of out.Keys ?? []) {
      if (!entry.KeyArn) continue;
      const { KeyMetadata: metadata } = await client.send(new DescribeKeyCommand({ KeyId: entry.KeyArn }));
      if (!metadata || metadata.KeyState === 'PendingDeletion' || !descriptionOf(metadata, {})) continue;
      const description = descriptionOf(metadata, await readTags(client, entry.KeyArn));
      if (description && matches(description, filter)) found.push(description);
      if (found.length >= limit) return found;
    }
    if (!out.Truncated || !out.NextMarker) break;
    marker = out.NextMarker;
  }
  return found;
}
