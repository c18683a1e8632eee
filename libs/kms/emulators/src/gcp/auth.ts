/**
 * Bearer-token authentication and IAM-style authorization for the emulator. Each accepted token
 * holds Cloud KMS predefined roles; each method needs one permission, named as Google names it
 * (https://cloud.google.com/kms/docs/reference/permissions-and-roles). A missing or unknown token
 * is UNAUTHENTICATED; a known token without the permission is PERMISSION_DENIED, as on the real
 * service.
 *
 * Trust boundary: tokens arrive as `authorization` metadata from any local client; they are
 * compared in constant time and never echoed in an error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { invalidCredential, missingCredential, permissionDenied } from './status.js';

export const GCP_KMS_ROLES = [
  'roles/cloudkms.admin',
  'roles/cloudkms.viewer',
  'roles/cloudkms.cryptoKeyEncrypterDecrypter',
  'roles/cloudkms.signerVerifier',
  'roles/cloudkms.publicKeyViewer',
] as const;
export type GcpKmsRole = (typeof GCP_KMS_ROLES)[number];

/** The token every emulator accepts unless told otherwise; it holds every role above. */
export const GCP_EMULATOR_TOKEN = 'fleetkey-gcp-emulator-token';

/** Longest `authorization` value considered (a Google access token is well under 2 KiB). */
export const MAX_AUTHORIZATION_LENGTH = 4096;

const VIEW = ['cloudkms.keyRings.get', 'cloudkms.keyRings.list', 'cloudkms.cryptoKeys.get', 'cloudkms.cryptoKeys.list', 'cloudkms.cryptoKeyVersions.get', 'cloudkms.cryptoKeyVersions.list'];

const ROLE_PERMISSIONS: Readonly<Record<GcpKmsRole, ReadonlySet<string>>> = {
  'roles/cloudkms.admin': new Set([
    ...VIEW,
    'cloudkms.keyRings.create',
    'cloudkms.cryptoKeys.create',
    'cloudkms.cryptoKeys.update',
    'cloudkms.cryptoKeyVersions.create',
    'cloudkms.cryptoKeyVersions.update',
    'cloudkms.cryptoKeyVersions.viewPublicKey',
  ]),
  'roles/cloudkms.viewer': new Set(VIEW),
  'roles/cloudkms.cryptoKeyEncrypterDecrypter': new Set(['cloudkms.cryptoKeyVersions.useToEncrypt', 'cloudkms.cryptoKeyVersions.useToDecrypt']),
  'roles/cloudkms.signerVerifier': new Set([
    'cloudkms.cryptoKeyVersions.useToSign',
    'cloudkms.cryptoKeyVersions.useToVerify',
    'cloudkms.cryptoKeyVersions.viewPublicKey',
  ]),
  'roles/cloudkms.publicKeyViewer': new Set(['cloudkms.cryptoKeyVersions.viewPublicKey']),
};

interface TokenEntry {
  readonly digest: Buffer;
  readonly permissions: ReadonlySet<string>;
}

const digestOf = (token: string) => createHash('sha256').update(token).digest();

function permissionsOf(roles: readonly GcpKmsRole[], field: string): Set<string> {
  const permissions = new Set<string>();
  for (const role of roles) {
    const granted = ROLE_PERMISSIONS[role];
    if (!granted) throw new TypeError(`"${field}" unknown role ${JSON.stringify(role)}`);
    for (const p of granted) permissions.add(p);
  }
  return permissions;
}

export class TokenAuthority {
  readonly #entries: readonly TokenEntry[];
  readonly #anonymous: ReadonlySet<string> | undefined;

  /**
   * @param anonymous roles granted to calls WITHOUT credentials (demo convenience; the real
   * service, and the default here, answers those UNAUTHENTICATED).
   * @throws TypeError on an empty token or an unknown role name.
   */
  constructor(tokens: Readonly<Record<string, readonly GcpKmsRole[]>>, anonymous?: readonly GcpKmsRole[]) {
    this.#entries = Object.entries(tokens).map(([token, roles]) => {
      if (token.length === 0) throw new TypeError('"tokens" keys must be non-empty');
      return { digest: digestOf(token), permissions: permissionsOf(roles, 'tokens') };
    });
    this.#anonymous = anonymous === undefined ? undefined : permissionsOf(anonymous, 'anonymous');
  }

  /**
   * Checks the call's bearer token holds `permission` on `resource`.
   * @throws GcpStatusError UNAUTHENTICATED (missing/unknown token) or PERMISSION_DENIED.
   */
  authorize(metadata: Metadata, permission: string, resource: string): void {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || header.length === 0) {
      if (this.#anonymous === undefined) throw missingCredential();
      if (!this.#anonymous.has(permission)) throw permissionDenied(permission, resource);
      return;
    }
    // Precondition: only a bounded "Bearer <token>" is considered.
    if (header.length > MAX_AUTHORIZATION_LENGTH || !/^Bearer /i.test(header)) throw invalidCredential();
    const presented = digestOf(header.slice('Bearer '.length));
    // Constant-time comparison of fixed-length digests, over every entry.
    let match: TokenEntry | undefined;
    for (const entry of this.#entries) if (timingSafeEqual(entry.digest, presented)) match = entry;
    if (!match) throw invalidCredential();
    if (!match.permissions.has(permission)) throw permissionDenied(permission, resource);
  }
}
