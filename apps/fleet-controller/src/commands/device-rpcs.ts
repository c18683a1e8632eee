/**
 * The DeviceService rpcs of this power: StreamCommands (./command-stream.ts), Ack and ReportStatus.
 *
 * The caller is the device its client certificate names (requireDevice: UNAUTHENTICATED for anyone
 * else, PERMISSION_DENIED for a revoked device). Precondition (with a test of the same name): an
 * Ack or status report naming another device than the certificate is PERMISSION_DENIED and
 * changes nothing.
 *
 * Trust boundary: mutual TLS. Request bodies are robot input, decoded by the gRPC adapter with the
 * codec's bounds; identity comes from the certificate only.
 */
import { InvalidArgument, PermissionDenied } from '@fleetkey/key-types';
import type { DeviceService, ServiceHandlers } from '@fleetkey/protocol';
import { requireDevice } from '../provisioning/device-service.js';
import type { AuthenticatedDevice } from '../provisioning/device-auth.js';
import { applyDeviceAck } from './acks.js';
import { streamCommandsHandler, type CommandStreams } from './command-stream.js';
import type { CommandIssuerDeps } from './issue-command.js';

function requireSameDevice(device: AuthenticatedDevice, body: { readonly fleet: string; readonly deviceId: string }, what: string): void {
  // Precondition: a body naming another fleet or device than the certificate is refused.
  if (body.fleet !== device.fleetId || body.deviceId !== device.deviceId) {
    throw new PermissionDenied(`the ${what} names another device than the client certificate`);
  }
}

export function commandDeviceRpcs(deps: CommandIssuerDeps, streams: CommandStreams): Pick<ServiceHandlers<typeof DeviceService>, 'streamCommands' | 'ack' | 'reportStatus'> {
  const { core } = deps;
  return {
    streamCommands: streamCommandsHandler(deps, streams),

    async ack(request, context) {
      const device = await requireDevice(core, context);
      if (request.ack === undefined) throw new InvalidArgument('"ack" is required');
      requireSameDevice(device, request.ack, 'acknowledgement');
      await applyDeviceAck(core, device.device, request.ack, 'grpc');
      return {};
    },

    async reportStatus(request, context) {
      const device = await requireDevice(core, context);
      if (request.report === undefined) throw new InvalidArgument('"report" is required');
      requireSameDevice(device, request.report, 'status report');
      await core.repository.touchDevice(device.fleetId, device.deviceId);
      return {};
    },
  };
}
