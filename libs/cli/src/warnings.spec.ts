import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dropIpServerNameWarning } from './warnings.js';

describe('dropIpServerNameWarning', () => {
  it('drops DEP0123 and nothing else, once per process', () => {
    const emitted: unknown[][] = [];
    const fake = Object.assign(new EventEmitter(), { emitWarning: (...args: unknown[]) => void emitted.push(args) }) as unknown as NodeJS.Process;
    dropIpServerNameWarning(fake);
    dropIpServerNameWarning(fake);
    fake.emitWarning('Setting the TLS ServerName to an IP address is not permitted', 'DeprecationWarning', 'DEP0123');
    fake.emitWarning('Setting the TLS ServerName to an IP address is not permitted', { type: 'DeprecationWarning', code: 'DEP0123' });
    fake.emitWarning('something else', 'DeprecationWarning', 'DEP0005');
    fake.emitWarning('plain');
    expect(emitted.map((args) => args[0])).toEqual(['something else', 'plain']);
  });
});
