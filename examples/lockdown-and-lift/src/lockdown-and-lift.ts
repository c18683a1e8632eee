/**
 * Emergency lockdown and lift, with scopes: three robots in two groups (line-1: robot-1a and
 * robot-1b; line-2: robot-2a), enrolled with group-bound tokens. A lockdown of line-1 locks only
 * line-1; a fleet lockdown locks everyone; `fleetctl lockdown status` shows both lockdowns in
 * force and which robots confirmed each. Scopes do not nest: lifting the fleet (two operators)
 * unlocks line-2 while line-1 stays locked under its own lockdown, and only the lift of line-1 —
 * which its requester cannot approve alone — unlocks it.
 *
 * Trust boundary: none of its own; it drives the binaries as two operators and robot apps do.
 */
import { outcomeOf, refusalOf, runScenario, settle, tokenHint, type Refusal, type Robot, type Scenario, type ScenarioOptions, type ScenarioReport, type ServingController } from '@fleetkey/fleet-harness';

export const FLEET = 'acme';
export const GROUPS = { 'line-1': ['robot-1a', 'robot-1b'], 'line-2': ['robot-2a'] } as const;
export const ROBOTS = ['robot-1a', 'robot-1b', 'robot-2a'] as const;
export type RobotId = (typeof ROBOTS)[number];
const LINE_1: readonly RobotId[] = GROUPS['line-1'];

type ByRobot<T> = Readonly<Record<RobotId, T>>;

export interface LockdownInForce {
  readonly scope: string;
  readonly confirmed: readonly string[];
  readonly notConfirmed: readonly string[];
}

export interface LockdownFacts {
  readonly groups: ByRobot<string>;
  readonly groupLockdown: { readonly locked: ByRobot<boolean>; readonly seal: ByRobot<string> };
  readonly fleetLockdown: { readonly locked: ByRobot<boolean>; readonly seal: ByRobot<string> };
  readonly status: readonly LockdownInForce[];
  readonly fleetLift: { readonly state: string; readonly locked: ByRobot<boolean>; readonly statusAfter: readonly string[] };
  readonly selfApproval: Refusal;
  readonly groupLift: { readonly state: string; readonly approvals: readonly string[]; readonly locked: ByRobot<boolean>; readonly reopened: string; readonly statusAfter: readonly string[] };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function byRobot<T>(values: readonly T[]): ByRobot<T> {
  return Object.fromEntries(ROBOTS.map((robot, index) => [robot, values[index]!])) as ByRobot<T>;
}

function lockText(locked: ByRobot<boolean>): string {
  return ROBOTS.map((robot) => `${robot} ${locked[robot] ? 'locked' : 'unlocked'}`).join(', ');
}

/** Runs the scenario; everything it started is stopped and its directory removed when it ends. */
export function runLockdownAndLift(options: ScenarioOptions = {}): Promise<ScenarioReport<LockdownFacts>> {
  return runScenario('lockdown', options, async (s) => {
    const init = await s.step('controller initialised', async () => {
      const value = await s.initController(FLEET);
      return { detail: `fleet ${FLEET}, epoch 1, emergency key in the local KMS; admin token ${tokenHint(value.adminToken)} (kept in memory)`, value };
    });
    const controller = await s.step('controller serving', async () => {
      const value = await s.serveController(init);
      return { detail: `pid ${value.daemon.pid}: gRPC ${value.grpc}, MQTT ${value.mqtt} (the emergency topic is retained)`, value };
    });

    // A lift needs a second, different operator; an emergency is no time to create one.
    const { secondAdmin, tokens } = await s.step('group tokens and a second operator', async () => {
      const [second, line1, line2] = await Promise.all([
        s.fleetctl(controller, ['operators', 'create', 'second-admin', '--role', 'admin', '--display-name', 'lockdown example second operator']),
        s.tokens(controller, GROUPS['line-1'].length, ['--group', 'line-1']),
        s.tokens(controller, GROUPS['line-2'].length, ['--group', 'line-2']),
      ]);
      const credential = (second as { credential?: unknown }).credential;
      if (typeof credential !== 'string') throw new Error('fleetctl operators create printed no credential');
      s.secret(credential);
      return {
        detail: `fleetctl tokens create --group line-1 --count 2, --group line-2 --count 1; operators create second-admin (admin): ${tokenHint(credential)}`,
        value: { secondAdmin: credential, tokens: [...line1, ...line2] },
      };
    });

    const robots = await s.step('three robots in two groups', async () => {
      await Promise.all(ROBOTS.map((deviceId, index) => s.provision(controller, { deviceId, token: tokens[index]! })));
      const started = await Promise.all(ROBOTS.map((deviceId) => s.startAgent(deviceId)));
      const groups = await Promise.all(started.map(async (robot) => (await robot.app.getStatus({})).group));
      return { detail: `provisioned and serving: ${ROBOTS.map((robot, index) => `${robot} in ${groups[index]}`).join(', ')}`, value: { started: byRobot(started), groups: byRobot(groups) } };
    });
    const at = (robot: RobotId): Robot => robots.started[robot];

    const groupLockdown = await s.step('line-1 locked down', async () => {
      const issued = (await s.fleetctl(controller, ['lockdown', '--fleet', FLEET, '--group', 'line-1', '--reason', 'line-1 intrusion drill (example)'])) as { lockdown?: { commandSequence?: number } };
      await Promise.all(LINE_1.map((robot) => waitLocked(s, at(robot), true)));
      const state = await lockState(robots.started);
      if (state.locked['robot-2a']) throw new Error('the line-1 lockdown locked robot-2a of line-2');
      return { detail: `fleetctl lockdown --group line-1: signed LOCKDOWN #${issued.lockdown?.commandSequence}; ${lockText(state.locked)}; Seal on robot-1a -> ${state.seal['robot-1a']}, on robot-2a -> ${state.seal['robot-2a']}`, value: state };
    });

    const fleetLockdown = await s.step('fleet locked down', async () => {
      const issued = (await s.fleetctl(controller, ['lockdown', '--fleet', FLEET, '--reason', 'fleet intrusion drill (example)'])) as { lockdown?: { commandSequence?: number } };
      await Promise.all(ROBOTS.map((robot) => waitLocked(s, at(robot), true)));
      const state = await lockState(robots.started);
      return { detail: `fleetctl lockdown --fleet ${FLEET}: LOCKDOWN #${issued.lockdown?.commandSequence}; ${lockText(state.locked)}; Seal -> ${[...new Set(Object.values(state.seal))].join(', ')} on all three`, value: state };
    });

    // Robots acknowledge over MQTT; the controller's counts follow.
    const status = await s.step('fleetctl lockdown status', async () => {
      const value = await settle('every robot to confirm both lockdowns', async () => {
        const inForce = await lockdownsInForce(s, controller);
        const complete = inForce.length === 2 && inForce.every((l) => l.notConfirmed.length === 0);
        return complete ? inForce : undefined;
      }, { signal: s.signal });
      return { detail: `in force: ${value.map((l) => `${l.scope} (confirmed by ${l.confirmed.join(', ')})`).join('; ')}`, value };
    });

    const fleetLift = await s.step('fleet lifted, line-1 still locked', async () => {
      const { state } = await lift(s, controller, [], 'fleet drill over (example)', secondAdmin);
      await waitLocked(s, at('robot-2a'), false);
      const locked = await Promise.all(ROBOTS.map(async (robot) => (await at(robot).app.getStatus({})).locked));
      const statusAfter = (await lockdownsInForce(s, controller)).map((l) => l.scope);
      const value = { state, locked: byRobot(locked), statusAfter };
      return { detail: `fleetctl lift --fleet ${FLEET} + approve by second-admin -> ${state}; ${lockText(value.locked)} (line-1's own lockdown is still in force); in force now: ${statusAfter.join(', ')}`, value };
    });

    const { selfApproval, groupLift } = await s.step('line-1 lifted with two operators', async () => {
      const requested = (await s.fleetctl(controller, ['lift', '--fleet', FLEET, '--group', 'line-1', '--reason', 'line-1 drill over (example)'])) as { liftRequest?: { liftRequestId?: string } };
      const requestId = requested.liftRequest?.liftRequestId;
      if (typeof requestId !== 'string') throw new Error('fleetctl lift printed no request id');
      const self = await refusalOf(s.fleetctl(controller, ['approve', requestId, '--fleet', FLEET]), 'the requester’s own approval');
      const approved = (await s.fleetctl(controller, ['approve', requestId, '--fleet', FLEET], secondAdmin)) as { liftRequest?: { state?: string; approvals?: { operatorId: string }[] } };
      await Promise.all(LINE_1.map((robot) => waitLocked(s, at(robot), false)));
      const locked = await Promise.all(ROBOTS.map(async (robot) => (await at(robot).app.getStatus({})).locked));
      const text = s.message('line-1 back to work');
      const sealed = await at('robot-1a').app.seal({ plaintext: encoder.encode(text) });
      const reopened = decoder.decode((await at('robot-2a').app.open({ envelope: sealed.envelope })).plaintext);
      const statusAfter = (await lockdownsInForce(s, controller)).map((l) => l.scope);
      const state = approved.liftRequest?.state ?? '';
      return {
        detail: `lift ${requestId.slice(0, 8)}…: the requester's own approve -> exit ${self.exitCode} (${self.reason}); second-admin's -> ${state}; ${lockText(byRobot(locked))}; "${reopened}" sealed on robot-1a opens on robot-2a; in force now: ${statusAfter.length === 0 ? 'nothing' : statusAfter.join(', ')}`,
        value: {
          selfApproval: self,
          groupLift: { state, approvals: (approved.liftRequest?.approvals ?? []).map((a) => a.operatorId), locked: byRobot(locked), reopened, statusAfter },
        },
      };
    });

    return { groups: robots.groups, groupLockdown, fleetLockdown, status, fleetLift, selfApproval, groupLift };
  });
}

async function waitLocked(s: Scenario, robot: Robot, locked: boolean): Promise<void> {
  await settle(`${robot.deviceId} to ${locked ? 'lock' : 'unlock'}`, async () => ((await robot.app.getStatus({})).locked === locked ? true : undefined), { signal: s.signal });
}

/** Each robot's lock state and what Seal answers on it. */
async function lockState(robots: ByRobot<Robot>): Promise<{ locked: ByRobot<boolean>; seal: ByRobot<string> }> {
  const locked = await Promise.all(ROBOTS.map(async (robot) => (await robots[robot].app.getStatus({})).locked));
  const seal = await Promise.all(ROBOTS.map((robot) => outcomeOf(robots[robot].app.seal({ plaintext: encoder.encode('during the lockdown') }))));
  return { locked: byRobot(locked), seal: byRobot(seal) };
}

/** `fleetctl lockdown status`: each lockdown in force with who confirmed it. */
async function lockdownsInForce(s: Scenario, controller: ServingController): Promise<LockdownInForce[]> {
  const status = (await s.fleetctl(controller, ['lockdown', 'status', '--fleet', FLEET])) as {
    lockdowns?: { scope: { kind: string; id: string | null }; confirmed: string[]; notConfirmed: string[] }[];
  };
  return (status.lockdowns ?? []).map((l) => ({ scope: l.scope.id === null ? l.scope.kind : `${l.scope.kind} ${l.scope.id}`, confirmed: [...l.confirmed].sort(), notConfirmed: [...l.notConfirmed].sort() }));
}

/** `fleetctl lift` by the first admin, `fleetctl approve` by the second; the request's final state. */
async function lift(s: Scenario, controller: ServingController, scope: readonly string[], reason: string, secondAdmin: string): Promise<{ state: string }> {
  const requested = (await s.fleetctl(controller, ['lift', '--fleet', FLEET, ...scope, '--reason', reason])) as { liftRequest?: { liftRequestId?: string } };
  const requestId = requested.liftRequest?.liftRequestId;
  if (typeof requestId !== 'string') throw new Error('fleetctl lift printed no request id');
  const approved = (await s.fleetctl(controller, ['approve', requestId, '--fleet', FLEET], secondAdmin)) as { liftRequest?: { state?: string } };
  return { state: approved.liftRequest?.state ?? '' };
}
