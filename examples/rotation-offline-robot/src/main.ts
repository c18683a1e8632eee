/**
 * `npm start -w @fleetkey/example-rotation-offline-robot`: runs the rotation-with-an-offline-robot
 * scenario in a fresh temporary directory and prints one line per step. Ctrl-C stops every
 * process and removes the directory.
 */
import { scenarioMain } from '@fleetkey/fleet-harness';
import { runRotationOfflineRobot } from './rotation-offline-robot.js';

await scenarioMain('fleetkey key rotation with an offline robot: a controller and two agents; one is stopped, the key rotated, and it catches up when it comes back.', runRotationOfflineRobot);
