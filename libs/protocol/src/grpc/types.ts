/**
 * The types of the generic gRPC adapter: server handlers and client methods, both derived from a
 * protobuf-es service descriptor (`GenService` from the generated `*_pb.ts`), so a service's
 * shape is written once, in the proto, and every handler and call site is checked against it.
 *
 * Handlers return (and clients accept) `MessageInitShape`s: plain objects are completed with
 * `create()`, so `{ valid: true }` is a valid VerifyResponse.
 */
import type { DescMessage, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { Deadline, Metadata, ServerUnaryCall } from '@grpc/grpc-js';

/** grpc-js's AuthContext (transport security type, TLS peer certificate), not exported by name. */
export type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>['getAuthContext']>;

/** What a handler knows about the call besides the request. */
export interface CallContext {
  /** `/fleetkey.v1.AgentService/Seal`. */
  readonly method: string;
  /** Request metadata (e.g. `authorization`). */
  readonly metadata: Metadata;
  /** The peer address as grpc-js reports it. */
  readonly peer: string;
  /** The call's deadline (Infinity when none). */
  readonly deadline: Deadline;
  /** Aborted when the client cancels or the deadline passes; pass it on to slow work. */
  readonly signal: AbortSignal;
  /** Transport security facts, including the verified TLS peer certificate under mTLS. */
  readonly authContext: AuthContext;
}

/** Writes one response message of a stream; resolves when the transport took it (backpressure). */
export interface StreamWriter<O extends DescMessage> {
  write(message: MessageInitShape<O>): Promise<void>;
}

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** Usually an `async function*`; returning ends the stream with OK, throwing with the error's status. */
export type ServerStreamHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

export type ClientStreamHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

/** Resolving ends the call with OK (after the writes), throwing with the error's status. */
export type BidiStreamHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  writer: StreamWriter<O>,
  context: CallContext,
) => Promise<void>;

type MethodShape = { readonly methodKind: string; readonly input: DescMessage; readonly output: DescMessage };

export type HandlerFor<M> = M extends MethodShape
  ? M['methodKind'] extends 'unary'
    ? UnaryHandler<M['input'], M['output']>
    : M['methodKind'] extends 'server_streaming'
      ? ServerStreamHandler<M['input'], M['output']>
      : M['methodKind'] extends 'client_streaming'
        ? ClientStreamHandler<M['input'], M['output']>
        : BidiStreamHandler<M['input'], M['output']>
  : never;

/**
 * Handlers of a service, keyed by the rpc's local name (`seal`, `getStatus`...). Methods left
 * out answer UNIMPLEMENTED, which lets later work fill a service in rpc by rpc.
 */
export type ServiceHandlers<S extends DescService> = {
  readonly [K in keyof S['method']]?: HandlerFor<S['method'][K]>;
};

/** Per-call options of a client method. */
export interface CallOptions {
  /** Deadline relative to now. Default for unary and client-stream calls: DEFAULT_UNARY_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Absolute deadline; wins over `timeoutMs`. */
  readonly deadline?: Date;
  /** Cancels the call (status CANCELLED) when aborted. */
  readonly signal?: AbortSignal;
  /** Request metadata, e.g. `{ authorization: 'Bearer ...' }`. */
  readonly metadata?: Readonly<Record<string, string>> | Metadata;
}

/** A client-streaming call in progress. */
export interface ClientStreamCall<I extends DescMessage, O extends DescMessage> {
  /** Sends one request; resolves when the transport took it. @throws RpcError once the call failed. */
  send(message: MessageInitShape<I>): Promise<void>;
  /** Half-closes and waits for the single response. @throws RpcError */
  finish(): Promise<MessageShape<O>>;
  /** Cancels the call (the server sees CANCELLED). */
  cancel(): void;
}

/** A bidirectional call in progress; iterate it for the responses (once). */
export interface BidiStreamCall<I extends DescMessage, O extends DescMessage> extends AsyncIterable<MessageShape<O>> {
  /** Sends one request; resolves when the transport took it. @throws RpcError once the call failed. */
  send(message: MessageInitShape<I>): Promise<void>;
  /** Half-closes the request side; responses keep coming until the server ends. */
  closeSend(): void;
  /** Cancels the call (the server sees CANCELLED). */
  cancel(): void;
}

export type ClientMethodFor<M> = M extends MethodShape
  ? M['methodKind'] extends 'unary'
    ? (request: MessageInitShape<M['input']>, options?: CallOptions) => Promise<MessageShape<M['output']>>
    : M['methodKind'] extends 'server_streaming'
      ? (request: MessageInitShape<M['input']>, options?: CallOptions) => AsyncIterable<MessageShape<M['output']>>
      : M['methodKind'] extends 'client_streaming'
        ? (options?: CallOptions) => ClientStreamCall<M['input'], M['output']>
        : (options?: CallOptions) => BidiStreamCall<M['input'], M['output']>
  : never;

/** A typed client of a service: one method per rpc, keyed by the rpc's local name. */
export type ServiceClient<S extends DescService> = {
  readonly [K in keyof S['method']]: ClientMethodFor<S['method'][K]>;
};
