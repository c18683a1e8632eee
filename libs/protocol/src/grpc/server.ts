/**
 * Server half of the generic gRPC adapter: a protobuf-es service descriptor becomes a grpc-js
 * ServiceDefinition, and typed async handlers become grpc-js handlers, with no per-method code.
 *
 * - unary: `async (request, context) => response`
 * - server stream: an async generator `async function* (request, context) { yield ... }`
 * - client stream: `async (requests, context) => response` with `requests` an async iterable
 * - bidi: `async (requests, writer, context) => { ... await writer.write(msg) ... }`
 *
 * Trust boundary: every request is decoded with the byte, nesting and field limits of the codec
 * before a handler runs; an undecodable one is answered INVALID_ARGUMENT. Every error leaving a
 * handler goes through status.ts, so only FleetkeyError codes and messages reach the client.
 */
import { create, type DescMessage, type DescMethod, type DescService, type Message, type MessageInitShape } from '@bufbuild/protobuf';
import {
  Server,
  status as Status,
  type ChannelOptions,
  type MethodDefinition,
  type ServerCredentials,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Writable } from 'node:stream';
import { MessageMalformed, RpcError } from '../errors.js';
import { methodPath, writeMessage } from './io.js';
import { DEFAULT_SERVER_OPTIONS } from './options.js';
import { MALFORMED_REQUEST, requestDeserializer, responseDeserializer, serializer, type MaybeMalformed } from './serialization.js';
import { malformedRequestStatus, statusForError, type ServerStatus } from './status.js';
import type { CallContext, ServiceHandlers, StreamWriter } from './types.js';

export interface ImplementOptions {
  /**
   * Called with every error a handler throws that is not a FleetkeyError (the client only sees
   * INTERNAL). Log it with a redacting logger; it may contain anything.
   */
  readonly onUnexpectedError?: (error: unknown, method: string) => void;
}

/**
 * The grpc-js ServiceDefinition of a service, keyed by rpc local name. Meant to be used with
 * `implement()` (its request deserializer yields MALFORMED_REQUEST for undecodable input).
 */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(service, method),
      originalName: method.localName,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
      requestDeserialize: requestDeserializer(method.input),
      responseSerialize: serializer(method.output) as (value: unknown) => Buffer,
      responseDeserialize: responseDeserializer(method.output),
    };
  }
  return definition;
}

interface ContextHandle {
  readonly context: CallContext;
  release(): void;
}

// The part of every grpc-js server call a context needs (grpc-js does not export the name).
type SurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, 'metadata' | 'getPeer' | 'getDeadline' | 'getAuthContext'> & {
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
};

function openContext(call: SurfaceCall, path: string): ContextHandle {
  const controller = new AbortController();
  // grpc-js emits 'cancelled' both for a client cancel and for an expired deadline.
  const onCancelled = (): void => controller.abort(new RpcError('call cancelled', { status: Status.CANCELLED }));
  call.on('cancelled', onCancelled);
  const context: CallContext = {
    method: path,
    metadata: call.metadata,
    peer: call.getPeer(),
    deadline: call.getDeadline(),
    signal: controller.signal,
    authContext: call.getAuthContext(),
  };
  return { context, release: () => call.removeListener('cancelled', onCancelled) };
}

/** Requests of a streaming call, refusing the first undecodable one. */
async function* requestsOf(
  stream: ServerReadableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  state: { malformed: boolean },
): AsyncGenerator<Message> {
  // Not destroying on early return: the handler may stop reading and keep writing (bidi).
  for await (const item of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<MaybeMalformed<Message>>) {
    if (item === MALFORMED_REQUEST) {
      // Precondition: an undecodable request in a stream ends the call with INVALID_ARGUMENT,
      // whatever the handler does with the error.
      state.malformed = true;
      throw new MessageMalformed('malformed request');
    }
    yield item;
  }
}

type Reporter = (error: unknown) => void;

function failStream(call: Writable, status: ServerStatus): void {
  // grpc-js turns an 'error' event with a numeric `code` into the call's final status.
  call.emit('error', status);
}

function unaryHandler(method: DescMethod, path: string, handler: (req: Message, ctx: CallContext) => unknown, report: Reporter): UntypedHandleCall {
  return (call: ServerUnaryCall<MaybeMalformed<Message>, Message>, callback: sendUnaryData<Message>) => {
    const request = call.request;
    // Precondition: an undecodable request is answered INVALID_ARGUMENT before any handler runs.
    if (request === MALFORMED_REQUEST) {
      callback(malformedRequestStatus());
      return;
    }
    const { context, release } = openContext(call, path);
    void (async () => {
      try {
        const response = await handler(request, context);
        callback(null, create(method.output, response as MessageInitShape<DescMessage>));
      } catch (error) {
        callback(statusForError(error, report));
      } finally {
        release();
      }
    })();
  };
}

function serverStreamHandler(
  method: DescMethod,
  path: string,
  handler: (req: Message, ctx: CallContext) => AsyncIterable<unknown>,
  report: Reporter,
): UntypedHandleCall {
  return (call: ServerWritableStream<MaybeMalformed<Message>, Message>) => {
    const request = call.request;
    if (request === MALFORMED_REQUEST) {
      failStream(call, malformedRequestStatus());
      return;
    }
    const { context, release } = openContext(call, path);
    void (async () => {
      try {
        for await (const response of handler(request, context)) {
          await writeMessage(call, create(method.output, response as MessageInitShape<DescMessage>), context.signal);
        }
        if (!context.signal.aborted) call.end();
      } catch (error) {
        if (!context.signal.aborted) failStream(call, statusForError(error, report));
      } finally {
        release();
      }
    })();
  };
}

function clientStreamHandler(
  method: DescMethod,
  path: string,
  handler: (reqs: AsyncIterable<Message>, ctx: CallContext) => Promise<unknown>,
  report: Reporter,
): UntypedHandleCall {
  return (call: ServerReadableStream<MaybeMalformed<Message>, Message>, callback: sendUnaryData<Message>) => {
    const { context, release } = openContext(call, path);
    const state = { malformed: false };
    void (async () => {
      try {
        const response = await handler(requestsOf(call, state), context);
        if (state.malformed) callback(malformedRequestStatus());
        else callback(null, create(method.output, response as MessageInitShape<DescMessage>));
      } catch (error) {
        callback(state.malformed ? malformedRequestStatus() : statusForError(error, report));
      } finally {
        release();
      }
    })();
  };
}

function bidiStreamHandler(
  method: DescMethod,
  path: string,
  handler: (reqs: AsyncIterable<Message>, writer: StreamWriter<DescMessage>, ctx: CallContext) => Promise<void>,
  report: Reporter,
): UntypedHandleCall {
  return (call: ServerDuplexStream<MaybeMalformed<Message>, Message>) => {
    const { context, release } = openContext(call, path);
    const state = { malformed: false };
    const writer: StreamWriter<DescMessage> = {
      write: (message) => writeMessage(call, create(method.output, message), context.signal),
    };
    void (async () => {
      try {
        await handler(requestsOf(call, state), writer, context);
        if (context.signal.aborted) return;
        if (state.malformed) failStream(call, malformedRequestStatus());
        else call.end();
      } catch (error) {
        if (!context.signal.aborted) failStream(call, state.malformed ? malformedRequestStatus() : statusForError(error, report));
      } finally {
        release();
      }
    })();
  };
}

/**
 * grpc-js handlers for `service` from typed async handlers (see the module comment). Methods
 * without a handler are left out, and grpc-js answers them UNIMPLEMENTED.
 */
export function implement<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  options: ImplementOptions = {},
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  const table = handlers as Readonly<Record<string, unknown>>;
  for (const method of service.methods) {
    const handler = table[method.localName];
    if (handler === undefined) continue;
    if (typeof handler !== 'function') throw new TypeError(`"handlers.${method.localName}" expected a function`);
    const path = methodPath(service, method);
    const report: Reporter = (error) => options.onUnexpectedError?.(error, path);
    switch (method.methodKind) {
      case 'unary':
        implementation[method.localName] = unaryHandler(method, path, handler as never, report);
        break;
      case 'server_streaming':
        implementation[method.localName] = serverStreamHandler(method, path, handler as never, report);
        break;
      case 'client_streaming':
        implementation[method.localName] = clientStreamHandler(method, path, handler as never, report);
        break;
      case 'bidi_streaming':
        implementation[method.localName] = bidiStreamHandler(method, path, handler as never, report);
        break;
    }
  }
  return implementation;
}

/** Registers `service` with `handlers` on a grpc-js server. */
export function addService<S extends DescService>(server: Server, service: S, handlers: ServiceHandlers<S>, options: ImplementOptions = {}): void {
  server.addService(serviceDefinition(service), implement(service, handlers, options));
}

/** A grpc-js server with DEFAULT_SERVER_OPTIONS (4 MiB messages, keepalive), `overrides` on top. */
export function createServer(overrides: ChannelOptions = {}): Server {
  return new Server({ ...DEFAULT_SERVER_OPTIONS, ...overrides });
}

/**
 * Binds a server to `address` (`127.0.0.1:0`, `unix:///run/fleetkey/agent.sock`) and resolves
 * the bound port (0 for Unix sockets).
 * @throws Error from grpc-js when the address cannot be bound.
 */
export function bindServer(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/** Stops accepting calls, waits up to `graceMs` for running calls, then cuts the rest. */
export function shutdownServer(server: Server, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
