/**
 * The gRPC server's TLS credentials: one port for operators and stations (server-authenticated
 * TLS) and for robots (mutual TLS). The server therefore ASKS for a client certificate but does
 * not require one; DeviceService authenticates the certificate itself against the fleet CA it
 * names, its revocation and the device record (../provisioning/device-auth.ts). The trusted CA
 * list (every fleet CA) is pushed through a certificate provider, so a fleet created while the
 * controller runs is trusted at once.
 *
 * Trust boundary: the private key PEM is handed to grpc-js's TLS context and nowhere else.
 */
import { experimental, type ServerCredentials } from '@grpc/grpc-js';

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

/** An in-memory certificate provider: the current CA bundle and server identity, replaceable. */
export class InMemoryCertificateProvider implements experimental.CertificateProvider {
  #ca: Buffer;
  #identity: { certificate: Buffer; privateKey: Buffer };
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(caBundlePem: Buffer, certificateChainPem: Buffer, privateKeyPem: Buffer) {
    this.#ca = caBundlePem;
    this.#identity = { certificate: certificateChainPem, privateKey: privateKeyPem };
  }

  setCaBundle(caBundlePem: Buffer): void {
    this.#ca = caBundlePem;
    for (const listener of this.#caListeners) listener({ caCertificate: caBundlePem });
  }

  // Listeners hear the current value on the next microtask, not synchronously: grpc-js registers
  // its own watcher only after adding these listeners, and would miss a synchronous first value
  // (the server would then drop every connection as "credentials not loaded").
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    queueMicrotask(() => {
      if (this.#caListeners.has(listener)) listener({ caCertificate: this.#ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.#identityListeners.has(listener)) listener(this.#identity);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/** TLS server credentials that request (not require) a client certificate. */
export function serverCredentialsOf(provider: InMemoryCertificateProvider): ServerCredentials {
  // grpc-js passes its first argument on as the identity provider and the second as the CA
  // provider (whatever its parameter names say); one object serves both here.
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
