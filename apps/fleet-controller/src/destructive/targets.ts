/**
 * What a destructive two-operator request destroys, as the store keeps it (`LiftRequest.target`,
 * a small JSON object) and as people read it. Written by this module only, read back strictly: a
 * stored target that does not parse to the expected shape is refused, never guessed at.
 *
 * Trust boundary: the store's text (ours, but checked where it becomes a decision).
 */
import { ApprovalKind as PbApprovalKind, communicationKeyId } from '@fleetkey/protocol';
import { InvalidArgument, isValidIdentifier } from '@fleetkey/key-types';
import { StoreCorrupt, type ApprovalKind, type LiftRequest } from '../store/index.js';

/** An epoch of one key series: the fleet-wide one (group null) or a group's own. */
export interface EpochTarget {
  readonly groupId: string | null;
  readonly version: number;
}

export function encodeEpochTarget(target: EpochTarget): string {
  return JSON.stringify({ group: target.groupId, version: target.version });
}

export function encodeFleetTarget(fleetId: string): string {
  return JSON.stringify({ fleet: fleetId });
}

function parsed(request: Pick<LiftRequest, 'target'>): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(request.target ?? '');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through: refused below
  }
  throw new StoreCorrupt('a destructive request has a malformed target');
}

/** @throws StoreCorrupt when the stored target is not an epoch target. */
export function epochTargetOf(request: Pick<LiftRequest, 'target'>): EpochTarget {
  const { group, version, ...rest } = parsed(request);
  const groupOk = group === null || (typeof group === 'string' && isValidIdentifier(group));
  if (!groupOk || !Number.isSafeInteger(version) || (version as number) < 1 || Object.keys(rest).length > 0) {
    throw new StoreCorrupt('a destroy-epoch request has a malformed target');
  }
  return { groupId: group as string | null, version: version as number };
}

/** What people read: `epoch 3 of communication/acme/fleet`, `fleet acme`; '' for a lift. */
export function describeTarget(request: Pick<LiftRequest, 'kind' | 'fleetId' | 'target'>): string {
  switch (request.kind) {
    case 'lift':
      return '';
    case 'destroy-epoch': {
      const { groupId, version } = epochTargetOf(request);
      return `epoch ${version} of ${communicationKeyId(request.fleetId, groupId)}`;
    }
    case 'delete-fleet':
      return `fleet ${request.fleetId}`;
  }
}

const KIND_TO_PROTO: Readonly<Record<ApprovalKind, PbApprovalKind>> = Object.freeze({
  lift: PbApprovalKind.LIFT,
  'destroy-epoch': PbApprovalKind.DESTROY_EPOCH,
  'delete-fleet': PbApprovalKind.DELETE_FLEET,
});

export function approvalKindToProto(kind: ApprovalKind): PbApprovalKind {
  return KIND_TO_PROTO[kind];
}

/** undefined for UNSPECIFIED (every kind). @throws InvalidArgument for an unknown wire value. */
export function approvalKindFilterFromProto(value: PbApprovalKind): ApprovalKind | undefined {
  if (value === PbApprovalKind.UNSPECIFIED) return undefined;
  const found = (Object.keys(KIND_TO_PROTO) as ApprovalKind[]).find((kind) => KIND_TO_PROTO[kind] === value);
  if (found === undefined) throw new InvalidArgument('"kind" expected an approval kind');
  return found;
}
