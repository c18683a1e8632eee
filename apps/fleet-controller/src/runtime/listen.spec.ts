import fc from 'fast-check';
import { isFleetkeyError } from '@fleetkey/key-types';
import { describe, expect, it } from 'vitest';
import { MAX_LISTEN_ADDRESS_LENGTH, formatAddress, parseListenAddress, readyLine } from './listen.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:8443', '127.0.0.1', 8443],
    ['0.0.0.0:0', '0.0.0.0', 0],
    ['localhost:65535', 'localhost', 65535],
    ['controller.fleet-1.example.com:1883', 'controller.fleet-1.example.com', 1883],
    ['[::1]:9090', '::1', 9090],
    ['[::]:0', '::', 0],
    ['[2001:db8::42]:443', '2001:db8::42', 443],
  ])('reads %s', (text, host, port) => {
    expect(parseListenAddress(text)).toEqual({ host, port });
  });

  it.each([
    ['', 'empty'],
    ['127.0.0.1', 'no port'],
    ['127.0.0.1:', 'empty port'],
    [':8080', 'empty host'],
    ['127.0.0.1:65536', 'port too large'],
    ['127.0.0.1:-1', 'negative port'],
    ['127.0.0.1:+80', 'signed port'],
    ['127.0.0.1:080', 'leading zero'],
    ['127.0.0.1:80.0', 'fractional port'],
    ['127.0.0.1: 80', 'space in port'],
    ['127.0.0.1:0x50', 'hex port'],
    ['::1:8080', 'IPv6 without brackets'],
    ['[::1]8080', 'no colon after bracket'],
    ['[::1:8080', 'unclosed bracket'],
    ['[127.0.0.1]:80', 'IPv4 in brackets'],
    ['[localhost]:80', 'name in brackets'],
    ['host name:80', 'space in host'],
    ['-bad.example:80', 'label starting with a hyphen'],
    ['a..b:80', 'empty label'],
    ['exa_mple.com:80', 'underscore in host'],
    ['999.1.1.1:80', 'not an IPv4 address nor a name'],
    [`${'a'.repeat(64)}.com:80`, 'label longer than 63'],
    [`${'a.'.repeat(150)}com:80`, 'longer than the bound'],
  ])('refuses %j (%s) with InvalidArgument', (text) => {
    let caught: unknown;
    try {
      parseListenAddress(text);
    } catch (error) {
      caught = error;
    }
    expect(isFleetkeyError(caught, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('refuses non-string input with InvalidArgument', () => {
    expect(() => parseListenAddress(8080 as unknown as string)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('echoes at most a bounded prefix of the input in its message', () => {
    const text = `${'x'.repeat(MAX_LISTEN_ADDRESS_LENGTH)}:1`;
    expect(() => parseListenAddress(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    try {
      parseListenAddress(text);
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(200);
    }
  });

  it('round-trips every IPv4 and IPv6 address and port through formatAddress', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65_535 }), (host, port) => {
        // fast-check writes some IPv6 addresses with an embedded IPv4 tail; node accepts those too.
        expect(parseListenAddress(formatAddress(host, port))).toEqual({ host, port });
      }),
    );
  });

  it('never throws anything but InvalidArgument on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        try {
          const parsed = parseListenAddress(text);
          expect(parsed.port).toBeGreaterThanOrEqual(0);
          expect(parsed.port).toBeLessThanOrEqual(65_535);
        } catch (error) {
          expect(isFleetkeyError(error, 'INVALID_ARGUMENT')).toBe(true);
        }
      }),
    );
  });
});

describe('formatAddress', () => {
  it('brackets IPv6 hosts only', () => {
    expect(formatAddress('127.0.0.1', 1)).toBe('127.0.0.1:1');
    expect(formatAddress('::1', 2)).toBe('[::1]:2');
    expect(formatAddress('localhost', 0)).toBe('localhost:0');
  });

  it('refuses ports outside 0..65535 and empty hosts', () => {
    expect(() => formatAddress('h', 65_536)).toThrow(RangeError);
    expect(() => formatAddress('h', 1.5)).toThrow(RangeError);
    expect(() => formatAddress('', 1)).toThrow(TypeError);
  });
});

describe('readyLine', () => {
  it('is exactly the documented JSON with its keys in a fixed order', () => {
    expect(readyLine({ http: '127.0.0.1:3', mqtt: '[::1]:2', grpc: '0.0.0.0:1' })).toBe(
      '{"event":"ready","grpc":"0.0.0.0:1","mqtt":"[::1]:2","http":"127.0.0.1:3"}',
    );
  });

  it('refuses a missing address', () => {
    expect(() => readyLine({ grpc: 'a:1', mqtt: '', http: 'c:3' })).toThrow(TypeError);
    expect(() => readyLine({ grpc: 'a:1', mqtt: 'b:2' } as never)).toThrow(TypeError);
  });
});
