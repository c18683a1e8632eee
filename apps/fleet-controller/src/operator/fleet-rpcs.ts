/**
 * CreateFleet and ListFleets. Creating a fleet is controller-wide (admin with the all-fleets
 * scope) and delegated to FleetAdministration, which owns the KMS keys and the fleet's audit
 * record; listing shows only the fleets in the caller's scope.
 *
 * Trust boundary: runs behind ./guard.ts; request fields are validated here before use.
 */
import { InvalidArgument, isAsymmetric, type KeyAlgorithm } from '@fleetkey/key-types';
import { KeyAlgorithm as PbKeyAlgorithm, keyAlgorithmFromProto } from '@fleetkey/protocol';
import type { Fleet } from '../store/index.js';
import { authorizeAllFleets, visibleFleets } from './auth.js';
import type { CreateFleetParams, OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { fleetToProto } from './mapping.js';
import { takePage } from './paging.js';
import type { RpcHandlers } from './policy.js';
import { requiredIdentifier } from './requests.js';

/** UNSPECIFIED: the default (undefined). @throws InvalidArgument for a symmetric algorithm; MessageMalformed for an unknown value. */
function signingAlgorithm(field: string, value: PbKeyAlgorithm): KeyAlgorithm | undefined {
  if (value === PbKeyAlgorithm.UNSPECIFIED) return undefined;
  const algorithm = keyAlgorithmFromProto(value);
  if (!isAsymmetric(algorithm)) throw new InvalidArgument(`"${field}" expected a signature algorithm`);
  return algorithm;
}

/** Enrolled, non-revoked devices of a fleet. */
async function activeDeviceCount(deps: OperatorServiceDeps, fleetId: string): Promise<number> {
  return (await deps.repository.listDevices({ fleetId }, { status: 'active' })).length;
}

export function fleetRpcs(deps: OperatorServiceDeps, guard: Guard): RpcHandlers<'createFleet' | 'listFleets'> {
  const describe = async (fleet: Fleet) => fleetToProto(fleet, await deps.fleets.describeFleet(fleet.id), await activeDeviceCount(deps, fleet.id));

  return {
    createFleet: (request, context) =>
      guard.run(
        'createFleet',
        context,
        () => requiredIdentifier('fleet', 'fleet', request.fleet),
        async (caller) => {
          authorizeAllFleets(caller, 'CreateFleet');
          const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
          // The codec already holds kms_provider to the identifier grammar; FleetAdministration knows the providers.
          const kmsProvider = request.kmsProvider === '' ? undefined : request.kmsProvider;
          const caAlgorithm = signingAlgorithm('ca_algorithm', request.caAlgorithm);
          const emergencyAlgorithm = signingAlgorithm('emergency_algorithm', request.emergencyAlgorithm);
          const params: CreateFleetParams = {
            fleetId,
            displayName: request.displayName === '' ? fleetId : request.displayName,
            ...(kmsProvider === undefined ? {} : { kmsProvider }),
            ...(caAlgorithm === undefined ? {} : { caAlgorithm }),
            ...(emergencyAlgorithm === undefined ? {} : { emergencyAlgorithm }),
          };
          const fleet = await deps.fleets.createFleet(params, caller.id);
          return { fleet: await describe(fleet) };
        },
      ),

    listFleets: (request, context) =>
      guard.run(
        'listFleets',
        context,
        () => undefined,
        async (caller) => {
          const visible = visibleFleets(caller);
          const fleets = (await deps.repository.listFleets()).filter((fleet) => visible === 'all' || visible.has(fleet.id));
          const page = takePage(fleets, request, 'fleets', ['string'], (fleet) => [fleet.id]);
          const described = [];
          for (const fleet of page.items) described.push(await describe(fleet));
          return { fleets: described, nextPageToken: page.nextPageToken };
        },
      ),
  };
}
