/**
 * AgentService.OpenChannel: the bidi stream a local app drives a peer channel with.
 *
 *   app -> agent: `open` (first, exactly once; else INVALID_ARGUMENT), then `data`*, then `close`
 *   agent -> app: `opened {peer_device_id, peer_certificate_not_after}` once the peer is
 *                 authenticated and its app attached, then `data`*, then `close {reason}` when the
 *                 peer, a lockdown ("locked"), a revocation ("peer revoked"), the peer's certificate
 *                 expiry or a failure ended the channel; the call then ends with OK.
 *
 * The app's `close` ends the channel: the peer gets CLOSE with that reason and the call ends with
 * OK, without an echo. Cancelling the call ends it too ("cancelled" to the peer). Half-closing the
 * request side only stops app data (the framing has no half-close); the channel stays until a
 * close either way or a cancel. Refusals before `opened` fail the call with a typed error: DEVICE_LOCKED
 * (FAILED_PRECONDITION), PEER_REFUSED / CERTIFICATE_REVOKED (PERMISSION_DENIED), TIMEOUT
 * (DEADLINE_EXCEEDED), RPC_FAILED (UNAVAILABLE), THROTTLED (RESOURCE_EXHAUSTED).
 *
 * Backpressure: the next app frame is read only after the TLS socket took the previous one, and
 * the next peer frame only after the gRPC writer took the previous one.
 *
 * Trust boundary: the app is local and was admitted by the socket permissions (and token, when
 * configured) before this runs; its requests were decoded within the proto limits. What it names
 * (a device id, an address) only says where to look: the peer is who its certificate says.
 */
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { InvalidArgument, isFleetkeyError, isValidIdentifier } from '@fleetkey/key-types';
import type { BidiStreamHandler, ChannelOpen, OpenChannelRequest, OpenChannelRequestSchema, OpenChannelResponseSchema } from '@fleetkey/protocol';
import { MAX_DATA_BYTES } from './frames.js';
import type { ChannelTarget, PeerChannels } from './peer-channels.js';
import { CLOSE_REASON, type PeerLink } from './peer-link.js';

export type OpenChannelHandler = BidiStreamHandler<typeof OpenChannelRequestSchema, typeof OpenChannelResponseSchema>;

/**
 * The target a ChannelOpen names.
 * @throws InvalidArgument when it names no peer, or `expected_device_id` contradicts `device_id`.
 */
export function channelTarget(open: ChannelOpen): ChannelTarget {
  const expected = open.expectedDeviceId;
  switch (open.peer.case) {
    case 'deviceId':
      if (!isValidIdentifier(open.peer.value)) throw new InvalidArgument('"device_id" is not a valid device id');
      if (expected !== '' && expected !== open.peer.value) throw new InvalidArgument('"expected_device_id" differs from "device_id"');
      return { deviceId: open.peer.value };
    case 'address':
      return expected === '' ? { address: open.peer.value } : { address: open.peer.value, expectedDeviceId: expected };
    default:
      throw new InvalidArgument('"open" names no peer: set device_id or address');
  }
}

/** The OpenChannel handler over `channels`. */
export function channelHandler(channels: PeerChannels): OpenChannelHandler {
  return async (requests, writer, context) => {
    const iterator = requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    // Precondition: the first frame of the stream is `open`.
    if (first.done === true || first.value.frame.case !== 'open') throw new InvalidArgument('the first OpenChannel frame must be open');
    const link = await channels.open(channelTarget(first.value.frame.value), context.signal);
    try {
      await writer.write({ frame: { case: 'opened', value: { peerDeviceId: link.peer.deviceId, peerCertificateNotAfter: timestampFromDate(link.peer.notAfter) } } });
    } catch {
      link.close(CLOSE_REASON.cancelled);
      return;
    }
    await relay(link, iterator, writer, context.signal);
  };
}

async function relay(
  link: PeerLink,
  iterator: AsyncIterator<OpenChannelRequest>,
  writer: Parameters<OpenChannelHandler>[1],
  signal: AbortSignal,
): Promise<void> {
  let appClosed = false;
  let failure: unknown;
  const onAbort = (): void => link.close(CLOSE_REASON.cancelled);
  signal.addEventListener('abort', onAbort, { once: true });
  link.setSink(async (data) => {
    await writer.write({ frame: { case: 'data', value: { data } } });
  });
  const upstream = async (): Promise<void> => {
    for (;;) {
      const next = await iterator.next();
      // Half-closing says "no more data from me", not "close": the peer may still be sending,
      // and grpc-js also ends the request stream of a cancelled call (which ends the channel as
      // "cancelled" through the signal).
      if (next.done === true) return;
      const frame = next.value.frame;
      if (frame.case === 'data') {
        if (frame.value.data.length > MAX_DATA_BYTES) throw new InvalidArgument(`a data frame carries at most ${MAX_DATA_BYTES} bytes`);
        await link.send(frame.value.data);
      } else if (frame.case === 'close') {
        appClosed = true;
        link.close(frame.value.reason);
        return;
      } else {
        throw new InvalidArgument('after open, an OpenChannel stream carries only data and close frames');
      }
    }
  };
  void upstream().catch((error: unknown) => {
    // Set before the link ends, so the handler sees it when `ended` settles.
    if (isFleetkeyError(error, 'INVALID_ARGUMENT')) failure = error;
    // An undecodable request (MESSAGE_MALFORMED) fails the call in the adapter; a cancelled call
    // ends the stream; a send after the end is moot.
    link.close(failure === undefined ? CLOSE_REASON.cancelled : CLOSE_REASON.protocolError);
  });
  try {
    const end = await link.ended;
    if (failure !== undefined) throw failure;
    if (appClosed || signal.aborted) return;
    await writer.write({ frame: { case: 'close', value: { reason: end.reason } } }).catch(() => undefined);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
