/**
 * Two-phase rotation of the communication keys (DESIGN.md "Two-phase rotation"): `rotateNow`
 * (phase one, also used by revocation), the scheduler's state machine (phase two), bundle
 * distribution, rotation policies, the RotateKeys rpc and the power that plugs it all in.
 */
export { rotateNow, MAX_ROTATION_REASON_BYTES, MAX_EXCLUDED_DEVICES, type RotateNowRequest, type RotationStarted } from './rotate.js';
export { advanceSeries, ackProgress, type AdvanceOutcome, type AckProgress } from './advance.js';
export { RotationScheduler, SCHEDULED_REASON, type RotationSchedulerOptions, type TickReport } from './scheduler.js';
export { BundleDistributor, FleetBundleSource, distributorOf, registerDistributor, type DistributionReport, type DistributionScope } from './bundles.js';
export {
  DEFAULT_ROTATION_POLICY,
  DEFAULT_TICK_INTERVAL_MS,
  ROTATION_POLICY_BOUNDS,
  loadRotationPolicy,
  saveRotationPolicy,
  validateRotationPolicy,
  loadSchedulerTick,
  saveSchedulerTick,
  rotationPolicySettingKey,
  type RotationPolicy,
} from './policy.js';
export { RotationConflict, RotationInProgress } from './errors.js';
export { readSeries, seriesName, USABLE_STATES, type SeriesState } from './series.js';
export { rotationRpcs } from './rpc.js';
export { createRotationPower, type RotationPowerOptions } from './power.js';
