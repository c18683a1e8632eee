/**
 * Test support: writes test-vectors/local-keyfile-v1.json, the checked-in known-answer vector of
 * the key-file format (a real file made by this build, the passphrase that opens it, what it must
 * contain, an envelope and a signature it must open / verify). Run once with
 * `npx tsx src/test-support/generate-vectors.ts`; vectors.spec.ts fails if a later build reads the
 * file differently. Not exported from the package index.
 *
 * Trust boundary: test-only; the keys in the vector are throwaway.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localKmsProvider } from '../index.js';
import { openKeyFile, deriveFileKey, readKeyFileHeader } from '../keyfile/seal.js';
import { decodeBody } from '../keyfile/body.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const passphrase = 'fleetkey local key file vector v1';
const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetkey-vectors-'));
try {
  const keyFile = path.join(dir, 'keys.fkl');
  const at = new Date('2026-01-01T00:00:00.000Z');
  const kms = await localKmsProvider({ path: keyFile, passphrase, create: true, now: () => at });
  const aes = await kms.createKey({ spec: 'AES_256', tags: { fleet: 'acme', role: 'kek' }, description: 'vector KEK' });
  const context = { fleet: 'acme', purpose: 'vector' };
  const plaintext = new TextEncoder().encode('known answer');
  const envelopeV1 = await kms.wrap({ keyId: aes.keyId, plaintext, context });
  await kms.rotateKey(aes.keyId);
  const ec = await kms.createKey({ spec: 'ECDSA_P256', tags: { fleet: 'acme', role: 'ca' } });
  const message = new TextEncoder().encode('sign me');
  const signature = await kms.sign({ keyId: ec.keyId, data: message });
  await kms.disableKey(ec.keyId);
  await kms.close();

  const file = readFileSync(keyFile);
  const header = readKeyFileHeader(file);
  const fileKey = await deriveFileKey(new TextEncoder().encode(passphrase), header.salt, header.scrypt);
  const keys = decodeBody(openKeyFile(file, fileKey));
  const vector = {
    description: 'fleetkey local KMS key file, format version 1 (docs/providers/local.md)',
    passphrase,
    file: file.toString('base64'),
    header: { log2N: header.scrypt.log2N, r: header.scrypt.r, p: header.scrypt.p, salt: Buffer.from(header.salt).toString('hex'), generation: header.generation },
    keys: keys.map((k) => ({
      keyId: k.keyId,
      spec: k.spec,
      enabled: k.enabled,
      createdAt: k.createdAt,
      description: k.description ?? null,
      tags: k.tags,
      primaryVersion: k.primaryVersion,
      versions: k.versions.map((v) => ({ version: v.version, material: Buffer.from(v.material).toString('hex') })),
    })),
    envelope: { keyId: aes.keyId, keyVersion: 1, context, plaintext: Buffer.from(plaintext).toString('hex'), envelope: Buffer.from(envelopeV1).toString('base64') },
    signature: { keyId: ec.keyId, algorithm: signature.algorithm, message: Buffer.from(message).toString('hex'), signature: Buffer.from(signature.signature).toString('hex') },
  };
  writeFileSync(path.join(PACKAGE_ROOT, 'test-vectors', 'local-keyfile-v1.json'), `${JSON.stringify(vector, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
