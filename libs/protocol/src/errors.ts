/**
 * The errors @fleetkey/protocol throws on purpose. Their codes live in @fleetkey/key-types'
 * FleetkeyErrorCode union; the classes live here because only this library throws them.
 *
 * Trust boundary: messages name the topic kind, field or limit that failed, never the payload,
 * a token or key material. A topic is echoed at most in a shortened, JSON-quoted form.
 */
import { FleetkeyError, type FleetkeyErrorCode, type FleetkeyErrorOptions } from '@fleetkey/key-types';

/** A string is not a valid fleetkey MQTT topic (or breaks MQTT's own topic rules). */
export class TopicInvalid extends FleetkeyError {
  readonly code = 'TOPIC_INVALID' as const;
}

/** Bytes that should hold a protobuf message do not: truncated, garbage, oversized or out of limits. */
export class MessageMalformed extends FleetkeyError {
  readonly code = 'MESSAGE_MALFORMED' as const;
}

export interface RpcErrorOptions extends FleetkeyErrorOptions {
  /** The gRPC status code (`@grpc/grpc-js` `status`). */
  readonly status: number;
  /** The fleetkey code the server sent in the `fleetkey-error-code` trailer, if any. */
  readonly remoteCode?: FleetkeyErrorCode;
}

/**
 * A gRPC call failed. `code` is the server's fleetkey code when it sent one (so a remote
 * KEY_NOT_FOUND is `code === 'KEY_NOT_FOUND'` on the client too), otherwise `RPC_FAILED`;
 * `status` is always the gRPC status. `retryable` is true only for transient statuses.
 */
export class RpcError extends FleetkeyError {
  readonly code: FleetkeyErrorCode;
  readonly status: number;
  readonly retryable: boolean;

  constructor(message: string, options: RpcErrorOptions) {
    super(message, options);
    this.code = options.remoteCode ?? 'RPC_FAILED';
    this.status = options.status;
    this.retryable = RETRYABLE_STATUSES.has(options.status);
  }
}

// gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) that say "try
// again later" without implying the server acted: UNAVAILABLE (14) and ABORTED (10). Deadline
// expiry is not in the set: the server may have acted, so a retry is the caller's decision.
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([10, 14]);
