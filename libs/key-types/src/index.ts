/** @fleetkey/key-types — the domain vocabulary of fleetkey. No I/O, no crypto, no dependencies. */
export * from './errors.js';
export * from './identifiers.js';
export * from './algorithms.js';
export * from './kinds.js';
export * from './states.js';
export * from './key-id.js';
