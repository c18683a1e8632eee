/**
 * Key identifiers of the Azure adapter. The port's key id is the unversioned key URL
 * `https://<vault>/keys/<name>` (a bare `<name>` is accepted as input); an envelope carries the
 * full versioned key id `https://<vault>/keys/<name>/<version>`, so it names exactly the key
 * version that wrapped its content key.
 *
 * Trust boundary: envelope key ids are attacker bytes. A key id is only ever resolved against the
 * configured vault: an id naming another host is refused before any request, so a crafted
 * envelope cannot make the SDK send our bearer token elsewhere.
 */

/** Key Vault object names: 1-127 characters of 0-9, a-z, A-Z and '-'. */
const KEY_NAME_PATTERN = /^[0-9A-Za-z-]{1,127}$/;
/** Key Vault versions are 32 hex characters. */
const VERSION_PATTERN = /^[0-9A-Fa-f]{32}$/;
/** Longest key id accepted (an envelope key id is at most 1024 printable ASCII characters). */
export const MAX_AZURE_KEY_ID_LENGTH = 1024;

export interface AzureKeyRef {
  readonly name: string;
  readonly version?: string;
}

/** `https://host[:port]` of a vault URL, without a trailing slash. */
export function vaultOrigin(vaultUrl: string): string {
  return new URL(vaultUrl).origin;
}

/**
 * Parses a key id against the configured vault: a bare name, or `<vault>/keys/<name>[/<version>]`.
 * Returns undefined for anything else (another vault, another path, a bad name or version).
 */
export function parseAzureKeyId(keyId: string, origin: string): AzureKeyRef | undefined {
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > MAX_AZURE_KEY_ID_LENGTH) return undefined;
  if (KEY_NAME_PATTERN.test(keyId)) return { name: keyId };
  let url: URL;
  try {
    url = new URL(keyId);
  } catch {
    return undefined;
  }
  // Precondition: the key id is a key name or a key URL of the configured vault.
  if (url.origin !== origin || url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || url.username || url.password) return undefined;
  const segments = url.pathname.split('/').slice(1);
  if (segments[0] !== 'keys' || segments.length < 2 || segments.length > 3) return undefined;
  const [, name, version] = segments as [string, string, string | undefined];
  if (!KEY_NAME_PATTERN.test(name)) return undefined;
  if (version === undefined || version === '') return { name };
  if (!VERSION_PATTERN.test(version)) return undefined;
  return { name, version: version.toLowerCase() };
}

export function unversionedKeyId(origin: string, name: string): string {
  return `${origin}/keys/${name}`;
}

export function versionedKeyId(origin: string, name: string, version: string): string {
  return `${origin}/keys/${name}/${version}`;
}
