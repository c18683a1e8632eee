/**
 * `npm start -w @fleetkey/example-factory-provisioning`: runs the factory provisioning scenario
 * in a fresh temporary directory and prints one line per step. Ctrl-C stops every process and
 * removes the directory; a second Ctrl-C leaves at once.
 */
import { scenarioMain } from '@fleetkey/fleet-harness';
import { BATCH_SIZE, ROBOTS, SERIAL_PATTERN, runFactoryProvisioning } from './factory-provisioning.js';

await scenarioMain(
  `fleetkey factory provisioning: a controller, a factory station with ${BATCH_SIZE} tokens bound to ${SERIAL_PATTERN}, ${ROBOTS.length} robots provisioned in parallel.`,
  runFactoryProvisioning,
);
