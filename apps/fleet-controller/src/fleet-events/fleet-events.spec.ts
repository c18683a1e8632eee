import { describe, expect, it } from 'vitest';
import type { IssuedCommand } from '../store/index.js';
import { FleetEvents, type EmbeddedBrokerIsAPublisher } from './fleet-events.js';

const command = { fleetId: 'acme', sequence: 4 } as IssuedCommand;

describe('FleetEvents', () => {
  it('delivers to every listener, isolates one that throws, and stops delivering after removal', () => {
    const errors: unknown[] = [];
    const events = new FleetEvents((error) => errors.push(error));
    const seen: number[] = [];
    const off = events.on('command', (c) => seen.push(c.sequence));
    events.on('command', () => {
      throw new Error('a broken stream');
    });
    events.on('command', (c) => seen.push(c.sequence * 10));
    events.emit('command', command);
    expect(seen).toEqual([4, 40]);
    expect(errors).toHaveLength(1);
    off();
    events.emit('command', command);
    expect(seen).toEqual([4, 40, 40]);
    expect(events.listenerCount('command')).toBe(2);
    const proof: EmbeddedBrokerIsAPublisher = true;
    expect(proof).toBe(true);
  });
});
