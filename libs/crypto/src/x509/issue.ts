/**
 * Issuing fleet CA certificates and device certificates with any `Signer` (local key now, KMS key
 * later). The TBSCertificate is built here with @peculiar/asn1-x509 and signed through the Signer,
 * because a KMS cannot hand over the WebCrypto key that @peculiar/x509's generators need.
 *
 * Trust boundary: parameters come from the controller (trusted code); the device public key came
 * from a CSR that `verifyCsr` already checked. The CA private key never enters this module.
 */
import { KeyObject, createPublicKey } from 'node:crypto';
import { spkiDerOf } from '../sign/spki.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  ExtendedKeyUsage,
  Extensions,
  GeneralName,
  KeyUsage,
  KeyUsageFlags,
  Name,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Version,
} from '@peculiar/asn1-x509';
import type { Validity } from '@peculiar/asn1-x509';
import { assertAlgorithmAllowed, assertIdentifier } from '@fleetkey/key-types';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import type { Signer } from '../sign/signer.js';
import { keyAlgorithmOf, keyMatchesSignatureAlgorithm } from '../sign/key-algorithm.js';
import {
  authorityKeyIdentifier,
  extension,
  keyIdentifierOf,
  subjectKeyIdentifier,
} from './extensions.js';
import { assertCommonName, buildName } from './names.js';
import {
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_KEY_USAGE,
  OID_KP_CLIENT_AUTH,
  OID_KP_SERVER_AUTH,
  OID_SUBJECT_ALT_NAME,
  OID_SUBJECT_KEY_IDENTIFIER,
} from './oids.js';
import { parseCertificate } from './parse-certificate.js';
import type { CertificateInput, ParsedCertificate } from './parse-certificate.js';
import { caProblem, deviceKeyUsage, subjectKeyIdOf } from './profile.js';
import { assertSerialNumber, generateSerialNumber } from './serial.js';
import { signCertificate } from './sign-certificate.js';
import type { IssuedCertificate } from './sign-certificate.js';
import { buildValidity } from './validity.js';
import { equalBytes } from './pem.js';

export interface CreateCaCertificateParams {
  readonly signer: Signer;
  readonly fleet: string;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Defaults to 16 fresh random bytes (`generateSerialNumber`). */
  readonly serialNumber?: Uint8Array;
}

export interface IssueDeviceCertificateParams {
  readonly issuerSigner: Signer;
  /** The CA certificate whose key `issuerSigner` holds (PEM or DER). */
  readonly issuerCertificate: CertificateInput;
  /** The device's public key (a private KeyObject is reduced to its public half). */
  readonly publicKey: KeyObject;
  readonly fleet: string;
  readonly deviceId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Defaults to 16 fresh random bytes (`generateSerialNumber`). */
  readonly serialNumber?: Uint8Array;
}

function spkiOf(key: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(spkiDerOf(key), SubjectPublicKeyInfo);
}

async function signerKey(signer: Signer, name: string): Promise<{ publicKey: KeyObject; keyAlgorithm: AsymmetricAlgorithm }> {
  if (!signer || typeof signer.sign !== 'function' || typeof signer.publicKey !== 'function') {
    throw new TypeError(`"${name}" expected a Signer`);
  }
  const publicKey = await signer.publicKey();
  const keyAlgorithm = keyAlgorithmOf(publicKey);
  if (!keyMatchesSignatureAlgorithm(publicKey, signer.algorithm)) {
    throw new RangeError(`"${name}" has a ${keyAlgorithm} key, which cannot make ${signer.algorithm} signatures`);
  }
  return { publicKey, keyAlgorithm };
}

/**
 * A self-signed fleet CA certificate: subject and issuer `O=<fleet>, CN=<commonName>`,
 * basicConstraints CA:true pathLen 0 (critical; it signs device certificates only), keyUsage
 * keyCertSign + cRLSign (critical), subjectKeyIdentifier.
 * @throws InvalidIdentifier for a bad fleet id.
 * @throws UnsupportedAlgorithm when the signer's key is not allowed for fleet CAs (KIND_POLICIES).
 * @throws TypeError / RangeError for malformed parameters.
 * @throws SignatureInvalid when the signer returns a signature its own public key does not verify.
 */
export async function createCaCertificate(params: CreateCaCertificateParams): Promise<IssuedCertificate> {
  const fleet = assertIdentifier('fleet', params.fleet);
  const commonName = assertCommonName(params.commonName);
  const validity = buildValidity(params.notBefore, params.notAfter);
  const serialNumber = params.serialNumber === undefined ? generateSerialNumber() : assertSerialNumber(params.serialNumber);
  const { publicKey, keyAlgorithm } = await signerKey(params.signer, 'signer');
  assertAlgorithmAllowed('fleet-ca', keyAlgorithm);

  const spki = spkiOf(publicKey);
  const name = buildName(fleet, commonName);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber.slice().buffer,
    issuer: name,
    validity,
    subject: buildName(fleet, commonName),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(OID_BASIC_CONSTRAINTS, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
      extension(OID_KEY_USAGE, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      extension(OID_SUBJECT_KEY_IDENTIFIER, false, subjectKeyIdentifier(keyIdentifierOf(spki))),
    ]),
  });
  return signCertificate(tbs, params.signer, publicKey);
}

/**
 * A device (end-entity) certificate: subject `O=<fleet>, CN=<deviceId>`, SAN URI
 * `fleetkey://<fleet>/<deviceId>`, basicConstraints CA:false (critical), keyUsage digitalSignature
 * (+ keyAgreement for EC, + keyEncipherment for RSA; critical), extKeyUsage clientAuth + serverAuth
 * (agent-to-agent mTLS needs both), subject and authority key identifiers.
 * @throws InvalidIdentifier for a bad fleet or device id.
 * @throws UnsupportedAlgorithm when the device key is not one fleetkey supports.
 * @throws CertificateInvalid when `issuerCertificate` cannot be parsed.
 * @throws RangeError when the issuer certificate is not a fleet CA, belongs to another fleet, or
 *   does not hold the issuer signer's key; TypeError / RangeError for other malformed parameters.
 * @throws SignatureInvalid when the signer returns a signature the CA key does not verify.
 */
export async function issueDeviceCertificate(params: IssueDeviceCertificateParams): Promise<IssuedCertificate> {
  const fleet = assertIdentifier('fleet', params.fleet);
  const deviceId = assertIdentifier('device', params.deviceId);
  const validity = buildValidity(params.notBefore, params.notAfter);
  const serialNumber = params.serialNumber === undefined ? generateSerialNumber() : assertSerialNumber(params.serialNumber);
  if (!(params.publicKey instanceof KeyObject) || params.publicKey.type === 'secret') {
    throw new TypeError('"publicKey" expected an asymmetric KeyObject');
  }
  const devicePublicKey = params.publicKey.type === 'private' ? createPublicKey(params.publicKey) : params.publicKey;
  keyAlgorithmOf(devicePublicKey);

  const issuer = parseCertificate(params.issuerCertificate);
  // Precondition: the issuer certificate is a fleet CA of the same fleet, holding the signer's key.
  if (caProblem(issuer) !== undefined) throw new RangeError('"issuerCertificate" is not a fleet CA certificate');
  if (issuer.subject.organization !== fleet) throw new RangeError('"fleet" does not match the issuer certificate\'s fleet');
  const { publicKey: issuerKey } = await signerKey(params.issuerSigner, 'issuerSigner');
  if (!equalBytes(spkiDerOf(issuerKey), issuer.spkiDer)) {
    throw new RangeError('"issuerSigner" does not hold the key of "issuerCertificate"');
  }

  const tbs = buildDeviceTbs({ issuer, publicKey: devicePublicKey, fleet, deviceId, validity, serialNumber });
  return signCertificate(tbs, params.issuerSigner, issuer.publicKey);
}

/**
 * The device TBSCertificate, unsigned and unchecked: ids, key and issuer are taken as given.
 * Internal seam (not exported from the package): `issueDeviceCertificate` checks first; tests use
 * it to build certificates that break one rule at a time.
 */
export function buildDeviceTbs(input: {
  readonly issuer: ParsedCertificate;
  readonly publicKey: KeyObject;
  readonly fleet: string;
  readonly deviceId: string;
  readonly validity: Validity;
  readonly serialNumber: Uint8Array;
}): TBSCertificate {
  const { issuer, fleet, deviceId, validity, serialNumber } = input;
  const spki = spkiOf(input.publicKey);
  const issuerKeyId = subjectKeyIdOf(issuer) ?? keyIdentifierOf(AsnConvert.parse(issuer.spkiDer, SubjectPublicKeyInfo));
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber.slice().buffer,
    // The issuer name is copied byte for byte from the CA's subject (RFC 5280 §7.1 name chaining).
    issuer: AsnConvert.parse(issuer.subjectDer, Name),
    validity,
    subject: buildName(fleet, deviceId),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(OID_BASIC_CONSTRAINTS, true, new BasicConstraints({ cA: false })),
      extension(OID_KEY_USAGE, true, new KeyUsage(deviceKeyUsage(keyAlgorithmOf(input.publicKey)))),
      extension(OID_EXT_KEY_USAGE, false, new ExtendedKeyUsage([OID_KP_CLIENT_AUTH, OID_KP_SERVER_AUTH])),
      extension(OID_SUBJECT_KEY_IDENTIFIER, false, subjectKeyIdentifier(keyIdentifierOf(spki))),
      extension(OID_AUTHORITY_KEY_IDENTIFIER, false, authorityKeyIdentifier(issuerKeyId)),
      extension(
        OID_SUBJECT_ALT_NAME,
        false,
        new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: `fleetkey://${fleet}/${deviceId}` })]),
      ),
    ]),
  });
}
