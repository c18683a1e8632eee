/**
 * Configuration of the Vault Transit adapter: where Vault is (`endpoint`, like VAULT_ADDR), which
 * token to send (`token` — the VAULT_TOKEN the application read once and passed in — or
 * `tokenFile`, e.g. a Vault Agent sink), the Transit mount, and the HTTP timeout. Libraries never
 * read process.env; the caller does.
 *
 * Trust boundary: configuration is trusted but validated; every problem is reported at once
 * (InvalidKmsConfig) and the token is never rendered into a message or returned by any getter.
 */
import { readFileSync } from 'node:fs';
import { InvalidKmsConfig } from '@fleetkey/kms-core';
import { VAULT_PROVIDER_NAME } from './errors.js';

export interface VaultKmsConfig {
  /** Vault's address, e.g. "https://vault.example.com:8200" (VAULT_ADDR). */
  readonly endpoint: string;
  /** The token (VAULT_TOKEN); exactly one of `token` and `tokenFile`. */
  readonly token?: string;
  /** A file holding the token (a Vault Agent sink); read once at creation. */
  readonly tokenFile?: string;
  /** Transit mount path (default "transit"). */
  readonly mount?: string;
  /** Vault Enterprise namespace (sent as X-Vault-Namespace). */
  readonly namespace?: string;
  /** Prefix of the key names createKey makes (default "fleetkey-"). */
  readonly keyNamePrefix?: string;
  /** Per-request timeout in ms (default 30000). */
  readonly requestTimeoutMs?: number;
  /** PEM CA bundle to trust for an https endpoint with a private CA. */
  readonly caCertificatePem?: string;
}

export interface ResolvedVaultKmsConfig {
  readonly endpoint: string;
  readonly mount: string;
  readonly namespace: string | undefined;
  readonly keyNamePrefix: string;
  readonly requestTimeoutMs: number;
  readonly caCertificatePem: string | undefined;
}

export const DEFAULT_MOUNT = 'transit';
export const DEFAULT_KEY_NAME_PREFIX = 'fleetkey-';
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const MAX_REQUEST_TIMEOUT_MS = 10 * 60_000;
/** Longest token accepted (Vault service tokens are ~100 characters; batch tokens a few hundred). */
export const MAX_TOKEN_LENGTH = 4096;
/** Largest token file read. */
export const MAX_TOKEN_FILE_BYTES = 8192;
const MOUNT_PATTERN = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;
const KNOWN_FIELDS = new Set(['endpoint', 'token', 'tokenFile', 'mount', 'namespace', 'keyNamePrefix', 'requestTimeoutMs', 'caCertificatePem']);

function readToken(config: VaultKmsConfig, problems: string[]): string | undefined {
  if (config.token !== undefined && config.tokenFile !== undefined) {
    problems.push('vault: set either token (VAULT_TOKEN) or tokenFile, not both');
    return undefined;
  }
  let token = config.token;
  if (config.tokenFile !== undefined) {
    if (typeof config.tokenFile !== 'string' || config.tokenFile.length === 0) {
      problems.push('vault.tokenFile: expected a file path');
      return undefined;
    }
    try {
      const raw = readFileSync(config.tokenFile);
      if (raw.length > MAX_TOKEN_FILE_BYTES) {
        problems.push(`vault.tokenFile: the file is larger than ${MAX_TOKEN_FILE_BYTES} bytes; it should hold one token`);
        return undefined;
      }
      token = raw.toString('utf8').trim();
    } catch (error) {
      problems.push(`vault.tokenFile: cannot read the file (${(error as { code?: string }).code ?? 'error'})`);
      return undefined;
    }
  }
  if (token === undefined) {
    problems.push('vault: no token; pass token (the VAULT_TOKEN value) or tokenFile');
    return undefined;
  }
  // Precondition: the token is printable ASCII and bounded; it is never echoed.
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !TOKEN_PATTERN.test(token)) {
    problems.push(`vault.token: expected 1..${MAX_TOKEN_LENGTH} printable ASCII characters without spaces (value not shown)`);
    return undefined;
  }
  return token;
}

/**
 * Checks the config and reads the token.
 * @throws InvalidKmsConfig listing every problem.
 */
export function resolveVaultKmsConfig(config: VaultKmsConfig): { config: ResolvedVaultKmsConfig; token: string } {
  if (typeof config !== 'object' || config === null) throw new InvalidKmsConfig(['vault: config must be an object'], { provider: VAULT_PROVIDER_NAME });
  const problems: string[] = [];
  for (const field of Object.keys(config)) {
    if (!KNOWN_FIELDS.has(field)) problems.push(`vault.${field.slice(0, 64)}: unknown setting (known: ${[...KNOWN_FIELDS].join(', ')})`);
  }
  let endpoint = '';
  try {
    const url = new URL(String(config.endpoint));
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) throw new TypeError('bad');
    endpoint = url.toString().replace(/\/+$/, '');
  } catch {
    problems.push('vault.endpoint: expected an http(s) URL without credentials or query, e.g. "https://vault.example.com:8200" (VAULT_ADDR)');
  }
  const mount = config.mount ?? DEFAULT_MOUNT;
  if (typeof mount !== 'string' || !MOUNT_PATTERN.test(mount) || mount.length > 128) problems.push('vault.mount: expected a mount path such as "transit"');
  if (config.namespace !== undefined && (typeof config.namespace !== 'string' || !MOUNT_PATTERN.test(config.namespace))) {
    problems.push('vault.namespace: expected a namespace path such as "admin/fleet"');
  }
  const keyNamePrefix = config.keyNamePrefix ?? DEFAULT_KEY_NAME_PREFIX;
  if (typeof keyNamePrefix !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(keyNamePrefix)) problems.push('vault.keyNamePrefix: expected 1..64 letters, digits, "_" or "-"');
  const requestTimeoutMs = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(Number.isInteger(requestTimeoutMs) && requestTimeoutMs > 0 && requestTimeoutMs <= MAX_REQUEST_TIMEOUT_MS)) {
    problems.push(`vault.requestTimeoutMs: expected an integer in 1..${MAX_REQUEST_TIMEOUT_MS}`);
  }
  if (config.caCertificatePem !== undefined && (typeof config.caCertificatePem !== 'string' || !config.caCertificatePem.includes('-----BEGIN CERTIFICATE-----'))) {
    problems.push('vault.caCertificatePem: expected a PEM certificate bundle');
  }
  const token = readToken(config, problems);
  if (problems.length > 0 || token === undefined) throw new InvalidKmsConfig(problems, { provider: VAULT_PROVIDER_NAME });
  return {
    token,
    config: Object.freeze({ endpoint, mount, namespace: config.namespace, keyNamePrefix, requestTimeoutMs, caCertificatePem: config.caCertificatePem }),
  };
}
