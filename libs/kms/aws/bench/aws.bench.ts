/**
 * AWS adapter benchmark against the in-process emulator (real SDK, real HTTP on 127.0.0.1):
 * starts the emulator, builds the bare adapter and runs kms-core's shared
 * `runProviderBenchmarks` (wrap / unwrap / sign, bare vs `withDefaults` with a 5% target, cache hit
 * vs provider call, interleaved A/B). Figures include the emulator's own work on the same 2-core
 * machine, so they size the adapter and decorators, not AWS (whose latency is network-bound).
 *
 * Trust boundary: benchmark tooling only; the emulator's keys and credentials are throwaway.
 */
import { runProviderBenchmarks } from '@fleetkey/kms-core/testing';
import { AWS_TEST_CREDENTIALS, startAwsKmsEmulator } from '@fleetkey/kms-emulators';
import { createAwsKmsProvider } from '../src/index.js';

const emulator = await startAwsKmsEmulator({ port: 0 });
const bare = createAwsKmsProvider({ region: emulator.region, endpoint: emulator.url, credentials: { ...AWS_TEST_CREDENTIALS } });
try {
  await runProviderBenchmarks({
    label: 'AWS',
    bare,
    requests: () => emulator.faults.requests,
    describe: { wrap: 'GenerateDataKey + local seal', unwrap: 'Decrypt + local open', getPublicKey: 'GetPublicKey' },
    signSpecs: [
      { spec: 'ED25519', note: 'RAW' },
      { spec: 'ECDSA_P256', compare: false, note: 'DIGEST; the emulator signs digests in bigint JS, so it is emulator-bound' },
    ],
  });
} finally {
  await bare.close();
  await emulator.close();
}
