/**
 * The X.509 AlgorithmIdentifier of each SignatureAlgorithm, as canonical DER. Parsing compares the
 * received DER byte for byte with this table, so there is exactly one accepted encoding of each
 * algorithm and no parameter parsing on attacker input.
 *
 * Trust boundary: `signatureAlgorithmFromDer` takes attacker bytes; it only compares them.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { SignatureAlgorithm } from '../sign/algorithms.js';

const CANONICAL_HEX: Readonly<Record<SignatureAlgorithm, string>> = Object.freeze({
  // RFC 5758 §3.2: ecdsa-with-SHA256/384/512, parameters absent.
  ECDSA_P256_SHA256: '300a06082a8648ce3d040302',
  ECDSA_P384_SHA384: '300a06082a8648ce3d040303',
  ECDSA_P521_SHA512: '300a06082a8648ce3d040304',
  // RFC 4055 §5: sha256WithRSAEncryption, parameters NULL.
  RSA_PKCS1_SHA256: '300d06092a864886f70d01010b0500',
  // RFC 4055 §3.1: id-RSASSA-PSS { hashAlgorithm sha256, maskGenAlgorithm mgf1SHA256, saltLength 32 }
  // (trailerField default), as OpenSSL encodes it.
  RSA_PSS_SHA256:
    '304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120',
  // RFC 8410 §3: id-Ed25519, parameters absent.
  ED25519: '300506032b6570',
});

const BY_HEX: ReadonlyMap<string, SignatureAlgorithm> = new Map(
  Object.entries(CANONICAL_HEX).map(([algorithm, hex]) => [hex, algorithm as SignatureAlgorithm]),
);

/** Canonical DER of the AlgorithmIdentifier for `algorithm`. */
export function algorithmIdentifierDer(algorithm: SignatureAlgorithm): Uint8Array {
  return Uint8Array.from(Buffer.from(CANONICAL_HEX[algorithm], 'hex'));
}

/** The AlgorithmIdentifier object for `algorithm`, for building a TBSCertificate or CSR. */
export function algorithmIdentifier(algorithm: SignatureAlgorithm): AlgorithmIdentifier {
  return AsnConvert.parse(algorithmIdentifierDer(algorithm), AlgorithmIdentifier);
}

/** The SignatureAlgorithm whose canonical DER equals `der`, or undefined. */
export function signatureAlgorithmFromDer(der: Uint8Array): SignatureAlgorithm | undefined {
  return BY_HEX.get(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('hex'));
}

/** The SignatureAlgorithm of a parsed AlgorithmIdentifier (re-encoded, then compared), or undefined. */
export function signatureAlgorithmOf(identifier: AlgorithmIdentifier): SignatureAlgorithm | undefined {
  return signatureAlgorithmFromDer(new Uint8Array(AsnConvert.serialize(identifier)));
}
