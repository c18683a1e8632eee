/**
 * `host:port` addresses of peer agents (ChannelOpen.address, the peer directory, the listen
 * option): an IPv4 or IPv6 literal (`[::1]:7443`) or a DNS name, and a decimal port.
 *
 * Trust boundary: ChannelOpen.address comes from a local application; the directory and the listen
 * address from the agent's configuration. Parsing is strict and bounded; nothing is resolved here.
 * The address decides only where to dial: who answers is decided by its certificate.
 */
import { isIP } from 'node:net';

/** ChannelOpen.address's bound (agent.proto). */
export const MAX_ADDRESS_BYTES = 255;

// RFC 1123 §2.1 host names: labels of letters, digits and inner hyphens, at most 63 each, 253 in all.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PORT = /^[0-9]{1,5}$/;

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port`; `undefined` when it is not one (callers choose the error). Port 0 is
 * accepted only with `allowPortZero` (a listen address).
 */
export function parsePeerAddress(text: string, options: { allowPortZero?: boolean } = {}): PeerAddress | undefined {
  if (typeof text !== 'string' || text.length === 0 || Buffer.byteLength(text) > MAX_ADDRESS_BYTES) return undefined;
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    // An unbracketed IPv6 literal is ambiguous (`::1:80`): refused.
    if (host.includes(':')) return undefined;
    if (isIP(host) !== 4 && !HOST_NAME.test(host)) return undefined;
  }
  if (!PORT.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65_535 || (port === 0 && options.allowPortZero !== true)) return undefined;
  return { host, port };
}

export function formatPeerAddress(address: PeerAddress): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
