/**
 * Signs a TBSCertificate with a `Signer` and assembles the Certificate. This is the one place a
 * certificate gets its signature, so a KMS-held CA key works exactly like a local one: the TBS is
 * DER-encoded here, the signer signs those bytes, and nothing else crosses the interface.
 *
 * Trust boundary: the signer may be remote (a KMS). Its signature is verified against the expected
 * public key before the certificate is returned, so a faulty or substituted signer cannot make us
 * hand out a broken certificate (and an RSA-CRT fault cannot leak through a bad signature).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import type { KeyObject } from 'node:crypto';
import type { TBSCertificate } from '@peculiar/asn1-x509';
import type { Signer } from '../sign/signer.js';
import { SignatureInvalid } from '../sign/errors.js';
import { verifySignature } from '../sign/verify.js';
import { algorithmIdentifier, algorithmIdentifierDer } from './algorithm-identifiers.js';
import { serialMagnitude } from './parse-certificate.js';
import { toHex, toPem } from './pem.js';

/** DER definite length (X.690 §8.1.3): short form below 128, else 0x80|n then n big-endian bytes. */
function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, parts: readonly Uint8Array[]): Uint8Array {
  const content = Buffer.concat(parts);
  return new Uint8Array(Buffer.concat([Uint8Array.of(tag), derLength(content.length), content]));
}

export interface IssuedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
  /** Lowercase hex serial number, as `validateDeviceCertificate` and `isRevoked` see it. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * Sets the signature field, signs and assembles. The result is not parsed again here: it is
 * built from the TBS just encoded, and the strict parser's acceptance of every certificate this
 * module issues is proved by the issuance and validation tests (re-parsing cost a third of each
 * issuance on the enrollment path).
 * @throws SignatureInvalid when the signer's signature does not verify with `issuerPublicKey`.
 */
export async function signCertificate(tbs: TBSCertificate, signer: Signer, issuerPublicKey: KeyObject): Promise<IssuedCertificate> {
  tbs.signature = algorithmIdentifier(signer.algorithm);
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await signer.sign(tbsDer);
  // Postcondition: the signature verifies with the issuer's public key before anyone sees it.
  if (!verifySignature(issuerPublicKey, signer.algorithm, tbsDer, signature)) throw new SignatureInvalid();
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  // (RFC 5280 §4.1), assembled around the TBS bytes just signed rather than re-encoding the TBS.
  const der = derTlv(0x30, [tbsDer, algorithmIdentifierDer(signer.algorithm), derTlv(0x03, [Uint8Array.of(0), signature])]);
  const serial = serialMagnitude(new Uint8Array(tbs.serialNumber));
  if (serial === undefined) throw new RangeError('the TBS serial number is not a positive DER integer');
  return { der, pem: toPem(der, 'CERTIFICATE'), serialNumber: toHex(serial), notBefore: tbs.validity.notBefore.getTime(), notAfter: tbs.validity.notAfter.getTime() };
}
