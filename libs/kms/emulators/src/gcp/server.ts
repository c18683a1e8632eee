/**
 * Starts the Google Cloud KMS emulator: a grpc-js server on 127.0.0.1 (plaintext, port 0 by
 * default) serving google.cloud.kms.v1.KeyManagementService from the protos that ship with
 * `@google-cloud/kms`. Point the real SDK at it with
 * `new KeyManagementServiceClient({ apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure() })`
 * and send `authorization: Bearer <token>` metadata.
 *
 * Trust boundary: listens on loopback only by default; accepts only the configured bearer tokens.
 * Test and demo use only.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { FaultInjector } from '../faults.js';
import { GCP_EMULATOR_TOKEN, GCP_KMS_ROLES, TokenAuthority } from './auth.js';
import type { GcpKmsRole } from './auth.js';
import { keyManagementServiceDefinition } from './proto.js';
import { createService } from './service.js';
import type { ResponseTamper } from './service.js';
import { GcpKmsStore } from './store.js';

export const MAX_GENERATION_DELAY_MS = 60_000;

export interface GcpKmsEmulatorOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Interface to bind; loopback by default. */
  readonly host?: string;
  /** Shared fault injector; a fresh one by default. */
  readonly faults?: FaultInjector;
  /** Accepted bearer tokens and the Cloud KMS roles each holds. Default: GCP_EMULATOR_TOKEN with every role. */
  readonly tokens?: Readonly<Record<string, readonly GcpKmsRole[]>>;
  /**
   * Roles granted to calls that carry no credentials. Default: none, and such calls are
   * UNAUTHENTICATED as on Google Cloud. Set it only for demos driven by configuration alone
   * (the adapter built from environment variables has no auth client to send a token).
   */
  readonly anonymousRoles?: readonly GcpKmsRole[];
  /**
   * How long new asymmetric versions stay PENDING_GENERATION before they are ENABLED, as on
   * Google Cloud (default 0: enabled at once).
   */
  readonly generationDelayMs?: number;
  /** Clock for create times (injectable for tests). */
  readonly clock?: () => Date;
}

export interface GcpKmsEmulator {
  /** `http://host:port` — plaintext gRPC. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly faults: FaultInjector;
  /** Corrupts responses in transit (integrity-check tests); 'none' by default. */
  setResponseTamper(mode: ResponseTamper): void;
  /** Stops accepting calls and ends open ones. */
  close(): Promise<void>;
}

/**
 * Starts an emulator with empty state.
 * @throws RangeError on a port outside 0..65535; TypeError on a bad token table.
 */
export async function startGcpKmsEmulator(options: GcpKmsEmulatorOptions = {}): Promise<GcpKmsEmulator> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`"port" expected an integer in 0..65535, got ${port}`);
  const host = options.host ?? '127.0.0.1';
  const faults = options.faults ?? new FaultInjector();
  const auth = new TokenAuthority(options.tokens ?? { [GCP_EMULATOR_TOKEN]: GCP_KMS_ROLES }, options.anonymousRoles);
  const generationDelayMs = options.generationDelayMs ?? 0;
  if (!Number.isInteger(generationDelayMs) || generationDelayMs < 0 || generationDelayMs > MAX_GENERATION_DELAY_MS) {
    throw new RangeError(`"generationDelayMs" expected an integer in 0..${MAX_GENERATION_DELAY_MS}, got ${generationDelayMs}`);
  }
  const store = new GcpKmsStore(options.clock ?? (() => new Date()), generationDelayMs);

  let tamper: ResponseTamper = 'none';
  const server = new Server();
  server.addService(keyManagementServiceDefinition(), createService({ store, faults, auth, tamper: () => tamper }));
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, actual) => (error ? reject(error) : resolve(actual)));
  });

  let closed = false;
  return {
    url: `http://${host}:${bound}`,
    host,
    port: bound,
    faults,
    setResponseTamper: (mode) => {
      if (mode !== 'none' && mode !== 'checksum' && mode !== 'unverified') throw new TypeError('"mode" expected none, checksum or unverified');
      tamper = mode;
    },
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        // Graceful first; anything still open after a short grace is cut so tests never hang.
        const timer = setTimeout(() => server.forceShutdown(), 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
