/**
 * The shapes Vault answers with: a success wraps `data` in Vault's response envelope, an error is
 * `{"errors": ["…"]}` with the HTTP status Vault uses for it. Handlers return these values instead
 * of throwing, so every answer — success or refusal — goes through one writer.
 *
 * Trust boundary: error texts are Vault's own fixed messages; none echoes key material or input.
 */
import { randomUUID } from 'node:crypto';

export interface Reply {
  readonly status: number;
  /** undefined for 204 No Content. */
  readonly body?: unknown;
}

export function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'status' in value && typeof (value as Reply).status === 'number';
}

/** `{"errors":[message]}`; Vault sends an empty list for a plain 404. */
export function errorReply(status: number, ...errors: string[]): Reply {
  return { status, body: { errors } };
}

/** Vault's logical.ErrInvalidRequest: 400 with the handler's message. */
export function badRequest(message: string): Reply {
  return errorReply(400, message);
}

export const PERMISSION_DENIED: Reply = errorReply(403, 'permission denied');
export const NOT_FOUND: Reply = errorReply(404);
export const UNSUPPORTED_PATH: Reply = errorReply(404, 'unsupported path');
export const SEALED: Reply = errorReply(503, 'Vault is sealed');
export const INTERNAL_ERROR: Reply = errorReply(500, 'internal error');

export function throttledReply(path: string): Reply {
  return errorReply(429, `request path "${path}": rate limit quota exceeded`);
}

export function dataReply(data: Record<string, unknown>, warnings: string[] | null = null): Reply {
  return {
    status: 200,
    body: {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data,
      wrap_info: null,
      warnings,
      auth: null,
      mount_type: 'transit',
    },
  };
}

export const NO_CONTENT: Reply = { status: 204 };
