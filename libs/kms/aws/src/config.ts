/**
 * Configuration of the AWS KMS adapter and the one place that builds its `KMSClient`. Every field
 * is optional: without them the SDK's own chains decide (AWS_REGION / AWS_PROFILE / shared config
 * for the region, the default credential provider chain for credentials, AWS_ENDPOINT_URL_KMS /
 * AWS_ENDPOINT_URL for the endpoint), exactly as any AWS tool on the same host would.
 *
 * Trust boundary: configuration is trusted input but validated; every problem is reported at
 * once (InvalidKmsConfig) and no secret (secret access key, session token) is ever rendered.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import { InvalidKmsConfig } from '@fleetkey/kms-core';
import { AWS_PROVIDER_NAME } from './errors.js';

export interface AwsStaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsKmsConfig {
  /** e.g. 'eu-west-1'; default: the SDK's region chain (AWS_REGION, AWS_PROFILE's region). */
  readonly region?: string;
  /** e.g. the emulator's URL; default: AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL, else the regional endpoint. */
  readonly endpoint?: string;
  /** Static credentials (tests, the emulator); default: the SDK's default credential provider chain. */
  readonly credentials?: AwsStaticCredentials;
  /** Shared-config profile (like AWS_PROFILE) for region and credentials. */
  readonly profile?: string;
  /** Per-request socket timeout in ms handed to the SDK's HTTP handler (default 30000). */
  readonly requestTimeoutMs?: number;
  /** Key id or alias DescribeKey'd by health(); default: ListKeys with Limit 1. */
  readonly healthKeyId?: string;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const MAX_REQUEST_TIMEOUT_MS = 10 * 60_000;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ACCESS_KEY_PATTERN = /^[A-Z0-9]{16,128}$/;
const KNOWN_FIELDS = new Set(['region', 'endpoint', 'credentials', 'profile', 'requestTimeoutMs', 'healthKeyId']);

/**
 * Checks a config and returns a frozen copy.
 * @throws InvalidKmsConfig listing every problem (unknown fields, malformed region, endpoint,
 * credentials, timeout).
 */
export function validateAwsKmsConfig(config: AwsKmsConfig): AwsKmsConfig {
  const problems: string[] = [];
  if (typeof config !== 'object' || config === null) throw new InvalidKmsConfig(['aws: config must be an object'], { provider: AWS_PROVIDER_NAME });
  for (const field of Object.keys(config)) {
    if (!KNOWN_FIELDS.has(field)) problems.push(`aws.${field.slice(0, 64)}: unknown setting (known: ${[...KNOWN_FIELDS].join(', ')})`);
  }
  if (config.region !== undefined && (typeof config.region !== 'string' || !REGION_PATTERN.test(config.region))) {
    problems.push('aws.region: expected an AWS region such as "eu-west-1" (or leave it unset to use AWS_REGION)');
  }
  if (config.endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(String(config.endpoint));
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
      problems.push('aws.endpoint: expected an http(s) URL without credentials, e.g. "https://kms.eu-west-1.amazonaws.com"');
    }
  }
  if (config.credentials !== undefined) {
    const c = config.credentials;
    if (typeof c !== 'object' || c === null) problems.push('aws.credentials: expected { accessKeyId, secretAccessKey, sessionToken? }');
    else {
      if (typeof c.accessKeyId !== 'string' || !ACCESS_KEY_PATTERN.test(c.accessKeyId)) problems.push('aws.credentials.accessKeyId: expected 16..128 upper-case letters and digits');
      if (typeof c.secretAccessKey !== 'string' || c.secretAccessKey.length < 16 || c.secretAccessKey.length > 256) problems.push('aws.credentials.secretAccessKey: expected 16..256 characters');
      if (c.sessionToken !== undefined && (typeof c.sessionToken !== 'string' || c.sessionToken.length === 0 || c.sessionToken.length > 4096)) problems.push('aws.credentials.sessionToken: expected 1..4096 characters');
    }
    if (config.profile !== undefined) problems.push('aws: set either credentials or profile, not both');
  }
  if (config.profile !== undefined && (typeof config.profile !== 'string' || !/^[\w.+@-]{1,64}$/.test(config.profile))) {
    problems.push('aws.profile: expected a profile name from ~/.aws/config (letters, digits, . _ + @ -)');
  }
  if (config.requestTimeoutMs !== undefined && !(Number.isInteger(config.requestTimeoutMs) && config.requestTimeoutMs > 0 && config.requestTimeoutMs <= MAX_REQUEST_TIMEOUT_MS)) {
    problems.push(`aws.requestTimeoutMs: expected an integer in 1..${MAX_REQUEST_TIMEOUT_MS}`);
  }
  if (config.healthKeyId !== undefined && (typeof config.healthKeyId !== 'string' || config.healthKeyId.length === 0 || config.healthKeyId.length > 2048)) {
    problems.push('aws.healthKeyId: expected a key id, key ARN or alias (1..2048 characters)');
  }
  if (problems.length) throw new InvalidKmsConfig(problems, { provider: AWS_PROVIDER_NAME });
  return Object.freeze({ ...config, ...(config.credentials ? { credentials: Object.freeze({ ...config.credentials }) } : {}) });
}

/** Builds the SDK client for a validated config. */
export function buildKmsClient(config: AwsKmsConfig): KMSClient {
  const clientConfig: KMSClientConfig = {
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    // A copy: the SDK annotates the credentials object it is given.
    ...(config.credentials === undefined ? {} : { credentials: { ...config.credentials } }),
    ...(config.profile === undefined ? {} : { profile: config.profile }),
    // The SDK's own retries are OFF: core's withRetry owns retries (exponential backoff with full
    // jitter, transient errors only, one budget across decorators). SDK retries underneath would
    // multiply attempts, stretch every timeout and hide throttling from the metrics decorator.
    maxAttempts: 1,
    requestHandler: { requestTimeout: config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
  };
  return new KMSClient(clientConfig);
}
