/**
 * Distinguished names and the fleetkey SAN URI. A device is named `O=<fleet>, CN=<device>` and,
 * authoritatively, by the URI `fleetkey://<fleet>/<device>` in its subjectAltName; both ids follow
 * the key-types identifier grammar, which is URI-safe, so the URI needs no escaping.
 *
 * Trust boundary: `readName` and `parseFleetkeyUri` read attacker-supplied names; both are strict.
 */
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { assertIdentifier, isValidIdentifier } from '@fleetkey/key-types';
import { OID_COMMON_NAME, OID_ORGANIZATION } from './oids.js';

export const FLEETKEY_URI_SCHEME = 'fleetkey:';
/** X.520 ub-common-name (RFC 5280 Appendix A). */
export const MAX_COMMON_NAME_LENGTH = 64;
const COMMON_NAME_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** `O=<organization>, CN=<commonName>`, each a UTF8String (RFC 5280 §4.1.2.6). */
export function buildName(organization: string, commonName: string): Name {
  const rdn = (type: string, value: string) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return new Name([rdn(OID_ORGANIZATION, organization), rdn(OID_COMMON_NAME, commonName)]);
}

/**
 * Checks a CA common name: printable ASCII, no leading or trailing space, 1..64 characters.
 * @throws TypeError / RangeError naming "commonName".
 */
export function assertCommonName(commonName: unknown): string {
  if (typeof commonName !== 'string') throw new TypeError('"commonName" expected a string');
  if (commonName.length > MAX_COMMON_NAME_LENGTH || !COMMON_NAME_PATTERN.test(commonName)) {
    throw new RangeError(`"commonName" expected 1-${MAX_COMMON_NAME_LENGTH} printable ASCII characters`);
  }
  return commonName;
}

export interface NameParts {
  readonly commonName?: string;
  readonly organization?: string;
}

/**
 * Reads CN and O from a name made of single-valued RDNs. Returns undefined for anything else:
 * multi-valued RDNs, a repeated CN or O, or a CN or O that is not a UTF8String or PrintableString.
 * Other attribute types are ignored.
 */
export function readName(name: Name): NameParts | undefined {
  let commonName: string | undefined;
  let organization: string | undefined;
  for (const rdn of name) {
    if (rdn.length !== 1) return undefined;
    const attribute = rdn[0]!;
    if (attribute.type !== OID_COMMON_NAME && attribute.type !== OID_ORGANIZATION) continue;
    const value = attribute.value.utf8String ?? attribute.value.printableString;
    if (value === undefined) return undefined;
    if (attribute.type === OID_COMMON_NAME) {
      if (commonName !== undefined) return undefined;
      commonName = value;
    } else {
      if (organization !== undefined) return undefined;
      organization = value;
    }
  }
  return { ...(commonName === undefined ? {} : { commonName }), ...(organization === undefined ? {} : { organization }) };
}

/**
 * `fleetkey://<fleet>/<device>`.
 * @throws InvalidIdentifier when either id breaks the identifier grammar.
 */
export function fleetkeyUri(fleet: string, deviceId: string): string {
  return `${FLEETKEY_URI_SCHEME}//${assertIdentifier('fleet', fleet)}/${assertIdentifier('device', deviceId)}`;
}

/** Parses `fleetkey://<fleet>/<device>` exactly (no port, query, fragment, userinfo or extra path). */
export function parseFleetkeyUri(uri: string): { fleet: string; deviceId: string } | undefined {
  const prefix = `${FLEETKEY_URI_SCHEME}//`;
  if (!uri.startsWith(prefix)) return undefined;
  const parts = uri.slice(prefix.length).split('/');
  if (parts.length !== 2) return undefined;
  const [fleet, deviceId] = parts as [string, string];
  if (!isValidIdentifier(fleet) || !isValidIdentifier(deviceId)) return undefined;
  return { fleet, deviceId };
}
