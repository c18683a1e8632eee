/**
 * Reading an archive end to end in one pass: the framing (./archive-format.ts), the data key (the
 * caller's `unwrapDataKey`, from the primary or the secondary KMS), every chunk's tag, the
 * payload split back into entries for the caller's sink, and at the end the signature (the
 * caller's `verifySignature`). Used by VerifyBackup and by `fleet-controller restore`.
 *
 * A sink sees plaintext before the signature has been checked, but only after each chunk's tag
 * did: so every byte it gets was sealed by someone holding the archive's data key. What the sink
 * writes must stay provisional (a staging directory, a digest) until this resolves.
 *
 * Trust boundary: the source is attacker bytes. The data key is zeroized on every path.
 */
import { createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { verifySignature } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { archiveSigningInput, readArchive, type BackupHeader, type EntryName } from './archive-format.js';
import { PayloadSplitter, openChunk } from './archive-crypto.js';
import { BackupArchiveInvalid, BackupDecryptionFailed, BackupSignatureInvalid } from './errors.js';

export interface ArchiveKeys {
  /** Recovers the archive's 32-byte data key (ownership passes to openArchive, which zeroizes it). */
  unwrapDataKey(header: BackupHeader): Promise<Uint8Array>;
  /**
   * Checks the trailer's signature over `signingInput` (domain ‖ 0x00 ‖ digest).
   * @throws BackupSignatureInvalid when it does not verify or the signer is not trusted.
   */
  verifySignature(header: BackupHeader, signingInput: Uint8Array, signature: Uint8Array): Promise<void>;
}

export interface EntrySink {
  /** The next bytes of entry `name` (entries arrive in header order, each piece in order). */
  write(name: EntryName, bytes: Uint8Array): Promise<void> | void;
  /** Entry `name` is complete. */
  end(name: EntryName): Promise<void> | void;
}

export interface OpenedArchive {
  readonly header: BackupHeader;
  readonly sizeBytes: number;
  readonly sha256: Uint8Array;
}

/**
 * Reads, decrypts and authenticates the archive, handing each entry to `sink`.
 * @param onHeader told the header as soon as it is parsed (for reporting what could be read).
 * @throws BackupArchiveInvalid, BackupDecryptionFailed, BackupSignatureInvalid, KMS errors from
 *   `unwrapDataKey`, and whatever the sink throws.
 */
export async function openArchive(source: AsyncIterable<Uint8Array>, keys: ArchiveKeys, sink: EntrySink, onHeader?: (header: BackupHeader) => void): Promise<OpenedArchive> {
  let header: BackupHeader | undefined;
  let headerDigest: Uint8Array | undefined;
  let dataKey: Uint8Array | undefined;
  let splitter: PayloadSplitter | undefined;
  let opened: OpenedArchive | undefined;
  try {
    for await (const event of readArchive(source)) {
      if (event.type === 'header') {
        header = event.header;
        headerDigest = event.headerDigest;
        onHeader?.(header);
        try {
          dataKey = await keys.unwrapDataKey(header);
        } catch (error) {
          // The KMS refusing the wrapped key (its context binds the backup id) is the archive's
          // fault; an unreachable KMS or a missing key stays the KMS error it is.
          if (isFleetkeyError(error, 'INVALID_CIPHERTEXT') || isFleetkeyError(error, 'DECRYPTION_FAILED')) throw new BackupDecryptionFailed();
          throw error;
        }
        if (!(dataKey instanceof Uint8Array) || dataKey.length !== 32) throw new BackupArchiveInvalid('its data key is not 32 bytes');
        splitter = new PayloadSplitter(header);
      } else if (event.type === 'chunk') {
        const plaintext = openChunk(dataKey!, header!, headerDigest!, event.index, event.envelope);
        for (const piece of splitter!.feed(plaintext)) {
          await sink.write(piece.name, piece.bytes);
          if (piece.last) await sink.end(piece.name);
        }
      } else {
        splitter!.finish();
        await keys.verifySignature(header!, archiveSigningInput(event.signedDigest), event.signature);
        // Not returned yet: the loop runs on to the end of the stream, so bytes after the trailer fail.
        opened = { header: header!, sizeBytes: event.size, sha256: event.archiveDigest };
      }
    }
  } finally {
    dataKey?.fill(0);
  }
  // readArchive throws on a truncated stream, so the trailer always came.
  if (opened === undefined) throw new BackupArchiveInvalid('it ended without a signature');
  return opened;
}

/** The signer's public key as the header records it (SubjectPublicKeyInfo DER). */
export function headerPublicKey(header: BackupHeader): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(header.signer.publicKey), format: 'der', type: 'spki' });
  } catch {
    throw new BackupArchiveInvalid('its signer public key is not a SubjectPublicKeyInfo');
  }
}

/** Whether two public keys are the same key (SPKI DER compared in constant time). */
export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  const left = a.export({ type: 'spki', format: 'der' });
  const right = b.export({ type: 'spki', format: 'der' });
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Checks `signature` with `trusted`, which must also be the key the header names.
 * @throws BackupSignatureInvalid
 */
export function checkArchiveSignature(header: BackupHeader, trusted: KeyObject, signingInput: Uint8Array, signature: Uint8Array): void {
  // Precondition: the key the header advertises is the trusted one (a swapped header key is a forgery).
  if (!samePublicKey(trusted, headerPublicKey(header))) throw new BackupSignatureInvalid('the public key in its header is not the signing key\'s');
  let valid = false;
  try {
    valid = verifySignature(trusted, header.signer.algorithm, signingInput, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new BackupSignatureInvalid();
}
