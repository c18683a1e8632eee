/**
 * Sealing and opening the whole key file: file = header ‖ envelope v1 (AES_256_GCM, provider
 * `local`, key id `keyfile`, version 1) whose plaintext is the body and whose context binds the
 * header bytes, so editing the salt, the scrypt parameters or the generation makes the file fail
 * to open exactly like a wrong passphrase. The file key is scrypt(passphrase, salt, N, r, p)
 * (RFC 7914), derived once per provider and kept (the provider wipes it on close).
 *
 * Trust boundary: `openKeyFile` takes the bytes from disk. Structural damage before decryption is
 * LocalKeyFileCorrupt; a failed authentication is LocalKeyFileLocked with one fixed message
 * (wrong passphrase and tampering are indistinguishable on purpose).
 */
import { scrypt } from 'node:crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { openEnvelope, readEnvelopeHeader, sealEnvelope, type EnvelopeContext } from '@fleetkey/crypto';
import {
  BODY_CONTEXT_PURPOSE,
  BODY_ENVELOPE_KEY_ID,
  BODY_ENVELOPE_KEY_VERSION,
  FILE_KEY_LENGTH,
  KEYFILE_HEADER_LENGTH,
  LOCAL_PROVIDER_NAME,
  MAX_KEYFILE_BYTES,
} from '../constants.js';
import { LocalKeyFileCorrupt, LocalKeyFileLocked } from '../errors.js';
import { decodeHeader, encodeHeader, type KeyFileHeader, type ScryptParams } from './header.js';

/** Derives the 32-byte file key. The caller owns and wipes the result. */
export function deriveFileKey(passphrase: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  const N = 2 ** params.log2N;
  // Node refuses when 128·N·r exceeds maxmem; give it twice the need (bounded by the header check).
  const maxmem = 2 * 128 * N * params.r;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, FILE_KEY_LENGTH, { N, r: params.r, p: params.p, maxmem }, (error, key) => {
      if (error) {
        reject(error);
        return;
      }
      const out = new Uint8Array(key);
      key.fill(0);
      resolve(out);
    });
  });
}

function contextFor(headerBytes: Uint8Array): EnvelopeContext {
  return { purpose: BODY_CONTEXT_PURPOSE, header: Buffer.from(headerBytes).toString('hex') };
}

/** header ‖ sealed body. @throws RangeError when the result would exceed MAX_KEYFILE_BYTES. */
export function sealKeyFile(header: KeyFileHeader, fileKey: Uint8Array, body: Uint8Array): Uint8Array {
  const headerBytes = encodeHeader(header);
  const sealed = sealEnvelope({
    key: fileKey,
    algorithm: 'AES_256_GCM',
    provider: LOCAL_PROVIDER_NAME,
    keyId: BODY_ENVELOPE_KEY_ID,
    keyVersion: BODY_ENVELOPE_KEY_VERSION,
    plaintext: body,
    context: contextFor(headerBytes),
  });
  if (headerBytes.length + sealed.length > MAX_KEYFILE_BYTES) {
    throw new RangeError(`the key file would exceed ${MAX_KEYFILE_BYTES} bytes`);
  }
  const out = new Uint8Array(headerBytes.length + sealed.length);
  out.set(headerBytes, 0);
  out.set(sealed, headerBytes.length);
  return out;
}

/** Parses only the clear header (to know which file key to derive). @throws LocalKeyFileCorrupt */
export function readKeyFileHeader(file: Uint8Array): KeyFileHeader {
  return decodeHeader(file);
}

/**
 * Opens the key file with `fileKey`; returns the body, which the caller owns and wipes.
 * @throws LocalKeyFileCorrupt (structure) | LocalKeyFileLocked (authentication failed)
 */
export function openKeyFile(file: Uint8Array, fileKey: Uint8Array): Uint8Array {
  if (file.length > MAX_KEYFILE_BYTES) throw new LocalKeyFileCorrupt('file too large');
  decodeHeader(file);
  const headerBytes = file.subarray(0, KEYFILE_HEADER_LENGTH);
  const sealed = file.subarray(KEYFILE_HEADER_LENGTH);
  let envelopeHeader;
  try {
    envelopeHeader = readEnvelopeHeader(sealed);
  } catch (error) {
    throw new LocalKeyFileCorrupt('the sealed body is not an envelope', { cause: error });
  }
  if (
    envelopeHeader.algorithm !== 'AES_256_GCM' ||
    envelopeHeader.provider !== LOCAL_PROVIDER_NAME ||
    envelopeHeader.keyId !== BODY_ENVELOPE_KEY_ID ||
    envelopeHeader.keyVersion !== BODY_ENVELOPE_KEY_VERSION
  ) {
    throw new LocalKeyFileCorrupt('the sealed body names another key or algorithm');
  }
  try {
    return openEnvelope(sealed, fileKey, contextFor(headerBytes));
  } catch (error) {
    if (isFleetkeyError(error, 'DECRYPTION_FAILED')) throw new LocalKeyFileLocked();
    if (isFleetkeyError(error)) throw new LocalKeyFileCorrupt('the sealed body is malformed', { cause: error });
    throw error;
  }
}
