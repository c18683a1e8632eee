/**
 * Tests for PKCS#10 requests: made by a Signer, checked by verifyCsr and openssl; forged, tampered,
 * oversized and off-profile requests refused with CSR_INVALID.
 */
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Attribute, Extensions, GeneralName, SubjectAlternativeName, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../sign/keys.js';
import { createLocalSigner } from '../sign/signer.js';
import type { Signer } from '../sign/signer.js';
import { algorithmIdentifier } from './algorithm-identifiers.js';
import { MAX_CSR_BYTES, createCsr, verifyCsr } from './csr.js';
import { extension } from './extensions.js';
import { buildName } from './names.js';
import { OID_EXTENSION_REQUEST, OID_SUBJECT_ALT_NAME } from './oids.js';
import { toPem } from './pem.js';
import { HAS_OPENSSL, runOpenssl } from './test-fixtures.js';

let p256: { privateKey: KeyObject; publicKey: KeyObject };
let rsa: { privateKey: KeyObject; publicKey: KeyObject };
let validDer: Uint8Array;

beforeAll(async () => {
  p256 = await generateKeyPair('ECDSA_P256');
  rsa = await generateKeyPair('RSA_2048');
  validDer = (await createCsr({ signer: createLocalSigner(p256.privateKey), fleet: 'fleet-a', deviceId: 'robot-1' })).der;
});

function expectInvalid(fn: () => unknown, reason?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: 'CSR_INVALID', ...(reason ? { reason } : {}) });
}

const uri = (u: string) => new GeneralName({ uniformResourceIdentifier: u });
const sanRequest = (...names: GeneralName[]) =>
  new Attribute({
    type: OID_EXTENSION_REQUEST,
    values: [AsnConvert.serialize(new Extensions([extension(OID_SUBJECT_ALT_NAME, false, new SubjectAlternativeName(names))]))],
  });

/** A CSR built field by field and signed with node:crypto, so each test can break one rule. */
function buildCsr(options: {
  key?: KeyObject;
  /** The key named in the request, when it differs from the signing key. */
  namedKey?: KeyObject;
  organization?: string;
  commonName?: string;
  attributes?: Attribute[];
  signatureAlgorithm?: AlgorithmIdentifier;
  hash?: string;
}): Uint8Array {
  const key = options.key ?? p256.privateKey;
  const spkiDer = createPublicKey(options.namedKey ?? key).export({ type: 'spki', format: 'der' });
  const info = new CertificationRequestInfo({
    version: 0,
    subject: buildName(options.organization ?? 'fleet-a', options.commonName ?? 'robot-1'),
    subjectPKInfo: AsnConvert.parse(spkiDer, SubjectPublicKeyInfo),
    attributes: new Attributes(options.attributes ?? [sanRequest(uri('fleetkey://fleet-a/robot-1'))]),
  });
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const signature = sign(options.hash ?? 'sha256', infoDer, key);
  const defaultAlgorithm = key.asymmetricKeyType === 'rsa' ? 'RSA_PKCS1_SHA256' : 'ECDSA_P256_SHA256';
  return new Uint8Array(
    AsnConvert.serialize(
      new CertificationRequest({
        certificationRequestInfo: info,
        signatureAlgorithm: options.signatureAlgorithm ?? algorithmIdentifier(defaultAlgorithm),
        signature: new Uint8Array(signature).buffer,
      }),
    ),
  );
}

describe('createCsr + verifyCsr', () => {
  for (const [name, keyName] of [
    ['ECDSA P-256', 'p256'],
    ['RSA-2048', 'rsa'],
  ] as const) {
    it(`makes a ${name} request that verifyCsr and openssl accept`, async () => {
      const pair = keyName === 'p256' ? p256 : rsa;
      const csr = await createCsr({ signer: createLocalSigner(pair.privateKey), fleet: 'fleet-a', deviceId: 'robot-42' });
      expect(csr.pem).toContain('-----BEGIN CERTIFICATE REQUEST-----');
      for (const input of [csr.pem, csr.der]) {
        const verified = verifyCsr(input);
        expect(verified.subjectCommonName).toBe('robot-42');
        expect(verified.subjectOrganization).toBe('fleet-a');
        expect(verified.sanUris).toEqual(['fleetkey://fleet-a/robot-42']);
        expect(verified.fleet).toBe('fleet-a');
        expect(verified.deviceId).toBe('robot-42');
        expect(verified.keyAlgorithm).toBe(keyName === 'p256' ? 'ECDSA_P256' : 'RSA_2048');
        expect(verified.publicKey.export({ type: 'spki', format: 'der' })).toEqual(pair.publicKey.export({ type: 'spki', format: 'der' }));
      }
      if (HAS_OPENSSL) {
        const result = runOpenssl({ 'r.pem': csr.pem }, (d) => ['req', '-in', `${d}/r.pem`, '-verify', '-noout', '-text']);
        expect(result.output).toContain('verify OK');
        expect(result.output).toContain('URI:fleetkey://fleet-a/robot-42');
      }
    });
  }

  it('accepts a request made by openssl itself (interoperability with C++ robots)', () => {
    if (!HAS_OPENSSL) return void expect(HAS_OPENSSL).toBe(false);
    const keyPem = p256.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const result = runOpenssl({ 'k.pem': keyPem }, (d) => [
      'req', '-new', '-key', `${d}/k.pem`, '-subj', '/O=fleet-a/CN=robot-9', '-addext', 'subjectAltName=URI:fleetkey://fleet-a/robot-9', '-sha256',
    ]);
    expect(result.status).toBe(0);
    const pem = result.output.slice(result.output.indexOf('-----BEGIN CERTIFICATE REQUEST-----'));
    expect(verifyCsr(pem).deviceId).toBe('robot-9');
  });

  it('Precondition: only the allowed key algorithms are certified', async () => {
    const p384 = await generateKeyPair('ECDSA_P384');
    const csr = await createCsr({ signer: createLocalSigner(p384.privateKey), fleet: 'fleet-a', deviceId: 'robot-1' });
    expectInvalid(() => verifyCsr(csr.der), 'key-not-allowed');
    expect(verifyCsr(csr.der, { allowedKeyAlgorithms: ['ECDSA_P384'] }).keyAlgorithm).toBe('ECDSA_P384');
    const ed = await generateKeyPair('ED25519');
    const edCsr = await createCsr({ signer: createLocalSigner(ed.privateKey), fleet: 'fleet-a', deviceId: 'robot-1' });
    expectInvalid(() => verifyCsr(edCsr.der), 'key-not-allowed');
    expectInvalid(() => verifyCsr(validDer, { allowedKeyAlgorithms: ['RSA_2048'] }), 'key-not-allowed');
  });

  it('Precondition: the request is signed by the key it names (proof of possession, RFC 2986 §3)', async () => {
    // Take a valid CSR and swap its public key for another one.
    const request = AsnConvert.parse(validDer, CertificationRequest);
    const other = await generateKeyPair('ECDSA_P256');
    request.certificationRequestInfo.subjectPKInfo = AsnConvert.parse(other.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
    const swapped = new Uint8Array(
      AsnConvert.serialize(
        new CertificationRequest({
          certificationRequestInfo: request.certificationRequestInfo,
          signatureAlgorithm: request.signatureAlgorithm,
          signature: request.signature,
        }),
      ),
    );
    expectInvalid(() => verifyCsr(swapped), 'bad-signature');
    // Signed by one key, naming another.
    expectInvalid(() => verifyCsr(buildCsr({ key: p256.privateKey, namedKey: other.privateKey })), 'bad-signature');
    // A tampered subject.
    const tampered = Uint8Array.from(validDer);
    tampered[Buffer.from(validDer).indexOf('robot-1')]! ^= 0x01;
    expectInvalid(() => verifyCsr(tampered), 'bad-signature');
  });

  it('refuses signature algorithms that are not ours or do not fit the key', () => {
    const ecdsaSha384 = buildCsr({ hash: 'sha384', signatureAlgorithm: algorithmIdentifier('ECDSA_P384_SHA384') });
    expectInvalid(() => verifyCsr(ecdsaSha384), 'unsupported-algorithm');
    const sha1WithRsa = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.5', parameters: null });
    const sha1 = buildCsr({ key: rsa.privateKey, hash: 'sha1', signatureAlgorithm: sha1WithRsa });
    expectInvalid(() => verifyCsr(sha1), 'unsupported-algorithm');
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expectInvalid(() => verifyCsr(buildCsr({ key: rsa1024 })), 'unsupported-algorithm');
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    expectInvalid(() => verifyCsr(buildCsr({ key: k1 })), 'unsupported-algorithm');
  });

  it('Precondition: exactly one extensionRequest attribute with exactly one value', () => {
    expect(verifyCsr(buildCsr({})).deviceId).toBe('robot-1');
    expectInvalid(() => verifyCsr(buildCsr({ attributes: [] })), 'bad-identity');
    const twice = sanRequest(uri('fleetkey://fleet-a/robot-1'));
    expectInvalid(() => verifyCsr(buildCsr({ attributes: [twice, sanRequest(uri('fleetkey://fleet-a/robot-1'))] })), 'bad-identity');
  });

  it('Precondition: the subject is O=<fleet>, CN=<device>, matching the one fleetkey SAN URI', () => {
    expectInvalid(() => verifyCsr(buildCsr({ commonName: 'robot-2' })), 'bad-identity');
    expectInvalid(() => verifyCsr(buildCsr({ organization: 'fleet-b' })), 'bad-identity');
    const cases = [
      [uri('https://fleet-a/robot-1')],
      [uri('fleetkey://fleet-a/robot-1'), uri('fleetkey://fleet-b/robot-1')],
      [uri('fleetkey://fleet-a/robot-1'), new GeneralName({ dNSName: 'robot-1.example' })],
      [uri('fleetkey://fleet-a/robot-1?x=1')],
      [uri('fleetkey://fleet-a/')],
    ];
    for (const names of cases) expectInvalid(() => verifyCsr(buildCsr({ attributes: [sanRequest(...names)] })), 'bad-identity');
  });

  it('Precondition: the CSR is at most MAX_CSR_BYTES, checked before parsing', () => {
    expectInvalid(() => verifyCsr(new Uint8Array(MAX_CSR_BYTES + 1)), 'too-large');
    expectInvalid(() => verifyCsr(toPem(new Uint8Array(MAX_CSR_BYTES + 1), 'CERTIFICATE REQUEST')), 'too-large');
    expectInvalid(() => verifyCsr('x'.repeat(10 * MAX_CSR_BYTES)), 'too-large');
  });

  it('Precondition: the CSR DER re-encodes to the same bytes (one encoding, no trailing data)', () => {
    const trailing = new Uint8Array(validDer.length + 2);
    trailing.set(validDer);
    expectInvalid(() => verifyCsr(trailing));
    // A three-byte length where two bytes fit: valid BER, invalid DER.
    expect(validDer[1]).toBe(0x82);
    const ber = new Uint8Array(validDer.length + 1);
    ber.set([0x30, 0x83, 0x00, validDer[2]!, validDer[3]!]);
    ber.set(validDer.subarray(4), 5);
    expectInvalid(() => verifyCsr(ber), 'non-canonical');
  });

  const badInputs: Array<[string, string | Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['empty text', ''],
    ['garbage', Uint8Array.of(1, 2, 3, 4)],
    ['a certificate PEM label', '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----'],
    ['an empty SEQUENCE', Uint8Array.of(0x30, 0x00)],
  ];
  for (const [name, input] of badInputs) {
    it(`refuses bad input: ${name}`, () => expectInvalid(() => verifyCsr(input)));
  }

  it('refuses any single-byte change to a valid request (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: validDer.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const tampered = Uint8Array.from(validDer);
        tampered[index]! ^= mask;
        expectInvalid(() => verifyCsr(tampered));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses bad ids and a signer whose key does not fit its algorithm', async () => {
    const signer = createLocalSigner(p256.privateKey);
    await expect(createCsr({ signer, fleet: 'fleet/a', deviceId: 'r' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    await expect(createCsr({ signer, fleet: 'fleet-a', deviceId: '#' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    const lying: Signer = { ...signer, algorithm: 'RSA_PKCS1_SHA256', publicKey: signer.publicKey, sign: signer.sign };
    await expect(createCsr({ signer: lying, fleet: 'fleet-a', deviceId: 'r' })).rejects.toThrow(RangeError);
  });

  it('Postcondition: the request carries a signature its own public key verifies', async () => {
    const other = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey);
    const signer = createLocalSigner(p256.privateKey);
    const faulty: Signer = { algorithm: signer.algorithm, keyId: 'faulty', publicKey: () => signer.publicKey(), sign: (d) => other.sign(d) };
    await expect(createCsr({ signer: faulty, fleet: 'fleet-a', deviceId: 'r' })).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
  });
});
