/**
 * Vault Transit adapter benchmark against the in-process emulator, through node-vault over HTTP:
 * starts the emulator, builds the bare adapter and runs kms-core's shared `runProviderBenchmarks`
 * (wrap / unwrap / ECDSA P-256 sign, bare vs `withDefaults` with a 5% target, cache hit vs
 * provider call, interleaved A/B). Vault-specific: the wrap table also times a raw node-vault
 * `encryptData` of a 32-byte key (no envelope), to show what the adapter adds over the client.
 *
 * Trust boundary: benchmark tooling only; the emulator's keys and token are throwaway.
 */
import { randomBytes } from 'node:crypto';
import { runProviderBenchmarks } from '@fleetkey/kms-core/testing';
import { startVaultEmulator } from '@fleetkey/kms-emulators';
import nodeVault from 'node-vault';
import { createVaultKmsProvider } from '../src/index.js';

const vault = await startVaultEmulator({ port: 0, disableUpsert: true });
const bare = createVaultKmsProvider({ endpoint: vault.url, token: vault.rootToken });
const raw = nodeVault({ endpoint: vault.url, token: vault.rootToken, noCustomHTTPVerbs: true, debug: () => undefined });
const cek = randomBytes(32).toString('base64');
try {
  await runProviderBenchmarks({
    label: 'Vault',
    bare,
    requests: () => vault.faults.requests,
    describe: { wrap: 'transit encrypt + local seal, HTTP', unwrap: 'transit decrypt + local open, HTTP', getPublicKey: 'GET transit/keys/:name' },
    signSpecs: [{ spec: 'ECDSA_P256', note: 'prehashed, DER' }],
    time: 700,
    iterations: 32,
    abRounds: 200,
    extraWrapCases: ({ aesKeyId }) => [{ name: 'raw node-vault encryptData (no envelope)', fn: () => raw.encryptData({ name: aesKeyId, plaintext: cek }) }],
  });
} finally {
  await bare.close();
  await vault.close();
}
