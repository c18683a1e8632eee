/**
 * @fleetkey/kms-gcp — the Google Cloud KMS adapter (the only importer of `@google-cloud/kms`).
 * See docs/providers/gcp.md for IAM roles, environment variables and the emulator.
 */
export { createGcpKmsProvider, MAX_ED25519_MESSAGE_BYTES, MAX_GENERATION_WAIT_MS, type GcpKmsDeps } from './provider.js';
export { resolveGcpKmsConfig, DEFAULT_GCP_KMS_ENDPOINT, type GcpKmsConfig, type ResolvedGcpKmsConfig } from './config.js';
export { GCP_SUPPORTED_KEY_SPECS } from './algorithms.js';
export { mapGcpError, GRPC_STATUS } from './errors.js';
export type { GcpAuthClient } from './client.js';
