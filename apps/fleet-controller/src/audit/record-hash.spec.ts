/**
 * Known-answer vectors for the audit record encoding and the head signing input. The expected
 * digests were computed independently (Python hashlib/struct from the layout in record-hash.ts);
 * a change here breaks every stored chain.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_PREV_HASH, encodeAuditRecord, hashAuditRecord, headSigningInput } from './record-hash.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const FIRST = {
  sequence: 1,
  time: Date.UTC(2026, 0, 1),
  actor: 'op-1',
  action: 'device.enroll',
  fleetId: 'alpha',
  deviceId: 'robot-7',
  keyRef: null,
  result: 'ok',
  errorCode: null,
  detailsJson: '{"group":"g1","serial":"SN-1"}',
  prevHash: GENESIS_PREV_HASH,
};
const FIRST_HASH = '5327920e774511df28c37155ecfea7c3d463d2bbab4af85a9604c54b81fd3bcb';
const SECOND_HASH = '964db13889152d9fb1e9012c9cc3239b4bb2ad50245a78a1637132196d962a6b';

describe('audit record hash', () => {
  it('matches the known-answer vectors (genesis and a chained record)', () => {
    expect(hex(hashAuditRecord(FIRST))).toBe(FIRST_HASH);
    const second = {
      sequence: 2,
      time: Date.UTC(2026, 0, 1) + 1,
      actor: 'system',
      action: 'token.burn',
      fleetId: 'alpha',
      deviceId: null,
      keyRef: 'local:k/1',
      result: 'denied',
      errorCode: 'TOKEN_USED',
      detailsJson: '{}',
      prevHash: Buffer.from(FIRST_HASH, 'hex'),
    };
    expect(hex(hashAuditRecord(second))).toBe(SECOND_HASH);
  });

  it('head signing input is domain-separated and matches its vector', () => {
    const input = headSigningInput(2, Buffer.from(SECOND_HASH, 'hex'));
    expect(Buffer.from(input.subarray(0, 23)).toString('latin1')).toBe('fleetkey/v1 audit-head\u0000');
    expect(hex(createHash('sha256').update(input).digest())).toBe('7ba912cf9e42c5ca40992ceea74376e17f71a35ea4757b66fb4b1187bc6b5c37');
  });

  it('is unambiguous: moving bytes between fields or absent vs empty changes the hash', () => {
    const base = hex(hashAuditRecord(FIRST));
    expect(hex(hashAuditRecord({ ...FIRST, actor: 'op-1d', action: 'evice.enroll' }))).not.toBe(base);
    expect(hex(hashAuditRecord({ ...FIRST, keyRef: '' }))).not.toBe(base);
    expect(hex(hashAuditRecord({ ...FIRST, fleetId: null, deviceId: 'alpha' }))).not.toBe(base);
    expect(encodeAuditRecord({ ...FIRST, keyRef: '' }).length).toBe(encodeAuditRecord(FIRST).length + 4);
  });

  it('rejects a malformed prev_hash or sequence', () => {
    expect(() => hashAuditRecord({ ...FIRST, prevHash: new Uint8Array(31) })).toThrow(RangeError);
    expect(() => hashAuditRecord({ ...FIRST, sequence: -1 })).toThrow(RangeError);
    expect(() => headSigningInput(1, new Uint8Array(33))).toThrow(RangeError);
  });
});
