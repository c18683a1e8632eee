/**
 * `fleetctl devices list|show`: the enrolled robots of a fleet as the controller knows them.
 * `devices show -o json` carries the device certificate as PEM (`certificatePem`), and
 * `devices show --pem` prints that PEM alone, for `| openssl x509 -noout -text` or `openssl verify`.
 *
 * Trust boundary: everything shown comes from the controller; the certificate is public and is
 * passed through, not parsed.
 */
import { EXIT } from '@fleetkey/cli';
import { DeviceState, KeyState, type Device } from '@fleetkey/protocol';
import { Option, type Command } from 'commander';
import { identifier, limitOption } from '../arguments.js';
import type { Runtime } from '../context.js';
import { collectPages } from '../paging.js';
import { certificatePem, enumName, isoTime, jsonInteger, tableTime, type Column } from '../output.js';

const STATES = DeviceState as unknown as Readonly<Record<number, string>>;
const KEY_STATES = KeyState as unknown as Readonly<Record<number, string>>;

const STATE_FILTERS = Object.freeze({ active: DeviceState.ACTIVE, revoked: DeviceState.REVOKED });

export function deviceJson(device: Device): Record<string, unknown> {
  return {
    fleet: device.fleet,
    deviceId: device.deviceId,
    group: device.group,
    serialNumber: device.serialNumber,
    hardwareModel: device.hardwareModel,
    state: enumName(STATES, device.state),
    locked: device.locked,
    enrolledAt: isoTime(device.enrolledAt),
    lastContact: isoTime(device.lastContact),
    revokedAt: isoTime(device.revokedAt),
    agentVersion: device.agentVersion,
    certificateSerial: device.certificateSerial,
    certificateNotAfter: isoTime(device.certificateNotAfter),
    lastCommandSequence: jsonInteger(device.lastCommandSequence),
    lastKeyBundleSequence: jsonInteger(device.lastKeyBundleSequence),
    epochs: device.epochs.map((epoch) => ({
      keyId: epoch.key?.keyId ?? '',
      version: epoch.key?.version ?? 0,
      state: enumName(KEY_STATES, epoch.state),
      notAfter: isoTime(epoch.notAfter),
    })),
    certificatePem: device.certificate.length === 0 ? null : certificatePem(device.certificate),
  };
}

const DEVICE_COLUMNS: readonly Column<Device>[] = [
  { header: 'DEVICE', value: (d) => d.deviceId },
  { header: 'GROUP', value: (d) => d.group },
  { header: 'STATE', value: (d) => enumName(STATES, d.state) },
  { header: 'LOCKED', value: (d) => (d.locked ? 'yes' : 'no') },
  { header: 'AGENT', value: (d) => d.agentVersion },
  { header: 'LAST CONTACT', value: (d) => tableTime(d.lastContact) },
  { header: 'CERT EXPIRES', value: (d) => tableTime(d.certificateNotAfter) },
];

function deviceFields(device: Device): [string, string][] {
  return [
    ['Device', device.deviceId],
    ['Fleet', device.fleet],
    ['Group', device.group],
    ['State', enumName(STATES, device.state)],
    ['Locked', device.locked ? 'yes' : 'no'],
    ['Serial number', device.serialNumber],
    ['Hardware model', device.hardwareModel],
    ['Agent version', device.agentVersion],
    ['Enrolled', tableTime(device.enrolledAt)],
    ['Last contact', tableTime(device.lastContact)],
    ['Revoked', tableTime(device.revokedAt)],
    ['Certificate serial', device.certificateSerial],
    ['Certificate expires', tableTime(device.certificateNotAfter)],
    ['Last command', device.lastCommandSequence.toString()],
    ['Last key bundle', device.lastKeyBundleSequence.toString()],
    ...device.epochs.map((epoch): [string, string] => ['Epoch', `${epoch.key?.keyId ?? ''} v${epoch.key?.version ?? 0} ${enumName(KEY_STATES, epoch.state)}`]),
  ];
}

export function registerDeviceCommands(program: Command, runtime: Runtime): void {
  const devices = program.command('devices').description("see a fleet's enrolled robots");

  devices
    .command('list')
    .description("list a fleet's devices (roles admin, operator, auditor)")
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .option('--group <group>', 'only devices of this group', identifier('group id'))
    .addOption(new Option('--state <state>', 'only devices in this state').choices(Object.keys(STATE_FILTERS)))
    .addOption(limitOption())
    .action(async (options: { fleet: string; group?: string; state?: keyof typeof STATE_FILTERS; limit?: number }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const state = options.state === undefined ? DeviceState.UNSPECIFIED : STATE_FILTERS[options.state];
        const rows = await collectPages(async (pageToken, pageSize) => {
          const page = await client.listDevices({ fleet: options.fleet, group: options.group ?? '', state, pageToken, pageSize });
          return { items: page.devices, nextPageToken: page.nextPageToken };
        }, options.limit);
        if (out.json) out.document({ devices: rows.map(deviceJson) });
        else out.table(DEVICE_COLUMNS, rows);
      });
    });

  devices
    .command('show')
    .description('show one device; -o json includes its certificate as PEM')
    .argument('<device-id>', 'the device id', identifier('device id'))
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .option('--pem', 'print only the device certificate, PEM')
    .action(async (deviceId: string, options: { fleet: string; pem?: boolean }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const { device } = await client.getDevice({ fleet: options.fleet, deviceId });
        if (options.pem === true) {
          if (device === undefined || device.certificate.length === 0) {
            out.note(`the controller sent no certificate for device ${deviceId}`);
            runtime.exitCode = EXIT.failure;
            return;
          }
          out.line(certificatePem(device.certificate));
          return;
        }
        if (out.json) out.document({ device: device === undefined ? null : deviceJson(device) });
        else out.fields(device === undefined ? [] : deviceFields(device));
      });
    });
}
