/**
 * @fleetkey/fleet-harness: what the fleet demo and the example scenarios share — the process
 * table that runs and stops the real binaries, the robot apps' side of the agent's local API,
 * and the scenario runner (temporary directory, one line per step, clean-up and its checks).
 *
 * Trust boundary: test and demo tooling only; never imported by the apps or the libs they ship.
 */
export { AGENT_BIN, CONTROLLER_BIN, FLEETCTL_BIN, CommandFailed, Processes, Scrubber, STOP_GRACE_MS, childEnv, type Daemon, type RunOptions, type StopOutcome } from './processes.js';
export { SETTLE_TIMEOUT_MS, activeEpoch, closeClient, nextFrame, outcomeOf, robotApp, settle, type RobotApp } from './robot-app.js';
export {
  Scenario,
  ScenarioFailed,
  processGone,
  refusalOf,
  runScenario,
  scenarioMain,
  tokenHint,
  type ControllerInit,
  type ProvisionedStatus,
  type Refusal,
  type Robot,
  type ScenarioOptions,
  type ScenarioReport,
  type ScenarioStep,
  type ServingController,
} from './scenario.js';
