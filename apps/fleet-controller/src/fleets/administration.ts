/**
 * The fleet lifecycle port of the operator API (../operator/deps.ts) over the KMS-backed
 * implementation: creating a fleet makes its keys (./create-fleet.ts) and then tells the
 * transports to trust the new fleet CA (`onFleetCreated`).
 */
import { InvalidArgument } from '@fleetkey/key-types';
import type { ControllerCore } from '../core/core.js';
import type { CreateFleetParams, FleetAdministration, FleetDescription } from '../operator/deps.js';
import { isFleetkeyError } from '@fleetkey/key-types';
import { createFleetWithKeys } from './create-fleet.js';

export function createFleetAdministration(core: ControllerCore, onFleetCreated: (fleetId: string) => Promise<void> | void): FleetAdministration {
  return {
    async createFleet(params: CreateFleetParams, actor: string) {
      // One provider per controller for now: a fleet in another KMS needs a second provider stack.
      if (params.kmsProvider !== undefined && params.kmsProvider !== '' && params.kmsProvider !== core.kms.name) {
        throw new InvalidArgument(`this controller keeps fleet keys in the ${core.kms.name} KMS; a fleet in ${params.kmsProvider} needs a controller configured for it`);
      }
      const fleet = await createFleetWithKeys(
        core,
        {
          fleetId: params.fleetId,
          displayName: params.displayName,
          ...(params.caAlgorithm === undefined ? {} : { caAlgorithm: params.caAlgorithm }),
          ...(params.emergencyAlgorithm === undefined ? {} : { emergencyAlgorithm: params.emergencyAlgorithm }),
        },
        actor,
      );
      await onFleetCreated(fleet.id);
      return fleet;
    },

    async describeFleet(fleetId: string): Promise<FleetDescription | undefined> {
      let keys;
      try {
        keys = await core.fleetKeys(fleetId);
      } catch (error) {
        if (isFleetkeyError(error, 'RECORD_NOT_FOUND')) return undefined;
        throw error;
      }
      const active = await core.repository.listEpochs(fleetId, { groupId: null, states: ['active'] });
      return {
        kmsProvider: keys.kmsProvider,
        caAlgorithm: keys.caAlgorithm,
        emergencyAlgorithm: keys.emergencyAlgorithm,
        activeEpochVersion: active.length === 0 ? null : active[active.length - 1]!.version,
      };
    },
  };
}
