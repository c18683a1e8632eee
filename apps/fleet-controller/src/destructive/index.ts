/**
 * Destroying keys and deleting fleets behind the two-operator approval that lifts use: requests,
 * approval and execution (crypto-shredding of an epoch, decommissioning of a fleet), and the power
 * that serves their rpcs.
 */
export { createDestructivePower } from './power.js';
export { requestEpochDestruction, requestFleetDeletion, approveDestruction, authorizeDestruction, DESTRUCTIVE_REQUEST_TTL_MS, type ApprovalOutcome } from './approvals.js';
export { destroyEpoch, destroyableEpoch, DESTROYABLE_STATES, type DestroyEpochInput } from './destroy-epoch.js';
export { deleteFleetLocked, type DeleteFleetInput, type DeleteFleetOutcome } from './delete-fleet.js';
export { approvalRequestToProto, destructiveOperatorRpcs, type DestructiveOperatorRpc } from './rpcs.js';
export { describeTarget, approvalKindToProto, approvalKindFilterFromProto, type EpochTarget } from './targets.js';
