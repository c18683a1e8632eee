/**
 * The generic gRPC adapter: protobuf-es service descriptors to grpc-js servers and typed clients,
 * with fleetkey's error mapping and transport bounds in one place.
 */
export { addService, bindServer, createServer, implement, serviceDefinition, shutdownServer, type ImplementOptions } from './server.js';
export { closeClient, createClient, waitForReady, type ClientOptions } from './client.js';
export { methodPath } from './io.js';
export {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_SERVER_OPTIONS,
  DEFAULT_UNARY_TIMEOUT_MS,
  MAX_CONCURRENT_STREAMS,
  MAX_RECEIVE_MESSAGE_BYTES,
  MAX_SEND_MESSAGE_BYTES,
} from './options.js';
export {
  ERROR_CODE_TRAILER,
  INTERNAL_ERROR_MESSAGE,
  MALFORMED_REQUEST_MESSAGE,
  STATUS_BY_ERROR_CODE,
  rpcErrorFrom,
  statusForError,
  type ServerStatus,
} from './status.js';
export type * from './types.js';
