/**
 * Generates test-vectors/envelope-v1-kms.json, the known-answer vectors of envelope v1 algorithm
 * 0x30 `KMS_AES_256_GCM`: the encapsulated key is a KMS's ciphertext of the CEK (opaque bytes), the
 * payload is AES-256-GCM under the CEK with the usual AAD. A vector pins the envelope layout and the
 * content encryption given the CEK; the vendor's CEK encryption is the vendor's and is represented
 * here by deterministic opaque bytes. Inputs are derived from each vector's name (SHAKE256), so the
 * output is the same on every run; the spec checks the checked-in file against this generator.
 *
 * Kept beside (not inside) envelope-v1.json so the symmetric vectors stay byte-for-byte untouched.
 * Regenerate (only when ADDING vectors; an existing vector must never change):
 *   cd libs/crypto && npx tsx test-vectors/generate-kms-envelope-vectors.ts
 *
 * Trust boundary: none; test tooling. It uses the internal fixed-nonce seam, which is not part of
 * the package API: a fixed nonce is only acceptable for published test keys like these.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sealWithContentKeyAndNonce } from '../src/envelope/content.js';
import type { EnvelopeContext } from '../src/envelope/types.js';

export interface KmsEnvelopeVector {
  readonly name: string;
  readonly algorithm: 'KMS_AES_256_GCM';
  /** The CEK (what the KMS would return from its decrypt of `encapsulatedKeyHex`). */
  readonly cekHex: string;
  readonly encapsulatedKeyHex: string;
  readonly nonceHex: string;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly context: EnvelopeContext | null;
  readonly plaintextHex: string;
  readonly envelopeHex: string;
}

export interface KmsEnvelopeVectorFile {
  readonly format: 'fleetkey envelope v1 (KMS_AES_256_GCM)';
  readonly description: string;
  readonly regenerate: string;
  readonly vectors: readonly KmsEnvelopeVector[];
}

interface VectorCase {
  readonly name: string;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly encapsulatedKeyLength: number;
  readonly context: EnvelopeContext | null;
  readonly plaintextLength: number;
}

const CASES: readonly VectorCase[] = [
  { name: 'one-byte encapsulated key, no context, empty plaintext', provider: 'local', keyId: 'kms/local/root', keyVersion: 1, encapsulatedKeyLength: 1, context: null, plaintextLength: 0 },
  {
    name: 'AWS-sized blob, ARN key id, provider-tracked version 0',
    provider: 'aws',
    keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    keyVersion: 0,
    encapsulatedKeyLength: 184,
    context: { purpose: 'store-key', fleet: 'acme' },
    plaintextLength: 32,
  },
  {
    name: 'GCP resource name, version 3',
    provider: 'gcp',
    keyId: 'projects/p/locations/global/keyRings/r/cryptoKeys/k',
    keyVersion: 3,
    encapsulatedKeyLength: 73,
    context: { device: 'röbot-7' },
    plaintextLength: 100,
  },
  { name: 'maximum encapsulated key (2048 bytes)', provider: 'azure', keyId: 'https://v.vault.azure.net/keys/k/0123abcd', keyVersion: 2, encapsulatedKeyLength: 2048, context: { fleet: 'acme' }, plaintextLength: 33 },
];

/** `length` deterministic bytes for `label` (SHAKE256 as an XOF, FIPS 202). */
function derive(label: string, length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  return createHash('shake256', { outputLength: length }).update(`fleetkey envelope v1 kms vector: ${label}`).digest();
}

/** Builds every vector (pure: same output on every run). */
export function buildKmsEnvelopeVectors(): KmsEnvelopeVectorFile {
  const vectors = CASES.map((c): KmsEnvelopeVector => {
    const name = `KMS_AES_256_GCM: ${c.name}`;
    const cek = derive(`${name} / cek`, 32);
    const encapsulatedKey = derive(`${name} / encapsulated key`, c.encapsulatedKeyLength);
    const nonce = derive(`${name} / nonce`, 12);
    const plaintext = derive(`${name} / plaintext`, c.plaintextLength);
    const sealed = sealWithContentKeyAndNonce(
      { algorithm: 'KMS_AES_256_GCM', provider: c.provider, keyId: c.keyId, keyVersion: c.keyVersion, encapsulatedKey },
      cek,
      plaintext,
      c.context === null ? undefined : c.context,
      nonce,
    );
    return {
      name,
      algorithm: 'KMS_AES_256_GCM',
      cekHex: cek.toString('hex'),
      encapsulatedKeyHex: encapsulatedKey.toString('hex'),
      nonceHex: nonce.toString('hex'),
      provider: c.provider,
      keyId: c.keyId,
      keyVersion: c.keyVersion,
      context: c.context,
      plaintextHex: plaintext.toString('hex'),
      envelopeHex: Buffer.from(sealed).toString('hex'),
    };
  });
  return {
    format: 'fleetkey envelope v1 (KMS_AES_256_GCM)',
    description:
      'Known-answer vectors for envelope v1 algorithm 0x30 (docs/envelope.md). CEKs, encapsulated keys, nonces and plaintexts are public test values derived from each name with SHAKE256; never use them for anything else.',
    regenerate: 'cd libs/crypto && npx tsx test-vectors/generate-kms-envelope-vectors.ts (only to ADD vectors; existing vectors must never change)',
    vectors,
  };
}

/** The exact text of envelope-v1-kms.json. */
export function renderKmsEnvelopeVectors(): string {
  return `${JSON.stringify(buildKmsEnvelopeVectors(), null, 2)}\n`;
}

export const KMS_ENVELOPE_VECTOR_FILE = fileURLToPath(new URL('./envelope-v1-kms.json', import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(KMS_ENVELOPE_VECTOR_FILE, renderKmsEnvelopeVectors());
  console.log(`wrote ${KMS_ENVELOPE_VECTOR_FILE}`);
}
