/**
 * Vault Transit emulator: `startVaultEmulator({ port: 0 })` gives `{ url, port, rootToken, faults,
 * close() }`, speaking Vault's HTTP API with `X-Vault-Token` so node-vault drives it unchanged.
 * Names are Vault-prefixed because the emulators' barrel re-exports every vendor together.
 *
 * Trust boundary: test and demo tooling only; never a production path.
 */
export { startVaultEmulator, MAX_REQUEST_BYTES as MAX_VAULT_REQUEST_BYTES, EMULATED_VAULT_VERSION } from './server.js';
export type { VaultEmulator, VaultEmulatorOptions } from './server.js';
export type { Capability as VaultCapability, PolicyRule as VaultPolicyRule, TokenPolicy as VaultTokenPolicy } from './acl.js';
export { TRANSIT_KEY_TYPES } from './keys.js';
export type { TransitKeyType } from './keys.js';
