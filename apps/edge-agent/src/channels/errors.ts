/**
 * The typed errors only the peer channels throw. Their codes are existing FleetkeyErrorCodes, so
 * the gRPC adapter already maps them (status.ts): a timeout is DEADLINE_EXCEEDED, an unreachable
 * or unwilling peer agent UNAVAILABLE, a full channel table RESOURCE_EXHAUSTED. Refusals of a
 * peer's identity use PeerRefused / CertificateRevoked from the shared libraries.
 *
 * Trust boundary: messages name the peer by device id or address and may quote a peer's close
 * reason (bounded, JSON-quoted); never a certificate, key or relayed byte.
 */
import { FleetkeyError } from '@fleetkey/key-types';

/** No peer connection (or no local application for an incoming one) within `acceptTimeoutMs`. */
export class PeerTimeout extends FleetkeyError {
  readonly code = 'TIMEOUT' as const;
}

/**
 * The peer agent could not be reached, closed the channel before accepting it (locked, busy, no
 * application waiting), or this agent is shutting down. Worth retrying later.
 */
export class PeerUnavailable extends FleetkeyError {
  readonly code = 'RPC_FAILED' as const;
}

/** `maxChannels` channels are open or opening already. */
export class ChannelLimitReached extends FleetkeyError {
  readonly code = 'THROTTLED' as const;
}
