/**
 * Cost of the generic gRPC adapter: a unary call with a 1 KiB payload over a Unix socket through
 * `createClient` + `implement` (protobuf-es encode/decode, field limits, context, error mapping),
 * against a hand-written grpc-js service with identity serializers (raw bytes, no protobuf) on the
 * same kind of socket in the same run.
 *
 * Trust boundary: none; local sockets in a temporary directory, removed at the end.
 */
import { runComparison } from '@fleetkey/bench';
import { Client, ServerCredentials, credentials, type ServiceDefinition } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentService, addService, bindServer, closeClient, createClient, createServer, shutdownServer } from '../src/index.js';

const PAYLOAD_BYTES = 1024;

const identity = (bytes: Buffer): Buffer => bytes;
const rawService: ServiceDefinition = {
  echo: {
    path: '/bench.Raw/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fk-bench-'));
  const rawAddress = `unix://${path.join(dir, 'raw.sock')}`;
  const adapterAddress = `unix://${path.join(dir, 'adapter.sock')}`;

  const rawServer = createServer();
  rawServer.addService(rawService, {
    echo: (call: { request: Buffer }, callback: (error: null, response: Buffer) => void) => callback(null, call.request),
  });
  await bindServer(rawServer, rawAddress, ServerCredentials.createInsecure());

  const adapterServer = createServer();
  addService(adapterServer, AgentService, {
    seal: (request) => ({ envelope: request.plaintext, key: { keyId: 'communication/acme/fleet', version: 1 } }),
  });
  await bindServer(adapterServer, adapterAddress, ServerCredentials.createInsecure());

  const rawClient = new Client(rawAddress, credentials.createInsecure());
  const agent = createClient(AgentService, adapterAddress, credentials.createInsecure());
  const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
  const plaintext = new Uint8Array(PAYLOAD_BYTES).fill(7);

  const rawCall = (): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      rawClient.makeUnaryRequest('/bench.Raw/Echo', identity, identity, payload, (error, response) =>
        error || response === undefined ? reject(error ?? new Error('no response')) : resolve(response),
      );
    });

  try {
    // Connect both channels before measuring.
    await rawCall();
    await agent.seal({ plaintext });
    await runComparison({
      title: `gRPC unary, ${PAYLOAD_BYTES} B payload, Unix socket`,
      time: 4000,
      baseline: { name: 'hand-written grpc-js service, identity serializers', fn: rawCall },
      cases: [{ name: 'generic adapter (AgentService.Seal, protobuf-es)', fn: () => agent.seal({ plaintext }), maxCostRatio: 1.5 }],
    });
  } finally {
    rawClient.close();
    closeClient(agent);
    await Promise.all([shutdownServer(rawServer, 1000), shutdownServer(adapterServer, 1000)]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
