/**
 * The robot apps of the fleet demo and the scenarios: clients of an agent's local API over its
 * Unix socket, built from the generated protocol code alone (`createClient(AgentService,
 * 'unix://…')`), as any robot app in any language would be. Plus the two things the scenarios ask
 * of them: the fleetkey error code of a refused call, and waiting until an agent reports a state
 * that settles asynchronously (keys arriving over MQTT, a lockdown taking effect).
 *
 * Trust boundary: none of its own; the agent checks every call. Error codes come from the
 * `fleetkey-error-code` trailer the agent sets.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { credentials } from '@grpc/grpc-js';
import { AgentService, KeyState, closeClient, createClient, type ServiceClient } from '@fleetkey/protocol';

export type RobotApp = ServiceClient<typeof AgentService>;

/** How long a scenario waits for an agent to report a state before it gives up. */
export const SETTLE_TIMEOUT_MS = 45_000;
/** How often it asks meanwhile (GetStatus is a local call; the agent pushes nothing to apps). */
const POLL_INTERVAL_MS = 150;

export function robotApp(socketPath: string): RobotApp {
  return createClient(AgentService, `unix://${socketPath}`, credentials.createInsecure());
}

export { closeClient };

/** The fleetkey code of a refused call, or 'accepted' when the call succeeded. */
export async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'accepted';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : 'failed';
  }
}

/**
 * Asks `check` until it returns something other than undefined.
 * @throws Error naming `what` after `timeoutMs` (with the last error `check` threw), or the abort
 *   reason when `signal` aborts.
 */
export async function settle<T>(what: string, check: () => Promise<T | undefined>, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
  const deadline = performance.now() + (options.timeoutMs ?? SETTLE_TIMEOUT_MS);
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await delay(POLL_INTERVAL_MS, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
}

/** The version of the epoch the robot seals with now, if any. */
export async function activeEpoch(app: RobotApp): Promise<number | undefined> {
  const status = await app.getStatus({});
  return status.epochs.find((epoch) => epoch.state === KeyState.ACTIVE)?.key?.version;
}

/** Reads one response frame of a channel, naming its kind (or the error code that ended it). */
export async function nextFrame(frames: AsyncIterator<{ frame: { case: string | undefined; value?: unknown } }>): Promise<{ kind: string; value?: unknown }> {
  try {
    const item = await frames.next();
    if (item.done === true) return { kind: 'ended' };
    return { kind: item.value.frame.case ?? 'empty', value: item.value.frame.value };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { kind: typeof code === 'string' ? code : 'failed' };
  }
}
