/**
 * @fleetkey/kms-emulators — wire-compatible emulators of AWS KMS, Azure Key Vault, Google Cloud
 * KMS and Vault Transit, for tests and for running the whole system offline. They keep real key
 * material and do real crypto; they are never a production path.
 */
export * from './faults.js';
export * from './gcp/index.js';
export * from './aws/index.js';
export * from './vault/index.js';
export * from './azure/index.js';
