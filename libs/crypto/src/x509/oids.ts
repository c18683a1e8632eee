/**
 * Object identifiers fleetkey writes into and reads from certificates and CSRs, with their specs.
 *
 * Trust boundary: none; constants.
 */

// RFC 5280 §4.1.2.4 / X.520
export const OID_COMMON_NAME = '2.5.4.3';
export const OID_ORGANIZATION = '2.5.4.10';

// RFC 5280 §4.2.1
export const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
export const OID_KEY_USAGE = '2.5.29.15';
export const OID_SUBJECT_ALT_NAME = '2.5.29.17';
export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
export const OID_EXT_KEY_USAGE = '2.5.29.37';

// RFC 5280 §4.2.1.12
export const OID_KP_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const OID_KP_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

// RFC 2985 §5.4.2 (PKCS#9 extensionRequest attribute)
export const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/** Extensions fleetkey understands; any other extension marked critical makes a certificate invalid (RFC 5280 §4.2). */
export const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  OID_SUBJECT_KEY_IDENTIFIER,
  OID_KEY_USAGE,
  OID_SUBJECT_ALT_NAME,
  OID_BASIC_CONSTRAINTS,
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_EXT_KEY_USAGE,
]);
