/**
 * Generates test-vectors/envelope-v1.json, the known-answer vectors of envelope v1 for the two
 * symmetric algorithms. Inputs are derived deterministically from each vector's name (SHAKE256),
 * so running this twice writes the same file, and the spec checks the checked-in file is exactly
 * what `buildEnvelopeVectors()` produces.
 *
 * Regenerate (only when ADDING vectors; a v1 vector must never change — a format change is a new
 * format version with its own vector file, see docs/envelope.md):
 *   cd libs/crypto && npx tsx test-vectors/generate-envelope-vectors.ts
 *
 * Trust boundary: none; test tooling. It uses the internal fixed-nonce seam, which is not part of
 * the package API: a fixed nonce is only acceptable for published test keys like these.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SymmetricEnvelopeAlgorithm } from '../src/envelope/algorithms.js';
import { sealEnvelopeWithNonce } from '../src/envelope/seal.js';
import type { EnvelopeContext } from '../src/envelope/types.js';

export interface EnvelopeVector {
  readonly name: string;
  readonly algorithm: SymmetricEnvelopeAlgorithm;
  readonly keyHex: string;
  readonly nonceHex: string;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  /** Omitted (null) when the envelope was sealed without a context. */
  readonly context: EnvelopeContext | null;
  readonly plaintextHex: string;
  readonly envelopeHex: string;
}

export interface EnvelopeVectorFile {
  readonly format: 'fleetkey envelope v1';
  readonly description: string;
  readonly regenerate: string;
  readonly vectors: readonly EnvelopeVector[];
}

interface VectorCase {
  readonly name: string;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly context: EnvelopeContext | null;
  readonly plaintextLength: number;
}

const CASES: readonly VectorCase[] = [
  { name: 'empty plaintext, no context', provider: 'local', keyId: 'storage/acme/db', keyVersion: 1, context: null, plaintextLength: 0 },
  { name: 'empty plaintext, empty-valued context', provider: 'keystore', keyId: 'storage/acme/db', keyVersion: 2, context: { purpose: '' }, plaintextLength: 0 },
  { name: 'one byte', provider: 'local', keyId: 'communication/acme/fleet', keyVersion: 17, context: { purpose: 'test' }, plaintextLength: 1 },
  { name: 'one block (16 bytes)', provider: 'local', keyId: 'communication/acme/fleet', keyVersion: 18, context: { device: 'robot-17' }, plaintextLength: 16 },
  {
    name: '100 bytes, three-entry context',
    provider: 'vault',
    keyId: 'transit/keys/fleet-master',
    keyVersion: 3,
    context: { purpose: 'telemetry', device: 'robot-17', fleet: 'acme' },
    plaintextLength: 100,
  },
  { name: '1 KiB, provider-tracked version 0', provider: 'gcp', keyId: 'projects/p/locations/global/keyRings/r/cryptoKeys/k', keyVersion: 0, context: { fleet: 'acme' }, plaintextLength: 1024 },
  {
    name: 'unicode context, max key version, ARN key id',
    provider: 'aws',
    keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    keyVersion: 0xffff_ffff,
    context: { device: 'röbot-7', purpose: '😀 telemetry', ключ: 'значение', 'ｚ': '全角' },
    plaintextLength: 33,
  },
];

const ALGORITHMS: readonly SymmetricEnvelopeAlgorithm[] = ['AES_256_GCM', 'CHACHA20_POLY1305'];

/** `length` deterministic bytes for `label` (SHAKE256 as an XOF, FIPS 202). */
function derive(label: string, length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  return createHash('shake256', { outputLength: length }).update(`fleetkey envelope v1 vector: ${label}`).digest();
}

/** Builds every vector (pure: same output on every run). */
export function buildEnvelopeVectors(): EnvelopeVectorFile {
  const vectors: EnvelopeVector[] = [];
  for (const algorithm of ALGORITHMS) {
    for (const c of CASES) {
      const name = `${algorithm}: ${c.name}`;
      const key = derive(`${name} / key`, 32);
      const nonce = derive(`${name} / nonce`, 12);
      const plaintext = derive(`${name} / plaintext`, c.plaintextLength);
      const sealed = sealEnvelopeWithNonce(
        {
          key,
          algorithm,
          provider: c.provider,
          keyId: c.keyId,
          keyVersion: c.keyVersion,
          plaintext,
          ...(c.context === null ? {} : { context: c.context }),
        },
        nonce,
      );
      vectors.push({
        name,
        algorithm,
        keyHex: key.toString('hex'),
        nonceHex: nonce.toString('hex'),
        provider: c.provider,
        keyId: c.keyId,
        keyVersion: c.keyVersion,
        context: c.context,
        plaintextHex: plaintext.toString('hex'),
        envelopeHex: Buffer.from(sealed).toString('hex'),
      });
    }
  }
  return {
    format: 'fleetkey envelope v1',
    description:
      'Known-answer vectors for envelope v1 (docs/envelope.md). Keys, nonces and plaintexts are public test values derived from each name with SHAKE256; never use them for anything else.',
    regenerate: 'cd libs/crypto && npx tsx test-vectors/generate-envelope-vectors.ts (only to ADD vectors; existing v1 vectors must never change)',
    vectors,
  };
}

/** The exact text of envelope-v1.json. */
export function renderEnvelopeVectors(): string {
  return `${JSON.stringify(buildEnvelopeVectors(), null, 2)}\n`;
}

export const ENVELOPE_VECTOR_FILE = fileURLToPath(new URL('./envelope-v1.json', import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ENVELOPE_VECTOR_FILE, renderEnvelopeVectors());
  console.log(`wrote ${ENVELOPE_VECTOR_FILE}`);
}
