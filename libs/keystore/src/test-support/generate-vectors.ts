/**
 * Test support: writes test-vectors/keystore-v1.json, the checked-in known-answer vectors of the
 * keystore format (derived keys, raw-key string, a sealed record, a sealed value, a passphrase
 * sidecar). Nonces are random, so re-running changes the sealed blobs; the spec checks that the
 * checked-in blobs still open, which is what format stability means. Run once with
 * `npx tsx src/test-support/generate-vectors.ts` and commit the result; never in CI.
 *
 * Trust boundary: test-only; the fixed store key protects nothing.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeContext } from '@fleetkey/crypto';
import { formatVersionedKeyId, versionedKeyId } from '@fleetkey/key-types';
import { deriveKeyCheck, deriveRecordKey } from '../derive.js';
import { passphraseProtector } from '../protectors/passphrase.js';
import { recordContext, sealRecordMaterial, sealValue } from '../records/seal.js';
import { encodeSidecar } from '../sidecar.js';
import { rawKeyPragmaValue } from '../sqlite/raw-key.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const storeKey = Uint8Array.from({ length: 32 }, (_, i) => i);
const recordKey = deriveRecordKey(storeKey);
const keyId = versionedKeyId('communication', 'acme', 'fleet', 3);
const material = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
const passphrase = 'known-answer passphrase';
const descriptor = await passphraseProtector({ passphrase }).protect(storeKey);
const sidecar = JSON.parse(new TextDecoder().decode(encodeSidecar({ cipher: 'chacha20', keyCheck: deriveKeyCheck(storeKey), protector: descriptor })));

const vectors = {
  description: 'fleetkey keystore format v1 known-answer vectors (see docs/keystore.md). Sealed blobs use random nonces; they must keep opening.',
  storeKey: hex(storeKey),
  rawKeyPragma: rawKeyPragmaValue(storeKey).toString('latin1'),
  recordKey: hex(recordKey),
  keyCheck: hex(deriveKeyCheck(storeKey)),
  record: {
    keyId: formatVersionedKeyId(keyId),
    algorithm: 'AES_256_GCM',
    material: hex(material),
    context: hex(encodeContext(recordContext(keyId, 'AES_256_GCM'))),
    sealed: hex(sealRecordMaterial(recordKey, keyId, 'AES_256_GCM', material)),
  },
  value: {
    name: 'locked',
    type: 'text',
    plaintext: 'true',
    sealed: hex(sealValue(recordKey, 'locked', 'text', new TextEncoder().encode('true'))),
  },
  passphraseSidecar: { passphrase, sidecar },
};

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-vectors', 'keystore-v1.json');
writeFileSync(out, `${JSON.stringify(vectors, null, 2)}\n`);
console.log(`wrote ${out}`);
