/**
 * The agent state on a real SecureKeyStore in a temp dir: typed round trips, the chunked
 * revocation list (and its digest check), and strict parsing of what is read back.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFleetkeyError } from '@fleetkey/key-types';
import { SecureKeyStore } from '@fleetkey/keystore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentState } from './agent-state.js';
import { agentPaths, agentProtector } from './layout.js';
import { REVOCATION_CHUNK_BYTES, readRevocationList } from './revocation-store.js';
import { VALUE_NAMES, identitySchema, lockSchema, parseStoredJson, sequencesSchema } from './values.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fk-agent-state-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withState<T>(work: (state: AgentState) => T): Promise<T> {
  const paths = agentPaths(dir);
  const state = await AgentState.open(paths.keystore, agentProtector(paths)).catch(() => AgentState.create(paths.keystore, agentProtector(paths)));
  try {
    return work(state);
  } finally {
    state.close();
  }
}

describe('AgentState', () => {
  it('is not provisioned, unlocked and never contacted when empty', async () => {
    await withState((state) => {
      expect(state.identity()).toBeUndefined();
      expect(state.lock()).toEqual({ locked: false, sequence: null, since: null });
      expect(state.contact()).toEqual({ lastContact: null, offlineSince: null });
      expect(state.revocationList()).toBeUndefined();
    });
  });

  it('round-trips sequences (64-bit command sequence), lock and contact across a reopen', async () => {
    const since = new Date('2026-01-02T03:04:05.000Z');
    await withState((state) => {
      state.setSequences({ command: 18_446_744_073_709_551_615n, keyBundle: 7, manifests: new Map([['communication/acme/fleet', 3]]) });
      state.setLock({ locked: true, sequence: 42n, since });
      state.setContact({ lastContact: since, offlineSince: null });
    });
    await withState((state) => {
      const sequences = state.sequences();
      expect(sequences.command).toBe(18_446_744_073_709_551_615n);
      expect(sequences.keyBundle).toBe(7);
      expect([...sequences.manifests]).toEqual([['communication/acme/fleet', 3]]);
      expect(state.lock()).toEqual({ locked: true, sequence: 42n, since });
      expect(state.contact()).toEqual({ lastContact: since, offlineSince: null });
    });
  });

  it('stores epochs as communication key records in their manifest state', async () => {
    const key = randomBytes(32);
    await withState((state) => {
      state.putEpoch({ keyId: 'communication/acme/fleet', version: 2, state: 'pending', notBefore: 1_000, notAfter: 2_000, key });
      state.putEpoch({ keyId: 'communication/acme/fleet', version: 1, state: 'active', notBefore: 0, notAfter: 1_500, key });
      expect(() => state.putEpoch({ keyId: 'storage/acme/fleet', version: 1, state: 'active', notBefore: 0, notAfter: 1, key })).toThrow(RangeError);
      expect(state.epochs().map((e) => [e.keyId.version, e.state, e.notAfter?.getTime()])).toEqual([
        [1, 'active', 1_500],
        [2, 'pending', 2_000],
      ]);
    });
  });

  it('splits a large revocation list into chunks and reads it back whole; a replacement removes the old chunks', async () => {
    const big = randomBytes(REVOCATION_CHUNK_BYTES * 2 + 123);
    const small = randomBytes(100);
    await withState((state) => {
      state.setRevocationList({ sequence: 5n, signed: big });
      expect(Buffer.from(state.revocationList()!.signed)).toEqual(big);
      state.setRevocationList({ sequence: 6n, signed: small });
    });
    const paths = agentPaths(dir);
    const store = await SecureKeyStore.open(paths.keystore, agentProtector(paths));
    try {
      expect(store.getValue(`${VALUE_NAMES.revocationList}.g1.0`)).toBeUndefined();
      expect(store.getValue(`${VALUE_NAMES.revocationList}.g1.2`)).toBeUndefined();
      const list = readRevocationList(store)!;
      expect(list.sequence).toBe(6n);
      expect(Buffer.from(list.signed)).toEqual(small);
    } finally {
      store.close();
    }
  });

  it('Precondition: a revocation list whose chunk was changed is refused (digest), not returned', async () => {
    await withState((state) => state.setRevocationList({ sequence: 1n, signed: randomBytes(500) }));
    const paths = agentPaths(dir);
    const store = await SecureKeyStore.open(paths.keystore, agentProtector(paths));
    try {
      store.setValue(`${VALUE_NAMES.revocationList}.g1.0`, randomBytes(500));
      const error = (() => {
        try {
          readRevocationList(store);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(isFleetkeyError(error, 'STORE_CORRUPT')).toBe(true);
    } finally {
      store.close();
    }
  });

  it('refuses a wrong key file (STORE_KEY_INVALID)', async () => {
    await withState(() => undefined);
    const other = join(dir, 'other');
    const paths = agentPaths(dir);
    // Another store's key file, swapped in: a valid key file, but not this store's key.
    await mkdir(other);
    const second = await AgentState.create(agentPaths(other).keystore, agentProtector(agentPaths(other)));
    second.close();
    await rm(paths.keyFile);
    await copyFile(agentPaths(other).keyFile, paths.keyFile);
    const error = await AgentState.open(paths.keystore, agentProtector(paths)).then((s) => (s.close(), undefined), (e: unknown) => e);
    expect(isFleetkeyError(error, 'STORE_KEY_INVALID')).toBe(true);
  });

  it('opens with a passphrase protector instead of a key file', async () => {
    const paths = agentPaths(dir);
    const passphrase = Buffer.from('correct horse battery staple');
    const created = await AgentState.create(paths.keystore, agentProtector(paths, { passphrase }));
    created.setContact({ lastContact: new Date(0), offlineSince: null });
    created.close();
    const reopened = await AgentState.open(paths.keystore, agentProtector(paths, { passphrase }));
    expect(reopened.contact().lastContact).toEqual(new Date(0));
    reopened.close();
    const wrong = await AgentState.open(paths.keystore, agentProtector(paths, { passphrase: Buffer.from('wrong passphrase!') })).then((s) => (s.close(), undefined), (e: unknown) => e);
    expect(isFleetkeyError(wrong, 'STORE_KEY_INVALID')).toBe(true);
  });
});

describe('strict parsing of stored values', () => {
  const goodIdentity = { format: 1, fleet: 'acme', group: null, deviceId: 'robot-1', keyAlgorithm: 'ECDSA_P256', serialNumber: '', provisionedAt: '2026-01-01T00:00:00.000Z' };
  const cases: [string, unknown, Parameters<typeof parseStoredJson>[2]][] = [
    ['not text', new Uint8Array([1]), identitySchema],
    ['not JSON', '{', identitySchema],
    ['an unknown field', JSON.stringify({ ...goodIdentity, extra: 1 }), identitySchema],
    ['a newer format', JSON.stringify({ ...goodIdentity, format: 2 }), identitySchema],
    ['a bad device id', JSON.stringify({ ...goodIdentity, deviceId: '../x' }), identitySchema],
    ['a refused algorithm', JSON.stringify({ ...goodIdentity, keyAlgorithm: 'RSA_1024' }), identitySchema],
    ['a non-ISO time', JSON.stringify({ ...goodIdentity, provisionedAt: 'yesterday' }), identitySchema],
    ['a command sequence over 2^64-1', JSON.stringify({ command: '18446744073709551616', keyBundle: 0, manifests: {} }), sequencesSchema],
    ['a command sequence with a leading zero', JSON.stringify({ command: '01', keyBundle: 0, manifests: {} }), sequencesSchema],
    ['a negative bundle sequence', JSON.stringify({ command: '0', keyBundle: -1, manifests: {} }), sequencesSchema],
    ['a lock flag as a string', JSON.stringify({ locked: 'yes', sequence: null, since: null }), lockSchema],
  ];
  it.each(cases)('refuses %s with STORE_CORRUPT, without echoing the value', (_name, value, schema) => {
    let caught: unknown;
    try {
      parseStoredJson('agent.test', value, schema);
    } catch (error) {
      caught = error;
    }
    expect(isFleetkeyError(caught, 'STORE_CORRUPT')).toBe(true);
    expect((caught as Error).message).not.toContain('robot');
  });

  it('accepts the good identity', () => {
    expect(parseStoredJson('agent.identity', JSON.stringify(goodIdentity), identitySchema).deviceId).toBe('robot-1');
  });
});
