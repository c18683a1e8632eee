import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFleetkeyError } from './errors.js';
import {
  MAX_KEY_VERSION,
  formatVersionedKeyId,
  parseKeyId,
  parseVersionedKeyId,
  versionedKeyId,
} from './key-id.js';
import { KEY_KINDS } from './kinds.js';

function expectInvalid(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isFleetkeyError(caught, 'INVALID_KEY_ID')).toBe(true);
}

describe('versioned key ids', () => {
  it('round-trips the text form', () => {
    const id = versionedKeyId('communication', 'acme', 'fleet', 17);
    expect(formatVersionedKeyId(id)).toBe('communication/acme/fleet@17');
    expect(parseVersionedKeyId('communication/acme/fleet@17')).toEqual(id);
  });

  it.each([
    ['empty', ''],
    ['no version', 'communication/acme/fleet'],
    ['version zero', 'communication/acme/fleet@0'],
    ['leading zero', 'communication/acme/fleet@01'],
    ['negative', 'communication/acme/fleet@-1'],
    ['fraction', 'communication/acme/fleet@1.5'],
    ['too large', `communication/acme/fleet@${MAX_KEY_VERSION + 1}`],
    ['two versions', 'communication/acme/fleet@1@2'],
    ['unknown kind', 'banana/acme/fleet@1'],
    ['missing segment', 'communication/fleet@1'],
    ['extra segment', 'communication/acme/x/fleet@1'],
    ['empty fleet', 'communication//fleet@1'],
    ['wildcard in fleet', 'communication/+/fleet@1'],
    ['hash in name', 'communication/acme/#@1'],
    ['space', 'communication/acme/fle et@1'],
    ['unicode', 'communication/acmé/fleet@1'],
    ['over-long', `communication/${'a'.repeat(250)}/fleet@1`],
    ['whitespace version', 'communication/acme/fleet@ 1'],
  ])('refuses %s', (_label, text) => {
    expectInvalid(() => parseVersionedKeyId(text));
  });

  it('refuses non-strings', () => {
    expectInvalid(() => parseVersionedKeyId(42));
    expectInvalid(() => parseKeyId(undefined));
  });

  it('refuses invalid parts at construction', () => {
    expectInvalid(() => versionedKeyId('communication', 'acme', 'fleet', 0));
    expectInvalid(() => versionedKeyId('communication', 'a/b', 'fleet', 1));
  });

  it('round-trips every valid id (property)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);
    fc.assert(
      fc.property(fc.constantFrom(...KEY_KINDS), segment, segment, fc.integer({ min: 1, max: MAX_KEY_VERSION }), (kind, fleet, name, version) => {
        const id = versionedKeyId(kind, fleet, name, version);
        expect(parseVersionedKeyId(formatVersionedKeyId(id))).toEqual(id);
      }),
    );
  });

  it('never throws anything but InvalidKeyId on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseVersionedKeyId(text);
        } catch (error) {
          expect(isFleetkeyError(error, 'INVALID_KEY_ID')).toBe(true);
        }
      }),
    );
  });
});
