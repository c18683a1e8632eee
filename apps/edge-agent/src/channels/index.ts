/** Agent-to-agent channels: mutual TLS 1.3 between agents, relayed to local apps by OpenChannel. */
export { startPeerChannels, type RunningPeerChannels } from './start.js';
export { channelHandler, channelTarget, type OpenChannelHandler } from './channel-handler.js';
export {
  PeerChannels,
  DEFAULT_ACCEPT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_CHANNELS,
  DEFAULT_MAX_PENDING_INCOMING,
  MAX_HELD_PER_PEER,
  type ChannelTarget,
  type PeerChannelsOptions,
  type PeerChannelsStats,
} from './peer-channels.js';
export { CLOSE_REASON, type LinkEnd } from './peer-link.js';
export { ChannelLimitReached, PeerTimeout, PeerUnavailable } from './errors.js';
export { parsePeerAddress, formatPeerAddress, type PeerAddress } from './address.js';
