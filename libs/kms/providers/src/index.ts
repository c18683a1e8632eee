/**
 * @fleetkey/kms-providers — the registry of KMS adapters (one registration line each, loaded
 * lazily so only the chosen vendor SDK loads), detection from the environment with a reason, and
 * `createKmsProvider(config)` which validates, builds and decorates the chosen provider.
 *
 * Trust boundary: configuration and environment are passed in by the application; nothing here
 * reads process.env.
 */
export {
  createKmsProvider,
  createKmsProviderFromEnv,
  createKmsProviderStack,
  type CreateKmsProviderOptions,
  type CreatedKmsProvider,
} from './create.js';
export { describeProviders, detectProvider, listAvailableProviders, providerRequirements, type DetectedProvider, type ProviderAvailability } from './detect.js';
export { KMS_PROVIDER_REGISTRATIONS, registrationOf } from './registrations.js';
