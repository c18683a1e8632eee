/**
 * KMS configuration: one zod schema for `{ provider, keyId?, cacheTtlSeconds, maxRetries,
 * timeoutSeconds, aws?, azure?, gcp?, vault?, local? }`, validated so that EVERY problem is
 * reported at once (an `InvalidKmsConfig` whose `problems` each name the setting, the environment
 * variable that feeds it, and what to do), unknown keys are refused, the chosen provider's own
 * section is required, and the result is frozen. `kmsConfigFromEnv(env)` builds the same from an
 * environment object the application passes in: this library never reads process.env.
 * (SPIRE pluginconf: read → validate → report every problem → reject unknown keys → cross-field
 * checks → freeze → inject.)
 *
 * Trust boundary: configuration is operator input. Secrets never appear as literals in a config
 * file: the Vault token and the local passphrase come by file path (`tokenFile`,
 * `passphraseFile`) or from the vendor's own credential chain / variables (VAULT_TOKEN, the AWS and
 * Azure chains). Problem messages quote a setting's name, never a secret's value.
 */
import { z } from 'zod';
import type { DefaultsOptions } from './decorators/defaults.js';
import { InvalidKmsConfig } from './errors.js';
import { KMS_PROVIDER_NAMES, type KmsProvider, type KmsProviderName } from './provider.js';

export const DEFAULT_CACHE_TTL_SECONDS = 300;
export const MAX_CACHE_TTL_SECONDS = 86_400;
export const DEFAULT_CONFIG_MAX_RETRIES = 3;
export const MAX_CONFIG_RETRIES = 10;
export const DEFAULT_TIMEOUT_SECONDS = 30;
export const MAX_TIMEOUT_SECONDS = 600;
/** Longest string setting (URLs, paths, ids). */
export const MAX_SETTING_LENGTH = 1024;
export const DEFAULT_VAULT_MOUNT = 'transit';

/** Which environment variable feeds each setting (quoted in problem messages). */
export const ENV_VARIABLE_OF_SETTING: Readonly<Record<string, string>> = Object.freeze({
  provider: 'FLEETKEY_KMS_PROVIDER',
  keyId: 'FLEETKEY_KMS_KEY_ID',
  cacheTtlSeconds: 'FLEETKEY_KMS_CACHE_TTL',
  maxRetries: 'FLEETKEY_KMS_MAX_RETRIES',
  timeoutSeconds: 'FLEETKEY_KMS_TIMEOUT',
  'aws.region': 'AWS_REGION',
  'aws.profile': 'AWS_PROFILE',
  'aws.endpoint': 'AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL',
  'azure.vaultUrl': 'AZURE_KEY_VAULT_URL',
  'azure.tenantId': 'AZURE_TENANT_ID',
  'azure.clientId': 'AZURE_CLIENT_ID',
  'azure.authorityHost': 'AZURE_AUTHORITY_HOST',
  'azure.disableChallengeResourceVerification': 'FLEETKEY_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION',
  'gcp.projectId': 'GOOGLE_CLOUD_PROJECT',
  'gcp.location': 'GOOGLE_CLOUD_LOCATION',
  'gcp.keyRing': 'GOOGLE_CLOUD_KEY_RING',
  'gcp.endpoint': 'FLEETKEY_GCP_KMS_ENDPOINT',
  'vault.address': 'VAULT_ADDR',
  'vault.token': 'VAULT_TOKEN',
  'local.path': 'FLEETKEY_LOCAL_KMS_PATH',
  'local.passphraseFile': 'FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE',
});

const text = (what: string) =>
  z
    .string({ error: `expected ${what} (a string)` })
    .min(1, { error: `expected ${what}, got an empty string` })
    .max(MAX_SETTING_LENGTH, { error: `expected at most ${MAX_SETTING_LENGTH} characters` });

function httpUrl(what: string, httpsOnly = false) {
  return text(what).refine(
    (value) => {
      try {
        const url = new URL(value);
        return httpsOnly ? url.protocol === 'https:' : url.protocol === 'https:' || url.protocol === 'http:';
      } catch {
        return false;
      }
    },
    { error: `expected ${what} as an ${httpsOnly ? 'https://' : 'http:// or https://'} URL` },
  );
}

const wholeNumber = (what: string, min: number, max: number) =>
  z
    .number({ error: `expected ${what} as a whole number` })
    .int({ error: `expected ${what} as a whole number` })
    .min(min, { error: `expected ${what} of at least ${min}` })
    .max(max, { error: `expected ${what} of at most ${max}` });

const awsSchema = z.strictObject({
  region: text('an AWS region such as eu-west-1').regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: 'expected an AWS region such as eu-west-1' }),
  endpoint: httpUrl('the KMS endpoint').optional(),
  profile: text('a profile name from ~/.aws/config').optional(),
});

const azureSchema = z.strictObject({
  vaultUrl: httpUrl('the Key Vault URL (https://<name>.vault.azure.net)', true),
  tenantId: text('a tenant id').optional(),
  clientId: text('a client id').optional(),
  authorityHost: httpUrl('the Microsoft Entra authority host', true).optional(),
  // The Key Vault emulator listens on 127.0.0.1, not *.vault.azure.net; never for a real vault.
  disableChallengeResourceVerification: z.boolean({ error: 'expected true or false' }).optional(),
});

const gcpSchema = z.strictObject({
  projectId: text('a Google Cloud project id'),
  location: text('a Cloud KMS location such as global or europe-west1'),
  keyRing: text('a key ring name'),
  endpoint: text('an API endpoint such as host:port').optional(),
});

const vaultSchema = z.strictObject({
  address: httpUrl('the Vault address'),
  token: text('a Vault token').optional(),
  tokenFile: text('the path of a file holding the Vault token').optional(),
  mount: text('the Transit mount path').regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, { error: 'expected a mount path such as transit' }).default(DEFAULT_VAULT_MOUNT),
});

const localSchema = z.strictObject({
  path: text('the path of the local key file'),
  passphraseFile: text('the path of a file holding the passphrase'),
});

export const kmsConfigSchema = z.strictObject({
  provider: z.enum(KMS_PROVIDER_NAMES as [KmsProviderName, ...KmsProviderName[]], { error: `expected one of ${KMS_PROVIDER_NAMES.join(', ')}` }),
  keyId: text('a key id').regex(/^[\x21-\x7e]+$/, { error: 'expected printable ASCII without spaces' }).optional(),
  cacheTtlSeconds: wholeNumber('a cache TTL in seconds', 1, MAX_CACHE_TTL_SECONDS).default(DEFAULT_CACHE_TTL_SECONDS),
  maxRetries: wholeNumber('a retry count', 0, MAX_CONFIG_RETRIES).default(DEFAULT_CONFIG_MAX_RETRIES),
  timeoutSeconds: wholeNumber('a timeout in seconds', 1, MAX_TIMEOUT_SECONDS).default(DEFAULT_TIMEOUT_SECONDS),
  aws: awsSchema.optional(),
  azure: azureSchema.optional(),
  gcp: gcpSchema.optional(),
  vault: vaultSchema.optional(),
  local: localSchema.optional(),
});

export type KmsConfig = Readonly<z.output<typeof kmsConfigSchema>>;
export type KmsConfigInput = z.input<typeof kmsConfigSchema>;

export interface ParseKmsConfigOptions {
  /**
   * Where the input came from. 'env' allows `vault.token` (it came from VAULT_TOKEN, the vendor's
   * own variable); from a 'file' (the default) a literal token is refused.
   */
  readonly source?: 'file' | 'env';
}

function settingName(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function describeSetting(path: string): string {
  const variable = ENV_VARIABLE_OF_SETTING[path];
  return variable === undefined ? `"${path}"` : `"${path}" (${variable})`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function problemOf(issue: z.core.$ZodIssue, input: unknown): string[] {
  const path = settingName(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `"${path === '' ? key : `${path}.${key}`}" is not a known setting (remove it, or check its spelling)`);
  }
  if (valueAt(input, issue.path) === undefined) return [path === 'provider' ? missingProvider() : `${describeSetting(path)} is required`];
  return [`${describeSetting(path)}: ${issue.message}`];
}

/** The section each provider needs, and the settings to name when it is missing. */
const SECTION_HINT: Readonly<Record<KmsProviderName, string>> = Object.freeze({
  local: 'local.path and local.passphraseFile (FLEETKEY_LOCAL_KMS_PATH, FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE)',
  aws: 'aws.region (AWS_REGION)',
  azure: 'azure.vaultUrl (AZURE_KEY_VAULT_URL)',
  gcp: 'gcp.projectId, gcp.location and gcp.keyRing (GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, GOOGLE_CLOUD_KEY_RING)',
  vault: 'vault.address (VAULT_ADDR)',
});

/** Cross-field rules zod's per-field checks cannot express. */
function crossFieldProblems(input: unknown, options: ParseKmsConfigOptions): string[] {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null) return problems;
  const raw = input as Record<string, unknown>;
  const provider = raw.provider;
  // Precondition: the chosen provider's own section is present.
  if (typeof provider === 'string' && (KMS_PROVIDER_NAMES as readonly string[]).includes(provider) && raw[provider] === undefined) {
    problems.push(`provider "${provider}" needs the "${provider}" section: set ${SECTION_HINT[provider as KmsProviderName]}`);
  }
  const vault = raw.vault;
  if (typeof vault === 'object' && vault !== null) {
    const v = vault as Record<string, unknown>;
    // Precondition: no literal secret in a config file; the Vault token comes by file or VAULT_TOKEN.
    if (v.token !== undefined && (options.source ?? 'file') === 'file') {
      problems.push('"vault.token" must not be written in a config file: put the token in a file and set "vault.tokenFile", or set VAULT_TOKEN in the environment');
    }
    if (v.token !== undefined && v.tokenFile !== undefined) {
      problems.push('"vault.token" (VAULT_TOKEN) and "vault.tokenFile" are both set: keep one');
    }
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates `input` and returns the frozen config with defaults applied.
 * @throws InvalidKmsConfig listing every problem found.
 */
export function parseKmsConfig(input: unknown, options: ParseKmsConfigOptions = {}): KmsConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidKmsConfig(['the KMS configuration must be an object such as { "provider": "local", "local": { ... } }']);
  }
  const result = kmsConfigSchema.safeParse(input);
  const problems = [...(result.success ? [] : result.error.issues.flatMap((issue) => problemOf(issue, input))), ...crossFieldProblems(input, options)];
  if (problems.length > 0 || !result.success) {
    const provider = (input as { provider?: unknown }).provider;
    throw new InvalidKmsConfig(problems, typeof provider === 'string' && (KMS_PROVIDER_NAMES as readonly string[]).includes(provider) ? { provider } : {});
  }
  return deepFreeze(result.data);
}

export type KmsEnvironment = Readonly<Record<string, string | undefined>>;

/** An env value, or undefined when unset or blank. */
function envValue(env: KmsEnvironment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** true / false for a boolean variable, or the raw text so validation names the bad value's setting. */
function envBoolean(env: KmsEnvironment, name: string): boolean | string | undefined {
  const value = envValue(env, name);
  if (value === undefined) return undefined;
  return value === 'true' ? true : value === 'false' ? false : value;
}

/** A number for a numeric variable, or the raw text so validation names the bad value's setting. */
function envNumber(env: KmsEnvironment, name: string): number | string | undefined {
  const value = envValue(env, name);
  if (value === undefined) return undefined;
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

function compact<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Builds and validates the config from an environment object (pass `process.env` from the
 * application's composition root). Only the chosen provider's variables are read.
 * @throws InvalidKmsConfig listing every problem, each naming its environment variable.
 */
export function kmsConfigFromEnv(env: KmsEnvironment): KmsConfig {
  if (typeof env !== 'object' || env === null) throw new TypeError('"env" expected an object of environment variables');
  const provider = envValue(env, 'FLEETKEY_KMS_PROVIDER');
  const raw: Record<string, unknown> = compact({
    provider,
    keyId: envValue(env, 'FLEETKEY_KMS_KEY_ID'),
    cacheTtlSeconds: envNumber(env, 'FLEETKEY_KMS_CACHE_TTL'),
    maxRetries: envNumber(env, 'FLEETKEY_KMS_MAX_RETRIES'),
    timeoutSeconds: envNumber(env, 'FLEETKEY_KMS_TIMEOUT'),
  });
  switch (provider) {
    case 'aws':
      raw.aws = compact({
        region: envValue(env, 'AWS_REGION') ?? envValue(env, 'AWS_DEFAULT_REGION'),
        profile: envValue(env, 'AWS_PROFILE'),
        // The service-specific variable wins over the global one (AWS SDKs' endpoint precedence).
        endpoint: envValue(env, 'AWS_ENDPOINT_URL_KMS') ?? envValue(env, 'AWS_ENDPOINT_URL'),
      });
      break;
    case 'azure':
      raw.azure = compact({
        vaultUrl: envValue(env, 'AZURE_KEY_VAULT_URL'),
        tenantId: envValue(env, 'AZURE_TENANT_ID'),
        clientId: envValue(env, 'AZURE_CLIENT_ID'),
        authorityHost: envValue(env, 'AZURE_AUTHORITY_HOST'),
        disableChallengeResourceVerification: envBoolean(env, 'FLEETKEY_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION'),
      });
      break;
    case 'gcp':
      raw.gcp = compact({
        projectId: envValue(env, 'GOOGLE_CLOUD_PROJECT'),
        location: envValue(env, 'GOOGLE_CLOUD_LOCATION'),
        keyRing: envValue(env, 'GOOGLE_CLOUD_KEY_RING'),
        // host:port or https:// for Google; http://host:port (plaintext gRPC) is for the emulator only.
        endpoint: envValue(env, 'FLEETKEY_GCP_KMS_ENDPOINT'),
      });
      break;
    case 'vault':
      raw.vault = compact({ address: envValue(env, 'VAULT_ADDR'), token: envValue(env, 'VAULT_TOKEN') });
      break;
    case 'local':
      raw.local = compact({ path: envValue(env, 'FLEETKEY_LOCAL_KMS_PATH'), passphraseFile: envValue(env, 'FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE') });
      break;
    default:
      break;
  }
  return parseKmsConfig(raw, { source: 'env' });
}

function missingProvider(): string {
  return `"provider" (FLEETKEY_KMS_PROVIDER) is required: set it to one of ${KMS_PROVIDER_NAMES.join(', ')} (detectProvider(env) in @fleetkey/kms-providers explains which are available)`;
}

/** The decorator settings a config implies, for `withDefaults(provider, defaultsOptionsFromConfig(config))`. */
export function defaultsOptionsFromConfig(config: KmsConfig): DefaultsOptions {
  return {
    timeout: { timeoutMs: config.timeoutSeconds * 1000 },
    retry: { maxRetries: config.maxRetries },
    cache: { ttlMs: config.cacheTtlSeconds * 1000 },
  };
}

/** What a registration's `create` may use besides the config; everything is injected. */
export interface KmsProviderDeps {
  /** The environment (for the vendors' own credential chains); never read from process.env here. */
  readonly env?: KmsEnvironment;
  /** Reads a secret file (tokenFile, passphraseFile); default node:fs in the adapter. */
  readonly readSecretFile?: (path: string) => Promise<Uint8Array>;
  /** Milliseconds clock. */
  readonly now?: () => number;
}

export interface KmsProviderDetection {
  readonly available: boolean;
  /** Why (or why not), for a person: "AWS_REGION is set and @aws-sdk/client-kms is installed". */
  readonly reason: string;
}

/** One adapter as @fleetkey/kms-providers registers it (with a lazy import of the adapter). */
export interface KmsProviderRegistration {
  readonly name: KmsProviderName;
  /** npm packages the adapter needs at run time. */
  readonly requirements: readonly string[];
  detect(env: KmsEnvironment): KmsProviderDetection;
  create(config: KmsConfig, deps: KmsProviderDeps): Promise<KmsProvider>;
}
