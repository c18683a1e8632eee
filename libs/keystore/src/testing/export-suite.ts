/**
 * Conformance: exportRecords / importRecords (backups), with an export key and with a caller's
 * wrap / unwrap, all-or-nothing import, and refusal of a wrong key.
 *
 * Trust boundary: test-only.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesEqual, codeOf, commId, idOf, record } from './fixtures.js';
import type { SuiteContext } from './context.js';

export function exportSuite(ctx: SuiteContext): void {
  describe('export / import', () => {
    it('round-trips every record through an export key into another store', async () => {
      const source = await ctx.newStore();
      const a = record(commId('fleet', 1), { tags: { group: 'north' }, notAfter: new Date(Date.UTC(2031, 0, 1)) });
      const b = record(idOf('storage', 'acme', 'disk', 1), { algorithm: 'CHACHA20_POLY1305', tags: { escrow: 'yes' } });
      source.put(a);
      source.put(b);
      source.put(record(commId('fleet', 2), { state: 'pending' }));
      source.transition(commId('fleet', 2), 2, 'destroyed');
      const exportKey = new Uint8Array(randomBytes(32));
      const exported = source.exportRecords({ exportKey });
      expect(exported).toHaveLength(3);
      for (const item of exported) {
        if (item.wrappedMaterial) {
          expect(Buffer.from(item.wrappedMaterial).includes(Buffer.from(a.material))).toBe(false);
        }
      }
      expect(exported.find((r) => r.keyId.version === 2)?.wrappedMaterial).toBeUndefined();

      const target = await ctx.newStore();
      expect(target.importRecords(exported, { exportKey })).toEqual({ imported: 3, skipped: 0 });
      expect(bytesEqual(target.get(commId('fleet', 1), 1).material, a.material)).toBe(true);
      expect(bytesEqual(target.get(b.keyId, 1).material, b.material)).toBe(true);
      expect(target.getMeta(commId('fleet', 1), 1)).toEqual(source.getMeta(commId('fleet', 1), 1));
      expect(target.getMeta(commId('fleet', 2), 2).materialDestroyed).toBe(true);
    });

    it('Precondition: a kind whose policy says its secret never leaves home is never exported', async () => {
      const source = await ctx.newStore();
      source.put(record(idOf('device-identity', 'acme', 'robot', 1)));
      source.put(record(commId('fleet', 1)));
      const exportKey = new Uint8Array(32).fill(5);
      const exported = source.exportRecords({ exportKey });
      expect(exported.map((r) => r.keyId.kind)).toEqual(['communication']);
      const target = await ctx.newStore();
      const forged = { ...exported[0]!, keyId: idOf('device-identity', 'acme', 'robot', 1), algorithm: 'ECDSA_P256' as const };
      expect(codeOf(() => target.importRecords([forged], { exportKey }))).toBe('RangeError');
      expect(target.list()).toEqual([]);
    });

    it('export honours a filter', async () => {
      const source = await ctx.newStore();
      source.put(record(commId('fleet', 1)));
      source.put(record(idOf('storage', 'acme', 'disk', 1)));
      expect(source.exportRecords({ exportKey: new Uint8Array(32).fill(1), filter: { kind: 'storage' } })).toHaveLength(1);
    });

    it('round-trips through a caller wrap / unwrap', async () => {
      const source = await ctx.newStore();
      const a = record(commId('fleet', 1));
      source.put(a);
      const xor = (bytes: Uint8Array) => bytes.map((x) => x ^ 0x5a);
      const exported = source.exportRecords({ wrap: (material) => xor(material) });
      const target = await ctx.newStore();
      target.importRecords(exported, { unwrap: (wrapped) => xor(wrapped) });
      expect(bytesEqual(target.get(commId('fleet', 1), 1).material, a.material)).toBe(true);
    });

    it('a wrong export key is DECRYPTION_FAILED and imports nothing', async () => {
      const source = await ctx.newStore();
      source.put(record(commId('fleet', 1)));
      const exported = source.exportRecords({ exportKey: new Uint8Array(32).fill(1) });
      const target = await ctx.newStore();
      expect(codeOf(() => target.importRecords(exported, { exportKey: new Uint8Array(32).fill(2) }))).toBe('DECRYPTION_FAILED');
      expect(target.list()).toEqual([]);
    });

    it('an exported record moved to another id fails to import (the wrap binds the id)', async () => {
      const source = await ctx.newStore();
      source.put(record(commId('fleet', 1)));
      const exportKey = new Uint8Array(32).fill(3);
      const [item] = source.exportRecords({ exportKey });
      const target = await ctx.newStore();
      expect(codeOf(() => target.importRecords([{ ...item!, keyId: commId('other', 1) }], { exportKey }))).toBe('DECRYPTION_FAILED');
    });

    it('import is all or nothing: one existing record -> KEY_EXISTS and nothing imported; skip mode skips it', async () => {
      const source = await ctx.newStore();
      source.put(record(commId('fleet', 1)));
      source.put(record(commId('fleet', 2)));
      const exportKey = new Uint8Array(32).fill(4);
      const exported = source.exportRecords({ exportKey });
      const target = await ctx.newStore();
      target.put(record(commId('fleet', 2)));
      expect(codeOf(() => target.importRecords(exported, { exportKey }))).toBe('KEY_EXISTS');
      expect(target.list()).toHaveLength(1);
      expect(target.importRecords(exported, { exportKey }, { onExisting: 'skip' })).toEqual({ imported: 1, skipped: 1 });
      expect(target.list()).toHaveLength(2);
    });

    it('refuses an export key that is not 32 bytes (RangeError)', async () => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.exportRecords({ exportKey: new Uint8Array(16) }))).toBe('RangeError');
      expect(codeOf(() => store.importRecords([], { exportKey: new Uint8Array(31) }))).toBe('RangeError');
    });
  });
}
