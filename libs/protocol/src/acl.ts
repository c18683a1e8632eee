/**
 * MQTT topic ACLs for devices, as pure functions the broker integration calls on every SUBSCRIBE
 * and PUBLISH of a device connection (fleet and device taken from its verified certificate).
 *
 * Policy (deny by default):
 * - read: its fleet's broadcast, emergency and revocations topics, its own group's broadcast, and
 *   its own `devices/{device}/keys` and `devices/{device}/commands`;
 * - write: only its own `devices/{device}/up/acks` and `devices/{device}/up/status`;
 *   `allowBroadcastPublish` additionally admits its fleet's and group's broadcast topics for
 *   robot-to-robot pub/sub (sealed and signed, so the broker reads nothing);
 * - wildcards: a device filter with `+` or `#` is refused outright. The narrower rule ("only if
 *   the filter cannot match anything else") is easy to get wrong and buys nothing: a device
 *   subscribes to a handful of exact topics. `$`-topics ($SYS, $share) are refused too.
 *
 * Trust boundary: the filter and topic come from the device (untrusted); the fleet, device and
 * group come from the broker's authentication. Any invalid input yields false, never a throw.
 */
import { isValidIdentifier } from '@fleetkey/key-types';
import { parseTopic, type ParsedTopic } from './topics.js';

export interface DeviceAclOptions {
  /** The device's group; without it no group topic is allowed. */
  readonly group?: string | undefined;
  /** Also allow publishing to the fleet's and the device's group's broadcast topics. */
  readonly allowBroadcastPublish?: boolean;
}

function parsedFor(fleet: string, device: string, topic: string, group: string | undefined): ParsedTopic | undefined {
  if (!isValidIdentifier(fleet) || !isValidIdentifier(device)) return undefined;
  if (group !== undefined && !isValidIdentifier(group)) return undefined;
  // Precondition: devices never use wildcards or $-topics; refused before any parsing.
  if (typeof topic !== 'string' || topic.includes('+') || topic.includes('#') || topic.startsWith('$')) return undefined;
  let parsed: ParsedTopic;
  try {
    parsed = parseTopic(topic);
  } catch {
    return undefined;
  }
  // Precondition: nothing crosses fleets.
  return parsed.fleet === fleet ? parsed : undefined;
}

/** Whether a device of `fleet` (and `options.group`) may subscribe to `topicFilter`. Never throws. */
export function deviceMaySubscribe(fleet: string, device: string, topicFilter: string, options: DeviceAclOptions = {}): boolean {
  const parsed = parsedFor(fleet, device, topicFilter, options.group);
  if (parsed === undefined) return false;
  switch (parsed.kind) {
    case 'fleet-broadcast':
    case 'emergency':
    case 'revocations':
      return true;
    case 'group-broadcast':
      return options.group !== undefined && parsed.group === options.group;
    case 'device-keys':
    case 'device-commands':
      return parsed.device === device;
    case 'device-acks':
    case 'device-status':
      return false;
  }
}

/** Whether a device of `fleet` may publish to `topic`. Never throws. */
export function deviceMayPublish(fleet: string, device: string, topic: string, options: DeviceAclOptions = {}): boolean {
  const parsed = parsedFor(fleet, device, topic, options.group);
  if (parsed === undefined) return false;
  switch (parsed.kind) {
    case 'device-acks':
    case 'device-status':
      return parsed.device === device;
    case 'fleet-broadcast':
      return options.allowBroadcastPublish === true;
    case 'group-broadcast':
      return options.allowBroadcastPublish === true && options.group !== undefined && parsed.group === options.group;
    case 'emergency':
    case 'revocations':
    case 'device-keys':
    case 'device-commands':
      return false;
  }
}
