/**
 * Tests for fleet CA and device certificate issuance with a local signer, checked by node's
 * X509Certificate, by the openssl binary when the machine has one, and by a real mTLS handshake.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '@fleetkey/key-types';
import { generateKeyPair } from '../sign/keys.js';
import { createLocalSigner } from '../sign/signer.js';
import type { Signer } from '../sign/signer.js';
import { createCaCertificate, issueDeviceCertificate } from './issue.js';
import { generateSerialNumber } from './serial.js';
import { DAY_MS, HAS_OPENSSL, NOW, makeCa, makeDevice, runOpenssl } from './test-fixtures.js';
import type { TestCa } from './test-fixtures.js';

const CA_ALGORITHMS: KeyAlgorithm[] = ['ECDSA_P256', 'ECDSA_P384', 'RSA_2048'];
const cas = new Map<KeyAlgorithm, TestCa>();

beforeAll(async () => {
  for (const algorithm of CA_ALGORITHMS) cas.set(algorithm, await makeCa(algorithm));
}, 60_000);

const window = { notBefore: new Date(NOW.getTime() - DAY_MS), notAfter: new Date(NOW.getTime() + 30 * DAY_MS) };
const attime = String(Math.floor(NOW.getTime() / 1000));

describe('createCaCertificate', () => {
  for (const algorithm of CA_ALGORITHMS) {
    it(`makes a self-signed fleet CA with a ${algorithm} key`, () => {
      const ca = cas.get(algorithm)!;
      const x509 = new X509Certificate(ca.certificate.der);
      expect(x509.ca).toBe(true);
      expect(x509.verify(ca.publicKey)).toBe(true);
      expect(x509.checkIssued(x509)).toBe(true);
      expect(x509.subject).toBe('O=fleet-a\nCN=fleet-a CA');
      expect(x509.issuer).toBe(x509.subject);
      expect(x509.serialNumber.toLowerCase()).toBe(ca.certificate.serialNumber);
      expect(ca.certificate.pem).toContain('-----BEGIN CERTIFICATE-----');
      if (HAS_OPENSSL) {
        const text = runOpenssl({ 'ca.pem': ca.certificate.pem }, (d) => ['x509', '-in', `${d}/ca.pem`, '-noout', '-text']).output;
        expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
        expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
        expect(text).toContain('Subject Key Identifier');
      }
    });
  }

  it('uses a 16-byte positive random serial unless one is given', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const serial = generateSerialNumber();
      expect(serial.length).toBe(16);
      expect(serial[0]! & 0x80).toBe(0);
      expect(serial[0]).not.toBe(0);
      serials.add(Buffer.from(serial).toString('hex'));
    }
    expect(serials.size).toBe(200);
    // The top bit is cleared and a zero first byte bumped: still 16 bytes, still positive.
    expect(Buffer.from(generateSerialNumber(() => new Uint8Array(16).fill(0xff))).toString('hex')).toBe(`7f${'ff'.repeat(15)}`);
    expect(generateSerialNumber(() => new Uint8Array(16))[0]).toBe(1);
    const ca = cas.get('ECDSA_P256')!;
    const fixed = await createCaCertificate({ signer: ca.signer, fleet: 'fleet-a', commonName: 'CA', ...window, serialNumber: Uint8Array.of(0x01, 0x02) });
    expect(fixed.serialNumber).toBe('0102');
  });

  it('refuses keys not allowed for fleet CAs and bad parameters', async () => {
    const ed = await generateKeyPair('ED25519');
    await expect(createCaCertificate({ signer: createLocalSigner(ed.privateKey), fleet: 'f', commonName: 'CA', ...window })).rejects.toMatchObject({
      code: 'UNSUPPORTED_ALGORITHM',
    });
    const signer = cas.get('ECDSA_P256')!.signer;
    await expect(createCaCertificate({ signer, fleet: 'bad/fleet', commonName: 'CA', ...window })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: ' padded', ...window })).rejects.toThrow(RangeError);
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: 'x'.repeat(65), ...window })).rejects.toThrow(RangeError);
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: 'CA', notBefore: window.notAfter, notAfter: window.notBefore })).rejects.toThrow(
      RangeError,
    );
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: 'CA', notBefore: new Date('x'), notAfter: window.notAfter })).rejects.toThrow(
      TypeError,
    );
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: 'CA', ...window, serialNumber: Uint8Array.of(0x80) })).rejects.toThrow(RangeError);
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: 'CA', ...window, serialNumber: Uint8Array.of(0, 1) })).rejects.toThrow(RangeError);
    await expect(createCaCertificate({ signer, fleet: 'f', commonName: 'CA', ...window, serialNumber: new Uint8Array(21).fill(1) })).rejects.toThrow(
      RangeError,
    );
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', async () => {
    const ca = cas.get('ECDSA_P256')!;
    const cert = await createCaCertificate({
      signer: ca.signer,
      fleet: 'fleet-a',
      commonName: 'long CA',
      notBefore: new Date('2049-12-31T23:59:59.999Z'),
      notAfter: new Date('2050-01-01T00:00:00Z'),
    });
    const hex = Buffer.from(cert.der).toString('hex');
    expect(hex).toContain(Buffer.from('491231235959Z').toString('hex')); // UTCTime, milliseconds dropped
    expect(hex).toContain(Buffer.from('20500101000000Z').toString('hex')); // GeneralizedTime
    expect(cert.notBefore.toISOString()).toBe('2049-12-31T23:59:59.000Z');
  });
});

describe('issueDeviceCertificate', () => {
  for (const caAlgorithm of CA_ALGORITHMS) {
    for (const deviceAlgorithm of ['ECDSA_P256', 'RSA_2048'] as const) {
      it(`issues a ${deviceAlgorithm} device certificate from a ${caAlgorithm} CA`, async () => {
        const ca = cas.get(caAlgorithm)!;
        const device = await makeDevice(ca, { keyAlgorithm: deviceAlgorithm });
        const x509 = new X509Certificate(device.certificate.der);
        const caX509 = new X509Certificate(ca.certificate.der);
        expect(x509.verify(ca.publicKey)).toBe(true);
        expect(x509.checkIssued(caX509)).toBe(true);
        expect(x509.ca).toBe(false);
        expect(x509.subjectAltName).toBe('URI:fleetkey://fleet-a/robot-1');
        expect(x509.subject).toBe('O=fleet-a\nCN=robot-1');
        expect(x509.issuer).toBe(caX509.subject);
        expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1']); // node names EKU "keyUsage"
        expect(x509.publicKey.export({ type: 'spki', format: 'der' })).toEqual(device.publicKey.export({ type: 'spki', format: 'der' }));
        expect(device.certificate.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
        if (HAS_OPENSSL) {
          const files = { 'ca.pem': ca.certificate.pem, 'dev.pem': device.certificate.pem };
          for (const purpose of ['sslclient', 'sslserver']) {
            const result = runOpenssl(files, (d) => ['verify', '-x509_strict', '-attime', attime, '-purpose', purpose, '-CAfile', `${d}/ca.pem`, `${d}/dev.pem`]);
            expect(result.output).toContain(': OK');
            expect(result.status).toBe(0);
          }
          const text = runOpenssl(files, (d) => ['x509', '-in', `${d}/dev.pem`, '-noout', '-text']).output;
          expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
          expect(text).toMatch(
            deviceAlgorithm === 'RSA_2048' ? /Key Usage: critical\s+Digital Signature, Key Encipherment\n/ : /Key Usage: critical\s+Digital Signature, Key Agreement\n/,
          );
          expect(text).toContain('Authority Key Identifier');
          expect(text).toContain('Subject Key Identifier');
        }
      });
    }
  }

  it('refuses a device certificate once openssl is given another CA of the same name', async () => {
    if (!HAS_OPENSSL) return void expect(HAS_OPENSSL).toBe(false);
    const ca = cas.get('ECDSA_P256')!;
    const other = await makeCa('ECDSA_P256');
    const device = await makeDevice(ca);
    const result = runOpenssl({ 'ca.pem': other.certificate.pem, 'dev.pem': device.certificate.pem }, (d) => [
      'verify', '-attime', attime, '-CAfile', `${d}/ca.pem`, `${d}/dev.pem`,
    ]);
    expect(result.status).not.toBe(0);
  });

  it('issues certificates good for a real mutual TLS 1.3 handshake between two devices', async () => {
    // OpenSSL checks validity against the real clock, so this CA's window is around real time.
    const ca = await makeCa('ECDSA_P256', 'fleet-a', { notBefore: new Date(Date.now() - DAY_MS), notAfter: new Date(Date.now() + 2 * DAY_MS) });
    const server = await makeDevice(ca, { deviceId: 'robot-server', notBefore: new Date(Date.now() - DAY_MS), notAfter: new Date(Date.now() + DAY_MS) });
    const client = await makeDevice(ca, {
      keyAlgorithm: 'RSA_2048',
      deviceId: 'robot-client',
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + DAY_MS),
    });
    const pem = (k: typeof server.privateKey) => k.export({ type: 'pkcs8', format: 'pem' }) as string;
    const tlsServer = createServer({
      key: pem(server.privateKey),
      cert: server.certificate.pem,
      ca: [ca.certificate.pem],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    const peers: string[] = [];
    tlsServer.on('secureConnection', (socket) => {
      peers.push(socket.getPeerX509Certificate()?.subjectAltName ?? '');
      socket.end('ok');
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    try {
      const { port } = tlsServer.address() as AddressInfo;
      const socket = connect({
        host: '127.0.0.1',
        port,
        key: pem(client.privateKey),
        cert: client.certificate.pem,
        ca: [ca.certificate.pem],
        // Peers are named by SAN URI, not host name; validateDeviceCertificate checks who they are.
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.3',
      });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      expect(socket.getPeerX509Certificate()?.subjectAltName).toBe('URI:fleetkey://fleet-a/robot-server');
      const [data] = (await once(socket, 'data')) as [Buffer];
      expect(data.toString()).toBe('ok');
      socket.destroy();
      expect(peers).toEqual(['URI:fleetkey://fleet-a/robot-client']);
    } finally {
      tlsServer.close();
      await once(tlsServer, 'close');
    }
  });

  it('accepts a private key and certifies only its public half', async () => {
    const ca = cas.get('ECDSA_P256')!;
    const { privateKey, publicKey } = await generateKeyPair('ECDSA_P256');
    const cert = await issueDeviceCertificate({
      issuerSigner: ca.signer,
      issuerCertificate: ca.certificate.der,
      publicKey: privateKey,
      fleet: 'fleet-a',
      deviceId: 'r',
      ...window,
    });
    expect(new X509Certificate(cert.der).publicKey.export({ type: 'spki', format: 'der' })).toEqual(publicKey.export({ type: 'spki', format: 'der' }));
  });

  it("Precondition: the issuer certificate is a fleet CA of the same fleet, holding the signer's key", async () => {
    const ca = cas.get('ECDSA_P256')!;
    const { publicKey } = await generateKeyPair('ECDSA_P256');
    const base = { issuerSigner: ca.signer, issuerCertificate: ca.certificate.pem, publicKey, fleet: 'fleet-a', deviceId: 'robot-9', ...window };
    await expect(issueDeviceCertificate(base)).resolves.toBeDefined();
    // another fleet
    await expect(issueDeviceCertificate({ ...base, fleet: 'fleet-b' })).rejects.toThrow(RangeError);
    // a signer that does not hold the CA key
    await expect(issueDeviceCertificate({ ...base, issuerSigner: cas.get('ECDSA_P384')!.signer })).rejects.toThrow(RangeError);
    // a device certificate is not a CA
    const device = await makeDevice(ca);
    await expect(
      issueDeviceCertificate({ ...base, issuerCertificate: device.certificate.pem, issuerSigner: createLocalSigner(device.privateKey) }),
    ).rejects.toThrow(RangeError);
  });

  it('refuses bad ids, keys and windows', async () => {
    const ca = cas.get('ECDSA_P256')!;
    const { publicKey } = await generateKeyPair('ECDSA_P256');
    const base = { issuerSigner: ca.signer, issuerCertificate: ca.certificate.pem, publicKey, fleet: 'fleet-a', deviceId: 'robot-9', ...window };
    await expect(issueDeviceCertificate({ ...base, deviceId: 'robot/../x' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    await expect(issueDeviceCertificate({ ...base, deviceId: '' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    await expect(issueDeviceCertificate({ ...base, fleet: 'fleet a' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    const { generateKeyPairSync } = await import('node:crypto');
    await expect(issueDeviceCertificate({ ...base, publicKey: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey })).rejects.toMatchObject({
      code: 'UNSUPPORTED_ALGORITHM',
    });
    await expect(issueDeviceCertificate({ ...base, publicKey: 'pem' as unknown as typeof publicKey })).rejects.toThrow(TypeError);
    await expect(issueDeviceCertificate({ ...base, notAfter: base.notBefore })).rejects.toThrow(RangeError);
    await expect(issueDeviceCertificate({ ...base, issuerCertificate: 'not a certificate' })).rejects.toMatchObject({ code: 'CERTIFICATE_INVALID' });
  });

  it("Postcondition: the signature verifies with the issuer's public key before anyone sees it", async () => {
    const ca = cas.get('ECDSA_P256')!;
    const { publicKey } = await generateKeyPair('ECDSA_P256');
    // A signer that claims the CA key but signs with another one (a misconfigured or faulty KMS).
    const impostorKey = await generateKeyPair('ECDSA_P256');
    const impostor = createLocalSigner(impostorKey.privateKey);
    const faulty: Signer = { algorithm: 'ECDSA_P256_SHA256', keyId: 'faulty', publicKey: () => ca.signer.publicKey(), sign: (d) => impostor.sign(d) };
    await expect(
      issueDeviceCertificate({ issuerSigner: faulty, issuerCertificate: ca.certificate.pem, publicKey, fleet: 'fleet-a', deviceId: 'r', ...window }),
    ).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    const garbage: Signer = { ...faulty, sign: async () => new Uint8Array(70) };
    await expect(createCaCertificate({ signer: garbage, fleet: 'fleet-a', commonName: 'CA', ...window })).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
  });

  it('works with a signer that only exposes the interface (as a KMS signer will)', async () => {
    const ca = cas.get('RSA_2048')!;
    const local = createLocalSigner(ca.privateKey);
    const remote: Signer = { algorithm: local.algorithm, keyId: 'kms:key/1', publicKey: async () => createPublicKey(ca.privateKey), sign: (d) => local.sign(d) };
    const { publicKey } = await generateKeyPair('ECDSA_P256');
    const params = { issuerSigner: remote, issuerCertificate: ca.certificate.pem, publicKey, fleet: 'fleet-a', deviceId: 'r', ...window };
    const cert = await issueDeviceCertificate(params);
    expect(new X509Certificate(cert.der).verify(ca.publicKey)).toBe(true);
  });

  it('signs with RSA-PSS when the CA signer is set to RSA_PSS_SHA256', async () => {
    const ca = cas.get('RSA_2048')!;
    const pss = createLocalSigner(ca.privateKey, { algorithm: 'RSA_PSS_SHA256' });
    const caCert = await createCaCertificate({
      signer: pss,
      fleet: 'fleet-a',
      commonName: 'PSS CA',
      notBefore: new Date(NOW.getTime() - DAY_MS),
      notAfter: new Date(NOW.getTime() + 365 * DAY_MS),
    });
    const { publicKey } = await generateKeyPair('ECDSA_P256');
    const cert = await issueDeviceCertificate({ issuerSigner: pss, issuerCertificate: caCert.pem, publicKey, fleet: 'fleet-a', deviceId: 'r', ...window });
    expect(new X509Certificate(cert.der).verify(ca.publicKey)).toBe(true);
    if (HAS_OPENSSL) {
      const files = { 'ca.pem': caCert.pem, 'dev.pem': cert.pem };
      expect(runOpenssl(files, (d) => ['verify', '-attime', attime, '-CAfile', `${d}/ca.pem`, `${d}/dev.pem`]).status).toBe(0);
      expect(runOpenssl(files, (d) => ['x509', '-in', `${d}/dev.pem`, '-noout', '-text']).output).toMatch(/Salt Length: 0x20/);
    }
  });
});

describe('what issuance reports about its certificates', () => {
  it('matches what the strict parser reads from the DER, for CA and device certificates of every CA algorithm', async () => {
    const { parseCertificate } = await import('./parse-certificate.js');
    for (const algorithm of CA_ALGORITHMS) {
      const ca = cas.get(algorithm)!;
      for (const issued of [ca.certificate, (await makeDevice(ca)).certificate]) {
        const parsed = parseCertificate(issued.der);
        expect(parsed.serialNumber).toBe(issued.serialNumber);
        expect(parsed.notBefore.getTime()).toBe(issued.notBefore.getTime());
        expect(parsed.notAfter.getTime()).toBe(issued.notAfter.getTime());
        expect(new X509Certificate(issued.pem).serialNumber.toLowerCase().replace(/^0+/, '')).toBe(issued.serialNumber.replace(/^0+/, ''));
      }
    }
  });
});
