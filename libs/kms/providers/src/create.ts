/**
 * Building a provider from configuration: validate (kms-core's parseKmsConfig, every problem at
 * once), load ONLY the chosen adapter (lazy import in its registration line), and wrap it in
 * kms-core's standard decorator stack (timeout -> retry -> circuit breaker -> cache -> metrics)
 * with the config's timeout, retries and cache TTL.
 *
 * Trust boundary: the config and environment come from the application's composition root; this
 * module never reads process.env.
 */
import {
  composeDefaults,
  defaultsOptionsFromConfig,
  kmsConfigFromEnv,
  parseKmsConfig,
  type DefaultStack,
  type KmsConfig,
  type KmsEnvironment,
  type KmsMetricsSink,
  type KmsProvider,
  type KmsProviderDeps,
} from '@fleetkey/kms-core';
import { detectProvider } from './detect.js';
import { registrationOf } from './registrations.js';

export interface CreateKmsProviderOptions {
  /** The environment, for the vendors' own variables (AZURE_CLIENT_SECRET …). Never process.env implicitly. */
  readonly env?: KmsEnvironment;
  /** Metrics sink for the outermost decorator (none when absent). */
  readonly metrics?: KmsMetricsSink;
  /** Milliseconds clock handed to the adapter. */
  readonly now?: () => number;
  /**
   * Where `config` came from (kms-core's parseKmsConfig): 'file' (default) refuses a literal
   * vault.token; 'env' allows it (it came from VAULT_TOKEN, the vendor's own variable).
   */
  readonly source?: 'file' | 'env';
}

export interface CreatedKmsProvider extends DefaultStack {
  /** The adapter itself, undecorated (for tests and benchmarks; callers use `provider`). */
  readonly bare: KmsProvider;
  readonly config: KmsConfig;
}

/**
 * Validates `config`, creates the chosen adapter and decorates it; returns the whole stack.
 * @throws InvalidKmsConfig listing every problem; whatever the adapter's factory throws.
 */
export async function createKmsProviderStack(config: unknown, options: CreateKmsProviderOptions = {}): Promise<CreatedKmsProvider> {
  const valid = parseKmsConfig(config, { source: options.source ?? 'file' });
  return build(valid, options);
}

async function build(valid: KmsConfig, options: CreateKmsProviderOptions): Promise<CreatedKmsProvider> {
  const deps: KmsProviderDeps = {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  const bare = await registrationOf(valid.provider).create(valid, deps);
  const stack = composeDefaults(bare, { ...defaultsOptionsFromConfig(valid), ...(options.metrics === undefined ? {} : { metrics: options.metrics }) });
  return { ...stack, bare, config: valid };
}

/**
 * `createKmsProviderStack(config, options).provider`: the decorated provider.
 * @throws InvalidKmsConfig listing every problem; whatever the adapter's factory throws.
 */
export async function createKmsProvider(config: unknown, options: CreateKmsProviderOptions = {}): Promise<KmsProvider> {
  return (await createKmsProviderStack(config, options)).provider;
}

/**
 * The same from an environment object: FLEETKEY_KMS_PROVIDER (or, when unset, `detectProvider`'s
 * choice) plus FLEETKEY_KMS_* and the chosen vendor's own variables.
 * @throws InvalidKmsConfig listing every problem, each naming its variable.
 */
export async function createKmsProviderFromEnv(env: KmsEnvironment, options: Omit<CreateKmsProviderOptions, 'env'> = {}): Promise<KmsProvider> {
  const chosen = detectProvider(env);
  const config = kmsConfigFromEnv({ ...env, FLEETKEY_KMS_PROVIDER: chosen.name });
  return (await build(config, { ...options, env })).provider;
}
