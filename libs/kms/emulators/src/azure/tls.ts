/**
 * The throwaway TLS identity of one Azure emulator run: a fresh test CA (ECDSA P-256) and a server
 * certificate for localhost / 127.0.0.1 / ::1, both made with @fleetkey/crypto. Clients trust the
 * emulator by its `caCertificatePem` alone (the SDK pipeline's `tlsOptions.ca`, or
 * NODE_EXTRA_CA_CERTS in a child process).
 *
 * Trust boundary: test and demo tooling only. The CA key lives in memory for the duration of
 * `createEmulatorTls` and is then dropped; nothing is written to disk.
 */
import { createCaCertificate, createLocalSigner, generateKeyPair, issueServerCertificate } from '@fleetkey/crypto';

/** The test certificates are valid from an hour ago (clock skew) for this long. */
export const EMULATOR_CERTIFICATE_LIFETIME_MS = 7 * 24 * 3600 * 1000;

export interface EmulatorTls {
  readonly caCertificatePem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export async function createEmulatorTls(): Promise<EmulatorTls> {
  // TLS checks validity against the wall clock, so the window is around the real now.
  const notBefore = new Date(Date.now() - 3600 * 1000);
  const notAfter = new Date(notBefore.getTime() + EMULATOR_CERTIFICATE_LIFETIME_MS);
  const caKey = await generateKeyPair('ECDSA_P256');
  const caSigner = createLocalSigner(caKey.privateKey);
  const ca = await createCaCertificate({ signer: caSigner, fleet: 'fleetkey-emulator', commonName: 'fleetkey Azure emulator test CA', notBefore, notAfter });
  const serverKey = await generateKeyPair('ECDSA_P256');
  const certificate = await issueServerCertificate({
    issuerSigner: caSigner,
    issuerCertificate: ca.pem,
    publicKey: serverKey.publicKey,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    notBefore,
    notAfter,
  });
  return {
    caCertificatePem: ca.pem,
    certificatePem: certificate.pem,
    privateKeyPem: serverKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
