import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFleetkeyError } from '@fleetkey/key-types';
import { ENVELOPE_ALGORITHMS, type EnvelopeAlgorithm } from './algorithms.js';
import { decodeEnvelope, encodeEnvelope, readEnvelopeHeader } from './codec.js';
import { MAX_ENVELOPE_CIPHERTEXT, MAX_KMS_ENCAPSULATED_KEY_LENGTH } from './constants.js';
import { ascii, baseParts, hex, rawEnvelope, thrownCode, type RawParts } from './test-support.js';
import type { Envelope } from './types.js';

const MALFORMED = 'ENVELOPE_MALFORMED';
const UNSUPPORTED = 'ENVELOPE_UNSUPPORTED';
const NUL_65 = Array.from({ length: 65 }, (_, i) => (i === 0 ? 4 : i));
const rsaBlock = (n: number): number[] => Array.from({ length: n }, (_, i) => i & 0xff);

/** [title, parts overrides, decode options, expected code] */
type BadCase = readonly [string, Partial<RawParts>, { maxCiphertextLength?: number } | undefined, string];

const BAD_INPUTS: readonly BadCase[] = [
  // magic
  ['magic "FL"', { magic: [0x46, 0x4c] }, undefined, MALFORMED],
  ['magic "fk" (lower case)', { magic: [0x66, 0x6b] }, undefined, MALFORMED],
  ['magic "KF" (swapped)', { magic: [0x4b, 0x46] }, undefined, MALFORMED],
  ['magic 0x0000', { magic: [0, 0] }, undefined, MALFORMED],
  // format version
  ['format version 0', { version: 0 }, undefined, UNSUPPORTED],
  ['format version 2', { version: 2 }, undefined, UNSUPPORTED],
  ['format version 0xff', { version: 0xff }, undefined, UNSUPPORTED],
  // algorithm
  ['algorithm id 0x00', { algorithmId: 0x00 }, undefined, UNSUPPORTED],
  ['algorithm id 0x03', { algorithmId: 0x03 }, undefined, UNSUPPORTED],
  ['algorithm id 0x11', { algorithmId: 0x11 }, undefined, UNSUPPORTED],
  ['algorithm id 0x21', { algorithmId: 0x21 }, undefined, UNSUPPORTED],
  ['algorithm id 0x31', { algorithmId: 0x31 }, undefined, UNSUPPORTED],
  ['algorithm id 0xff', { algorithmId: 0xff }, undefined, UNSUPPORTED],
  // provider
  ['provider length 0', { providerLength: 0, provider: [] }, undefined, MALFORMED],
  ['provider length 33', { provider: ascii('a'.repeat(33)) }, undefined, MALFORMED],
  ['provider length 255', { provider: ascii('a'.repeat(255)) }, undefined, MALFORMED],
  ['provider length longer than the input', { providerLength: 200 }, undefined, MALFORMED],
  ['provider with upper case', { provider: ascii('Local') }, undefined, MALFORMED],
  ['provider with underscore', { provider: ascii('my_kms') }, undefined, MALFORMED],
  ['provider with space', { provider: ascii('my kms') }, undefined, MALFORMED],
  ['provider with NUL', { provider: [0x61, 0x00] }, undefined, MALFORMED],
  ['provider with a non-ASCII byte', { provider: [0x61, 0xe9] }, undefined, MALFORMED],
  // key id
  ['key id length 0', { keyIdLength: 0, keyId: [] }, undefined, MALFORMED],
  ['key id length 1025', { keyId: ascii('k'.repeat(1025)) }, undefined, MALFORMED],
  ['key id length 0xffff', { keyIdLength: 0xffff }, undefined, MALFORMED],
  ['key id with a space (0x20)', { keyId: ascii('a b') }, undefined, MALFORMED],
  ['key id with DEL (0x7f)', { keyId: [0x61, 0x7f] }, undefined, MALFORMED],
  ['key id with a newline', { keyId: [0x61, 0x0a] }, undefined, MALFORMED],
  ['key id with NUL', { keyId: [0x00] }, undefined, MALFORMED],
  ['key id with a UTF-8 byte (0xc3)', { keyId: [0xc3, 0xa9] }, undefined, MALFORMED],
  // encapsulated key
  ['AES_256_GCM with a 1-byte encapsulated key', { encapsulatedKey: [1] }, undefined, MALFORMED],
  ['CHACHA20_POLY1305 with a 65-byte encapsulated key', { algorithmId: 0x02, encapsulatedKey: NUL_65 }, undefined, MALFORMED],
  ['ECIES with no encapsulated key', { algorithmId: 0x10 }, undefined, MALFORMED],
  ['ECIES with a 64-byte encapsulated key', { algorithmId: 0x10, encapsulatedKey: NUL_65.slice(1) }, undefined, MALFORMED],
  ['ECIES with a 66-byte encapsulated key', { algorithmId: 0x10, encapsulatedKey: [...NUL_65, 0] }, undefined, MALFORMED],
  ['ECIES with a 33-byte (compressed) point', { algorithmId: 0x10, encapsulatedKey: NUL_65.slice(0, 33) }, undefined, MALFORMED],
  ['RSA-OAEP with no encapsulated key', { algorithmId: 0x20 }, undefined, MALFORMED],
  ['RSA-OAEP with a 255-byte encapsulated key', { algorithmId: 0x20, encapsulatedKey: rsaBlock(255) }, undefined, MALFORMED],
  ['RSA-OAEP with a 513-byte encapsulated key', { algorithmId: 0x20, encapsulatedKey: rsaBlock(513) }, undefined, MALFORMED],
  ['KMS with no encapsulated key', { algorithmId: 0x30 }, undefined, MALFORMED],
  ['KMS with a 2049-byte encapsulated key', { algorithmId: 0x30, encapsulatedKey: rsaBlock(2049) }, undefined, MALFORMED],
  ['KMS encapsulated key length 0xffff', { algorithmId: 0x30, encapsulatedKeyLength: 0xffff }, undefined, MALFORMED],
  ['KMS encapsulated key longer than the input', { algorithmId: 0x30, encapsulatedKeyLength: 100, encapsulatedKey: rsaBlock(10) }, undefined, MALFORMED],
  ['encapsulated key length 0xffff', { algorithmId: 0x20, encapsulatedKeyLength: 0xffff }, undefined, MALFORMED],
  ['encapsulated key longer than the input', { algorithmId: 0x20, encapsulatedKeyLength: 300, encapsulatedKey: rsaBlock(10) }, undefined, MALFORMED],
  // nonce
  ['nonce length 0', { nonce: [] }, undefined, MALFORMED],
  ['nonce length 8', { nonce: [1, 2, 3, 4, 5, 6, 7, 8] }, undefined, MALFORMED],
  ['nonce length 11', { nonce: rsaBlock(11) }, undefined, MALFORMED],
  ['nonce length 13', { nonce: rsaBlock(13) }, undefined, MALFORMED],
  ['nonce length 16', { nonce: rsaBlock(16) }, undefined, MALFORMED],
  ['nonce length 24', { nonce: rsaBlock(24) }, undefined, MALFORMED],
  ['nonce length 255', { nonceLength: 255 }, undefined, MALFORMED],
  // ciphertext
  ['ciphertext length 0', { ciphertext: [] }, undefined, MALFORMED],
  ['ciphertext length 15 (shorter than the tag)', { ciphertext: rsaBlock(15) }, undefined, MALFORMED],
  ['ciphertext length field larger than the data', { ciphertextLength: 21 }, undefined, MALFORMED],
  ['ciphertext length field smaller than the data', { ciphertextLength: 19 }, undefined, MALFORMED],
  ['ciphertext length over 16 MiB', { ciphertextLength: MAX_ENVELOPE_CIPHERTEXT + 1 }, undefined, MALFORMED],
  ['ciphertext length 0xffffffff', { ciphertextLength: 0xffff_ffff }, undefined, MALFORMED],
  ['ciphertext over the caller maximum', { ciphertext: rsaBlock(33) }, { maxCiphertextLength: 32 }, MALFORMED],
  ['ciphertext length field over the caller maximum with no data', { ciphertextLength: 100, ciphertext: [] }, { maxCiphertextLength: 64 }, MALFORMED],
  // trailing
  ['one trailing byte', { trailing: [0] }, undefined, MALFORMED],
  ['a second envelope appended', { trailing: [...rawEnvelope()] }, undefined, MALFORMED],
];

describe('decodeEnvelope: bad inputs', () => {
  it('accepts the unmodified base envelope (so every bad case below differs only in its field)', () => {
    const envelope = decodeEnvelope(rawEnvelope());
    expect(envelope).toMatchObject({ formatVersion: 1, algorithm: 'AES_256_GCM', provider: 'local', keyId: 'communication/acme/fleet', keyVersion: 7 });
    expect(envelope.ciphertext).toEqual(Uint8Array.from(baseParts().ciphertext));
  });

  it.each(BAD_INPUTS)('%s', (_title, overrides, options, code) => {
    const bytes = rawEnvelope(overrides);
    expect(thrownCode(() => decodeEnvelope(bytes, options))).toBe(code);
    expect(thrownCode(() => readEnvelopeHeader(bytes, options))).toBe(code);
  });

  it('refuses empty input as malformed', () => {
    expect(thrownCode(() => decodeEnvelope(new Uint8Array(0)))).toBe(MALFORMED);
  });

  const shapes: ReadonlyArray<readonly [EnvelopeAlgorithm, Partial<RawParts>]> = [
    ['AES_256_GCM', {}],
    ['CHACHA20_POLY1305', { algorithmId: 0x02 }],
    ['ECIES_P256_HKDF_SHA256_AES_256_GCM', { algorithmId: 0x10, encapsulatedKey: NUL_65 }],
    ['RSA_OAEP_SHA256_AES_256_GCM', { algorithmId: 0x20, encapsulatedKey: rsaBlock(256) }],
    ['KMS_AES_256_GCM', { algorithmId: 0x30, encapsulatedKey: rsaBlock(184) }],
  ];
  it.each(shapes)('refuses %s truncated at every offset as malformed', (algorithm, overrides) => {
    const bytes = rawEnvelope(overrides);
    expect(decodeEnvelope(bytes).algorithm).toBe(algorithm);
    for (let length = 0; length < bytes.length; length++) {
      const prefix = bytes.slice(0, length);
      expect([length, thrownCode(() => decodeEnvelope(prefix))]).toEqual([length, MALFORMED]);
    }
  });

  it('accepts the boundary values of every bounded field', () => {
    const cases: Partial<RawParts>[] = [
      { provider: ascii('a') },
      { provider: ascii('z0-9'.repeat(8)) },
      { keyId: ascii('!') },
      { keyId: ascii('~'.repeat(1024)) },
      { keyVersion: 0 },
      { keyVersion: 0xffff_ffff },
      { algorithmId: 0x20, encapsulatedKey: rsaBlock(512) },
      { algorithmId: 0x20, encapsulatedKey: rsaBlock(384) },
      { algorithmId: 0x30, encapsulatedKey: rsaBlock(1) },
      { algorithmId: 0x30, encapsulatedKey: rsaBlock(2048) },
      { ciphertext: rsaBlock(16) },
    ];
    for (const overrides of cases) expect(thrownCode(() => decodeEnvelope(rawEnvelope(overrides)))).toBe('NO_ERROR');
    expect(decodeEnvelope(rawEnvelope({ keyVersion: 0xffff_ffff })).keyVersion).toBe(0xffff_ffff);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ ciphertext: rsaBlock(32) }), { maxCiphertextLength: 32 }))).toBe('NO_ERROR');
  });

  it('treats a non-Uint8Array input and a bad maxCiphertextLength as misuse', () => {
    expect(thrownCode(() => decodeEnvelope('FK' as unknown as Uint8Array))).toBe('TypeError');
    expect(thrownCode(() => decodeEnvelope([0x46, 0x4b] as unknown as Uint8Array))).toBe('TypeError');
    for (const max of [15, MAX_ENVELOPE_CIPHERTEXT + 1, 1.5, Number.NaN, -1]) {
      expect(thrownCode(() => decodeEnvelope(rawEnvelope(), { maxCiphertextLength: max }))).toBe('RangeError');
    }
  });
});

describe('decodeEnvelope: preconditions', () => {
  it('Precondition: the envelope starts with the magic "FK"', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ magic: [0x46, 0x4a] })))).toBe(MALFORMED);
    expect(thrownCode(() => decodeEnvelope(Uint8Array.of(0x46)))).toBe(MALFORMED);
  });
  it('Precondition: the format version is 1; anything else is a format we do not implement', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ version: 2 })))).toBe(UNSUPPORTED);
    // a future version is refused even when the rest would not parse as v1
    expect(thrownCode(() => decodeEnvelope(Uint8Array.of(0x46, 0x4b, 0x02)))).toBe(UNSUPPORTED);
  });
  it('Precondition: the algorithm id is one of the v1 table', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ algorithmId: 0x31 })))).toBe(UNSUPPORTED);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ algorithmId: 0x30, encapsulatedKey: [1] })))).toBe('NO_ERROR');
  });
  it('Precondition: the provider is 1..32 bytes of [a-z0-9-]', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ provider: ascii('aw$') })))).toBe(MALFORMED);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ provider: [] })))).toBe(MALFORMED);
  });
  it('Precondition: the key id is 1..1024 bytes of printable ASCII 0x21..0x7E', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ keyId: [0x21, 0x7f] })))).toBe(MALFORMED);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ keyId: ascii('x'.repeat(1025)) })))).toBe(MALFORMED);
  });
  it('Precondition: the encapsulated key length is what the algorithm says (0 for symmetric)', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ encapsulatedKey: NUL_65 })))).toBe(MALFORMED);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ algorithmId: 0x10, encapsulatedKey: NUL_65 })))).toBe('NO_ERROR');
    // KMS (0x30): 1..MAX_KMS_ENCAPSULATED_KEY_LENGTH opaque bytes
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ algorithmId: 0x30 })))).toBe(MALFORMED);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ algorithmId: 0x30, encapsulatedKey: rsaBlock(MAX_KMS_ENCAPSULATED_KEY_LENGTH + 1) })))).toBe(MALFORMED);
  });
  it('Precondition: the nonce is exactly 12 bytes for every v1 algorithm', () => {
    for (const algorithmId of [0x01, 0x02]) {
      expect(thrownCode(() => decodeEnvelope(rawEnvelope({ algorithmId, nonce: rsaBlock(16) })))).toBe(MALFORMED);
    }
  });
  it('Precondition: the ciphertext length is MIN_ENVELOPE_CIPHERTEXT..the caller\'s maximum', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ ciphertext: rsaBlock(15) })))).toBe(MALFORMED);
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ ciphertext: rsaBlock(40) }), { maxCiphertextLength: 39 }))).toBe(MALFORMED);
  });
  it('Precondition: nothing follows the ciphertext', () => {
    expect(thrownCode(() => decodeEnvelope(rawEnvelope({ trailing: [0x00, 0x00] })))).toBe(MALFORMED);
  });
});

describe('decodeEnvelope: copies', () => {
  it('returns fields that never alias the input buffer', () => {
    const input = Buffer.from(rawEnvelope({ algorithmId: 0x10, encapsulatedKey: NUL_65 }));
    const envelope = decodeEnvelope(input);
    const header = readEnvelopeHeader(input);
    const before = { ek: hex(envelope.encapsulatedKey), nonce: hex(envelope.nonce), ct: hex(envelope.ciphertext) };
    for (const field of [envelope.encapsulatedKey, envelope.nonce, envelope.ciphertext, header.nonce, header.encapsulatedKey]) {
      expect(field.buffer).not.toBe(input.buffer);
      expect(Buffer.isBuffer(field)).toBe(false);
    }
    input.fill(0xee);
    expect({ ek: hex(envelope.encapsulatedKey), nonce: hex(envelope.nonce), ct: hex(envelope.ciphertext) }).toEqual(before);
    expect(Object.isFrozen(envelope)).toBe(true);
  });

  it('decodes a sub-array view at a non-zero offset of a larger buffer', () => {
    const bytes = rawEnvelope();
    const big = new Uint8Array(bytes.length + 10).fill(0x21);
    big.set(bytes, 5);
    const envelope = decodeEnvelope(big.subarray(5, 5 + bytes.length));
    expect(envelope.keyId).toBe('communication/acme/fleet');
    expect(hex(encodeEnvelope(envelope))).toBe(hex(bytes));
  });
});

describe('encodeEnvelope', () => {
  const valid = (): Envelope => decodeEnvelope(rawEnvelope());

  it('writes exactly the layout of the docs table', () => {
    expect(hex(encodeEnvelope(valid()))).toBe(hex(rawEnvelope()));
    const ecies = rawEnvelope({ algorithmId: 0x10, encapsulatedKey: NUL_65, keyVersion: 0xfedc_ba98 });
    expect(hex(encodeEnvelope(decodeEnvelope(ecies)))).toBe(hex(ecies));
  });

  const misuse: ReadonlyArray<readonly [string, Partial<Record<keyof Envelope, unknown>>, string]> = [
    ['format version 2', { formatVersion: 2 }, 'RangeError'],
    ['unknown algorithm', { algorithm: 'AES_128_GCM' }, 'RangeError'],
    ['provider not a string', { provider: 7 }, 'TypeError'],
    ['empty provider', { provider: '' }, 'RangeError'],
    ['provider of 33 characters', { provider: 'a'.repeat(33) }, 'RangeError'],
    ['provider with upper case', { provider: 'AWS' }, 'RangeError'],
    ['key id not a string', { keyId: null }, 'TypeError'],
    ['empty key id', { keyId: '' }, 'RangeError'],
    ['key id of 1025 characters', { keyId: 'k'.repeat(1025) }, 'RangeError'],
    ['key id with a space', { keyId: 'a b' }, 'RangeError'],
    ['key id with non-ASCII', { keyId: 'clé' }, 'RangeError'],
    ['key version -1', { keyVersion: -1 }, 'RangeError'],
    ['key version 2^32', { keyVersion: 2 ** 32 }, 'RangeError'],
    ['key version 1.5', { keyVersion: 1.5 }, 'RangeError'],
    ['key version as a string', { keyVersion: '1' }, 'RangeError'],
    ['encapsulated key not bytes', { encapsulatedKey: [] }, 'TypeError'],
    ['encapsulated key on a symmetric algorithm', { encapsulatedKey: new Uint8Array(1) }, 'RangeError'],
    ['ECIES without its point', { algorithm: 'ECIES_P256_HKDF_SHA256_AES_256_GCM' }, 'RangeError'],
    ['nonce not bytes', { nonce: 'nonce' }, 'TypeError'],
    ['nonce of 8 bytes', { nonce: new Uint8Array(8) }, 'RangeError'],
    ['ciphertext not bytes', { ciphertext: undefined }, 'TypeError'],
    ['ciphertext of 15 bytes', { ciphertext: new Uint8Array(15) }, 'RangeError'],
    ['ciphertext over 16 MiB', { ciphertext: new Uint8Array(MAX_ENVELOPE_CIPHERTEXT + 1) }, 'RangeError'],
  ];
  it.each(misuse)('refuses %s', (_title, overrides, expected) => {
    const envelope = { ...valid(), ...overrides } as unknown as Envelope;
    expect(thrownCode(() => encodeEnvelope(envelope))).toBe(expected);
  });

  it('refuses a non-object', () => {
    expect(thrownCode(() => encodeEnvelope(null as unknown as Envelope))).toBe('TypeError');
  });
});

// ---- properties ----

const providerArb = fc.stringMatching(/^[a-z0-9-]{1,32}$/);
const keyIdArb = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 1024 }),
);
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

function encapsulatedKeyArb(algorithm: EnvelopeAlgorithm): fc.Arbitrary<Uint8Array> {
  switch (algorithm) {
    case 'AES_256_GCM':
    case 'CHACHA20_POLY1305':
      return fc.constant(new Uint8Array(0));
    case 'ECIES_P256_HKDF_SHA256_AES_256_GCM':
      return bytes(65, 65);
    case 'RSA_OAEP_SHA256_AES_256_GCM':
      return bytes(256, 512);
    case 'KMS_AES_256_GCM':
      return bytes(1, 2048);
  }
}

const envelopeArb: fc.Arbitrary<Envelope> = fc
  .constantFrom(...ENVELOPE_ALGORITHMS)
  .chain((algorithm) =>
    fc.record({
      formatVersion: fc.constant(1 as const),
      algorithm: fc.constant(algorithm),
      provider: providerArb,
      keyId: keyIdArb,
      keyVersion: fc.nat({ max: 0xffff_ffff }),
      encapsulatedKey: encapsulatedKeyArb(algorithm),
      nonce: bytes(12, 12),
      ciphertext: bytes(16, 300),
    }),
  );

describe('codec properties', () => {
  it('decode(encode(e)) equals e, and encode(decode(b)) equals b, for arbitrary valid envelopes', () => {
    fc.assert(
      fc.property(envelopeArb, (envelope) => {
        const encoded = encodeEnvelope(envelope);
        const decoded = decodeEnvelope(encoded);
        expect({ ...decoded }).toEqual({ ...envelope });
        expect(hex(encodeEnvelope(decoded))).toBe(hex(encoded));
        const header = readEnvelopeHeader(encoded);
        expect(header).not.toHaveProperty('ciphertext');
        expect(header.keyId).toBe(envelope.keyId);
      }),
      { numRuns: 300 },
    );
  });

  function onlyFleetkeyErrors(input: Uint8Array): void {
    try {
      decodeEnvelope(input);
      readEnvelopeHeader(input, { maxCiphertextLength: 64 });
    } catch (error) {
      if (!isFleetkeyError(error)) throw error;
      expect(['ENVELOPE_MALFORMED', 'ENVELOPE_UNSUPPORTED']).toContain(error.code);
    }
  }

  it('never throws anything but a FleetkeyError on arbitrary bytes', () => {
    fc.assert(fc.property(bytes(0, 400), onlyFleetkeyErrors), { numRuns: 2000 });
  });

  it('never throws anything but a FleetkeyError on arbitrary bytes after a valid prefix', () => {
    const prefixes = [[0x46, 0x4b], [0x46, 0x4b, 0x01], [0x46, 0x4b, 0x01, 0x01], [0x46, 0x4b, 0x01, 0x10], [0x46, 0x4b, 0x01, 0x20], [0x46, 0x4b, 0x01, 0x30]];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), bytes(0, 600), (prefix, rest) => onlyFleetkeyErrors(Uint8Array.from([...prefix, ...rest]))),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but a FleetkeyError on valid envelopes with random byte edits', () => {
    fc.assert(
      fc.property(envelopeArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (envelope, edits) => {
        const encoded = encodeEnvelope(envelope);
        for (const [at, value] of edits) encoded[at % encoded.length] = value;
        onlyFleetkeyErrors(encoded);
      }),
      { numRuns: 1000 },
    );
  });
});
