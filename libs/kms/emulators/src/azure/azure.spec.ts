/**
 * Wire tests of the Azure Key Vault emulator over real HTTPS (port 0, trusted through the test CA
 * it returns): the bearer challenge, the Entra endpoints, every key operation, the error shapes
 * and the injected faults. The SDK-driven tests live with the adapter (libs/kms/azure), because
 * only the adapter may import @azure/*.
 */
import { constants, createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureKeyVaultEmulator } from './server.js';
import type { AzureKeyVaultEmulator } from './server.js';

const API = 'api-version=7.5';
let emulator: AzureKeyVaultEmulator;
let token: string;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  // Answers are arbitrary JSON the assertions walk into; typing each shape would add nothing.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: Record<string, any>;
}

function call(method: string, path: string, options: { token?: string; body?: unknown; form?: Record<string, string>; ca?: string | null } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload =
      options.form !== undefined ? new URLSearchParams(options.form).toString() : options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {};
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (payload !== undefined) {
      headers['content-type'] = options.form ? 'application/x-www-form-urlencoded' : 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = request(
      `${emulator.url}${path}`,
      { method, headers, agent: false, ...(options.ca === null ? {} : { ca: options.ca ?? emulator.caCertificatePem }) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function getToken(clientId = emulator.clientId, clientSecret = emulator.clientSecret): Promise<Answer> {
  return call('POST', `/${emulator.tenantId}/oauth2/v2.0/token`, {
    form: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'https://vault.azure.net/.default' },
  });
}

beforeAll(async () => {
  emulator = await startAzureKeyVaultEmulator({
    clients: [
      { clientId: 'app-full', clientSecret: 'secret-full' },
      { clientId: 'app-reader', clientSecret: 'secret-reader', permissions: ['get', 'list'] },
    ],
  });
  token = (await getToken()).json['access_token'];
});

afterAll(async () => {
  await emulator.close();
});

describe('Azure Key Vault emulator: transport and authentication', () => {
  it('serves HTTPS that only clients trusting its test CA accept', async () => {
    expect(emulator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.caCertificatePem).toContain('BEGIN CERTIFICATE');
    await expect(call('GET', `/keys?${API}`, { ca: null })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('is trusted by a child process through NODE_EXTRA_CA_CERTS, and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetkey-azure-ca-'));
    try {
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, emulator.caCertificatePem);
      const script = `require('node:https').get(${JSON.stringify(`${emulator.url}/keys?${API}`)}, (r) => { process.stdout.write(String(r.statusCode)); r.resume(); }).on('error', (e) => { process.stdout.write(String(e.code)); });`;
      const run = (env: NodeJS.ProcessEnv) =>
        new Promise<string>((resolve, reject) =>
          execFile(process.execPath, ['-e', script], { env, timeout: 20_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))),
        );
      const { NODE_EXTRA_CA_CERTS: _ignored, ...baseEnv } = process.env;
      expect(await run({ ...baseEnv, NODE_EXTRA_CA_CERTS: caFile })).toBe('401');
      expect(await run(baseEnv)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('answers an unauthenticated request with the bearer challenge', async () => {
    const answer = await call('GET', `/keys?${API}`);
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe(
      `Bearer authorization="${emulator.url}/${emulator.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(answer.json).toEqual({ error: { code: 'Unauthorized', message: expect.stringContaining('AKV10000') } });
  });

  it('refuses an unknown or malformed token with 401 and the challenge', async () => {
    for (const bad of ['not-a-token', 'x'.repeat(300)]) {
      const answer = await call('GET', `/keys?${API}`, { token: bad });
      expect(answer.status).toBe(401);
      expect(answer.json['error']['code']).toBe('Unauthorized');
      expect(answer.headers['www-authenticate']).toContain('resource="https://vault.azure.net"');
    }
  });

  it('publishes the OpenID configuration MSAL reads', async () => {
    const answer = await call('GET', `/${emulator.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(answer.status).toBe(200);
    expect(answer.json['token_endpoint']).toBe(`${emulator.url}/${emulator.tenantId}/oauth2/v2.0/token`);
    for (const field of ['authorization_endpoint', 'issuer', 'jwks_uri']) expect(typeof answer.json[field]).toBe('string');
  });

  it('issues an opaque bearer token for client credentials', async () => {
    const answer = await getToken();
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(answer.json['access_token']).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('Precondition: the client secret matches, compared in constant time', async () => {
    const answer = await getToken('app-full', 'wrong-secret');
    expect(answer.status).toBe(401);
    expect(answer.json['error']).toBe('invalid_client');
    expect(answer.json['error_codes']).toEqual([7000215]);
    expect(answer.json['error_description']).toMatch(/^AADSTS7000215:/);
    expect(JSON.stringify(answer.json)).not.toContain('secret-full');
  });

  it('refuses unknown clients, other grants and other scopes as Entra does', async () => {
    const unknown = await getToken('no-such-app', 'x');
    expect([unknown.status, unknown.json['error'], unknown.json['error_codes']]).toEqual([400, 'unauthorized_client', [700016]]);
    const grant = await call('POST', `/${emulator.tenantId}/oauth2/v2.0/token`, { form: { grant_type: 'password', client_id: 'app-full' } });
    expect([grant.status, grant.json['error']]).toEqual([400, 'unsupported_grant_type']);
    const scope = await call('POST', `/${emulator.tenantId}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: 'app-full', client_secret: 'secret-full', scope: 'https://storage.azure.com/.default' },
    });
    expect([scope.status, scope.json['error']]).toEqual([400, 'invalid_scope']);
  });

  it('requires a known api-version', async () => {
    const missing = await call('GET', '/keys', { token });
    expect([missing.status, missing.json['error']['code']]).toEqual([400, 'BadParameter']);
    const unknown = await call('GET', '/keys?api-version=6.9', { token });
    expect([unknown.status, unknown.json['error']['code']]).toEqual([400, 'BadParameter']);
    for (const version of ['7.4', '7.5', '7.6', '2025-07-01']) {
      expect((await call('GET', `/keys?api-version=${version}`, { token })).status).toBe(200);
    }
  });

  it('answers 403 ForbiddenByPolicy for an operation the access policy does not grant', async () => {
    const reader = (await getToken('app-reader', 'secret-reader')).json['access_token'];
    const answer = await call('POST', `/keys/reader-test/create?${API}`, { token: reader, body: { kty: 'EC', crv: 'P-256' } });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({ error: { code: 'Forbidden', message: expect.any(String), innererror: { code: 'ForbiddenByPolicy' } } });
    expect((await call('GET', `/keys?${API}`, { token: reader })).status).toBe(200);
  });
});

describe('Azure Key Vault emulator: keys', () => {
  it('creates RSA keys and reads them back, latest and by version', async () => {
    const created = await call('POST', `/keys/rsa-a/create?${API}`, { token, body: { kty: 'RSA', key_size: 3072, tags: { purpose: 'encrypt' } } });
    expect(created.status).toBe(200);
    const kid: string = created.json['key']['kid'];
    expect(kid).toMatch(new RegExp(`^${emulator.url}/keys/rsa-a/[0-9a-f]{32}$`));
    expect(created.json['key']).toMatchObject({ kty: 'RSA', key_ops: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'] });
    expect(Buffer.from(created.json['key']['n'], 'base64url').length).toBe(384);
    expect(created.json['attributes']).toMatchObject({ enabled: true, recoveryLevel: 'Recoverable+Purgeable' });
    expect(created.json['tags']).toEqual({ purpose: 'encrypt' });
    const latest = await call('GET', `/keys/rsa-a?${API}`, { token });
    expect(latest.json['key']['kid']).toBe(kid);
    const byVersion = await call('GET', `/keys/rsa-a/${kid.split('/').pop()}?${API}`, { token });
    expect(byVersion.json['key']['kid']).toBe(kid);
    expect((await call('GET', `/keys/rsa-a/?${API}`, { token })).json['key']['kid']).toBe(kid);
  }, 30_000);

  it('creates EC keys on P-256, P-384 and P-521 with the operations asked for', async () => {
    for (const crv of ['P-256', 'P-384', 'P-521']) {
      const created = await call('POST', `/keys/ec-${crv}/create?${API}`, { token, body: { kty: 'EC', crv, key_ops: ['sign', 'verify'] } });
      expect(created.status).toBe(200);
      expect(created.json['key']).toMatchObject({ kty: 'EC', crv, key_ops: ['sign', 'verify'] });
    }
  });

  it('refuses symmetric keys, bad sizes, curves, names and bodies with 400 BadParameter', async () => {
    for (const [name, body] of [
      ['oct-key', { kty: 'oct', key_size: 256 }],
      ['rsa-bad', { kty: 'RSA', key_size: 1024 }],
      ['ec-bad', { kty: 'EC', crv: 'P-192' }],
      ['ec-ops', { kty: 'EC', crv: 'P-256', key_ops: ['wrapKey'] }],
      ['bad_name', { kty: 'EC' }],
      ['tags', { kty: 'EC', tags: { a: 1 } }],
    ] as const) {
      const answer = await call('POST', `/keys/${name}/create?${API}`, { token, body });
      expect([name, answer.status, answer.json['error']['code']]).toEqual([name, 400, 'BadParameter']);
    }
  });

  it('answers 404 KeyNotFound for an unknown key or version', async () => {
    const answer = await call('GET', `/keys/no-such-key?${API}`, { token });
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ error: { code: 'KeyNotFound', message: expect.stringContaining('no-such-key') } });
    const version = await call('GET', `/keys/rsa-a/${'0'.repeat(32)}?${API}`, { token });
    expect([version.status, version.json['error']['code']]).toEqual([404, 'KeyNotFound']);
    const wrap = await call('POST', `/keys/no-such-key//wrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: 'AAAA' } });
    expect([wrap.status, wrap.json['error']['code']]).toEqual([404, 'KeyNotFound']);
  });

  it('wraps and unwraps with RSA-OAEP-256, and refuses a bad ciphertext with 400 BadParameter', async () => {
    const cek = Buffer.alloc(32, 7).toString('base64url');
    const wrapped = await call('POST', `/keys/rsa-a//wrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: cek } });
    expect(wrapped.status).toBe(200);
    const ciphertext = Buffer.from(wrapped.json['value'], 'base64url');
    expect(ciphertext.length).toBe(384);
    const version = String(wrapped.json['kid']).split('/').pop();
    const unwrapped = await call('POST', `/keys/rsa-a/${version}/unwrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: wrapped.json['value'] } });
    expect(unwrapped.json['value']).toBe(cek);
    ciphertext[10]! ^= 1;
    const tampered = await call('POST', `/keys/rsa-a/${version}/unwrapkey?${API}`, {
      token,
      body: { alg: 'RSA-OAEP-256', value: ciphertext.toString('base64url') },
    });
    expect([tampered.status, tampered.json['error']['code']]).toEqual([400, 'BadParameter']);
    const short = await call('POST', `/keys/rsa-a/${version}/unwrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: 'AAAA' } });
    expect([short.status, short.json['error']['code']]).toEqual([400, 'BadParameter']);
  });

  it('signs digests: ES256/ES384/ES512 as raw r‖s, RS256 and PS256, each verifying with node:crypto', async () => {
    const message = Buffer.from('fleetkey command');
    const cases = [
      ['ec-P-256', 'ES256', 'sha256'],
      ['ec-P-384', 'ES384', 'sha384'],
      ['ec-P-521', 'ES512', 'sha512'],
      ['rsa-a', 'RS256', 'sha256'],
      ['rsa-a', 'PS256', 'sha256'],
    ] as const;
    for (const [name, alg, hash] of cases) {
      const digest = createHash(hash).update(message).digest().toString('base64url');
      const signed = await call('POST', `/keys/${name}//sign?${API}`, { token, body: { alg, value: digest } });
      expect(signed.status).toBe(200);
      const signature = Buffer.from(signed.json['value'], 'base64url');
      const jwk = (await call('GET', `/keys/${name}?${API}`, { token })).json['key'];
      const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
      const keyInput =
        alg.startsWith('ES')
          ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
          : alg === 'PS256'
            ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
            : { key: publicKey };
      expect([alg, nodeVerify(hash, message, keyInput, signature)]).toEqual([alg, true]);
      const verified = await call('POST', `/keys/${name}//verify?${API}`, { token, body: { alg, digest, value: signed.json['value'] } });
      expect(verified.json).toEqual({ value: true });
      signature[signature.length - 1]! ^= 1;
      const forged = await call('POST', `/keys/${name}//verify?${API}`, { token, body: { alg, digest, value: signature.toString('base64url') } });
      expect(forged.json).toEqual({ value: false });
    }
  }, 30_000);

  it('refuses a mismatched algorithm or digest length with 400, and a key operation the key lacks with 403', async () => {
    const digest = Buffer.alloc(32).toString('base64url');
    const wrongCurve = await call('POST', `/keys/ec-P-384//sign?${API}`, { token, body: { alg: 'ES256', value: digest } });
    expect([wrongCurve.status, wrongCurve.json['error']['code']]).toEqual([400, 'BadParameter']);
    const wrongLength = await call('POST', `/keys/ec-P-256//sign?${API}`, { token, body: { alg: 'ES256', value: 'AAAA' } });
    expect([wrongLength.status, wrongLength.json['error']['code']]).toEqual([400, 'BadParameter']);
    const wrongUsage = await call('POST', `/keys/ec-P-256//wrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: digest } });
    expect(wrongUsage.status).toBe(403);
    expect(wrongUsage.json['error']).toMatchObject({ code: 'Forbidden', innererror: { code: 'KeyOperationForbidden' } });
  });

  it('rotates to a new version; old versions still unwrap and list as versions', async () => {
    const first = await call('POST', `/keys/rot/create?${API}`, { token, body: { kty: 'RSA', key_size: 2048, tags: { a: 'b' } } });
    const firstVersion = String(first.json['key']['kid']).split('/').pop();
    const wrapped = await call('POST', `/keys/rot/${firstVersion}/wrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: 'AQID' } });
    const rotated = await call('POST', `/keys/rot/rotate?${API}`, { token });
    expect(rotated.status).toBe(200);
    expect(rotated.json['key']['kid']).not.toBe(first.json['key']['kid']);
    expect(rotated.json['tags']).toEqual({ a: 'b' });
    expect((await call('GET', `/keys/rot?${API}`, { token })).json['key']['kid']).toBe(rotated.json['key']['kid']);
    const unwrapped = await call('POST', `/keys/rot/${firstVersion}/unwrapkey?${API}`, { token, body: { alg: 'RSA-OAEP-256', value: wrapped.json['value'] } });
    expect(unwrapped.json['value']).toBe('AQID');
    const versions = await call('GET', `/keys/rot/versions?${API}`, { token });
    expect(versions.json['value'].map((v: { kid: string }) => v.kid)).toEqual([first.json['key']['kid'], rotated.json['key']['kid']]);
  }, 30_000);

  it('lists keys in pages of maxresults with a nextLink', async () => {
    const first = await call('GET', `/keys?${API}&maxresults=2`, { token });
    expect(first.json['value']).toHaveLength(2);
    expect(first.json['value'][0]).toMatchObject({ kid: expect.stringMatching(/\/keys\/[^/]+$/), attributes: { enabled: true } });
    const next = new URL(first.json['nextLink']);
    const second = await call('GET', `${next.pathname}${next.search}`, { token });
    expect(second.json['value'][0]['kid']).not.toBe(first.json['value'][0]['kid']);
    const bad = await call('GET', `/keys?${API}&maxresults=26`, { token });
    expect([bad.status, bad.json['error']['code']]).toEqual([400, 'BadParameter']);
  });

  it('disables a key with PATCH; operations then answer 403 Forbidden / KeyDisabled, reads still work', async () => {
    await call('POST', `/keys/dis/create?${API}`, { token, body: { kty: 'EC', crv: 'P-256' } });
    const patched = await call('PATCH', `/keys/dis/?${API}`, { token, body: { attributes: { enabled: false }, tags: { state: 'off' } } });
    expect(patched.status).toBe(200);
    expect(patched.json['attributes']['enabled']).toBe(false);
    expect(patched.json['tags']).toEqual({ state: 'off' });
    const sign = await call('POST', `/keys/dis//sign?${API}`, { token, body: { alg: 'ES256', value: Buffer.alloc(32).toString('base64url') } });
    expect(sign.status).toBe(403);
    expect(sign.json).toEqual({ error: { code: 'Forbidden', message: expect.stringContaining('disabled'), innererror: { code: 'KeyDisabled' } } });
    expect((await call('GET', `/keys/dis?${API}`, { token })).json['attributes']['enabled']).toBe(false);
  });
});

describe('Azure Key Vault emulator: faults', () => {
  it('answers injected throttling with 429 Throttled and Retry-After', async () => {
    emulator.faults.set({ throttleRate: 1 });
    try {
      const answer = await call('GET', `/keys?${API}`, { token });
      expect(answer.status).toBe(429);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.json['error']['code']).toBe('Throttled');
    } finally {
      emulator.faults.reset();
    }
  });

  it('answers injected errors with 503 ServiceUnavailable', async () => {
    emulator.faults.set({ errorRate: 1 });
    try {
      const answer = await call('GET', `/keys?${API}`, { token });
      expect([answer.status, answer.json['error']['code']]).toEqual([503, 'ServiceUnavailable']);
    } finally {
      emulator.faults.reset();
    }
  });

  it('drops the connection during an outage, and counts every Key Vault request', async () => {
    const before = emulator.faults.requests;
    emulator.faults.set({ outage: true });
    try {
      await expect(call('GET', `/keys?${API}`, { token })).rejects.toMatchObject({ code: 'ECONNRESET' });
    } finally {
      emulator.faults.reset();
    }
    // Token requests are Entra's, not Key Vault's: they do not count.
    await getToken();
    expect(emulator.faults.requests).toBe(before + 1);
  });
});
