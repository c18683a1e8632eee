/** The robot's link to the controller and the broker: commands, key bundles, revocation lists, status, renewal. */
export { startControllerLink, DEFAULT_STATUS_INTERVAL_MS, type ControllerLink, type ControllerLinkOptions } from './controller-link.js';
export { applySignedCommand, type CommandEffect, type CommandResult } from './commands.js';
export { applyKeyBundle, applyRevocationList, type PayloadResult, type RevocationResult } from './bundles.js';
export { createBackoff, DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_MAX_MS, type Backoff, type BackoffOptions } from './backoff.js';
export { parseBrokerAddress } from './broker-session.js';
