/**
 * DeviceService (device.proto) for enrolled robots over mutual TLS. Every call first
 * authenticates the client certificate (./device-auth.ts); fleet and device id come from it,
 * never from the request. This issue provides GetKeyBundle and RenewCertificate; the command
 * stream, acknowledgements and status reports arrive with rotation and lockdown (issue 6).
 *
 * Trust boundary: requests and the peer certificate are untrusted; a certificate that
 * authenticates nobody gets one fixed UNAUTHENTICATED answer whatever the reason, and a revoked
 * device PERMISSION_DENIED (CERTIFICATE_REVOKED).
 */
import { create } from '@bufbuild/protobuf';
import { CertificateRevoked } from '@fleetkey/crypto';
import { NotImplemented, Unauthenticated, isFleetkeyError } from '@fleetkey/key-types';
import { RenewCertificateResponseSchema, type CallContext, type DeviceService, type ServiceHandlers } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import { loadRevocationList } from '../fleets/settings.js';
import { identifyDevice, type AuthenticatedDevice } from './device-auth.js';
import { issueFleetDeviceCertificate, keyBundleFor, verifyDeviceCsr } from './device-keys.js';

export interface DeviceServiceDeps {
  readonly core: ControllerCore;
  readonly deviceCertificateValidityMs?: number;
}

/**
 * The device behind a DeviceService call, from its client certificate.
 * @throws Unauthenticated when the certificate names no device; CertificateRevoked for a revoked one.
 */
export async function requireDevice(core: ControllerCore, context: CallContext): Promise<AuthenticatedDevice> {
  const raw = context.authContext.sslPeerCertificate?.raw;
  const device = await identifyDevice(core, raw === undefined ? undefined : new Uint8Array(raw));
  if (device === undefined) throw new Unauthenticated();
  // A revoked robot proved who it is; it is refused for what it is (device.proto: PERMISSION_DENIED).
  if (device.device.status !== 'active') throw new CertificateRevoked(device.device.certificateSerial);
  return device;
}

const LATER = 'arrives with fleet-wide rotation, revocation and lockdown (issue 6)';

export function createDeviceService(deps: DeviceServiceDeps): ServiceHandlers<typeof DeviceService> {
  const { core } = deps;
  return {
    async getKeyBundle(_request, context) {
      const device = await requireDevice(core, context);
      const keyBundle = await keyBundleFor(core, { fleetId: device.fleetId, groupId: device.device.groupId, deviceId: device.deviceId, publicKey: device.publicKey });
      const revocationList = await loadRevocationList(core.repository, device.fleetId);
      return { keyBundle, ...(revocationList === undefined ? {} : { revocationList }) };
    },

    async renewCertificate(request, context) {
      const device = await requireDevice(core, context);
      const actor = `device:${device.deviceId}`;
      try {
        const csr = verifyDeviceCsr(request.csr);
        const keys = await core.fleetKeys(device.fleetId);
        const certificate = await issueFleetDeviceCertificate(core, keys, { deviceId: device.deviceId, publicKey: csr.publicKey }, deps.deviceCertificateValidityMs);
        const keyChanged = !csr.publicKey.equals(device.publicKey);
        const keyBundle = keyChanged
          ? await keyBundleFor(core, { fleetId: device.fleetId, groupId: device.device.groupId, deviceId: device.deviceId, publicKey: csr.publicKey })
          : undefined;
        await core.repository.transaction(async (tx) => {
          await tx.updateDeviceCertificate(device.fleetId, device.deviceId, certificate.der, certificate.serialNumber);
          await tx.audit.append({
            actor,
            action: 'device.renew',
            fleetId: device.fleetId,
            deviceId: device.deviceId,
            keyRef: `fleet-ca:${keys.caKeyId}`,
            result: 'ok',
            details: { certificateSerial: certificate.serialNumber, previousSerial: device.device.certificateSerial, newIdentity: keyChanged },
          });
        });
        return create(RenewCertificateResponseSchema, {
          certificate: certificate.der,
          caChain: [keys.caCertificateDer],
          ...(keyBundle === undefined ? {} : { keyBundle }),
        });
      } catch (error) {
        await core.repository.audit
          .append({ actor, action: 'device.renew', fleetId: device.fleetId, deviceId: device.deviceId, result: isFleetkeyError(error) ? 'denied' : 'error', errorCode: isFleetkeyError(error) ? error.code : null })
          .catch(() => undefined);
        throw error;
      }
    },

    // eslint-disable-next-line require-yield -- refuses before streaming anything
    async *streamCommands(_request, context) {
      await requireDevice(core, context);
      throw new NotImplemented(`StreamCommands ${LATER}`);
    },

    async ack(_request, context) {
      await requireDevice(core, context);
      throw new NotImplemented(`Ack ${LATER}`);
    },

    async reportStatus(_request, context) {
      await requireDevice(core, context);
      throw new NotImplemented(`ReportStatus ${LATER}`);
    },
  };
}
