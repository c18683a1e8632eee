/**
 * Tests for TLS server certificates: read back by node's X509Certificate and proven in real HTTPS
 * handshakes (node:https on 127.0.0.1, port 0) where the client trusts only the fleet CA via `ca`.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { get, createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '@fleetkey/key-types';
import { generateKeyPair } from '../sign/keys.js';
import { createLocalSigner } from '../sign/signer.js';
import { issueServerCertificate } from './server.js';
import type { IssueServerCertificateParams } from './server.js';
import { DAY_MS, makeCa, makeDevice } from './test-fixtures.js';
import type { TestCa } from './test-fixtures.js';

// TLS checks validity against the wall clock, so these windows are around the real now.
const now = Date.now();
const window = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS) };
let ca: TestCa;
let rsaCa: TestCa;
const servers: Server[] = [];

beforeAll(async () => {
  ca = await makeCa('ECDSA_P256', 'fleet-a', { notBefore: new Date(now - 2 * DAY_MS), notAfter: new Date(now + 10 * DAY_MS) });
  rsaCa = await makeCa('RSA_2048', 'fleet-a', { notBefore: new Date(now - 2 * DAY_MS), notAfter: new Date(now + 10 * DAY_MS) });
}, 60_000);

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serverParams(issuer: TestCa, keyAlgorithm: KeyAlgorithm, overrides: Partial<IssueServerCertificateParams> = {}) {
  const key = await generateKeyPair(keyAlgorithm);
  const params: IssueServerCertificateParams = {
    issuerSigner: issuer.signer,
    issuerCertificate: issuer.certificate.pem,
    publicKey: key.publicKey,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    ...window,
    ...overrides,
  };
  return { key, params };
}

async function serve(keyPem: string, certPem: string): Promise<number> {
  const server = createServer({ key: keyPem, cert: certPem }, (_req, res) => res.end('hello'));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function fetchText(options: { port: number; ca?: string; servername?: string; host?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port,
        path: '/',
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.servername === undefined ? {} : { servername: options.servername }),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      },
    );
    request.on('error', reject);
  });
}

describe('issueServerCertificate', () => {
  for (const [issuerName, keyAlgorithm] of [
    ['ECDSA_P256', 'ECDSA_P256'],
    ['ECDSA_P256', 'RSA_2048'],
    ['RSA_2048', 'ECDSA_P384'],
  ] as const) {
    it(`serves HTTPS on 127.0.0.1 with a ${keyAlgorithm} key under a ${issuerName} CA, trusted via "ca"`, async () => {
      const issuer = issuerName === 'RSA_2048' ? rsaCa : ca;
      const { key, params } = await serverParams(issuer, keyAlgorithm);
      const cert = await issueServerCertificate(params);
      const port = await serve(key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert.pem);
      // By IP (SAN iPAddress) and by name (SAN dNSName, servername for SNI + identity check).
      expect(await fetchText({ port, ca: issuer.certificate.pem })).toBe('hello');
      expect(await fetchText({ port, ca: issuer.certificate.pem, servername: 'localhost' })).toBe('hello');
    });
  }

  it('writes serverAuth, SAN DNS + IP, CA:false, and the issuer name', async () => {
    const { params } = await serverParams(ca, 'ECDSA_P256', { dnsNames: ['localhost', 'kms.example.test'] });
    const cert = await issueServerCertificate(params);
    const x509 = new X509Certificate(cert.der);
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(x509.subjectAltName).toBe('DNS:localhost, DNS:kms.example.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x509.subject).toBe('O=fleet-a\nCN=localhost');
    expect(x509.checkIssued(new X509Certificate(ca.certificate.der))).toBe(true);
    expect(x509.verify(ca.publicKey)).toBe(true);
    expect(x509.checkHost('kms.example.test')).toBe('kms.example.test');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkHost('other.example.test')).toBeUndefined();
  });

  it('is refused by a client that does not trust the fleet CA', async () => {
    const { key, params } = await serverParams(ca, 'ECDSA_P256');
    const cert = await issueServerCertificate(params);
    const port = await serve(key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert.pem);
    await expect(fetchText({ port })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(fetchText({ port, ca: rsaCa.certificate.pem })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('is refused for a host name it does not carry', async () => {
    const { key, params } = await serverParams(ca, 'ECDSA_P256', { ipAddresses: [] });
    const cert = await issueServerCertificate(params);
    const port = await serve(key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert.pem);
    // No IP SAN now: connecting to 127.0.0.1 without a matching name fails the identity check.
    await expect(fetchText({ port, ca: ca.certificate.pem })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await expect(fetchText({ port, ca: ca.certificate.pem, servername: 'other.test' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('Precondition: a server certificate names at least one host and at most MAX_SAN_ENTRIES', async () => {
    const { params } = await serverParams(ca, 'ECDSA_P256', { dnsNames: [], ipAddresses: [] });
    await expect(issueServerCertificate(params)).rejects.toBeInstanceOf(RangeError);
    const many = Array.from({ length: 17 }, (_, i) => `h${i}.example.test`);
    await expect(issueServerCertificate({ ...params, dnsNames: many })).rejects.toBeInstanceOf(RangeError);
  });

  it('rejects malformed DNS names and IP addresses', async () => {
    const { params } = await serverParams(ca, 'ECDSA_P256');
    for (const dnsNames of [['*.example.test'], ['bad_name'], ['a..b'], ['-a.test'], [`${'a'.repeat(64)}.test`], ['']]) {
      await expect(issueServerCertificate({ ...params, dnsNames })).rejects.toBeInstanceOf(RangeError);
    }
    for (const ipAddresses of [['256.1.1.1'], ['localhost'], ['::ffff:1.2.3.4'], ['']]) {
      await expect(issueServerCertificate({ ...params, ipAddresses })).rejects.toBeInstanceOf(RangeError);
    }
    await expect(issueServerCertificate({ ...params, dnsNames: 'localhost' as unknown as string[] })).rejects.toBeInstanceOf(TypeError);
  });

  it('Precondition: the issuer is a fleet CA holding the signer\'s key', async () => {
    const device = await makeDevice(ca);
    const { params } = await serverParams(ca, 'ECDSA_P256');
    await expect(
      issueServerCertificate({ ...params, issuerCertificate: device.certificate.pem, issuerSigner: createLocalSigner(device.privateKey) }),
    ).rejects.toBeInstanceOf(RangeError);
    await expect(issueServerCertificate({ ...params, issuerSigner: rsaCa.signer })).rejects.toBeInstanceOf(RangeError);
  });
});
