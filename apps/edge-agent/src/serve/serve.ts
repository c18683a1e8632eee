/**
 * `edge-agent serve`: opens the keystore, builds the AgentCore, and starts its three faces — the
 * local API on a Unix socket, the peer listener for agent-to-agent channels, and the link to the
 * controller (gRPC mTLS and MQTT over TLS, reconnecting forever) — then writes the ready line. The
 * agent works from its keystore alone: neither the controller nor the broker has to be reachable
 * for it to start and serve.
 *
 * Shutdown (SIGTERM/SIGINT) stops in reverse order: the link, the local API (running calls get a
 * grace period), the channels, then the contact times are flushed and the keystore closed.
 *
 * Trust boundary: the settings are the robot operator's (see settings.ts); the keystore is opened
 * with the data directory's key file or passphrase.
 */
import { createLogger, type Logger } from '@fleetkey/cli';
import { InvalidArgument } from '@fleetkey/key-types';
import { AgentCore } from '../runtime/agent-core.js';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { inspectDataDir } from '../provisioning/data-dir.js';
import { startLocalApi } from '../local-api/index.js';
import { startPeerChannels } from '../channels/index.js';
import { startControllerLink } from '../link/index.js';
import { APP_TOKEN_PREFIX, type ServeSettings } from './settings.js';

export interface ReadyEvent {
  readonly event: 'ready';
  readonly socket: string;
  readonly peer: string;
}

export interface RunningAgent {
  readonly core: AgentCore;
  readonly ready: ReadyEvent;
  readonly logger: Logger;
  /** Stops everything; safe to call twice. */
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Reported by GetStatus and status reports (the CLI passes its package version). */
  readonly agentVersion?: string;
  readonly passphrase?: Uint8Array;
  /** Milliseconds since the epoch; tests inject a fake clock. */
  readonly clock?: () => number;
  /** Where log lines go (default stderr). */
  readonly logDestination?: { write(line: string): void };
}

/**
 * Starts the agent.
 * @throws InvalidArgument when the data directory holds no provisioned agent; whatever opening the
 *   keystore or binding the socket or port throws (everything started so far is stopped again).
 */
export async function serveAgent(settings: ServeSettings, options: ServeOptions = {}): Promise<RunningAgent> {
  const logger = createLogger({
    level: settings.logLevel,
    name: 'edge-agent',
    tokenPrefixes: [APP_TOKEN_PREFIX],
    ...(options.logDestination === undefined ? {} : { destination: options.logDestination }),
  });
  const paths = agentPaths(settings.dataDir);
  const kind = await inspectDataDir(paths);
  if (kind !== 'agent') throw new InvalidArgument(`${paths.root} holds no provisioned agent: run \`edge-agent provision\` first`);
  const protector = agentProtector(paths, options.passphrase === undefined ? {} : { passphrase: options.passphrase });
  const state = await AgentState.open(paths.keystore, protector, options.clock === undefined ? {} : { now: () => new Date(options.clock!()) });
  const stops: (() => Promise<void> | void)[] = [
    () => state.close(),
    () => (protector as { dispose?: () => void }).dispose?.(),
  ];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.error({ err: error }, 'a part of the agent did not stop cleanly');
      }
    }
  };
  try {
    if (state.identity() === undefined) throw new InvalidArgument(`${paths.root} holds no provisioned agent: run \`edge-agent provision\` first`);
    const core = new AgentCore(state, { maxOfflineMs: settings.maxOfflineMs, logger, ...(options.clock === undefined ? {} : { clock: options.clock }) });
    stops.push(() => core.dispose());
    stops.push(() => core.flush());
    const agentVersion = options.agentVersion ?? 'unknown';
    const channels = await startPeerChannels({ core, listen: settings.peerListen, peers: settings.peers, logger });
    stops.push(() => channels.close());
    const api = await startLocalApi({
      core,
      socketPath: settings.socketPath,
      mode: settings.socketMode,
      ...(settings.socketGid === undefined ? {} : { gid: settings.socketGid }),
      tokens: settings.apps,
      rateLimit: { ratePerSecond: settings.ratePerSecond, burst: settings.rateBurst },
      maxMessageBytes: settings.maxMessageBytes,
      agentVersion,
      openChannel: channels.handler,
      logger,
    });
    stops.push(() => api.close());
    const link = startControllerLink({ core, logger, statusIntervalMs: settings.statusIntervalMs, agentVersion });
    stops.push(() => link.close());
    const identity = core.identity;
    const lock = core.lockState();
    logger.info(
      { fleet: identity.fleet, deviceId: identity.deviceId, socket: api.socketPath, peer: channels.address, locked: lock.locked, maxOfflineHours: settings.maxOfflineMs / 3_600_000, apps: settings.apps.length },
      lock.locked ? 'agent serving (LOCKED: cryptographic calls are refused until a signed lift)' : 'agent serving',
    );
    let closing: Promise<void> | undefined;
    return {
      core,
      logger,
      ready: { event: 'ready', socket: api.socketPath, peer: channels.address },
      close: () => (closing ??= stopAll().then(() => logger.info({}, 'agent stopped'))),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
