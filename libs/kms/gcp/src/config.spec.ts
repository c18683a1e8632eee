/** Configuration validation: every problem reported at once, unknown keys refused, endpoints parsed. */
import { describe, expect, it } from 'vitest';
import type { InvalidKmsConfig } from '@fleetkey/kms-core';
import { resolveGcpKmsConfig } from './config.js';
import type { GcpKmsConfig } from './config.js';

const good = { projectId: 'fleet-prod-1', location: 'europe-west1', keyRing: 'fleetkey' };

function problemsOf(config: unknown): readonly string[] {
  try {
    resolveGcpKmsConfig(config as GcpKmsConfig);
  } catch (error) {
    expect((error as InvalidKmsConfig).code).toBe('INVALID_CONFIG');
    return (error as InvalidKmsConfig).problems;
  }
  throw new Error('expected InvalidKmsConfig');
}

describe('resolveGcpKmsConfig', () => {
  it('fills defaults: Google endpoint over TLS, SOFTWARE keys, PKCS1 RSA, 30 s deadline, name gcp', () => {
    expect(resolveGcpKmsConfig(good)).toEqual({
      ...good,
      keyRingName: 'projects/fleet-prod-1/locations/europe-west1/keyRings/fleetkey',
      host: 'cloudkms.googleapis.com',
      port: 443,
      plaintext: false,
      protectionLevel: 'SOFTWARE',
      rsaSignaturePadding: 'PKCS1',
      keySpecs: ['AES_256', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECDSA_P256', 'ECDSA_P384', 'ED25519'],
      callTimeoutMs: 30_000,
      name: 'gcp',
    });
  });

  it('reads an http:// endpoint as plaintext gRPC (the emulator)', () => {
    expect(resolveGcpKmsConfig({ ...good, endpoint: 'http://127.0.0.1:8443' })).toMatchObject({ host: '127.0.0.1', port: 8443, plaintext: true });
  });

  it('reads a bare host:port as TLS (as the SDK apiEndpoint does)', () => {
    expect(resolveGcpKmsConfig({ ...good, endpoint: 'eu-cloudkms.example.com:8443' })).toMatchObject({ host: 'eu-cloudkms.example.com', port: 8443, plaintext: false });
  });

  it('reports every problem at once, each naming its setting', () => {
    const problems = problemsOf({ projectId: 'X', location: '', keyRing: 'bad ring!', endpoint: 'ftp://x/y', protectionLevel: 'EXTERNAL', rsaSignaturePadding: 'RAW', keySpecs: ['ECDSA_P521'], callTimeoutMs: 0, name: 'GCP', surprise: 1 });
    for (const setting of ['projectId', 'location', 'keyRing', 'endpoint', 'protectionLevel', 'rsaSignaturePadding', 'keySpecs', 'callTimeoutMs', 'name', 'surprise']) {
      expect(problems.some((p) => p.startsWith(`gcp.${setting}:`))).toBe(true);
    }
  });

  it('refuses a missing section', () => {
    expect(problemsOf(undefined)).toHaveLength(1);
  });
});
