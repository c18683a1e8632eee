/**
 * The shared KmsProvider conformance suite against the AWS adapter, driving the real
 * @aws-sdk/client-kms against the in-process AWS KMS emulator (a fresh one per instance, so the
 * failover test has a truly separate second KMS). AWS KMS has every port spec, including Ed25519
 * (ECC_NIST_EDWARDS25519), and cannot rotate asymmetric keys.
 */
import { runKmsProviderConformance } from '@fleetkey/kms-core/testing';
import { AWS_TEST_CREDENTIALS, startAwsKmsEmulator } from '@fleetkey/kms-emulators';
import { createAwsKmsProvider } from './index.js';

runKmsProviderConformance({
  name: 'aws (emulator)',
  rotatesSigningKeys: false,
  create: async () => {
    const emulator = await startAwsKmsEmulator({ port: 0 });
    const provider = createAwsKmsProvider({ region: emulator.region, endpoint: emulator.url, credentials: { ...AWS_TEST_CREDENTIALS } });
    return {
      provider,
      faults: emulator.faults,
      cleanup: async () => {
        await provider.close();
        await emulator.close();
      },
    };
  },
});
