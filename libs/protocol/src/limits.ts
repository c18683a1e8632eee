/**
 * Size limits of the fleetkey protocol, enforced on every decoded message.
 *
 * Per-field bounds are declared once, in the proto files, as `(fleetkey.v1.limit)` options
 * (proto/fleetkey/v1/limits.proto); `assertWithinLimits` reads them from the generated
 * descriptors and checks a message against them. Whole-message bounds (the most bytes one
 * message of a kind may take on the wire) are the named constants below. A test fails when a
 * string, bytes, repeated or map field in fleetkey.v1 has no limit.
 *
 * Trust boundary: runs on untrusted, already-parsed input (gRPC requests, MQTT payloads) before
 * any handler sees it. Errors name the field and the bound, never the value.
 */
import { getOption, hasOption, ScalarType, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { isValidIdentifier } from '@fleetkey/key-types';
import { MessageMalformed } from './errors.js';
import { limit as limitOption, type FieldLimit } from './gen/fleetkey/v1/limits_pb.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The most bytes one gRPC message may have, in either direction (grpc-js channel option). */
export const MAX_GRPC_MESSAGE_BYTES = 4 * MiB;
/** A serialized SignedCommand (payload max 8 KiB + signature + key reference). */
export const MAX_SIGNED_COMMAND_BYTES = 16 * KiB;
/** A serialized KeyBundle (4 signed manifests of at most 9.5 KiB + 32 wrapped keys of ~2 KiB). */
export const MAX_KEY_BUNDLE_BYTES = 128 * KiB;
/** A serialized SignedRevocationList (payload max 2 MiB + signature + key reference). */
export const MAX_SIGNED_REVOCATION_LIST_BYTES = 2 * MiB + 4 * KiB;
/** A serialized SealedMessage (payload max 1 MiB + 8 KiB + signature + certificate max 16 KiB). */
export const MAX_SEALED_MESSAGE_BYTES = MiB + 32 * KiB;
/** A serialized Ack. */
export const MAX_ACK_BYTES = 4 * KiB;
/** A serialized DeviceStatusReport. */
export const MAX_STATUS_REPORT_BYTES = 16 * KiB;
/** Payloads inside signed wrappers (Command, EpochManifest), as the proto limits state. */
export const MAX_SIGNED_PAYLOAD_BYTES = 8 * KiB;
/** A serialized RevocationList inside SignedRevocationList, as the proto limit states. */
export const MAX_REVOCATION_LIST_BYTES = 2 * MiB;
/** A serialized SealedPayload inside SealedMessage, as the proto limit states. */
export const MAX_SEALED_PAYLOAD_BYTES = MiB + 8 * KiB;

// Our messages nest at most five levels (e.g. KeyBundle > SignedEpochManifest > KeyRef); the
// walker refuses anything deeper than this rather than trusting the schema forever.
const MAX_WALK_DEPTH = 32;

const limitCache = new WeakMap<DescField, FieldLimit | null>();

/** The `(fleetkey.v1.limit)` option of a field, or undefined when it has none. */
export function fieldLimit(field: DescField): FieldLimit | undefined {
  let cached = limitCache.get(field);
  if (cached === undefined) {
    cached = hasOption(field, limitOption) ? getOption(field, limitOption) : null;
    limitCache.set(field, cached);
  }
  return cached ?? undefined;
}

/**
 * Checks every string, bytes, repeated and map field of `message` (recursively) against its
 * `(fleetkey.v1.limit)` option.
 * @throws MessageMalformed naming the first field that breaks its limit.
 */
export function assertWithinLimits(schema: DescMessage, message: Message): void {
  checkMessage(schema, message as unknown as Record<string, unknown>, 0);
}

function fail(schema: DescMessage, field: DescField, what: string): never {
  throw new MessageMalformed(`${schema.typeName}.${field.name}: ${what}`);
}

function checkMessage(schema: DescMessage, message: Record<string, unknown>, depth: number): void {
  if (depth > MAX_WALK_DEPTH) throw new MessageMalformed(`${schema.typeName}: nested deeper than ${MAX_WALK_DEPTH}`);
  for (const field of schema.fields) {
    const value = fieldValue(field, message);
    if (value === undefined) continue;
    const bounds = fieldLimit(field);
    switch (field.fieldKind) {
      case 'scalar':
        checkScalar(schema, field, field.scalar, value, bounds);
        break;
      case 'enum':
        break;
      case 'message':
        checkMessage(field.message, value as Record<string, unknown>, depth + 1);
        break;
      case 'list': {
        const items = value as readonly unknown[];
        checkCount(schema, field, items.length, bounds);
        for (const item of items) {
          if (field.listKind === 'scalar') checkScalar(schema, field, field.scalar, item, bounds);
          else if (field.listKind === 'message') checkMessage(field.message, item as Record<string, unknown>, depth + 1);
        }
        break;
      }
      case 'map': {
        const entries = Object.entries(value as Record<string, unknown>);
        checkCount(schema, field, entries.length, bounds);
        for (const [key, item] of entries) {
          checkScalar(schema, field, ScalarType.STRING, key, bounds);
          if (field.mapKind === 'scalar') checkScalar(schema, field, field.scalar, item, bounds);
          else if (field.mapKind === 'message') checkMessage(field.message, item as Record<string, unknown>, depth + 1);
        }
        break;
      }
    }
  }
}

function fieldValue(field: DescField, message: Record<string, unknown>): unknown {
  if (field.oneof !== undefined) {
    const group = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
    return group?.case === field.localName ? group.value : undefined;
  }
  return message[field.localName];
}

function checkCount(schema: DescMessage, field: DescField, count: number, bounds: FieldLimit | undefined): void {
  if (bounds === undefined || bounds.maxItems === 0) return;
  if (count > bounds.maxItems) fail(schema, field, `more than ${bounds.maxItems} items`);
}

function checkScalar(schema: DescMessage, field: DescField, scalar: ScalarType, value: unknown, bounds: FieldLimit | undefined): void {
  if (bounds === undefined) return;
  if (scalar === ScalarType.BYTES) {
    const size = (value as Uint8Array).byteLength;
    if (bounds.maxBytes !== 0 && size > bounds.maxBytes) fail(schema, field, `longer than ${bounds.maxBytes} bytes`);
    return;
  }
  if (scalar !== ScalarType.STRING) return;
  const text = value as string;
  // A UTF-8 code unit sequence is at most 3 bytes per UTF-16 unit, so short strings skip the count.
  if (bounds.maxBytes !== 0 && text.length * 3 > bounds.maxBytes && Buffer.byteLength(text, 'utf8') > bounds.maxBytes) {
    fail(schema, field, `longer than ${bounds.maxBytes} bytes`);
  }
  // Precondition: a non-empty identifier field matches the identifier grammar (so no wildcard,
  // separator or control character ever reaches a topic, a key id or a certificate name).
  if (bounds.identifier && text.length > 0 && !isValidIdentifier(text)) fail(schema, field, 'not a valid identifier');
}
