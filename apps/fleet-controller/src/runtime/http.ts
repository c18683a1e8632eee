/**
 * The controller's probe port: `GET /healthz` (liveness: 200 while the process runs), `GET /readyz`
 * (readiness: 200 or 503 with the named checks) and `GET /metrics` (Prometheus text). Nothing else:
 * every other path is 404, every other method 405, and a request that announces a body is refused
 * with 413 without the body being read.
 *
 * Trust boundary: this port is plain HTTP by design. It is meant for a cluster-internal probe and
 * scrape network (kubelet, Prometheus), serves no secret and changes no state, so it carries no
 * credentials and needs none; keep it off public interfaces (bind it to a private address).
 * Requests are untrusted and bounded: header size, URL length, connection count, and timeouts for
 * headers, whole requests, idle keep-alive and slow readiness checks.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { formatAddress } from './listen.js';
import type { Logger } from './logger.js';

export interface ReadinessReport {
  readonly ready: boolean;
  /** Check name (a short word such as `store` or `kms:local`) → passed. */
  readonly checks: Readonly<Record<string, boolean>>;
}

export interface StartHttpServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly metrics: Registry;
  readonly readiness: () => Promise<ReadinessReport>;
  readonly logger: Logger;
  /** A readiness check slower than this answers 503; default DEFAULT_READINESS_TIMEOUT_MS. */
  readonly readinessTimeoutMs?: number;
}

export interface ProbeServer {
  /** `HOST:PORT` actually bound (the real port when 0 was asked for). */
  readonly address: string;
  /** Stops listening and closes every connection; resolves once the server is closed. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_READINESS_TIMEOUT_MS = 5_000;
/** Probes and scrapes are tiny: bounds far above them and far below anything abusive. */
export const MAX_HEADER_BYTES = 8 * 1024;
export const MAX_URL_LENGTH = 2_048;
export const MAX_PROBE_CONNECTIONS = 128;
export const HEADERS_TIMEOUT_MS = 5_000;
export const REQUEST_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Checks reported by /readyz (more is a bug in the readiness function). */
export const MAX_READINESS_CHECKS = 64;
/** `store`, `kms:aws`, `broker`: a short word, never free text. */
const CHECK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const JSON_TYPE = 'application/json; charset=utf-8';

function send(request: IncomingMessage, response: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  response.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': String(bytes.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  // RFC 9110 §9.3.2: HEAD answers with the headers GET would send, without content.
  response.end(request.method === 'HEAD' ? undefined : bytes);
}

const sendJson = (request: IncomingMessage, response: ServerResponse, status: number, value: unknown, extra?: Record<string, string>): void =>
  send(request, response, status, JSON_TYPE, JSON.stringify(value), extra);

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Copies only well-formed boolean checks: the report is code we call, but its output is public. */
function publicReport(report: ReadinessReport): ReadinessReport {
  const checks: Record<string, boolean> = {};
  const entries = typeof report?.checks === 'object' && report.checks !== null ? Object.entries(report.checks) : [];
  for (const [name, passed] of entries.slice(0, MAX_READINESS_CHECKS)) {
    if (CHECK_NAME.test(name) && typeof passed === 'boolean') checks[name] = passed;
  }
  return { ready: report?.ready === true, checks };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts the probe server and resolves once it listens.
 * @throws (rejects with) the listen error (EADDRINUSE, EACCES…); RangeError for a bad port or
 *   readiness timeout; TypeError for missing collaborators.
 */
export async function startHttpServer(options: StartHttpServerOptions): Promise<ProbeServer> {
  const { host, port, metrics, readiness, logger } = options;
  const readinessTimeoutMs = options.readinessTimeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`"port" expected an integer in 0..65535, got ${port}`);
  if (!Number.isInteger(readinessTimeoutMs) || readinessTimeoutMs < 1) throw new RangeError('"readinessTimeoutMs" expected a positive integer');
  if (typeof readiness !== 'function') throw new TypeError('"readiness" expected a function');
  if (typeof metrics?.metrics !== 'function') throw new TypeError('"metrics" expected a prom-client Registry');

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '';
    if (url.length > MAX_URL_LENGTH) return sendJson(request, response, 414, { error: 'uri too long' });
    // Precondition: no request body is ever read; one announced closes the connection after the answer.
    if (hasBody(request)) return sendJson(request, response, 413, { error: 'request body not accepted' }, { Connection: 'close' });
    const path = url.split('?', 1)[0];
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return sendJson(request, response, 404, { error: 'not found' });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return sendJson(request, response, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    }
    switch (path) {
      case '/healthz':
        return sendJson(request, response, 200, { status: 'ok' });
      case '/readyz': {
        let report: ReadinessReport;
        try {
          report = publicReport(await withTimeout(readiness(), readinessTimeoutMs));
        } catch (error) {
          logger.warn({ err: error }, 'readiness check failed');
          report = { ready: false, checks: {} };
        }
        return sendJson(request, response, report.ready ? 200 : 503, report);
      }
      case '/metrics':
        return send(request, response, 200, metrics.contentType, await metrics.metrics());
    }
  }

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (request, response) => {
    route(request, response).catch((error: unknown) => {
      logger.error({ err: error, path: (request.url ?? '').slice(0, 64) }, 'probe request failed');
      if (!response.headersSent) sendJson(request, response, 500, { error: 'internal error' });
      else response.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = MAX_PROBE_CONNECTIONS;
  server.maxRequestsPerSocket = 100;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'probe server error'));
  const bound = server.address() as AddressInfo;
  const address = formatAddress(bound.address, bound.port);
  logger.info({ address }, 'probe server listening');

  let closing: Promise<void> | undefined;
  return Object.freeze({
    address,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Probes are instantaneous: nothing in flight is worth waiting for at shutdown.
        server.closeAllConnections();
      });
      return closing;
    },
  });
}
