/**
 * Parsers for fleetctl's option and argument values: identifiers, counts, sequences, durations,
 * algorithm and role names. Each one either returns a value the API accepts or throws commander's
 * InvalidArgumentError, which the frame turns into one usage line and exit code 2.
 *
 * Trust boundary: the operator's command line. Every bound is checked here, before anything is
 * sent, so a typo fails fast and locally instead of as a server-side INVALID_ARGUMENT.
 */
import { durationArgument, hasControlCharacters } from '@fleetkey/cli';
import { isValidIdentifier, type AsymmetricAlgorithm } from '@fleetkey/key-types';
import { InvalidArgumentError, Option } from 'commander';

/** The most items any list command collects when --limit is given (and the --limit bound). */
export const MAX_LIST_LIMIT = 1_000_000;
/** Bounds of `tokens create --count` (CreateEnrollmentTokenRequest.count). */
export const MAX_TOKEN_COUNT = 1000;
/** Shortest enrollment-token lifetime fleetctl asks for: anything shorter cannot reach a station. */
export const MIN_TOKEN_TTL_SECONDS = 60;
/** Longest enrollment-token lifetime the controller accepts (30 days, operator.proto). */
export const MAX_TOKEN_TTL_SECONDS = 30 * 86_400;
/** Bound of --timeout: one hour is longer than any single operator call should take. */
export const MAX_TIMEOUT_SECONDS = 3600;
/** Longest free-text value (reasons, display names) the API accepts, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 512;
export const MAX_DISPLAY_NAME_BYTES = 128;
export const MAX_SERIAL_NUMBER_BYTES = 128;


/** A parser for an identifier argument (fleet, group, device, operator and token ids share one grammar). */
export function identifier(what: string): (value: string) => string {
  return (value) => {
    if (!isValidIdentifier(value)) throw new InvalidArgumentError(`not a valid ${what}: expected 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit.`);
    return value;
  };
}

/** A parser for a repeatable identifier option: each occurrence is appended. */
export function identifierList(what: string): (value: string, previous: string[] | undefined) => string[] {
  const one = identifier(what);
  return (value, previous) => [...(previous ?? []), one(value)];
}

/** A parser for a whole number in [min, max]. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    return parsed;
  };
}

/** An audit sequence number (uint64 on the wire). */
export function sequenceNumber(value: string): bigint {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > 0xffff_ffff_ffff_ffffn) throw new InvalidArgumentError('expected a sequence number (a whole number, 0 or more).');
  return BigInt(value);
}

const parseTokenTtl = durationArgument({ minMs: MIN_TOKEN_TTL_SECONDS * 1000, maxMs: MAX_TOKEN_TTL_SECONDS * 1000 });

/**
 * Parses `30m`, `24h`, `7d`, `90s` into seconds.
 * @throws InvalidArgumentError outside MIN_TOKEN_TTL_SECONDS..MAX_TOKEN_TTL_SECONDS or for any other shape.
 */
export function tokenTtlSeconds(value: string): number {
  return parseTokenTtl(value) / 1000;
}

/** --timeout: seconds, fractions allowed, in (0, MAX_TIMEOUT_SECONDS]. */
export function timeoutSeconds(value: string): number {
  const parsed = /^\d{1,4}(\.\d{1,3})?$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed > 0 && parsed <= MAX_TIMEOUT_SECONDS)) throw new InvalidArgumentError(`expected a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}.`);
  return parsed;
}

/** A parser for free text bounded in UTF-8 bytes, without control characters (it ends up in tables and audit). */
export function boundedText(maxBytes: number): (value: string) => string {
  return (value) => {
    if (Buffer.byteLength(value, 'utf8') > maxBytes) throw new InvalidArgumentError(`expected at most ${maxBytes} bytes.`);
    if (hasControlCharacters(value)) throw new InvalidArgumentError('control characters are not allowed.');
    return value;
  };
}

/** The command-line names of the asymmetric algorithms a fleet CA or emergency key may use. */
export const ALGORITHM_NAMES: Readonly<Record<string, AsymmetricAlgorithm>> = Object.freeze({
  'ecdsa-p256': 'ECDSA_P256',
  'ecdsa-p384': 'ECDSA_P384',
  'ecdsa-p521': 'ECDSA_P521',
  'rsa-2048': 'RSA_2048',
  'rsa-3072': 'RSA_3072',
  'rsa-4096': 'RSA_4096',
  ed25519: 'ED25519',
});

/** The command-line role names, in the order help lists them. */
export const ROLE_NAMES = ['admin', 'operator', 'factory', 'auditor'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/** `--limit N` of every list command: stop after N items instead of following pages to the end. */
export function limitOption(): Option {
  return new Option('--limit <n>', `stop after N items (1-${MAX_LIST_LIMIT}); default: every page`).argParser(integerIn(1, MAX_LIST_LIMIT));
}
