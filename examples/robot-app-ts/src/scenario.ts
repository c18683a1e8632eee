/**
 * The robot-app-ts scenario: a controller and one provisioned robot whose agent asks for app
 * tokens; the TypeScript robot app (./robot-app.ts) runs against it with its token and makes one
 * call of each kind, and an app without the token is refused with UNAUTHENTICATED in the
 * `fleetkey-error-code` trailer.
 *
 * Trust boundary: none of its own. The app token is minted by `edge-agent app-token`, kept in
 * memory and registered as a secret; the agent's config file holds only its SHA-256.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_BIN, runScenario, settle, tokenHint, type ScenarioOptions, type ScenarioReport } from '@fleetkey/fleet-harness';
import { Agent, refusalOf, runRobotApp, type Refusal, type RobotAppResult } from './robot-app.js';

export const FLEET = 'acme';
export const ROBOT = 'robot-1';
export const APP_NAME = 'navigation';

export interface RobotAppFacts {
  readonly app: RobotAppResult;
  /** The same app without its token. */
  readonly withoutToken: Refusal;
  /** What the app printed, one line per call. */
  readonly printed: readonly string[];
}

/** Runs the scenario; everything it started is stopped and its directory removed when it ends. */
export function runRobotAppScenario(options: ScenarioOptions = {}): Promise<ScenarioReport<RobotAppFacts>> {
  return runScenario('robot-app-ts', options, async (s) => {
    const init = await s.step('controller initialised', async () => {
      const value = await s.initController(FLEET);
      return { detail: `fleet ${FLEET}, epoch 1, local KMS; admin token ${tokenHint(value.adminToken)} (kept in memory)`, value };
    });
    const controller = await s.step('controller serving', async () => {
      const value = await s.serveController(init);
      return { detail: `pid ${value.daemon.pid}: gRPC ${value.grpc}, MQTT ${value.mqtt}`, value };
    });
    await s.step(`${ROBOT} provisioned`, async () => {
      const [token] = await s.tokens(controller, 1);
      const status = await s.provision(controller, { deviceId: ROBOT, token: token! });
      return { detail: `fleetctl tokens create, edge-agent provision --device-id ${ROBOT}: epoch ${(status.epochs ?? []).map((e) => e.version).join(', ')} in its keystore`, value: undefined };
    });

    // Once any app is listed in the agent's config, calls without a listed token are refused.
    const appToken = await s.step(`app token for "${APP_NAME}"`, async () => {
      const minted = JSON.parse(await s.processes.run('edge-agent app-token', AGENT_BIN, ['app-token', '--name', APP_NAME, '-o', 'json'], { signal: s.signal })) as {
        token?: unknown;
        configEntry?: { name?: unknown; tokenSha256?: unknown };
      };
      if (typeof minted.token !== 'string' || typeof minted.configEntry?.tokenSha256 !== 'string') throw new Error('edge-agent app-token printed an unexpected document');
      s.secret(minted.token);
      await writeFile(join(s.dir, 'agent.json'), `${JSON.stringify({ apps: [minted.configEntry] }, null, 2)}\n`, { mode: 0o600 });
      return { detail: `edge-agent app-token --name ${APP_NAME}: ${tokenHint(minted.token)} for the app; agent.json lists only its SHA-256 (${minted.configEntry.tokenSha256.slice(0, 12)}…)`, value: minted.token };
    });

    const agent = await s.step(`agent serving for ${ROBOT}`, async () => {
      const robot = await s.startAgent(ROBOT, { args: ['--config', join(s.dir, 'agent.json')], waitForContact: false });
      const client = new Agent(robot.daemon.ready['socket'] as string, appToken);
      try {
        await settle(`${ROBOT} to reach the controller`, async () => ((await client.api.getStatus({}, client.options())).lastContact === undefined ? undefined : true), { signal: s.signal });
      } catch (error) {
        client.close();
        throw error;
      }
      return { detail: `pid ${robot.daemon.pid}: local API on ${ROBOT}.sock (0660, app tokens required), in contact with the controller`, value: { client, socket: robot.daemon.ready['socket'] as string } };
    });

    const printed: string[] = [];
    const app = await s.step('robot app (src/robot-app.ts) ran', async () => {
      let last = performance.now();
      try {
        const result = await runRobotApp(agent.client, (line) => {
          printed.push(line);
          const now = performance.now();
          const colon = line.indexOf(':');
          s.record(`  app ${line.slice(0, colon)}`, line.slice(colon + 2), now - last);
          last = now;
        });
        for (const text of [result.sealed.text, 'waypoint 17: hold position', 'calibration: 0.9731']) s.message(text);
        return { detail: `${printed.length} lines, every call answered as expected`, value: result };
      } finally {
        agent.client.close();
      }
    });

    const withoutToken = await s.step('an app without the token is refused', async () => {
      const anonymous = new Agent(agent.socket);
      try {
        await anonymous.api.seal({ plaintext: new TextEncoder().encode('no token') }, anonymous.options());
        throw new Error('the agent accepted a call without an app token');
      } catch (error) {
        const refusal = refusalOf(error);
        return { detail: `Seal without authorization: ${refusal.status}, fleetkey-error-code=${refusal.code}`, value: refusal };
      } finally {
        anonymous.close();
      }
    });

    return { app, withoutToken, printed };
  });
}
