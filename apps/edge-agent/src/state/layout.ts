/**
 * Where the agent keeps its state: one SecureKeyStore in the data directory, protected by a key
 * file beside it (or by a passphrase). The layout is the same in the staging directory that
 * provisioning builds and renames into place, so paths are always derived from a root.
 *
 * Trust boundary: paths come from the command line; the files behind them are checked by the
 * keystore (key file mode, sidecar format) when they are opened.
 */
import { join, resolve } from 'node:path';
import { fileProtector, passphraseProtector, type StoreKeyProtector } from '@fleetkey/keystore';

/** The keystore database (plus `agent.db.keyinfo.json` and the WAL files beside it). */
export const KEYSTORE_FILE = 'agent.db';
/** The 32-byte store key of the `file` protector, mode 0600. Absent with a passphrase. */
export const KEY_FILE = 'agent.key';
/** Mode of the data directory: the keystore and its key file are the robot's alone. */
export const DATA_DIR_MODE = 0o700;

export interface AgentPaths {
  readonly root: string;
  readonly keystore: string;
  readonly keyFile: string;
}

export function agentPaths(dataDir: string): AgentPaths {
  if (typeof dataDir !== 'string' || dataDir.length === 0) throw new TypeError('"dataDir" expected a non-empty path');
  const root = resolve(dataDir);
  return Object.freeze({ root, keystore: join(root, KEYSTORE_FILE), keyFile: join(root, KEY_FILE) });
}

export interface ProtectorChoice {
  /** When given, the store key is wrapped under this passphrase (scrypt) instead of a key file. */
  readonly passphrase?: Uint8Array;
}

/**
 * The protector for a data directory: a key file in it by default (a TPM or PKCS#11 protector is
 * future work), or a passphrase.
 */
export function agentProtector(paths: AgentPaths, choice: ProtectorChoice = {}): StoreKeyProtector {
  return choice.passphrase === undefined ? fileProtector({ keyFile: paths.keyFile }) : passphraseProtector({ passphrase: choice.passphrase });
}
