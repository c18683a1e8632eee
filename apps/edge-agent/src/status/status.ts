/**
 * `edge-agent status`: what the robot's keystore says, read directly, so it answers whether or
 * not `serve` runs (WAL lets both open the store). The JSON names are the issue's contract:
 * provisioned, fleet, deviceId, certificateNotAfter, epochs [{version, state, notAfter}], locked,
 * lastContact, offlineSince.
 *
 * Trust boundary: reads the local keystore only; prints public facts (ids, dates, states), never
 * key material, certificates or the revocation list.
 */
import { X509Certificate } from 'node:crypto';
import { formatKeyId } from '@fleetkey/key-types';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { inspectDataDir } from '../provisioning/data-dir.js';
import { DataDirConflict } from '../provisioning/errors.js';

export interface EpochStatus {
  readonly version: number;
  readonly state: string;
  readonly notAfter: string | null;
}

/** The `-o json` document. */
export interface AgentStatus {
  readonly provisioned: boolean;
  readonly fleet: string | null;
  readonly deviceId: string | null;
  readonly certificateNotAfter: string | null;
  readonly epochs: readonly EpochStatus[];
  readonly locked: boolean;
  readonly lastContact: string | null;
  readonly offlineSince: string | null;
}

/** Table-only details that the JSON contract does not carry. */
export interface StatusDetails {
  readonly group: string | null;
  readonly controller: string | null;
  readonly broker: string | null;
  /** The key id of each epoch, in the order of `epochs`. */
  readonly epochKeyIds: readonly string[];
}

export const NOT_PROVISIONED: AgentStatus = Object.freeze({
  provisioned: false,
  fleet: null,
  deviceId: null,
  certificateNotAfter: null,
  epochs: [],
  locked: false,
  lastContact: null,
  offlineSince: null,
});

export interface ReadStatusOptions {
  readonly dataDir: string;
  readonly passphrase?: Uint8Array;
  readonly now?: () => Date;
}

/**
 * Reads the status. A missing or empty data directory is "not provisioned", not an error.
 * @throws DataDirConflict (the path holds something else) | StoreKeyInvalid | KeyFileInsecure |
 *   StoreCorrupt.
 */
export async function readStatus(options: ReadStatusOptions): Promise<{ status: AgentStatus; details: StatusDetails }> {
  const paths = agentPaths(options.dataDir);
  const kind = await inspectDataDir(paths);
  if (kind === 'absent' || kind === 'empty') return { status: NOT_PROVISIONED, details: { group: null, controller: null, broker: null, epochKeyIds: [] } };
  if (kind === 'foreign') throw new DataDirConflict(`${paths.root} is not an agent data directory`);
  const protector = agentProtector(paths, options.passphrase === undefined ? {} : { passphrase: options.passphrase });
  try {
    const state = await AgentState.open(paths.keystore, protector, options.now === undefined ? {} : { now: options.now });
    try {
      const identity = state.identity();
      if (identity === undefined) return { status: NOT_PROVISIONED, details: { group: null, controller: null, broker: null, epochKeyIds: [] } };
      const certificate = new X509Certificate(state.deviceCertificate());
      const epochs = state.epochs();
      const lock = state.lock();
      const contact = state.contact();
      const endpoints = state.endpoints();
      return {
        status: {
          provisioned: true,
          fleet: identity.fleet,
          deviceId: identity.deviceId,
          certificateNotAfter: new Date(certificate.validTo).toISOString(),
          epochs: epochs.map((epoch) => ({ version: epoch.keyId.version, state: epoch.state, notAfter: epoch.notAfter?.toISOString() ?? null })),
          locked: lock.locked,
          lastContact: contact.lastContact?.toISOString() ?? null,
          offlineSince: contact.offlineSince?.toISOString() ?? null,
        },
        details: { group: identity.group, controller: endpoints.controller, broker: endpoints.broker, epochKeyIds: epochs.map((epoch) => formatKeyId(epoch.keyId)) },
      };
    } finally {
      state.close();
    }
  } finally {
    (protector as { dispose?: () => void }).dispose?.();
  }
}

/** The status for people: one `name: value` line each, epochs one per line. */
export function renderStatusText(status: AgentStatus, details: StatusDetails): string {
  if (!status.provisioned) return 'provisioned:          no\n';
  const lines = [
    ['provisioned', 'yes'],
    ['fleet', status.fleet ?? ''],
    ['group', details.group ?? '(none)'],
    ['device id', status.deviceId ?? ''],
    ['certificate expires', status.certificateNotAfter ?? ''],
    ['locked', status.locked ? 'yes' : 'no'],
    ['last contact', status.lastContact ?? 'never'],
    ['offline since', status.offlineSince ?? '-'],
    ['controller', details.controller ?? ''],
    ['broker', details.broker ?? ''],
  ].map(([name, value]) => `${`${name}:`.padEnd(22)}${value}`);
  lines.push('epochs:');
  if (status.epochs.length === 0) lines.push('  (none)');
  status.epochs.forEach((epoch, index) => {
    lines.push(`  ${details.epochKeyIds[index] ?? ''}@${epoch.version}  ${epoch.state.padEnd(8)}  not after ${epoch.notAfter ?? '-'}`);
  });
  return `${lines.join('\n')}\n`;
}
