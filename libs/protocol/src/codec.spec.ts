import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from './codec.js';
import type { ScopeSchema } from './gen/fleetkey/v1/common_pb.js';
import { AuditRecordSchema } from './gen/fleetkey/v1/resources_pb.js';
import { CommandAction, CommandSchema, KeyBundleSchema, type Command } from './gen/fleetkey/v1/messages_pb.js';

const MAX = 16 * 1024;

type CommandOverrides = { reason?: string; fleet?: string; requestId?: string; scope?: MessageInitShape<typeof ScopeSchema> };

function command(overrides: CommandOverrides = {}): Command {
  return create(CommandSchema, {
    fleet: 'acme',
    sequence: 42n,
    issuedAt: timestampFromMs(1_700_000_000_000),
    expiresAt: timestampFromMs(1_700_000_600_000),
    scope: { fleet: 'acme', target: { case: 'group', value: 'lab' } },
    action: CommandAction.LOCKDOWN,
    reason: 'intrusion on line 3',
    wipe: true,
    requestId: 'req-1',
    ...overrides,
  });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('decodeMessage', () => {
  it('round-trips a command', () => {
    const bytes = encodeMessage(CommandSchema, command(), { maxBytes: MAX });
    const decoded = decodeMessage(CommandSchema, bytes, { maxBytes: MAX });
    expect(decoded).toEqual(command());
  });

  it('refuses bytes truncated inside the last field', () => {
    const bytes = toBinary(CommandSchema, command());
    // request_id is the last field written; cutting one byte leaves its length prefix unpaid.
    expect(codeOf(() => decodeMessage(CommandSchema, bytes.subarray(0, bytes.length - 1), { maxBytes: MAX }))).toBe('MESSAGE_MALFORMED');
    expect(codeOf(() => decodeMessage(CommandSchema, bytes.subarray(0, 7), { maxBytes: MAX }))).toBe('MESSAGE_MALFORMED');
  });

  it.each([
    ['a tag with no length', [0x0a]],
    ['a length past the end', [0x0a, 0x05, 0x61]],
    ['a varint with no body', [0x10]],
    ['an unterminated varint', [0x10, 0x80]],
    ['an over-long varint', [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['wire type 7', [0x0f]],
    ['field number 0', [0x00, 0x00]],
    ['an unclosed group', [0x0b]],
    ['invalid UTF-8 in a string', [0x0a, 0x02, 0xc3, 0x28]],
    ['all ones', [0xff, 0xff, 0xff, 0xff]],
  ])('refuses %s with MESSAGE_MALFORMED', (_name, bytes) => {
    expect(codeOf(() => decodeMessage(CommandSchema, Uint8Array.from(bytes), { maxBytes: MAX }))).toBe('MESSAGE_MALFORMED');
  });

  it('throws nothing but MESSAGE_MALFORMED on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        for (const schema of [CommandSchema, KeyBundleSchema, AuditRecordSchema]) {
          try {
            decodeMessage(schema, bytes, { maxBytes: MAX });
          } catch (error) {
            expect((error as { code?: string }).code).toBe('MESSAGE_MALFORMED');
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('Precondition: an input over maxBytes is refused before a single byte is parsed', () => {
    const bytes = toBinary(CommandSchema, command());
    expect(codeOf(() => decodeMessage(CommandSchema, bytes, { maxBytes: bytes.length - 1 }))).toBe('MESSAGE_MALFORMED');
    expect(decodeMessage(CommandSchema, bytes, { maxBytes: bytes.length }).fleet).toBe('acme');
  });

  it('refuses an invalid maxBytes as a programming error', () => {
    expect(() => decodeMessage(CommandSchema, new Uint8Array(), { maxBytes: -1 })).toThrow(RangeError);
    expect(() => decodeMessage(CommandSchema, new Uint8Array(), { maxBytes: Number.NaN })).toThrow(RangeError);
    expect(() => decodeMessage(CommandSchema, new Uint8Array(), {} as { maxBytes: number })).toThrow(RangeError);
  });

  it('refuses deeply nested unknown groups as MESSAGE_MALFORMED, not a crash', () => {
    // Field 50 as start-group (wire type 3) / end-group (4) tags, nested 100,000 deep.
    const depth = 100_000;
    const bytes = new Uint8Array(depth * 4);
    for (let i = 0; i < depth; i++) bytes.set([0x93, 0x03], i * 2);
    for (let i = 0; i < depth; i++) bytes.set([0x94, 0x03], depth * 2 + i * 2);
    expect(codeOf(() => decodeMessage(CommandSchema, bytes, { maxBytes: 1 << 20 }))).toBe('MESSAGE_MALFORMED');
  });

  describe('unknown fields', () => {
    const withUnknown = (): Uint8Array => {
      const known = toBinary(CommandSchema, command());
      const extra = new BinaryWriter().tag(99, WireType.LengthDelimited).string('from the future').finish();
      return Uint8Array.from([...known, ...extra]);
    };

    it('are dropped by default, so they are never carried along or re-emitted', () => {
      const decoded = decodeMessage(CommandSchema, withUnknown(), { maxBytes: MAX });
      expect(decoded.$unknown ?? []).toHaveLength(0);
      expect(toBinary(CommandSchema, decoded)).toEqual(toBinary(CommandSchema, command()));
    });

    it("Precondition: under 'reject', a message with an unknown field at any depth is refused", () => {
      expect(codeOf(() => decodeMessage(CommandSchema, withUnknown(), { maxBytes: MAX, unknownFields: 'reject' }))).toBe('MESSAGE_MALFORMED');
      // An unknown field inside the nested Scope (field 5).
      const scope = new BinaryWriter().tag(1, WireType.LengthDelimited).string('acme').tag(77, WireType.Varint).uint32(1).finish();
      const nested = new BinaryWriter().tag(5, WireType.LengthDelimited).bytes(scope).finish();
      expect(codeOf(() => decodeMessage(CommandSchema, nested, { maxBytes: MAX, unknownFields: 'reject' }))).toBe('MESSAGE_MALFORMED');
      expect(decodeMessage(CommandSchema, nested, { maxBytes: MAX }).scope?.fleet).toBe('acme');
      expect(decodeMessage(CommandSchema, toBinary(CommandSchema, command()), { maxBytes: MAX, unknownFields: 'reject' }).fleet).toBe('acme');
    });
  });

  describe('field limits', () => {
    const tooLong = (m: Command): string | undefined => codeOf(() => decodeMessage(CommandSchema, toBinary(CommandSchema, m), { maxBytes: MAX }));

    it('refuse a string over its byte limit, counting UTF-8 bytes', () => {
      expect(tooLong(command({ reason: 'x'.repeat(512) }))).toBeUndefined();
      expect(tooLong(command({ reason: 'x'.repeat(513) }))).toBe('MESSAGE_MALFORMED');
      // 171 euro signs are 171 UTF-16 units but 513 UTF-8 bytes.
      expect(tooLong(command({ reason: '€'.repeat(171) }))).toBe('MESSAGE_MALFORMED');
    });

    it('Precondition: a non-empty identifier field matches the identifier grammar (also inside a oneof)', () => {
      expect(tooLong(command({ fleet: 'ac/me' }))).toBe('MESSAGE_MALFORMED');
      expect(tooLong(command({ requestId: 'req#1' }))).toBe('MESSAGE_MALFORMED');
      expect(tooLong(command({ scope: { fleet: 'acme', target: { case: 'deviceId', value: '+' } } }))).toBe('MESSAGE_MALFORMED');
      expect(tooLong(command({ requestId: '' }))).toBeUndefined();
    });

    it('refuse a repeated field over its item limit and a bytes element over its byte limit', () => {
      const epochs = Array.from({ length: 33 }, (_, i) => ({ key: { keyId: 'communication/acme/fleet', version: i + 1 } }));
      const bundle = create(KeyBundleSchema, { fleet: 'acme', deviceId: 'r1', epochs });
      expect(codeOf(() => decodeMessage(KeyBundleSchema, toBinary(KeyBundleSchema, bundle), { maxBytes: 1 << 20 }))).toBe('MESSAGE_MALFORMED');
      bundle.epochs = bundle.epochs.slice(0, 32);
      expect(decodeMessage(KeyBundleSchema, toBinary(KeyBundleSchema, bundle), { maxBytes: 1 << 20 }).epochs).toHaveLength(32);
      bundle.epochs[0]!.wrappedKey = new Uint8Array(2049);
      expect(codeOf(() => decodeMessage(KeyBundleSchema, toBinary(KeyBundleSchema, bundle), { maxBytes: 1 << 20 }))).toBe('MESSAGE_MALFORMED');
    });

    it('refuse a map over its entry limit or with an over-long value', () => {
      const details = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
      const record = create(AuditRecordSchema, { action: 'device.revoke', details });
      expect(codeOf(() => decodeMessage(AuditRecordSchema, toBinary(AuditRecordSchema, record), { maxBytes: MAX }))).toBe('MESSAGE_MALFORMED');
      const long = create(AuditRecordSchema, { details: { k: 'v'.repeat(1025) } });
      expect(codeOf(() => decodeMessage(AuditRecordSchema, toBinary(AuditRecordSchema, long), { maxBytes: MAX }))).toBe('MESSAGE_MALFORMED');
    });
  });
});

describe('encodeMessage', () => {
  it('refuses to emit what the other side must refuse', () => {
    expect(codeOf(() => encodeMessage(CommandSchema, command({ reason: 'x'.repeat(513) }), { maxBytes: MAX }))).toBe('MESSAGE_MALFORMED');
    expect(codeOf(() => encodeMessage(CommandSchema, command(), { maxBytes: 10 }))).toBe('MESSAGE_MALFORMED');
  });

  it('accepts init objects', () => {
    const bytes = encodeMessage(CommandSchema, { fleet: 'acme', sequence: 1n }, { maxBytes: MAX });
    expect(decodeMessage(CommandSchema, bytes, { maxBytes: MAX }).sequence).toBe(1n);
  });
});
