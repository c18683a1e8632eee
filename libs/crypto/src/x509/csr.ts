/**
 * PKCS#10 certification requests (RFC 2986) for device enrollment. The device makes one with its
 * identity key through a `Signer` (proof of possession: the request is signed by the key it asks a
 * certificate for); the controller checks it with `verifyCsr` before the fleet CA signs anything.
 *
 * Trust boundary: `verifyCsr` takes attacker bytes (a factory station or a compromised robot).
 * It is strict: bounded size, canonical DER, known signature algorithms only, allowed key
 * algorithms only, a valid self-signature, and a subject that matches the fleetkey SAN URI.
 */
import { createPublicKey } from 'node:crypto';
import { rememberSpki } from '../sign/spki.js';
import type { KeyObject } from 'node:crypto';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Attribute, Extensions, GeneralName, SubjectAlternativeName, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { KIND_POLICIES, assertIdentifier } from '@fleetkey/key-types';
import type { AsymmetricAlgorithm, KeyAlgorithm } from '@fleetkey/key-types';
import type { SignatureAlgorithm } from '../sign/algorithms.js';
import { SignatureInvalid } from '../sign/errors.js';
import { keyAlgorithmOf, keyMatchesSignatureAlgorithm } from '../sign/key-algorithm.js';
import type { Signer } from '../sign/signer.js';
import { verifySignature } from '../sign/verify.js';
import { algorithmIdentifier, signatureAlgorithmOf } from './algorithm-identifiers.js';
import { CsrInvalid } from './errors.js';
import type { CsrInvalidReason } from './errors.js';
import { extension, indexExtensions, readSanUris } from './extensions.js';
import { buildName, fleetkeyUri, parseFleetkeyUri, readName } from './names.js';
import { OID_EXTENSION_REQUEST, OID_SUBJECT_ALT_NAME } from './oids.js';
import { decodePemOrDer, equalBytes, toPem } from './pem.js';

/** Largest CSR accepted (16 KiB of DER); an RSA-4096 request is about 1.2 KiB. */
export const MAX_CSR_BYTES = 16 * 1024;
/** Most attributes read from one request. */
export const MAX_CSR_ATTRIBUTES = 8;
/** Key algorithms `verifyCsr` accepts unless told otherwise: those allowed for device identity keys. */
export const DEFAULT_CSR_KEY_ALGORITHMS: readonly KeyAlgorithm[] = KIND_POLICIES['device-identity'].allowedAlgorithms;

export interface CreateCsrParams {
  readonly signer: Signer;
  readonly fleet: string;
  readonly deviceId: string;
}

export interface EncodedCsr {
  readonly der: Uint8Array;
  readonly pem: string;
}

export interface VerifyCsrOptions {
  /** Key algorithms to accept (default `DEFAULT_CSR_KEY_ALGORITHMS`). */
  readonly allowedKeyAlgorithms?: readonly KeyAlgorithm[];
}

export interface VerifiedCsr {
  readonly publicKey: KeyObject;
  readonly keyAlgorithm: AsymmetricAlgorithm;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly subjectCommonName: string;
  readonly subjectOrganization: string;
  readonly sanUris: readonly string[];
  /** Parsed from the one `fleetkey://<fleet>/<device>` SAN URI. */
  readonly fleet: string;
  readonly deviceId: string;
}

/**
 * Makes a CSR with subject `O=<fleet>, CN=<deviceId>` and SAN URI `fleetkey://<fleet>/<deviceId>`,
 * signed by `signer`.
 * @throws InvalidIdentifier for a bad fleet or device id.
 * @throws UnsupportedAlgorithm when the signer's key is not one fleetkey supports.
 * @throws RangeError when the signer's key does not fit its algorithm.
 * @throws SignatureInvalid when the signer returns a signature its own public key does not verify.
 */
export async function createCsr(params: CreateCsrParams): Promise<EncodedCsr> {
  const fleet = assertIdentifier('fleet', params.fleet);
  const deviceId = assertIdentifier('device', params.deviceId);
  const { signer } = params;
  if (!signer || typeof signer.sign !== 'function' || typeof signer.publicKey !== 'function') {
    throw new TypeError('"signer" expected a Signer');
  }
  const publicKey = await signer.publicKey();
  const keyAlgorithm = keyAlgorithmOf(publicKey);
  if (!keyMatchesSignatureAlgorithm(publicKey, signer.algorithm)) {
    throw new RangeError(`"signer" has a ${keyAlgorithm} key, which cannot make ${signer.algorithm} signatures`);
  }
  const san = extension(
    OID_SUBJECT_ALT_NAME,
    false,
    new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: fleetkeyUri(fleet, deviceId) })]),
  );
  const info = new CertificationRequestInfo({
    version: 0,
    subject: buildName(fleet, deviceId),
    subjectPKInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    // RFC 2985 §5.4.2: requested extensions travel in one extensionRequest attribute.
    attributes: new Attributes([new Attribute({ type: OID_EXTENSION_REQUEST, values: [AsnConvert.serialize(new Extensions([san]))] })]),
  });
  const infoDer = new Uint8Array(AsnConvert.serialize(info));
  const signature = await signer.sign(infoDer);
  // Postcondition: the request carries a signature its own public key verifies.
  if (!verifySignature(publicKey, signer.algorithm, infoDer, signature)) throw new SignatureInvalid();
  const der = new Uint8Array(
    AsnConvert.serialize(
      new CertificationRequest({
        certificationRequestInfo: info,
        signatureAlgorithm: algorithmIdentifier(signer.algorithm),
        signature: signature.slice().buffer,
      }),
    ),
  );
  return { der, pem: toPem(der, 'CERTIFICATE REQUEST') };
}

function fail(reason: CsrInvalidReason, cause?: unknown): never {
  throw new CsrInvalid(reason, cause === undefined ? {} : { cause });
}

function requestedSanUris(info: CertificationRequestInfo): string[] {
  const attributes = info.attributes ?? [];
  if (attributes.length > MAX_CSR_ATTRIBUTES) fail('malformed');
  const requests = attributes.filter((a) => a.type === OID_EXTENSION_REQUEST);
  // Precondition: exactly one extensionRequest attribute with exactly one value.
  if (requests.length !== 1 || requests[0]!.values.length !== 1) fail('bad-identity');
  let extensions: Extensions;
  try {
    extensions = AsnConvert.parse(requests[0]!.values[0]!, Extensions);
  } catch (error) {
    fail('malformed', error);
  }
  const index = indexExtensions(extensions);
  const san = index?.get(OID_SUBJECT_ALT_NAME);
  const uris = san && readSanUris(san.value);
  if (!uris) fail('bad-identity');
  return uris;
}

/**
 * Checks a CSR's form, algorithms and proof of possession, and returns what it asks for.
 * @throws CsrInvalid (code CSR_INVALID, with a `reason`) for anything it does not accept.
 * @throws TypeError when `csr` is neither PEM text nor DER bytes.
 */
export function verifyCsr(csr: string | Uint8Array, options: VerifyCsrOptions = {}): VerifiedCsr {
  const allowed = options.allowedKeyAlgorithms ?? DEFAULT_CSR_KEY_ALGORITHMS;
  // Precondition: the CSR is at most MAX_CSR_BYTES, checked before parsing.
  const der = decodePemOrDer(csr, 'CERTIFICATE REQUEST', MAX_CSR_BYTES, (reason) => fail(reason));
  let request: CertificationRequest;
  let reencoded: Uint8Array;
  try {
    request = AsnConvert.parse(der, CertificationRequest);
    reencoded = new Uint8Array(AsnConvert.serialize(request));
  } catch (error) {
    fail('malformed', error);
  }
  // Precondition: the CSR DER re-encodes to the same bytes (one encoding, no trailing data).
  if (!equalBytes(reencoded, der)) fail('non-canonical');
  const info = request.certificationRequestInfo;
  if (info.version !== 0 || !request.certificationRequestInfoRaw) fail('malformed');

  const signatureAlgorithm = signatureAlgorithmOf(request.signatureAlgorithm);
  if (!signatureAlgorithm) fail('unsupported-algorithm');
  let publicKey: KeyObject;
  let keyAlgorithm: AsymmetricAlgorithm;
  try {
    const spki = new Uint8Array(AsnConvert.serialize(info.subjectPKInfo));
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    rememberSpki(publicKey, spki);
    keyAlgorithm = keyAlgorithmOf(publicKey);
  } catch (error) {
    fail('unsupported-algorithm', error);
  }
  // Precondition: only the allowed key algorithms are certified.
  if (!allowed.includes(keyAlgorithm)) fail('key-not-allowed');
  if (!keyMatchesSignatureAlgorithm(publicKey, signatureAlgorithm)) fail('unsupported-algorithm');
  // Precondition: the request is signed by the key it names (proof of possession, RFC 2986 §3).
  const infoDer = new Uint8Array(request.certificationRequestInfoRaw);
  if (!verifySignature(publicKey, signatureAlgorithm, infoDer, new Uint8Array(request.signature))) fail('bad-signature');

  // Precondition: the subject is O=<fleet>, CN=<device>, matching the one fleetkey SAN URI.
  const subject = readName(info.subject);
  const sanUris = requestedSanUris(info);
  const identities = sanUris.map(parseFleetkeyUri).filter((id) => id !== undefined);
  if (identities.length !== 1) fail('bad-identity');
  const identity = identities[0]!;
  if (subject?.commonName !== identity.deviceId || subject.organization !== identity.fleet) fail('bad-identity');

  return {
    publicKey,
    keyAlgorithm,
    signatureAlgorithm,
    subjectCommonName: subject.commonName,
    subjectOrganization: subject.organization,
    sanUris,
    fleet: identity.fleet,
    deviceId: identity.deviceId,
  };
}
