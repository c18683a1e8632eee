/**
 * The structured logger of the fleetkey daemons (controller and edge agent): pino writing JSON
 * lines to stderr (stdout carries only the `ready` line), with redaction in layers so that no token, key, plaintext or wrapped blob reaches
 * a log line even when a caller passes one by mistake:
 *
 * 1. pino `redact` for well-known key names at depth 0..2 (the declared contract);
 * 2. a `formatters.log` / `formatters.bindings` walk of every logged object at any depth (up to
 *    MAX_LOG_DEPTH): keys named like secrets become `[REDACTED]`, binary values (Buffer,
 *    Uint8Array, ArrayBuffer) become `[REDACTED]`, and every Error becomes its safe form;
 * 3. the safe form of an error: name, a code, and the message only for a FleetkeyError (whose
 *    messages are written to be safe). Any other error's message is withheld, because vendor SDK
 *    and driver messages echo requests. Causes are never printed; stack frames (without the
 *    message line) only when the logger is at debug or trace;
 * 4. a last-line `hooks.streamWrite` over the finished JSON text that replaces the caller's token
 *    shapes (`tokenPrefixes`: the controller's `fk_op_…`, `fk_enr_…`; the agent's app tokens),
 *    `Bearer …` credentials and PEM private keys with `[REDACTED]`, wherever they hide (messages,
 *    nested strings, error messages).
 *
 * Trust boundary: log lines leave the process (files, collectors, support bundles); callers are
 * trusted code, but what they log may contain attacker-controlled text and secrets by accident.
 */
import { isFleetkeyError } from '@fleetkey/key-types';
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

export const REDACTED = '[REDACTED]';
/** Deeper structures are cut, so a huge or hostile object cannot make logging expensive. */
export const MAX_LOG_DEPTH = 8;
/** Array items and object keys logged per level; the rest is summarised. */
export const MAX_LOG_ITEMS = 100;
/** Longest error message, name or code printed. */
export const MAX_LOGGED_ERROR_TEXT = 512;
/** Stack frames printed at debug level. */
export const MAX_LOGGED_STACK_FRAMES = 20;
/** The message printed instead of a non-fleetkey error's own. */
export const WITHHELD_ERROR_MESSAGE = 'message withheld: not a fleetkey error';

/**
 * Key names whose values are never logged. Matched after lowercasing and dropping `_`/`-`, as a
 * suffix: `token` also covers `adminToken` and `enrollment_token`, while `tokenId` (a record id)
 * stays visible.
 */
export const REDACTED_KEY_NAMES: readonly string[] = Object.freeze([
  'authorization',
  'cookie',
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'credential',
  'credentials',
  'privateKey',
  'plaintext',
  'keyMaterial',
  'dataKey',
  'wrappedKey',
  'kek',
  'cek',
  'ciphertext',
  'seed',
]);

const normalizeKeyName = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');
const REDACTED_KEY_SUFFIXES = REDACTED_KEY_NAMES.map(normalizeKeyName);

/** True when a value under this key name is never logged. */
export function isRedactedKeyName(name: string): boolean {
  const normalized = normalizeKeyName(name);
  return REDACTED_KEY_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

/** pino/@pinojs/redact paths: each name at depth 0, 1 and 2 (deeper levels: the walk below). */
const REDACT_PATHS = REDACTED_KEY_NAMES.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]);

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const TOKEN_PREFIX_PATTERN = /^[a-z][a-z0-9]*_[a-z0-9_]*$/;
/** RFC 6750 §2.1 credentials; in JSON text whitespace may appear escaped (`\t`). */
const BEARER_SHAPE = /\bBearer(?:\s|\\[tnr])+[^\s"\\,;]+/gi;
/** RFC 7468 private key labels, up to the END line or the end of the text. */
const PEM_PRIVATE_KEY_SHAPE = /-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/**
 * The last line of defence, over finished JSON text: never introduces a quote or backslash.
 * Token bodies are base64url; a truncated token is still redacted.
 * @throws RangeError for a prefix that is not a lower-case word ending in `_`-separated parts.
 */
export function logTextScrubber(tokenPrefixes: readonly string[] = []): (text: string) => string {
  for (const prefix of tokenPrefixes) if (!TOKEN_PREFIX_PATTERN.test(prefix)) throw new RangeError(`token prefix ${JSON.stringify(prefix)} is not a lower-case word like fk_op_`);
  const tokenShape = tokenPrefixes.length === 0 ? undefined : new RegExp(`(?:${tokenPrefixes.map(escapeRegExp).join('|')})[A-Za-z0-9_-]*`, 'g');
  return (text) => (tokenShape === undefined ? text : text.replace(tokenShape, REDACTED)).replace(BEARER_SHAPE, REDACTED).replace(PEM_PRIVATE_KEY_SHAPE, REDACTED);
}

export interface LoggedError {
  readonly name: string;
  readonly code?: string;
  /** FleetkeyError subclasses with a stable `reason` (EnrollmentTokenRejected, CertificateInvalid). */
  readonly reason?: string;
  readonly message: string;
  readonly stack?: string;
}

/** Codes, names and reasons are short machine words; anything else is not printed. */
const WORD = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function wordOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && WORD.test(value) ? value : undefined;
}

/**
 * The only form in which an error is logged. Never reads `cause`; for a non-fleetkey error only
 * its name and a machine-word code (`ECONNREFUSED`) survive.
 */
export function safeError(error: Error, includeStack = false): LoggedError {
  const name = wordOrUndefined(error.name) ?? 'Error';
  const code = wordOrUndefined((error as { code?: unknown }).code);
  const fleetkey = isFleetkeyError(error);
  const reason = fleetkey ? wordOrUndefined((error as { reason?: unknown }).reason) : undefined;
  const message = fleetkey ? String(error.message).slice(0, MAX_LOGGED_ERROR_TEXT) : WITHHELD_ERROR_MESSAGE;
  // The first stack line repeats the message, so only the frames are kept.
  const stack =
    includeStack && typeof error.stack === 'string'
      ? error.stack
          .split('\n')
          .filter((line) => /^\s+at /.test(line))
          .slice(0, MAX_LOGGED_STACK_FRAMES)
          .join('\n')
      : undefined;
  return {
    name,
    ...(code === undefined ? {} : { code }),
    ...(reason === undefined ? {} : { reason }),
    message,
    ...(stack === undefined || stack.length === 0 ? {} : { stack }),
  };
}

function isBinary(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer;
}

/** Copies `value` with secrets, binary and errors replaced; never mutates the caller's object. */
function sanitize(value: unknown, includeStack: boolean, depth: number, ancestors: object[]): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) return safeError(value, includeStack);
  if (isBinary(value)) return REDACTED;
  if (value instanceof Date) return value;
  if (depth >= MAX_LOG_DEPTH) return '[TRUNCATED]';
  if (ancestors.includes(value)) return '[CIRCULAR]';
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      const items = value.slice(0, MAX_LOG_ITEMS).map((item) => sanitize(item, includeStack, depth + 1, ancestors));
      if (value.length > MAX_LOG_ITEMS) items.push(`[${value.length - MAX_LOG_ITEMS} more]`);
      return items;
    }
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (const key of keys.slice(0, MAX_LOG_ITEMS)) {
      out[key] = isRedactedKeyName(key) ? REDACTED : sanitize((value as Record<string, unknown>)[key], includeStack, depth + 1, ancestors);
    }
    if (keys.length > MAX_LOG_ITEMS) out['[more keys]'] = keys.length - MAX_LOG_ITEMS;
    return out;
  } finally {
    ancestors.pop();
  }
}

/** Sanitises one logged object (the merge object or child bindings). */
export function sanitizeLogObject(object: Record<string, unknown>, includeStack = false): Record<string, unknown> {
  return sanitize(object, includeStack, 0, []) as Record<string, unknown>;
}

export interface CreateLoggerOptions {
  readonly level: LogLevel;
  /** Where JSON lines go; default stderr (fd 2, synchronous so nothing is lost on a crash). */
  readonly destination?: DestinationStream;
  /** Added to every line as `name`. */
  readonly name?: string;
  /** Prefixes of the bearer tokens this process handles, redacted wherever they appear. */
  readonly tokenPrefixes?: readonly string[];
}

/**
 * A redacting pino logger (see the module comment for the layers).
 * @throws RangeError when `level` is not one of LOG_LEVELS.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(options?.level)) {
    throw new RangeError(`"level" expected one of ${LOG_LEVELS.join(', ')}`);
  }
  // Bound late: the serializers ask the finished logger whether debug is on (pino already formats
  // its base bindings while it is being built, before there is a logger to ask).
  const built: { logger?: Logger } = {};
  const scrub = logTextScrubber(options.tokenPrefixes);
  const includeStack = (): boolean => built.logger?.isLevelEnabled('debug') === true;
  const serializeError = (value: unknown): unknown => (value instanceof Error ? safeError(value, includeStack()) : value);
  const logger = pino(
    {
      level: options.level,
      ...(options.name === undefined ? {} : { name: options.name }),
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
      formatters: {
        log: (object) => sanitizeLogObject(object, includeStack()),
        bindings: (bindings) => sanitizeLogObject(bindings, includeStack()),
      },
      hooks: {
        // pino makes `logger.error(err)` print err.message as msg; a non-fleetkey message is withheld.
        logMethod(args, method) {
          const [first] = args;
          if (args.length === 1 && typeof first === 'object' && first !== null) {
            const error = first instanceof Error ? first : (first as { err?: unknown }).err;
            if (error instanceof Error) {
              const { name, message } = safeError(error);
              return method.apply(this, [first, `${name}: ${message}`]);
            }
          }
          return method.apply(this, args);
        },
        streamWrite: scrub,
      },
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
  built.logger = logger;
  // pino applies formatters.bindings to the root only; children inherit this wrapper (they are
  // prototype copies of their parent), so every child's bindings are walked too.
  const child: Logger['child'] = logger.child;
  logger.child = function sanitizedChild(this: Logger, bindings: Bindings, childOptions?: ChildLoggerOptions): unknown {
    return Reflect.apply(child, this, [sanitizeLogObject(bindings, includeStack()), childOptions]);
  } as Logger['child'];
  return logger;
}
