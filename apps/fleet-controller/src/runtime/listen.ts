/**
 * Listen addresses of the controller (`--listen`, `--mqtt-listen`, `--http-listen`): the strict
 * `HOST:PORT` / `[IPv6]:PORT` parser, the inverse formatter, and the one `ready` line the
 * controller prints on stdout once every listener is bound.
 *
 * Trust boundary: the text comes from the command line, a config file or the environment
 * (operator input, so checked strictly and reported in one clear line); the ready line is read by
 * scripts and supervisors, so its shape is fixed.
 */
import { isIP } from 'node:net';
import { InvalidArgument } from '@fleetkey/key-types';

export interface ListenAddress {
  /** An IPv4 or IPv6 literal (without brackets) or a DNS host name. */
  readonly host: string;
  /** 0..65535; 0 asks the operating system for a free port. */
  readonly port: number;
}

/** Longest listen address accepted: a 253-character DNS name, brackets, colon and port, with room. */
export const MAX_LISTEN_ADDRESS_LENGTH = 300;
/** RFC 1035 §2.3.4: a name is at most 253 characters, each label 1..63 LDH characters (RFC 1123 §2.1). */
const MAX_HOST_NAME_LENGTH = 253;
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** Decimal, no sign, no leading zero (a leading zero reads as octal to some tools). */
const PORT_PATTERN = /^(?:0|[1-9][0-9]{0,4})$/;
const MAX_PORT = 65_535;

function refuse(text: string, why: string): never {
  // Addresses are not secrets, so the input is echoed (bounded) to make the mistake obvious.
  throw new InvalidArgument(`invalid listen address ${JSON.stringify(text.slice(0, 80))}: ${why}`);
}

function isHostName(host: string): boolean {
  const labels = host.split('.');
  // RFC 3696 §2: the last label is never all digits, so `999.1.1.1` is a bad address, not a name.
  return host.length <= MAX_HOST_NAME_LENGTH && labels.every((label) => DNS_LABEL.test(label)) && !/^[0-9]+$/.test(labels.at(-1)!);
}

/**
 * Parses `HOST:PORT` (IPv4 literal or DNS name) or `[IPv6]:PORT`.
 * @throws InvalidArgument naming what is wrong: missing port, port out of 0..65535, an IPv6
 *   literal without brackets, an empty or malformed host, or input longer than
 *   MAX_LISTEN_ADDRESS_LENGTH.
 */
export function parseListenAddress(text: string): ListenAddress {
  if (typeof text !== 'string') throw new InvalidArgument('invalid listen address: expected HOST:PORT text');
  if (text.length === 0 || text.length > MAX_LISTEN_ADDRESS_LENGTH) {
    refuse(text, `expected HOST:PORT or [IPv6]:PORT of 1..${MAX_LISTEN_ADDRESS_LENGTH} characters`);
  }
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) refuse(text, 'missing "]" after the IPv6 address');
    host = text.slice(1, close);
    if (text[close + 1] !== ':') refuse(text, 'expected ":PORT" after "]"');
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) refuse(text, 'expected an IPv6 address inside [ ]');
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) refuse(text, 'missing ":PORT"');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) refuse(text, 'an IPv6 address must be written in brackets, e.g. [::1]:8443');
    if (host.length === 0) refuse(text, 'missing host (use 0.0.0.0 or [::] to listen on every interface)');
    if (isIP(host) !== 4 && !isHostName(host)) refuse(text, 'expected an IPv4 address or a DNS host name');
  }
  if (!PORT_PATTERN.test(portText) || Number(portText) > MAX_PORT) refuse(text, `expected a port of 0..${MAX_PORT}`);
  return Object.freeze({ host, port: Number(portText) });
}

/**
 * `HOST:PORT`, with an IPv6 host in brackets (RFC 3986 §3.2.2), the form parseListenAddress reads.
 * @throws RangeError when `port` is not an integer in 0..65535; TypeError for a non-string host.
 */
export function formatAddress(host: string, port: number): string {
  if (typeof host !== 'string' || host.length === 0) throw new TypeError('"host" expected a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) throw new RangeError(`"port" expected an integer in 0..${MAX_PORT}, got ${port}`);
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface BoundAddresses {
  readonly grpc: string;
  readonly mqtt: string;
  readonly http: string;
}

/**
 * The stdout line that says the controller is up, exactly
 * `{"event":"ready","grpc":"H:P","mqtt":"H:P","http":"H:P"}` (no newline; key order fixed, since
 * scripts match on it). @throws TypeError when an address is not a non-empty string.
 */
export function readyLine(addresses: BoundAddresses): string {
  for (const name of ['grpc', 'mqtt', 'http'] as const) {
    const value: unknown = addresses?.[name];
    if (typeof value !== 'string' || value.length === 0) throw new TypeError(`"addresses.${name}" expected a non-empty string`);
  }
  return JSON.stringify({ event: 'ready', grpc: addresses.grpc, mqtt: addresses.mqtt, http: addresses.http });
}
