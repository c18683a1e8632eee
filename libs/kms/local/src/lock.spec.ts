/** The writer lock and concurrent writers: real lock files, real child processes. */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { localKmsProvider, nodeIo, type LocalKmsProvider } from './index.js';
import { acquireWriterLock } from './lock.js';
import { TempDirs, codeOfAsync } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const open: LocalKmsProvider[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  dirs.removeAll();
});

const PASSPHRASE = 'lock test passphrase';
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WRITER = path.join(PACKAGE_ROOT, 'src', 'test-support', 'writer-process.ts');

function runWriter(keyFile: string, count: number): Promise<{ code: number | null; created: string[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, keyFile, PASSPHRASE, String(count)], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('exit', (code) => {
      const created = stdout.split('\n').filter((l) => l.startsWith('created ')).map((l) => l.slice('created '.length));
      resolve({ code, created, stderr });
    });
  });
}

async function makeFile(): Promise<LocalKmsProvider> {
  const provider = await localKmsProvider({ path: path.join(dirs.make(), 'keys.fkl'), passphrase: PASSPHRASE, create: true, lockTimeoutMs: 30_000 });
  open.push(provider);
  return provider;
}

describe('writer lock', () => {
  it('two processes and this one writing at once lose no key', async () => {
    const provider = await makeFile();
    const [a, b] = await Promise.all([
      runWriter(provider.path, 5),
      runWriter(provider.path, 5),
      (async () => {
        for (let i = 0; i < 5; i += 1) await provider.createKey({ spec: 'AES_256', tags: { writer: 'parent' } });
      })(),
    ]);
    expect([a!.code, a!.stderr]).toEqual([0, '']);
    expect([b!.code, b!.stderr]).toEqual([0, '']);
    const ids = (await provider.listKeys()).map((k) => k.keyId);
    expect(ids.length).toBe(15);
    for (const id of [...a!.created, ...b!.created]) expect(ids).toContain(id);
    // No lock and no temp file is left behind.
    expect(readdirSync(path.dirname(provider.path))).toEqual(['keys.fkl']);
  }, 60_000);

  it('a lock held by a live process makes a writer give up with PROVIDER_UNAVAILABLE, leaving the file as it was', async () => {
    const keyFile = path.join(dirs.make(), 'keys.fkl');
    const provider = await localKmsProvider({ path: keyFile, passphrase: PASSPHRASE, create: true, lockTimeoutMs: 100 });
    open.push(provider);
    const release = await acquireWriterLock(nodeIo, keyFile);
    try {
      expect(await codeOfAsync(provider.createKey({ spec: 'AES_256' }))).toBe('PROVIDER_UNAVAILABLE');
    } finally {
      await release();
    }
    expect(await provider.listKeys()).toEqual([]);
    await provider.createKey({ spec: 'AES_256' });
    expect(existsSync(`${keyFile}.lock`)).toBe(false);
  });

  it('a stale lock (its pid is dead) is broken and the write goes ahead', async () => {
    const provider = await makeFile();
    writeFileSync(`${provider.path}.lock`, `fleetkey-local-kms-lock v1 pid=999999 token=${'ab'.repeat(16)}\n`, { mode: 0o600 });
    const alive = await localKmsProvider({ path: provider.path, passphrase: PASSPHRASE, isProcessAlive: (pid) => pid !== 999999, lockTimeoutMs: 2_000 });
    open.push(alive);
    await alive.createKey({ spec: 'AES_256' });
    expect((await provider.listKeys()).length).toBe(1);
    expect(readdirSync(path.dirname(provider.path))).toEqual(['keys.fkl']);
  });

  it('an unparseable lock is treated as held, never broken', async () => {
    const keyFile = path.join(dirs.make(), 'keys.fkl');
    const provider = await localKmsProvider({ path: keyFile, passphrase: PASSPHRASE, create: true, lockTimeoutMs: 100, isProcessAlive: () => false });
    open.push(provider);
    writeFileSync(`${keyFile}.lock`, 'garbage', { mode: 0o600 });
    expect(await codeOfAsync(provider.createKey({ spec: 'AES_256' }))).toBe('PROVIDER_UNAVAILABLE');
    expect(existsSync(`${keyFile}.lock`)).toBe(true);
  });
});
