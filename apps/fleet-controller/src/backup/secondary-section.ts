/**
 * `secondary.json`, the archive entry holding the secondary KMS's copies of every KMS-wrapped key
 * the state needs: each kept epoch key (pending, active, retiring, expired) re-wrapped under the
 * secondary key with the same context as its primary wrapping, and the sealed TLS server key.
 * Revoked and destroyed epochs are left out on purpose: copying a key whose state says it must be
 * gone into a second KMS would undo that state.
 *
 * Trust boundary: read back from an archive, so parsed strictly (unknown keys refused, every
 * length bounded); the blobs are KMS envelopes the restore then asks the secondary to unwrap.
 */
import { isValidIdentifier, type KeyState } from '@fleetkey/key-types';
import { z } from 'zod';
import { BackupArchiveInvalid } from './errors.js';

/** Epoch states whose keys the secondary also wraps. */
export const SECONDARY_EPOCH_STATES: readonly KeyState[] = Object.freeze(['pending', 'active', 'retiring', 'expired']);
export const MAX_SECONDARY_EPOCHS = 200_000;
const MAX_WRAPPED_BYTES = 4096;

const wrapped = z
  .string()
  .max(Math.ceil(MAX_WRAPPED_BYTES / 3) * 4)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/)
  .transform((text) => new Uint8Array(Buffer.from(text, 'base64')));

const identifier = z.string().refine(isValidIdentifier);

const sectionSchema = z.strictObject({
  version: z.literal(1),
  provider: z.string().regex(/^[a-z0-9-]{1,32}$/),
  keyId: z.string().min(1).max(1024).regex(/^[\x21-\x7e]+$/),
  serverKey: wrapped,
  epochs: z
    .array(z.strictObject({ fleet: identifier, group: identifier.nullable(), version: z.number().int().min(1).max(2 ** 31 - 1), wrappedKey: wrapped }))
    .max(MAX_SECONDARY_EPOCHS),
});

export type SecondarySection = z.output<typeof sectionSchema>;
export interface SecondaryEpoch {
  readonly fleet: string;
  readonly group: string | null;
  readonly version: number;
  readonly wrappedKey: Uint8Array;
}

export function encodeSecondarySection(section: { provider: string; keyId: string; serverKey: Uint8Array; epochs: readonly SecondaryEpoch[] }): Uint8Array {
  const json = {
    version: 1,
    provider: section.provider,
    keyId: section.keyId,
    serverKey: Buffer.from(section.serverKey).toString('base64'),
    epochs: section.epochs.map((epoch) => ({ fleet: epoch.fleet, group: epoch.group, version: epoch.version, wrappedKey: Buffer.from(epoch.wrappedKey).toString('base64') })),
  };
  sectionSchema.parse(json);
  return new TextEncoder().encode(JSON.stringify(json));
}

/** @throws BackupArchiveInvalid when the entry is not a well-formed section. */
export function decodeSecondarySection(bytes: Uint8Array): SecondarySection {
  try {
    return sectionSchema.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch {
    throw new BackupArchiveInvalid('its secondary.json entry is malformed');
  }
}
