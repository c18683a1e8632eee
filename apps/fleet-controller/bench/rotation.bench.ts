/**
 * Rotation of 10,000 devices end to end — one KMS data key, the signed manifest, the epoch stored
 * wrapped, and a bundle per device wrapped to its identity key and published retained to the
 * embedded broker — on a controller made by the real `init` (local KMS provider, SQLite WAL).
 * Prints the wall time, the KMS calls of the rotation (the same for 100 devices and for 10,000:
 * constant), and the baseline measured in the same run: `wrapToPublicKey` alone × 10,000.
 * Target: under 5 s on the reference machine (2 cores).
 *
 * As in a running controller, the bundles were published once before the rotation (what `serve`
 * does at start: the embedded broker keeps retained messages in memory only); that cold pass —
 * every certificate parsed, every epoch wrapped — is timed and printed too. The rotation then
 * wraps the new epoch for each device and reuses the epochs each device already holds.
 *
 * Devices are created straight in the store with real certificates from the fleet CA (setup, not
 * timed). Trust boundary: none; throwaway keys in a temp directory.
 */
import { performance } from 'node:perf_hooks';
import { wrapToPublicKey } from '@fleetkey/crypto';
import { keyBundleWrapContext } from '@fleetkey/protocol';
import { printMeasurements } from '@fleetkey/bench';
import { BundleDistributor, registerDistributor } from '../src/rotation/bundles.js';
import { rotateNow } from '../src/rotation/rotate.js';
import { enrollDevices, startRotationHarness } from '../src/rotation/testing.js';
import { devicePublicKey } from '../src/rotation/bundles.js';
import { createFleetWithKeys } from '../src/fleets/create-fleet.js';

const DEVICES = 10_000;
const SMALL_FLEET = 100;
const TARGET_MS = 5_000;

const harness = await startRotationHarness('bench');
try {
  const setupStarted = performance.now();
  // Both fleets made in this process, so neither pays the one-time signer set-up in its rotation.
  for (const fleetId of ['large', 'small']) await createFleetWithKeys(harness.core, { fleetId }, 'bench');
  await enrollDevices(harness.core, 'large', DEVICES);
  await enrollDevices(harness.core, 'small', SMALL_FLEET);
  const setupMs = performance.now() - setupStarted;

  const { broker } = await harness.startBroker();
  const distributor = new BundleDistributor({ core: harness.core, publisher: broker, events: harness.events, logger: harness.logger });
  registerDistributor(harness.core, distributor);

  const kmsCallsOf = async (fleetId: string): Promise<{ total: number; generateDataKey: number; wallMs: number; published: number }> => {
    const before = harness.kmsSink.summary();
    const started = performance.now();
    const rotation = await rotateNow(harness.core, { fleetId, actor: 'bench', reason: 'benchmark' });
    const report = await rotation.distribution;
    const wallMs = performance.now() - started;
    if (!report.complete || report.failed !== 0) throw new Error(`distribution incomplete: ${JSON.stringify(report)}`);
    const after = harness.kmsSink.summary();
    const calls = (summary: typeof after, operation?: string) => summary.filter((s) => operation === undefined || s.operation === operation).reduce((sum, s) => sum + s.calls, 0);
    return { total: calls(after) - calls(before), generateDataKey: calls(after, 'generateDataKey') - calls(before, 'generateDataKey'), wallMs, published: report.published };
  };

  // What serve does at start: publish every bundle once (cold).
  const coldStarted = performance.now();
  const cold = await distributor.distribute('large', { kind: 'fleet' });
  const coldMs = performance.now() - coldStarted;
  await distributor.distribute('small', { kind: 'fleet' });
  if (cold.published !== DEVICES) throw new Error(`published ${cold.published} bundles at start, expected ${DEVICES}`);

  const small = await kmsCallsOf('small');
  const large = await kmsCallsOf('large');
  if (large.published !== DEVICES) throw new Error(`published ${large.published} bundles, expected ${DEVICES}`);

  // Baseline in the same run: the per-device public-key wrap alone, one epoch key, 10,000 devices.
  const devices = await harness.repository.listDevices({ fleetId: 'large' });
  const epochKey = new Uint8Array(32).fill(7);
  const wrapStarted = performance.now();
  for (const device of devices) {
    wrapToPublicKey({ recipient: devicePublicKey(device), provider: 'fleetkey', keyId: 'communication/large/fleet', keyVersion: 2, plaintext: epochKey, context: keyBundleWrapContext(device.deviceId) });
  }
  const wrapMs = performance.now() - wrapStarted;

  printMeasurements(`rotation of ${DEVICES} devices: one data key, manifest signed, bundles wrapped and published retained (local KMS, SQLite WAL, embedded broker)`, [
    ['wall time (rotateNow + distribution)', `${(large.wallMs / 1000).toFixed(2)} s`],
    ['bundles published', String(large.published)],
    ['KMS calls, 10,000 devices (generateDataKey)', `${large.total} (${large.generateDataKey})`],
    [`KMS calls, ${SMALL_FLEET} devices (generateDataKey)`, `${small.total} (${small.generateDataKey})`],
    ['baseline: wrapToPublicKey alone x 10,000', `${(wrapMs / 1000).toFixed(2)} s`],
    ['cost ratio (rotation / one wrap per device)', `${(large.wallMs / wrapMs).toFixed(2)}x`],
    ['start-up publication of the same bundles (cold: 2 wraps per device)', `${(coldMs / 1000).toFixed(2)} s`],
    ['setup (devices with real certificates, not timed)', `${(setupMs / 1000).toFixed(1)} s`],
    ['target', `< ${TARGET_MS / 1000} s, KMS calls constant: ${large.wallMs < TARGET_MS && large.total === small.total ? 'met' : 'NOT met'}`],
  ]);
  await distributor.stop();
} finally {
  await harness.close();
}
