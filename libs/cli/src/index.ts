/** @fleetkey/cli — the shared command-line frame of edge-agent, fleet-controller and fleetctl. */
export * from './program.js';
export * from './duration.js';
export * from './warnings.js';
export * from './text.js';
export * from './logger.js';
