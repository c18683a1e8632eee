import { FleetkeyError } from '@fleetkey/key-types';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { MessageMalformed, RpcError, TopicInvalid } from '../errors.js';
import { ERROR_CODE_TRAILER, INTERNAL_ERROR_MESSAGE, MAX_STATUS_DETAILS_LENGTH, STATUS_BY_ERROR_CODE, rpcErrorFrom, statusForError } from './status.js';

class DecryptionFailed extends FleetkeyError {
  readonly code = 'DECRYPTION_FAILED' as const;
}

describe('statusForError', () => {
  it.each([
    [new MessageMalformed('x'), status.INVALID_ARGUMENT],
    [new TopicInvalid('x'), status.INVALID_ARGUMENT],
    [new DecryptionFailed('decryption failed'), status.INVALID_ARGUMENT],
    [new RpcError('upstream down', { status: status.UNAVAILABLE }), status.UNAVAILABLE],
  ])('maps %s through the one table', (error, expected) => {
    const result = statusForError(error);
    expect(result.code).toBe(expected);
    expect(result.details).toBe(error.message);
    expect(result.metadata.get(ERROR_CODE_TRAILER)).toEqual([error.code]);
  });

  it('keeps the remote code of a relayed RpcError', () => {
    const relayed = new RpcError('no such key', { status: status.NOT_FOUND, remoteCode: 'KEY_NOT_FOUND' });
    expect(statusForError(relayed).code).toBe(status.NOT_FOUND);
  });

  it('maps a code missing from the table to UNKNOWN, keeping the code', () => {
    class Future extends FleetkeyError {
      readonly code = 'SOMETHING_NEW' as never;
    }
    const result = statusForError(new Future('later'));
    expect(result.code).toBe(status.UNKNOWN);
    expect(result.metadata.get(ERROR_CODE_TRAILER)).toEqual(['SOMETHING_NEW']);
  });

  it('Precondition: an error that is not a FleetkeyError leaks nothing: fixed status and message', () => {
    const seen: unknown[] = [];
    const secret = new Error('token=abc123');
    const result = statusForError(secret, (e) => seen.push(e));
    expect(result).toMatchObject({ code: status.INTERNAL, details: INTERNAL_ERROR_MESSAGE });
    expect(result.metadata.get(ERROR_CODE_TRAILER)).toEqual([]);
    expect(seen).toEqual([secret]);
    // A look-alike with a code property but no FleetkeyError prototype is not trusted either.
    expect(statusForError(Object.assign(new Error('key=xyz'), { code: 'KEY_NOT_FOUND' })).details).toBe(INTERNAL_ERROR_MESSAGE);
    expect(statusForError('a string').code).toBe(status.INTERNAL);
  });

  it('cuts over-long details', () => {
    expect(statusForError(new MessageMalformed('x'.repeat(5000))).details.length).toBeLessThanOrEqual(MAX_STATUS_DETAILS_LENGTH + 3);
  });

  it('maps every listed code to a non-OK status', () => {
    for (const code of Object.values(STATUS_BY_ERROR_CODE)) expect(code).not.toBe(status.OK);
  });
});

describe('rpcErrorFrom', () => {
  function serviceError(code: number, details: string, trailer?: string) {
    const metadata = new Metadata();
    if (trailer !== undefined) metadata.set(ERROR_CODE_TRAILER, trailer);
    return Object.assign(new Error(details), { code, details, metadata });
  }

  it('carries the remote fleetkey code and the gRPC status', () => {
    const error = rpcErrorFrom(serviceError(status.NOT_FOUND, 'no key', 'KEY_NOT_FOUND'));
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe('KEY_NOT_FOUND');
    expect(error.status).toBe(status.NOT_FOUND);
    expect(error.retryable).toBe(false);
  });

  it('falls back to RPC_FAILED without a code, or with a code that is not code-shaped', () => {
    expect(rpcErrorFrom(serviceError(status.UNAVAILABLE, 'down')).code).toBe('RPC_FAILED');
    expect(rpcErrorFrom(serviceError(status.UNKNOWN, 'x', 'not a code; <script>')).code).toBe('RPC_FAILED');
    expect(rpcErrorFrom(new Error('weird')).code).toBe('RPC_FAILED');
  });

  it('marks only UNAVAILABLE and ABORTED retryable', () => {
    expect(rpcErrorFrom(serviceError(status.UNAVAILABLE, 'x')).retryable).toBe(true);
    expect(rpcErrorFrom(serviceError(status.ABORTED, 'x')).retryable).toBe(true);
    expect(rpcErrorFrom(serviceError(status.DEADLINE_EXCEEDED, 'x')).retryable).toBe(false);
    expect(rpcErrorFrom(serviceError(status.INTERNAL, 'x')).retryable).toBe(false);
  });
});
