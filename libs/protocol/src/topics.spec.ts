import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_TOPIC_BYTES,
  TOPIC_SPECS,
  assertMqttTopicName,
  deviceAcksTopic,
  deviceCommandsTopic,
  deviceKeysTopic,
  deviceStatusTopic,
  emergencyTopic,
  fleetBroadcastTopic,
  fleetUpFilter,
  formatTopic,
  groupBroadcastTopic,
  parseTopic,
  revocationsTopic,
  type ParsedTopic,
} from './topics.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('topic builders', () => {
  it('build the documented scheme', () => {
    expect(fleetBroadcastTopic('acme')).toBe('fleetkey/v1/acme/broadcast');
    expect(emergencyTopic('acme')).toBe('fleetkey/v1/acme/emergency');
    expect(revocationsTopic('acme')).toBe('fleetkey/v1/acme/revocations');
    expect(groupBroadcastTopic('acme', 'lab-2')).toBe('fleetkey/v1/acme/groups/lab-2/broadcast');
    expect(deviceKeysTopic('acme', 'r2.d2')).toBe('fleetkey/v1/acme/devices/r2.d2/keys');
    expect(deviceCommandsTopic('acme', 'r2.d2')).toBe('fleetkey/v1/acme/devices/r2.d2/commands');
    expect(deviceAcksTopic('acme', 'r2.d2')).toBe('fleetkey/v1/acme/devices/r2.d2/up/acks');
    expect(deviceStatusTopic('acme', 'r2.d2')).toBe('fleetkey/v1/acme/devices/r2.d2/up/status');
    expect(fleetUpFilter('acme')).toBe('fleetkey/v1/acme/devices/+/up/+');
  });

  it.each([
    ['a/b'],
    ['+'],
    ['#'],
    ['acme+'],
    ['ac#me'],
    [''],
    ['nul\u0000'],
    ['x'.repeat(65)],
    [' acme'],
    ['-acme'],
    ['ümlaut'],
  ])('refuse the id segment %j with INVALID_IDENTIFIER', (bad) => {
    expect(codeOf(() => fleetBroadcastTopic(bad))).toBe('INVALID_IDENTIFIER');
    expect(codeOf(() => groupBroadcastTopic('acme', bad))).toBe('INVALID_IDENTIFIER');
    expect(codeOf(() => deviceKeysTopic('acme', bad))).toBe('INVALID_IDENTIFIER');
    expect(codeOf(() => deviceAcksTopic(bad, 'robot-1'))).toBe('INVALID_IDENTIFIER');
  });

  it('refuse every generated id containing /, + or # (property)', () => {
    const withSpecial = fc
      .tuple(fc.string({ maxLength: 20 }), fc.constantFrom('/', '+', '#'), fc.string({ maxLength: 20 }))
      .map(([a, special, b]) => `${a}${special}${b}`);
    fc.assert(
      fc.property(withSpecial, (bad) => {
        expect(codeOf(() => fleetBroadcastTopic(bad))).toBe('INVALID_IDENTIFIER');
        expect(codeOf(() => groupBroadcastTopic('acme', bad))).toBe('INVALID_IDENTIFIER');
        expect(codeOf(() => deviceCommandsTopic('acme', bad))).toBe('INVALID_IDENTIFIER');
        expect(codeOf(() => deviceStatusTopic(bad, 'robot'))).toBe('INVALID_IDENTIFIER');
      }),
      { numRuns: 300 },
    );
  });

  it('never produce a topic with a wildcard, NUL or empty level (property)', () => {
    const anyId = fc.string({ maxLength: 70 });
    fc.assert(
      fc.property(anyId, anyId, (fleet, device) => {
        let topic: string;
        try {
          topic = deviceKeysTopic(fleet, device);
        } catch {
          return;
        }
        for (const forbidden of ['+', '#', '\u0000']) expect(topic.includes(forbidden)).toBe(false);
        expect(topic.split('/').every((level) => level.length > 0)).toBe(true);
        expect(parseTopic(topic)).toEqual({ kind: 'device-keys', fleet, device });
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseTopic', () => {
  const valid: Array<[string, ParsedTopic]> = [
    ['fleetkey/v1/acme/broadcast', { kind: 'fleet-broadcast', fleet: 'acme' }],
    ['fleetkey/v1/acme/emergency', { kind: 'emergency', fleet: 'acme' }],
    ['fleetkey/v1/acme/revocations', { kind: 'revocations', fleet: 'acme' }],
    ['fleetkey/v1/acme/groups/lab/broadcast', { kind: 'group-broadcast', fleet: 'acme', group: 'lab' }],
    ['fleetkey/v1/acme/devices/r1/keys', { kind: 'device-keys', fleet: 'acme', device: 'r1' }],
    ['fleetkey/v1/acme/devices/r1/commands', { kind: 'device-commands', fleet: 'acme', device: 'r1' }],
    ['fleetkey/v1/acme/devices/r1/up/acks', { kind: 'device-acks', fleet: 'acme', device: 'r1' }],
    ['fleetkey/v1/acme/devices/r1/up/status', { kind: 'device-status', fleet: 'acme', device: 'r1' }],
  ];

  it.each(valid)('parses %s and formats it back', (topic, parsed) => {
    expect(parseTopic(topic)).toEqual(parsed);
    expect(formatTopic(parsed)).toBe(topic);
  });

  it('covers every topic kind', () => {
    expect(new Set(valid.map(([, p]) => p.kind))).toEqual(new Set(Object.keys(TOPIC_SPECS)));
  });

  it.each([
    ['empty', ''],
    ['other root', 'other/v1/acme/broadcast'],
    ['other version', 'fleetkey/v2/acme/broadcast'],
    ['no leaf', 'fleetkey/v1/acme'],
    ['unknown leaf', 'fleetkey/v1/acme/secrets'],
    ['trailing slash', 'fleetkey/v1/acme/broadcast/'],
    ['leading slash', '/fleetkey/v1/acme/broadcast'],
    ['empty fleet', 'fleetkey/v1//broadcast'],
    ['wildcard fleet', 'fleetkey/v1/+/broadcast'],
    ['multi-level wildcard', 'fleetkey/v1/acme/#'],
    ['group without id', 'fleetkey/v1/acme/groups/broadcast'],
    ['group extra level', 'fleetkey/v1/acme/groups/lab/x/broadcast'],
    ['device without id', 'fleetkey/v1/acme/devices/keys'],
    ['device unknown tail', 'fleetkey/v1/acme/devices/r1/up/secrets'],
    ['device up root', 'fleetkey/v1/acme/devices/r1/up'],
    ['device extra level', 'fleetkey/v1/acme/devices/r1/keys/x'],
    ['bad device id', 'fleetkey/v1/acme/devices/-r1/keys'],
    ['too long id', `fleetkey/v1/${'a'.repeat(65)}/broadcast`],
    ['NUL', 'fleetkey/v1/ac\u0000me/broadcast'],
    ['lone surrogate', 'fleetkey/v1/acme\uD800/broadcast'],
    ['case', 'Fleetkey/v1/acme/broadcast'],
  ])('refuses %s with TOPIC_INVALID', (_name, topic) => {
    expect(codeOf(() => parseTopic(topic))).toBe('TOPIC_INVALID');
  });

  it('Precondition: every id segment of a parsed topic is a valid identifier', () => {
    for (const bad of ['-x', 'a b', 'x'.repeat(65), 'ä', '.x']) {
      expect(codeOf(() => parseTopic(`fleetkey/v1/${bad}/emergency`))).toBe('TOPIC_INVALID');
      expect(codeOf(() => parseTopic(`fleetkey/v1/acme/groups/${bad}/broadcast`))).toBe('TOPIC_INVALID');
      expect(codeOf(() => parseTopic(`fleetkey/v1/acme/devices/${bad}/up/acks`))).toBe('TOPIC_INVALID');
    }
  });

  it('refuses non-strings with TOPIC_INVALID', () => {
    expect(codeOf(() => parseTopic(42 as unknown as string))).toBe('TOPIC_INVALID');
  });

  it('never throws anything but TOPIC_INVALID on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (topic) => {
        try {
          const parsed = parseTopic(topic);
          expect(formatTopic(parsed)).toBe(topic);
        } catch (error) {
          expect((error as { code?: string }).code).toBe('TOPIC_INVALID');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('assertMqttTopicName', () => {
  it('Precondition: enforces MQTT topic rules ([MQTT-4.7.3-1..3], [MQTT-1.5.4-1], [MQTT-3.3.2-2])', () => {
    expect(codeOf(() => assertMqttTopicName(''))).toBe('TOPIC_INVALID');
    expect(codeOf(() => assertMqttTopicName('a\u0000b'))).toBe('TOPIC_INVALID');
    expect(codeOf(() => assertMqttTopicName('a\uDC00b'))).toBe('TOPIC_INVALID');
    expect(codeOf(() => assertMqttTopicName('a/+/b'))).toBe('TOPIC_INVALID');
    expect(codeOf(() => assertMqttTopicName('a/#'))).toBe('TOPIC_INVALID');
    expect(codeOf(() => assertMqttTopicName('é'.repeat(MAX_TOPIC_BYTES / 2 + 1)))).toBe('TOPIC_INVALID');
    expect(codeOf(() => assertMqttTopicName('a'.repeat(MAX_TOPIC_BYTES)))).toBeUndefined();
    expect(codeOf(() => assertMqttTopicName('a/😀/b'))).toBeUndefined();
  });
});

describe('TOPIC_SPECS', () => {
  it('retains exactly the emergency, revocation, key and device-command topics, at QoS 1', () => {
    const retained = Object.entries(TOPIC_SPECS).filter(([, spec]) => spec.retained);
    expect(retained.map(([kind]) => kind).sort()).toEqual(['device-commands', 'device-keys', 'emergency', 'revocations']);
    expect(retained.every(([, spec]) => spec.qos === 1)).toBe(true);
  });
});
