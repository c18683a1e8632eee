/**
 * The signed artefacts a fleet keeps current: the latest signed epoch manifest of each
 * communication key series and the latest signed revocation list. Stored as the exact protobuf
 * bytes that were signed, so they are served as they are, never re-serialized; the store refuses
 * to replace one with an older sequence.
 *
 * Trust boundary: signed public artefacts; what is read back is decoded with the codec's limits.
 */
import { toBinary } from '@bufbuild/protobuf';
import {
  EpochManifestSchema,
  FLEET_WIDE_KEY_NAME,
  MAX_REVOCATION_LIST_BYTES,
  MAX_SIGNED_PAYLOAD_BYTES,
  RevocationListSchema,
  SignedEpochManifestSchema,
  SignedRevocationListSchema,
  decodeMessage,
  type SignedEpochManifest,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import type { RepositoryTx } from '../store/index.js';

const WRAPPER_OVERHEAD_BYTES = 4096;

function seriesName(groupId: string | null): string {
  return groupId ?? FLEET_WIDE_KEY_NAME;
}

export async function saveEpochManifest(tx: RepositoryTx, fleetId: string, groupId: string | null, manifest: SignedEpochManifest): Promise<void> {
  const { sequence } = decodeMessage(EpochManifestSchema, manifest.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES });
  await tx.putSignedArtifact({ fleetId, kind: 'epoch-manifest', name: seriesName(groupId), sequence: Number(sequence), bytes: toBinary(SignedEpochManifestSchema, manifest) });
}

export async function loadEpochManifest(tx: Pick<RepositoryTx, 'getSignedArtifact'>, fleetId: string, groupId: string | null): Promise<SignedEpochManifest | undefined> {
  const artifact = await tx.getSignedArtifact(fleetId, 'epoch-manifest', seriesName(groupId));
  return artifact === undefined ? undefined : decodeMessage(SignedEpochManifestSchema, artifact.bytes, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES + WRAPPER_OVERHEAD_BYTES });
}

export async function saveRevocationList(tx: RepositoryTx, fleetId: string, list: SignedRevocationList): Promise<void> {
  const { sequence } = decodeMessage(RevocationListSchema, list.payload, { maxBytes: MAX_REVOCATION_LIST_BYTES });
  await tx.putSignedArtifact({ fleetId, kind: 'revocation-list', name: '', sequence: Number(sequence), bytes: toBinary(SignedRevocationListSchema, list) });
}

export async function loadRevocationList(tx: Pick<RepositoryTx, 'getSignedArtifact'>, fleetId: string): Promise<SignedRevocationList | undefined> {
  const artifact = await tx.getSignedArtifact(fleetId, 'revocation-list', '');
  return artifact === undefined ? undefined : decodeMessage(SignedRevocationListSchema, artifact.bytes, { maxBytes: MAX_REVOCATION_LIST_BYTES + WRAPPER_OVERHEAD_BYTES });
}
