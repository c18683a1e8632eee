/** The `file` protector on real files: 0600 on create, refusals on unlock. */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../test-support/temp-dir.js';
import { fileProtector } from './file.js';

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

describe('file protector', () => {
  it('creates a 32-byte key file with mode 0600 and unlocks it', async () => {
    const keyFile = path.join(dirs.make(), 'store.key');
    const protector = fileProtector({ keyFile });
    const { storeKey, descriptor } = await protector.create();
    expect(descriptor).toEqual({ kind: 'file' });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(keyFile)).equals(Buffer.from(storeKey))).toBe(true);
    expect(Buffer.from(await protector.unlock(descriptor)).equals(Buffer.from(storeKey))).toBe(true);
  });

  it('Precondition: create refuses an existing key file (STORE_EXISTS) and leaves it as it was', async () => {
    const keyFile = path.join(dirs.make(), 'store.key');
    writeFileSync(keyFile, 'existing');
    expect(await codeOfAsync(fileProtector({ keyFile }).create())).toBe('STORE_EXISTS');
    expect(readFileSync(keyFile, 'utf8')).toBe('existing');
  });

  it.each([0o640, 0o604, 0o644, 0o660, 0o602])(
    'Precondition: a key file readable by group or others is refused before it is read (mode %o -> KEY_FILE_INSECURE)',
    async (mode) => {
      const keyFile = path.join(dirs.make(), 'store.key');
      const protector = fileProtector({ keyFile });
      const { descriptor } = await protector.create();
      chmodSync(keyFile, mode);
      expect(await codeOfAsync(protector.unlock(descriptor))).toBe('KEY_FILE_INSECURE');
    },
  );

  it('refuses a symlink in place of the key file (KEY_FILE_INSECURE)', async () => {
    const dir = dirs.make();
    const real = path.join(dir, 'real.key');
    writeFileSync(real, randomBytes(32), { mode: 0o600 });
    const keyFile = path.join(dir, 'store.key');
    symlinkSync(real, keyFile);
    expect(await codeOfAsync(fileProtector({ keyFile }).unlock({ kind: 'file' }))).toBe('KEY_FILE_INSECURE');
  });

  it('a key file of the wrong length is STORE_KEY_INVALID; a missing one STORE_NOT_FOUND', async () => {
    const dir = dirs.make();
    const keyFile = path.join(dir, 'store.key');
    writeFileSync(keyFile, randomBytes(31), { mode: 0o600 });
    expect(await codeOfAsync(fileProtector({ keyFile }).unlock({ kind: 'file' }))).toBe('STORE_KEY_INVALID');
    expect(await codeOfAsync(fileProtector({ keyFile: path.join(dir, 'absent.key') }).unlock({ kind: 'file' }))).toBe('STORE_NOT_FOUND');
  });

  it('refuses a descriptor of another kind (STORE_CORRUPT) and a missing path (TypeError)', async () => {
    const keyFile = path.join(dirs.make(), 'store.key');
    expect(await codeOfAsync(fileProtector({ keyFile }).unlock({ kind: 'passphrase' }))).toBe('STORE_CORRUPT');
    expect(() => fileProtector({ keyFile: '' })).toThrow(TypeError);
  });
});
