/**
 * kmsSigner: a crypto Signer backed by a KMS key — tested by issuing a fleet CA and a device
 * certificate with it over the in-memory provider, and validating them with @fleetkey/crypto.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createCaCertificate,
  generateKeyPair,
  issueDeviceCertificate,
  validateDeviceCertificate,
  verifySignature,
} from '@fleetkey/crypto';
import { defaultSignatureAlgorithmOfSpec, type KmsKeySpec } from './provider.js';
import { kmsSigner } from './signer.js';
import { createMemoryKmsProvider } from './testing/memory-provider.js';
import { codeOf } from './test-support.js';

const SPECS: KmsKeySpec[] = ['ECDSA_P256', 'ECDSA_P384', 'ECDSA_P521', 'RSA_2048', 'ED25519'];

describe('kmsSigner', () => {
  it.each(SPECS)('%s: signs with the key default algorithm; signatures verify with the public key alone', async (spec) => {
    const { provider } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec });
    const signer = await kmsSigner(provider, key.keyId);
    expect(signer.algorithm).toBe(defaultSignatureAlgorithmOfSpec(spec));
    expect(signer.keyId).toBe(key.keyId);
    expect(signer.keyVersion).toBe(1);
    const data = new TextEncoder().encode('command: unlock door 7');
    const signature = await signer.sign(data);
    expect(verifySignature(await signer.publicKey(), signer.algorithm, data, signature)).toBe(true);
  });

  it('issues a fleet CA and a device certificate with a KMS key, and they validate', async () => {
    const { provider } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'ECDSA_P384', tags: { role: 'fleet-ca' } });
    const signer = await kmsSigner(provider, key.keyId);
    const now = new Date('2026-06-01T00:00:00Z');
    const notBefore = new Date(now.getTime() - 3_600_000);
    const notAfter = new Date(now.getTime() + 30 * 86_400_000);
    const ca = await createCaCertificate({ signer, fleet: 'acme', commonName: 'acme fleet CA', notBefore, notAfter });
    const x509 = new X509Certificate(ca.der);
    expect(x509.ca).toBe(true);
    expect(x509.verify(await provider.getPublicKey({ keyId: key.keyId }))).toBe(true);
    const device = await generateKeyPair('ECDSA_P256');
    const issued = await issueDeviceCertificate({ issuerSigner: signer, issuerCertificate: ca.pem, publicKey: device.publicKey, fleet: 'acme', deviceId: 'robot-17', notBefore, notAfter });
    const validated = validateDeviceCertificate({ certificate: issued.pem, caCertificates: [ca.pem], at: now, expectedFleet: 'acme' });
    expect(validated).toMatchObject({ fleet: 'acme', deviceId: 'robot-17', keyAlgorithm: 'ECDSA_P256' });
    expect(validated.publicKey.equals(device.publicKey)).toBe(true);
  });

  it('takes an explicit algorithm (RSA-PSS) and refuses one that does not fit the key', async () => {
    const { provider } = createMemoryKmsProvider();
    const rsa = await provider.createKey({ spec: 'RSA_2048' });
    const pss = await kmsSigner(provider, rsa.keyId, { algorithm: 'RSA_PSS_SHA256' });
    const signature = await pss.sign(Uint8Array.of(1));
    expect(verifySignature(await pss.publicKey(), 'RSA_PSS_SHA256', Uint8Array.of(1), signature)).toBe(true);
    await expect(kmsSigner(provider, rsa.keyId, { algorithm: 'ECDSA_P256_SHA256' })).rejects.toThrow(RangeError);
  });

  it('Precondition: only an enabled signing key backs a signer', async () => {
    const memory = createMemoryKmsProvider();
    const aes = await memory.provider.createKey({ spec: 'AES_256' });
    expect(await codeOf(kmsSigner(memory.provider, aes.keyId))).toBe('INVALID_KEY_USAGE');
    const ec = await memory.provider.createKey({ spec: 'ECDSA_P256' });
    memory.disableKey(ec.keyId);
    expect(await codeOf(kmsSigner(memory.provider, ec.keyId))).toBe('KEY_DISABLED');
    expect(await codeOf(kmsSigner(memory.provider, 'unknown'))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('Precondition: the KMS signed with the pinned version and algorithm', async () => {
    const { provider } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'ECDSA_P256' });
    const signer = await kmsSigner(provider, key.keyId);
    await provider.rotateKey(key.keyId);
    // The KMS now signs with version 2; this signer advertised version 1's public key.
    expect(await codeOf(signer.sign(Uint8Array.of(1)))).toBe('INVALID_KEY_USAGE');
    const fresh = await kmsSigner(provider, key.keyId);
    expect(fresh.keyVersion).toBe(2);
    const signature = await fresh.sign(Uint8Array.of(1));
    expect(verifySignature(await fresh.publicKey(), fresh.algorithm, Uint8Array.of(1), signature)).toBe(true);
    const pinnedOld = await kmsSigner(provider, key.keyId, { keyVersion: 1 });
    expect((await pinnedOld.publicKey()).equals(await signer.publicKey())).toBe(true);
  });

  it('refuses misuse', async () => {
    const { provider } = createMemoryKmsProvider();
    await expect(kmsSigner(provider, '')).rejects.toThrow(TypeError);
    const key = await provider.createKey({ spec: 'ED25519' });
    const signer = await kmsSigner(provider, key.keyId);
    await expect(signer.sign('text' as never)).rejects.toThrow(TypeError);
  });
});
