/** Public API of wrapping to device keys. The fixed-randomness seam (`wrapToPublicKeyWith`) is not exported. */
export { wrapToPublicKey, unwrapWithPrivateKey } from './wrap.js';
export type { WrapToPublicKeyParams } from './wrap.js';
export { ECIES_HKDF_INFO } from './ecies.js';
