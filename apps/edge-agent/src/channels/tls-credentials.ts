/**
 * The TLS material of the peer channels, made from the agent core: the device certificate and
 * identity key as this agent's credentials, the fleet CA chain as the only trust anchor (`ca`
 * replaces Node's public roots), TLS 1.3 only, both directions.
 *
 * Trust boundary: the identity key. Node's TLS takes a private key only as PEM, so the PKCS#8 DER
 * export is base64-encoded straight into a Buffer (no JS string copy of the key ever exists),
 * handed to OpenSSL, and both buffers are zeroized as soon as the contexts are built.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { AgentCore } from '../runtime/agent-core.js';

/** TLS 1.3 only (RFC 8446): no renegotiation, encrypted certificates, forward secrecy always. */
export const PEER_TLS_VERSION = 'TLSv1.3' as const;

export interface PeerTlsCredentials {
  /** For `tls.createServer` / `server.setSecureContext` (key, cert, ca, versions). */
  readonly server: SecureContextOptions;
  /** For `tls.connect({ secureContext })`. */
  readonly client: SecureContext;
  /** Zeroizes the key PEM the server options hold; call once the server context is built. */
  wipe(): void;
}

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'ascii');
const PEM_LINE = 64;

/** RFC 7468 PEM of `der`, written byte by byte into one Buffer the caller owns (and may zeroize). */
export function pemBytes(der: Uint8Array, label: string): Buffer {
  const head = Buffer.from(`-----BEGIN ${label}-----\n`, 'ascii');
  const foot = Buffer.from(`-----END ${label}-----\n`, 'ascii');
  const encodedLength = 4 * Math.ceil(der.length / 3);
  const lines = Math.ceil(encodedLength / PEM_LINE);
  const out = Buffer.alloc(head.length + encodedLength + lines + foot.length);
  let at = head.copy(out, 0);
  let column = 0;
  const put = (byte: number): void => {
    out[at++] = byte;
    column += 1;
    if (column === PEM_LINE) {
      out[at++] = 0x0a;
      column = 0;
    }
  };
  for (let i = 0; i < der.length; i += 3) {
    const a = der[i]!;
    const b = i + 1 < der.length ? der[i + 1]! : 0;
    const c = i + 2 < der.length ? der[i + 2]! : 0;
    put(BASE64[a >> 2]!);
    put(BASE64[((a & 0x03) << 4) | (b >> 4)]!);
    put(i + 1 < der.length ? BASE64[((b & 0x0f) << 2) | (c >> 6)]! : 0x3d);
    put(i + 2 < der.length ? BASE64[c & 0x3f]! : 0x3d);
  }
  if (column !== 0) out[at++] = 0x0a;
  foot.copy(out, at);
  return out;
}

/** The agent's peer TLS credentials as they are now (rebuild after a certificate renewal). */
export function peerTlsCredentials(core: AgentCore): PeerTlsCredentials {
  const keyDer = core.privateKey().export({ type: 'pkcs8', format: 'der' });
  let key: Buffer | undefined;
  try {
    key = pemBytes(keyDer, 'PRIVATE KEY');
    const cert = pemBytes(core.certificate(), 'CERTIFICATE');
    const ca = core.fleetCaChain().map((der) => pemBytes(der, 'CERTIFICATE'));
    const server: SecureContextOptions = { key, cert, ca, minVersion: PEER_TLS_VERSION, maxVersion: PEER_TLS_VERSION };
    const client = createSecureContext(server);
    const owned = key;
    key = undefined;
    return { server, client, wipe: () => owned.fill(0) };
  } finally {
    keyDer.fill(0);
    key?.fill(0);
  }
}
