/**
 * Conformance: put / get / getMeta / latest / list / transition / setTags / secureDelete.
 *
 * Trust boundary: test-only.
 */
import { describe, expect, it } from 'vitest';
import { keyId, versionedKeyId, type VersionedKeyId } from '@fleetkey/key-types';
import { MAX_MATERIAL_LENGTH } from '../constants.js';
import { bytesEqual, codeOf, commId, idOf, record } from './fixtures.js';
import type { SuiteContext } from './context.js';

export function recordsSuite(ctx: SuiteContext): void {
  describe('put / get', () => {
    it('round-trips material, algorithm, state, public key, window and tags', async () => {
      const store = await ctx.newStore();
      const id = idOf('device-identity', 'acme', 'robot-7', 1);
      const input = record(id, {
        algorithm: 'ECDSA_P256',
        material: new Uint8Array([1, 2, 3, 4, 5]),
        publicKey: new Uint8Array([9, 8, 7]),
        notBefore: new Date(Date.UTC(2029, 0, 1)),
        notAfter: new Date(Date.UTC(2031, 0, 1)),
        tags: { role: 'identity', 'serial:no': 'SN-1' },
      });
      const meta = store.put(input);
      expect(meta.keyId).toEqual(id);
      expect(meta.createdAt.getTime()).toBe(ctx.clock().ms);
      const got = store.get(keyId('device-identity', 'acme', 'robot-7'), 1);
      expect(bytesEqual(got.material, input.material)).toBe(true);
      expect(got.algorithm).toBe('ECDSA_P256');
      expect(got.state).toBe('active');
      expect(bytesEqual(got.publicKey!, new Uint8Array([9, 8, 7]))).toBe(true);
      expect(got.notBefore?.getTime()).toBe(Date.UTC(2029, 0, 1));
      expect(got.notAfter?.getTime()).toBe(Date.UTC(2031, 0, 1));
      expect(got.tags).toEqual({ role: 'identity', 'serial:no': 'SN-1' });
      expect(got.materialDestroyed).toBe(false);
    });

    it('keeps no reference to the caller buffer and hands out a fresh one each get', async () => {
      const store = await ctx.newStore();
      const id = commId('fleet', 1);
      const material = new Uint8Array(32).fill(0x42);
      store.put(record(id, { material }));
      material.fill(0); // the caller zeroizes its copy, as documented
      const first = store.get(id, 1);
      expect(first.material.every((b) => b === 0x42)).toBe(true);
      first.material.fill(0); // and zeroizes what it got
      expect(store.get(id, 1).material.every((b) => b === 0x42)).toBe(true);
    });

    it('refuses a second put of the same id and version (KEY_EXISTS) and keeps the original', async () => {
      const store = await ctx.newStore();
      const id = commId('fleet', 1);
      const original = record(id, { material: new Uint8Array(32).fill(1) });
      store.put(original);
      expect(codeOf(() => store.put(record(id, { material: new Uint8Array(32).fill(2) })))).toBe('KEY_EXISTS');
      expect(store.get(id, 1).material.every((b) => b === 1)).toBe(true);
    });

    it('stores versions of one key side by side', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { material: new Uint8Array(32).fill(1) }));
      store.put(record(commId('fleet', 2), { material: new Uint8Array(32).fill(2) }));
      expect(store.get(commId('fleet', 1), 1).material[0]).toBe(1);
      expect(store.get(commId('fleet', 2), 2).material[0]).toBe(2);
    });

    it('get / getMeta of a missing key is KEY_NOT_FOUND', async () => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.get(commId('nope', 1), 1))).toBe('KEY_NOT_FOUND');
      expect(codeOf(() => store.getMeta(commId('nope', 1), 1))).toBe('KEY_NOT_FOUND');
    });

    it('getMeta carries no material', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1)));
      expect('material' in store.getMeta(commId('fleet', 1), 1)).toBe(false);
    });

    it.each([
      ['an algorithm the kind does not allow', () => record(commId('fleet', 1), { algorithm: 'RSA_2048' }), 'UNSUPPORTED_ALGORITHM'],
      ['an unknown algorithm', () => record(commId('fleet', 1), { algorithm: 'DES' as never }), 'UNSUPPORTED_ALGORITHM'],
      ['a forged key id', () => record({ kind: 'communication', fleet: 'a/b', name: 'x', version: 1 } as VersionedKeyId), 'INVALID_KEY_ID'],
      ['version 0', () => record({ kind: 'communication', fleet: 'acme', name: 'x', version: 0 } as VersionedKeyId), 'INVALID_KEY_ID'],
      ['empty material', () => record(commId('fleet', 1), { material: new Uint8Array(0) }), 'RangeError'],
      ['oversized material', () => record(commId('fleet', 1), { material: new Uint8Array(MAX_MATERIAL_LENGTH + 1) }), 'RangeError'],
      ['material that is not bytes', () => record(commId('fleet', 1), { material: 'secret' as never }), 'TypeError'],
      ['an unknown state', () => record(commId('fleet', 1), { state: 'zombie' as never }), 'RangeError'],
      ['state destroyed', () => record(commId('fleet', 1), { state: 'destroyed' }), 'RangeError'],
      ['notBefore after notAfter', () => record(commId('fleet', 1), { notBefore: new Date(2), notAfter: new Date(1) }), 'RangeError'],
      ['an invalid tag name', () => record(commId('fleet', 1), { tags: { 'Bad Tag': 'x' } }), 'RangeError'],
      ['a tag value that is not a string', () => record(commId('fleet', 1), { tags: { ok: 1 as never } }), 'RangeError'],
      ['too many tags', () => record(commId('fleet', 1), { tags: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`t${i}`, 'v'])) }), 'RangeError'],
    ])('put refuses %s', async (_title, make, code) => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.put(make()))).toBe(code);
      expect(store.list()).toEqual([]);
    });
  });

  describe('latest / list', () => {
    it('latest returns the highest version, optionally in a state, or undefined', async () => {
      const store = await ctx.newStore();
      const base = keyId('communication', 'acme', 'fleet');
      expect(store.latest(base)).toBeUndefined();
      store.put(record(commId('fleet', 1), { state: 'active' }));
      store.put(record(commId('fleet', 2), { state: 'pending' }));
      store.put(record(commId('other', 5), { state: 'active' }));
      expect(store.latest(base)?.keyId.version).toBe(2);
      expect(store.latest(base, 'active')?.keyId.version).toBe(1);
      expect(store.latest(base, 'retiring')).toBeUndefined();
    });

    it('list filters by kind, state, fleet and tag, ordered by id and version', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 2), { tags: { group: 'north' } }));
      store.put(record(commId('fleet', 1), { state: 'retiring', tags: { group: 'south' } }));
      store.put(record(commId('fleet', 1, 'globex'), { tags: { group: 'north' } }));
      store.put(record(idOf('storage', 'acme', 'disk', 1)));
      const ids = (filter: Parameters<typeof store.list>[0]) =>
        store.list(filter).map((m) => `${m.keyId.kind}/${m.keyId.fleet}/${m.keyId.name}@${m.keyId.version}`);
      expect(ids({})).toEqual(['communication/acme/fleet@1', 'communication/acme/fleet@2', 'communication/globex/fleet@1', 'storage/acme/disk@1']);
      expect(ids({ kind: 'storage' })).toEqual(['storage/acme/disk@1']);
      expect(ids({ state: 'retiring' })).toEqual(['communication/acme/fleet@1']);
      expect(ids({ fleet: 'globex' })).toEqual(['communication/globex/fleet@1']);
      expect(ids({ tag: { name: 'group' } })).toHaveLength(3);
      expect(ids({ tag: { name: 'group', value: 'north' }, fleet: 'acme' })).toEqual(['communication/acme/fleet@2']);
      expect(ids({ tag: { name: 'absent' } })).toEqual([]);
      expect(ids({ limit: 2 })).toHaveLength(2);
    });

    it.each([
      ['an unknown kind', { kind: 'nope' }],
      ['an unknown state', { state: 'nope' }],
      ['an invalid fleet', { fleet: 'a/b' }],
      ['an invalid tag name', { tag: { name: 'A B' } }],
      ['a zero limit', { limit: 0 }],
    ])('list refuses %s (RangeError)', async (_title, filter) => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.list(filter as never))).toBe('RangeError');
    });
  });

  describe('transition', () => {
    it('applies a legal transition and stamps updatedAt from the clock', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { state: 'pending' }));
      ctx.clock().advance(60_000);
      const meta = store.transition(commId('fleet', 1), 1, 'active');
      expect(meta.state).toBe('active');
      expect(meta.updatedAt.getTime()).toBe(ctx.clock().ms);
      expect(meta.createdAt.getTime()).toBe(ctx.clock().ms - 60_000);
    });

    it.each([
      ['pending', 'retiring'],
      ['active', 'pending'],
      ['active', 'expired'],
      ['retiring', 'active'],
      ['revoked', 'active'],
    ] as const)('refuses %s -> %s (ILLEGAL_STATE_TRANSITION) and changes nothing', async (from, to) => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { state: from }));
      const before = store.getMeta(commId('fleet', 1), 1);
      ctx.clock().advance(1000);
      expect(codeOf(() => store.transition(commId('fleet', 1), 1, to))).toBe('ILLEGAL_STATE_TRANSITION');
      expect(store.getMeta(commId('fleet', 1), 1)).toEqual(before);
    });

    it('transition of a missing key is KEY_NOT_FOUND', async () => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.transition(commId('fleet', 1), 1, 'active'))).toBe('KEY_NOT_FOUND');
    });

    it('reaching destroyed erases the material and keeps a tombstone', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { state: 'active' }));
      store.transition(commId('fleet', 1), 1, 'revoked');
      const meta = store.transition(commId('fleet', 1), 1, 'destroyed');
      expect(meta.state).toBe('destroyed');
      expect(meta.materialDestroyed).toBe(true);
      expect(codeOf(() => store.get(commId('fleet', 1), 1))).toBe('KEY_NOT_USABLE');
      expect(store.list({ state: 'destroyed' })).toHaveLength(1);
    });
  });

  describe('tags', () => {
    it('setTags replaces every tag and list follows', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { tags: { group: 'north', keep: 'no' } }));
      const meta = store.setTags(commId('fleet', 1), 1, { group: 'south' });
      expect(meta.tags).toEqual({ group: 'south' });
      expect(store.list({ tag: { name: 'group', value: 'north' } })).toEqual([]);
      expect(store.list({ tag: { name: 'group', value: 'south' } })).toHaveLength(1);
      expect(store.list({ tag: { name: 'keep' } })).toEqual([]);
    });

    it('setTags on a missing key is KEY_NOT_FOUND; invalid tags are RangeError and change nothing', async () => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.setTags(commId('fleet', 1), 1, {}))).toBe('KEY_NOT_FOUND');
      store.put(record(commId('fleet', 1), { tags: { a: '1' } }));
      expect(codeOf(() => store.setTags(commId('fleet', 1), 1, { 'no spaces': 'x' }))).toBe('RangeError');
      expect(store.getMeta(commId('fleet', 1), 1).tags).toEqual({ a: '1' });
    });
  });

  describe('secureDelete', () => {
    it('removes the record and its tags; a second delete is KEY_NOT_FOUND', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { tags: { group: 'north' } }));
      store.put(record(commId('fleet', 2)));
      store.secureDelete(commId('fleet', 1), 1);
      expect(codeOf(() => store.get(commId('fleet', 1), 1))).toBe('KEY_NOT_FOUND');
      expect(store.list({ tag: { name: 'group' } })).toEqual([]);
      expect(store.list()).toHaveLength(1);
      expect(codeOf(() => store.secureDelete(commId('fleet', 1), 1))).toBe('KEY_NOT_FOUND');
      // the id can be used again once deleted
      store.put(record(versionedKeyId('communication', 'acme', 'fleet', 1)));
    });
  });
}
