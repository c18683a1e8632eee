/**
 * `npm start -w @fleetkey/example-robot-app-ts`: starts a controller and one agent in a fresh
 * temporary directory, runs the TypeScript robot app (src/robot-app.ts) against the agent, and
 * prints one line per step. Ctrl-C stops every process and removes the directory.
 */
import { scenarioMain } from '@fleetkey/fleet-harness';
import { runRobotAppScenario } from './scenario.js';

await scenarioMain('fleetkey robot app in TypeScript: a controller, one agent with app tokens, and the app calling its local API over the Unix socket.', runRobotAppScenario);
