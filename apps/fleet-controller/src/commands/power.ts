/**
 * The revocation, lockdown and command-delivery power of the controller (issue 6), plugged in by
 * ../serve/fleet-powers.ts: the OperatorService rpcs RevokeDevice, Lockdown, RequestLift,
 * ApproveLift, ListLiftRequests and GetLockdownStatus; the DeviceService rpcs StreamCommands, Ack
 * and ReportStatus; at start, the retained messages the in-memory broker lost (./retained.ts); and,
 * while running, the controller's subscription to the robots' MQTT `up/` topics. Stopping ends every open command stream and the subscription, before the transports
 * close.
 *
 * Trust boundary: composition only; each module states its own.
 */
import { rotateNow } from '../rotation/index.js';
import type { FleetPower, FleetPowerDeps } from '../serve/fleet-powers.js';
import { CommandStreams } from './command-stream.js';
import { commandDeviceRpcs } from './device-rpcs.js';
import { commandOperatorRpcs } from './operator-rpcs.js';
import { createUplink } from './mqtt-uplink.js';
import { republishRetained } from './retained.js';
import type { RevocationRotation } from './revocation.js';

export interface CommandsPowerOptions {
  /** The rotation that follows a revocation; default: the rotation module's `rotateNow`. */
  readonly rotate?: RevocationRotation;
}

export async function createCommandsPower(deps: FleetPowerDeps, options: CommandsPowerOptions = {}): Promise<FleetPower> {
  const streams = new CommandStreams();
  const uplink = createUplink(deps);
  const rotate: RevocationRotation = options.rotate ?? ((input) => rotateNow(deps.core, input));
  return {
    operatorRpcs: commandOperatorRpcs(deps, rotate),
    deviceRpcs: commandDeviceRpcs(deps, streams),
    async start() {
      await republishRetained(deps);
      await uplink.start();
    },
    async stop() {
      streams.closeAll();
      await uplink.stop();
    },
  };
}
