/**
 * Identifiers for fleets, groups and devices. They end up in MQTT topics, certificate SAN URIs,
 * key ids and file names, so one strict grammar is enforced everywhere they enter the system:
 * no wildcards (`+`, `#`), no separators (`/`, `:`, `@`), no whitespace, no empty segments.
 */
import { InvalidIdentifier } from './errors.js';

export type IdentifierKind = 'fleet' | 'group' | 'device' | 'key name';

/** Max 64 characters; starts with a letter or digit; then letters, digits, `.`, `_` and `-`. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_IDENTIFIER_LENGTH = 64;

export function isValidIdentifier(value: unknown): value is string {
  return typeof value === 'string' && IDENTIFIER_PATTERN.test(value);
}

/**
 * Returns `value` when it is a valid identifier.
 * @throws InvalidIdentifier naming the kind of identifier, never echoing more than 64 characters.
 */
export function assertIdentifier(kind: IdentifierKind, value: unknown): string {
  if (isValidIdentifier(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, MAX_IDENTIFIER_LENGTH)) : typeof value;
  throw new InvalidIdentifier(
    `invalid ${kind} id ${shown}: expected 1-${MAX_IDENTIFIER_LENGTH} characters of [A-Za-z0-9._-], starting with a letter or digit`,
  );
}
