import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openServerTls } from '../core/server-tls.js';
import { startController } from '../serve/controller.js';
import { openSqliteRepository } from '../store/index.js';
import { initController } from './init.js';
import { dataDirPaths, readControllerSettings } from './layout.js';
import { openDataDirKms } from './open-kms.js';
import { renewServerTls } from './renew-tls.js';

let parent: string;
beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-renew-'));
});
afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('fleet-controller tls-renew', () => {
  it('issues a new identity from the same TLS CA for new names, which serve then uses', async () => {
    const dataDir = join(parent, 'ctl');
    await initController({ dataDir, kms: 'local', fleet: 'acme', env: {} });
    const paths = dataDirPaths(dataDir);
    const before = new X509Certificate(await readFile(paths.serverCertificate));
    const sealedBefore = await readFile(paths.serverKey);

    const renewed = await renewServerTls({ dataDir, env: {}, dnsNames: ['controller.example'], ipAddresses: ['10.0.0.5'] });
    const after = new X509Certificate(await readFile(paths.serverCertificate));
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(renewed.serialNumber).toBe(after.serialNumber.toLowerCase());
    expect(after.verify(new X509Certificate(await readFile(paths.caFile)).publicKey)).toBe(true);
    expect(after.checkHost('controller.example')).toBe('controller.example');
    expect(after.checkIP('10.0.0.5')).toBe('10.0.0.5');
    expect(after.checkHost('localhost')).toBeUndefined();
    expect((await readFile(paths.serverKey)).equals(sealedBefore)).toBe(false);
    expect(readControllerSettings(paths).tls).toEqual({ dnsNames: ['controller.example'], ipAddresses: ['10.0.0.5'] });

    // The sealed key opens with the KMS and matches the new certificate.
    const kms = await openDataDirKms(paths, {});
    try {
      const identity = await openServerTls(kms.provider, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
      expect(identity.notAfter.getTime()).toBe(renewed.notAfter.getTime());
      identity.privateKeyPem.fill(0);
    } finally {
      await kms.provider.close();
    }
    const controller = await startController({ dataDir, env: {}, version: 'test', grpcListen: '127.0.0.1:0', mqttListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', logLevel: 'silent' });
    await controller.close();

    const repository = await openSqliteRepository({ path: paths.state, clock: Date.now });
    try {
      expect((await repository.audit.listRecords(0, 1000)).filter((record) => record.action === 'tls.renew')).toHaveLength(1);
    } finally {
      await repository.close();
    }
  });

  it('refuses a directory that is not a data directory and writes nothing', async () => {
    await expect(renewServerTls({ dataDir: join(parent, 'nothing'), env: {} })).rejects.toThrow(/not a fleet-controller data directory/);
  });
});
