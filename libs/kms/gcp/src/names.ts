/**
 * Key ids of the Google Cloud KMS adapter. The canonical key id is the full CryptoKey resource
 * name (`projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}`), so an envelope names exactly
 * the key that unwraps it even across projects; a bare crypto key id is read relative to the
 * configured key ring.
 *
 * Trust boundary: key ids come from callers and from envelopes (attacker bytes); anything that is
 * not a well-formed name is refused before it reaches the network.
 */
const SEGMENT = '[a-zA-Z0-9_.:-]{1,253}';
const ID = '[a-zA-Z0-9_-]{1,63}';
const CRYPTO_KEY_NAME = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}/keyRings/${ID}/cryptoKeys/${ID}$`);
const BARE_ID = new RegExp(`^${ID}$`);

/** Longest key id accepted (the envelope's limit). */
export const MAX_GCP_KEY_ID_LENGTH = 1024;

export function isCryptoKeyName(value: string): boolean {
  return value.length <= MAX_GCP_KEY_ID_LENGTH && CRYPTO_KEY_NAME.test(value);
}

/** The full CryptoKey name for `keyId`, or undefined when it cannot name a Cloud KMS key. */
export function cryptoKeyName(keyId: unknown, keyRingName: string): string | undefined {
  if (typeof keyId !== 'string') return undefined;
  if (isCryptoKeyName(keyId)) return keyId;
  if (BARE_ID.test(keyId)) return `${keyRingName}/cryptoKeys/${keyId}`;
  return undefined;
}

export const versionName = (keyName: string, version: number) => `${keyName}/cryptoKeyVersions/${version}`;

/** The version number at the end of a CryptoKeyVersion name, or undefined. */
export function versionNumberOf(name: string | null | undefined): number | undefined {
  const m = typeof name === 'string' ? /\/cryptoKeyVersions\/([1-9][0-9]{0,9})$/.exec(name) : null;
  return m ? Number(m[1]) : undefined;
}
