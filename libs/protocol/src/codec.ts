/**
 * Decoding and encoding of fleetkey protobuf messages with the checks every untrusted input
 * needs: a byte bound before parsing, a nesting bound while parsing, the proto's field limits
 * after parsing, and unknown fields either dropped (default) or refused.
 *
 * Trust boundary: `decodeMessage` is the one door from untrusted bytes (MQTT payloads, signed
 * payloads, gRPC frames) to typed messages. Every failure is a MessageMalformed with a message
 * that names the schema and the reason, never the bytes.
 *
 * Unknown fields: protobuf-es can drop them (`readUnknownFields: false`) but has no "refuse"
 * switch, so `unknownFields: 'reject'` parses with them kept and refuses the message when any
 * level carries one. The default is 'drop' because a fleet upgrades gradually: a newer controller
 * may add fields an older agent does not know, and proto3's contract is that the older side
 * ignores them. Dropping (rather than keeping) means they are never re-emitted or forwarded.
 */
import {
  create,
  fromBinary,
  toBinary,
  type DescField,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { MessageMalformed } from './errors.js';
import { assertWithinLimits } from './limits.js';

/** How deep protobuf messages may nest while parsing (protobuf-es defaults to 100). */
export const MAX_DECODE_RECURSION = 32;

export interface DecodeOptions {
  /** Refuse inputs longer than this many bytes, before parsing. Required: every input is bounded. */
  readonly maxBytes: number;
  /** 'drop' (default): unknown fields are discarded. 'reject': their presence is MessageMalformed. */
  readonly unknownFields?: 'drop' | 'reject';
}

export interface EncodeOptions {
  /** Refuse to produce more than this many bytes. */
  readonly maxBytes: number;
}

function assertMaxBytes(maxBytes: unknown): asserts maxBytes is number {
  if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`"maxBytes" expected a non-negative safe integer, got ${String(maxBytes)}`);
  }
}

/**
 * Parses `bytes` as a message of `schema`.
 * @throws MessageMalformed when the input is longer than `maxBytes`, is not a valid encoding of
 *   the schema (truncated, garbage, invalid UTF-8, too deep), breaks a field limit, or carries
 *   unknown fields under `unknownFields: 'reject'`.
 * @throws RangeError when `maxBytes` is not a non-negative integer (programming error).
 */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array, options: DecodeOptions): MessageShape<Desc> {
  assertMaxBytes(options.maxBytes);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" expected a Uint8Array');
  // Precondition: an input over maxBytes is refused before a single byte is parsed.
  if (bytes.byteLength > options.maxBytes) {
    throw new MessageMalformed(`${schema.typeName}: ${bytes.byteLength} bytes exceed the limit of ${options.maxBytes}`);
  }
  const reject = options.unknownFields === 'reject';
  let message: MessageShape<Desc>;
  try {
    message = fromBinary(schema, bytes, { readUnknownFields: reject, recursionLimit: MAX_DECODE_RECURSION });
  } catch (cause) {
    throw new MessageMalformed(`${schema.typeName}: not a valid encoding`, { cause });
  }
  // Precondition: under 'reject', a message with an unknown field at any depth is refused.
  if (reject && hasUnknownFields(schema, message as unknown as Record<string, unknown>, 0)) {
    throw new MessageMalformed(`${schema.typeName}: unknown fields are not accepted here`);
  }
  assertWithinLimits(schema, message);
  return message;
}

/**
 * Serializes a message after checking it against the proto's field limits and `maxBytes`, so this
 * side never emits what the other side must refuse.
 * @throws MessageMalformed when a field limit is broken or the encoding exceeds `maxBytes`.
 */
export function encodeMessage<Desc extends DescMessage>(
  schema: Desc,
  message: MessageInitShape<Desc>,
  options: EncodeOptions,
): Uint8Array {
  assertMaxBytes(options.maxBytes);
  const full = create(schema, message);
  assertWithinLimits(schema, full);
  const bytes = toBinary(schema, full);
  if (bytes.byteLength > options.maxBytes) {
    throw new MessageMalformed(`${schema.typeName}: ${bytes.byteLength} bytes exceed the limit of ${options.maxBytes}`);
  }
  return bytes;
}

function hasUnknownFields(schema: DescMessage, message: Record<string, unknown>, depth: number): boolean {
  const unknown = message['$unknown'] as readonly unknown[] | undefined;
  if (unknown !== undefined && unknown.length > 0) return true;
  if (depth > MAX_DECODE_RECURSION) return true;
  for (const field of schema.fields) {
    for (const child of childMessages(field, message)) {
      if (hasUnknownFields(child.schema, child.value, depth + 1)) return true;
    }
  }
  return false;
}

function* childMessages(field: DescField, message: Record<string, unknown>): Generator<{ schema: DescMessage; value: Record<string, unknown> }> {
  let value: unknown;
  if (field.oneof !== undefined) {
    const group = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
    value = group?.case === field.localName ? group.value : undefined;
  } else {
    value = message[field.localName];
  }
  if (value === undefined) return;
  if (field.fieldKind === 'message') {
    yield { schema: field.message, value: value as Record<string, unknown> };
  } else if (field.fieldKind === 'list' && field.listKind === 'message') {
    for (const item of value as readonly unknown[]) yield { schema: field.message, value: item as Record<string, unknown> };
  } else if (field.fieldKind === 'map' && field.mapKind === 'message') {
    for (const item of Object.values(value as Record<string, unknown>)) {
      yield { schema: field.message, value: item as Record<string, unknown> };
    }
  }
}
