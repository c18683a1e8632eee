/**
 * The composition of the peer channels for `edge-agent serve`: start the listener, hand the
 * OpenChannel handler to the local API, stop both with one call.
 *
 * Trust boundary: as peer-channels.ts (the listener faces the network) and channel-handler.ts
 * (the handler faces local apps).
 */
import { channelHandler, type OpenChannelHandler } from './channel-handler.js';
import { PeerChannels, type PeerChannelsOptions } from './peer-channels.js';

export interface RunningPeerChannels {
  /** The `host:port` actually bound. */
  readonly address: string;
  /** AgentService.openChannel. */
  readonly handler: OpenChannelHandler;
  readonly channels: PeerChannels;
  /** Ends every channel and the listener. */
  close(): Promise<void>;
}

/**
 * Starts the peer listener.
 * @throws RangeError for invalid options; Error from Node when `listen` cannot be bound.
 */
export async function startPeerChannels(options: PeerChannelsOptions): Promise<RunningPeerChannels> {
  const channels = new PeerChannels(options);
  const address = await channels.listen();
  return { address, handler: channelHandler(channels), channels, close: () => channels.close() };
}
