/**
 * Provisioning throughput: enrollments per second end to end — a real gRPC client over TLS to
 * ProvisioningService.Enroll on a controller made by the real `init` (local KMS provider, SQLite
 * in WAL mode) — next to the cost of the one thing every enrollment must do, signing the device
 * certificate with the KMS-held fleet CA key, measured in the same run on the same core.
 * Target: at least 200 enrollments/s on the reference machine (2 cores).
 *
 * Robot-side work (making identity keys and CSRs) is done before timing: in the field each robot
 * does it on its own CPU, not the controller's.
 *
 * Trust boundary: none; throwaway keys in a temp directory.
 */
import { performance } from 'node:perf_hooks';
import { issueDeviceCertificate } from '@fleetkey/crypto';
import { formatRate, percentile, printMeasurements } from '@fleetkey/bench';
import { deviceIdentity, startProvisioningHarness } from '../src/provisioning/testing.js';

const ENROLLMENTS = 600;
const CONCURRENCY = 16;
const SIGNATURES = 600;
const TARGET_PER_SECOND = 200;

const harness = await startProvisioningHarness('bench');
try {
  const robots = await Promise.all(
    Array.from({ length: ENROLLMENTS + CONCURRENCY }, async (_, index) => ({
      deviceId: `robot-${index}`,
      identity: await deviceIdentity('ECDSA_P256', `robot-${index}`),
      token: (await harness.mintToken()).token,
    })),
  );
  const client = harness.provisioningClient();
  const enrollOne = (robot: (typeof robots)[number]) => client.enroll({ enrollmentToken: robot.token, csr: robot.identity.csr, deviceId: robot.deviceId, serialNumber: `SN-${robot.deviceId}` });

  // Warm-up: TLS session, KMS signer, epoch key cache, JIT.
  await Promise.all(robots.slice(0, CONCURRENCY).map(enrollOne));
  const queue = robots.slice(CONCURRENCY);
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let robot = queue.shift(); robot !== undefined; robot = queue.shift()) {
        const t0 = performance.now();
        await enrollOne(robot);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const enrollSeconds = (performance.now() - started) / 1000;
  const enrollRate = ENROLLMENTS / enrollSeconds;

  // Baseline in the same run: the certificate signature alone (CA key in the same local KMS).
  const keys = await harness.core.fleetKeys('bench');
  const signer = await harness.core.signer(keys.caKeyId);
  const publicKey = robots[0]!.identity.publicKey;
  const signStarted = performance.now();
  for (let index = 0; index < SIGNATURES; index++) {
    await issueDeviceCertificate({ issuerSigner: signer, issuerCertificate: keys.caCertificateDer, publicKey, fleet: 'bench', deviceId: `baseline-${index}`, notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
  }
  const signRate = SIGNATURES / ((performance.now() - signStarted) / 1000);

  const devices = await harness.core.repository.listDevices({ fleetId: 'bench' });
  if (devices.length !== ENROLLMENTS + CONCURRENCY) throw new Error(`expected ${ENROLLMENTS + CONCURRENCY} devices, found ${devices.length}`);
  printMeasurements(`provisioning throughput, ${ENROLLMENTS} enrollments over gRPC + TLS, ${CONCURRENCY} in flight (local KMS, SQLite WAL)`, [
    ['enrollments/s (end to end)', formatRate(enrollRate)],
    ['enrollment latency p50 / p99', `${percentile(latencies, 50).toFixed(1)} ms / ${percentile(latencies, 99).toFixed(1)} ms`],
    ['baseline: device certificate signature alone, /s', formatRate(signRate)],
    ['cost ratio (enrollment / signature)', `${(signRate / enrollRate).toFixed(2)}x`],
    ['target', `>= ${TARGET_PER_SECOND} enrollments/s: ${enrollRate >= TARGET_PER_SECOND ? 'met' : 'NOT met'}`],
  ]);
} finally {
  await harness.close();
}
