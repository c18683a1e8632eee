/**
 * Transport defaults every fleetkey gRPC server and client starts from: bounded message sizes,
 * keepalive, a default deadline for unary calls, and bounded stream buffers.
 *
 * Trust boundary: these bounds are what stands between a peer and this process's memory before
 * any message is parsed; override them per server or client only with a reason.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { MAX_GRPC_MESSAGE_BYTES } from '../limits.js';

/** The most bytes a server or client accepts in one message; larger ones fail RESOURCE_EXHAUSTED. */
export const MAX_RECEIVE_MESSAGE_BYTES = MAX_GRPC_MESSAGE_BYTES;
/** The most bytes a server or client sends in one message. */
export const MAX_SEND_MESSAGE_BYTES = MAX_GRPC_MESSAGE_BYTES;
/** Deadline of a unary or client-streaming call when the caller gives none (30 s). */
export const DEFAULT_UNARY_TIMEOUT_MS = 30_000;
/** Messages read ahead from a stream before the reader pauses the transport (backpressure). */
export const MAX_BUFFERED_STREAM_MESSAGES = 16;
/** Concurrent streams one client connection may open on a server. */
export const MAX_CONCURRENT_STREAMS = 256;

/** Options for grpc-js servers (`new Server(DEFAULT_SERVER_OPTIONS)`). */
export const DEFAULT_SERVER_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
  'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  // Detect dead peers (a robot that lost power) on long-lived command streams.
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
});

/** Options for grpc-js clients. */
export const DEFAULT_CLIENT_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
});
