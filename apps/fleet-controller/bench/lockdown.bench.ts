/**
 * Lockdown fan-out: from `issueCommand` (the emergency key in the local KMS signs, SQLite stores
 * the command and its audit record, the embedded broker publishes it retained at QoS 1) until each
 * of 1,000 connected robots has received it AND verified its signature against the pinned
 * emergency key — next to the same broker's fan-out of an unsigned message of the same size to
 * the same 1,000 robots, measured in the same run, rounds interleaved.
 *
 * Real transport: the controller's broker with TLS 1.2+ and a device certificate per robot, issued
 * by the fleet CA in the KMS (devices are created straight in the store; setup, not timed). The
 * robots are `mqtt` clients in two worker threads (500 each), connected before timing, so what is
 * measured is the fan-out, not the 1,000 TLS handshakes.
 *
 * This file is both the benchmark (main thread) and the robots (worker threads); the controller's
 * modules are loaded only in the main thread.
 * Trust boundary: none; throwaway keys in a temp directory.
 */
import { createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData, Worker } from 'node:worker_threads';
import { formatRate, percentile, printMeasurements } from '@fleetkey/bench';
import { generateKeyPair, verifySignature } from '@fleetkey/crypto';
import { CommandSchema, MAX_SIGNED_COMMAND_BYTES, SignedCommandSchema, decodeMessage, emergencyTopic, signatureAlgorithmFromProto, verifyPayload } from '@fleetkey/protocol';
import { connectAsync } from 'mqtt';

const ROBOTS = 1000;
const WORKERS = 2;
const ROUNDS = 15;
const CONNECT_CONCURRENCY = 25;
const FLEET = 'bench';

interface RobotCredentials {
  readonly deviceId: string;
  readonly keyPem: string;
  readonly certificatePem: string;
}

interface WorkerJob {
  readonly robots: readonly RobotCredentials[];
  readonly host: string;
  readonly port: number;
  readonly caPem: string;
  readonly emergencyKeySpki: Uint8Array;
  readonly topic: string;
}

type ToWorker = { readonly type: 'arm'; readonly round: number; readonly mode: 'signed' | 'unsigned' } | { readonly type: 'close' };
type FromWorker = { readonly type: 'ready' | 'armed' | 'closed' } | { readonly type: 'done'; readonly round: number } | { readonly type: 'failed'; readonly message: string };

/** The unsigned baseline payload: round number first, then filler up to the signed command's size. */
function unsignedPayload(round: number, size: number): Uint8Array {
  const payload = new Uint8Array(size).fill(0x5a);
  new DataView(payload.buffer).setUint32(0, round);
  return payload;
}

async function robots(): Promise<void> {
  const job = workerData as WorkerJob;
  const port = parentPort!;
  const pinned = createPublicKey({ key: Buffer.from(job.emergencyKeySpki), format: 'der', type: 'spki' });
  let armed: { round: number; mode: 'signed' | 'unsigned'; received: number } | undefined;

  const onMessage = async (payload: Buffer): Promise<void> => {
    const current = armed;
    if (current === undefined) return;
    if (current.mode === 'signed') {
      const signed = decodeMessage(SignedCommandSchema, payload, { maxBytes: MAX_SIGNED_COMMAND_BYTES });
      // What a robot does: the signature over the bytes as received, against its pinned key, then parse.
      const command = await verifyPayload(CommandSchema, signed, (input, wrapper) => {
        if (!verifySignature(pinned, signatureAlgorithmFromProto(wrapper.signatureAlgorithm), input, wrapper.signature)) throw new Error('signature invalid');
      });
      if (command.reason !== `bench round ${current.round}`) return;
    } else if (payload.length < 4 || payload.readUInt32BE(0) !== current.round) {
      return;
    }
    current.received += 1;
    if (current.received === job.robots.length) port.postMessage({ type: 'done', round: current.round } satisfies FromWorker);
  };

  const clients: Awaited<ReturnType<typeof connectAsync>>[] = [];
  const queue = [...job.robots];
  await Promise.all(
    Array.from({ length: CONNECT_CONCURRENCY }, async () => {
      for (let robot = queue.shift(); robot !== undefined; robot = queue.shift()) {
        const client = await connectAsync({ protocol: 'mqtts', host: job.host, port: job.port, ca: job.caPem, key: robot.keyPem, cert: robot.certificatePem, clientId: robot.deviceId, reconnectPeriod: 0, connectTimeout: 30_000 });
        client.on('message', (_topic, payload) => {
          onMessage(payload).catch((error: unknown) => port.postMessage({ type: 'failed', message: String(error) } satisfies FromWorker));
        });
        await client.subscribeAsync(job.topic, { qos: 1 });
        clients.push(client);
      }
    }),
  );
  port.on('message', async (message: ToWorker) => {
    if (message.type === 'arm') {
      armed = { round: message.round, mode: message.mode, received: 0 };
      port.postMessage({ type: 'armed' } satisfies FromWorker);
    } else {
      await Promise.all(clients.map((client) => client.endAsync(true)));
      port.postMessage({ type: 'closed' } satisfies FromWorker);
    }
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}

async function benchmark(): Promise<void> {
  const { derToPem } = await import('../src/core/server-tls.js');
  const { issueFleetDeviceCertificate, emergencyKeyOf } = await import('../src/provisioning/device-keys.js');
  const { issueCommand } = await import('../src/commands/index.js');
  const { startCommandsHarness } = await import('../src/commands/testing.js');

  const harness = await startCommandsHarness({ fleet: FLEET, rotate: async () => ({ version: 0 }) });
  const workers: Worker[] = [];
  try {
    // Setup (not timed): 1,000 devices with certificates from the fleet CA in the KMS.
    const keys = await harness.core.fleetKeys(FLEET);
    const credentials: RobotCredentials[] = [];
    const records: Parameters<typeof harness.repository.createDevice>[0][] = [];
    for (let index = 0; index < ROBOTS; index++) {
      const deviceId = `robot-${index}`;
      const pair = await generateKeyPair('ECDSA_P256');
      const certificate = await issueFleetDeviceCertificate(harness.core, keys, { deviceId, publicKey: pair.publicKey });
      credentials.push({ deviceId, keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certificatePem: derToPem(certificate.der) });
      records.push({ fleetId: FLEET, deviceId, serial: `SN-${index}`, certificateDer: certificate.der, certificateSerial: certificate.serialNumber, keyAlgorithm: 'ECDSA_P256' });
    }
    await harness.repository.transaction(async (tx) => {
      for (const record of records) await tx.createDevice(record);
    });
    const emergencyKey = await emergencyKeyOf(harness.core, keys);
    const [host, port] = harness.broker.address.split(':');
    const topic = emergencyTopic(FLEET);
    const tsxApi = import.meta.resolve('tsx/esm/api');

    const messages: FromWorker[][] = [];
    const waiters: (() => void)[] = [];
    const next = async (index: number, type: FromWorker['type']): Promise<FromWorker> => {
      for (;;) {
        const found = messages[index]!.findIndex((m) => m.type === type || m.type === 'failed');
        if (found >= 0) {
          const [message] = messages[index]!.splice(found, 1);
          if (message!.type === 'failed') throw new Error(`a robot failed: ${(message as { message: string }).message}`);
          return message!;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    const connectStarted = performance.now();
    for (let index = 0; index < WORKERS; index++) {
      const share = credentials.filter((_, i) => i % WORKERS === index);
      const job: WorkerJob = { robots: share, host: host!, port: Number(port), caPem: harness.caPem.toString('utf8'), emergencyKeySpki: emergencyKey.publicKey, topic };
      // Worker threads do not inherit tsx's loader: register it, then load this file again.
      const worker = new Worker(`import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`, { eval: true, workerData: job });
      messages.push([]);
      worker.on('message', (message: FromWorker) => {
        messages[index]!.push(message);
        for (const wake of waiters.splice(0)) wake();
      });
      worker.on('error', (error) => {
        messages[index]!.push({ type: 'failed', message: String(error) });
        for (const wake of waiters.splice(0)) wake();
      });
      workers.push(worker);
    }
    for (let index = 0; index < WORKERS; index++) await next(index, 'ready');
    const connectMs = performance.now() - connectStarted;
    if (harness.broker.clientCount() !== ROBOTS) throw new Error(`expected ${ROBOTS} connected robots, found ${harness.broker.clientCount()}`);

    const deps = { core: harness.core, events: harness.events, publisher: harness.broker, logger: harness.logger };
    let signedBytes = 0;
    const runRound = async (round: number, mode: 'signed' | 'unsigned'): Promise<{ fanOutMs: number; issueMs: number }> => {
      for (const worker of workers) worker.postMessage({ type: 'arm', round, mode } satisfies ToWorker);
      for (let index = 0; index < WORKERS; index++) await next(index, 'armed');
      const started = performance.now();
      if (mode === 'signed') {
        const command = await issueCommand(deps, { fleetId: FLEET, action: 'lockdown', scope: { kind: 'fleet' }, reason: `bench round ${round}`, issuedBy: 'bench' });
        signedBytes = command.signedCommand.length;
      } else {
        await harness.broker.publish(topic, unsignedPayload(round, signedBytes), { qos: 1, retain: true });
      }
      const issueMs = performance.now() - started;
      for (let index = 0; index < WORKERS; index++) await next(index, 'done');
      return { fanOutMs: performance.now() - started, issueMs };
    };

    // Warm-up (one of each; the signed one also fixes the baseline's payload size).
    await runRound(0, 'signed');
    await runRound(1, 'unsigned');
    const signed: number[] = [];
    const unsigned: number[] = [];
    const issue: number[] = [];
    for (let round = 2; round < 2 + 2 * ROUNDS; round += 2) {
      // Alternate which goes first, so drift in the machine's load hits both alike.
      const order: ('signed' | 'unsigned')[] = round % 4 === 2 ? ['signed', 'unsigned'] : ['unsigned', 'signed'];
      for (const [offset, mode] of order.entries()) {
        const result = await runRound(round + offset, mode);
        if (mode === 'signed') {
          signed.push(result.fanOutMs);
          issue.push(result.issueMs);
        } else unsigned.push(result.fanOutMs);
      }
    }
    const signedP50 = percentile(signed, 50);
    const unsignedP50 = percentile(unsigned, 50);
    printMeasurements(`lockdown fan-out to ${ROBOTS} robots over MQTT + TLS (device certificates), ${WORKERS} robot threads, ${ROUNDS} rounds each`, [
      ['signed LOCKDOWN: issue -> every robot verified, p50 / p99', `${signedP50.toFixed(1)} ms / ${percentile(signed, 99).toFixed(1)} ms`],
      ['  of which issueCommand (KMS sign + SQLite + publish), p50', `${percentile(issue, 50).toFixed(1)} ms`],
      ['  deliveries verified / s (p50 round)', formatRate(ROBOTS / (signedP50 / 1000))],
      [`baseline: unsigned ${signedBytes}-byte message, same broker, p50 / p99`, `${unsignedP50.toFixed(1)} ms / ${percentile(unsigned, 99).toFixed(1)} ms`],
      ['  deliveries / s (p50 round)', formatRate(ROBOTS / (unsignedP50 / 1000))],
      ['cost ratio (signed lockdown / unsigned fan-out)', `${(signedP50 / unsignedP50).toFixed(2)}x`],
      ['setup: 1,000 TLS connections (not timed above)', `${(connectMs / 1000).toFixed(1)} s`],
    ]);
  } finally {
    for (const worker of workers) {
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      await Promise.race([new Promise((resolve) => worker.once('message', resolve)), new Promise((resolve) => setTimeout(resolve, 5000))]);
      await worker.terminate();
    }
    await harness.close();
  }
}

if (isMainThread) await benchmark();
else await robots();
