import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../audit/index.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { loadFleetKeys } from '../fleets/fleet-keys.js';
import { hashToken, openSqliteRepository, tokenHashesEqual } from '../store/index.js';
import { DataDirExists, initController } from './init.js';
import { dataDirPaths, readControllerSettings } from './layout.js';
import { createKmsProvider } from '@fleetkey/kms-providers';

let parent: string;
beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-init-'));
});
afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)).sort();
}

describe('fleet-controller init', () => {
  it('builds a complete data directory with one admin whose token is stored only as a hash', async () => {
    const dataDir = join(parent, 'ctl');
    const result = await initController({ dataDir, kms: 'local', fleet: 'acme', env: {} });
    expect(result.fleet).toBe('acme');
    expect(result.adminToken).toMatch(/^fk_op_/);
    const paths = dataDirPaths(dataDir);
    expect(result.caFile).toBe(paths.caFile);

    const ca = new X509Certificate(await readFile(paths.caFile));
    expect(ca.ca).toBe(true);
    const chain = await readFile(paths.serverCertificate, 'utf8');
    const leaf = new X509Certificate(chain);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkHost('localhost')).toBe('localhost');
    // The server key is sealed by the KMS, not a PEM anyone can read.
    expect((await readFile(paths.serverKey)).includes('PRIVATE KEY')).toBe(false);
    expect((await stat(paths.serverKey)).mode & 0o077).toBe(0);
    expect((await stat(dataDir)).mode & 0o077).toBe(0);

    const settings = readControllerSettings(paths);
    expect(settings.defaultFleet).toBe('acme');
    expect(settings.kms).toEqual({ provider: 'local', local: { path: 'kms/keys.fkl', passphraseFile: 'kms/passphrase' } });

    for (const file of await listFiles(dataDir)) {
      expect((await readFile(file)).includes(result.adminToken), file).toBe(false);
    }

    const repository = await openSqliteRepository({ path: paths.state, clock: Date.now });
    try {
      const operators = await repository.listOperators();
      expect(operators).toHaveLength(1);
      expect(operators[0]!.role).toBe('admin');
      expect(tokenHashesEqual(operators[0]!.tokenHash, hashToken(result.adminToken))).toBe(true);
      const epochs = await repository.listEpochs('acme');
      expect(epochs.map((epoch) => [epoch.version, epoch.state])).toEqual([[1, 'active']]);
      const fleetKeys = await loadFleetKeys(repository, 'acme');
      const fleetCa = new X509Certificate(fleetKeys!.caCertificateDer);
      expect(fleetCa.subject).toContain('O=acme');
      const controllerKeys = await loadControllerKeys(repository);

      // The audit chain is signed by the audit key in the KMS and verifies.
      const kms = await createKmsProvider({ provider: 'local', local: { path: join(dataDir, 'kms/keys.fkl'), passphraseFile: join(dataDir, 'kms/passphrase') } });
      const auditKey = await kms.getPublicKey({ keyId: controllerKeys.auditKeyId });
      await kms.close();
      const verification = await verifyAuditChain(repository, { publicKeys: (id) => (id === controllerKeys.auditKeyId ? auditKey : undefined) });
      expect(verification).toMatchObject({ ok: true, heads: 1 });
      expect(verification.ok && verification.records).toBeGreaterThan(5);
    } finally {
      await repository.close();
    }
  });

  it('refuses an existing data directory and changes nothing in it', async () => {
    const dataDir = join(parent, 'ctl');
    await initController({ dataDir, kms: 'local', fleet: 'acme', env: {} });
    const before = await Promise.all((await listFiles(dataDir)).map(async (file) => [file, (await readFile(file)).toString('base64')]));
    await expect(initController({ dataDir, kms: 'local', fleet: 'other', env: {} })).rejects.toThrow(DataDirExists);
    const after = await Promise.all((await listFiles(dataDir)).map(async (file) => [file, (await readFile(file)).toString('base64')]));
    expect(after).toEqual(before);
    expect(await readdir(parent)).toEqual(['ctl']);
  });

  it('refuses a non-empty directory that is not a data directory', async () => {
    const dataDir = join(parent, 'busy');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'mine');
    await expect(initController({ dataDir, kms: 'local', fleet: 'acme', env: {} })).rejects.toThrow(/already exists/);
    expect(await readdir(dataDir)).toEqual(['notes.txt']);
  });

  it('leaves nothing behind when it fails half-way', async () => {
    const dataDir = join(parent, 'ctl');
    await expect(initController({ dataDir, kms: 'local', fleet: 'not a fleet!', env: {} })).rejects.toThrow(/fleet/);
    // A KMS configuration error happens after the staging directory exists.
    await expect(initController({ dataDir, kms: 'vault', fleet: 'acme', env: {} })).rejects.toThrow(/VAULT_ADDR|vault/i);
    expect(await readdir(parent)).toEqual([]);
  });
});
