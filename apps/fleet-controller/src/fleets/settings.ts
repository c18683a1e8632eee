/**
 * The signed artefacts a fleet keeps current in the store's settings: the latest signed epoch
 * manifest of each communication key and the latest signed revocation list. Stored as the exact
 * protobuf bytes that were signed (base64), so they are served as they are, never re-serialized.
 *
 * Trust boundary: signed public artefacts; what is read back is decoded with the codec's limits.
 */
import { toBinary } from '@bufbuild/protobuf';
import { assertIdentifier } from '@fleetkey/key-types';
import {
  FLEET_WIDE_KEY_NAME,
  SignedEpochManifestSchema,
  SignedRevocationListSchema,
  decodeMessage,
  type SignedEpochManifest,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import type { RepositoryTx } from '../store/index.js';

const MAX_STORED_BYTES = 48 * 1024;

function manifestKey(fleetId: string, groupId: string | null): string {
  return `epoch-manifest/${assertIdentifier('fleet', fleetId)}/${groupId === null ? FLEET_WIDE_KEY_NAME : assertIdentifier('group', groupId)}`;
}

function revocationKey(fleetId: string): string {
  return `revocation-list/${assertIdentifier('fleet', fleetId)}`;
}

export async function saveEpochManifest(tx: RepositoryTx, fleetId: string, groupId: string | null, manifest: SignedEpochManifest): Promise<void> {
  await tx.setSetting(manifestKey(fleetId, groupId), Buffer.from(toBinary(SignedEpochManifestSchema, manifest)).toString('base64'));
}

export async function loadEpochManifest(tx: Pick<RepositoryTx, 'getSetting'>, fleetId: string, groupId: string | null): Promise<SignedEpochManifest | undefined> {
  const text = await tx.getSetting(manifestKey(fleetId, groupId));
  return text === undefined ? undefined : decodeMessage(SignedEpochManifestSchema, Buffer.from(text, 'base64'), { maxBytes: MAX_STORED_BYTES });
}

export async function saveRevocationList(tx: RepositoryTx, fleetId: string, list: SignedRevocationList): Promise<void> {
  await tx.setSetting(revocationKey(fleetId), Buffer.from(toBinary(SignedRevocationListSchema, list)).toString('base64'));
}

export async function loadRevocationList(tx: Pick<RepositoryTx, 'getSetting'>, fleetId: string): Promise<SignedRevocationList | undefined> {
  const text = await tx.getSetting(revocationKey(fleetId));
  return text === undefined ? undefined : decodeMessage(SignedRevocationListSchema, Buffer.from(text, 'base64'), { maxBytes: MAX_STORED_BYTES });
}
