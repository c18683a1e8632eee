/**
 * Key names the adapter makes: `<prefix><spec>-<uuid>[.t-<tags>]`. Vault Transit keeps no tags or
 * labels on a key, so the tags given to createKey travel in the name itself (canonical JSON,
 * base64url, bounded); they are fixed at creation, which matches the port (no tag updates).
 * listKeys filters by tag and purpose from the names alone, before any read.
 *
 * Trust boundary: names come back from Vault's LIST and from envelopes; parsing is strict and a
 * name that does not decode is treated as a key without tags.
 */
import { randomUUID } from 'node:crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';
import { VAULT_KEY_TYPES, specOfVaultType } from './specs.js';

/** Vault's GenericNameRegex, bounded: what a Transit key name may be. */
export const VAULT_KEY_NAME_PATTERN = /^[A-Za-z0-9_](?:[A-Za-z0-9_.@-]{0,510}[A-Za-z0-9_])?$/;
/** Bounds on tags carried in a name. */
export const MAX_TAGS = 16;
export const MAX_TAG_KEY_LENGTH = 64;
export const MAX_TAG_VALUE_LENGTH = 128;
export const MAX_ENCODED_TAGS_LENGTH = 400;
const TAG_MARK = '.t-';

export function isVaultKeyName(value: unknown): value is string {
  return typeof value === 'string' && VAULT_KEY_NAME_PATTERN.test(value);
}

/**
 * A fresh key name for `spec` carrying `tags`.
 * @throws TypeError / RangeError when `tags` is not a small record of strings (naming the bound).
 */
export function newKeyName(prefix: string, spec: KmsKeySpec, tags: Readonly<Record<string, string>> | undefined): string {
  const base = `${prefix}${VAULT_KEY_TYPES[spec]}-${randomUUID()}`;
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0) return base;
  if (entries.length > MAX_TAGS) throw new RangeError(`"tags" expected at most ${MAX_TAGS} entries, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new TypeError('"tags" values must be strings');
    if (key.length === 0 || key.length > MAX_TAG_KEY_LENGTH) throw new RangeError(`"tags" keys expected 1..${MAX_TAG_KEY_LENGTH} characters`);
    if (value.length > MAX_TAG_VALUE_LENGTH) throw new RangeError(`"tags" values expected at most ${MAX_TAG_VALUE_LENGTH} characters`);
  }
  const canonical = JSON.stringify(Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  const encoded = Buffer.from(canonical, 'utf8').toString('base64url');
  if (encoded.length > MAX_ENCODED_TAGS_LENGTH) throw new RangeError(`"tags" expected at most ${MAX_ENCODED_TAGS_LENGTH} encoded characters, got ${encoded.length}`);
  // base64url may end in "-" or "_"; "_" keeps the name ending in a word character as Vault requires.
  return `${base}${TAG_MARK}${encoded}_`;
}

/** Tags carried in a name ({} when none or undecodable). */
export function tagsOfName(name: string): Readonly<Record<string, string>> {
  const at = name.indexOf(TAG_MARK);
  if (at < 0) return Object.freeze({});
  const encoded = name.slice(at + TAG_MARK.length).replace(/_$/, '');
  if (encoded.length > MAX_ENCODED_TAGS_LENGTH || !/^[A-Za-z0-9_-]*$/.test(encoded)) return Object.freeze({});
  try {
    const parsed: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return Object.freeze({});
    const entries = Object.entries(parsed as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string');
    return Object.freeze(Object.fromEntries(entries.slice(0, MAX_TAGS)));
  } catch {
    return Object.freeze({});
  }
}

/** The spec named in a key name this adapter made, or undefined for other names. */
export function specOfName(prefix: string, name: string): KmsKeySpec | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  const type = /^(aes256-gcm96|rsa-2048|rsa-3072|rsa-4096|ecdsa-p256|ecdsa-p384|ecdsa-p521|ed25519)-/.exec(rest)?.[1];
  return specOfVaultType(type);
}
