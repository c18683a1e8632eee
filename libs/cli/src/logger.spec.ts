import { EnrollmentTokenRejected, InvalidArgument, Unauthenticated } from '@fleetkey/key-types';
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { LOG_LEVELS, REDACTED, WITHHELD_ERROR_MESSAGE, createLogger as createRedactingLogger, isRedactedKeyName, logTextScrubber, type CreateLoggerOptions, type LogLevel } from './logger.js';

/** Token shapes like the controller's (prefix + base64url body). */
const TOKEN_PREFIXES = { operator: 'fk_op_', enrollment: 'fk_enr_' } as const;
const generateToken = (kind: keyof typeof TOKEN_PREFIXES): string => TOKEN_PREFIXES[kind] + randomBytes(32).toString('base64url');
const createLogger = (options: Omit<CreateLoggerOptions, 'tokenPrefixes'>) => createRedactingLogger({ ...options, tokenPrefixes: Object.values(TOKEN_PREFIXES) });
const scrubLogText = logTextScrubber(Object.values(TOKEN_PREFIXES));

/** An in-memory destination: every line pino writes, as text and parsed. */
function memoryLogger(level: LogLevel = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return {
    logger,
    text: () => lines.join(''),
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

class VendorSdkError extends Error {
  override name = 'VendorSdkError';
  readonly code = 'AccessDeniedException';
  readonly requestBody: string;
  constructor(message: string, requestBody: string) {
    super(message);
    this.requestBody = requestBody;
  }
}

describe('createLogger', () => {
  it('exports the pino level names and refuses anything else', () => {
    expect(LOG_LEVELS).toEqual(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
    expect(() => createLogger({ level: 'verbose' as LogLevel })).toThrow(RangeError);
  });

  it('writes one JSON line per call with the normal fields intact', () => {
    const { logger, records } = memoryLogger();
    logger.info({ fleet: 'fleet-1', deviceId: 'robot-7', tokenId: 'tok-1', count: 3, nested: { keyId: 'local:abc', ok: true } }, 'device enrolled');
    const [record] = records();
    expect(record).toMatchObject({
      level: 30,
      msg: 'device enrolled',
      fleet: 'fleet-1',
      deviceId: 'robot-7',
      tokenId: 'tok-1',
      count: 3,
      nested: { keyId: 'local:abc', ok: true },
    });
    expect(typeof record!['time']).toBe('string');
  });

  it('Precondition: a token in the message never reaches the line', () => {
    const { logger, text } = memoryLogger();
    const token = generateToken('operator');
    const enrollment = generateToken('enrollment');
    logger.warn(`login with ${token} and ${enrollment.slice(0, 20)}`);
    logger.warn('header was %s', `Bearer ${token}`);
    expect(text()).not.toContain(token.slice(6));
    expect(text()).not.toContain(enrollment.slice(7, 20));
    expect(text()).toContain(REDACTED);
  });

  it('Precondition: a token in an object field never reaches the line, at any depth', () => {
    const { logger, text, records } = memoryLogger();
    const token = generateToken('enrollment');
    logger.info({
      token,
      request: { headers: { authorization: `Bearer ${token}` } },
      a: { b: { c: { d: { adminToken: token, enrollment_token: token, note: `pasted ${token}` } } } },
      list: [{ password: 'hunter2-but-longer' }, { privateKey: 'abc' }],
    });
    expect(text()).not.toContain(token.slice(7));
    expect(text()).not.toContain('hunter2');
    const [record] = records();
    expect(record!['token']).toBe(REDACTED);
    expect(record!['a']).toEqual({ b: { c: { d: { adminToken: REDACTED, enrollment_token: REDACTED, note: `pasted ${REDACTED}` } } } });
  });

  it('Precondition: key material and wrapped blobs are never logged, whatever their key name', () => {
    const { logger, text } = memoryLogger();
    const material = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    logger.info({ epoch: { version: 2, blob: material, raw: new Uint8Array(material) }, kek: 'k', dataKey: 'd', plaintext: 'p' });
    logger.info({ pem: '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n' });
    const out = text();
    expect(out).not.toContain('"data":[0,17');
    expect(out).not.toContain('MIGHAgEAMBMG');
    for (const value of ['"k"', '"d"', '"p"']) expect(out).not.toContain(value);
    expect(out).toContain('"version":2');
  });

  it('Precondition: a token in an error message or an error cause never reaches the line', () => {
    const { logger, text, records } = memoryLogger();
    const token = generateToken('operator');
    const vendor = new VendorSdkError(`request with x-api-key ${token.slice(6)} failed`, `{"token":"${token}"}`);
    const wrapped = new InvalidArgument('bad request', { cause: new Error(`cause holds ${token.slice(6)}`) });
    logger.error(vendor);
    logger.error({ err: wrapped, deviceId: 'robot-1' }, 'call failed');
    logger.error({ detail: { error: new Error(`deep ${token.slice(6)}`) } }, 'nested');
    const out = text();
    expect(out).not.toContain(token.slice(6));
    expect(out).not.toContain('cause holds');
    const [first, second, third] = records();
    expect(first!['err']).toEqual({ name: 'VendorSdkError', code: 'AccessDeniedException', message: WITHHELD_ERROR_MESSAGE });
    expect(first!['msg']).toBe(`VendorSdkError: ${WITHHELD_ERROR_MESSAGE}`);
    expect(second!['err']).toEqual({ name: 'InvalidArgument', code: 'INVALID_ARGUMENT', message: 'bad request' });
    expect(second!['deviceId']).toBe('robot-1');
    expect(third!['detail']).toEqual({ error: { name: 'Error', message: WITHHELD_ERROR_MESSAGE } });
  });

  it('prints a fleetkey error with its code, reason and message, and without a stack at info', () => {
    const { logger, records } = memoryLogger('info');
    logger.warn({ err: new EnrollmentTokenRejected('expired') }, 'enrollment refused');
    logger.warn(new Unauthenticated());
    const [first, second] = records();
    expect(first!['err']).toEqual({ name: 'EnrollmentTokenRejected', code: 'ENROLLMENT_TOKEN_REJECTED', reason: 'expired', message: 'enrollment token expired' });
    expect(second!['msg']).toBe('Unauthenticated: missing, unknown or revoked credential');
  });

  it('prints stack frames (without the message line) only at debug', () => {
    const debug = memoryLogger('debug');
    const token = generateToken('operator');
    debug.logger.debug({ err: new Error(`stacked ${token}`) }, 'with stack');
    const err = debug.records()[0]!['err'] as { stack?: string };
    expect(err.stack).toMatch(/^\s+at /);
    expect(debug.text()).not.toContain('stacked');
    const info = memoryLogger('info');
    info.logger.error({ err: new Error('x') }, 'no stack');
    expect(info.records()[0]!['err']).not.toHaveProperty('stack');
  });

  it('Precondition: child bindings are redacted too', () => {
    const { logger, text, records } = memoryLogger();
    const token = generateToken('operator');
    logger.child({ session: { operatorToken: token }, operatorId: 'op-1' }).info('child line');
    expect(text()).not.toContain(token.slice(6));
    expect(records()[0]).toMatchObject({ operatorId: 'op-1', session: { operatorToken: REDACTED } });
  });

  it('survives cycles and cuts deep or wide structures', () => {
    const { logger, records } = memoryLogger();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    logger.info({ cyclic, deep, wide: Array.from({ length: 150 }, (_, i) => i) });
    const [record] = records();
    expect(record!['cyclic']).toEqual({ name: 'loop', self: '[CIRCULAR]' });
    expect(JSON.stringify(record!['deep'])).toContain('[TRUNCATED]');
    expect((record!['wide'] as unknown[]).length).toBe(101);
  });
});

describe('isRedactedKeyName', () => {
  it.each(['token', 'adminToken', 'enrollment_token', 'Authorization', 'password', 'privateKey', 'private_key', 'kek', 'epochKek', 'plaintext', 'clientSecret', 'credentials'])(
    'redacts %s',
    (name) => expect(isRedactedKeyName(name)).toBe(true),
  );
  it.each(['tokenId', 'tokenHash', 'keyId', 'keyRef', 'deviceId', 'fleet', 'check', 'speed'])('keeps %s', (name) =>
    expect(isRedactedKeyName(name)).toBe(false),
  );
});

describe('scrubLogText', () => {
  it('replaces token shapes, bearer credentials and PEM private keys, keeping JSON valid', () => {
    const token = generateToken('enrollment');
    const line = JSON.stringify({ msg: `a ${token} b`, h: `Bearer\tabc.def`, k: '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----' });
    const scrubbed = scrubLogText(line);
    expect(JSON.parse(scrubbed)).toEqual({ msg: `a ${REDACTED} b`, h: REDACTED, k: REDACTED });
  });
});

describe('logTextScrubber', () => {
  it('refuses a prefix that is not a plain lower-case word, so no pattern can be injected', () => {
    expect(() => logTextScrubber(['fk_.*'])).toThrow(RangeError);
    expect(() => logTextScrubber(['FK_'])).toThrow(RangeError);
  });

  it('without prefixes still scrubs bearer credentials and PEM private keys', () => {
    const scrub = logTextScrubber();
    expect(scrub('auth Bearer abc.def and fk_op_zzz')).toBe(`auth ${REDACTED} and fk_op_zzz`);
    expect(scrub('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toBe(REDACTED);
  });
});
