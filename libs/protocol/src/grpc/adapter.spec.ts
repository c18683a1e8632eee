/**
 * The generic gRPC adapter over real sockets: TCP on 127.0.0.1 port 0 and a Unix socket in a
 * temporary directory, with real grpc-js servers and clients (no mocks). Every server and client
 * a test starts is closed in afterEach.
 */
import { FleetkeyError, isFleetkeyError } from '@fleetkey/key-types';
import { Client, Metadata, ServerCredentials, credentials, status, type Server, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError } from '../errors.js';
import { AgentService, type OpenChannelRequest, type OpenChannelResponseSchema } from '../gen/fleetkey/v1/agent_pb.js';
import { DeviceService } from '../gen/fleetkey/v1/device_pb.js';
import { OperatorService } from '../gen/fleetkey/v1/operator_pb.js';
import { closeClient, createClient } from './client.js';
import { MAX_RECEIVE_MESSAGE_BYTES } from './options.js';
import { addService, bindServer, createServer, shutdownServer } from './server.js';
import { ERROR_CODE_TRAILER, INTERNAL_ERROR_MESSAGE } from './status.js';
import type { ServiceHandlers, StreamWriter } from './types.js';

class KeyNotFound extends FleetkeyError {
  readonly code = 'KEY_NOT_FOUND' as const;
}
class StoreLocked extends FleetkeyError {
  readonly code = 'STORE_LOCKED' as const;
}

const SECRET = 'password=hunter2 at /var/lib/fleetkey/store.db';

/** What the server side observed, for assertions on cancellation and unexpected errors. */
interface Observed {
  cancelled: Promise<string>;
  unexpected: Array<{ error: unknown; method: string }>;
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function agentHandlers(cancelled: (method: string) => void): ServiceHandlers<typeof AgentService> {
  return {
    seal: async (request) => ({
      envelope: Uint8Array.from(request.plaintext).reverse(),
      key: { keyId: 'communication/acme/fleet', version: 3 },
    }),
    open: async (request, context) => {
      switch (request.purpose) {
        case 'missing':
          throw new KeyNotFound('no epoch 9 of communication/acme/fleet');
        case 'locked':
          throw new StoreLocked('the agent is locked');
        case 'bug':
          throw new Error(SECRET);
        case 'slow':
          await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
          cancelled(context.method);
          return {};
        default:
          return { plaintext: Uint8Array.from(request.envelope).reverse() };
      }
    },
    getStatus: (_request, context) => ({
      provisioned: true,
      fleet: 'acme',
      deviceId: context.metadata.get('x-bad-id')[0] === 'yes' ? 'a/b' : 'robot-1',
      agentVersion: String(context.metadata.get('authorization')[0] ?? ''),
    }),
    openChannel: async (requests, writer) => {
      // A careless handler: it swallows a malformed-request error and ends normally.
      try {
        await echoChannel(requests, writer);
      } catch (error) {
        if (isFleetkeyError(error, 'MESSAGE_MALFORMED')) return;
        throw error;
      }
    },
  };
}

async function echoChannel(
  requests: AsyncIterable<OpenChannelRequest>,
  writer: StreamWriter<typeof OpenChannelResponseSchema>,
): Promise<void> {
  for await (const request of requests) {
    const frame = request.frame;
    if (frame.case === 'open') {
      if (frame.value.peer.case === 'deviceId' && frame.value.peer.value === 'unknown') throw new KeyNotFound('no such peer');
      await writer.write({ frame: { case: 'opened', value: { peerDeviceId: frame.value.peer.value ?? '' } } });
    } else if (frame.case === 'data') {
      await writer.write({ frame: { case: 'data', value: { data: Uint8Array.from(frame.value.data).reverse() } } });
    } else if (frame.case === 'close') {
      await writer.write({ frame: { case: 'close', value: { reason: 'bye' } } });
      return;
    }
  }
}

function deviceHandlers(cancelled: (method: string) => void): ServiceHandlers<typeof DeviceService> {
  return {
    streamCommands: async function* (request, context) {
      let sequence = request.lastCommandSequence;
      try {
        while (!context.signal.aborted) {
          sequence += 1n;
          if (sequence === 1000n) throw new KeyNotFound('no command 1000');
          yield { item: { case: 'command', value: { payload: new Uint8Array(8), signingKey: { keyId: 'emergency/acme/e', version: Number(sequence) } } } };
        }
      } finally {
        if (context.signal.aborted) cancelled(context.method);
      }
    },
  };
}

function operatorHandlers(): ServiceHandlers<typeof OperatorService> {
  return {
    createBackup: async function* () {
      for (let i = 0; i < 3; i++) yield { chunk: new Uint8Array(1024).fill(i) };
      yield { info: { backupId: 'b1', sizeBytes: 3072n } };
    },
    verifyBackup: async (requests) => {
      let size = 0n;
      for await (const request of requests) size += BigInt(request.chunk.byteLength);
      return { valid: size > 0n, info: { sizeBytes: size } };
    },
  };
}

interface Harness {
  server: Server;
  target: string;
  observed: Observed;
  clients: object[];
  raw: Client[];
}

const harnesses: Harness[] = [];
const tempDirs: string[] = [];

async function start(transport: 'tcp' | 'unix'): Promise<Harness> {
  const cancelledSignal = deferred<string>();
  const observed: Observed = { cancelled: cancelledSignal.promise, unexpected: [] };
  const onUnexpectedError = (error: unknown, method: string): void => {
    observed.unexpected.push({ error, method });
  };
  const server = createServer();
  addService(server, AgentService, agentHandlers(cancelledSignal.resolve), { onUnexpectedError });
  addService(server, DeviceService, deviceHandlers(cancelledSignal.resolve), { onUnexpectedError });
  addService(server, OperatorService, operatorHandlers(), { onUnexpectedError });
  let address: string;
  if (transport === 'tcp') {
    address = '127.0.0.1:0';
  } else {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fk-grpc-'));
    tempDirs.push(dir);
    address = `unix://${path.join(dir, 'x.sock')}`;
  }
  const port = await bindServer(server, address, ServerCredentials.createInsecure());
  const target = transport === 'tcp' ? `127.0.0.1:${port}` : address;
  const harness: Harness = { server, target, observed, clients: [], raw: [] };
  harnesses.push(harness);
  return harness;
}

function clientsOf(h: Harness) {
  const agent = createClient(AgentService, h.target, credentials.createInsecure());
  const device = createClient(DeviceService, h.target, credentials.createInsecure());
  const operator = createClient(OperatorService, h.target, credentials.createInsecure());
  h.clients.push(agent, device, operator);
  return { agent, device, operator };
}

function rawClient(h: Harness, options: Record<string, number> = {}): Client {
  const client = new Client(h.target, credentials.createInsecure(), options);
  h.raw.push(client);
  return client;
}

function rawUnary(client: Client, method: string, body: Buffer): Promise<ServiceError | Buffer> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, body, (error, response) => resolve(error ?? (response as Buffer)));
  });
}

async function rpcErrorOf(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error('expected the call to fail');
}

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    for (const client of h.clients) closeClient(client);
    for (const client of h.raw) client.close();
    await shutdownServer(h.server, 200);
  }
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.each([['tcp' as const], ['unix' as const]])('gRPC adapter over %s', (transport) => {
  it('serves unary calls with typed requests and responses', async () => {
    const { agent } = clientsOf(await start(transport));
    const sealed = await agent.seal({ plaintext: Uint8Array.from([1, 2, 3]), purpose: 'telemetry' });
    expect(Array.from(sealed.envelope)).toEqual([3, 2, 1]);
    expect(sealed.key?.version).toBe(3);
    const opened = await agent.open({ envelope: sealed.envelope });
    expect(Array.from(opened.plaintext)).toEqual([1, 2, 3]);
  });

  it('passes request metadata to handlers', async () => {
    const { agent } = clientsOf(await start(transport));
    const status = await agent.getStatus({}, { metadata: { authorization: 'Bearer app-token' } });
    expect(status.agentVersion).toBe('Bearer app-token');
  });

  it('streams server responses and cancels the call when the reader leaves early', async () => {
    const h = await start(transport);
    const { device } = clientsOf(h);
    const seen: bigint[] = [];
    for await (const response of device.streamCommands({ lastCommandSequence: 10n })) {
      if (response.item.case === 'command') seen.push(BigInt(response.item.value.signingKey?.version ?? 0));
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([11n, 12n, 13n]);
    expect(await h.observed.cancelled).toBe('/fleetkey.v1.DeviceService/StreamCommands');
  });

  it('ends a server stream with the status of the error its generator throws', async () => {
    const { device } = clientsOf(await start(transport));
    const seen: string[] = [];
    const error = await rpcErrorOf(
      (async () => {
        for await (const response of device.streamCommands({ lastCommandSequence: 997n })) seen.push(response.item.case ?? '');
      })(),
    );
    expect(seen).toEqual(['command', 'command']);
    expect(error.code).toBe('KEY_NOT_FOUND');
    expect(error.status).toBe(status.NOT_FOUND);
  });

  it('serves a finite server stream to its end', async () => {
    const { operator } = clientsOf(await start(transport));
    const parts = [];
    for await (const part of operator.createBackup({})) parts.push(part);
    expect(parts.map((p) => p.chunk.byteLength)).toEqual([1024, 1024, 1024, 0]);
    expect(parts[3]?.info?.backupId).toBe('b1');
  });

  it('serves client streams', async () => {
    const { operator } = clientsOf(await start(transport));
    const call = operator.verifyBackup();
    for (let i = 0; i < 5; i++) await call.send({ chunk: new Uint8Array(1000) });
    const result = await call.finish();
    expect(result.valid).toBe(true);
    expect(result.info?.sizeBytes).toBe(5000n);
  });

  it('serves bidi streams: open, data frames, close', async () => {
    const { agent } = clientsOf(await start(transport));
    const channel = agent.openChannel();
    await channel.send({ frame: { case: 'open', value: { peer: { case: 'deviceId', value: 'robot-2' } } } });
    await channel.send({ frame: { case: 'data', value: { data: Uint8Array.from([1, 2]) } } });
    await channel.send({ frame: { case: 'data', value: { data: Uint8Array.from([3, 4, 5]) } } });
    await channel.send({ frame: { case: 'close', value: {} } });
    channel.closeSend();
    const frames = [];
    for await (const response of channel) frames.push(response.frame);
    expect(frames.map((f) => f.case)).toEqual(['opened', 'data', 'data', 'close']);
    expect(frames[0]?.case === 'opened' && frames[0].value.peerDeviceId).toBe('robot-2');
    expect(frames[2]?.case === 'data' && Array.from(frames[2].value.data)).toEqual([5, 4, 3]);
  });

  it('ends a bidi stream with the status of the error its handler throws', async () => {
    const { agent } = clientsOf(await start(transport));
    const channel = agent.openChannel();
    await channel.send({ frame: { case: 'open', value: { peer: { case: 'deviceId', value: 'unknown' } } } });
    const error = await rpcErrorOf(
      (async () => {
        for await (const _ of channel) {
          // no frames expected
        }
      })(),
    );
    expect(error.code).toBe('KEY_NOT_FOUND');
    expect(error.status).toBe(status.NOT_FOUND);
    // Sending on the failed call fails with the call's own error.
    const late = await rpcErrorOf(channel.send({ frame: { case: 'close', value: {} } }));
    expect(late.code).toBe('KEY_NOT_FOUND');
  });

  it('fails with DEADLINE_EXCEEDED and aborts the handler signal when the deadline passes', async () => {
    const h = await start(transport);
    const { agent } = clientsOf(h);
    const error = await rpcErrorOf(agent.open({ purpose: 'slow' }, { timeoutMs: 100 }));
    expect(error.status).toBe(status.DEADLINE_EXCEEDED);
    expect(error.code).toBe('RPC_FAILED');
    expect(error.retryable).toBe(false);
    expect(await h.observed.cancelled).toBe('/fleetkey.v1.AgentService/Open');
  });

  it('cancels a call when its AbortSignal aborts', async () => {
    const h = await start(transport);
    const { agent } = clientsOf(h);
    const controller = new AbortController();
    const call = agent.open({ purpose: 'slow' }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await rpcErrorOf(call);
    expect(error.status).toBe(status.CANCELLED);
    expect(await h.observed.cancelled).toBe('/fleetkey.v1.AgentService/Open');
    const already = await rpcErrorOf(agent.open({}, { signal: controller.signal }));
    expect(already.status).toBe(status.CANCELLED);
  });

  it.each([
    ['missing', 'KEY_NOT_FOUND', status.NOT_FOUND],
    ['locked', 'STORE_LOCKED', status.FAILED_PRECONDITION],
  ])('maps a thrown %s error to its code and gRPC status', async (purpose, code, grpcStatus) => {
    const h = await start(transport);
    const { agent } = clientsOf(h);
    const error = await rpcErrorOf(agent.open({ purpose }));
    expect(error.code).toBe(code);
    expect(error.status).toBe(grpcStatus);
    expect(h.observed.unexpected).toEqual([]);
  });

  it('Precondition: an error that is not a FleetkeyError leaks nothing: fixed status and message', async () => {
    const h = await start(transport);
    const { agent } = clientsOf(h);
    const error = await rpcErrorOf(agent.open({ purpose: 'bug' }));
    expect(error.status).toBe(status.INTERNAL);
    expect(error.code).toBe('RPC_FAILED');
    expect(error.message).toBe(INTERNAL_ERROR_MESSAGE);
    expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.toContain('hunter2');
    expect(h.observed.unexpected).toHaveLength(1);
    expect(h.observed.unexpected[0]?.method).toBe('/fleetkey.v1.AgentService/Open');
  });

  it('answers UNIMPLEMENTED for an rpc without a handler', async () => {
    const { agent } = clientsOf(await start(transport));
    const error = await rpcErrorOf(agent.sign({ data: new Uint8Array(4) }));
    expect(error.status).toBe(status.UNIMPLEMENTED);
  });

  it('Precondition: an undecodable request is answered INVALID_ARGUMENT before any handler runs', async () => {
    const h = await start(transport);
    const raw = rawClient(h);
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const result = await rawUnary(raw, '/fleetkey.v1.AgentService/Seal', garbage);
    expect(result).not.toBeInstanceOf(Buffer);
    const error = result as ServiceError;
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.metadata.get(ERROR_CODE_TRAILER)).toEqual(['MESSAGE_MALFORMED']);
    // The same raw client gets a real answer for well-formed bytes (field 1 = plaintext "ab").
    const ok = await rawUnary(raw, '/fleetkey.v1.AgentService/Seal', Buffer.from([0x0a, 0x02, 0x61, 0x62]));
    expect(ok).toBeInstanceOf(Buffer);
  });

  it('Precondition: an undecodable request in a stream ends the call with INVALID_ARGUMENT, whatever the handler does with the error', async () => {
    const h = await start(transport);
    const raw = rawClient(h);
    const call = raw.makeBidiStreamRequest('/fleetkey.v1.AgentService/OpenChannel', (b: Buffer) => b, (b: Buffer) => b, new Metadata(), {});
    const result = new Promise<number>((resolve) => call.on('status', (s: { code: number }) => resolve(s.code)));
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.write(Buffer.from([0xff, 0xff, 0xff]));
    call.end();
    expect(await result).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses a request that breaks a field limit with INVALID_ARGUMENT', async () => {
    const { agent } = clientsOf(await start(transport));
    const error = await rpcErrorOf(agent.seal({ plaintext: new Uint8Array(1024 * 1024 + 1) }));
    expect(error.status).toBe(status.INVALID_ARGUMENT);
    expect(error.code).toBe('MESSAGE_MALFORMED');
    const badId = await rpcErrorOf(agent.seal({ plaintext: new Uint8Array(1), purpose: 'a/b' }));
    expect(badId.status).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses messages over the 4 MiB receive limit with RESOURCE_EXHAUSTED, on both sides', async () => {
    const h = await start(transport);
    // Server side: a raw client without a send limit.
    const raw = rawClient(h, { 'grpc.max_send_message_length': -1 });
    const big = Buffer.alloc(MAX_RECEIVE_MESSAGE_BYTES + 16);
    const result = await rawUnary(raw, '/fleetkey.v1.AgentService/Seal', big);
    expect((result as ServiceError).code).toBe(status.RESOURCE_EXHAUSTED);
    // Client side: the typed client refuses to send it at all.
    const { agent } = clientsOf(h);
    const error = await rpcErrorOf(agent.seal({ plaintext: new Uint8Array(MAX_RECEIVE_MESSAGE_BYTES + 16) }));
    expect(error.status).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('refuses a response that breaks a field limit on the client', async () => {
    const { agent } = clientsOf(await start(transport));
    const error = await rpcErrorOf(agent.getStatus({}, { metadata: { 'x-bad-id': 'yes' } }));
    expect(error.status).toBe(status.INTERNAL);
  });
});

describe('createClient', () => {
  it('refuses an invalid default timeout as a programming error', () => {
    expect(() => createClient(AgentService, '127.0.0.1:1', credentials.createInsecure(), { defaultTimeoutMs: 0 })).toThrow(RangeError);
  });

  it('fails with UNAVAILABLE (retryable) when nothing listens', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fk-grpc-'));
    tempDirs.push(dir);
    const agent = createClient(AgentService, `unix://${path.join(dir, 'nobody.sock')}`, credentials.createInsecure());
    try {
      const error = await rpcErrorOf(agent.getStatus({}, { timeoutMs: 2000 }));
      expect(error.status).toBe(status.UNAVAILABLE);
      expect(error.retryable).toBe(true);
    } finally {
      closeClient(agent);
    }
  });
});
