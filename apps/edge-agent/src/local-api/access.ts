/**
 * Who may call the local API, and how often: per-app bearer tokens checked against the SHA-256
 * digests in the configuration, and a token bucket per app.
 *
 * Trust boundary: the `authorization` metadata comes from any process that can open the socket.
 * The socket's file mode and owner are the first gate (socket-server.ts); when tokens are
 * configured this is the second, and deny-by-default: no token, a malformed one or an unknown one
 * is the same Unauthenticated. The configuration holds only digests, so reading it grants nothing;
 * a presented token is hashed and compared in constant time, and never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { FleetkeyError, Unauthenticated, isValidIdentifier, type FleetkeyErrorOptions } from '@fleetkey/key-types';

/** The app name of every caller when no tokens are configured (the socket permissions decide). */
export const LOCAL_APP = 'local';
/** Default sustained calls per second of one app. */
export const DEFAULT_RATE_PER_SECOND = 1_000;
/** Default calls one app may make in a burst above its sustained rate. */
export const DEFAULT_BURST = 2_000;
/** Most apps the configuration may name (each gets one bucket, so state stays bounded). */
export const MAX_APP_TOKENS = 256;
/**
 * Longest bearer token accepted before hashing (characters). Tokens are random strings far
 * shorter than this; the bound only caps the hashing work an unauthenticated caller can cause.
 */
export const MAX_TOKEN_LENGTH = 1_024;

const SHA256_HEX = /^[0-9a-f]{64}$/;
// RFC 6750 §2.1: `Bearer` b64token; the auth scheme is case-insensitive (RFC 7235 §2.1).
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** An app went over its rate limit. Retry later. */
export class RateLimited extends FleetkeyError {
  readonly code = 'THROTTLED' as const;
  readonly retryable = true;
  constructor(app: string, options: FleetkeyErrorOptions = {}) {
    super(`the rate limit of app "${app}" is exceeded; retry later`, options);
  }
}

/** One configured app: its name and the lower-case hex SHA-256 of its token. */
export interface AppToken {
  readonly name: string;
  readonly tokenSha256: string;
}

export interface RateLimitOptions {
  /** Sustained calls per second per app; default DEFAULT_RATE_PER_SECOND. */
  readonly ratePerSecond?: number;
  /** Bucket size per app; default DEFAULT_BURST. */
  readonly burst?: number;
  /** Monotonic milliseconds; tests inject a fixed clock. Default `performance.now`. */
  readonly clock?: () => number;
}

export interface AccessOptions {
  /** Empty or absent: no token is asked for, every caller is the app "local". */
  readonly tokens?: readonly AppToken[];
  readonly rateLimit?: RateLimitOptions;
}

export interface AccessControl {
  /** Whether callers must present a token. */
  readonly tokensRequired: boolean;
  /**
   * The app a call comes from.
   * @throws Unauthenticated when tokens are configured and the call carries no valid one.
   */
  authenticate(metadata: Metadata): string;
  /**
   * Takes one unit from `app`'s bucket.
   * @throws RateLimited when the bucket is empty; TypeError for a name authenticate() never returns.
   */
  consume(app: string): void;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

interface Entry {
  readonly name: string;
  readonly digest: Buffer;
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`"${name}" expected a positive number, got ${String(value)}`);
  }
  return value;
}

function parseEntries(tokens: readonly AppToken[]): Entry[] {
  if (!Array.isArray(tokens)) throw new TypeError('"tokens" expected an array');
  if (tokens.length > MAX_APP_TOKENS) throw new RangeError(`"tokens" expected at most ${MAX_APP_TOKENS} entries, got ${tokens.length}`);
  const names = new Set<string>();
  const digests = new Set<string>();
  return tokens.map((token, index) => {
    if (!isValidIdentifier(token?.name)) throw new TypeError(`"tokens[${index}].name" expected an identifier`);
    if (typeof token.tokenSha256 !== 'string' || !SHA256_HEX.test(token.tokenSha256)) {
      throw new TypeError(`"tokens[${index}].tokenSha256" expected 64 lower-case hex characters (the SHA-256 of the token)`);
    }
    if (names.has(token.name)) throw new TypeError(`"tokens[${index}].name" repeats the app name ${token.name}`);
    // Two apps with one token could not be told apart, so the second name would be a lie.
    if (digests.has(token.tokenSha256)) throw new TypeError(`"tokens[${index}].tokenSha256" repeats the token of another app`);
    names.add(token.name);
    digests.add(token.tokenSha256);
    return { name: token.name, digest: Buffer.from(token.tokenSha256, 'hex') };
  });
}

/** The bearer token of a call, or undefined when there is not exactly one well-formed one. */
function bearerToken(metadata: Metadata): string | undefined {
  const values = metadata.get('authorization');
  // Precondition: exactly one authorization value; two could smuggle a second identity past a proxy.
  if (values.length !== 1) return undefined;
  const [value] = values;
  if (typeof value !== 'string' || value.length > MAX_TOKEN_LENGTH + 16) return undefined;
  const match = BEARER.exec(value);
  return match?.[1];
}

/**
 * The access check of the local API.
 * @throws TypeError | RangeError when the options are invalid (they come from the agent's config).
 */
export function createAccessControl(options: AccessOptions = {}): AccessControl {
  const entries = parseEntries(options.tokens ?? []);
  const rate = positive('rateLimit.ratePerSecond', options.rateLimit?.ratePerSecond ?? DEFAULT_RATE_PER_SECOND);
  const burst = positive('rateLimit.burst', options.rateLimit?.burst ?? DEFAULT_BURST);
  if (burst < 1) throw new RangeError(`"rateLimit.burst" expected at least 1, got ${burst}`);
  const clock = options.rateLimit?.clock ?? (() => performance.now());
  const known: ReadonlySet<string> = new Set(entries.length === 0 ? [LOCAL_APP] : entries.map((entry) => entry.name));
  // One bucket per configured app (or the one "local" app): the map never grows past the config.
  const buckets = new Map<string, Bucket>();

  function identify(metadata: Metadata): string | undefined {
    if (entries.length === 0) return LOCAL_APP;
    const token = bearerToken(metadata);
    if (token === undefined || token.length > MAX_TOKEN_LENGTH) return undefined;
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: string | undefined;
    // Every entry is compared, equal-length digests in constant time, so the timing tells
    // nothing about which entry (if any) matched.
    for (const entry of entries) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry.name;
    }
    presented.fill(0);
    return found;
  }

  function take(app: string): boolean {
    const now = clock();
    let bucket = buckets.get(app);
    if (bucket === undefined) {
      bucket = { tokens: burst, updatedAt: now };
      buckets.set(app, bucket);
    }
    // A clock that steps backwards refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * rate) / 1_000);
    bucket.updatedAt = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  return Object.freeze({
    tokensRequired: entries.length > 0,
    authenticate(metadata: Metadata): string {
      const app = identify(metadata);
      // Precondition: when tokens are configured, a call without a valid one is refused.
      if (app === undefined) throw new Unauthenticated();
      return app;
    },
    consume(app: string): void {
      if (!known.has(app)) throw new TypeError('"app" expected an app name returned by authenticate()');
      // Precondition: an app over its rate is refused; other apps' buckets are untouched.
      if (!take(app)) throw new RateLimited(app);
    },
  });
}

/** The lower-case hex SHA-256 of a token, as the configuration stores it. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
