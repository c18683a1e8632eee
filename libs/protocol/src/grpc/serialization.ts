/**
 * Byte-level glue between protobuf-es messages and grpc-js: serializers, and the deserializer
 * that turns an undecodable request into a sentinel instead of an exception.
 *
 * Why a sentinel: when a grpc-js request deserializer throws, grpc-js answers INTERNAL. A
 * malformed request is the client's fault, so the adapter wants INVALID_ARGUMENT; the
 * deserializer therefore returns MALFORMED_REQUEST and the handler wrapper (server.ts) answers
 * with the right status before any handler sees it.
 *
 * Trust boundary: request bytes come from the peer. Decoding goes through decodeMessage: byte
 * bound, nesting bound, field limits, unknown fields dropped.
 */
import { toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { decodeMessage } from '../codec.js';
import { MAX_RECEIVE_MESSAGE_BYTES } from './options.js';

/** Stands in for a request that could not be decoded or broke a field limit. */
export const MALFORMED_REQUEST: unique symbol = Symbol('fleetkey.malformed-request');
export type MaybeMalformed<T> = T | typeof MALFORMED_REQUEST;

/** A Buffer view of the bytes, without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function serializer(schema: DescMessage): (message: Message) => Buffer {
  return (message) => asBuffer(toBinary(schema, message));
}

/** Server side: never throws; undecodable input becomes MALFORMED_REQUEST. */
export function requestDeserializer(schema: DescMessage): (bytes: Buffer) => MaybeMalformed<Message> {
  return (bytes) => {
    try {
      return decodeMessage(schema, bytes, { maxBytes: MAX_RECEIVE_MESSAGE_BYTES });
    } catch {
      return MALFORMED_REQUEST;
    }
  };
}

/** Client side: throws MessageMalformed, which grpc-js turns into an INTERNAL status of the call. */
export function responseDeserializer(schema: DescMessage): (bytes: Buffer) => Message {
  return (bytes) => decodeMessage(schema, bytes, { maxBytes: MAX_RECEIVE_MESSAGE_BYTES });
}
