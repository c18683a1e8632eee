/**
 * `npm start -w @fleetkey/example-disaster-recovery`: runs the disaster-recovery scenario in a
 * fresh temporary directory and prints one line per step. Ctrl-C stops every process and removes
 * the directory.
 */
import { scenarioMain } from '@fleetkey/fleet-harness';
import { runDisasterRecovery } from './disaster-recovery.js';

await scenarioMain('fleetkey disaster recovery: a backup made and verified, the controller lost, restored into a new directory, and its robot back in contact.', runDisasterRecovery);
