/**
 * The robot's link to its fleet (DESIGN.md flows 2, 3 and 5): the controller over gRPC with mutual
 * TLS (./controller-session.ts) and the broker over MQTT with TLS (./broker-session.ts), two
 * independent connections, each reconnected forever with exponential backoff and full jitter. The
 * robot works without either: everything it needs is in its keystore.
 *
 * What arrives on either path — signed commands, key bundles, revocation lists — is applied one
 * at a time, in arrival order (./serial-queue.ts), by ./commands.ts and ./bundles.ts, and
 * acknowledged over gRPC when the controller is connected, over MQTT (`up/acks`) otherwise (the
 * controller accepts both). After a LIFT or a FETCH_KEYS the current bundle is fetched. A REVOKE,
 * a signed revocation list naming this robot, or PERMISSION_DENIED from the controller ends the
 * link: no more reconnecting, logged once (the first two also lock and shred, signed as they are).
 *
 * Every `statusIntervalMs` the robot reports its status (ReportStatus, or `up/status`) and checks
 * whether its certificate is due for renewal (./renewal.ts; at most one attempt per
 * RENEWAL_RETRY_MS); a renewed certificate reconnects both connections with it. Contact: every successful exchange counts (core.recordContact); when
 * neither connection is up the robot is offline (core.recordOffline).
 *
 * Trust boundary: the network. Nothing received is trusted before ./commands.ts or ./bundles.ts
 * verified it; no payload, key or token reaches a log line; no exception from a payload reaches
 * the mqtt or grpc event loops (every handler catches).
 */
import { credentials } from '@grpc/grpc-js';
import type { SecureContext } from 'node:tls';
import { AckKind, AckOutcome, AckSchema, deviceAcksTopic, deviceStatusTopic, encodeMessage, DeviceStatusReportSchema, MAX_ACK_BYTES, MAX_STATUS_REPORT_BYTES, type Ack, type KeyBundle, type SignedCommand, type SignedRevocationList } from '@fleetkey/protocol';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import { createBackoff, type BackoffOptions } from './backoff.js';
import { applyKeyBundle, applyRevocationList } from './bundles.js';
import { BrokerSession, type BrokerPayloadKind } from './broker-session.js';
import { REVOKED_LOCK_SCOPE, applySignedCommand } from './commands.js';
import { ControllerSession, type ControllerItem, type DeviceClient } from './controller-session.js';
import { buildAck, buildStatusReport } from './messages.js';
import { renewCertificate, renewalDue } from './renewal.js';
import { SerialQueue } from './serial-queue.js';
import { deviceSecureContext } from './tls.js';

/** Default interval of status reports and renewal checks. */
export const DEFAULT_STATUS_INTERVAL_MS = 60_000;
/** Least time between two renewal attempts. */
export const RENEWAL_RETRY_MS = 10 * 60_000;
/** Broker messages waiting to be applied before new ones are dropped (retained/streamed again later). */
export const DEFAULT_MAX_QUEUED_MESSAGES = 64;

export interface ControllerLinkOptions {
  readonly core: AgentCore;
  readonly logger: AgentLogger;
  /** Reconnect delays of both connections (default 1 s .. 5 min, full jitter). */
  readonly backoff?: BackoffOptions;
  readonly statusIntervalMs?: number;
  /** Renew this long before the certificate's notAfter (default: a third of its lifetime). */
  readonly renewBeforeMs?: number;
  /** Reported in status reports. */
  readonly agentVersion?: string;
  readonly maxQueuedMessages?: number;
}

export interface ControllerLink {
  /** Stops both connections and waits for what is being applied. Idempotent. */
  close(): Promise<void>;
  /** Whether the controller or the broker is connected. */
  connected(): boolean;
  connections(): { readonly controller: boolean; readonly broker: boolean };
  /** Fetches the current key bundle and revocation list now (GetKeyBundle; or the retained keys topic). */
  fetchKeys(): Promise<void>;
  /** The link ended because this device is revoked. */
  revoked(): boolean;
}

type Payload =
  | { readonly kind: 'command'; readonly value: SignedCommand | Uint8Array }
  | { readonly kind: 'keyBundle'; readonly value: KeyBundle | Uint8Array }
  | { readonly kind: 'revocationList'; readonly value: SignedRevocationList | Uint8Array };

/**
 * Starts the link (see the module comment); returns at once.
 * @throws RangeError for invalid options.
 */
export function startControllerLink(options: ControllerLinkOptions): ControllerLink {
  const { core, logger } = options;
  const statusIntervalMs = options.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS;
  if (!Number.isSafeInteger(statusIntervalMs) || statusIntervalMs < 100) throw new RangeError(`"statusIntervalMs" expected at least 100 ms, got ${String(statusIntervalMs)}`);
  if (options.renewBeforeMs !== undefined && (!Number.isSafeInteger(options.renewBeforeMs) || options.renewBeforeMs < 0)) throw new RangeError('"renewBeforeMs" expected a non-negative integer');
  const agentVersion = options.agentVersion ?? 'unknown';
  const serial = new SerialQueue(options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES);
  let closed = false;
  let revoked = false;
  let renewing = false;
  let lastRenewalAttempt: number | undefined;
  let tls: SecureContext | undefined;

  const secureContext = (): SecureContext => (tls ??= deviceSecureContext(core));

  async function sendAck(ack: Ack): Promise<void> {
    const client = controller.client();
    if (client !== undefined) {
      try {
        await client.ack({ ack });
        core.recordContact();
        logger.info({ kind: AckKind[ack.kind], sequence: ack.sequence.toString(), outcome: AckOutcome[ack.outcome], via: 'grpc' }, 'acknowledged');
        return;
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error), kind: AckKind[ack.kind], sequence: ack.sequence.toString() }, 'acknowledging over gRPC failed; trying MQTT');
      }
    }
    const bytes = encodeMessage(AckSchema, ack, { maxBytes: MAX_ACK_BYTES });
    if (await broker.publish(deviceAcksTopic(core.identity.fleet, core.identity.deviceId), bytes, 1)) {
      logger.info({ kind: AckKind[ack.kind], sequence: ack.sequence.toString(), outcome: AckOutcome[ack.outcome], via: 'mqtt' }, 'acknowledged');
      return;
    }
    logger.info({ kind: AckKind[ack.kind], sequence: ack.sequence.toString() }, 'acknowledgement not delivered: neither the controller nor the broker is connected');
  }

  async function acknowledge(kind: AckKind, result: { outcome: Ack['outcome']; sequence: bigint; detail: string; ack: boolean; requestId?: string }): Promise<void> {
    if (!result.ack || result.sequence < 1n) return;
    await sendAck(buildAck(core, { kind, sequence: result.sequence, outcome: result.outcome, detail: result.detail, ...(result.requestId === undefined ? {} : { requestId: result.requestId }) }));
  }

  function endLink(why: string): void {
    if (revoked) return;
    revoked = true;
    logger.error({ reason: why }, 'this device is revoked: the link stops and does not reconnect');
    // Not awaited: this runs inside the serial queue, which the sessions may be waiting on.
    void Promise.all([controller.stop(), broker.stop()]).catch(() => undefined);
  }

  /** Applies one payload and acknowledges it. Runs in the serial queue; never throws. */
  async function apply(payload: Payload): Promise<void> {
    try {
      switch (payload.kind) {
        case 'command': {
          const result = await applySignedCommand(core, payload.value, logger);
          await acknowledge(AckKind.COMMAND, result);
          if (result.effect === 'unlocked' || result.effect === 'fetch-keys') void fetchKeys();
          if (result.effect === 'revoked') endLink('a signed REVOKE command names this device');
          return;
        }
        case 'keyBundle':
          await acknowledge(AckKind.KEY_BUNDLE, await applyKeyBundle(core, payload.value, logger));
          return;
        case 'revocationList': {
          const result = await applyRevocationList(core, payload.value, logger);
          await acknowledge(AckKind.REVOCATION_LIST, result);
          if (result.selfRevoked) {
            core.lock({ sequence: core.state.sequences().command, reason: 'this device is on the fleet revocation list', wipe: true, scope: REVOKED_LOCK_SCOPE });
            endLink('the signed revocation list names this device');
          }
          return;
        }
      }
    } catch (error) {
      logger.error({ err: error, kind: payload.kind }, 'handling a message from the controller failed');
    }
  }

  function deliver(item: ControllerItem): Promise<void> {
    return serial.run(() => apply({ kind: item.case, value: item.value } as Payload));
  }

  function onBrokerPayload(kind: BrokerPayloadKind, bytes: Uint8Array): void {
    if (closed || revoked) return;
    if (!serial.offer(() => apply({ kind, value: bytes } as Payload))) {
      logger.warn({ kind, bound: serial.maxWaiting }, 'broker message dropped: too many waiting (the command stream and retained topics deliver it again)');
    }
  }

  async function reportStatus(): Promise<void> {
    try {
      const report = buildStatusReport(core, agentVersion);
      const client = controller.client();
      if (client !== undefined) {
        await client.reportStatus({ report });
        core.recordContact();
        return;
      }
      await broker.publish(deviceStatusTopic(core.identity.fleet, core.identity.deviceId), encodeMessage(DeviceStatusReportSchema, report, { maxBytes: MAX_STATUS_REPORT_BYTES }), 0);
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'status report failed');
    }
  }

  async function maybeRenew(client: DeviceClient): Promise<void> {
    if (renewing || closed || revoked) return;
    renewing = true;
    try {
      if (!renewalDue(core, options.renewBeforeMs)) return;
      // Bound: one attempt per RENEWAL_RETRY_MS, successful or not, so a failing controller is not
      // hammered and a renewal window wider than the lifetime cannot renew at every reconnect.
      const now = core.now().getTime();
      if (lastRenewalAttempt !== undefined && now - lastRenewalAttempt < RENEWAL_RETRY_MS) return;
      lastRenewalAttempt = now;
      await renewCertificate(core, client, logger);
      core.recordContact();
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error), retryInMs: RENEWAL_RETRY_MS }, 'certificate renewal failed; retried later');
    } finally {
      renewing = false;
    }
  }

  let offline = false;
  function onStateChange(): void {
    if (closed) return;
    try {
      const down = !controller.connected() && !broker.connected();
      if (down) core.recordOffline();
      if (down && !offline) logger.warn({ offlineSince: core.contact().offlineSince?.toISOString() }, 'offline: neither the controller nor the broker is connected; working from the keystore');
      offline = down;
    } catch (error) {
      logger.error({ err: error }, 'recording the offline time failed');
    }
  }

  async function fetchKeys(): Promise<void> {
    if (closed || revoked) return;
    const client = controller.client();
    if (client === undefined) {
      await broker.refetchKeys();
      return;
    }
    try {
      const answer = await client.getKeyBundle({ knownSequence: BigInt(core.state.sequences().keyBundle) });
      core.recordContact();
      if (answer.keyBundle !== undefined) await deliver({ case: 'keyBundle', value: answer.keyBundle });
      if (answer.revocationList !== undefined) await deliver({ case: 'revocationList', value: answer.revocationList });
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fetching the key bundle failed; it arrives with the next connection');
    }
  }

  const controller = new ControllerSession({
    core,
    logger,
    backoff: createBackoff(options.backoff),
    credentials: () => credentials.createFromSecureContext(secureContext()),
    deliver: (item) => deliver(item),
    onConnected: async (client) => {
      await reportStatus();
      await maybeRenew(client);
    },
    onStateChange,
    onRevoked: endLink,
  });
  const broker = new BrokerSession({ core, logger, backoff: createBackoff(options.backoff), secureContext, onPayload: onBrokerPayload, onStateChange });

  const onCertificate = (): void => {
    tls = undefined;
    if (closed || revoked) return;
    logger.info({}, 'reconnecting with the renewed certificate');
    controller.reconnect();
    broker.reconnect();
  };
  core.on('certificate', onCertificate);

  const timer = setInterval(() => {
    if (closed || revoked) return;
    void reportStatus();
    const client = controller.client();
    if (client !== undefined) void maybeRenew(client);
  }, statusIntervalMs);
  timer.unref();

  controller.start();
  broker.start();

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        core.off('certificate', onCertificate);
        await Promise.all([controller.stop(), broker.stop()]);
        await serial.idle();
      })();
      return closing;
    },
    connected: () => controller.connected() || broker.connected(),
    connections: () => ({ controller: controller.connected(), broker: broker.connected() }),
    fetchKeys,
    revoked: () => revoked,
  };
}
