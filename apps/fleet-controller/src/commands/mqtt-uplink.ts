/**
 * The controller's side of the robots' MQTT `up/` topics: acknowledgements
 * (`fleetkey/v1/+/devices/+/up/acks`) and status reports (`.../up/status`) of every fleet, fleets
 * created while running included.
 *
 * Precondition (with a test of the same name): fleet and device come only from the topic. The
 * broker's ACL lets a device publish on its own `up/` topics and nowhere else, so the topic names
 * the publisher; a body naming another fleet or device is a forgery and is dropped and logged,
 * never applied to either device. Payloads are decoded strictly (the codec's bounds of the topic:
 * 4 KiB acks, 16 KiB status), and a device that is unknown or no longer active changes nothing.
 *
 * Messages are handled one at a time in arrival order (so a later ack never overtakes an earlier
 * one); at most MAX_PENDING_UPLINK_MESSAGES wait, and beyond that new ones are dropped with a
 * warning: the robot's next ack or status, or its gRPC path, carries the same facts again.
 *
 * Trust boundary: topic and payload are robot input that passed only the broker's ACL.
 */
import { isFleetkeyError } from '@fleetkey/key-types';
import { AckSchema, DeviceStatusReportSchema, MAX_ACK_BYTES, MAX_STATUS_REPORT_BYTES, TOPIC_ROOT, decodeMessage, parseTopic } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import type { FleetPublisher } from '../fleet-events/index.js';
import type { Logger } from '../runtime/logger.js';
import { applyDeviceAck } from './acks.js';

/** Every fleet's device acknowledgements. */
export const DEVICE_ACKS_FILTER = `${TOPIC_ROOT}/+/devices/+/up/acks`;
/** Every fleet's device status reports. */
export const DEVICE_STATUS_FILTER = `${TOPIC_ROOT}/+/devices/+/up/status`;
/** Messages waiting to be handled before new ones are dropped. */
export const MAX_PENDING_UPLINK_MESSAGES = 1024;

export interface UplinkDeps {
  readonly core: ControllerCore;
  readonly publisher: FleetPublisher;
  readonly logger: Logger;
}

export interface Uplink {
  /** Subscribes to both filters. */
  start(): Promise<void>;
  /** Unsubscribes and lets the messages already queued finish. */
  stop(): Promise<void>;
}

export function createUplink(deps: UplinkDeps): Uplink {
  const { core, publisher, logger } = deps;
  const unsubscribes: (() => Promise<void>)[] = [];
  let pending = 0;
  let chain: Promise<void> = Promise.resolve();

  async function handle(topic: string, payload: Uint8Array): Promise<void> {
    let parsed;
    try {
      parsed = parseTopic(topic);
    } catch {
      return;
    }
    if (parsed.kind !== 'device-acks' && parsed.kind !== 'device-status') return;
    const { fleet, device: deviceId } = parsed;
    const body =
      parsed.kind === 'device-acks'
        ? { kind: 'ack' as const, message: decodeMessage(AckSchema, payload, { maxBytes: MAX_ACK_BYTES }) }
        : { kind: 'status' as const, message: decodeMessage(DeviceStatusReportSchema, payload, { maxBytes: MAX_STATUS_REPORT_BYTES }) };
    // Precondition: fleet and device come from the topic; a body naming anyone else is dropped.
    if (body.message.fleet !== fleet || body.message.deviceId !== deviceId) {
      logger.warn({ fleet, deviceId, claimedFleet: body.message.fleet, claimedDevice: body.message.deviceId, topic }, 'mqtt message naming another device dropped');
      return;
    }
    const device = await core.repository.getDevice(fleet, deviceId);
    if (device === undefined || device.status !== 'active') {
      logger.warn({ fleet, deviceId }, 'mqtt message from an unknown or revoked device dropped');
      return;
    }
    if (body.kind === 'ack') await applyDeviceAck(core, device, body.message, 'mqtt');
    else await core.repository.touchDevice(fleet, deviceId);
  }

  function onMessage(topic: string, payload: Uint8Array): void {
    if (pending >= MAX_PENDING_UPLINK_MESSAGES) {
      logger.warn({ bound: MAX_PENDING_UPLINK_MESSAGES }, 'mqtt uplink backlog full; message dropped');
      return;
    }
    pending += 1;
    // Copied: the broker may reuse its buffer once the handler returns.
    const bytes = new Uint8Array(payload);
    chain = chain
      .then(() => handle(topic, bytes))
      .catch((error: unknown) => {
        if (isFleetkeyError(error)) logger.warn({ err: error, topic }, 'mqtt uplink message refused');
        else logger.error({ err: error, topic }, 'mqtt uplink message failed');
      })
      .finally(() => {
        pending -= 1;
      });
  }

  return {
    async start() {
      unsubscribes.push(await publisher.subscribe(DEVICE_ACKS_FILTER, onMessage));
      unsubscribes.push(await publisher.subscribe(DEVICE_STATUS_FILTER, onMessage));
    },
    async stop() {
      for (const unsubscribe of unsubscribes.splice(0)) await unsubscribe().catch(() => undefined);
      await chain;
    },
  };
}
