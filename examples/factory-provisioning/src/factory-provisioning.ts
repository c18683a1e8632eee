/**
 * Factory provisioning of a batch of robots: the fleet admin gives the factory station an
 * operator credential of role `factory`; the station mints a batch of single-use enrollment tokens
 * bound to the serial pattern of this production run, and provisions the robots off the line in
 * parallel with `edge-agent provision`. The fleet's device list shows them with their serials; a
 * token presented twice and a serial outside the pattern are refused with their reasons, and
 * neither leaves a robot enrolled or a data directory behind.
 *
 * Trust boundary: none of its own; it drives the binaries as a factory station would. Tokens and
 * the station's credential stay in memory and reach a child only through its environment.
 */
import { existsSync } from 'node:fs';
import { refusalOf, runScenario, tokenHint, type Refusal, type ScenarioOptions, type ScenarioReport } from '@fleetkey/fleet-harness';

export const FLEET = 'acme';
/** The production run's serials; every token of the batch is bound to this pattern. */
export const SERIAL_PATTERN = 'SN-2026-*';
export const BATCH_SIZE = 10;
/** Robots provisioned from the batch (the rest of the tokens stay for the next shift). */
export const ROBOTS = ['robot-001', 'robot-002', 'robot-003', 'robot-004', 'robot-005', 'robot-006'] as const;

export interface FactoryFacts {
  readonly minted: number;
  readonly tokenSerialPatterns: readonly string[];
  readonly provisioned: Readonly<Record<string, { serial: string; epochs: readonly number[] }>>;
  readonly devices: readonly { deviceId: string; serialNumber: string; state: string }[];
  readonly reusedToken: Refusal & { dataDirCreated: boolean };
  readonly serialOutsidePattern: Refusal & { dataDirCreated: boolean };
  readonly tokenStates: Readonly<Record<string, number>>;
  readonly devicesAfterRefusals: number;
}

const serialOf = (index: number): string => `SN-2026-${String(index + 1).padStart(4, '0')}`;

/** Runs the scenario; everything it started is stopped and its directory removed when it ends. */
export function runFactoryProvisioning(options: ScenarioOptions = {}): Promise<ScenarioReport<FactoryFacts>> {
  return runScenario('factory', options, async (s) => {
    const init = await s.step('controller initialised', async () => {
      const value = await s.initController(FLEET);
      return { detail: `fleet ${FLEET}: CA, emergency and master keys in the local KMS, epoch 1; admin token ${tokenHint(value.adminToken)} (kept in memory)`, value };
    });
    const controller = await s.step('controller serving', async () => {
      const value = await s.serveController(init);
      return { detail: `pid ${value.daemon.pid}: gRPC ${value.grpc} (TLS), MQTT ${value.mqtt} (TLS)`, value };
    });

    // The station never holds the admin credential: a `factory` operator may only mint tokens.
    const station = await s.step('factory station credential', async () => {
      const created = (await s.fleetctl(controller, ['operators', 'create', 'station-line-3', '--role', 'factory', '--fleet', FLEET, '--display-name', 'line 3 provisioning station'])) as { credential?: unknown };
      if (typeof created.credential !== 'string') throw new Error('fleetctl operators create printed no credential');
      s.secret(created.credential);
      return { detail: `fleetctl operators create station-line-3 --role factory --fleet ${FLEET}: ${tokenHint(created.credential)} (may mint tokens, nothing else)`, value: created.credential };
    });

    const batch = await s.step(`batch of ${BATCH_SIZE} tokens for ${SERIAL_PATTERN}`, async () => {
      const minted = (await s.fleetctl(controller, ['tokens', 'create', '--fleet', FLEET, '--count', String(BATCH_SIZE), '--serial', SERIAL_PATTERN, '--ttl', '8h'], station)) as {
        tokens?: { token?: unknown; serialNumber?: unknown }[];
      };
      const tokens = (minted.tokens ?? []).map((t) => t.token).filter((t): t is string => typeof t === 'string');
      if (tokens.length !== BATCH_SIZE) throw new Error(`the station minted ${tokens.length} tokens, not ${BATCH_SIZE}`);
      s.secret(...tokens);
      const patterns = [...new Set((minted.tokens ?? []).map((t) => String(t.serialNumber)))];
      return {
        detail: `fleetctl tokens create --count ${BATCH_SIZE} --serial '${SERIAL_PATTERN}' --ttl 8h (as station-line-3): ${tokens.slice(0, 3).map(tokenHint).join(', ')}, …; each single-use, bound to ${patterns.join(', ')}`,
        value: { tokens, patterns },
      };
    });

    const provisioned = await s.step(`${ROBOTS.length} robots provisioned in parallel`, async () => {
      const statuses = await Promise.all(ROBOTS.map((deviceId, index) => s.provision(controller, { deviceId, serial: serialOf(index), token: batch.tokens[index]! })));
      const value = Object.fromEntries(ROBOTS.map((deviceId, index) => [deviceId, { serial: serialOf(index), epochs: (statuses[index]!.epochs ?? []).map((e) => e.version) }]));
      return {
        detail: `edge-agent provision ×${ROBOTS.length} (${ROBOTS[0]} ${serialOf(0)} … ${ROBOTS.at(-1)} ${serialOf(ROBOTS.length - 1)}): identity keys made on each robot, certificates checked, epoch 1 in each keystore`,
        value,
      };
    });

    const listDevices = async () => {
      const listed = (await s.fleetctl(controller, ['devices', 'list', '--fleet', FLEET])) as { devices?: { deviceId: string; serialNumber: string; state: string }[] };
      return (listed.devices ?? []).map(({ deviceId, serialNumber, state }) => ({ deviceId, serialNumber, state })).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
    };
    const devices = await s.step('fleetctl devices list', async () => {
      const value = await listDevices();
      return { detail: `${value.length} devices: ${value.map((d) => `${d.deviceId} ${d.serialNumber} ${d.state.toLowerCase()}`).join(', ')}`, value };
    });

    // robot-001's token again, for a new robot: the controller burnt it at the first use.
    const reusedToken = await s.step('a reused token is refused', async () => {
      const deviceId = 'robot-007';
      const refusal = await refusalOf(s.provision(controller, { deviceId, serial: serialOf(6), token: batch.tokens[0]! }), `${deviceId} with a used token`);
      const value = { ...refusal, dataDirCreated: existsSync(s.agentDir(deviceId)) };
      return { detail: `${deviceId} with robot-001's token: exit ${refusal.exitCode}, ${refusal.reason}; nothing written on the robot`, value };
    });

    // A fresh token of the batch, but a robot from another production run.
    const serialOutsidePattern = await s.step('a serial outside the pattern is refused', async () => {
      const deviceId = 'robot-008';
      const refusal = await refusalOf(s.provision(controller, { deviceId, serial: 'SN-2025-0999', token: batch.tokens[ROBOTS.length]! }), `${deviceId} with serial SN-2025-0999`);
      const value = { ...refusal, dataDirCreated: existsSync(s.agentDir(deviceId)) };
      return { detail: `${deviceId} with serial SN-2025-0999: exit ${refusal.exitCode}, ${refusal.reason}; the token is spent (single use)`, value };
    });

    const after = await s.step('tokens and devices after the refusals', async () => {
      const listed = (await s.fleetctl(controller, ['tokens', 'list', '--fleet', FLEET])) as { tokens?: { state: string }[] };
      const tokenStates: Record<string, number> = {};
      for (const token of listed.tokens ?? []) tokenStates[token.state.toLowerCase()] = (tokenStates[token.state.toLowerCase()] ?? 0) + 1;
      const devicesAfterRefusals = (await listDevices()).length;
      const states = Object.entries(tokenStates)
        .sort()
        .map(([state, count]) => `${count} ${state}`)
        .join(', ');
      return { detail: `fleetctl tokens list: ${states}; devices list: still ${devicesAfterRefusals} devices`, value: { tokenStates, devicesAfterRefusals } };
    });

    return {
      minted: batch.tokens.length,
      tokenSerialPatterns: batch.patterns,
      provisioned,
      devices,
      reusedToken,
      serialOutsidePattern,
      tokenStates: after.tokenStates,
      devicesAfterRefusals: after.devicesAfterRefusals,
    };
  });
}
