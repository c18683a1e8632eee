/**
 * Test support: deterministic key material and ids shared by the writer child process and the
 * tests that check what it committed (so the child never has to print material).
 * Not exported from the package index.
 *
 * Trust boundary: test-only; these "keys" protect nothing.
 */
import { createHash } from 'node:crypto';
import { versionedKeyId, type VersionedKeyId } from '@fleetkey/key-types';

export const WRITER_FLEET = 'crash-fleet';

export function writerKeyId(prefix: string, index: number): VersionedKeyId {
  return versionedKeyId('communication', WRITER_FLEET, `${prefix}-${index}`, 1);
}

export function writerMaterial(prefix: string, index: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`fleetkey keystore test material ${prefix} ${index}`).digest());
}
