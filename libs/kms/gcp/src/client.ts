/**
 * Builds the `KeyManagementServiceClient` and the per-call options: SDK retries off (core's
 * withRetry owns retrying, so one port call is one attempt), a gRPC deadline as a backstop, and —
 * on a plaintext (emulator) endpoint only — the bearer token from the auth client as
 * `authorization` metadata, because gRPC refuses to attach call credentials to an insecure channel.
 *
 * Trust boundary: the auth client holds Google credentials; the token only ever goes into request
 * metadata, never into an error or log.
 */
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { grpc } from 'google-gax';
import type { CallOptions } from 'google-gax';
import type { ResolvedGcpKmsConfig } from './config.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof KeyManagementServiceClient>[0]>;
/** A google-auth-library client (OAuth2Client, JWT, GoogleAuth's ADC client, …). */
export type GcpAuthClient = NonNullable<ClientOptions['authClient']>;

export function createKmsClient(config: ResolvedGcpKmsConfig, authClient: GcpAuthClient | undefined): KeyManagementServiceClient {
  const options: ClientOptions = {
    apiEndpoint: config.host,
    port: config.port,
    projectId: config.projectId,
    ...(authClient ? { authClient } : {}),
    // Plaintext gRPC for the emulator. Without an auth client, name the universe so the SDK does
    // not probe the GCE metadata server to learn it.
    ...(config.plaintext ? { sslCreds: grpc.credentials.createInsecure(), ...(authClient ? {} : { universeDomain: 'googleapis.com' }) } : {}),
  };
  return new KeyManagementServiceClient(options);
}

/** Per-call options factory. */
export function callOptionsFactory(config: ResolvedGcpKmsConfig, authClient: GcpAuthClient | undefined): () => Promise<CallOptions> {
  const base: CallOptions = { retry: null, timeout: config.callTimeoutMs };
  if (!config.plaintext || !authClient) return () => Promise.resolve(base);
  return async () => {
    const headers: unknown = await authClient.getRequestHeaders();
    let authorization: string | null | undefined;
    if (headers instanceof Headers) authorization = headers.get('authorization');
    else if (typeof headers === 'object' && headers !== null) authorization = (headers as Record<string, string | undefined>)['authorization'] ?? (headers as Record<string, string | undefined>)['Authorization'];
    return authorization ? { ...base, otherArgs: { headers: { authorization } } } : base;
  };
}
