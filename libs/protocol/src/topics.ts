/**
 * The MQTT topic scheme of fleetkey, versioned under `fleetkey/v1/{fleet}/...`:
 *
 *   fleetkey/v1/{fleet}/broadcast                      fleet pub/sub (SealedMessage)
 *   fleetkey/v1/{fleet}/emergency                      signed commands, retained
 *   fleetkey/v1/{fleet}/revocations                    signed revocation list, retained
 *   fleetkey/v1/{fleet}/groups/{group}/broadcast       group pub/sub (SealedMessage)
 *   fleetkey/v1/{fleet}/devices/{device}/keys          the device's KeyBundle, retained
 *   fleetkey/v1/{fleet}/devices/{device}/commands      signed commands for one device
 *   fleetkey/v1/{fleet}/devices/{device}/up/acks       the device's Acks
 *   fleetkey/v1/{fleet}/devices/{device}/up/status     the device's DeviceStatusReports
 *
 * Builders validate every id segment with assertIdentifier, so no wildcard (`+`, `#`),
 * separator (`/`), NUL or over-long segment can reach a topic. `parseTopic` is the strict inverse.
 *
 * Trust boundary: `parseTopic` takes topics from the broker (untrusted); it accepts exactly the
 * forms above and nothing else. Retained topics keep only the latest message: an agent that sees
 * a sequence gap catches up through DeviceService.StreamCommands, the authoritative path.
 */
import { assertIdentifier, isValidIdentifier, type IdentifierKind } from '@fleetkey/key-types';
import { TopicInvalid } from './errors.js';
import {
  MAX_ACK_BYTES,
  MAX_KEY_BUNDLE_BYTES,
  MAX_SEALED_MESSAGE_BYTES,
  MAX_SIGNED_COMMAND_BYTES,
  MAX_SIGNED_REVOCATION_LIST_BYTES,
  MAX_STATUS_REPORT_BYTES,
} from './limits.js';

/** The versioned root of every fleetkey topic. */
export const TOPIC_ROOT = 'fleetkey/v1';
/** [MQTT-4.7.3-3] a topic name or filter encodes to at most 65,535 UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 65_535;

export type TopicKind =
  | 'fleet-broadcast'
  | 'emergency'
  | 'revocations'
  | 'group-broadcast'
  | 'device-keys'
  | 'device-commands'
  | 'device-acks'
  | 'device-status';

export type ParsedTopic =
  | { readonly kind: 'fleet-broadcast' | 'emergency' | 'revocations'; readonly fleet: string }
  | { readonly kind: 'group-broadcast'; readonly fleet: string; readonly group: string }
  | {
      readonly kind: 'device-keys' | 'device-commands' | 'device-acks' | 'device-status';
      readonly fleet: string;
      readonly device: string;
    };

export interface TopicSpec {
  /** Who publishes: the controller (`down`), a device (`up`), or devices to each other (`peer`). */
  readonly direction: 'down' | 'up' | 'peer';
  /** Published with the MQTT retain flag, so a subscriber that connects later gets the latest. */
  readonly retained: boolean;
  /** The QoS to publish and subscribe with. */
  readonly qos: 0 | 1;
  /** The fleetkey.v1 message type of the payload. */
  readonly payload: string;
  /** The payload bound to decode with (decodeMessage `maxBytes`). */
  readonly maxPayloadBytes: number;
}

/** How each topic is used. Emergency, revocation, key and device-command topics are retained QoS 1 (DESIGN.md): a robot that was away gets the latest of each when it returns. */
export const TOPIC_SPECS: Readonly<Record<TopicKind, TopicSpec>> = Object.freeze({
  'fleet-broadcast': { direction: 'peer', retained: false, qos: 1, payload: 'fleetkey.v1.SealedMessage', maxPayloadBytes: MAX_SEALED_MESSAGE_BYTES },
  emergency: { direction: 'down', retained: true, qos: 1, payload: 'fleetkey.v1.SignedCommand', maxPayloadBytes: MAX_SIGNED_COMMAND_BYTES },
  revocations: { direction: 'down', retained: true, qos: 1, payload: 'fleetkey.v1.SignedRevocationList', maxPayloadBytes: MAX_SIGNED_REVOCATION_LIST_BYTES },
  'group-broadcast': { direction: 'peer', retained: false, qos: 1, payload: 'fleetkey.v1.SealedMessage', maxPayloadBytes: MAX_SEALED_MESSAGE_BYTES },
  'device-keys': { direction: 'down', retained: true, qos: 1, payload: 'fleetkey.v1.KeyBundle', maxPayloadBytes: MAX_KEY_BUNDLE_BYTES },
  'device-commands': { direction: 'down', retained: true, qos: 1, payload: 'fleetkey.v1.SignedCommand', maxPayloadBytes: MAX_SIGNED_COMMAND_BYTES },
  'device-acks': { direction: 'up', retained: false, qos: 1, payload: 'fleetkey.v1.Ack', maxPayloadBytes: MAX_ACK_BYTES },
  'device-status': { direction: 'up', retained: false, qos: 0, payload: 'fleetkey.v1.DeviceStatusReport', maxPayloadBytes: MAX_STATUS_REPORT_BYTES },
});

function id(kind: IdentifierKind, value: string): string {
  return assertIdentifier(kind, value);
}

/** @throws InvalidIdentifier when `fleet` is not an identifier. */
export function fleetBroadcastTopic(fleet: string): string {
  return `${TOPIC_ROOT}/${id('fleet', fleet)}/broadcast`;
}

/** @throws InvalidIdentifier when `fleet` is not an identifier. */
export function emergencyTopic(fleet: string): string {
  return `${TOPIC_ROOT}/${id('fleet', fleet)}/emergency`;
}

/** @throws InvalidIdentifier when `fleet` is not an identifier. */
export function revocationsTopic(fleet: string): string {
  return `${TOPIC_ROOT}/${id('fleet', fleet)}/revocations`;
}

/** @throws InvalidIdentifier when `fleet` or `group` is not an identifier. */
export function groupBroadcastTopic(fleet: string, group: string): string {
  return `${TOPIC_ROOT}/${id('fleet', fleet)}/groups/${id('group', group)}/broadcast`;
}

function deviceTopic(fleet: string, device: string, tail: string): string {
  return `${TOPIC_ROOT}/${id('fleet', fleet)}/devices/${id('device', device)}/${tail}`;
}

/** @throws InvalidIdentifier when `fleet` or `device` is not an identifier. */
export function deviceKeysTopic(fleet: string, device: string): string {
  return deviceTopic(fleet, device, 'keys');
}

/** @throws InvalidIdentifier when `fleet` or `device` is not an identifier. */
export function deviceCommandsTopic(fleet: string, device: string): string {
  return deviceTopic(fleet, device, 'commands');
}

/** @throws InvalidIdentifier when `fleet` or `device` is not an identifier. */
export function deviceAcksTopic(fleet: string, device: string): string {
  return deviceTopic(fleet, device, 'up/acks');
}

/** @throws InvalidIdentifier when `fleet` or `device` is not an identifier. */
export function deviceStatusTopic(fleet: string, device: string): string {
  return deviceTopic(fleet, device, 'up/status');
}

/**
 * The controller's subscription to every device's up topics of one fleet:
 * `fleetkey/v1/{fleet}/devices/+/up/+`. Devices never get wildcard subscriptions (see acl.ts).
 * @throws InvalidIdentifier when `fleet` is not an identifier.
 */
export function fleetUpFilter(fleet: string): string {
  return `${TOPIC_ROOT}/${id('fleet', fleet)}/devices/+/up/+`;
}

/** Builds the topic a parsed topic came from. @throws InvalidIdentifier for a bad segment. */
export function formatTopic(topic: ParsedTopic): string {
  switch (topic.kind) {
    case 'fleet-broadcast':
      return fleetBroadcastTopic(topic.fleet);
    case 'emergency':
      return emergencyTopic(topic.fleet);
    case 'revocations':
      return revocationsTopic(topic.fleet);
    case 'group-broadcast':
      return groupBroadcastTopic(topic.fleet, topic.group);
    case 'device-keys':
      return deviceKeysTopic(topic.fleet, topic.device);
    case 'device-commands':
      return deviceCommandsTopic(topic.fleet, topic.device);
    case 'device-acks':
      return deviceAcksTopic(topic.fleet, topic.device);
    case 'device-status':
      return deviceStatusTopic(topic.fleet, topic.device);
  }
}

// Lone UTF-16 surrogates cannot be encoded as UTF-8 at all.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function shown(topic: string): string {
  return JSON.stringify(topic.slice(0, 80));
}

/**
 * Checks MQTT's own rules for a topic name (not a filter): non-empty [MQTT-4.7.3-1], no NUL
 * [MQTT-4.7.3-2], well-formed UTF-8 [MQTT-1.5.4-1] of at most 65,535 bytes [MQTT-4.7.3-3], and no
 * wildcard characters in a name [MQTT-3.3.2-2].
 * @throws TopicInvalid naming the rule broken.
 */
export function assertMqttTopicName(topic: unknown): asserts topic is string {
  // Precondition: enforces MQTT topic rules ([MQTT-4.7.3-1..3], [MQTT-1.5.4-1], [MQTT-3.3.2-2]).
  if (typeof topic !== 'string') throw new TopicInvalid(`topic must be a string, got ${typeof topic}`);
  if (topic.length === 0) throw new TopicInvalid('topic must not be empty [MQTT-4.7.3-1]');
  if (topic.includes('\u0000')) throw new TopicInvalid('topic must not contain NUL [MQTT-4.7.3-2]');
  if (LONE_SURROGATE.test(topic)) throw new TopicInvalid('topic is not well-formed UTF-8 [MQTT-1.5.4-1]');
  if (topic.length > MAX_TOPIC_BYTES || Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) {
    throw new TopicInvalid(`topic exceeds ${MAX_TOPIC_BYTES} UTF-8 bytes [MQTT-4.7.3-3]`);
  }
  if (topic.includes('+') || topic.includes('#')) {
    throw new TopicInvalid(`topic name ${shown(topic)} must not contain wildcards [MQTT-3.3.2-2]`);
  }
}

function segment(kind: IdentifierKind, value: string | undefined, topic: string): string {
  // Precondition: every id segment of a parsed topic is a valid identifier.
  if (!isValidIdentifier(value)) throw new TopicInvalid(`topic ${shown(topic)}: invalid ${kind} segment`);
  return value;
}

/**
 * Parses a fleetkey topic name.
 * @throws TopicInvalid for anything but exactly one of the forms in TOPIC_SPECS, with valid ids.
 */
export function parseTopic(topic: string): ParsedTopic {
  assertMqttTopicName(topic);
  const parts = topic.split('/');
  if (parts.length < 4 || parts[0] !== 'fleetkey' || parts[1] !== 'v1') {
    throw new TopicInvalid(`topic ${shown(topic)} is not under ${TOPIC_ROOT}/`);
  }
  const fleet = segment('fleet', parts[2], topic);
  const rest = parts.slice(3);
  if (rest.length === 1) {
    const [leaf] = rest;
    if (leaf === 'broadcast') return { kind: 'fleet-broadcast', fleet };
    if (leaf === 'emergency') return { kind: 'emergency', fleet };
    if (leaf === 'revocations') return { kind: 'revocations', fleet };
  } else if (rest[0] === 'groups' && rest.length === 3 && rest[2] === 'broadcast') {
    return { kind: 'group-broadcast', fleet, group: segment('group', rest[1], topic) };
  } else if (rest[0] === 'devices') {
    const tail = rest.slice(2).join('/');
    const kind = tail === 'keys' ? 'device-keys'
      : tail === 'commands' ? 'device-commands'
      : tail === 'up/acks' ? 'device-acks'
      : tail === 'up/status' ? 'device-status'
      : undefined;
    if (kind !== undefined) return { kind, fleet, device: segment('device', rest[1], topic) };
  }
  throw new TopicInvalid(`topic ${shown(topic)} is not a fleetkey topic`);
}
