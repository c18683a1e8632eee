/**
 * Who a device is, from the certificate it presented (gRPC mTLS and MQTT over TLS alike): the
 * fleet and device id named in its SAN URI, accepted only when the certificate chains to THAT
 * fleet's CA, is within its validity, is the device's current certificate (a renewed-away one is
 * refused) and the device is not revoked.
 *
 * Trust boundary: the certificate is attacker input until validateDeviceCertificate accepts it;
 * the fleet it names only selects which CA to check against.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { parseFleetkeyUri, validateDeviceCertificate } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import type { ControllerCore } from '../core/core.js';
import type { Device } from '../store/index.js';

export const MAX_PEER_CERTIFICATE_BYTES = 16 * 1024;

export interface AuthenticatedDevice {
  readonly fleetId: string;
  readonly deviceId: string;
  readonly device: Device;
  readonly publicKey: KeyObject;
}

function claimedIdentity(der: Uint8Array): { fleet: string; deviceId: string } | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    return undefined;
  }
  const uris = (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  if (uris.length !== 1) return undefined;
  return parseFleetkeyUri(uris[0]!);
}

/** The device, or undefined for any certificate that does not authenticate an active one (never throws for bad input). */
export async function authenticateDevice(core: ControllerCore, certificateDer: Uint8Array | undefined): Promise<AuthenticatedDevice | undefined> {
  const outcome = await identifyDevice(core, certificateDer);
  return outcome === undefined || outcome.device.status !== 'active' ? undefined : outcome;
}

/**
 * The device a valid current certificate names, whatever the device's status (the caller refuses
 * a revoked one with its own error), or undefined when the certificate authenticates nobody.
 */
export async function identifyDevice(core: ControllerCore, certificateDer: Uint8Array | undefined): Promise<AuthenticatedDevice | undefined> {
  if (certificateDer === undefined || certificateDer.length === 0 || certificateDer.length > MAX_PEER_CERTIFICATE_BYTES) return undefined;
  const claimed = claimedIdentity(certificateDer);
  if (claimed === undefined) return undefined;
  let keys;
  try {
    keys = await core.fleetKeys(claimed.fleet);
  } catch (error) {
    if (isFleetkeyError(error)) return undefined;
    throw error;
  }
  const device = await core.repository.getDevice(claimed.fleet, claimed.deviceId);
  if (device === undefined) return undefined;
  try {
    const validated = validateDeviceCertificate({
      certificate: certificateDer,
      caCertificates: [keys.caCertificateDer],
      at: new Date(core.clock()),
      expectedFleet: claimed.fleet,
      isRevoked: (serial) => serial !== device.certificateSerial,
    });
    if (validated.deviceId !== claimed.deviceId) return undefined;
    return { fleetId: validated.fleet, deviceId: validated.deviceId, device, publicKey: validated.publicKey };
  } catch (error) {
    if (isFleetkeyError(error)) return undefined;
    throw error;
  }
}
