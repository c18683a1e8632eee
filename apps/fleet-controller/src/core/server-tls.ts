/**
 * The controller's TLS server identity (gRPC and the embedded MQTT broker): a P-256 key made
 * here and a certificate from the controller TLS CA, whose key is in the KMS. The private key is
 * stored sealed by the controller KEK (a KMS wrap), so a copy of the data directory without KMS
 * access holds no usable server key.
 *
 * Trust boundary: the PKCS#8 private key exists in plaintext only in memory, between the KMS
 * unwrap and the TLS context; the buffers this module makes are zeroized after use.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { generateKeyPair, issueServerCertificate } from '@fleetkey/crypto';
import type { KmsProvider, KmsSigner } from '@fleetkey/kms-core';
import { CLOCK_SKEW_MS } from '../fleets/create-fleet.js';

export const SERVER_CERTIFICATE_VALIDITY_MS = 397 * 24 * 60 * 60 * 1000;
const SERVER_KEY_CONTEXT = Object.freeze({ purpose: 'tls-server-key' });

export interface ServerTlsMaterial {
  /** The server certificate followed by the TLS CA certificate, PEM. */
  readonly certificateChainPem: string;
  /** The sealed private key (envelope v1 from the KMS). */
  readonly sealedKey: Uint8Array;
}

export function derToPem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

export interface IssueServerTlsParams {
  readonly kms: KmsProvider;
  readonly kekId: string;
  readonly tlsCaSigner: KmsSigner;
  readonly tlsCaCertificateDer: Uint8Array;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly now: number;
}

/** Makes a key pair and a server certificate; returns the chain and the KMS-sealed key. */
export async function issueServerTls(params: IssueServerTlsParams): Promise<ServerTlsMaterial> {
  const pair = await generateKeyPair('ECDSA_P256');
  const certificate = await issueServerCertificate({
    issuerSigner: params.tlsCaSigner,
    issuerCertificate: params.tlsCaCertificateDer,
    publicKey: pair.publicKey,
    dnsNames: params.dnsNames,
    ipAddresses: params.ipAddresses,
    notBefore: new Date(params.now - CLOCK_SKEW_MS),
    notAfter: new Date(params.now + SERVER_CERTIFICATE_VALIDITY_MS),
  });
  const pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    const sealedKey = await params.kms.wrap({ keyId: params.kekId, plaintext: pkcs8, context: SERVER_KEY_CONTEXT });
    return { certificateChainPem: derToPem(certificate.der) + derToPem(params.tlsCaCertificateDer), sealedKey };
  } finally {
    pkcs8.fill(0);
  }
}

export interface ServerTlsIdentity {
  /** PEM; what node:tls and grpc-js take. The caller zeroizes it when the servers are closed. */
  readonly privateKeyPem: Buffer;
  readonly certificateChainPem: Buffer;
  readonly publicKey: KeyObject;
  readonly notAfter: Date;
}

/** Unseals the private key with the KMS and checks it belongs to the certificate. */
export async function openServerTls(kms: KmsProvider, sealedKey: Uint8Array, certificateChainPem: string): Promise<ServerTlsIdentity> {
  const pkcs8 = await kms.unwrap({ envelope: sealedKey, context: SERVER_KEY_CONTEXT });
  try {
    const privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    const leaf = new X509Certificate(certificateChainPem);
    const publicKey = createPublicKey(privateKey);
    if (!leaf.checkPrivateKey(privateKey)) throw new Error('the TLS server key does not match its certificate');
    return {
      privateKeyPem: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })),
      certificateChainPem: Buffer.from(certificateChainPem),
      publicKey,
      notAfter: new Date(leaf.validTo),
    };
  } finally {
    pkcs8.fill(0);
  }
}
