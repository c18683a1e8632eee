/**
 * @fleetkey/kms-aws — the AWS KMS adapter (`createAwsKmsProvider`), the only importer of
 * @aws-sdk/client-kms. Uses the SDK's own region, endpoint and credential chains by default.
 *
 * Trust boundary: see provider.ts (the edge to AWS) and errors.ts (what AWS errors become).
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { AwsKmsProvider } from './provider.js';
import { buildKmsClient, validateAwsKmsConfig } from './config.js';
import type { AwsKmsConfig } from './config.js';

export { AwsKmsProvider, MAX_AWS_SIGNATURE } from './provider.js';
export { AWS_ERROR_TABLE, AWS_PROVIDER_NAME, NETWORK_ERROR_CODES, mapAwsError } from './errors.js';
export { AWS_KEY_SPECS, AWS_SIGNING_ALGORITHMS, AWS_SUPPORTED_KEY_SPECS } from './specs.js';
export { DEFAULT_REQUEST_TIMEOUT_MS, validateAwsKmsConfig } from './config.js';
export type { AwsKmsConfig, AwsStaticCredentials } from './config.js';

/**
 * Builds the AWS KMS provider. `deps.client` injects a ready KMSClient (then close() leaves it
 * open); otherwise one is built from `config` with the SDK's retries off (core's withRetry owns them).
 * @throws InvalidKmsConfig listing every problem in `config`.
 */
export function createAwsKmsProvider(config: AwsKmsConfig = {}, deps: { client?: KMSClient; now?: () => number } = {}): AwsKmsProvider {
  const valid = validateAwsKmsConfig(config);
  const client = deps.client ?? buildKmsClient(valid);
  return new AwsKmsProvider({
    client,
    ownsClient: deps.client === undefined,
    ...(valid.healthKeyId === undefined ? {} : { healthKeyId: valid.healthKeyId }),
    ...(deps.now ? { now: deps.now } : {}),
  });
}
