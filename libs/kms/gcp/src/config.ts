/**
 * Configuration of the Google Cloud KMS adapter: core's `gcp` section (`projectId`, `location`,
 * `keyRing`, `endpoint?`) plus the adapter's own optional settings. Validation reports every
 * problem at once, in words a person can act on, and refuses unknown keys.
 *
 * Trust boundary: configuration is operator input. No secret is ever a literal here: credentials
 * come from Google's own chain (Application Default Credentials, GOOGLE_APPLICATION_CREDENTIALS),
 * an injected auth client, or a token file path.
 */
import { InvalidKmsConfig } from '@fleetkey/kms-core';
import type { KmsKeySpec } from '@fleetkey/kms-core';
import { GCP_SUPPORTED_KEY_SPECS } from './algorithms.js';

export interface GcpKmsConfig {
  /** Google Cloud project id (GOOGLE_CLOUD_PROJECT). */
  readonly projectId: string;
  /** Cloud KMS location: 'global' or a region such as 'europe-west1' (GOOGLE_CLOUD_LOCATION). */
  readonly location: string;
  /** Key ring id; created on first use when missing (GOOGLE_CLOUD_KEY_RING). */
  readonly keyRing: string;
  /**
   * Service endpoint. Default `https://cloudkms.googleapis.com`; a bare `host:port` means TLS. An
   * `http://host:port` endpoint is
   * plaintext gRPC — for the emulator only; the adapter then sends the bearer token itself because
   * gRPC refuses call credentials on an insecure channel.
   */
  readonly endpoint?: string;
  /** Protection level of new keys: SOFTWARE (default) or HSM. */
  readonly protectionLevel?: 'SOFTWARE' | 'HSM';
  /** Padding of new RSA signing keys (a Cloud KMS key version signs with exactly one): PKCS1 (default) or PSS. */
  readonly rsaSignaturePadding?: 'PKCS1' | 'PSS';
  /**
   * Key specs this provider offers (default: every spec Cloud KMS has). Restrict it to keep, say,
   * RSA keys out of a deployment; a spec outside the list is refused like one Cloud KMS lacks.
   */
  readonly keySpecs?: readonly KmsKeySpec[];
  /** Per-call deadline handed to gRPC, ms (default 30000). Core's withTimeout is the policy; this is the backstop. */
  readonly callTimeoutMs?: number;
  /** Provider name in envelopes and errors (default 'gcp'). */
  readonly name?: string;
}

export interface ResolvedGcpKmsConfig {
  readonly projectId: string;
  readonly location: string;
  readonly keyRing: string;
  /** `projects/{p}/locations/{l}/keyRings/{r}` */
  readonly keyRingName: string;
  readonly host: string;
  readonly port: number;
  readonly plaintext: boolean;
  readonly protectionLevel: 'SOFTWARE' | 'HSM';
  readonly rsaSignaturePadding: 'PKCS1' | 'PSS';
  readonly keySpecs: readonly KmsKeySpec[];
  readonly callTimeoutMs: number;
  readonly name: string;
}

export const DEFAULT_GCP_KMS_ENDPOINT = 'https://cloudkms.googleapis.com';
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
export const MAX_CALL_TIMEOUT_MS = 10 * 60_000;

// Project ids: 6..30 chars, lowercase letter first (Resource Manager rules); domain-scoped
// projects ("example.com:proj") are accepted too.
const PROJECT_ID = /^(?:[a-z0-9.-]{1,253}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;
const KEY_RING = /^[a-zA-Z0-9_-]{1,63}$/;
const PROVIDER_NAME = /^[a-z0-9-]{1,32}$/;
const KNOWN_KEYS = new Set(['projectId', 'location', 'keyRing', 'endpoint', 'protectionLevel', 'rsaSignaturePadding', 'keySpecs', 'callTimeoutMs', 'name']);

/**
 * Validates `config` and fills defaults.
 * @throws InvalidKmsConfig listing every problem found.
 */
export function resolveGcpKmsConfig(config: GcpKmsConfig): ResolvedGcpKmsConfig {
  const problems: string[] = [];
  if (typeof config !== 'object' || config === null) throw new InvalidKmsConfig(['gcp: expected a configuration object'], { provider: 'gcp' });
  for (const key of Object.keys(config)) if (!KNOWN_KEYS.has(key)) problems.push(`gcp.${key}: unknown setting (known: ${[...KNOWN_KEYS].join(', ')})`);
  if (typeof config.projectId !== 'string' || !PROJECT_ID.test(config.projectId)) {
    problems.push('gcp.projectId: set the Google Cloud project id (6-30 lowercase letters, digits, hyphens; GOOGLE_CLOUD_PROJECT)');
  }
  if (typeof config.location !== 'string' || !LOCATION.test(config.location)) {
    problems.push("gcp.location: set the Cloud KMS location, e.g. 'global' or 'europe-west1' (GOOGLE_CLOUD_LOCATION)");
  }
  if (typeof config.keyRing !== 'string' || !KEY_RING.test(config.keyRing)) {
    problems.push('gcp.keyRing: set the key ring id, 1-63 of [a-zA-Z0-9_-] (GOOGLE_CLOUD_KEY_RING)');
  }
  let host = 'cloudkms.googleapis.com';
  let port = 443;
  let plaintext = false;
  const endpoint = config.endpoint ?? DEFAULT_GCP_KMS_ENDPOINT;
  try {
    // A bare `host:port` (as the SDK's apiEndpoint takes it) means TLS.
    const url = new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
    if (url.pathname !== '/' && url.pathname !== '') throw new Error('path');
    host = url.hostname.replace(/^\[|\]$/g, '');
    plaintext = url.protocol === 'http:';
    port = url.port === '' ? (plaintext ? 80 : 443) : Number(url.port);
  } catch {
    problems.push("gcp.endpoint: expected 'host:port' or 'https://host[:port]' (or 'http://host:port' for the emulator), without a path");
  }
  const protectionLevel = config.protectionLevel ?? 'SOFTWARE';
  if (protectionLevel !== 'SOFTWARE' && protectionLevel !== 'HSM') problems.push("gcp.protectionLevel: expected 'SOFTWARE' or 'HSM'");
  const rsaSignaturePadding = config.rsaSignaturePadding ?? 'PKCS1';
  if (rsaSignaturePadding !== 'PKCS1' && rsaSignaturePadding !== 'PSS') problems.push("gcp.rsaSignaturePadding: expected 'PKCS1' or 'PSS'");
  const keySpecs = config.keySpecs ?? GCP_SUPPORTED_KEY_SPECS;
  if (!Array.isArray(keySpecs) || keySpecs.length === 0 || !keySpecs.every((s) => GCP_SUPPORTED_KEY_SPECS.includes(s))) {
    problems.push(`gcp.keySpecs: expected a non-empty list drawn from ${GCP_SUPPORTED_KEY_SPECS.join(', ')} (Cloud KMS has no other)`);
  }
  const callTimeoutMs = config.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  if (!Number.isInteger(callTimeoutMs) || callTimeoutMs < 1 || callTimeoutMs > MAX_CALL_TIMEOUT_MS) {
    problems.push(`gcp.callTimeoutMs: expected an integer number of milliseconds in 1..${MAX_CALL_TIMEOUT_MS}`);
  }
  const name = config.name ?? 'gcp';
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name)) problems.push('gcp.name: expected 1-32 of [a-z0-9-]');
  if (problems.length > 0) throw new InvalidKmsConfig(problems, { provider: 'gcp' });
  return Object.freeze({
    projectId: config.projectId,
    location: config.location,
    keyRing: config.keyRing,
    keyRingName: `projects/${config.projectId}/locations/${config.location}/keyRings/${config.keyRing}`,
    host,
    port,
    plaintext,
    protectionLevel,
    rsaSignaturePadding,
    keySpecs: Object.freeze([...new Set(keySpecs)]),
    callTimeoutMs,
    name,
  });
}
