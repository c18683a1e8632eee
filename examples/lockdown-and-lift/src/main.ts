/**
 * `npm start -w @fleetkey/example-lockdown-and-lift`: runs the lockdown-and-lift scenario in a
 * fresh temporary directory and prints one line per step. Ctrl-C stops every process and removes
 * the directory.
 */
import { scenarioMain } from '@fleetkey/fleet-harness';
import { runLockdownAndLift } from './lockdown-and-lift.js';

await scenarioMain('fleetkey emergency lockdown and lift: a controller, two operators and three robots in two groups; group and fleet lockdowns, and two-operator lifts.', runLockdownAndLift);
