/**
 * The archive's content encryption: one fresh 256-bit data key per archive (one KMS
 * generateDataKey under the controller KEK), and each payload chunk sealed with it as an envelope
 * v1 AES_256_GCM whose context binds the backup id, the chunk's index and the SHA-256 of the header
 * body. So a chunk cannot be moved to another position or another archive, and the header (entry
 * sizes, chunk count, wrapped data keys, signer) cannot be changed, even where the signature
 * cannot be checked (a restore with only the secondary KMS reachable).
 *
 * Also the payload's two directions: cutting a sequence of entries into chunk-sized pieces, and
 * splitting opened chunks back into entries by the sizes the header states.
 *
 * Trust boundary: `openChunk` takes attacker bytes and fails with the one BackupDecryptionFailed;
 * the data key is the caller's, who zeroizes it.
 */
import { CONTENT_KEY_LENGTH, openWithContentKey, readEnvelopeHeader, sealWithContentKey, type EnvelopeContext } from '@fleetkey/crypto';
import { CHUNK_PLAINTEXT_BYTES, chunkPlaintextLength, type BackupHeader, type EntryName } from './archive-format.js';
import { BackupArchiveInvalid, BackupDecryptionFailed } from './errors.js';

/** The provider name chunk envelopes carry: the key is the archive's own, not any KMS's. */
export const CHUNK_ENVELOPE_PROVIDER = 'fleetkey';

/** The KMS context of the archive's data key (primary and secondary wraps alike). */
export function dataKeyContext(backupId: string): EnvelopeContext {
  return Object.freeze({ purpose: 'backup-archive', backup: backupId });
}

function chunkContext(backupId: string, headerDigest: Uint8Array, index: number): EnvelopeContext {
  return Object.freeze({ purpose: 'backup-chunk', backup: backupId, header: Buffer.from(headerDigest).toString('hex'), index: String(index) });
}

const chunkKeyId = (backupId: string): string => `backup/${backupId}`;

export function sealChunk(dataKey: Uint8Array, backupId: string, headerDigest: Uint8Array, index: number, plaintext: Uint8Array): Uint8Array {
  return sealWithContentKey(
    { algorithm: 'AES_256_GCM', provider: CHUNK_ENVELOPE_PROVIDER, keyId: chunkKeyId(backupId), keyVersion: 1, encapsulatedKey: new Uint8Array(0) },
    dataKey,
    plaintext,
    chunkContext(backupId, headerDigest, index),
  );
}

/**
 * Opens chunk `index` and checks it carries exactly the plaintext length the header implies.
 * @throws BackupDecryptionFailed for any envelope that is not this archive's chunk at this index;
 *   BackupArchiveInvalid when an authentic chunk has the wrong length (a writer bug).
 */
export function openChunk(dataKey: Uint8Array, header: BackupHeader, headerDigest: Uint8Array, index: number, envelope: Uint8Array): Uint8Array {
  if (dataKey.length !== CONTENT_KEY_LENGTH) throw new RangeError(`"dataKey" expected ${CONTENT_KEY_LENGTH} bytes, got ${dataKey.length}`);
  let plaintext: Uint8Array;
  try {
    const options = { maxCiphertextLength: CHUNK_PLAINTEXT_BYTES + 16 };
    const fields = readEnvelopeHeader(envelope, options);
    // Precondition: only this archive's AES-256-GCM chunks are opened with its data key.
    if (fields.algorithm !== 'AES_256_GCM' || fields.provider !== CHUNK_ENVELOPE_PROVIDER || fields.keyId !== chunkKeyId(header.backupId)) throw new BackupDecryptionFailed();
    plaintext = openWithContentKey(envelope, dataKey, chunkContext(header.backupId, headerDigest, index), options);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw error;
    // EnvelopeMalformed, DecryptionFailed, a wrong key id: one message, no cause.
    throw new BackupDecryptionFailed();
  }
  const expected = chunkPlaintextLength(header, index);
  if (plaintext.length !== expected) throw new BackupArchiveInvalid(`chunk ${index} carries ${plaintext.length} bytes; the header implies ${expected}`);
  return plaintext;
}

/** Cuts a sequence of byte sources into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(sources: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number = CHUNK_PLAINTEXT_BYTES): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (const source of sources) {
    let offset = 0;
    while (offset < source.length) {
      const n = Math.min(size - filled, source.length - offset);
      buffer.set(source.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

/**
 * Splits opened chunks back into entries by the header's sizes. `feed` returns the pieces of
 * entries the chunk holds, in order; `finish` checks every entry was filled.
 */
export class PayloadSplitter {
  private entry = 0;
  private filledInEntry = 0;

  constructor(private readonly header: Pick<BackupHeader, 'entries'>) {}

  feed(plaintext: Uint8Array): { readonly name: EntryName; readonly bytes: Uint8Array; readonly last: boolean }[] {
    const out: { name: EntryName; bytes: Uint8Array; last: boolean }[] = [];
    let offset = 0;
    while (offset < plaintext.length) {
      const current = this.header.entries[this.entry];
      if (current === undefined) throw new BackupArchiveInvalid('the payload is longer than its entries');
      const n = Math.min(current.size - this.filledInEntry, plaintext.length - offset);
      this.filledInEntry += n;
      const last = this.filledInEntry === current.size;
      out.push({ name: current.name, bytes: plaintext.subarray(offset, offset + n), last });
      offset += n;
      if (last) {
        this.entry += 1;
        this.filledInEntry = 0;
      }
    }
    return out;
  }

  /** @throws BackupArchiveInvalid when the payload ended before its last entry. */
  finish(): void {
    if (this.entry !== this.header.entries.length) throw new BackupArchiveInvalid('the payload is shorter than its entries');
  }
}
