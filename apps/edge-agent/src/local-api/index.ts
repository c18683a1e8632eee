/** The edge agent's local API: AgentService for robot apps over a Unix socket. */
export { startLocalApi, LocalApiSocketRefused, DEFAULT_SOCKET_MODE, DEFAULT_MAX_MESSAGE_BYTES, type LocalApi, type LocalApiOptions, type SocketRefusalReason } from './socket-server.js';
export { agentServiceHandlers, type AgentServiceOptions, type OpenChannelHandler, type Refusal } from './agent-service.js';
export { createAccessControl, tokenDigest, RateLimited, LOCAL_APP, DEFAULT_BURST, DEFAULT_RATE_PER_SECOND, type AccessControl, type AccessOptions, type AppToken, type RateLimitOptions } from './access.js';
export { sealFleetMessage, openFleetMessage, type OpenedFleetMessage, type SealedFleetMessage } from './sealed-message.js';
