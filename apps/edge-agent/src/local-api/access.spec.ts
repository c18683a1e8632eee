/**
 * The access check on its own: configuration validation, the bearer-token grammar, constant-time
 * matching of token digests, and the per-app token bucket under an injected clock.
 */
import { Metadata } from '@grpc/grpc-js';
import { isFleetkeyError } from '@fleetkey/key-types';
import { describe, expect, it } from 'vitest';
import { LOCAL_APP, MAX_TOKEN_LENGTH, RateLimited, createAccessControl, tokenDigest } from './access.js';

const TOKEN_A = 'tok-a-0123456789abcdef0123456789abcdef';
const TOKEN_B = 'tok-b-0123456789abcdef0123456789abcdef';
const TOKENS = [
  { name: 'app-a', tokenSha256: tokenDigest(TOKEN_A) },
  { name: 'app-b', tokenSha256: tokenDigest(TOKEN_B) },
];

function metadata(...authorization: string[]): Metadata {
  const result = new Metadata();
  for (const value of authorization) result.add('authorization', value);
  return result;
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return isFleetkeyError(error) ? error.code : (error as Error).name;
  }
  return undefined;
}

describe('createAccessControl', () => {
  it('names every caller "local" and asks for no token when none is configured', () => {
    const access = createAccessControl();
    expect(access.tokensRequired).toBe(false);
    expect(access.authenticate(metadata())).toBe(LOCAL_APP);
    expect(access.authenticate(metadata('Bearer whatever'))).toBe(LOCAL_APP);
  });

  it('Precondition: when tokens are configured, a call without a valid one is refused', () => {
    const access = createAccessControl({ tokens: TOKENS });
    expect(access.tokensRequired).toBe(true);
    expect(access.authenticate(metadata(`Bearer ${TOKEN_A}`))).toBe('app-a');
    expect(access.authenticate(metadata(`bearer ${TOKEN_B}`))).toBe('app-b');
    const refused = [
      metadata(),
      metadata(TOKEN_A),
      metadata(`Basic ${TOKEN_A}`),
      metadata(`Bearer ${TOKEN_A}x`),
      metadata(`Bearer  `),
      metadata(`Bearer ${TOKEN_A} trailing`),
      metadata(`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`),
      // Two values: which one would count is ambiguous, so neither does.
      metadata(`Bearer ${TOKEN_A}`, `Bearer ${TOKEN_B}`),
    ];
    for (const candidate of refused) expect(codeOf(() => access.authenticate(candidate))).toBe('UNAUTHENTICATED');
  });

  it('refuses a configuration it cannot trust, naming the entry', () => {
    expect(() => createAccessControl({ tokens: [{ name: 'app-a', tokenSha256: 'abc' }] })).toThrow(/tokens\[0\]\.tokenSha256/);
    expect(() => createAccessControl({ tokens: [{ name: 'app-a', tokenSha256: tokenDigest(TOKEN_A).toUpperCase() }] })).toThrow(/tokenSha256/);
    expect(() => createAccessControl({ tokens: [{ name: 'bad name', tokenSha256: tokenDigest(TOKEN_A) }] })).toThrow(/tokens\[0\]\.name/);
    expect(() => createAccessControl({ tokens: [TOKENS[0]!, { name: 'app-a', tokenSha256: tokenDigest(TOKEN_B) }] })).toThrow(/repeats the app name/);
    expect(() => createAccessControl({ tokens: [TOKENS[0]!, { name: 'app-c', tokenSha256: TOKENS[0]!.tokenSha256 }] })).toThrow(/repeats the token/);
    expect(() => createAccessControl({ rateLimit: { ratePerSecond: 0 } })).toThrow(RangeError);
    expect(() => createAccessControl({ rateLimit: { burst: 0.5 } })).toThrow(RangeError);
  });

  it('Precondition: an app over its rate is refused; other apps\u2019 buckets are untouched', () => {
    let now = 0;
    const access = createAccessControl({ tokens: TOKENS, rateLimit: { ratePerSecond: 2, burst: 2, clock: () => now } });
    access.consume('app-a');
    access.consume('app-a');
    let error: unknown;
    try {
      access.consume('app-a');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RateLimited);
    expect(error).toMatchObject({ code: 'THROTTLED', retryable: true });
    expect(() => access.consume('app-b')).not.toThrow();
    // Half a second at 2/s refills one call, not more.
    now = 500;
    expect(() => access.consume('app-a')).not.toThrow();
    expect(codeOf(() => access.consume('app-a'))).toBe('THROTTLED');
    // A long pause refills to the burst, never beyond.
    now = 60_000;
    access.consume('app-a');
    access.consume('app-a');
    expect(codeOf(() => access.consume('app-a'))).toBe('THROTTLED');
  });

  it('keeps buckets only for configured apps', () => {
    const access = createAccessControl({ tokens: TOKENS });
    expect(() => access.consume('someone-else')).toThrow(TypeError);
    expect(() => createAccessControl().consume(LOCAL_APP)).not.toThrow();
  });
});
