/**
 * Local provider benchmark on a real passphrase-encrypted key file in a temp dir: builds the bare
 * provider and runs kms-core's shared `runProviderBenchmarks` (wrap / unwrap of 32 bytes — one
 * stat of the key file + two AES-256-GCM envelopes — and ECDSA P-256 sign, bare vs `withDefaults`
 * with a 5% target, cache hit vs provider call, interleaved A/B). Local-specific: the wrap table
 * also times `sealEnvelope` of 32 bytes in memory, the raw work, to show what the stat costs. No
 * request counter exists here, so the cache-hit check is skipped.
 *
 * Trust boundary: benchmark tooling only; throwaway keys, the temp dir is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sealEnvelope } from '@fleetkey/crypto';
import { runProviderBenchmarks } from '@fleetkey/kms-core/testing';
import { localKmsProvider } from '../src/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetkey-kms-local-bench-'));
try {
  const bare = await localKmsProvider({ path: path.join(dir, 'keys.fkl'), passphrase: 'benchmark passphrase', create: true });
  const rawKey = new Uint8Array(randomBytes(32));
  try {
    await runProviderBenchmarks({
      label: 'local',
      bare,
      describe: { wrap: 'stat of the key file + two AES-256-GCM envelopes', unwrap: 'stat + two opens', getPublicKey: 'stat of the key file' },
      signSpecs: [{ spec: 'ECDSA_P256' }],
      time: 1500,
      extraWrapCases: ({ plaintext, context }) => [
        { name: 'sealEnvelope only (no file check)', fn: () => sealEnvelope({ key: rawKey, provider: 'local', keyId: 'k', keyVersion: 1, plaintext, context }) },
      ],
    });
  } finally {
    await bare.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// kms-core's withTimeout keeps its timer armed after the last call; do not wait 30 s for it.
process.exit(0);
