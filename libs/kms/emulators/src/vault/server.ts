/**
 * The Vault HTTP front end: `/v1/…` over plain HTTP with `X-Vault-Token`, JSON bodies, the
 * shared FaultInjector consulted once per request (throttle → 429, error → 500, outage → 503
 * "Vault is sealed"), then the token's ACL, then the Transit engine. `GET /v1/sys/health` needs
 * no token, as in Vault. Vault's `LIST` verb is not one Node's HTTP parser accepts, so a `LIST`
 * request is answered from the parser's error hook (with `Connection: close`); `GET ?list=true`
 * is the ordinary route.
 *
 * Trust boundary: everything arriving on the socket is untrusted; bodies are bounded
 * (MAX_REQUEST_BYTES) and tokens are never logged or echoed.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FaultInjector } from '../faults.js';
import type { TokenPolicy } from './acl.js';
import { TokenTable, allows } from './acl.js';
import type { Fields } from './fields.js';
import type { Reply } from './replies.js';
import { INTERNAL_ERROR, PERMISSION_DENIED, SEALED, UNSUPPORTED_PATH, badRequest, errorReply, throttledReply } from './replies.js';
import { TransitEngine } from './transit.js';

/** Vault's default max_request_size (32 MiB). */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** Bound on the header block of a LIST request read from the parser's error hook. */
export const MAX_LIST_HEADER_BYTES = 16 * 1024;
/** The Vault version the emulator reports in sys/health. */
export const EMULATED_VAULT_VERSION = '1.15.6';

export interface VaultEmulatorOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Mount path of the Transit engine (default `transit`). */
  readonly mount?: string;
  /** The root token (default: a fresh random one, returned as `rootToken`). */
  readonly rootToken?: string;
  /** Further tokens with ACL policies (see acl.ts). */
  readonly tokens?: Readonly<Record<string, TokenPolicy>>;
  /** Start with `transit/config/keys` `disable_upsert = true`. Default false, as Vault. */
  readonly disableUpsert?: boolean;
  readonly faults?: FaultInjector;
}

export interface VaultEmulator {
  readonly url: string;
  readonly port: number;
  readonly mount: string;
  readonly rootToken: string;
  readonly faults: FaultInjector;
  close(): Promise<void>;
}

interface PlainRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function healthBody(sealed: boolean): Record<string, unknown> {
  return {
    initialized: true,
    sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(Date.now() / 1000),
    version: EMULATED_VAULT_VERSION,
    cluster_name: 'fleetkey-emulator',
    cluster_id: '00000000-0000-4000-8000-000000000000',
  };
}

function parseFields(body: Buffer): Fields | Reply {
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return badRequest('failed to parse JSON input: expected an object');
    return parsed as Fields;
  } catch {
    return badRequest('failed to parse JSON input');
  }
}

async function dispatch(request: PlainRequest, engine: TransitEngine, tokens: TokenTable, mount: string, faults: FaultInjector): Promise<Reply> {
  const url = new URL(request.url, 'http://vault.invalid');
  const listQuery = url.searchParams.get('list');
  const method = request.method === 'GET' && (listQuery === 'true' || listQuery === '1') ? 'LIST' : request.method === 'PUT' ? 'POST' : request.method;
  const path = url.pathname.replace(/\/+$/, '');
  const relative = path.startsWith('/v1/') ? path.slice('/v1/'.length) : undefined;

  const decision = await faults.next();
  if (relative === 'sys/health') {
    return decision === 'outage' ? { status: 503, body: healthBody(true) } : { status: 200, body: healthBody(false) };
  }
  if (decision === 'outage') return SEALED;
  if (decision === 'throttle') return throttledReply(relative ?? path);
  if (decision === 'error') return INTERNAL_ERROR;

  // Vault checks the token before routing: a bad token is 403 whatever the path.
  const header = request.headers['x-vault-token'];
  const policy = tokens.lookup(typeof header === 'string' ? header : undefined);
  if (policy === undefined) return PERMISSION_DENIED;
  if (relative === undefined || !relative.startsWith(`${mount}/`)) return UNSUPPORTED_PATH;

  const segments = relative.slice(mount.length + 1).split('/');
  const fields = parseFields(request.body);
  if ('status' in fields && typeof fields.status === 'number') return fields as Reply;
  const transitRequest = { method, segments, fields: fields as Fields };
  const capability = engine.requiredCapability(transitRequest);
  if (capability === undefined) return UNSUPPORTED_PATH;
  if (!allows(policy, relative, capability)) return PERMISSION_DENIED;
  return engine.handle(transitRequest);
}

function serialize(reply: Reply): { head: Record<string, string>; payload: Buffer } {
  const payload = reply.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(reply.body));
  const head: Record<string, string> = { 'cache-control': 'no-store', 'content-length': String(payload.length) };
  if (reply.body !== undefined) head['content-type'] = 'application/json';
  return { head, payload };
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Precondition: bodies are bounded; past the bound the request is refused, not buffered.
      if (size > MAX_REQUEST_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_REQUEST_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parses the head of a LIST request from the raw bytes the HTTP parser refused. */
function parseListHead(raw: Buffer): PlainRequest | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0 || end > MAX_LIST_HEADER_BYTES) return undefined;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^LIST (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!match?.[1]) return undefined;
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method: 'LIST', url: match[1], headers, body: Buffer.alloc(0) };
}

/**
 * Starts the emulator. Resolves once it listens.
 * @throws RangeError when `mount` is not a plain path segment.
 */
export async function startVaultEmulator(options: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  const mount = options.mount ?? 'transit';
  if (!/^[\w-]+$/.test(mount)) throw new RangeError(`"mount" expected a single path segment, got ${JSON.stringify(mount.slice(0, 32))}`);
  const rootToken = options.rootToken ?? `hvs.${randomBytes(18).toString('base64url')}`;
  const tokens = new TokenTable({ ...options.tokens, [rootToken]: 'root' });
  const faults = options.faults ?? new FaultInjector();
  const engine = new TransitEngine({ disableUpsert: options.disableUpsert ?? false });
  const sockets = new Set<Socket>();

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      let reply: Reply;
      try {
        const body = await readBody(req);
        reply = body === undefined
          ? errorReply(413, 'http: request body too large')
          : await dispatch({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, engine, tokens, mount, faults);
      } catch {
        reply = INTERNAL_ERROR;
      }
      const { head, payload } = serialize(reply);
      res.writeHead(reply.status, head);
      res.end(payload);
    })();
  });

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  server.on('clientError', (error: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
    const listHead = error.code === 'HPE_INVALID_METHOD' && error.rawPacket ? parseListHead(error.rawPacket) : undefined;
    if (!listHead || !socket.writable) {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
      return;
    }
    void dispatch(listHead, engine, tokens, mount, faults)
      .catch(() => INTERNAL_ERROR)
      .then((reply) => {
        const { head, payload } = serialize(reply);
        const lines = Object.entries({ ...head, connection: 'close' }).map(([k, v]) => `${k}: ${v}`);
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${reply.status} ${reply.status === 200 ? 'OK' : 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n`), payload]));
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';

  return {
    url: `http://${host}:${port}`,
    port,
    mount,
    rootToken,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
