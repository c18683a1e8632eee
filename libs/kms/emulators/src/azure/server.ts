/**
 * The Azure Key Vault emulator's HTTPS server: Key Vault REST (`/keys/…?api-version=…`) behind the
 * bearer challenge, and the Entra ID endpoints (`/{tenant}/v2.0/.well-known/openid-configuration`,
 * `/{tenant}/oauth2/v2.0/token`) on the same origin, so `new ClientSecretCredential(tenant, id,
 * secret, { authorityHost: url })` and `new KeyClient(url, credential)` run their real flows:
 *   1. the SDK sends the request without a token and gets 401 with
 *      `WWW-Authenticate: Bearer authorization="<url>/<tenant>", resource="https://vault.azure.net"`;
 *   2. MSAL reads the OpenID configuration and POSTs client credentials to the token endpoint;
 *   3. the SDK repeats the request with `Authorization: Bearer <token>`.
 * Faults (FaultInjector) apply to Key Vault requests: latency, 429 Throttled with Retry-After, 503
 * ServiceUnavailable, and an outage that drops the connection.
 *
 * Trust boundary: everything arriving on the socket is untrusted: bodies are size-bounded and
 * parsed as JSON / form data only; tokens and secrets are never echoed.
 */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { FaultInjector } from '../faults.js';
import { EntraEmulator, KEY_VAULT_RESOURCE } from './auth.js';
import type { AzureEmulatorClient, KeyPermission } from './auth.js';
import { KeyVaultHttpError, badParameter, forbiddenByPolicy, invalidToken, missingToken, serviceUnavailable, throttled } from './errors.js';
import { KeyVaultKeyStore, MAX_PAGE_SIZE } from './keys.js';
import type { Json } from './keys.js';
import { createEmulatorTls } from './tls.js';

/** api-versions the emulator answers: the 7.x line and the date-versioned one SDK 4.10 sends. */
export const SUPPORTED_API_VERSIONS: readonly string[] = ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '2025-07-01'];
/** Largest request body read (Key Vault requests are small JSON documents). */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;
/** A fixed, recognisable default tenant (Entra tenant ids are GUIDs). */
export const DEFAULT_TENANT_ID = '00000000-0000-4000-8000-00000000f1ee';
export const DEFAULT_CLIENT_ID = '00000000-0000-4000-8000-0000000c11e7';

export interface AzureKeyVaultEmulatorOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly tenantId?: string;
  /** Registered applications; defaults to one client with a random secret and every permission. */
  readonly clients?: readonly AzureEmulatorClient[];
  /** Clock for key timestamps and token expiry. */
  readonly now?: () => Date;
  /** Randomness for fault decisions. */
  readonly random?: () => number;
  /** Retry-After (seconds) sent with injected 429s; the service sends a few seconds. */
  readonly throttleRetryAfterSeconds?: number;
}

export interface AzureKeyVaultEmulator {
  /** `https://127.0.0.1:<port>`: the vault URL and the authority host. */
  readonly url: string;
  readonly port: number;
  readonly faults: FaultInjector;
  /** PEM of the test CA that issued the server certificate. */
  readonly caCertificatePem: string;
  readonly tenantId: string;
  /** The first registered client's id and secret (test credentials, not a real secret). */
  readonly clientId: string;
  readonly clientSecret: string;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
    'x-ms-keyvault-service-version': '1.9.0.0',
    ...headers,
  });
  res.end(text);
}

function parseJson(text: string): Json {
  if (text.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badParameter('The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badParameter('The request body must be a JSON object.');
  return value as Json;
}

const CRYPTO_OPERATIONS: Readonly<Record<string, KeyPermission>> = {
  wrapkey: 'wrapKey',
  unwrapkey: 'unwrapKey',
  encrypt: 'encrypt',
  decrypt: 'decrypt',
  sign: 'sign',
  verify: 'verify',
};

/**
 * Starts the emulator on HTTPS with a fresh test CA.
 * @throws RangeError when a client id repeats.
 */
export async function startAzureKeyVaultEmulator(options: AzureKeyVaultEmulatorOptions = {}): Promise<AzureKeyVaultEmulator> {
  const now = options.now ?? (() => new Date());
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const clients = options.clients ?? [{ clientId: DEFAULT_CLIENT_ID, clientSecret: `emulator-${randomUUID()}` }];
  if (clients.length === 0) throw new RangeError('"clients" expected at least one client');
  if (new Set(clients.map((c) => c.clientId)).size !== clients.length) throw new RangeError('"clients" expected unique client ids');
  const retryAfter = options.throttleRetryAfterSeconds ?? 1;
  const faults = new FaultInjector(options.random ? { random: options.random } : {});
  const entra = new EntraEmulator(tenantId, clients, now);
  let url = '';
  const store = new KeyVaultKeyStore({ vaultUrl: () => url, now });
  const tls = await createEmulatorTls();

  const challenge = (): Record<string, string> => ({
    'www-authenticate': `Bearer authorization="${url}/${tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
  });

  async function handleEntra(req: IncomingMessage, res: ServerResponse, segments: string[]): Promise<boolean> {
    if (segments[0] !== tenantId) return false;
    const rest = segments.slice(1).join('/');
    if (req.method === 'GET' && rest === 'v2.0/.well-known/openid-configuration') {
      send(res, 200, entra.openIdConfiguration(url));
      return true;
    }
    if (req.method === 'POST' && rest === 'oauth2/v2.0/token') {
      const answer = entra.token(new URLSearchParams(await readBody(req)));
      send(res, answer.status, answer.body, { 'cache-control': 'no-store, no-cache' });
      return true;
    }
    return false;
  }

  async function handleKeyVault(req: IncomingMessage, res: ServerResponse, requestUrl: URL, segments: string[]): Promise<void> {
    const decision = await faults.next();
    if (decision === 'outage') {
      // A service that is down does not answer: the connection drops.
      req.socket.destroy();
      return;
    }
    if (decision === 'throttle') throw throttled(retryAfter);
    if (decision === 'error') throw serviceUnavailable();

    const auth = entra.authenticate(req.headers.authorization);
    if (auth === 'missing') throw new KeyVaultHttpError(401, 'Unauthorized', missingToken().message, undefined, challenge());
    if (auth === 'invalid') throw new KeyVaultHttpError(401, 'Unauthorized', invalidToken().message, undefined, challenge());

    const apiVersion = requestUrl.searchParams.get('api-version');
    if (apiVersion === null) throw badParameter('The api-version query parameter (?api-version=) is required for all requests.');
    if (!SUPPORTED_API_VERSIONS.includes(apiVersion)) {
      throw badParameter(`The specified version (${apiVersion.slice(0, 32)}) is not recognized. Consider using the latest supported version (7.6).`);
    }
    const require = (permission: KeyPermission): void => {
      if (!entra.allows(auth.clientId, permission)) throw forbiddenByPolicy(permission, auth.clientId);
    };
    const body = req.method === 'POST' || req.method === 'PATCH' ? parseJson(await readBody(req)) : {};
    const [, name, third, fourth] = segments;
    const method = req.method ?? 'GET';

    const page = (items: Json[]): Json => {
      const requested = Number(requestUrl.searchParams.get('maxresults') ?? MAX_PAGE_SIZE);
      if (!Number.isInteger(requested) || requested < 1 || requested > MAX_PAGE_SIZE) {
        throw badParameter(`The maxresults parameter must be between 1 and ${MAX_PAGE_SIZE}.`);
      }
      const skip = Number(requestUrl.searchParams.get('$skiptoken') ?? 0);
      if (!Number.isInteger(skip) || skip < 0) throw badParameter('The $skiptoken parameter is invalid.');
      const value = items.slice(skip, skip + requested);
      if (skip + requested >= items.length) return { value, nextLink: null };
      const next = new URL(`${url}${requestUrl.pathname}`);
      next.searchParams.set('api-version', apiVersion);
      next.searchParams.set('maxresults', String(requested));
      next.searchParams.set('$skiptoken', String(skip + requested));
      return { value, nextLink: next.toString() };
    };

    if (name === undefined) {
      if (method !== 'GET') throw new KeyVaultHttpError(405, 'MethodNotAllowed', 'The requested method is not allowed.');
      require('list');
      send(res, 200, page(store.listKeys()));
      return;
    }
    const keyName = decodeURIComponent(name);
    if (third === 'create' && fourth === undefined && method === 'POST') {
      require('create');
      send(res, 200, await store.create(keyName, body));
      return;
    }
    if (third === 'rotate' && fourth === undefined && method === 'POST') {
      require('rotate');
      send(res, 200, await store.rotate(keyName));
      return;
    }
    if (third === 'versions' && fourth === undefined && method === 'GET') {
      require('list');
      send(res, 200, page(store.listVersions(keyName)));
      return;
    }
    if (fourth === undefined && (method === 'GET' || method === 'PATCH')) {
      const version = third === undefined || third === '' ? undefined : third;
      if (method === 'GET') {
        require('get');
        send(res, 200, store.get(keyName, version));
      } else {
        require('update');
        send(res, 200, store.update(keyName, version, body));
      }
      return;
    }
    const operation = fourth === undefined ? undefined : CRYPTO_OPERATIONS[fourth];
    if (operation !== undefined && method === 'POST' && segments.length === 4) {
      require(operation);
      const version = third === '' ? undefined : third;
      if (operation === 'wrapKey' || operation === 'encrypt') send(res, 200, store.encrypt(keyName, version, operation, body));
      else if (operation === 'unwrapKey' || operation === 'decrypt') send(res, 200, store.decrypt(keyName, version, operation, body));
      else if (operation === 'sign') send(res, 200, store.sign(keyName, version, body));
      else send(res, 200, store.verify(keyName, version, body));
      return;
    }
    throw new KeyVaultHttpError(404, 'NotFound', 'The requested resource was not found.');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? '/', url);
    // Keep empty segments: `/keys/name//wrapkey` means "latest version".
    const segments = requestUrl.pathname.split('/').slice(1);
    try {
      if (segments[0] === 'keys') {
        await handleKeyVault(req, res, requestUrl, segments);
        return;
      }
      if (await handleEntra(req, res, segments)) return;
      send(res, 404, { error: { code: 'NotFound', message: 'The requested resource was not found.' } });
    } catch (error) {
      if (res.headersSent || req.socket.destroyed) return;
      if (error instanceof KeyVaultHttpError) send(res, error.status, error.body(), error.headers);
      else if (error instanceof BodyTooLarge) send(res, 413, { error: { code: 'RequestTooLarge', message: 'The request body is too large.' } });
      else send(res, 500, { error: { code: 'InternalServerError', message: 'The emulator failed to process the request.' } });
    }
  }

  const server = createServer({ key: tls.privateKeyPem, cert: tls.certificatePem }, (req, res) => {
    void handle(req, res);
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  url = `https://127.0.0.1:${port}`;

  return {
    url,
    port,
    faults,
    caCertificatePem: tls.caCertificatePem,
    tenantId,
    clientId: clients[0]!.clientId,
    clientSecret: clients[0]!.clientSecret,
    close: async () => {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
