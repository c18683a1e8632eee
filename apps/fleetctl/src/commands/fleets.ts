/**
 * `fleetctl fleets list|create|delete`: the tenants of the controller. Creating one makes its CA,
 * emergency and master keys in the chosen KMS (admin only). Deleting one is a request that a
 * second, different all-fleets admin executes with `fleetctl approve` (every device and unused
 * token revoked, every epoch destroyed; the KMS keys stay, for the operator to delete there).
 *
 * Trust boundary: what is shown comes from the controller (see output.ts for how it is rendered).
 */
import { KeyAlgorithm, keyAlgorithmToProto, type Fleet } from '@fleetkey/protocol';
import { Option, type Command } from 'commander';
import { ALGORITHM_NAMES, MAX_DISPLAY_NAME_BYTES, MAX_REASON_BYTES, boundedText, identifier, limitOption } from '../arguments.js';
import type { Runtime } from '../context.js';
import { collectPages } from '../paging.js';
import { enumName, isoTime, tableTime, type Column } from '../output.js';
import { liftRequestJson } from './lockdown.js';

const ALGORITHMS = KeyAlgorithm as unknown as Readonly<Record<number, string>>;

export function fleetJson(fleet: Fleet): Record<string, unknown> {
  return {
    fleet: fleet.fleet,
    displayName: fleet.displayName,
    createdAt: isoTime(fleet.createdAt),
    kmsProvider: fleet.kmsProvider,
    caAlgorithm: enumName(ALGORITHMS, fleet.caAlgorithm, { upper: true }),
    emergencyAlgorithm: enumName(ALGORITHMS, fleet.emergencyAlgorithm, { upper: true }),
    activeEpoch: fleet.activeEpoch === undefined ? null : { keyId: fleet.activeEpoch.keyId, version: fleet.activeEpoch.version },
    deviceCount: fleet.deviceCount,
    locked: fleet.locked,
  };
}

const FLEET_COLUMNS: readonly Column<Fleet>[] = [
  { header: 'FLEET', value: (f) => f.fleet },
  { header: 'DISPLAY NAME', value: (f) => f.displayName },
  { header: 'DEVICES', value: (f) => String(f.deviceCount) },
  { header: 'KMS', value: (f) => f.kmsProvider },
  { header: 'CA KEY', value: (f) => enumName(ALGORITHMS, f.caAlgorithm, { upper: true }) },
  { header: 'EPOCH', value: (f) => (f.activeEpoch === undefined ? '' : `v${f.activeEpoch.version}`) },
  { header: 'LOCKED', value: (f) => (f.locked ? 'yes' : 'no') },
  { header: 'CREATED', value: (f) => tableTime(f.createdAt) },
];

function algorithmOption(flag: string, what: string): Option {
  return new Option(`${flag} <algorithm>`, `${what} algorithm; default: the controller's (ecdsa-p256)`).choices(Object.keys(ALGORITHM_NAMES));
}

function algorithm(name: string | undefined): KeyAlgorithm {
  const domain = name === undefined ? undefined : ALGORITHM_NAMES[name];
  return domain === undefined ? KeyAlgorithm.UNSPECIFIED : keyAlgorithmToProto(domain);
}

interface CreateOptions {
  readonly displayName?: string;
  readonly kms?: string;
  readonly caAlgorithm?: string;
  readonly emergencyAlgorithm?: string;
}

export function registerFleetCommands(program: Command, runtime: Runtime): void {
  const fleets = program.command('fleets').description('list, create and delete fleets (a fleet is a tenant: nothing crosses fleets)');

  fleets
    .command('list')
    .description('list the fleets your credential may see')
    .addOption(limitOption())
    .action(async (options: { limit?: number }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const rows = await collectPages(async (pageToken, pageSize) => {
          const page = await client.listFleets({ pageToken, pageSize });
          return { items: page.fleets, nextPageToken: page.nextPageToken };
        }, options.limit);
        if (out.json) out.document({ fleets: rows.map(fleetJson) });
        else out.table(FLEET_COLUMNS, rows);
      });
    });

  fleets
    .command('create')
    .description('create a fleet with its CA, emergency and master keys in a KMS (role admin)')
    .argument('<fleet>', 'the new fleet id', identifier('fleet id'))
    .option('--display-name <name>', 'name for people', boundedText(MAX_DISPLAY_NAME_BYTES))
    .option('--kms <provider>', "KMS provider for the fleet's keys (local, aws, azure, gcp, vault); default: the controller's", identifier('KMS provider name'))
    .addOption(algorithmOption('--ca-algorithm', 'fleet CA key'))
    .addOption(algorithmOption('--emergency-algorithm', 'emergency key'))
    .action(async (fleet: string, options: CreateOptions, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const response = await client.createFleet({
          fleet,
          displayName: options.displayName ?? '',
          kmsProvider: options.kms ?? '',
          caAlgorithm: algorithm(options.caAlgorithm),
          emergencyAlgorithm: algorithm(options.emergencyAlgorithm),
        });
        const created = response.fleet;
        if (out.json) out.document({ fleet: created === undefined ? null : fleetJson(created) });
        else out.table(FLEET_COLUMNS, created === undefined ? [] : [created]);
      });
    });

  fleets
    .command('delete')
    .description('ask for a fleet to be deleted; a second, different all-fleets admin approves it with `fleetctl approve` (role admin, all fleets). Table output is the request id alone')
    .argument('<fleet>', 'the fleet to delete', identifier('fleet id'))
    .addOption(new Option('--reason <text>', 'why (required; the revocation reason of every device, and in the audit log)').argParser(boundedText(MAX_REASON_BYTES)).makeOptionMandatory())
    .action(async (fleet: string, options: { reason: string }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const { request } = await client.requestDeleteFleet({ fleet, reason: options.reason });
        if (out.json) {
          out.document({ request: request === undefined ? null : { ...liftRequestJson(request), target: request.target } });
          return;
        }
        if (request === undefined) return;
        out.note(`request to delete ${request.target} recorded, expiring ${tableTime(request.expiresAt)}; another all-fleets admin approves it with: fleetctl approve ${request.liftRequestId} --fleet ${fleet}`);
        out.line(request.liftRequestId);
      });
    });
}
