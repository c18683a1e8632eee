/**
 * Tests for device certificate validation: the happy path for P-256, P-384 and RSA-2048 CAs, then
 * one broken rule at a time (expired, not yet valid, other CA, revoked, wrong fleet, tampered,
 * wrong profile), each refused with its code.
 */
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, ExtendedKeyUsage, Extension, GeneralName, KeyUsage, KeyUsageFlags, SubjectAlternativeName, Validity } from '@peculiar/asn1-x509';
import type { TBSCertificate } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '@fleetkey/key-types';
import { generateKeyPair } from '../sign/keys.js';
import { createLocalSigner } from '../sign/signer.js';
import type { Signer } from '../sign/signer.js';
import { algorithmIdentifier } from './algorithm-identifiers.js';
import { extension } from './extensions.js';
import { buildDeviceTbs, createCaCertificate } from './issue.js';
import { OID_EXT_KEY_USAGE, OID_KEY_USAGE, OID_KP_CLIENT_AUTH, OID_SUBJECT_ALT_NAME } from './oids.js';
import { MAX_CERTIFICATE_BYTES, parseCertificate } from './parse-certificate.js';
import { toPem } from './pem.js';
import { signCertificate } from './sign-certificate.js';
import { DAY_MS, NOW, makeCa, makeDevice } from './test-fixtures.js';
import type { TestCa, TestDevice } from './test-fixtures.js';
import { validateDeviceCertificate } from './validate.js';

const CA_ALGORITHMS: KeyAlgorithm[] = ['ECDSA_P256', 'ECDSA_P384', 'RSA_2048'];
const cas = new Map<KeyAlgorithm, TestCa>();
let ca: TestCa;
let device: TestDevice;

beforeAll(async () => {
  for (const algorithm of CA_ALGORITHMS) cas.set(algorithm, await makeCa(algorithm));
  ca = cas.get('ECDSA_P256')!;
  device = await makeDevice(ca);
}, 60_000);

function validate(certificate: string | Uint8Array, overrides: Partial<Parameters<typeof validateDeviceCertificate>[0]> = {}) {
  return validateDeviceCertificate({ certificate, caCertificates: [ca.certificate.pem], at: NOW, ...overrides });
}

function expectInvalid(fn: () => unknown, reason?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: 'CERTIFICATE_INVALID', ...(reason ? { reason } : {}) });
}

/** A device certificate from `issuerCa` with `mutate` applied to its TBS before signing. */
async function crafted(
  mutate: (tbs: TBSCertificate) => void,
  options: { issuerCa?: TestCa; signer?: Signer; fleet?: string; deviceId?: string } = {},
): Promise<Uint8Array> {
  const issuerCa = options.issuerCa ?? ca;
  const { publicKey } = await generateKeyPair('ECDSA_P256');
  const tbs = buildDeviceTbs({
    issuer: parseCertificate(issuerCa.certificate.der),
    publicKey,
    fleet: options.fleet ?? issuerCa.fleet,
    deviceId: options.deviceId ?? 'robot-x',
    validity: new Validity({ notBefore: new Date(NOW.getTime() - DAY_MS), notAfter: new Date(NOW.getTime() + DAY_MS) }),
    serialNumber: Uint8Array.of(0x42, 0x01),
  });
  mutate(tbs);
  return (await signCertificate(tbs, options.signer ?? issuerCa.signer, await (options.signer ?? issuerCa.signer).publicKey())).der;
}

function replaceExtension(tbs: TBSCertificate, oid: string, replacement?: Extension): void {
  const index = tbs.extensions!.findIndex((e) => e.extnID === oid);
  if (replacement) tbs.extensions![index] = replacement;
  else tbs.extensions!.splice(index, 1);
}

describe('validateDeviceCertificate', () => {
  for (const algorithm of CA_ALGORITHMS) {
    it(`accepts a device certificate from a ${algorithm} CA and says who it names`, async () => {
      const issuer = cas.get(algorithm)!;
      const dev = await makeDevice(issuer, { keyAlgorithm: 'RSA_2048', deviceId: 'robot-7' });
      const result = validateDeviceCertificate({ certificate: dev.certificate.pem, caCertificates: [issuer.certificate.der], at: NOW, expectedFleet: 'fleet-a' });
      expect(result.fleet).toBe('fleet-a');
      expect(result.deviceId).toBe('robot-7');
      expect(result.serialNumber).toBe(dev.certificate.serialNumber);
      expect(result.notAfter).toEqual(dev.certificate.notAfter);
      expect(result.keyAlgorithm).toBe('RSA_2048');
      expect(result.issuerSerialNumber).toBe(issuer.certificate.serialNumber);
      expect(result.publicKey.export({ type: 'spki', format: 'der' })).toEqual(dev.publicKey.export({ type: 'spki', format: 'der' }));
    });
  }

  it('finds the issuer among several anchors (CA rotation)', () => {
    const anchors = [cas.get('RSA_2048')!.certificate.pem, cas.get('ECDSA_P384')!.certificate.pem, ca.certificate.pem];
    expect(validate(device.certificate.der, { caCertificates: anchors }).deviceId).toBe('robot-1');
  });

  it('Precondition: the device certificate is valid at `at`', () => {
    const { notBefore, notAfter } = device.certificate;
    expect(validate(device.certificate.pem, { at: notBefore }).deviceId).toBe('robot-1');
    expect(validate(device.certificate.pem, { at: notAfter }).deviceId).toBe('robot-1');
    expectInvalid(() => validate(device.certificate.pem, { at: new Date(notAfter.getTime() + 1000) }), 'expired');
    expectInvalid(() => validate(device.certificate.pem, { at: new Date(notBefore.getTime() - 1000) }), 'not-yet-valid');
  });

  it('Precondition: the issuing anchor is a fleet CA, valid at `at`', async () => {
    // A CA that expired before `at`, with a device certificate that is itself still in its window.
    const oldCa = await makeCa('ECDSA_P256', 'fleet-a', { notBefore: new Date(NOW.getTime() - 10 * DAY_MS), notAfter: new Date(NOW.getTime() - DAY_MS) });
    const late = await crafted(() => {}, { issuerCa: oldCa });
    expectInvalid(() => validate(late, { caCertificates: [oldCa.certificate.pem] }), 'issuer-not-valid');
    // A device certificate used as an anchor cannot issue: it is not a CA.
    const fakeCa: TestCa = { ...ca, signer: createLocalSigner(device.privateKey), certificate: device.certificate };
    const signedByDevice = await crafted(() => {}, { issuerCa: fakeCa });
    expectInvalid(() => validate(signedByDevice, { caCertificates: [device.certificate.pem] }), 'issuer-not-ca');
  });

  it("Precondition: the device certificate's signature verifies with an anchor's public key", async () => {
    // Another CA of the same fleet and even the same name, but another key.
    const other = await makeCa('ECDSA_P256');
    expectInvalid(() => validate(device.certificate.pem, { caCertificates: [other.certificate.pem] }), 'unknown-issuer');
    // Without an authority key id to tell them apart, the signature check refuses it.
    const noAki = await crafted((tbs) => replaceExtension(tbs, '2.5.29.35'), { issuerCa: other });
    expectInvalid(() => validate(noAki, { caCertificates: [ca.certificate.pem] }), 'bad-signature');
    expect(validate(noAki, { caCertificates: [other.certificate.pem] }).deviceId).toBe('robot-x');
    // A CA of another fleet has another name.
    const fleetB = await makeCa('ECDSA_P256', 'fleet-b');
    expectInvalid(() => validate(device.certificate.pem, { caCertificates: [fleetB.certificate.pem] }), 'unknown-issuer');
  });

  it('Precondition: a revoked certificate is refused even though everything else checks out', () => {
    const seen: string[] = [];
    expect(validate(device.certificate.pem, { isRevoked: (serial) => (seen.push(serial), false) }).deviceId).toBe('robot-1');
    expect(seen).toEqual([device.certificate.serialNumber]);
    let thrown: unknown;
    try {
      validate(device.certificate.pem, { isRevoked: (serial) => serial === device.certificate.serialNumber });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'CERTIFICATE_REVOKED', serialNumber: device.certificate.serialNumber });
  });

  it('Precondition: the device belongs to the fleet of the CA that issued it (no cross-tenant certificates)', async () => {
    expectInvalid(() => validate(device.certificate.pem, { expectedFleet: 'fleet-b' }), 'wrong-fleet');
    // fleet-a's CA signing a fleet-b identity (issueDeviceCertificate refuses; a forger would not).
    const crossTenant = await crafted(() => {}, { fleet: 'fleet-b' });
    expectInvalid(() => validate(crossTenant), 'wrong-fleet');
  });

  it('Precondition: a device certificate is not a CA and may sign, but not certificates', async () => {
    expectInvalid(() => validate(ca.certificate.pem), 'bad-extensions');
    const signsCerts = await crafted((tbs) =>
      replaceExtension(tbs, OID_KEY_USAGE, extension(OID_KEY_USAGE, true, new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign))),
    );
    expectInvalid(() => validate(signsCerts), 'bad-extensions');
    const cannotSign = await crafted((tbs) => replaceExtension(tbs, OID_KEY_USAGE, extension(OID_KEY_USAGE, true, new KeyUsage(KeyUsageFlags.keyAgreement))));
    expectInvalid(() => validate(cannotSign), 'bad-extensions');
    const noKeyUsage = await crafted((tbs) => replaceExtension(tbs, OID_KEY_USAGE));
    expectInvalid(() => validate(noKeyUsage), 'bad-extensions');
  });

  it('Precondition: the device certificate is good for both ends of agent-to-agent mTLS', async () => {
    const clientOnly = await crafted((tbs) =>
      replaceExtension(tbs, OID_EXT_KEY_USAGE, extension(OID_EXT_KEY_USAGE, false, new ExtendedKeyUsage([OID_KP_CLIENT_AUTH]))),
    );
    expectInvalid(() => validate(clientOnly), 'bad-extensions');
    const noEku = await crafted((tbs) => replaceExtension(tbs, OID_EXT_KEY_USAGE));
    expectInvalid(() => validate(noEku), 'bad-extensions');
  });

  it('Precondition: the identity is exactly one fleetkey SAN URI, and the subject names agree with it', async () => {
    const san = (...names: GeneralName[]) => (tbs: TBSCertificate) =>
      replaceExtension(tbs, OID_SUBJECT_ALT_NAME, extension(OID_SUBJECT_ALT_NAME, false, new SubjectAlternativeName(names)));
    const uri = (u: string) => new GeneralName({ uniformResourceIdentifier: u });
    const cases = [
      san(uri('fleetkey://fleet-a/robot-x'), uri('fleetkey://fleet-a/robot-y')),
      san(uri('fleetkey://fleet-a/robot-x'), new GeneralName({ dNSName: 'robot-x.example' })),
      san(uri('https://fleet-a/robot-x')),
      san(uri('fleetkey://fleet-a/robot-x/extra')),
      san(uri('fleetkey://fleet-a/other-robot')),
      san(uri('fleetkey://fleet-a/robot+x')),
      (tbs: TBSCertificate) => replaceExtension(tbs, OID_SUBJECT_ALT_NAME),
    ];
    for (const mutate of cases) {
      const der = await crafted(mutate);
      expectInvalid(() => validate(der), 'bad-identity');
    }
    // The subject CN must name the same device as the SAN URI.
    const cnMismatch = await crafted(san(uri('fleetkey://fleet-a/robot-y')));
    expectInvalid(() => validate(cnMismatch), 'bad-identity');
  });

  it('refuses an unknown critical extension (RFC 5280 §4.2)', async () => {
    const withCritical = await crafted((tbs) => {
      tbs.extensions!.push(new Extension({ extnID: '1.3.6.1.4.1.99999.1', critical: true, extnValue: new OctetString(Uint8Array.of(5, 0)) }));
    });
    expectInvalid(() => validate(withCritical), 'unknown-critical-extension');
    const withNonCritical = await crafted((tbs) => {
      tbs.extensions!.push(new Extension({ extnID: '1.3.6.1.4.1.99999.1', critical: false, extnValue: new OctetString(Uint8Array.of(5, 0)) }));
    });
    expect(validate(withNonCritical).deviceId).toBe('robot-x');
  });

  it('refuses a certificate whose bytes were tampered with anywhere (property)', () => {
    const der = device.certificate.der;
    fc.assert(
      fc.property(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const tampered = Uint8Array.from(der);
        tampered[index]! ^= mask;
        expectInvalid(() => validate(tampered));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a tampered subject, serial number and signature', () => {
    const der = device.certificate.der;
    const at = (needle: string) => Buffer.from(der).indexOf(Buffer.from(needle));
    for (const index of [at('robot-1'), at('fleet-a'), 15, der.length - 5]) {
      const tampered = Uint8Array.from(der);
      tampered[index]! ^= 0x01;
      expectInvalid(() => validate(tampered));
    }
  });

  it('Precondition: the certificate DER re-encodes to the same bytes (no BER, no trailing data)', () => {
    const der = device.certificate.der;
    const trailing = new Uint8Array(der.length + 1);
    trailing.set(der);
    expectInvalid(() => validate(trailing));
    // The same certificate with a non-minimal (long-form) outer length: valid BER, invalid DER.
    const bodyLength = der.length - 4;
    expect(der[1]).toBe(0x82);
    const ber = new Uint8Array(der.length + 1);
    ber.set([0x30, 0x83, 0x00, bodyLength >> 8, bodyLength & 0xff]);
    ber.set(der.subarray(4), 5);
    expectInvalid(() => validate(ber));
  });

  it('Precondition: the outer signatureAlgorithm equals the TBS signature field (RFC 5280 §4.1.1.2)', () => {
    const cert = AsnConvert.parse(device.certificate.der, Certificate);
    cert.signatureAlgorithm = algorithmIdentifier('ECDSA_P384_SHA384');
    const rebuilt = new Certificate({ tbsCertificate: cert.tbsCertificate, signatureAlgorithm: cert.signatureAlgorithm, signatureValue: cert.signatureValue });
    const mismatched = new Uint8Array(AsnConvert.serialize(rebuilt));
    expectInvalid(() => validate(mismatched), 'unsupported-algorithm');
  });

  const badInputs: Array<[string, string | Uint8Array]> = [
    ['empty bytes', new Uint8Array(0)],
    ['empty text', ''],
    ['garbage bytes', Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)],
    ['a lone SEQUENCE header', Uint8Array.of(0x30, 0x82, 0xff, 0xff)],
    ['PEM with another label', '-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n'],
    ['PEM with invalid base64', '-----BEGIN CERTIFICATE-----\nM!A=\n-----END CERTIFICATE-----\n'],
    ['PEM with two blocks', `-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----`],
    ['too large DER', new Uint8Array(MAX_CERTIFICATE_BYTES + 1)],
    ['too large PEM', `-----BEGIN CERTIFICATE-----\n${'A'.repeat(MAX_CERTIFICATE_BYTES * 2)}\n-----END CERTIFICATE-----`],
  ];
  for (const [name, input] of badInputs) {
    it(`refuses bad input: ${name}`, () => expectInvalid(() => validate(input)));
  }

  it('refuses a truncated certificate', () => {
    for (const length of [1, 10, 100, device.certificate.der.length - 1]) expectInvalid(() => validate(device.certificate.der.subarray(0, length)));
  });

  it('Precondition: the PEM body is canonical base64 (no other characters, no second block)', () => {
    const pem = toPem(device.certificate.der, 'CERTIFICATE');
    expect(validate(pem).deviceId).toBe('robot-1');
    expect(validate(pem.replace(/\n/g, '\r\n')).deviceId).toBe('robot-1');
    expectInvalid(() => validate(pem.replace('-----END', ' -----END').replace(/([A-Za-z0-9+/])\n/, '$1 \n')), 'malformed');
    expectInvalid(() => validate(pem + pem), 'malformed');
  });

  it('refuses malformed trusted parameters as programming errors', () => {
    expect(() => validate(device.certificate.pem, { caCertificates: [] })).toThrow(RangeError);
    expect(() => validate(device.certificate.pem, { caCertificates: ['not a cert'] })).toThrow(RangeError);
    expect(() => validate(device.certificate.pem, { caCertificates: Array(17).fill(ca.certificate.pem) })).toThrow(RangeError);
    expect(() => validate(device.certificate.pem, { at: new Date(Number.NaN) })).toThrow(TypeError);
    expect(() => validate(device.certificate.pem, { isRevoked: 'yes' as unknown as () => boolean })).toThrow(TypeError);
  });

  it('accepts a device certificate after its CA is re-issued with the same key and name', async () => {
    const renewed = await createCaCertificate({
      signer: ca.signer,
      fleet: 'fleet-a',
      commonName: 'fleet-a CA',
      notBefore: new Date(NOW.getTime() - DAY_MS),
      notAfter: new Date(NOW.getTime() + 3650 * DAY_MS),
    });
    expect(validate(device.certificate.pem, { caCertificates: [renewed.pem] }).deviceId).toBe('robot-1');
  });
});

