/**
 * Checks AWS Signature Version 4 on an incoming request the way the real service does
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): the header is
 * well formed, the scope names this region and `kms`, the clock skew is within 15 minutes, the
 * access key is known, the payload hash matches the body, and the signature matches the one
 * computed with the configured secret. Answers use the real error types
 * (MissingAuthenticationTokenException, IncompleteSignatureException, UnrecognizedClientException,
 * InvalidSignatureException).
 *
 * Trust boundary: every header here is attacker input; secrets are compared in constant time and
 * never appear in an error message.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { fault } from './errors.js';

export interface AwsTestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Operations (e.g. 'Sign') this principal may call; all when absent. Others answer AccessDeniedException. */
  readonly allow?: readonly string[];
}

/** SigV4: requests more than 15 minutes off the server clock are refused. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Longest Authorization header accepted (a real one is ~250 bytes). */
export const MAX_AUTHORIZATION_LENGTH = 4096;

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export interface SigV4Check {
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
  readonly region: string;
  readonly now: number;
  readonly credentials: readonly AwsTestCredentials[];
}

/**
 * @returns the principal that signed the request.
 * @throws AwsKmsFault with the real AWS authentication error type.
 */
export function verifySigV4(check: SigV4Check): AwsTestCredentials {
  const authorization = headerValue(check.headers, 'authorization');
  // Precondition: a request without SigV4 is MissingAuthenticationTokenException (checked before anything else).
  if (authorization === undefined || authorization === '') {
    throw fault('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) throw fault('IncompleteSignatureException', 'Authorization header too long');
  const match = AUTH_PATTERN.exec(authorization);
  if (!match) throw fault('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature');
  const [, accessKeyId, date, region, service, signedHeaderList, signature] = match as unknown as string[];
  const amzDate = headerValue(check.headers, 'x-amz-date');
  const dateMatch = amzDate === undefined ? null : AMZ_DATE_PATTERN.exec(amzDate);
  if (!amzDate || !dateMatch) throw fault('IncompleteSignatureException', 'X-Amz-Date header is missing or malformed');
  if (amzDate.slice(0, 8) !== date) throw fault('InvalidSignatureException', 'Credential scope date does not match X-Amz-Date');
  if (service !== 'kms') throw fault('InvalidSignatureException', 'Credential should be scoped to correct service: kms');
  if (region !== check.region) throw fault('InvalidSignatureException', `Credential should be scoped to a valid region ${check.region}`);
  const signedAt = Date.UTC(+dateMatch[1]!, +dateMatch[2]! - 1, +dateMatch[3]!, +dateMatch[4]!, +dateMatch[5]!, +dateMatch[6]!);
  if (Math.abs(check.now - signedAt) > MAX_CLOCK_SKEW_MS) throw fault('InvalidSignatureException', 'Signature expired');
  const signedHeaders = signedHeaderList!.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    throw fault('IncompleteSignatureException', 'SignedHeaders must include host and x-amz-date');
  }
  const principal = check.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!principal) throw fault('UnrecognizedClientException', 'The security token included in the request is invalid.');

  const bodyHash = createHash('sha256').update(check.body).digest('hex');
  const declaredHash = headerValue(check.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== bodyHash) throw fault('InvalidSignatureException', 'The provided payload hash does not match the body');
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(headerValue(check.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [check.method, check.path, '', canonicalHeaders, signedHeaderList, bodyHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${principal.secretAccessKey}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', signingKey).update(stringToSign).digest();
  // Precondition: SigV4 is verified (constant-time comparison with the signature the secret makes).
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
    throw fault('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
  }
  return principal;
}
