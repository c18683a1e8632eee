/**
 * The archive format and its reader on their own (no KMS, no controller): real AES-256-GCM chunk
 * sealing and a real ECDSA signature by a local key. A round trip over any split of the byte
 * stream, a table of bad archives each failing with its typed error, and properties: every
 * single-byte change and every truncation is refused with a typed error, never a crash.
 */
import { randomBytes } from 'node:crypto';
import { createLocalSigner, generateKeyPair, type Signer } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHUNK_PLAINTEXT_BYTES,
  ENTRY_NAMES,
  MAX_CHUNK_RECORD_BYTES,
  RECORD_KIND,
  archiveSigningInput,
  encodeHeader,
  encodePreamble,
  encodeRecord,
  sha256,
  type BackupHeaderInput,
  type EntryName,
} from './archive-format.js';
import { rechunk, sealChunk } from './archive-crypto.js';
import { checkArchiveSignature, openArchive, type ArchiveKeys } from './open-archive.js';

interface TestArchive {
  readonly bytes: Uint8Array;
  readonly dataKey: Uint8Array;
  readonly header: BackupHeaderInput;
  readonly entries: Map<EntryName, Uint8Array>;
}

let signer: Signer;
let otherSigner: Signer;

beforeAll(async () => {
  signer = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey, { keyId: 'audit-key' });
  otherSigner = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey, { keyId: 'audit-key' });
});

const concat = (parts: readonly Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

function defaultEntries(stateBytes = 3000): Map<EntryName, Uint8Array> {
  return new Map<EntryName, Uint8Array>([
    ['controller.json', new TextEncoder().encode('{"formatVersion":1}')],
    ['ca.pem', new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n')],
    ['tls/server.pem', new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nserver\n')],
    ['tls/server-key.env', randomBytes(120)],
    ['state.db', randomBytes(stateBytes)],
  ]);
}

/** Builds an archive the way create-archive.ts does, with a local signer instead of the KMS. */
async function makeArchive(
  entries: Map<EntryName, Uint8Array> = defaultEntries(),
  options: { signWith?: Signer; tamperHeader?: (header: BackupHeaderInput) => BackupHeaderInput; backupId?: string } = {},
): Promise<TestArchive> {
  const dataKey = new Uint8Array(randomBytes(32));
  const ordered = ENTRY_NAMES.filter((name) => entries.has(name)).map((name) => ({ name, bytes: entries.get(name)! }));
  const total = ordered.reduce((sum, entry) => sum + entry.bytes.length, 0);
  const publicKey = (await signer.publicKey()).export({ type: 'spki', format: 'der' });
  let header: BackupHeaderInput = {
    format: 'fleetkey-backup',
    version: 1,
    backupId: options.backupId ?? 'bk-20300615T120000Z-0a1b2c3d',
    createdAt: '2030-06-15T12:00:00.000Z',
    schemaVersion: 4,
    fleets: ['acme'],
    auditHead: { sequence: 12, hash: Buffer.alloc(32, 7).toString('base64') },
    entries: ordered.map((entry) => ({ name: entry.name, size: entry.bytes.length })),
    chunkSize: CHUNK_PLAINTEXT_BYTES,
    chunks: Math.ceil(total / CHUNK_PLAINTEXT_BYTES),
    primary: { provider: 'local', dataKey: randomBytes(90).toString('base64') },
    secondary: entries.has('secondary.json') ? { provider: 'vault', keyId: 'fleetkey-AES_256-1', dataKey: randomBytes(90).toString('base64') } : null,
    signer: { keyId: 'audit-key', algorithm: 'ECDSA_P256_SHA256', keyVersion: 1, publicKey: Buffer.from(publicKey).toString('base64') },
  };
  if (options.tamperHeader !== undefined) header = options.tamperHeader(header);
  const headerBody = options.tamperHeader === undefined ? encodeHeader(header) : new TextEncoder().encode(JSON.stringify(header));
  const headerDigest = sha256(headerBody);
  const parts = [encodePreamble(), encodeRecord(RECORD_KIND.header, headerBody)];
  let index = 0;
  for await (const plaintext of rechunk(ordered.map((entry) => entry.bytes))) parts.push(encodeRecord(RECORD_KIND.chunk, sealChunk(dataKey, header.backupId, headerDigest, index++, plaintext)));
  const signature = await (options.signWith ?? signer).sign(archiveSigningInput(sha256(...parts)));
  parts.push(encodeRecord(RECORD_KIND.trailer, signature));
  return { bytes: concat(parts), dataKey, header, entries };
}

async function* piecesOf(bytes: Uint8Array, cuts: readonly number[] = []): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
  yield bytes.subarray(start);
}

function keysFor(archive: TestArchive): ArchiveKeys {
  return {
    unwrapDataKey: async () => new Uint8Array(archive.dataKey),
    verifySignature: async (header, input, signature) => checkArchiveSignature(header, await signer.publicKey(), input, signature),
  };
}

async function open(archive: TestArchive, bytes: Uint8Array = archive.bytes, cuts: readonly number[] = []): Promise<Map<EntryName, Uint8Array>> {
  const received = new Map<EntryName, Uint8Array[]>();
  const ended: EntryName[] = [];
  await openArchive(piecesOf(bytes, cuts), keysFor(archive), {
    write: (name, piece) => void (received.get(name) ?? received.set(name, []).get(name)!).push(new Uint8Array(piece)),
    end: (name) => void ended.push(name),
  });
  expect(ended).toEqual([...received.keys()]);
  return new Map([...received].map(([name, pieces]) => [name, concat(pieces)]));
}

/** The code an operation failed with; fails the test when it succeeded or threw something untyped. */
async function failureCode(operation: Promise<unknown>): Promise<string> {
  try {
    await operation;
  } catch (error) {
    if (isFleetkeyError(error)) return error.code;
    throw error;
  }
  throw new Error('expected the archive to be refused');
}

function withByte(bytes: Uint8Array, offset: number, xor = 0x01): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[offset] = copy[offset]! ^ xor;
  return copy;
}

describe('backup archive format', () => {
  it('round-trips every entry through the reader, whatever the stream splits', async () => {
    const archive = await makeArchive(defaultEntries(CHUNK_PLAINTEXT_BYTES * 2 + 4321));
    const opened = await open(archive, archive.bytes, [1, 3, 7, 5000, CHUNK_PLAINTEXT_BYTES, CHUNK_PLAINTEXT_BYTES + 9]);
    expect([...opened.keys()]).toEqual(['controller.json', 'ca.pem', 'tls/server.pem', 'tls/server-key.env', 'state.db']);
    for (const [name, bytes] of archive.entries) expect(Buffer.from(opened.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
  });

  it('property: any split of the stream reads back the same entries', async () => {
    const archive = await makeArchive(defaultEntries(CHUNK_PLAINTEXT_BYTES + 100));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: archive.bytes.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const opened = await open(archive, archive.bytes, cuts);
        expect(Buffer.from(opened.get('state.db')!).equals(Buffer.from(archive.entries.get('state.db')!))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('property: every single-byte change is refused with a typed error', async () => {
    const archive = await makeArchive(defaultEntries(500));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: archive.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (offset, xor) => {
        const code = await failureCode(open(archive, withByte(archive.bytes, offset, xor)));
        expect(['STORE_CORRUPT', 'DECRYPTION_FAILED', 'SIGNATURE_INVALID']).toContain(code);
      }),
      { numRuns: 300 },
    );
  });

  it('property: every truncation is refused as a truncated or malformed archive', async () => {
    const archive = await makeArchive(defaultEntries(500));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: archive.bytes.length - 1 }), async (length) => {
        expect(await failureCode(open(archive, archive.bytes.subarray(0, length)))).toBe('STORE_CORRUPT');
      }),
      { numRuns: 200 },
    );
  });

  describe('refuses bad archives (table)', () => {
    const cases: [string, () => Promise<{ archive: TestArchive; bytes: Uint8Array }>, string, RegExp?][] = [
      ['an empty file', async () => ({ archive: await makeArchive(), bytes: new Uint8Array(0) }), 'STORE_CORRUPT', /truncated/],
      ['another magic', async () => ({ archive: await makeArchive(), bytes: concat([new TextEncoder().encode('PK\u0003\u0004'), new Uint8Array(40)]) }), 'STORE_CORRUPT', /magic/],
      [
        'format version 2',
        async () => {
          const archive = await makeArchive();
          return { archive, bytes: withByte(archive.bytes, 4, 0x03) };
        },
        'STORE_CORRUPT',
        /format version 2/,
      ],
      [
        'a header that is not JSON',
        async () => ({ archive: await makeArchive(), bytes: concat([encodePreamble(), encodeRecord(RECORD_KIND.header, new TextEncoder().encode('{not json'))]) }),
        'STORE_CORRUPT',
        /not UTF-8 JSON/,
      ],
      [
        'a header with an unknown field',
        async () => {
          const archive = await makeArchive(undefined, { tamperHeader: (header) => ({ ...header, extra: true }) as BackupHeaderInput });
          return { archive, bytes: archive.bytes };
        },
        'STORE_CORRUPT',
        /header field/,
      ],
      [
        'entries out of order',
        async () => {
          const archive = await makeArchive(undefined, { tamperHeader: (header) => ({ ...header, entries: [...header.entries].reverse() }) });
          return { archive, bytes: archive.bytes };
        },
        'STORE_CORRUPT',
        /in that order/,
      ],
      [
        'a chunk count that does not fit the sizes',
        async () => {
          const archive = await makeArchive(undefined, { tamperHeader: (header) => ({ ...header, chunks: header.chunks + 1 }) });
          return { archive, bytes: archive.bytes };
        },
        'STORE_CORRUPT',
        /chunks must be/,
      ],
      [
        'a record of an unknown kind',
        async () => {
          const archive = await makeArchive();
          return { archive, bytes: concat([encodePreamble(), encodeRecord(9, new Uint8Array(4))]) };
        },
        'STORE_CORRUPT',
        /unknown record kind 9/,
      ],
      [
        'a chunk record longer than the bound (refused from its length alone)',
        async () => {
          const archive = await makeArchive();
          const headerEnd = 5 + 5 + new DataView(archive.bytes.buffer).getUint32(6, false);
          const prefix = new Uint8Array(5);
          prefix[0] = RECORD_KIND.chunk;
          new DataView(prefix.buffer).setUint32(1, MAX_CHUNK_RECORD_BYTES + 1, false);
          return { archive, bytes: concat([archive.bytes.subarray(0, headerEnd), prefix]) };
        },
        'STORE_CORRUPT',
        /chunk record is \d+ bytes/,
      ],
      [
        'bytes after the signature',
        async () => {
          const archive = await makeArchive();
          return { archive, bytes: concat([archive.bytes, new Uint8Array([0])]) };
        },
        'STORE_CORRUPT',
        /follow the signature/,
      ],
      [
        'two chunks swapped',
        async () => {
          const archive = await makeArchive(defaultEntries(CHUNK_PLAINTEXT_BYTES + 10));
          const view = new DataView(archive.bytes.buffer);
          const first = 5 + 5 + view.getUint32(6, false);
          const second = first + 5 + view.getUint32(first + 1, false);
          const third = second + 5 + view.getUint32(second + 1, false);
          return { archive, bytes: concat([archive.bytes.subarray(0, first), archive.bytes.subarray(second, third), archive.bytes.subarray(first, second), archive.bytes.subarray(third)]) };
        },
        'DECRYPTION_FAILED',
      ],
      [
        'a chunk spliced in from another archive',
        async () => {
          const archive = await makeArchive();
          const other = await makeArchive();
          const headerEnd = (bytes: Uint8Array) => 5 + 5 + new DataView(bytes.buffer).getUint32(6, false);
          return { archive, bytes: concat([archive.bytes.subarray(0, headerEnd(archive.bytes)), other.bytes.subarray(headerEnd(other.bytes))]) };
        },
        'DECRYPTION_FAILED',
      ],
      [
        'a signature by another key',
        async () => {
          const archive = await makeArchive(undefined, { signWith: otherSigner });
          return { archive, bytes: archive.bytes };
        },
        'SIGNATURE_INVALID',
      ],
    ];
    for (const [name, build, code, message] of cases) {
      it(`refuses ${name}`, async () => {
        const { archive, bytes } = await build();
        const written: string[] = [];
        const failure = await openArchive(piecesOf(bytes), keysFor(archive), { write: (entry) => void written.push(entry), end: () => undefined }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(isFleetkeyError(failure)).toBe(true);
        expect((failure as { code: string }).code).toBe(code);
        if (message !== undefined) expect((failure as Error).message).toMatch(message);
      });
    }
  });

  it('Precondition: the signer key in the header must be the trusted key', async () => {
    const archive = await makeArchive();
    const failure = await failureCode(
      openArchive(piecesOf(archive.bytes), { ...keysFor(archive), verifySignature: async (header, input, signature) => checkArchiveSignature(header, await otherSigner.publicKey(), input, signature) }, { write: () => undefined, end: () => undefined }),
    );
    expect(failure).toBe('SIGNATURE_INVALID');
  });
});
