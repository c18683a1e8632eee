export { keyCommitment, keyCommitmentMatches, KEY_COMMITMENT_DOMAIN, KEY_COMMITMENT_LENGTH } from './commitment.js';
