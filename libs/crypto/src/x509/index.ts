/** Public API of the X.509 part of @fleetkey/crypto: CSRs, fleet CA and device certificates, validation. */
export * from './errors.js';
export { createCsr, verifyCsr, MAX_CSR_BYTES, DEFAULT_CSR_KEY_ALGORITHMS } from './csr.js';
export type { CreateCsrParams, EncodedCsr, VerifyCsrOptions, VerifiedCsr } from './csr.js';
export { createCaCertificate, issueDeviceCertificate } from './issue.js';
export type { CreateCaCertificateParams, IssueDeviceCertificateParams } from './issue.js';
export { issueServerCertificate, MAX_DNS_NAME_LENGTH } from './server.js';
export type { IssueServerCertificateParams } from './server.js';
export type { IssuedCertificate } from './sign-certificate.js';
export { validateDeviceCertificate, MAX_CA_CERTIFICATES } from './validate.js';
export type { ValidateDeviceCertificateParams, ValidatedDevice } from './validate.js';
export { generateSerialNumber, SERIAL_NUMBER_BYTES } from './serial.js';
export { MAX_CERTIFICATE_BYTES, summarizeCertificate } from './parse-certificate.js';
export type { CertificateInput, CertificateSummary } from './parse-certificate.js';
export { fleetkeyUri, parseFleetkeyUri } from './names.js';
