/**
 * Client half of the generic gRPC adapter: a typed client for any fleetkey service from its
 * protobuf-es descriptor, with no per-method code.
 *
 * unary -> `Promise<Response>`; server stream -> `AsyncIterable<Response>` (the call starts on
 * the first `next()`, and leaving the loop early cancels it); client and bidi streams -> call
 * objects with `send()` / `finish()` / `closeSend()` / `cancel()`. Every failure is an RpcError
 * whose `code` is the server's fleetkey code when it sent one.
 *
 * Trust boundary: responses come from the server and are decoded with the codec's byte, nesting
 * and field limits; a response that fails them fails the call (INTERNAL).
 */
import { create, type DescMessage, type DescMethod, type DescService, type Message, type MessageInitShape } from '@bufbuild/protobuf';
import {
  Client,
  Metadata,
  status as Status,
  type CallOptions as GrpcCallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientWritableStream,
} from '@grpc/grpc-js';
import { RpcError } from '../errors.js';
import { DEFAULT_CLIENT_OPTIONS, DEFAULT_UNARY_TIMEOUT_MS } from './options.js';
import { responseDeserializer, serializer } from './serialization.js';
import { methodPath } from './io.js';
import { rpcErrorFrom } from './status.js';
import type { CallOptions, ServiceClient } from './types.js';

export interface ClientOptions {
  /** grpc-js channel options on top of DEFAULT_CLIENT_OPTIONS (4 MiB messages, keepalive). */
  readonly channelOptions?: ChannelOptions;
  /** Deadline of unary and client-stream calls without one; default DEFAULT_UNARY_TIMEOUT_MS. */
  readonly defaultTimeoutMs?: number;
}

const channels = new WeakMap<object, Client>();

interface Prepared {
  readonly metadata: Metadata;
  readonly options: GrpcCallOptions;
}

function assertTimeout(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new RangeError(`"${name}" expected a positive number of milliseconds, got ${String(value)}`);
  }
}

function prepare(options: CallOptions | undefined, defaultTimeoutMs: number | undefined): Prepared {
  assertTimeout('timeoutMs', options?.timeoutMs);
  let metadata: Metadata;
  if (options?.metadata instanceof Metadata) {
    metadata = options.metadata;
  } else {
    metadata = new Metadata();
    for (const [key, value] of Object.entries(options?.metadata ?? {})) metadata.set(key, value);
  }
  const timeoutMs = options?.timeoutMs ?? defaultTimeoutMs;
  const deadline = options?.deadline ?? (timeoutMs === undefined ? undefined : new Date(Date.now() + timeoutMs));
  return { metadata, options: deadline === undefined ? {} : { deadline } };
}

function cancelledError(): RpcError {
  return new RpcError('call cancelled', { status: Status.CANCELLED });
}

/** Cancels `call` when `signal` aborts; returns the detach function. */
function bindSignal(signal: AbortSignal | undefined, call: { cancel(): void }): () => void {
  if (signal === undefined) return () => undefined;
  const onAbort = (): void => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

type AnyCall = ClientReadableStream<Message> | ClientWritableStream<Message> | ClientDuplexStream<Message, Message>;

/**
 * Records a call's final error. A stream emitting 'error' with no listener would crash the
 * process, and a caller may stop reading before the status arrives.
 */
function trackFailure(call: AnyCall): { readonly error: () => RpcError | undefined } {
  let failure: RpcError | undefined;
  call.on('error', (error: unknown) => {
    failure ??= rpcErrorFrom(error);
  });
  return { error: () => failure };
}

function unaryMethod(client: Client, path: string, method: DescMethod, timeoutMs: number) {
  const serialize = serializer(method.input);
  const deserialize = responseDeserializer(method.output);
  return (request: MessageInitShape<DescMessage>, callOptions?: CallOptions): Promise<Message> =>
    new Promise((resolve, reject) => {
      if (callOptions?.signal?.aborted) {
        reject(cancelledError());
        return;
      }
      const message = create(method.input, request);
      const { metadata, options } = prepare(callOptions, timeoutMs);
      let detach = (): void => undefined;
      const call = client.makeUnaryRequest(path, serialize, deserialize, message, metadata, options, (error, response) => {
        detach();
        if (error) reject(rpcErrorFrom(error));
        else if (response === undefined) reject(new RpcError('empty response', { status: Status.INTERNAL }));
        else resolve(response);
      });
      detach = bindSignal(callOptions?.signal, call);
    });
}

function serverStreamMethod(client: Client, path: string, method: DescMethod) {
  const serialize = serializer(method.input);
  const deserialize = responseDeserializer(method.output);
  return async function* (request: MessageInitShape<DescMessage>, callOptions?: CallOptions): AsyncGenerator<Message> {
    if (callOptions?.signal?.aborted) throw cancelledError();
    const message = create(method.input, request);
    const { metadata, options } = prepare(callOptions, undefined);
    const call = client.makeServerStreamRequest(path, serialize, deserialize, message, metadata, options);
    const failure = trackFailure(call);
    const detach = bindSignal(callOptions?.signal, call);
    let finished = false;
    try {
      for await (const response of call.iterator({ destroyOnReturn: false })) yield response as Message;
      finished = true;
    } catch (error) {
      finished = true;
      throw failure.error() ?? rpcErrorFrom(error);
    } finally {
      detach();
      // Leaving the loop early cancels the call instead of leaving it open on the server.
      if (!finished) call.cancel();
    }
  };
}

/**
 * Sends on a request stream. A send fails with the call's own error once it has one, and sends
 * still waiting for the transport when the call ends are rejected then (tracked in a set, so a
 * long stream does not pile up one listener per message).
 */
function requestSender(
  call: ClientWritableStream<Message> | ClientDuplexStream<Message, Message>,
  failure: { error(): RpcError | undefined },
  settled: Promise<unknown>,
): (message: Message) => Promise<void> {
  const waiting = new Set<(error: RpcError) => void>();
  let ended = false;
  const endedError = (): RpcError => failure.error() ?? new RpcError('the call has already completed', { status: Status.FAILED_PRECONDITION });
  void settled.then(() => {
    ended = true;
    for (const reject of waiting) reject(endedError());
    waiting.clear();
  });
  return (message) =>
    new Promise<void>((resolve, reject) => {
      if (ended || failure.error() !== undefined) {
        reject(endedError());
        return;
      }
      waiting.add(reject);
      call.write(message, (error: Error | null | undefined) => {
        waiting.delete(reject);
        if (error) reject(failure.error() ?? rpcErrorFrom(error));
        else resolve();
      });
    });
}

function clientStreamMethod(client: Client, path: string, method: DescMethod, timeoutMs: number) {
  const serialize = serializer(method.input);
  const deserialize = responseDeserializer(method.output);
  return (callOptions?: CallOptions) => {
    const { metadata, options } = prepare(callOptions, timeoutMs);
    let settle!: (value: Message | RpcError) => void;
    const outcome = new Promise<Message | RpcError>((resolve) => (settle = resolve));
    const call = client.makeClientStreamRequest(path, serialize, deserialize, metadata, options, (error, response) => {
      if (error) settle(rpcErrorFrom(error));
      else if (response === undefined) settle(new RpcError('empty response', { status: Status.INTERNAL }));
      else settle(response);
    });
    const failure = trackFailure(call);
    const detach = bindSignal(callOptions?.signal, call);
    if (callOptions?.signal?.aborted) call.cancel();
    void outcome.then(detach);
    const sendMessage = requestSender(call, failure, outcome);
    return {
      send: (request: MessageInitShape<DescMessage>) => sendMessage(create(method.input, request)),
      finish: async (): Promise<Message> => {
        call.end();
        const result = await outcome;
        if (result instanceof RpcError) throw result;
        return result;
      },
      cancel: () => call.cancel(),
    };
  };
}

function bidiStreamMethod(client: Client, path: string, method: DescMethod) {
  const serialize = serializer(method.input);
  const deserialize = responseDeserializer(method.output);
  return (callOptions?: CallOptions) => {
    const { metadata, options } = prepare(callOptions, undefined);
    const call = client.makeBidiStreamRequest(path, serialize, deserialize, metadata, options);
    const failure = trackFailure(call);
    const detach = bindSignal(callOptions?.signal, call);
    if (callOptions?.signal?.aborted) call.cancel();
    const settled = new Promise<void>((resolve) => call.on('status', () => resolve()));
    void settled.then(detach);
    const sendMessage = requestSender(call, failure, settled);
    let iterated = false;
    return {
      send: (request: MessageInitShape<DescMessage>) => sendMessage(create(method.input, request)),
      closeSend: () => {
        call.end();
      },
      cancel: () => call.cancel(),
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<Message> {
        if (iterated) throw new TypeError('the responses of a bidi call can be iterated only once');
        iterated = true;
        let finished = false;
        try {
          for await (const response of call.iterator({ destroyOnReturn: false })) yield response as Message;
          finished = true;
          const error = failure.error();
          if (error !== undefined) throw error;
        } catch (error) {
          finished = true;
          throw failure.error() ?? rpcErrorFrom(error);
        } finally {
          if (!finished) call.cancel();
        }
      },
    };
  };
}

/**
 * A typed client of `service` at `address` (`127.0.0.1:50051`, `unix:///run/fleetkey/agent.sock`).
 * Close it with `closeClient()`.
 * @throws RangeError for an invalid `defaultTimeoutMs`.
 */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  credentials: ChannelCredentials,
  options: ClientOptions = {},
): ServiceClient<S> {
  assertTimeout('defaultTimeoutMs', options.defaultTimeoutMs);
  const timeoutMs = options.defaultTimeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS;
  const client = new Client(address, credentials, { ...DEFAULT_CLIENT_OPTIONS, ...options.channelOptions });
  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    const path = methodPath(service, method);
    switch (method.methodKind) {
      case 'unary':
        methods[method.localName] = unaryMethod(client, path, method, timeoutMs);
        break;
      case 'server_streaming':
        methods[method.localName] = serverStreamMethod(client, path, method);
        break;
      case 'client_streaming':
        methods[method.localName] = clientStreamMethod(client, path, method, timeoutMs);
        break;
      case 'bidi_streaming':
        methods[method.localName] = bidiStreamMethod(client, path, method);
        break;
    }
  }
  const typed = Object.freeze(methods) as ServiceClient<S>;
  channels.set(typed, client);
  return typed;
}

function channelOf(client: object): Client {
  const channel = channels.get(client);
  if (channel === undefined) throw new TypeError('"client" expected a client made by createClient()');
  return channel;
}

/** Closes the client's channel; calls in flight fail with CANCELLED or UNAVAILABLE. */
export function closeClient(client: object): void {
  channelOf(client).close();
}

/**
 * Waits until the client's channel is connected.
 * @throws RpcError (UNAVAILABLE) when it is not connected by `deadline`.
 */
export function waitForReady(client: object, deadline: Date): Promise<void> {
  const channel = channelOf(client);
  return new Promise((resolve, reject) => {
    channel.waitForReady(deadline, (error) => {
      if (error) reject(new RpcError('channel not ready before the deadline', { status: Status.UNAVAILABLE, cause: error }));
      else resolve();
    });
  });
}
