/**
 * Known-answer vectors of the keystore format (test-vectors/keystore-v1.json, checked in): the
 * HKDF derivations (also cross-checked against an independent HMAC-SHA256 HKDF when generated),
 * the raw-key string, the record context encoding, and sealed blobs / a passphrase sidecar written
 * by an earlier run that must keep opening.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeContext, readEnvelopeHeader } from '@fleetkey/crypto';
import { parseVersionedKeyId, versionedKeyId, type KeyAlgorithm } from '@fleetkey/key-types';
import { deriveKeyCheck, deriveRecordKey, keyCheckMatches } from './derive.js';
import { passphraseProtector } from './protectors/passphrase.js';
import { openRecordMaterial, openValue, recordContext } from './records/seal.js';
import { decodeSidecar } from './sidecar.js';
import { rawKeyPragmaValue } from './sqlite/raw-key.js';

interface Vectors {
  storeKey: string;
  rawKeyPragma: string;
  recordKey: string;
  keyCheck: string;
  record: { keyId: string; algorithm: KeyAlgorithm; material: string; context: string; sealed: string };
  value: { name: string; type: 'text'; plaintext: string; sealed: string };
  passphraseSidecar: { passphrase: string; sidecar: unknown };
}

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'test-vectors', 'keystore-v1.json');
const v = JSON.parse(readFileSync(file, 'utf8')) as Vectors;
const unhex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('keystore format v1 known answers', () => {
  const storeKey = unhex(v.storeKey);

  it('derives the record key and key check (HKDF-SHA256, empty salt, distinct info)', () => {
    expect(hex(deriveRecordKey(storeKey))).toBe(v.recordKey);
    expect(hex(deriveKeyCheck(storeKey))).toBe(v.keyCheck);
    expect(keyCheckMatches(storeKey, unhex(v.keyCheck))).toBe(true);
  });

  it('builds the raw-key string', () => {
    expect(rawKeyPragmaValue(storeKey).toString('latin1')).toBe(v.rawKeyPragma);
  });

  it('encodes the record context canonically', () => {
    const id = parseVersionedKeyId(v.record.keyId);
    expect(hex(encodeContext(recordContext(id, v.record.algorithm)))).toBe(v.record.context);
  });

  it('opens the checked-in sealed record, whose header names the record', () => {
    const id = parseVersionedKeyId(v.record.keyId);
    const sealed = unhex(v.record.sealed);
    expect(readEnvelopeHeader(sealed)).toMatchObject({ algorithm: 'AES_256_GCM', provider: 'keystore', keyId: v.record.keyId, keyVersion: id.version });
    expect(hex(openRecordMaterial(unhex(v.recordKey), id, v.record.algorithm, sealed))).toBe(v.record.material);
  });

  it.each([
    ['another version', versionedKeyId('communication', 'acme', 'fleet', 4), 'AES_256_GCM'],
    ['another name', versionedKeyId('communication', 'acme', 'other', 3), 'AES_256_GCM'],
    ['another kind', versionedKeyId('storage', 'acme', 'fleet', 3), 'AES_256_GCM'],
    ['another algorithm', versionedKeyId('communication', 'acme', 'fleet', 3), 'CHACHA20_POLY1305'],
  ] as const)('the sealed record does not open as %s (STORE_CORRUPT)', (_title, id, algorithm) => {
    expect(() => openRecordMaterial(unhex(v.recordKey), id, algorithm, unhex(v.record.sealed))).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT' }),
    );
  });

  it('opens the checked-in sealed value, and not as bytes or under another name', () => {
    const recordKey = unhex(v.recordKey);
    const sealed = unhex(v.value.sealed);
    expect(new TextDecoder().decode(openValue(recordKey, v.value.name, 'text', sealed))).toBe(v.value.plaintext);
    expect(() => openValue(recordKey, v.value.name, 'bytes', sealed)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(() => openValue(recordKey, 'unlocked', 'text', sealed)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });

  it('unlocks the checked-in passphrase sidecar to the store key', async () => {
    const sidecar = decodeSidecar(new TextEncoder().encode(JSON.stringify(v.passphraseSidecar.sidecar)));
    expect(hex(sidecar.keyCheck)).toBe(v.keyCheck);
    const unlocked = await passphraseProtector({ passphrase: v.passphraseSidecar.passphrase }).unlock(sidecar.protector);
    expect(hex(unlocked)).toBe(v.storeKey);
  });
});
