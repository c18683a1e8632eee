/**
 * Provisioning throughput: enrollments per second end to end — a real gRPC client over TLS to
 * ProvisioningService.Enroll on a controller made by the real `init` (local KMS provider, SQLite
 * in WAL mode) — next to the cost of the one thing every enrollment must do, signing the device
 * certificate with the KMS-held fleet CA key, measured in the same run on the same core.
 * Target: at least 200 enrollments/s on the reference machine (2 cores).
 *
 * Robot-side work (identity keys, CSRs, the gRPC client) runs in a worker thread and the keys are
 * made before timing: in the field each robot does it on its own CPU, not the controller's.
 *
 * Trust boundary: none; throwaway keys in a temp directory.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { issueDeviceCertificate } from '@fleetkey/crypto';
import { formatRate, percentile, printMeasurements } from '@fleetkey/bench';
import { deviceIdentity, startProvisioningHarness } from '../src/provisioning/testing.js';

const ENROLLMENTS = 600;
const CONCURRENCY = 16;
const SIGNATURES = 600;
const TARGET_PER_SECOND = 200;

const harness = await startProvisioningHarness('bench');
try {
  const tokens: string[] = [];
  for (let index = 0; index < ENROLLMENTS + CONCURRENCY; index++) tokens.push((await harness.mintToken()).token);
  // Robots run in a worker thread: the controller's thread does only the controller's work.
  const worker = new Worker(new URL('./enroll-client.worker.mjs', import.meta.url), {
    workerData: { address: harness.address, caPem: harness.caPem.toString('utf8'), tokens, concurrency: CONCURRENCY, warmup: CONCURRENCY },
  });
  await once(worker, 'message'); // 'started': the timed part begins
  const busyBefore = performance.eventLoopUtilization();
  const [result] = (await once(worker, 'message')) as [{ elapsedMs: number; latencies: number[]; enrolled: number }];
  const controllerBusy = performance.eventLoopUtilization(busyBefore).utilization;
  await worker.terminate();
  const enrollRate = result.enrolled / (result.elapsedMs / 1000);

  // Baseline in the same run: the certificate signature alone (CA key in the same local KMS).
  const keys = await harness.core.fleetKeys('bench');
  const signer = await harness.core.signer(keys.caKeyId);
  const { publicKey } = await deviceIdentity();
  const signStarted = performance.now();
  for (let index = 0; index < SIGNATURES; index++) {
    await issueDeviceCertificate({ issuerSigner: signer, issuerCertificate: keys.caCertificateDer, publicKey, fleet: 'bench', deviceId: `baseline-${index}`, notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
  }
  const signRate = SIGNATURES / ((performance.now() - signStarted) / 1000);

  const devices = await harness.core.repository.listDevices({ fleetId: 'bench' });
  if (devices.length !== ENROLLMENTS + CONCURRENCY) throw new Error(`expected ${ENROLLMENTS + CONCURRENCY} devices, found ${devices.length}`);
  printMeasurements(`provisioning throughput, ${ENROLLMENTS} enrollments over gRPC + TLS, ${CONCURRENCY} in flight (local KMS, SQLite WAL)`, [
    ['enrollments/s (end to end)', formatRate(enrollRate)],
    ['enrollment latency p50 / p99', `${percentile(result.latencies, 50).toFixed(1)} ms / ${percentile(result.latencies, 99).toFixed(1)} ms`],
    ['controller thread busy during the run', `${(controllerBusy * 100).toFixed(0)} %`],
    ['baseline: device certificate signature alone, /s', formatRate(signRate)],
    ['cost ratio (enrollment / signature)', `${(signRate / enrollRate).toFixed(2)}x`],
    ['target', `>= ${TARGET_PER_SECOND} enrollments/s: ${enrollRate >= TARGET_PER_SECOND ? 'met' : 'NOT met'}`],
  ]);
} finally {
  await harness.close();
}
