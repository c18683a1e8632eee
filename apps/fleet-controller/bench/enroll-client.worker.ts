/**
 * The robots' side of the enrollment benchmark, in its own thread so the controller's thread
 * does only the controller's work (in the field every robot has its own CPU): makes identity
 * keys and CSRs before timing, then enrolls them over gRPC + TLS with a fixed number in flight.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { credentials } from '@grpc/grpc-js';
import { ProvisioningService, closeClient, createClient } from '@fleetkey/protocol';
import { deviceIdentity } from '../src/provisioning/testing.js';

interface Job {
  readonly address: string;
  readonly caPem: string;
  readonly tokens: readonly string[];
  readonly concurrency: number;
  readonly warmup: number;
}

const job = workerData as Job;
const robots = await Promise.all(job.tokens.map(async (token, index) => ({ token, deviceId: `robot-${index}`, csr: (await deviceIdentity('ECDSA_P256', `robot-${index}`)).csr })));
const client = createClient(ProvisioningService, job.address, credentials.createSsl(Buffer.from(job.caPem)));
const enrollOne = (robot: (typeof robots)[number]) => client.enroll({ enrollmentToken: robot.token, csr: robot.csr, deviceId: robot.deviceId, serialNumber: `SN-${robot.deviceId}` });

await Promise.all(robots.slice(0, job.warmup).map(enrollOne));
const queue = robots.slice(job.warmup);
const latencies: number[] = [];
parentPort!.postMessage({ event: 'started' });
const started = performance.now();
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (let robot = queue.shift(); robot !== undefined; robot = queue.shift()) {
      const t0 = performance.now();
      await enrollOne(robot);
      latencies.push(performance.now() - t0);
    }
  }),
);
const elapsedMs = performance.now() - started;
closeClient(client);
parentPort!.postMessage({ event: 'done', elapsedMs, latencies, enrolled: robots.length - job.warmup });
