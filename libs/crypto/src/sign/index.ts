/** Public API of the signing part of @fleetkey/crypto: algorithms, the Signer port, verification. */
export * from './algorithms.js';
export * from './errors.js';
export * from './key-algorithm.js';
export * from './ecdsa-der.js';
export * from './signer.js';
export * from './verify.js';
export * from './keys.js';
