/** Rendering: aligned tables, safe text, ISO times, PEM, enum names and JSON integers. */
import { X509Certificate } from 'node:crypto';
import { createCaCertificate, createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import { DeviceState, KeyAlgorithm } from '@fleetkey/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Printer, certificatePem, enumName, isoTime, jsonInteger, printable, renderFields, renderTable, tableTime } from './output.js';

describe('renderTable', () => {
  it('aligns columns, shows empty cells as "-", and leaves no trailing spaces', () => {
    const rows = [
      { id: 'robot-1', group: 'line-a', state: 'active' },
      { id: 'r2', group: '', state: 'revoked' },
    ];
    const text = renderTable(
      [
        { header: 'DEVICE', value: (r: (typeof rows)[number]) => r.id },
        { header: 'GROUP', value: (r) => r.group },
        { header: 'STATE', value: (r) => r.state },
      ],
      rows,
    );
    expect(text).toBe(['DEVICE   GROUP   STATE', 'robot-1  line-a  active', 'r2       -       revoked', ''].join('\n'));
  });

  it('prints the headers alone for an empty list', () => {
    expect(renderTable([{ header: 'A', value: () => 'x' }], [])).toBe('A\n');
  });

  it('Precondition: a hostile cell cannot break the layout or drive the terminal', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { minLength: 1, maxLength: 5 }), (cells) => {
        const text = renderTable([{ header: 'NAME', value: (c: string) => c }, { header: 'END', value: () => 'end' }], cells);
        // One line per row plus the header, and no control character survives.
        expect(text.split('\n')).toHaveLength(cells.length + 2);
        // eslint-disable-next-line no-control-regex
        expect(text.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      }),
    );
  });
});

describe('text and values', () => {
  it('printable replaces escapes, C1 controls and bidi overrides', () => {
    expect(printable('a\u001b[31mb\u009bc\u202ed')).toBe('a\ufffd[31mb\ufffdc\ufffdd');
  });

  it('renderFields aligns values after the longest label', () => {
    expect(renderFields([['Id', 'r1'], ['Long label', '']])).toBe('Id:          r1\nLong label:  -\n');
  });

  it('formats timestamps as ISO-8601, null or empty when unset', () => {
    const ts = { $typeName: 'google.protobuf.Timestamp' as const, seconds: BigInt(Date.parse('2030-06-15T12:00:00Z') / 1000), nanos: 5_000_000 };
    expect(isoTime(ts)).toBe('2030-06-15T12:00:00.005Z');
    expect(tableTime({ ...ts, nanos: 0 })).toBe('2030-06-15T12:00:00Z');
    expect(isoTime(undefined)).toBeNull();
    expect(tableTime(undefined)).toBe('');
    expect(isoTime({ ...ts, seconds: 10n ** 15n })).toBeNull();
  });

  it('names enum values, including unspecified and values this build does not know', () => {
    const states = DeviceState as unknown as Record<number, string>;
    expect(enumName(states, DeviceState.REVOKED)).toBe('revoked');
    expect(enumName(states, 0)).toBe('unspecified');
    expect(enumName(states, 42)).toBe('unknown(42)');
    expect(enumName(KeyAlgorithm as unknown as Record<number, string>, KeyAlgorithm.ECDSA_P256, { upper: true })).toBe('ECDSA_P256');
  });

  it('keeps uint64 values exact in JSON', () => {
    expect(jsonInteger(42n)).toBe(42);
    expect(jsonInteger(2n ** 53n - 1n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(jsonInteger(2n ** 53n)).toBe('9007199254740992');
  });

  it('encodes a DER certificate as PEM that parses back to the same bytes', async () => {
    const { privateKey } = await generateKeyPair('ECDSA_P256');
    const now = Date.now();
    const ca = await createCaCertificate({ signer: createLocalSigner(privateKey), fleet: 'acme', commonName: 'acme CA', notBefore: new Date(now), notAfter: new Date(now + 86_400_000) });
    const pem = certificatePem(ca.der);
    expect(pem).toBe(ca.pem);
    expect(Buffer.compare(new X509Certificate(pem).raw, Buffer.from(ca.der))).toBe(0);
  });
});

describe('Printer', () => {
  it('writes results to stdout and prefixed notes to stderr', () => {
    let out = '';
    let err = '';
    const printer = new Printer({ write: (t: string) => (out += t) }, { write: (t: string) => (err += t) }, 'json');
    printer.document({ a: 1 });
    printer.note('shown \u001b[2Jonce');
    expect(printer.json).toBe(true);
    expect(JSON.parse(out)).toEqual({ a: 1 });
    expect(err).toBe('fleetctl: shown \ufffd[2Jonce\n');
  });
});
