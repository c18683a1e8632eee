/**
 * The Microsoft Entra ID part of the Azure emulator: the OpenID configuration document and the
 * OAuth 2.0 client-credentials token endpoint that `@azure/identity`'s ClientSecretCredential (MSAL)
 * calls when its `authorityHost` points here, plus the bearer-token check Key Vault does and the
 * access-policy permissions of each client.
 *
 * Trust boundary: token requests and Authorization headers are untrusted. Client secrets are
 * compared in constant time over their SHA-256; tokens are opaque random strings stored by hash;
 * neither ever appears in an answer or an error.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EntraError } from './errors.js';

/** Key permissions of a Key Vault access policy (the names Azure uses). */
export const KEY_PERMISSIONS = [
  'get',
  'list',
  'create',
  'update',
  'import',
  'delete',
  'recover',
  'backup',
  'restore',
  'decrypt',
  'encrypt',
  'unwrapKey',
  'wrapKey',
  'verify',
  'sign',
  'rotate',
] as const;
export type KeyPermission = (typeof KEY_PERMISSIONS)[number];

export interface AzureEmulatorClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The access policy's key permissions; all of them when absent. */
  readonly permissions?: readonly KeyPermission[];
}

/** The audience Key Vault tokens are issued for (the challenge's `resource`). */
export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';
/** Lifetime of an issued token; Entra's client-credential tokens live 60-90 minutes. */
export const TOKEN_LIFETIME_SECONDS = 3599;
/** Most live tokens kept; the oldest is forgotten first. */
export const MAX_TOKENS = 10_000;

interface IssuedToken {
  readonly clientId: string;
  readonly expiresAt: number;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class EntraEmulator {
  readonly #clients: Map<string, { secretHash: Buffer; permissions: ReadonlySet<KeyPermission> }>;
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #now: () => Date;

  constructor(
    readonly tenantId: string,
    clients: readonly AzureEmulatorClient[],
    now: () => Date,
  ) {
    this.#now = now;
    this.#clients = new Map(
      clients.map((c) => [c.clientId, { secretHash: sha256(c.clientSecret), permissions: new Set(c.permissions ?? KEY_PERMISSIONS) }]),
    );
  }

  /** GET /{tenant}/v2.0/.well-known/openid-configuration (OpenID Connect Discovery 1.0 §3). */
  openIdConfiguration(authority: string): Record<string, unknown> {
    const base = `${authority}/${this.tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${authority}/${this.tenantId}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      tenant_region_scope: null,
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    };
  }

  #error(status: number, error: string, code: number, description: string): EntraError {
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${this.#now().toISOString()}`,
        error_codes: [code],
        timestamp: this.#now().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      },
    };
  }

  /**
   * POST /{tenant}/oauth2/v2.0/token with `grant_type=client_credentials` (RFC 6749 §4.4).
   * Wrong secrets are refused as Entra refuses them: 401 `invalid_client`, AADSTS7000215.
   */
  token(form: URLSearchParams): { status: number; body: Record<string, unknown> } | EntraError {
    const grantType = form.get('grant_type');
    if (grantType !== 'client_credentials') {
      return this.#error(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    const clientId = form.get('client_id') ?? '';
    const client = this.#clients.get(clientId);
    if (!client) {
      return this.#error(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId.slice(0, 64)}' was not found in the directory '${this.tenantId}'.`,
      );
    }
    const secret = form.get('client_secret');
    // Precondition: the client secret matches, compared in constant time.
    if (secret === null || !timingSafeEqual(sha256(secret), client.secretHash)) {
      return this.#error(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    }
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (!scopes.includes(`${KEY_VAULT_RESOURCE}/.default`)) {
      return this.#error(400, 'invalid_scope', 1002012, 'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.');
    }
    const accessToken = randomBytes(32).toString('base64url');
    const expiresAt = this.#now().getTime() + TOKEN_LIFETIME_SECONDS * 1000;
    if (this.#tokens.size >= MAX_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value!);
    this.#tokens.set(sha256(accessToken).toString('hex'), { clientId, expiresAt });
    return {
      status: 200,
      body: { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SECONDS, ext_expires_in: TOKEN_LIFETIME_SECONDS, access_token: accessToken },
    };
  }

  /** The client a `Bearer` Authorization header belongs to, or a reason it does not authenticate. */
  authenticate(header: string | undefined): { clientId: string } | 'missing' | 'invalid' {
    if (!header) return 'missing';
    const match = /^Bearer ([A-Za-z0-9_-]{1,256})$/.exec(header);
    if (!match) return 'invalid';
    const token = this.#tokens.get(sha256(match[1]!).toString('hex'));
    if (!token || token.expiresAt <= this.#now().getTime()) return 'invalid';
    return { clientId: token.clientId };
  }

  allows(clientId: string, permission: KeyPermission): boolean {
    return this.#clients.get(clientId)?.permissions.has(permission) === true;
  }
}
