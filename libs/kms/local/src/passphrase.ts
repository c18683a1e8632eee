/**
 * The local provider's passphrase: given directly (tests, embedding) or, as configuration should,
 * by the path of a file holding it. A passphrase file must be a regular file that group and
 * others cannot access (the OpenSSH stance on private keys); one trailing newline is dropped so
 * `echo secret > file` works. Strings are NFC-normalised and UTF-8 encoded.
 *
 * Trust boundary: the file path comes from configuration. The passphrase is returned as a buffer
 * the caller owns and wipes; it never appears in an error message.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { InvalidKmsConfig } from '@fleetkey/kms-core';
import { LOCAL_PROVIDER_NAME, MAX_PASSPHRASE_BYTES, MIN_PASSPHRASE_BYTES, PASSPHRASE_FILE_FORBIDDEN_MODE } from './constants.js';

function configError(problem: string, cause?: unknown): InvalidKmsConfig {
  return new InvalidKmsConfig([problem], { provider: LOCAL_PROVIDER_NAME, ...(cause === undefined ? {} : { cause }) });
}

function checkLength(bytes: Uint8Array): Uint8Array {
  if (bytes.length < MIN_PASSPHRASE_BYTES || bytes.length > MAX_PASSPHRASE_BYTES) {
    const length = bytes.length;
    bytes.fill(0);
    throw configError(`local.passphrase: expected ${MIN_PASSPHRASE_BYTES}..${MAX_PASSPHRASE_BYTES} bytes, got ${length}`);
  }
  return bytes;
}

/**
 * A private copy of an in-memory passphrase.
 * @throws TypeError for a non-string, non-Uint8Array; InvalidKmsConfig for a length out of bounds.
 */
export function passphraseFromValue(passphrase: string | Uint8Array): Uint8Array {
  if (typeof passphrase === 'string') return checkLength(new Uint8Array(Buffer.from(passphrase.normalize('NFC'), 'utf8')));
  if (passphrase instanceof Uint8Array) return checkLength(new Uint8Array(passphrase));
  throw new TypeError('"passphrase" expected a string or Uint8Array');
}

/**
 * Reads a passphrase file.
 * @throws InvalidKmsConfig when the file is missing, a symlink, not a regular file, accessible by
 *   group or others, or of a length out of bounds (each message says what to do).
 */
export async function passphraseFromFile(file: string): Promise<Uint8Array> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw configError(`local.passphraseFile: ${file} does not exist`, error);
    if (code === 'ELOOP') throw configError(`local.passphraseFile: ${file} is a symlink; point at the file itself`, error);
    throw configError(`local.passphraseFile: ${file} cannot be opened (${String(code)})`, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw configError(`local.passphraseFile: ${file} is not a regular file`);
    // Precondition: a passphrase file readable by group or others is refused before it is read.
    if ((stat.mode & PASSPHRASE_FILE_FORBIDDEN_MODE) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw configError(`local.passphraseFile: ${file} has mode ${mode}; run chmod 600 on it`);
    }
    if (stat.size > MAX_PASSPHRASE_BYTES + 2) throw configError(`local.passphraseFile: ${file} is longer than ${MAX_PASSPHRASE_BYTES} bytes`);
    const raw = new Uint8Array(stat.size);
    const { bytesRead } = await handle.read(raw, 0, raw.length, 0);
    let end = bytesRead;
    if (end > 0 && raw[end - 1] === 0x0a) end -= 1;
    if (end > 0 && raw[end - 1] === 0x0d) end -= 1;
    const passphrase = raw.slice(0, end);
    raw.fill(0);
    return checkLength(passphrase);
  } finally {
    await handle.close();
  }
}
