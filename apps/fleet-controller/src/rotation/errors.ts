/**
 * Typed refusals of the rotation module. Both are IllegalStateTransition (FAILED_PRECONDITION on
 * the wire): the request was well formed, the key series was not in a state that allows it.
 *
 * Trust boundary: messages name fleets, groups and epoch versions only — never key material.
 */
import { IllegalStateTransition } from '@fleetkey/key-types';

/** A rotation of the series is already pending (distributed, not yet active). */
export class RotationInProgress extends IllegalStateTransition {
  constructor(
    readonly series: string,
    readonly pendingVersion: number,
  ) {
    super(`a rotation of ${series} is already in progress (epoch ${pendingVersion} is pending); wait for its activation or revoke a device to supersede it`);
  }
}

/**
 * The series changed between reading it and committing (another replica or process rotated or
 * advanced it). Nothing was stored; at most one KMS data key was made and dropped. Retry.
 */
export class RotationConflict extends IllegalStateTransition {
  constructor(readonly series: string) {
    super(`the key series ${series} changed while it was being rotated; retry`);
  }
}
