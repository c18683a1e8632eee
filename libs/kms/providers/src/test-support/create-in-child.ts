/**
 * Test support: run in a child process. `local <dir>` creates the local provider through the
 * registry (config from environment variables) and wraps once; `vault` creates the vault provider through
 * the registry (the positive control showing the recorder sees a vendor SDK load). Prints `ok` when done.
 *
 * Trust boundary: test-only.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createKmsProvider, createKmsProviderFromEnv } from '../index.js';

const [mode, dir] = process.argv.slice(2);
if (mode === 'local') {
  const passphraseFile = path.join(dir!, 'pass');
  writeFileSync(passphraseFile, 'child process passphrase\n', { mode: 0o600 });
  const provider = await createKmsProviderFromEnv({
    FLEETKEY_LOCAL_KMS_PATH: path.join(dir!, 'keys.fkl'),
    FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: passphraseFile,
  });
  const { keyId } = await provider.createKey({ spec: 'AES_256' });
  await provider.unwrap({ envelope: await provider.wrap({ keyId, plaintext: Uint8Array.of(1) }) });
  await provider.close();
} else {
  // Positive control: the vault line of the registry loads the vault adapter and node-vault
  // (creating the provider makes no request, so no Vault needs to be running).
  const provider = await createKmsProvider({ provider: 'vault', vault: { address: 'http://127.0.0.1:9', token: 'not-a-real-token' } }, { source: 'env' });
  await provider.close();
}
process.stdout.write('ok\n');
// Exit now: kms-core's withTimeout (as of this writing) leaves its deadline timer armed after the
// last call settles, which would keep this process alive for the whole FLEETKEY_KMS_TIMEOUT (30 s).
process.exit(0);
