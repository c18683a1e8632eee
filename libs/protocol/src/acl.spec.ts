import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceMayPublish, deviceMaySubscribe } from './acl.js';

const FLEET = 'acme';
const DEVICE = 'robot-1';
const GROUP = 'lab';
const options = { group: GROUP };

describe('deviceMaySubscribe', () => {
  it.each([
    'fleetkey/v1/acme/broadcast',
    'fleetkey/v1/acme/emergency',
    'fleetkey/v1/acme/revocations',
    'fleetkey/v1/acme/groups/lab/broadcast',
    'fleetkey/v1/acme/devices/robot-1/keys',
    'fleetkey/v1/acme/devices/robot-1/commands',
  ])('allows %s', (filter) => {
    expect(deviceMaySubscribe(FLEET, DEVICE, filter, options)).toBe(true);
  });

  it.each([
    ['another fleet broadcast', 'fleetkey/v1/other/broadcast'],
    ['another fleet emergency', 'fleetkey/v1/other/emergency'],
    ['another group', 'fleetkey/v1/acme/groups/ops/broadcast'],
    ['another fleet, same group name', 'fleetkey/v1/other/groups/lab/broadcast'],
    ['another device keys', 'fleetkey/v1/acme/devices/robot-2/keys'],
    ['another device commands', 'fleetkey/v1/acme/devices/robot-2/commands'],
    ['own up acks', 'fleetkey/v1/acme/devices/robot-1/up/acks'],
    ['own up status', 'fleetkey/v1/acme/devices/robot-1/up/status'],
    ['single-level wildcard device', 'fleetkey/v1/acme/devices/+/keys'],
    ['wildcard that could only match itself', 'fleetkey/v1/acme/devices/robot-1/+'],
    ['multi-level wildcard', 'fleetkey/v1/acme/#'],
    ['everything', '#'],
    ['shared subscription', '$share/g/fleetkey/v1/acme/broadcast'],
    ['$SYS', '$SYS/broker/clients'],
    ['not a fleetkey topic', 'fleetkey/v1/acme/secrets'],
    ['empty', ''],
  ])('refuses %s', (_name, filter) => {
    expect(deviceMaySubscribe(FLEET, DEVICE, filter, options)).toBe(false);
  });

  it('refuses group topics when the device group is unknown', () => {
    expect(deviceMaySubscribe(FLEET, DEVICE, 'fleetkey/v1/acme/groups/lab/broadcast')).toBe(false);
  });

  it('Precondition: nothing crosses fleets, and invalid identities get nothing', () => {
    expect(deviceMaySubscribe('other', DEVICE, 'fleetkey/v1/acme/broadcast')).toBe(false);
    expect(deviceMaySubscribe('ac/me', DEVICE, 'fleetkey/v1/acme/broadcast')).toBe(false);
    expect(deviceMaySubscribe(FLEET, '+', 'fleetkey/v1/acme/broadcast')).toBe(false);
    expect(deviceMaySubscribe(FLEET, DEVICE, 'fleetkey/v1/acme/broadcast', { group: '#' })).toBe(false);
  });

  it('Precondition: devices never use wildcards or $-topics (property)', () => {
    const filter = fc
      .tuple(fc.string({ maxLength: 30 }), fc.constantFrom('+', '#', '$'), fc.string({ maxLength: 30 }))
      .map(([a, w, b]) => (w === '$' ? `$${a}${b}` : `${a}${w}${b}`));
    fc.assert(
      fc.property(filter, (f) => {
        expect(deviceMaySubscribe(FLEET, DEVICE, f, options)).toBe(false);
        expect(deviceMayPublish(FLEET, DEVICE, f, { ...options, allowBroadcastPublish: true })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('deviceMayPublish', () => {
  it.each(['fleetkey/v1/acme/devices/robot-1/up/acks', 'fleetkey/v1/acme/devices/robot-1/up/status'])('allows %s', (topic) => {
    expect(deviceMayPublish(FLEET, DEVICE, topic, options)).toBe(true);
  });

  it.each([
    ['another device acks', 'fleetkey/v1/acme/devices/robot-2/up/acks'],
    ['another fleet, same device id', 'fleetkey/v1/other/devices/robot-1/up/acks'],
    ['emergency', 'fleetkey/v1/acme/emergency'],
    ['revocations', 'fleetkey/v1/acme/revocations'],
    ['own keys', 'fleetkey/v1/acme/devices/robot-1/keys'],
    ['own commands', 'fleetkey/v1/acme/devices/robot-1/commands'],
    ['fleet broadcast by default', 'fleetkey/v1/acme/broadcast'],
    ['group broadcast by default', 'fleetkey/v1/acme/groups/lab/broadcast'],
    ['wildcard', 'fleetkey/v1/acme/devices/robot-1/up/+'],
    ['not fleetkey', 'robots/robot-1/up'],
  ])('refuses %s', (_name, topic) => {
    expect(deviceMayPublish(FLEET, DEVICE, topic, options)).toBe(false);
  });

  it('allows broadcast publishing only when enabled, and only to its own fleet and group', () => {
    const pubsub = { group: GROUP, allowBroadcastPublish: true };
    expect(deviceMayPublish(FLEET, DEVICE, 'fleetkey/v1/acme/broadcast', pubsub)).toBe(true);
    expect(deviceMayPublish(FLEET, DEVICE, 'fleetkey/v1/acme/groups/lab/broadcast', pubsub)).toBe(true);
    expect(deviceMayPublish(FLEET, DEVICE, 'fleetkey/v1/acme/groups/ops/broadcast', pubsub)).toBe(false);
    expect(deviceMayPublish(FLEET, DEVICE, 'fleetkey/v1/other/broadcast', pubsub)).toBe(false);
    expect(deviceMayPublish(FLEET, DEVICE, 'fleetkey/v1/acme/emergency', pubsub)).toBe(false);
    expect(deviceMayPublish(FLEET, DEVICE, 'fleetkey/v1/acme/groups/lab/broadcast', { allowBroadcastPublish: true })).toBe(false);
  });

  it('never allows a topic naming another device (property)', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);
    fc.assert(
      fc.property(id, id, fc.constantFrom('up/acks', 'up/status', 'keys', 'commands'), (me, other, tail) => {
        fc.pre(me !== other);
        const topic = `fleetkey/v1/acme/devices/${other}/${tail}`;
        expect(deviceMayPublish(FLEET, me, topic, options)).toBe(false);
        expect(deviceMaySubscribe(FLEET, me, topic, options)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
