/**
 * The KmsProvider conformance suite against the Google Cloud KMS emulator, through the real
 * `@google-cloud/kms` SDK, with the emulator's FaultInjector for the retry / timeout / failover /
 * cache tests.
 *
 * A Cloud KMS key version signs with exactly one RSA padding, fixed at creation
 * (RSA_SIGN_PKCS1_* or RSA_SIGN_PSS_*), so the suite is told that an RSA key of this instance
 * (configured for PKCS#1 v1.5) signs with RSA_PKCS1_SHA256 only; PSS keys are covered in
 * provider.spec.ts ("RSA"). Cloud KMS has no P-521.
 */
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import { signatureAlgorithmsFor } from '@fleetkey/crypto';
import { runKmsProviderConformance } from '@fleetkey/kms-core/testing';
import { emulatedGcp } from './test-support.js';

runKmsProviderConformance({
  name: 'gcp (emulator)',
  unsupported: ['ECDSA_P521'],
  signatureAlgorithms: (spec): readonly SignatureAlgorithm[] => (spec.startsWith('RSA_') ? ['RSA_PKCS1_SHA256'] : signatureAlgorithmsFor(spec)),
  create: async () => {
    const gcp = await emulatedGcp();
    return { provider: gcp.provider({ rsaSignaturePadding: 'PKCS1' }), faults: gcp.emulator.faults, cleanup: gcp.cleanup };
  },
});
