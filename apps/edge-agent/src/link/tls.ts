/**
 * The TLS context the link presents to the controller (gRPC) and the broker (MQTT): the device
 * certificate and identity key as client credentials, the controller's server CA certificates as
 * the only trust anchors. Built once per certificate (again after a renewal) and shared by both
 * connections, so the identity key is turned into PEM once and the buffer zeroized at once.
 *
 * Trust boundary: the identity private key passes through here. node:tls takes private keys only
 * as PEM, which means one base64 string the runtime owns until it is collected; the Buffer copy
 * handed to OpenSSL is zeroized as soon as the context holds the key.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { AgentCore } from '../runtime/agent-core.js';

/** DER -> PEM with the given label. */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/**
 * The client TLS context of this robot (TLS 1.2 at least; the peers verify the chain and the
 * server's name as node:tls does by default).
 * @throws whatever node:tls throws for unusable key material.
 */
export function deviceSecureContext(core: AgentCore): SecureContext {
  const key = Buffer.from(core.privateKey().export({ type: 'pkcs8', format: 'pem' }));
  try {
    return createSecureContext({
      key,
      cert: derToPem(core.certificate()),
      ca: core.state.serverCaCertificates().map((der) => derToPem(der)),
      minVersion: 'TLSv1.2',
    });
  } finally {
    key.fill(0);
  }
}
