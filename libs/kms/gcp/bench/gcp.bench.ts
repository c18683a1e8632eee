/**
 * Google Cloud KMS adapter benchmark against the in-process emulator (real `@google-cloud/kms`
 * SDK, real gRPC over 127.0.0.1): starts the emulator, builds the bare adapter and runs kms-core's
 * shared `runProviderBenchmarks` (wrap / unwrap / sign, bare vs `withDefaults` with a 5% target,
 * cache hit vs provider call, interleaved A/B). Figures include the emulator's own work on the
 * same shared machine, so they size the adapter and decorators, not Google (whose latency is
 * network-bound). A sign is two RPCs here (ListCryptoKeyVersions for the current version, then
 * AsymmetricSign), because Cloud KMS asymmetric keys have no primary version.
 *
 * Trust boundary: benchmark tooling only; the emulator's keys are throwaway.
 */
import { runProviderBenchmarks } from '@fleetkey/kms-core/testing';
import { startGcpKmsEmulator } from '@fleetkey/kms-emulators';
import { createGcpKmsProvider } from '../src/index.js';
import { tokenAuthClient } from '../src/test-support.js';

const emulator = await startGcpKmsEmulator({ port: 0 });
const bare = createGcpKmsProvider({ projectId: 'fleetkey-bench', location: 'global', keyRing: 'bench', endpoint: emulator.url }, { authClient: tokenAuthClient() });
try {
  await runProviderBenchmarks({
    label: 'GCP',
    bare,
    requests: () => emulator.faults.requests,
    describe: { wrap: 'Encrypt of a CEK + local seal', unwrap: 'Decrypt + local open', getPublicKey: 'ListCryptoKeyVersions + GetPublicKey' },
    signSpecs: [
      { spec: 'ED25519', note: 'data; ListCryptoKeyVersions + AsymmetricSign' },
      { spec: 'ECDSA_P256', compare: false, note: 'digest; the emulator signs digests in bigint JS, so it is emulator-bound' },
    ],
  });
} finally {
  await bare.close();
  await emulator.close();
}
