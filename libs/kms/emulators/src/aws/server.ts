/**
 * The AWS KMS emulator's HTTP server: AWS JSON 1.1 (`POST /`, `X-Amz-Target: TrentService.<Op>`,
 * `Content-Type: application/x-amz-json-1.1`), SigV4 checked on every request, faults injected
 * before anything else (ThrottlingException 400, KMSInternalException 500, outage = the
 * connection is dropped, as an unreachable endpoint looks to the SDK), errors as
 * `{"__type": "...", "message": "..."}` with the real statuses.
 *
 * Trust boundary: everything arriving on the socket is client input; the body is bounded before
 * it is parsed; internal failures answer KMSInternalException without detail.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { FaultInjector } from '../faults.js';
import { CRYPTO_OPERATIONS } from './crypto-operations.js';
import { AwsKmsFault, fault } from './errors.js';
import { KEY_OPERATIONS } from './key-operations.js';
import type { Operation, OperationContext } from './key-operations.js';
import { KmsState } from './store.js';
import { verifySigV4 } from './sigv4.js';
import type { AwsTestCredentials } from './sigv4.js';

/** Largest request body read (a 6144-byte blob base64-encoded plus context is far below). */
export const MAX_AWS_REQUEST_BODY = 64 * 1024;
export const TARGET_PREFIX = 'TrentService.';
export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * Test credentials the emulator accepts unless told otherwise (AWS's documented example pair).
 * Frozen: hand the SDK a copy (`{ ...AWS_TEST_CREDENTIALS }`), because it annotates the object.
 */
export const AWS_TEST_CREDENTIALS: AwsTestCredentials = Object.freeze({
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
});

export interface AwsKmsEmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly region?: string;
  readonly accountId?: string;
  /** Principals allowed to sign requests; default: AWS_TEST_CREDENTIALS with every operation. */
  readonly credentials?: readonly AwsTestCredentials[];
  readonly faults?: FaultInjector;
  readonly now?: () => Date;
}

export interface AwsKmsEmulator {
  readonly url: string;
  readonly port: number;
  readonly region: string;
  readonly faults: FaultInjector;
  readonly credentials: readonly AwsTestCredentials[];
  close(): Promise<void>;
}

const OPERATIONS: Readonly<Record<string, Operation>> = Object.freeze({ ...KEY_OPERATIONS, ...CRYPTO_OPERATIONS });

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Precondition: a body over MAX_AWS_REQUEST_BODY bytes is refused before it is parsed.
      if (size > MAX_AWS_REQUEST_BODY) {
        reject(fault('ValidationException', `Request body exceeds ${MAX_AWS_REQUEST_BODY} bytes`));
        // Drain the rest without buffering it, so the error answer can still be sent.
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendFault(res: ServerResponse, error: AwsKmsFault): void {
  res.setHeader('x-amzn-errortype', error.type);
  send(res, error.status, { __type: error.type, message: error.message });
}

/**
 * Starts an emulator on `port` (0 = any free port) on 127.0.0.1.
 * @throws (rejects) when the port cannot be bound.
 */
export async function startAwsKmsEmulator(options: AwsKmsEmulatorOptions = {}): Promise<AwsKmsEmulator> {
  const region = options.region ?? 'us-east-1';
  const state = new KmsState(region, options.accountId ?? '111122223333');
  const faults = options.faults ?? new FaultInjector();
  const credentials = options.credentials ?? [AWS_TEST_CREDENTIALS];
  const now = options.now ?? (() => new Date());
  const ctx: OperationContext = { state, now };
  const sockets = new Set<Socket>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const decision = await faults.next();
    if (decision === 'outage') {
      // An outage looks like an unreachable endpoint: the connection drops without an answer.
      req.socket.destroy();
      return;
    }
    if (decision === 'throttle') throw fault('ThrottlingException', 'Rate exceeded');
    if (decision === 'error') throw fault('KMSInternalException', 'An internal error occurred.');
    if (req.method !== 'POST' || (req.url ?? '/') !== '/') throw fault('UnknownOperationException', 'Only POST / is served');
    const body = await readBody(req);
    const principal = verifySigV4({ headers: req.headers, method: 'POST', path: '/', body, region, now: now().getTime(), credentials });
    const target = req.headers['x-amz-target'];
    const op = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
    const operation = op !== undefined && Object.hasOwn(OPERATIONS, op) ? OPERATIONS[op] : undefined;
    if (!operation || op === undefined) throw fault('UnknownOperationException', 'Unknown operation');
    if (principal.allow && !principal.allow.includes(op)) {
      throw fault('AccessDeniedException', `User: arn:aws:iam::${state.accountId}:user/test is not authorized to perform: kms:${op} because no identity-based policy allows the kms:${op} action`);
    }
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.startsWith(JSON_CONTENT_TYPE)) throw fault('SerializationException', `Expected Content-Type ${JSON_CONTENT_TYPE}`);
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw fault('SerializationException', 'Malformed JSON body');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw fault('SerializationException', 'Body must be a JSON object');
    send(res, 200, await operation(ctx, input as Record<string, unknown>));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || req.socket.destroyed) return;
      sendFault(res, error instanceof AwsKmsFault ? error : fault('KMSInternalException', 'An internal error occurred.'));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    region,
    faults,
    credentials,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
