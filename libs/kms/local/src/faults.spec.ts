/** Disk faults through the io seam, the errno -> KMS error table, rollback refusal, passphrase files. */
import { copyFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { localKmsProvider, mapIoError, nodeIo, type LocalKmsIo, type LocalKmsProvider } from './index.js';
import { LockTimeout } from './lock.js';
import { FaultInjector } from '@fleetkey/kms-emulators';
import { faultyIo } from './test-support/faulty-io.js';
import { TempDirs, codeOfAsync } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const open: LocalKmsProvider[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  dirs.removeAll();
});

const PASSPHRASE = 'faults test passphrase';

function errno(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(code);
  error.code = code;
  return error;
}

describe('mapIoError', () => {
  it.each([
    ['EAGAIN', 'THROTTLED', true],
    ['EBUSY', 'THROTTLED', true],
    ['EMFILE', 'THROTTLED', true],
    ['EIO', 'PROVIDER_UNAVAILABLE', true],
    ['ENOSPC', 'PROVIDER_UNAVAILABLE', true],
    ['EROFS', 'PROVIDER_UNAVAILABLE', true],
    ['ENOENT', 'PROVIDER_UNAVAILABLE', true],
    ['EACCES', 'ACCESS_DENIED', false],
    ['EPERM', 'ACCESS_DENIED', false],
  ])('%s -> %s (retryable %s)', (code, expected, retryable) => {
    const mapped = mapIoError(errno(code), 'wrap', 'k1') as { code: string; retryable: boolean; provider: string; keyId: string; operation: string };
    expect(mapped).toMatchObject({ code: expected, retryable, provider: 'local', keyId: 'k1', operation: 'wrap' });
  });

  it('a held lock is PROVIDER_UNAVAILABLE; TypeError and RangeError pass through', () => {
    expect((mapIoError(new LockTimeout(42), 'createKey') as { code: string }).code).toBe('PROVIDER_UNAVAILABLE');
    const bug = new TypeError('bug');
    expect(mapIoError(bug, 'wrap')).toBe(bug);
  });
});

describe('disk faults', () => {
  async function withIo(io: LocalKmsIo): Promise<LocalKmsProvider> {
    const provider = await localKmsProvider({ path: path.join(dirs.make(), 'keys.fkl'), passphrase: PASSPHRASE, create: true, io });
    open.push(provider);
    return provider;
  }

  it('ENOSPC while writing: PROVIDER_UNAVAILABLE, and neither the file nor the provider changed', async () => {
    let full = false;
    const io: LocalKmsIo = { ...nodeIo, writeExclusive: async (p, data, mode) => (full && p.endsWith('.tmp') ? Promise.reject(errno('ENOSPC')) : nodeIo.writeExclusive(p, data, mode)) };
    const provider = await withIo(io);
    const { keyId } = await provider.createKey({ spec: 'AES_256' });
    const before = readFileSync(provider.path);
    full = true;
    expect(await codeOfAsync(provider.createKey({ spec: 'AES_256' }))).toBe('PROVIDER_UNAVAILABLE');
    expect(await codeOfAsync(provider.rotateKey(keyId))).toBe('PROVIDER_UNAVAILABLE');
    expect(readFileSync(provider.path).equals(before)).toBe(true);
    expect((await provider.listKeys()).length).toBe(1);
    expect((await provider.describeKey(keyId)).currentVersion).toBe(1);
    full = false;
    expect((await provider.rotateKey(keyId)).currentVersion).toBe(2);
  });

  it('outage (EIO everywhere) is PROVIDER_UNAVAILABLE and health says not ok; throttling is THROTTLED; latency delays', async () => {
    const faults = new FaultInjector();
    const provider = await withIo(faultyIo(nodeIo, faults));
    const { keyId } = await provider.createKey({ spec: 'ED25519' });
    faults.set({ outage: true });
    expect(await codeOfAsync(provider.sign({ keyId, data: new Uint8Array(1) }))).toBe('PROVIDER_UNAVAILABLE');
    expect(await provider.health()).toMatchObject({ ok: false, detail: 'PROVIDER_UNAVAILABLE' });
    faults.set({ throttleRate: 1 });
    expect(await codeOfAsync(provider.describeKey(keyId))).toBe('THROTTLED');
    faults.set({ errorRate: 1 });
    expect(await codeOfAsync(provider.createKey({ spec: 'AES_256' }))).toBe('PROVIDER_UNAVAILABLE');
    faults.set({ latencyMs: 120 });
    const started = performance.now();
    await provider.describeKey(keyId);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    faults.reset();
    expect((await provider.health()).ok).toBe(true);
  });

  it('Precondition: a key file older than the one this process last saw is refused (rollback)', async () => {
    const provider = await withIo(nodeIo);
    await provider.createKey({ spec: 'AES_256' });
    const old = `${provider.path}.old`;
    copyFileSync(provider.path, old);
    await provider.createKey({ spec: 'AES_256' });
    copyFileSync(old, provider.path);
    expect(await codeOfAsync(provider.listKeys())).toBe('STORE_CORRUPT');
    // A fresh process has no memory of the newer file: that is what backups are for.
    const fresh = await localKmsProvider({ path: provider.path, passphrase: PASSPHRASE });
    open.push(fresh);
    expect((await fresh.listKeys()).length).toBe(1);
  });

  it('a symlink at the key-file path is refused, not followed', async () => {
    const provider = await withIo(nodeIo);
    const link = path.join(path.dirname(provider.path), 'link.fkl');
    symlinkSync(provider.path, link);
    expect(await codeOfAsync(localKmsProvider({ path: link, passphrase: PASSPHRASE }))).toBe('PROVIDER_UNAVAILABLE');
  });
});

describe('passphrase files', () => {
  it('Precondition: a passphrase file readable by group or others is refused before it is read', async () => {
    const dir = dirs.make();
    const file = path.join(dir, 'pass');
    writeFileSync(file, PASSPHRASE, { mode: 0o644 });
    expect(await codeOfAsync(localKmsProvider({ path: path.join(dir, 'k.fkl'), passphraseFile: file, create: true }))).toBe('INVALID_CONFIG');
  });

  it('refuses a missing file, a symlink and a too-short passphrase with INVALID_CONFIG; drops one trailing CRLF', async () => {
    const dir = dirs.make();
    const keyFile = path.join(dir, 'k.fkl');
    expect(await codeOfAsync(localKmsProvider({ path: keyFile, passphraseFile: path.join(dir, 'absent'), create: true }))).toBe('INVALID_CONFIG');
    const real = path.join(dir, 'real');
    writeFileSync(real, `${PASSPHRASE}\r\n`, { mode: 0o600 });
    symlinkSync(real, path.join(dir, 'link'));
    expect(await codeOfAsync(localKmsProvider({ path: keyFile, passphraseFile: path.join(dir, 'link'), create: true }))).toBe('INVALID_CONFIG');
    writeFileSync(path.join(dir, 'short'), 'short', { mode: 0o600 });
    expect(await codeOfAsync(localKmsProvider({ path: keyFile, passphraseFile: path.join(dir, 'short'), create: true }))).toBe('INVALID_CONFIG');
    const viaFile = await localKmsProvider({ path: keyFile, passphraseFile: real, create: true });
    open.push(viaFile);
    await viaFile.close();
    const viaValue = await localKmsProvider({ path: keyFile, passphrase: PASSPHRASE });
    open.push(viaValue);
    expect((await viaValue.health()).ok).toBe(true);
  });

  it('Precondition: a new key file is never protected by scrypt parameters weaker than log2N=15, r=8, p=1', async () => {
    const keyFile = path.join(dirs.make(), 'k.fkl');
    await expect(localKmsProvider({ path: keyFile, passphrase: PASSPHRASE, create: true, scrypt: { log2N: 14, r: 8, p: 1 } })).rejects.toThrow(RangeError);
  });
});
