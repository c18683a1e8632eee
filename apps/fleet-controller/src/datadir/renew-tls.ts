/**
 * `fleet-controller tls-renew`: a new TLS server identity for a data directory — a fresh P-256
 * key, a certificate from the controller TLS CA in the KMS (optionally for new names), the key
 * sealed by the controller KEK — written over `tls/`. Robots and operators trust the TLS CA, not
 * the server certificate, so nothing changes for them; `serve` uses the new identity at its next
 * start.
 *
 * Each file is replaced atomically (temporary file, fsync, rename). A crash between the two
 * renames leaves a key that does not match the certificate: `serve` then refuses to start with
 * that message, and running tls-renew again repairs it.
 *
 * Trust boundary: the new private key exists in plaintext only in memory until the KMS seals it.
 */
import { X509Certificate } from 'node:crypto';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KmsEnvironment } from '@fleetkey/kms-core';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { issueServerTls } from '../core/server-tls.js';
import { openSqliteRepository } from '../store/index.js';
import { dataDirPaths, readControllerSettings, serializeControllerSettings } from './layout.js';
import { openDataDirKms } from './open-kms.js';
import { replaceFile } from './replace-file.js';

export interface RenewTlsOptions {
  readonly dataDir: string;
  readonly env: KmsEnvironment;
  /** New DNS names and IP addresses; default: the ones in controller.json. */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly clock?: () => number;
}

export interface RenewTlsResult {
  readonly notAfter: Date;
  readonly serialNumber: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Renews the TLS server identity of a data directory (safe while serve runs: serve keeps the
 * identity it loaded until it restarts).
 * @throws InvalidArgument when DIR is not a data directory; KMS errors (nothing is written then).
 */
export async function renewServerTls(options: RenewTlsOptions): Promise<RenewTlsResult> {
  const clock = options.clock ?? Date.now;
  const paths = dataDirPaths(options.dataDir);
  const settings = readControllerSettings(paths);
  const dnsNames = options.dnsNames ?? settings.tls.dnsNames;
  const ipAddresses = options.ipAddresses ?? settings.tls.ipAddresses;
  const stack = await openDataDirKms(paths, options.env);
  const repository = await openSqliteRepository({ path: paths.state, clock });
  const core = new ControllerCore({ repository, kms: stack.provider, clock, controllerKeys: await loadControllerKeys(repository) });
  try {
    const keys = core.controllerKeys;
    const material = await issueServerTls({
      kms: stack.provider,
      kekId: keys.kekId,
      tlsCaSigner: await core.signer(keys.tlsCaKeyId),
      tlsCaCertificateDer: keys.tlsCaCertificateDer,
      dnsNames,
      ipAddresses,
      now: clock(),
    });
    const leaf = new X509Certificate(material.certificateChainPem);
    await replaceFile(paths.serverKey, material.sealedKey, 0o600);
    await replaceFile(paths.serverCertificate, material.certificateChainPem, 0o644);
    if (options.dnsNames !== undefined || options.ipAddresses !== undefined) {
      await replaceFile(paths.settings, serializeControllerSettings({ ...settings, tls: { dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] } }), 0o600);
    }
    await fsyncDirectory(dirname(paths.serverKey));
    await fsyncDirectory(paths.root);
    await repository.audit.append({
      actor: 'system',
      action: 'tls.renew',
      keyRef: `controller-tls-ca:${keys.tlsCaKeyId}`,
      result: 'ok',
      details: { certificateSerial: leaf.serialNumber.toLowerCase(), notAfter: new Date(leaf.validTo).toISOString(), names: [...dnsNames, ...ipAddresses].join(' ').slice(0, 256) },
    });
    return { notAfter: new Date(leaf.validTo), serialNumber: leaf.serialNumber.toLowerCase(), dnsNames, ipAddresses };
  } finally {
    core.close();
    await repository.close();
    await stack.provider.close();
  }
}
