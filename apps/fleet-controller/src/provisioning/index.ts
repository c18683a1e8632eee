/**
 * Factory provisioning and the device-facing API: Enroll, device authentication by certificate,
 * key bundles, and DeviceService.
 */
export { enroll, type EnrollmentDeps } from './enroll.js';
export { authenticateDevice, identifyDevice, type AuthenticatedDevice } from './device-auth.js';
export { keyBundleFor, emergencyKeyOf, issueFleetDeviceCertificate, verifyDeviceCsr, DEFAULT_DEVICE_CERTIFICATE_VALIDITY_MS } from './device-keys.js';
export { createDeviceService, requireDevice, type DeviceServiceDeps } from './device-service.js';
export { serialMatches, isValidSerial, MAX_SERIAL_LENGTH } from './serial-pattern.js';
export { CsrVerifierPool, defaultCsrWorkerCount } from './csr-verifier-pool.js';
