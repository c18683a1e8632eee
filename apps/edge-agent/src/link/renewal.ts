/**
 * Device certificate renewal over mutual TLS (DESIGN.md flow 1, "Renewal of a device certificate
 * goes over mTLS"): once the trusted time passes notAfter - renewBefore (default: the last third of
 * the certificate's lifetime), the robot sends a CSR signed by its CURRENT identity key to
 * DeviceService.RenewCertificate and keeps the answer only when it
 *   - chains to the fleet CA this robot already trusts (never to a chain the answer brings along),
 *   - is valid now, of this fleet, names this device, is not revoked,
 *   - holds this robot's own public key,
 *   - lasts longer than the certificate it replaces.
 * The identity key does not change (agent-state.ts: replacing it in place is not crash-safe yet).
 *
 * Trust boundary: the answer comes from the controller over mutual TLS, and is still checked as
 * above before it replaces anything; the fleet CA chain is never taken from it.
 */
import { createPublicKey } from 'node:crypto';
import { createCsr, createLocalSigner, summarizeCertificate, validateDeviceCertificate } from '@fleetkey/crypto';
import { PeerRefused } from '@fleetkey/key-types';
import type { DeviceService, ServiceClient } from '@fleetkey/protocol';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';

/** Whether the certificate is due for renewal at the trusted time. */
export function renewalDue(core: AgentCore, renewBeforeMs: number | undefined): boolean {
  const { notBefore, notAfter } = summarizeCertificate(core.certificate());
  const before = renewBeforeMs ?? Math.floor((notAfter.getTime() - notBefore.getTime()) / 3);
  return core.now().getTime() >= notAfter.getTime() - before;
}

/**
 * Renews the device certificate (see the module comment) and stores it (core 'certificate' event).
 * @throws RpcError from the call; PeerRefused | CertificateInvalid | CertificateRevoked when the
 *   answer is not acceptable (nothing is stored then).
 */
export async function renewCertificate(core: AgentCore, client: ServiceClient<typeof DeviceService>, logger: AgentLogger): Promise<void> {
  const { fleet, deviceId } = core.identity;
  const signer = createLocalSigner(core.privateKey(), { algorithm: core.signatureAlgorithm() });
  const csr = await createCsr({ signer, fleet, deviceId });
  const answer = await client.renewCertificate({ csr: csr.der });
  const caChain = [...core.fleetCaChain()];
  const device = validateDeviceCertificate({
    certificate: answer.certificate,
    caCertificates: caChain,
    at: core.now(),
    isRevoked: (serial) => core.isRevoked(deviceId, serial),
    expectedFleet: fleet,
  });
  // Precondition: the renewed certificate names this device and holds this robot's key.
  if (device.deviceId !== deviceId) throw new PeerRefused('the renewed certificate names another device');
  if (!device.publicKey.equals(createPublicKey(core.privateKey()))) throw new PeerRefused('the renewed certificate holds another public key');
  const previous = core.certificateNotAfter();
  if (device.notAfter.getTime() <= previous.getTime()) throw new PeerRefused('the renewed certificate does not outlast the current one');
  core.replaceCertificate(answer.certificate, caChain);
  logger.info({ serialNumber: device.serialNumber, notAfter: device.notAfter.toISOString(), previousNotAfter: previous.toISOString() }, 'device certificate renewed');
}
