/**
 * ListDevices and GetDevice: the devices of one fleet in the caller's scope, each with its current
 * certificate (DER) so an operator can check it against the fleet CA.
 *
 * Trust boundary: runs behind ./guard.ts; the fleet named in the request has passed the scope
 * check before any read, so a caller learns nothing about devices of other fleets (not even
 * whether they exist).
 */
import { RecordNotFound } from '../store/index.js';
import type { OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { deviceStatusFilterFromProto, deviceToProto } from './mapping.js';
import { takePage } from './paging.js';
import type { RpcHandlers } from './policy.js';
import { optionalIdentifier, requiredIdentifier, requireFleetExists } from './requests.js';

export function deviceRpcs(deps: OperatorServiceDeps, guard: Guard): RpcHandlers<'listDevices' | 'getDevice'> {
  const { repository } = deps;
  const fleetOf = (request: { fleet: string }) => () => requiredIdentifier('fleet', 'fleet', request.fleet);

  return {
    listDevices: (request, context) =>
      guard.run('listDevices', context, fleetOf(request), async () => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const groupId = optionalIdentifier('group', request.group);
        const status = deviceStatusFilterFromProto(request.state);
        await requireFleetExists(repository, fleetId);
        const devices = await repository.listDevices(
          { fleetId },
          { ...(groupId === undefined ? {} : { groupId }), ...(status === undefined ? {} : { status }) },
        );
        const page = takePage(devices, request, 'devices', ['string'], (device) => [device.deviceId]);
        return { devices: page.items.map(deviceToProto), nextPageToken: page.nextPageToken };
      }),

    getDevice: (request, context) =>
      guard.run('getDevice', context, fleetOf(request), async () => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const deviceId = requiredIdentifier('device_id', 'device', request.deviceId);
        const device = await repository.getDevice(fleetId, deviceId);
        if (device === undefined) throw new RecordNotFound(`device "${deviceId}" does not exist in fleet "${fleetId}"`);
        return { device: deviceToProto(device) };
      }),
  };
}
