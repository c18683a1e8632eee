/**
 * Test-only fixtures for the X.509 specs: fleet CAs and device certificates made with the real
 * issuance code, plus a way to run the real `openssl` binary when the machine has one. Not
 * exported from the package index.
 *
 * Trust boundary: test code only; keys here are throwaway.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '@fleetkey/key-types';
import { generateKeyPair } from '../sign/keys.js';
import { createLocalSigner } from '../sign/signer.js';
import type { Signer } from '../sign/signer.js';
import { createCaCertificate, issueDeviceCertificate } from './issue.js';
import type { IssuedCertificate } from './sign-certificate.js';

export const DAY_MS = 86_400_000;
/** A fixed "now" for every spec, so validity windows never depend on the wall clock. */
export const NOW = new Date('2030-06-15T12:00:00Z');

export interface TestCa {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly fleet: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly signer: Signer;
  readonly certificate: IssuedCertificate;
}

export async function makeCa(
  keyAlgorithm: KeyAlgorithm,
  fleet = 'fleet-a',
  window: { notBefore: Date; notAfter: Date } = {
    notBefore: new Date(NOW.getTime() - 365 * DAY_MS),
    notAfter: new Date(NOW.getTime() + 3650 * DAY_MS),
  },
): Promise<TestCa> {
  const { privateKey, publicKey } = await generateKeyPair(keyAlgorithm);
  const signer = createLocalSigner(privateKey);
  const certificate = await createCaCertificate({ signer, fleet, commonName: `${fleet} CA`, ...window });
  return { keyAlgorithm, fleet, privateKey, publicKey, signer, certificate };
}

export interface TestDevice {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly certificate: IssuedCertificate;
}

export async function makeDevice(
  ca: TestCa,
  options: { keyAlgorithm?: KeyAlgorithm; deviceId?: string; notBefore?: Date; notAfter?: Date; key?: { privateKey: KeyObject; publicKey: KeyObject } } = {},
): Promise<TestDevice> {
  const { privateKey, publicKey } = options.key ?? (await generateKeyPair(options.keyAlgorithm ?? 'ECDSA_P256'));
  const certificate = await issueDeviceCertificate({
    issuerSigner: ca.signer,
    issuerCertificate: ca.certificate.pem,
    publicKey,
    fleet: ca.fleet,
    deviceId: options.deviceId ?? 'robot-1',
    notBefore: options.notBefore ?? new Date(NOW.getTime() - DAY_MS),
    notAfter: options.notAfter ?? new Date(NOW.getTime() + 365 * DAY_MS),
  });
  return { privateKey, publicKey, certificate };
}

export const HAS_OPENSSL = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;

/** Runs `openssl` with the given files written to a temp dir (removed afterwards). */
export function runOpenssl(files: Record<string, string>, args: (dir: string) => string[]): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fleetkey-x509-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const result = spawnSync('openssl', args(dir), { encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
