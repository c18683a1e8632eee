/**
 * The one place that builds and calls node-vault. node-vault's own methods are used where it has
 * them for Transit (`encryptData`, `decryptData`, `health`), which hard-code the `transit` mount;
 * on another mount, and for every other path, the generic `write` / `read` / `list`. `list` goes
 * as `GET ?list=true` (`noCustomHTTPVerbs`), which Vault accepts like its LIST verb.
 *
 * node-vault does not retry: every method is one axios request, and errors reject at once
 * (verified in node-vault 0.12 src/index.js; the spec file tests it against the emulator). Retries
 * belong to core's `withRetry`.
 *
 * Trust boundary: the token lives only inside the node-vault client. node-vault logs request
 * bodies (plaintext, CEKs) through `debug` when DEBUG=node-vault is set, so the client is given a
 * debug function that drops everything. The HTTP agents are ours so `close()` frees their sockets.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import nodeVault from 'node-vault';
import type { ResolvedVaultKmsConfig } from './config.js';

/** node-vault's client surface the adapter uses. */
export interface VaultClient {
  write(path: string, data: unknown): Promise<VaultResponse>;
  read(path: string): Promise<VaultResponse>;
  list(path: string): Promise<VaultResponse>;
  encrypt(name: string, body: Record<string, unknown>): Promise<VaultResponse>;
  decrypt(name: string, body: Record<string, unknown>): Promise<VaultResponse>;
  health(): Promise<Record<string, unknown>>;
  close(): void;
}

export interface VaultResponse {
  readonly data?: Record<string, unknown>;
  readonly warnings?: unknown;
}

/** Sockets kept open per agent (bounded; Vault's own client pools similarly). */
export const MAX_SOCKETS = 64;

function silent(): void {
  // Deliberately empty: node-vault's debug output would include request bodies.
}

export function createVaultClient(config: ResolvedVaultKmsConfig, token: string): VaultClient {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const httpsAgent = new HttpsAgent({
    keepAlive: true,
    maxSockets: MAX_SOCKETS,
    ...(config.caCertificatePem === undefined ? {} : { ca: config.caCertificatePem }),
  });
  const vault = nodeVault({
    apiVersion: 'v1',
    endpoint: config.endpoint,
    token,
    ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
    noCustomHTTPVerbs: true,
    debug: silent,
    requestOptions: { timeout: config.requestTimeoutMs, httpAgent, httpsAgent },
  });
  const nativeTransit = config.mount === 'transit';
  const mount = config.mount;
  return {
    write: (path, data) => vault.write(`${mount}/${path}`, data),
    read: (path) => vault.read(`${mount}/${path}`),
    list: (path) => vault.list(`${mount}/${path}`),
    encrypt: (name, body) => (nativeTransit ? vault.encryptData({ name, ...body }) : vault.write(`${mount}/encrypt/${name}`, body)),
    decrypt: (name, body) => (nativeTransit ? vault.decryptData({ name, ...body }) : vault.write(`${mount}/decrypt/${name}`, body)),
    health: () => vault.health(),
    close: () => {
      vault.stopAllRenewals();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
