/** Public surface of the Google Cloud KMS emulator. */
export { startGcpKmsEmulator, type GcpKmsEmulator, type GcpKmsEmulatorOptions } from './server.js';
export { GCP_EMULATOR_TOKEN, GCP_KMS_ROLES, type GcpKmsRole } from './auth.js';
export type { ResponseTamper } from './service.js';
