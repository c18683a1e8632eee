/**
 * @fleetkey/crypto — envelope v1, wrapping to device keys, signatures and X.509. The only library
 * that uses node:crypto primitives for these; everything else goes through this surface.
 *
 * Trust boundary: decoders, openers and verifiers here take attacker bytes and fail with typed
 * `FleetkeyError`s; fixed-nonce test seams are not exported.
 */
export * from './errors.js';
export * from './envelope/index.js';
export * from './sign/index.js';
export * from './x509/index.js';
export * from './wrap/index.js';
export * from './checksum/index.js';
export * from './commitment/index.js';
