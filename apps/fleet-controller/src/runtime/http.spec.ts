/** The probe server over real sockets on port 0, spoken to with node:http (no keep-alive pool). */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type ProbeServer, type ReadinessReport } from './http.js';
import { parseListenAddress } from './listen.js';
import { createLogger } from './logger.js';

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function call(address: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('startHttpServer', () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
  let server: ProbeServer | undefined;
  let registry: Registry;

  async function start(readiness: () => Promise<ReadinessReport>, readinessTimeoutMs?: number): Promise<ProbeServer> {
    registry = new Registry();
    new Counter({ name: 'fleetkey_test_total', help: 'test counter', registers: [registry] }).inc(3);
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: registry, readiness, logger, ...(readinessTimeoutMs ? { readinessTimeoutMs } : {}) });
    return server;
  }

  afterEach(async () => {
    await server?.close();
    server = undefined;
    lines.length = 0;
  });

  it('binds port 0 to a real port and reports HOST:PORT', async () => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    const { host, port } = parseListenAddress(address);
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
  });

  it('answers /healthz with 200 {"status":"ok"} (query strings ignored)', async () => {
    const { address } = await start(async () => ({ ready: false, checks: {} }));
    for (const path of ['/healthz', '/healthz?verbose=1']) {
      const reply = await call(address, path);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(reply.body)).toEqual({ status: 'ok' });
    }
  });

  it('answers /readyz with 200 when ready and 503 when not, with the checks', async () => {
    let report: ReadinessReport = { ready: true, checks: { store: true, kms: true } };
    const { address } = await start(async () => report);
    const ready = await call(address, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true, checks: { store: true, kms: true } });
    report = { ready: false, checks: { store: true, kms: false } };
    const notReady = await call(address, '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ ready: false, checks: { store: true, kms: false } });
  });

  it('Precondition: a failing readiness check answers 503 and its error text stays out of the reply and the log', async () => {
    const { address } = await start(async () => {
      throw new Error('database password=hunter2 rejected');
    });
    const reply = await call(address, '/readyz');
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ ready: false, checks: {} });
    expect(reply.body).not.toContain('hunter2');
    expect(lines.join('')).toContain('readiness check failed');
    expect(lines.join('')).not.toContain('hunter2');
  });

  it('answers 503 when the readiness check does not settle in time', async () => {
    const { address } = await start(() => new Promise<ReadinessReport>(() => {}), 20);
    const reply = await call(address, '/readyz');
    expect(reply.status).toBe(503);
  });

  it('publishes only well-formed boolean checks', async () => {
    const { address } = await start(async () => ({ ready: true, checks: { store: true, 'kms:local': true, 'bad name!': true, kms: 'yes' as unknown as boolean } }));
    expect(JSON.parse((await call(address, '/readyz')).body)).toEqual({ ready: true, checks: { store: true, 'kms:local': true } });
  });

  it('serves /metrics in the registry content type', async () => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    const reply = await call(address, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(registry.contentType);
    expect(reply.body).toContain('fleetkey_test_total 3');
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    const get = await call(address, '/healthz');
    const head = await call(address, '/healthz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
  });

  it.each(['/', '/healthz/extra', '/metrics.json', '/../etc/passwd', '/READYZ'])('answers 404 for %s', async (path) => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    expect((await call(address, path)).status).toBe(404);
  });

  it.each(['DELETE', 'PUT', 'PATCH', 'OPTIONS'])('answers 405 for %s with Allow: GET, HEAD', async (method) => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    const reply = await call(address, '/healthz', { method });
    expect(reply.status).toBe(405);
    expect(reply.headers['allow']).toBe('GET, HEAD');
  });

  it('Precondition: a request announcing a body is refused with 413 and the connection closed', async () => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    const post = await call(address, '/readyz', { method: 'POST', body: 'x'.repeat(1000) });
    expect(post.status).toBe(413);
    expect(post.headers['connection']).toBe('close');
    const chunked = await call(address, '/healthz', { headers: { 'Transfer-Encoding': 'chunked' }, body: 'abc' });
    expect(chunked.status).toBe(413);
  });

  it('refuses over-long URLs with 414', async () => {
    const { address } = await start(async () => ({ ready: true, checks: {} }));
    expect((await call(address, `/healthz?${'a'.repeat(3000)}`)).status).toBe(414);
  });

  it('rejects when the port is taken', async () => {
    const first = await start(async () => ({ ready: true, checks: {} }));
    const { port } = parseListenAddress(first.address);
    await expect(startHttpServer({ host: '127.0.0.1', port, metrics: registry, readiness: async () => ({ ready: true, checks: {} }), logger })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });

  it('close() stops listening (a new connection is refused) and is idempotent', async () => {
    const probe = await start(async () => ({ ready: true, checks: {} }));
    await probe.close();
    await probe.close();
    await expect(call(probe.address, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
