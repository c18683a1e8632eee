/**
 * Key commitments of communication-key epochs (EpochDescriptor.key_commitment in
 * proto/fleetkey/v1/messages.proto): HMAC-SHA256 keyed by the epoch key over
 * "fleetkey/v1 key-commitment" ‖ 0x00 ‖ key id ‖ "@" ‖ decimal version.
 *
 * Why: anyone can wrap a key to a robot's public key, so a wrapped key alone proves nothing about
 * who made it. The controller puts the commitment in the manifest it signs with the emergency key;
 * a robot recomputes it from the key it unwrapped and compares in constant time, so only a key the
 * controller committed to is ever used.
 *
 * Trust boundary: `key` is secret (32 bytes, owned by the caller); the commitment reveals nothing
 * about it beyond what an HMAC output does.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const KEY_COMMITMENT_DOMAIN = 'fleetkey/v1 key-commitment';
export const KEY_COMMITMENT_LENGTH = 32;
const KEY_LENGTH = 32;
const MAX_KEY_ID_BYTES = 255;
const MAX_VERSION = 2 ** 31 - 1;

function commitmentInput(keyId: string, version: number): Buffer {
  if (typeof keyId !== 'string' || keyId === '') throw new TypeError('"keyId" expected a non-empty string');
  if (Buffer.byteLength(keyId, 'utf8') > MAX_KEY_ID_BYTES) throw new RangeError(`"keyId" expected at most ${MAX_KEY_ID_BYTES} bytes`);
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) throw new RangeError(`"version" expected an integer in 1..${MAX_VERSION}`);
  return Buffer.concat([Buffer.from(KEY_COMMITMENT_DOMAIN, 'utf8'), Buffer.of(0), Buffer.from(`${keyId}@${version}`, 'utf8')]);
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('"key" expected a Uint8Array');
  if (key.length !== KEY_LENGTH) throw new RangeError(`"key" expected ${KEY_LENGTH} bytes, got ${key.length}`);
}

/**
 * The 32-byte commitment to `key` as epoch `version` of `keyId` (the key id without version,
 * `communication/<fleet>/<name>`).
 * @throws TypeError / RangeError for a key that is not 32 bytes, an empty or oversized key id, or a version outside 1..2^31-1.
 */
export function keyCommitment(key: Uint8Array, keyId: string, version: number): Uint8Array {
  assertKey(key);
  return new Uint8Array(createHmac('sha256', key).update(commitmentInput(keyId, version)).digest());
}

/**
 * Whether `commitment` is the commitment to `key` as `keyId@version`, compared in constant time.
 * A commitment of the wrong length is simply false.
 * @throws TypeError / RangeError as keyCommitment for a malformed key, key id or version.
 */
export function keyCommitmentMatches(key: Uint8Array, keyId: string, version: number, commitment: Uint8Array): boolean {
  const expected = keyCommitment(key, keyId, version);
  if (!(commitment instanceof Uint8Array) || commitment.length !== KEY_COMMITMENT_LENGTH) return false;
  return timingSafeEqual(expected, commitment);
}
