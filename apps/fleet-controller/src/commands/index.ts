/**
 * Signed emergency commands and what hangs on them: revocation, lockdown and its two-operator
 * lift, command delivery over MQTT and DeviceService.StreamCommands, and robots'
 * acknowledgements. The power (./power.ts) plugs all of it into the running controller.
 */
export { createCommandsPower, type CommandsPowerOptions } from './power.js';
export { issueCommand, issueCommandLocked, commandTopic, COMMAND_TTL_MS, MAX_COMMAND_TTL_MS, type CommandIssuerDeps, type IssueCommandInput, type IssueCommandHooks } from './issue-command.js';
export { withFleetLock } from './fleet-lock.js';
export { revokeDevice, revocationListSequence, MAX_REVOCATION_ENTRIES, type RevocationRotation, type RevokeDeviceInput, type RevokeDeviceOutcome } from './revocation.js';
export { lockDown, requestLift, approveLift, LIFT_REQUEST_TTL_MS, LIFT_APPROVALS_REQUIRED } from './lockdown.js';
export { lockdownsInForce, lockdownInForceFor, lockdownAcknowledgements, type LockdownAcknowledgements } from './lockdown-state.js';
export { applyDeviceAck, currentBundleSequence } from './acks.js';
export { scopeFromProto, scopeToProto, scopeKey, scopeConcerns, describeScope } from './scope.js';
export { DEVICE_ACKS_FILTER, DEVICE_STATUS_FILTER } from './mqtt-uplink.js';
