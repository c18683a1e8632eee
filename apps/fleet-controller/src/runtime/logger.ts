/**
 * The controller's logger: @fleetkey/cli's redacting pino logger, told the shapes of the
 * controller's bearer tokens (operator and enrollment tokens) so they are scrubbed from every line.
 */
import { createLogger as createRedactingLogger, logTextScrubber, type CreateLoggerOptions, type Logger } from '@fleetkey/cli';
import { TOKEN_PREFIX } from '../store/tokens.js';

export { LOG_LEVELS, REDACTED, WITHHELD_ERROR_MESSAGE, isRedactedKeyName, safeError, sanitizeLogObject, type LogLevel, type Logger } from '@fleetkey/cli';

const CONTROLLER_TOKEN_PREFIXES = Object.freeze(Object.values(TOKEN_PREFIX));

export function createLogger(options: Omit<CreateLoggerOptions, 'tokenPrefixes'>): Logger {
  return createRedactingLogger({ ...options, tokenPrefixes: CONTROLLER_TOKEN_PREFIXES });
}

/** The last-line scrub of the controller's log text (tokens, bearer credentials, PEM private keys). */
export const scrubLogText = logTextScrubber(CONTROLLER_TOKEN_PREFIXES);
