/**
 * A guided run of a real fleet controller, driven as an operator and a factory station meet it:
 * `fleet-controller init` and `serve` as a child process, enrollment tokens from `fleetctl`, three
 * robots enrolled over gRPC + TLS, a reused token refused, a key bundle fetched over mutual TLS
 * and checked against the pinned emergency key, the MQTT broker's topic ACL, the HTTP probes, the
 * signed audit chain, and a clean SIGTERM.
 *
 * Trust boundary: none of its own. It talks to the controller only through its binaries and its
 * network ports. The admin and enrollment tokens stay in memory: lines show a short prefix at
 * most, and the tour checks that the controller's log holds none of them.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { status as GrpcStatus, credentials } from '@grpc/grpc-js';
import { isFleetkeyError } from '@fleetkey/key-types';
import { deviceCommandsTopic } from '@fleetkey/protocol';
import { fleetctlFor, initController, startController, type RunningController, type StopOutcome } from './processes.js';
import {
  SUBACK_FAILURE,
  connectToBroker,
  deviceCredentials,
  enroll,
  fetchKeyBundle,
  makeRobot,
  subscribeReturnCode,
  verifyKeyBundle,
  type EnrolledRobot,
} from './robot.js';

export interface TourStep {
  readonly title: string;
  readonly detail: string;
  readonly ms: number;
}

export interface ControllerTourOptions {
  readonly workDir: string;
  readonly fleet?: string;
  readonly onStep?: (step: TourStep) => void;
}

/** What the tour saw, for its test and for anyone scripting it. */
export interface ControllerTourFacts {
  readonly controllerPid: number;
  readonly enrolledDevices: readonly string[];
  readonly listedDevices: readonly string[];
  readonly tokenReuse: { readonly code: string; readonly message: string; readonly status: string };
  readonly unauthenticatedDeviceCall: string;
  readonly verifiedEpochs: number;
  readonly ownTopicReturnCode: number;
  readonly foreignTopicReturnCode: number;
  readonly readyzStatus: number;
  readonly enrollmentsMetric: string;
  readonly audit: { readonly valid: boolean; readonly recordsChecked: number };
  readonly stop: StopOutcome;
  readonly logHoldsNoToken: boolean;
}

export interface ControllerTourReport {
  readonly steps: readonly TourStep[];
  readonly facts: ControllerTourFacts;
}

const ROBOTS = ['robot-a', 'robot-b', 'robot-c'] as const;

/** A token as the tour prints it: its kind prefix and two characters, never enough to use. */
function tokenHint(token: string): string {
  const kind = /^fk_(?:op|enr)_/.exec(token)?.[0] ?? '';
  return `${kind}${token.slice(kind.length, kind.length + 2)}…`;
}

function short(hex: string): string {
  return `${hex.slice(0, 12)}…`;
}

function grpcStatusName(code: number): string {
  return (GrpcStatus as unknown as Record<number, string>)[code] ?? String(code);
}

/** Whether a TCP connection to `address` is refused (nothing listens there any more). */
async function refusesConnections(address: string): Promise<boolean> {
  const separator = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, separator), port: Number(address.slice(separator + 1)) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs the tour and returns every step with the facts it established.
 * @throws Error when the controller or a tool behaves other than documented (the controller is
 *   stopped first).
 */
export async function runControllerTour(options: ControllerTourOptions): Promise<ControllerTourReport> {
  const fleet = options.fleet ?? 'acme';
  const steps: TourStep[] = [];
  const secrets: string[] = [];

  async function step<T>(title: string, body: () => Promise<{ detail: string; value: T }>): Promise<T> {
    const started = performance.now();
    const { detail, value } = await body();
    const done: TourStep = { title, detail, ms: performance.now() - started };
    steps.push(done);
    options.onStep?.(done);
    return value;
  }

  const dataDir = join(options.workDir, 'controller');
  mkdirSync(options.workDir, { recursive: true });

  // 1. A data directory with the fleet CA, emergency key and first epoch in the local KMS.
  const init = await step('controller initialised', async () => {
    const result = await initController(dataDir, fleet);
    secrets.push(result.adminToken);
    return {
      detail: `fleet ${result.fleet}, local KMS, admin token ${tokenHint(result.adminToken)} (kept in memory), CA bundle …/controller/ca.pem`,
      value: result,
    };
  });
  const controllerCa = await readFile(init.caFile);

  let controller: RunningController | undefined;
  try {
    // 2. serve on port 0 everywhere; the ready line says where it landed.
    const running = await step('controller serving', async () => {
      const started = await startController(dataDir);
      const { grpc, mqtt, http } = started.ready;
      return { detail: `pid ${started.pid}: gRPC ${grpc} (TLS, mTLS for robots), MQTT mqtts://${mqtt}, HTTP http://${http}`, value: started };
    });
    controller = running;
    const fleetctl = fleetctlFor(running.ready.grpc, init.caFile, init.adminToken, options.workDir);

    // 3. An operator mints single-use enrollment tokens for the factory.
    const tokens = await step('enrollment tokens minted with fleetctl', async () => {
      const minted = (await fleetctl('tokens', 'create', '--fleet', fleet, '--count', String(ROBOTS.length), '--ttl', '1h')) as {
        tokens: { token: string; tokenId: string; expiresAt: string }[];
      };
      if (minted.tokens.length !== ROBOTS.length) throw new Error(`fleetctl minted ${minted.tokens.length} tokens, not ${ROBOTS.length}`);
      secrets.push(...minted.tokens.map((t) => t.token));
      const ids = minted.tokens.map((t) => t.tokenId.slice(0, 8)).join(', ');
      return {
        detail: `${minted.tokens.length} single-use tokens (ids ${ids}), expire ${minted.tokens[0]!.expiresAt}; secrets kept in memory`,
        value: minted.tokens.map((t) => t.token),
      };
    });

    // 4. Each robot makes its identity key and CSR; the station enrolls it with one token.
    const robots: EnrolledRobot[] = [];
    for (const [index, deviceId] of ROBOTS.entries()) {
      const robot = await step(`${deviceId} enrolled over gRPC + TLS`, async () => {
        const made = await makeRobot(fleet, deviceId, `SN-${String(index + 1).padStart(4, '0')}`);
        const enrolled = await enroll(running.ready.grpc, controllerCa, made, tokens[index]!);
        const { validated } = enrolled;
        return {
          detail: `certificate fleetkey://${validated.fleet}/${validated.deviceId}, serial ${short(validated.serialNumber)}, valid until ${validated.notAfter.toISOString().slice(0, 10)}, chains to the fleet CA`,
          value: enrolled,
        };
      });
      robots.push(robot);
    }
    const [robotA, robotB] = robots as [EnrolledRobot, EnrolledRobot, EnrolledRobot];

    // 5. Tokens are burnt on first use: the same token with another robot is refused.
    const tokenReuse = await step('a used token is refused', async () => {
      const intruder = await makeRobot(fleet, 'robot-d', 'SN-0004');
      try {
        await enroll(running.ready.grpc, controllerCa, intruder, tokens[0]!);
      } catch (error) {
        if (isFleetkeyError(error) && error.code === 'ENROLLMENT_TOKEN_REJECTED') {
          const status = grpcStatusName((error as { status?: number }).status ?? -1);
          return { detail: `robot-d with robot-a's token -> ${error.code} (gRPC ${status}): "${error.message}"`, value: { code: error.code, message: error.message, status } };
        }
        throw error;
      }
      throw new Error('the controller accepted a used enrollment token');
    });

    // 6. The operator sees exactly the robots that enrolled.
    const listedDevices = await step('fleetctl devices list', async () => {
      const listed = (await fleetctl('devices', 'list', '--fleet', fleet)) as { devices: { deviceId: string; state: string }[] };
      const ids = listed.devices.map((d) => d.deviceId).sort();
      const states = [...new Set(listed.devices.map((d) => d.state))].join(', ');
      return { detail: `${ids.length} devices: ${ids.join(', ')} (${states}); no robot-d`, value: ids };
    });
    if (listedDevices.includes('robot-d')) throw new Error('robot-d was enrolled with a used token');

    // 7. Over mutual TLS, robot-a fetches its bundle and trusts nothing the pinned key did not sign.
    const { verifiedEpochs, unauthenticatedDeviceCall } = await step('robot-a fetched its key bundle over mTLS', async () => {
      const bundle = await fetchKeyBundle(running.ready.grpc, deviceCredentials(robotA));
      const epochs = await verifyKeyBundle(robotA, bundle);
      if (epochs.length === 0) throw new Error('the bundle carries no epoch');
      let refusal = 'accepted (unexpected)';
      try {
        await fetchKeyBundle(running.ready.grpc, credentials.createSsl(controllerCa));
      } catch (error) {
        if (!isFleetkeyError(error)) throw error;
        refusal = error.code;
      }
      if (refusal !== 'UNAUTHENTICATED') throw new Error(`a call without a device certificate got ${refusal}`);
      const pinned = robotA.emergencyKey.key;
      const described = epochs.map((e) => `epoch ${e.version} of ${e.keyId} (${e.state})`).join(', ');
      return {
        detail: `${described} unwrapped (${epochs[0]!.keyBytes} bytes, zeroized), manifest signed by pinned ${pinned?.keyId}@${pinned?.version}, key commitment matches; without a certificate -> ${refusal}`,
        value: { verifiedEpochs: epochs.length, unauthenticatedDeviceCall: refusal },
      };
    });

    // 8. The broker: the device certificate authenticates, the topic ACL confines.
    const subscriptions = await step('robot-a on the broker with its certificate', async () => {
      const client = await connectToBroker(robotA);
      try {
        const own = deviceCommandsTopic(fleet, robotA.deviceId);
        const foreign = deviceCommandsTopic(fleet, robotB.deviceId);
        const ownCode = await subscribeReturnCode(client, own);
        const foreignCode = await subscribeReturnCode(client, foreign);
        if (ownCode !== 1) throw new Error(`the broker answered ${ownCode} to robot-a's own topic`);
        if (foreignCode !== SUBACK_FAILURE) throw new Error(`the broker granted robot-b's topic to robot-a (${foreignCode})`);
        return {
          detail: `client id robot-a; ${own} -> granted QoS ${ownCode}; ${foreign} -> SUBACK 0x${foreignCode.toString(16)} (refused)`,
          value: { ownCode, foreignCode },
        };
      } finally {
        await client.endAsync();
      }
    });

    // 9. Probes and metrics on the plain HTTP port.
    const probes = await step('readiness and metrics over HTTP', async () => {
      const base = `http://${running.ready.http}`;
      const readyz = await fetch(`${base}/readyz`);
      const readiness = (await readyz.json()) as { ready: boolean; checks: Record<string, boolean> };
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith('fleetkey_enrollments_total{') && l.includes(`fleet="${fleet}"`) && l.includes('result="ok"'));
      if (line === undefined) throw new Error('no fleetkey_enrollments_total line for successful enrollments');
      const checks = Object.entries(readiness.checks).map(([name, ok]) => `${name} ${ok ? 'ok' : 'failing'}`).join(', ');
      return { detail: `/readyz ${readyz.status} (${checks}); /metrics: ${line}`, value: { readyzStatus: readyz.status, enrollmentsMetric: line } };
    });

    // 10. The audit chain recomputed and its signed heads checked by the operator tool.
    const audit = await step('fleetctl audit verify', async () => {
      const verified = (await fleetctl('audit', 'verify')) as { valid: boolean; recordsChecked: number; headSequence: number; headSignatureValid: boolean };
      if (!verified.valid) throw new Error('the audit chain does not verify');
      return {
        detail: `valid: ${verified.recordsChecked} records hash-chained, the last signed head (record #${verified.headSequence}) ${verified.headSignatureValid ? 'verifies' : 'DOES NOT VERIFY'}`,
        value: { valid: verified.valid, recordsChecked: verified.recordsChecked },
      };
    });

    // 11. SIGTERM: drain, close every listener, sign the audit head, exit 0.
    const { stop, logHoldsNoToken } = await step('controller stopped with SIGTERM', async () => {
      const outcome = await running.stop();
      if (outcome.killed || outcome.exitCode !== 0) throw new Error(`the controller did not stop cleanly (exit ${String(outcome.exitCode)}, signal ${String(outcome.signal)})`);
      const ports = [running.ready.grpc, running.ready.mqtt, running.ready.http];
      const closed = await Promise.all(ports.map(refusesConnections));
      const gone = processGone(running.pid);
      if (!gone || closed.includes(false)) throw new Error('the controller or one of its ports is still up after it exited');
      const log = running.log();
      const clean = secrets.every((secret) => !log.includes(secret));
      if (!clean) throw new Error('a token reached the controller log');
      const logged = log.includes('controller stopped') ? '"controller stopped" logged' : 'no stop line logged';
      return {
        detail: `drained, exit code ${String(outcome.exitCode)}, ${logged}; pid ${running.pid} gone, its 3 ports refuse connections; the log (${log.split('\n').length - 1} lines) holds no token`,
        value: { stop: outcome, logHoldsNoToken: clean },
      };
    });

    return {
      steps,
      facts: {
        controllerPid: running.pid,
        enrolledDevices: robots.map((r) => r.deviceId),
        listedDevices,
        tokenReuse,
        unauthenticatedDeviceCall,
        verifiedEpochs,
        ownTopicReturnCode: subscriptions.ownCode,
        foreignTopicReturnCode: subscriptions.foreignCode,
        readyzStatus: probes.readyzStatus,
        enrollmentsMetric: probes.enrollmentsMetric,
        audit,
        stop,
        logHoldsNoToken,
      },
    };
  } finally {
    await controller?.stop();
  }
}
