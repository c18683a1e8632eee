/**
 * The backup archive format, version 1: framing, the header, the signing input, and a strict
 * streaming reader. No I/O and no keys here; ./archive-crypto.ts seals and opens the chunks.
 *
 *   archive  = "FKBK" ‖ u8 version (1) ‖ HEADER ‖ CHUNK × header.chunks ‖ TRAILER      (then EOF)
 *   record   = u8 kind ‖ u32 length (big-endian) ‖ body
 *   HEADER   kind 1: UTF-8 JSON (at most MAX_HEADER_BYTES, 4 MiB), the schema below, unknown keys refused
 *   CHUNK    kind 2: envelope v1 AES_256_GCM under the archive's data key, sealing the next
 *                    CHUNK_PLAINTEXT_BYTES of the payload (the last one may be shorter); its context
 *                    binds the backup id, the chunk index and SHA-256(header body)
 *   TRAILER  kind 3: the signature (1..MAX_SIGNATURE_BYTES), made with the key the header names over
 *                    "fleetkey/v1 backup-archive" ‖ 0x00 ‖ SHA-256(every archive byte before TRAILER)
 *
 *   payload  = the entries in ENTRY_NAMES order, each exactly `size` bytes, concatenated:
 *              controller.json, ca.pem, tls/server.pem, tls/server-key.env, state.db,
 *              and secondary.json when a secondary KMS also wraps the keys.
 *
 * The header carries the data key wrapped by the controller KEK (and by the secondary KEK), the
 * signer's key id and public key, the entry sizes and the chunk count, so a reader knows every
 * bound before it reads a chunk: exactly `chunks` chunks, each of a known plaintext length, then
 * the trailer, then nothing. A truncated, reordered, spliced or padded archive fails here or on
 * a chunk's tag, and a changed byte anywhere fails the signature.
 *
 * Trust boundary: the reader takes attacker bytes. Every length is bounded before it is
 * allocated, every failure is a BackupArchiveInvalid naming what is wrong, and nothing is trusted
 * until the caller has checked the chunks' tags and the signature.
 */
import { createHash } from 'node:crypto';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '@fleetkey/crypto';
import { isValidIdentifier } from '@fleetkey/key-types';
import { z } from 'zod';
import { BackupArchiveInvalid } from './errors.js';

/** "FKBK". */
export const ARCHIVE_MAGIC: Uint8Array = Uint8Array.of(0x46, 0x4b, 0x42, 0x4b);
export const ARCHIVE_FORMAT_VERSION = 1;
export const PREAMBLE_BYTES = ARCHIVE_MAGIC.length + 1;
export const RECORD_PREFIX_BYTES = 5;

export const RECORD_KIND = Object.freeze({ header: 1, chunk: 2, trailer: 3 } as const);

/** Payload bytes per chunk (every chunk but the last carries exactly this many). */
export const CHUNK_PLAINTEXT_BYTES = 1024 * 1024;
/** Room for the fleet list (MAX_ARCHIVE_FLEETS identifiers) and the wrapped data keys. */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;
/** A chunk envelope: the plaintext, the 16-byte tag and at most ~1.2 KiB of envelope header. */
export const MAX_CHUNK_RECORD_BYTES = CHUNK_PLAINTEXT_BYTES + 4096;
export const MAX_SIGNATURE_BYTES = 1024;

/** The payload's entries, in the one order they appear. */
export const ENTRY_NAMES = ['controller.json', 'ca.pem', 'tls/server.pem', 'tls/server-key.env', 'state.db', 'secondary.json'] as const;
export type EntryName = (typeof ENTRY_NAMES)[number];

/** Largest state store an archive carries (8 GiB; the snapshot is compacted by VACUUM INTO). */
export const MAX_STATE_BYTES = 8 * 1024 ** 3;
/** controller.json, the PEM files and the sealed TLS key. */
export const MAX_SMALL_ENTRY_BYTES = 64 * 1024;
/** The secondary KMS's copies of the wrapped keys (a wrapped epoch key is ~200 bytes of base64). */
export const MAX_SECONDARY_ENTRY_BYTES = 64 * 1024 * 1024;
export const ENTRY_LIMITS: Readonly<Record<EntryName, number>> = Object.freeze({
  'controller.json': MAX_SMALL_ENTRY_BYTES,
  'ca.pem': MAX_SMALL_ENTRY_BYTES,
  'tls/server.pem': MAX_SMALL_ENTRY_BYTES,
  'tls/server-key.env': MAX_SMALL_ENTRY_BYTES,
  'state.db': MAX_STATE_BYTES,
  'secondary.json': MAX_SECONDARY_ENTRY_BYTES,
});
const MAX_PAYLOAD_BYTES = Object.values(ENTRY_LIMITS).reduce((sum, limit) => sum + limit, 0);
export const MAX_CHUNKS = Math.ceil(MAX_PAYLOAD_BYTES / CHUNK_PLAINTEXT_BYTES);
/** The largest archive a reader accepts: every record at its bound. */
export const MAX_ARCHIVE_BYTES = PREAMBLE_BYTES + 3 * RECORD_PREFIX_BYTES + MAX_HEADER_BYTES + MAX_CHUNKS * (RECORD_PREFIX_BYTES + MAX_CHUNK_RECORD_BYTES) + MAX_SIGNATURE_BYTES;
/** Fleets listed in a header. */
export const MAX_ARCHIVE_FLEETS = 50_000;

/** Domain separation of the archive signature (protocol.md's signed-payload rule). */
export const ARCHIVE_SIGNING_DOMAIN = 'fleetkey/v1 backup-archive';

const base64 = (what: string, maxBytes: number, exactBytes?: number) =>
  z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, { error: `${what} is not canonical base64` })
    .transform((text, context) => {
      const bytes = new Uint8Array(Buffer.from(text, 'base64'));
      if (bytes.length === 0 || (exactBytes !== undefined && bytes.length !== exactBytes)) {
        context.addIssue({ code: 'custom', message: `${what} has the wrong length` });
        return z.NEVER;
      }
      return bytes;
    });

const identifier = z.string().refine(isValidIdentifier, { error: 'not an identifier' });
const kmsKeyId = z.string().min(1).max(1024).regex(/^[\x21-\x7e]+$/);
const providerName = z.string().regex(/^[a-z0-9-]{1,32}$/);
const count = (max: number) => z.number().int().min(0).max(max);

const headerSchema = z.strictObject({
  format: z.literal('fleetkey-backup'),
  version: z.literal(ARCHIVE_FORMAT_VERSION),
  backupId: identifier,
  createdAt: z.iso.datetime(),
  /** The state store's schema version (SQLite user_version) when the snapshot was taken. */
  schemaVersion: z.number().int().min(1).max(10_000),
  fleets: z.array(identifier).max(MAX_ARCHIVE_FLEETS),
  auditHead: z.strictObject({ sequence: count(Number.MAX_SAFE_INTEGER).min(1), hash: base64('auditHead.hash', 32, 32) }).nullable(),
  entries: z.array(z.strictObject({ name: z.enum(ENTRY_NAMES), size: count(MAX_STATE_BYTES) })).min(5).max(ENTRY_NAMES.length),
  chunkSize: z.literal(CHUNK_PLAINTEXT_BYTES),
  chunks: count(MAX_CHUNKS).min(1),
  primary: z.strictObject({ provider: providerName, dataKey: base64('primary.dataKey', 4096) }),
  secondary: z.strictObject({ provider: providerName, keyId: kmsKeyId, dataKey: base64('secondary.dataKey', 4096) }).nullable(),
  signer: z.strictObject({
    keyId: kmsKeyId,
    algorithm: z.enum(SIGNATURE_ALGORITHMS as unknown as [SignatureAlgorithm, ...SignatureAlgorithm[]]),
    keyVersion: count(2 ** 32 - 1),
    publicKey: base64('signer.publicKey', 2048),
  }),
});

export type BackupHeader = z.output<typeof headerSchema>;
export type BackupHeaderInput = z.input<typeof headerSchema>;

export interface BackupEntry {
  readonly name: EntryName;
  readonly size: number;
}

function canonicalOrderProblems(header: BackupHeader): string | undefined {
  const names = header.entries.map((entry) => entry.name);
  const expected = ENTRY_NAMES.filter((name) => name !== 'secondary.json' || header.secondary !== null);
  if (names.length !== expected.length || names.some((name, i) => name !== expected[i])) {
    return `entries must be ${expected.join(', ')} in that order`;
  }
  for (const entry of header.entries) {
    if (entry.size > ENTRY_LIMITS[entry.name]) return `entry ${entry.name} is larger than ${ENTRY_LIMITS[entry.name]} bytes`;
    if (entry.size === 0) return `entry ${entry.name} is empty`;
  }
  const total = header.entries.reduce((sum, entry) => sum + entry.size, 0);
  if (header.chunks !== Math.ceil(total / header.chunkSize)) return `chunks must be ${Math.ceil(total / header.chunkSize)} for ${total} payload bytes`;
  if (header.secondary !== null && header.secondary.provider === header.primary.provider) return 'the secondary provider must differ from the primary';
  return undefined;
}

/**
 * Encodes a header body (JSON), checking it against the schema first.
 * @throws TypeError when the header breaks the format (a bug in the writer).
 */
export function encodeHeader(header: BackupHeaderInput): Uint8Array {
  const checked = headerSchema.safeParse(header);
  if (!checked.success) throw new TypeError(`backup header breaks the format: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  const problem = canonicalOrderProblems(checked.data);
  if (problem !== undefined) throw new TypeError(`backup header breaks the format: ${problem}`);
  const bytes = new TextEncoder().encode(JSON.stringify(header));
  if (bytes.length > MAX_HEADER_BYTES) throw new RangeError(`backup header is ${bytes.length} bytes; at most ${MAX_HEADER_BYTES}`);
  return bytes;
}

/** @throws BackupArchiveInvalid naming the first problem. */
export function decodeHeader(body: Uint8Array): BackupHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new BackupArchiveInvalid('the header is not UTF-8 JSON');
  }
  const parsed = headerSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BackupArchiveInvalid(`header field ${issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue?.message ?? 'invalid'}`);
  }
  const problem = canonicalOrderProblems(parsed.data);
  if (problem !== undefined) throw new BackupArchiveInvalid(`header: ${problem}`);
  return parsed.data;
}

export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** "FKBK" ‖ version. */
export function encodePreamble(): Uint8Array {
  const out = new Uint8Array(PREAMBLE_BYTES);
  out.set(ARCHIVE_MAGIC, 0);
  out[ARCHIVE_MAGIC.length] = ARCHIVE_FORMAT_VERSION;
  return out;
}

/** kind ‖ u32 length ‖ body. */
export function encodeRecord(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_PREFIX_BYTES + body.length);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, body.length, false);
  out.set(body, RECORD_PREFIX_BYTES);
  return out;
}

/** What the archive signature covers: the domain, 0x00, and the digest of every byte before the trailer. */
export function archiveSigningInput(signedDigest: Uint8Array): Uint8Array {
  const domain = new TextEncoder().encode(ARCHIVE_SIGNING_DOMAIN);
  const out = new Uint8Array(domain.length + 1 + signedDigest.length);
  out.set(domain, 0);
  out.set(signedDigest, domain.length + 1);
  return out;
}

/** The plaintext length chunk `index` must carry. */
export function chunkPlaintextLength(header: Pick<BackupHeader, 'entries' | 'chunkSize' | 'chunks'>, index: number): number {
  const total = header.entries.reduce((sum, entry) => sum + entry.size, 0);
  return index < header.chunks - 1 ? header.chunkSize : total - header.chunkSize * (header.chunks - 1);
}

export type ArchiveEvent =
  | { readonly type: 'header'; readonly header: BackupHeader; readonly headerDigest: Uint8Array }
  | { readonly type: 'chunk'; readonly index: number; readonly envelope: Uint8Array }
  | {
      readonly type: 'trailer';
      readonly signature: Uint8Array;
      /** SHA-256 of every byte before the trailer record: what the signature covers. */
      readonly signedDigest: Uint8Array;
      /** SHA-256 and length of the whole archive (BackupInfo.sha256 / size_bytes). */
      readonly archiveDigest: Uint8Array;
      readonly size: number;
    };

/** A FIFO of byte pieces with exact-length takes; holds at most one record plus one input piece. */
class ByteQueue {
  private pieces: Uint8Array[] = [];
  private offset = 0;
  length = 0;

  push(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.length += piece.length;
  }

  /** The first `count` bytes, copied, without consuming them. */
  peek(count: number): Uint8Array {
    const out = new Uint8Array(count);
    let filled = 0;
    for (let i = 0, offset = this.offset; filled < count; i += 1, offset = 0) {
      const piece = this.pieces[i]!;
      const n = Math.min(piece.length - offset, count - filled);
      out.set(piece.subarray(offset, offset + n), filled);
      filled += n;
    }
    return out;
  }

  take(count: number): Uint8Array {
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const head = this.pieces[0]!;
      const available = head.length - this.offset;
      const n = Math.min(available, count - filled);
      out.set(head.subarray(this.offset, this.offset + n), filled);
      filled += n;
      this.offset += n;
      if (this.offset === head.length) {
        this.pieces.shift();
        this.offset = 0;
      }
    }
    this.length -= count;
    return out;
  }
}

const RECORD_NAMES: Readonly<Record<number, string>> = Object.freeze({ 1: 'header', 2: 'chunk', 3: 'trailer' });

/**
 * Reads an archive from a byte stream, yielding the header, each chunk envelope (not yet opened)
 * and the trailer, in order, and checking the framing: the magic and version, record order, every
 * length against its bound, the chunk count, and that nothing follows the trailer.
 * @throws BackupArchiveInvalid for anything else (a truncated stream included).
 */
export async function* readArchive(source: AsyncIterable<Uint8Array>): AsyncGenerator<ArchiveEvent, void, undefined> {
  const queue = new ByteQueue();
  const signed = createHash('sha256');
  const whole = createHash('sha256');
  let received = 0;
  // Declared wide: the compiler does not follow the stage changes made inside the parsing loop.
  let stage = 'preamble' as 'preamble' | 'header' | 'chunks' | 'trailer' | 'done';
  let header: BackupHeader | undefined;
  let chunkIndex = 0;

  const take = (count: number, coveredBySignature: boolean): Uint8Array => {
    const bytes = queue.take(count);
    whole.update(bytes);
    if (coveredBySignature) signed.update(bytes);
    return bytes;
  };

  /** The next record when it is complete in the queue; undefined when more bytes are needed. */
  const nextRecord = (expected: number): Uint8Array | undefined => {
    if (queue.length < RECORD_PREFIX_BYTES) return undefined;
    const peek = queue.peek(RECORD_PREFIX_BYTES);
    const kind = peek[0]!;
    const length = new DataView(peek.buffer, peek.byteOffset).getUint32(1, false);
    // Precondition: records come in the one order the format allows.
    if (kind !== expected) throw new BackupArchiveInvalid(`expected the ${RECORD_NAMES[expected]} record, found ${RECORD_NAMES[kind] === undefined ? `an unknown record kind ${kind}` : `a ${RECORD_NAMES[kind]} record`}`);
    // Precondition: a record's length is bounded before any of it is buffered.
    const bound = kind === RECORD_KIND.header ? MAX_HEADER_BYTES : kind === RECORD_KIND.chunk ? MAX_CHUNK_RECORD_BYTES : MAX_SIGNATURE_BYTES;
    if (length < 1 || length > bound) throw new BackupArchiveInvalid(`the ${RECORD_NAMES[kind]} record is ${length} bytes; expected 1..${bound}`);
    if (queue.length < RECORD_PREFIX_BYTES + length) return undefined;
    const covered = kind !== RECORD_KIND.trailer;
    take(RECORD_PREFIX_BYTES, covered);
    return take(length, covered);
  };

  for await (const piece of source) {
    if (!(piece instanceof Uint8Array)) throw new TypeError('"source" must yield Uint8Arrays');
    received += piece.length;
    // Precondition: the archive is bounded as a whole, whatever its header claims.
    if (received > MAX_ARCHIVE_BYTES) throw new BackupArchiveInvalid(`it is larger than ${MAX_ARCHIVE_BYTES} bytes`);
    if (stage === 'done' && piece.length > 0) throw new BackupArchiveInvalid('bytes follow the signature');
    queue.push(piece);

    for (;;) {
      if (stage === 'preamble') {
        if (queue.length < PREAMBLE_BYTES) break;
        const preamble = take(PREAMBLE_BYTES, true);
        if (!ARCHIVE_MAGIC.every((byte, i) => preamble[i] === byte)) throw new BackupArchiveInvalid('it does not start with the fleetkey backup magic "FKBK"');
        const version = preamble[ARCHIVE_MAGIC.length]!;
        if (version !== ARCHIVE_FORMAT_VERSION) throw new BackupArchiveInvalid(`format version ${version} is not supported by this build (it reads version ${ARCHIVE_FORMAT_VERSION})`);
        stage = 'header';
      } else if (stage === 'header') {
        const body = nextRecord(RECORD_KIND.header);
        if (body === undefined) break;
        header = decodeHeader(body);
        stage = 'chunks';
        yield { type: 'header', header, headerDigest: sha256(body) };
      } else if (stage === 'chunks') {
        const body = nextRecord(RECORD_KIND.chunk);
        if (body === undefined) break;
        yield { type: 'chunk', index: chunkIndex, envelope: body };
        chunkIndex += 1;
        if (chunkIndex === header!.chunks) stage = 'trailer';
      } else if (stage === 'trailer') {
        const body = nextRecord(RECORD_KIND.trailer);
        if (body === undefined) break;
        // The trailer is not covered (take(..., false)), so this is the digest of everything before it.
        const signedDigest = new Uint8Array(signed.digest());
        stage = 'done';
        if (queue.length > 0) throw new BackupArchiveInvalid('bytes follow the signature');
        yield { type: 'trailer', signature: body, signedDigest, archiveDigest: new Uint8Array(whole.digest()), size: received };
      } else {
        if (queue.length > 0) throw new BackupArchiveInvalid('bytes follow the signature');
        break;
      }
    }
  }
  if (stage !== 'done') {
    const where = stage === 'chunks' ? `after ${chunkIndex} of ${header!.chunks} chunks` : `in the ${stage}`;
    throw new BackupArchiveInvalid(`it is truncated (${where})`);
  }
}
