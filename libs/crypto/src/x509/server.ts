/**
 * TLS server certificates issued by a fleet CA: the controller's HTTPS/gRPC endpoints and the test
 * CAs of the emulators (Azure Key Vault insists on HTTPS). Same TBS builders and signing path as
 * device certificates, but the identity is DNS names and IP addresses in the subjectAltName
 * (RFC 6125 §6.4: clients match the SAN, not the CN), the extended key usage is serverAuth only,
 * and basicConstraints is CA:false.
 *
 * Trust boundary: parameters come from trusted code (controller configuration, test setup); the
 * CA private key stays behind `issuerSigner`.
 */
import { KeyObject, createPublicKey } from 'node:crypto';
import { spkiDerOf } from '../sign/spki.js';
import { isIP } from 'node:net';
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
import { algorithmInfo } from '@fleetkey/key-types';
import { keyAlgorithmOf, keyMatchesSignatureAlgorithm } from '../sign/key-algorithm.js';
import type { Signer } from '../sign/signer.js';
import { authorityKeyIdentifier, extension, keyIdentifierOf, subjectKeyIdentifier, MAX_SAN_ENTRIES } from './extensions.js';
import { buildName, MAX_COMMON_NAME_LENGTH } from './names.js';
import {
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_KEY_USAGE,
  OID_KP_SERVER_AUTH,
  OID_SUBJECT_ALT_NAME,
  OID_SUBJECT_KEY_IDENTIFIER,
} from './oids.js';
import { equalBytes } from './pem.js';
import { parseCertificate } from './parse-certificate.js';
import type { CertificateInput } from './parse-certificate.js';
import { caProblem, subjectKeyIdOf } from './profile.js';
import { assertSerialNumber, generateSerialNumber } from './serial.js';
import { signCertificate } from './sign-certificate.js';
import type { IssuedCertificate } from './sign-certificate.js';
import { buildValidity } from './validity.js';

export interface IssueServerCertificateParams {
  readonly issuerSigner: Signer;
  /** The fleet CA certificate whose key `issuerSigner` holds (PEM or DER). */
  readonly issuerCertificate: CertificateInput;
  /** The server's public key (a private KeyObject is reduced to its public half). */
  readonly publicKey: KeyObject;
  /** DNS names for the SAN (`localhost`, `vault.example.com`); may be empty if IPs are given. */
  readonly dnsNames: readonly string[];
  /** IPv4 / IPv6 literals for the SAN (`127.0.0.1`, `::1`); may be empty if names are given. */
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Defaults to 16 fresh random bytes (`generateSerialNumber`). */
  readonly serialNumber?: Uint8Array;
}

/** RFC 1035 §2.3.4: a name is at most 253 characters in text form, a label at most 63. */
export const MAX_DNS_NAME_LENGTH = 253;
/** LDH labels (RFC 1123 §2.1), lower or upper case; no wildcards: fleetkey names each host. */
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function assertDnsName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError('"dnsNames" expected strings');
  if (name.length === 0 || name.length > MAX_DNS_NAME_LENGTH || !name.split('.').every((label) => DNS_LABEL.test(label))) {
    throw new RangeError(`"dnsNames" expected DNS names of LDH labels, at most ${MAX_DNS_NAME_LENGTH} characters`);
  }
  return name;
}

function assertIpAddress(address: unknown): string {
  // IPv6 with an embedded IPv4 tail (`::ffff:1.2.3.4`) is refused: the SAN encoder takes hex groups only.
  if (typeof address !== 'string' || isIP(address) === 0 || (isIP(address) === 6 && address.includes('.'))) {
    throw new RangeError('"ipAddresses" expected IPv4 or IPv6 literals');
  }
  return address;
}

function assertNameList<T>(name: string, value: unknown, check: (item: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new TypeError(`"${name}" expected an array`);
  return value.map(check);
}

/**
 * A TLS server certificate: subject `O=<issuer's fleet>, CN=<first DNS name or IP>`, SAN dNSName +
 * iPAddress entries, basicConstraints CA:false (critical), keyUsage digitalSignature
 * (+ keyEncipherment for RSA, RFC 5280 §4.2.1.3; critical), extKeyUsage serverAuth
 * (RFC 5280 §4.2.1.12), subject and authority key identifiers.
 * @throws CertificateInvalid when `issuerCertificate` cannot be parsed.
 * @throws UnsupportedAlgorithm when the server key is not one fleetkey supports.
 * @throws RangeError when the issuer is not a fleet CA or does not hold the signer's key, when no
 *   name is given, more than MAX_SAN_ENTRIES are given, or a name or address is malformed;
 *   TypeError / RangeError for other malformed parameters.
 * @throws SignatureInvalid when the signer returns a signature the CA key does not verify.
 */
export async function issueServerCertificate(params: IssueServerCertificateParams): Promise<IssuedCertificate> {
  const dnsNames = assertNameList('dnsNames', params.dnsNames, assertDnsName);
  const ipAddresses = assertNameList('ipAddresses', params.ipAddresses, assertIpAddress);
  // Precondition: a server certificate names at least one host and at most MAX_SAN_ENTRIES.
  if (dnsNames.length + ipAddresses.length === 0) throw new RangeError('"dnsNames" and "ipAddresses" expected at least one name');
  if (dnsNames.length + ipAddresses.length > MAX_SAN_ENTRIES) {
    throw new RangeError(`"dnsNames" and "ipAddresses" expected at most ${MAX_SAN_ENTRIES} names together`);
  }
  const validity = buildValidity(params.notBefore, params.notAfter);
  const serialNumber = params.serialNumber === undefined ? generateSerialNumber() : assertSerialNumber(params.serialNumber);
  if (!(params.publicKey instanceof KeyObject) || params.publicKey.type === 'secret') {
    throw new TypeError('"publicKey" expected an asymmetric KeyObject');
  }
  const serverKey = params.publicKey.type === 'private' ? createPublicKey(params.publicKey) : params.publicKey;
  const keyAlgorithm = keyAlgorithmOf(serverKey);

  const issuer = parseCertificate(params.issuerCertificate);
  // Precondition: the issuer is a fleet CA holding the signer's key.
  if (caProblem(issuer) !== undefined) throw new RangeError('"issuerCertificate" is not a fleet CA certificate');
  const signer = params.issuerSigner;
  if (!signer || typeof signer.sign !== 'function' || typeof signer.publicKey !== 'function') {
    throw new TypeError('"issuerSigner" expected a Signer');
  }
  const issuerKey = await signer.publicKey();
  if (!keyMatchesSignatureAlgorithm(issuerKey, signer.algorithm)) {
    throw new RangeError(`"issuerSigner" cannot make ${signer.algorithm} signatures with its key`);
  }
  if (!equalBytes(spkiDerOf(issuerKey), issuer.spkiDer)) {
    throw new RangeError('"issuerSigner" does not hold the key of "issuerCertificate"');
  }

  const spki = AsnConvert.parse(spkiDerOf(serverKey), SubjectPublicKeyInfo);
  const issuerKeyId = subjectKeyIdOf(issuer) ?? keyIdentifierOf(AsnConvert.parse(issuer.spkiDer, SubjectPublicKeyInfo));
  const commonName = (dnsNames[0] ?? ipAddresses[0]!).slice(0, MAX_COMMON_NAME_LENGTH);
  const usage =
    algorithmInfo(keyAlgorithm).family === 'rsa'
      ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment
      : KeyUsageFlags.digitalSignature;
  const san = new SubjectAlternativeName([
    ...dnsNames.map((dNSName) => new GeneralName({ dNSName })),
    // @peculiar/asn1-x509 encodes the iPAddress string as the 4- or 16-octet form (RFC 5280 §4.2.1.6).
    ...ipAddresses.map((iPAddress) => new GeneralName({ iPAddress })),
  ]);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber.slice().buffer,
    // RFC 5280 §7.1: the issuer name is the CA's subject, byte for byte.
    issuer: AsnConvert.parse(issuer.subjectDer, Name),
    validity,
    subject: buildName(issuer.subject.organization ?? 'fleetkey', commonName),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(OID_BASIC_CONSTRAINTS, true, new BasicConstraints({ cA: false })),
      extension(OID_KEY_USAGE, true, new KeyUsage(usage)),
      extension(OID_EXT_KEY_USAGE, false, new ExtendedKeyUsage([OID_KP_SERVER_AUTH])),
      extension(OID_SUBJECT_KEY_IDENTIFIER, false, subjectKeyIdentifier(keyIdentifierOf(spki))),
      extension(OID_AUTHORITY_KEY_IDENTIFIER, false, authorityKeyIdentifier(issuerKeyId)),
      extension(OID_SUBJECT_ALT_NAME, false, san),
    ]),
  });
  return signCertificate(tbs, signer, issuer.publicKey);
}
