/**
 * The Vault Transit emulator on the wire (fetch and raw node:http; node-vault is banned in the
 * emulators project): auth and ACLs, key lifecycle, encrypt / decrypt / datakey / rewrap, sign /
 * verify checked against node:crypto, Vault's status codes and error texts, bounds and faults.
 */
import { constants, createECDH, createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CURVES } from '../digest-signing/index.js';
import type { VaultEmulator } from './server.js';
import { MAX_REQUEST_BYTES, startVaultEmulator } from './server.js';

let vault: VaultEmulator;
const LIMITED = 'limited-token';

beforeAll(async () => {
  vault = await startVaultEmulator({
    port: 0,
    tokens: {
      [LIMITED]: [
        { path: 'transit/encrypt/app-*', capabilities: ['update'] },
        { path: 'transit/keys/app-*', capabilities: ['read'] },
      ],
    },
  });
});
afterAll(async () => {
  await vault.close();
});

interface Answer {
  status: number;
  body: { data?: Record<string, unknown>; errors?: string[] } & Record<string, unknown>;
}

async function call(method: string, path: string, body?: unknown, token: string | null = vault.rootToken): Promise<Answer> {
  const response = await fetch(`${vault.url}/v1/${path}`, {
    method,
    headers: { ...(token === null ? {} : { 'X-Vault-Token': token }), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

const b64 = (value: string | Uint8Array): string => Buffer.from(value).toString('base64');
const data = (a: Answer): Record<string, unknown> => a.body.data ?? {};

describe('Vault emulator: auth and health', () => {
  it('Precondition: a missing or wrong X-Vault-Token is 403 permission denied', async () => {
    expect(await call('GET', 'transit/keys/x', undefined, null)).toEqual({ status: 403, body: { errors: ['permission denied'] } });
    expect((await call('GET', 'transit/keys/x', undefined, 'nope')).status).toBe(403);
  });

  it('answers sys/health without a token', async () => {
    const health = await call('GET', 'sys/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ initialized: true, sealed: false });
  });

  it('Precondition: a policy without the capability is 403, and encrypting to a missing key needs create', async () => {
    await call('POST', 'transit/keys/app-1');
    const ok = await call('POST', 'transit/encrypt/app-1', { plaintext: b64('x') }, LIMITED);
    expect(ok.status).toBe(200);
    expect((await call('POST', 'transit/decrypt/app-1', { ciphertext: data(ok).ciphertext }, LIMITED)).status).toBe(403);
    expect((await call('POST', 'transit/encrypt/app-missing', { plaintext: b64('x') }, LIMITED)).status).toBe(403);
    expect((await call('GET', 'transit/keys/app-1', undefined, LIMITED)).status).toBe(200);
    expect((await call('POST', 'transit/keys/app-1/rotate', undefined, LIMITED)).status).toBe(403);
  });

  it('refuses unsupported paths and bad JSON', async () => {
    expect((await call('POST', 'transit/frobnicate/x')).status).toBe(404);
    const response = await fetch(`${vault.url}/v1/transit/encrypt/k`, { method: 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body: '{nope' });
    expect(response.status).toBe(400);
  });
});

describe('Vault emulator: keys', () => {
  it('creates, reads and lists keys (GET ?list=true and the LIST verb); unknown key is 404 with no errors', async () => {
    const created = await call('POST', 'transit/keys/list-a', { type: 'ecdsa-p256' });
    expect(created.status).toBe(200);
    expect(data(created)).toMatchObject({ type: 'ecdsa-p256', latest_version: 1, min_decryption_version: 1 });
    const keys = data(created).keys as Record<string, { public_key: string }>;
    expect(createPublicKey(keys['1']!.public_key).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(await call('GET', 'transit/keys/no-such-key')).toEqual({ status: 404, body: { errors: [] } });
    const listed = await call('GET', 'transit/keys?list=true');
    expect(data(listed).keys).toContain('list-a');

    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${vault.url}/v1/transit/keys`, { method: 'LIST', headers: { 'X-Vault-Token': vault.rootToken } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(raw.status).toBe(200);
    expect(JSON.parse(raw.body).data.keys).toContain('list-a');
  });

  it('answers an empty list with 404', async () => {
    const other = await startVaultEmulator({ port: 0 });
    try {
      const response = await fetch(`${other.url}/v1/transit/keys?list=true`, { headers: { 'X-Vault-Token': other.rootToken } });
      expect(response.status).toBe(404);
    } finally {
      await other.close();
    }
  });

  it('refuses unknown key types and exportable keys', async () => {
    expect(await call('POST', 'transit/keys/bad-type', { type: 'rot13' })).toEqual({ status: 400, body: { errors: ['unknown key type rot13'] } });
    expect((await call('POST', 'transit/keys/bad-exp', { exportable: true })).status).toBe(400);
  });

  it('rotates and enforces min_decryption_version on old ciphertexts', async () => {
    await call('POST', 'transit/keys/rot');
    const v1 = data(await call('POST', 'transit/encrypt/rot', { plaintext: b64('old') })).ciphertext as string;
    const rotated = await call('POST', 'transit/keys/rot/rotate');
    expect(data(rotated).latest_version).toBe(2);
    const v2 = await call('POST', 'transit/encrypt/rot', { plaintext: b64('new') });
    expect(data(v2)).toMatchObject({ key_version: 2 });
    expect(data(await call('POST', 'transit/decrypt/rot', { ciphertext: v1 })).plaintext).toBe(b64('old'));
    expect((await call('POST', 'transit/keys/rot/config', { min_decryption_version: 3 })).status).toBe(400);
    expect((await call('POST', 'transit/keys/rot/config', { min_decryption_version: 2 })).status).toBe(200);
    expect(await call('POST', 'transit/decrypt/rot', { ciphertext: v1 })).toEqual({
      status: 400,
      body: { errors: ['ciphertext or signature version is disallowed by policy (too old)'] },
    });
    expect(Object.keys(data(await call('GET', 'transit/keys/rot')).keys as object)).toEqual(['2']);
  });

  it('deletes only when deletion_allowed', async () => {
    await call('POST', 'transit/keys/del');
    expect((await call('DELETE', 'transit/keys/del')).status).toBe(400);
    await call('POST', 'transit/keys/del/config', { deletion_allowed: true });
    expect((await call('DELETE', 'transit/keys/del')).status).toBe(204);
    expect((await call('GET', 'transit/keys/del')).status).toBe(404);
  });
});

describe('Vault emulator: encrypt / decrypt', () => {
  it('round-trips with associated_data and refuses the wrong one with the fixed GCM message', async () => {
    await call('POST', 'transit/keys/enc');
    const ad = b64('device=r1');
    const sealed = await call('POST', 'transit/encrypt/enc', { plaintext: b64('secret'), associated_data: ad });
    expect(data(sealed).ciphertext).toMatch(/^vault:v1:/);
    expect(data(await call('POST', 'transit/decrypt/enc', { ciphertext: data(sealed).ciphertext, associated_data: ad })).plaintext).toBe(b64('secret'));
    expect(await call('POST', 'transit/decrypt/enc', { ciphertext: data(sealed).ciphertext, associated_data: b64('device=r2') })).toEqual({
      status: 400,
      body: { errors: ['cipher: message authentication failed'] },
    });
  });

  it('refuses tampered and malformed ciphertexts with 400', async () => {
    const ct = data(await call('POST', 'transit/encrypt/enc', { plaintext: b64('secret') })).ciphertext as string;
    const raw = Buffer.from(ct.slice('vault:v1:'.length), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    for (const bad of [`vault:v1:${raw.toString('base64')}`, 'nope', 'vault:v1', 'vault:vX:AAAA', 'vault:v9:AAAA', 'vault:v1:***', 'vault:v1:AAAA']) {
      const answer = await call('POST', 'transit/decrypt/enc', { ciphertext: bad });
      expect(answer.status, bad).toBe(400);
      expect(answer.body.errors?.length).toBe(1);
    }
  });

  it('upserts on encrypt to a missing key unless disable_upsert; operations on unknown keys are 400', async () => {
    expect((await call('POST', 'transit/encrypt/upserted', { plaintext: b64('x') })).status).toBe(200);
    expect((await call('GET', 'transit/keys/upserted')).status).toBe(200);
    await call('POST', 'transit/config/keys', { disable_upsert: true });
    try {
      expect(await call('POST', 'transit/encrypt/never', { plaintext: b64('x') })).toEqual({ status: 400, body: { errors: ['encryption key not found'] } });
    } finally {
      await call('POST', 'transit/config/keys', { disable_upsert: false });
    }
    expect((await call('POST', 'transit/decrypt/never', { ciphertext: 'vault:v1:AAAA' })).body.errors).toEqual(['encryption key not found']);
    expect((await call('POST', 'transit/sign/never', { input: b64('x') })).body.errors).toEqual(['signing key not found']);
    expect((await call('POST', 'transit/keys/never/rotate')).status).toBe(400);
  });

  it('makes data keys and rewraps to the latest version', async () => {
    await call('POST', 'transit/keys/dk');
    const dk = data(await call('POST', 'transit/datakey/plaintext/dk', {}));
    expect(Buffer.from(dk.plaintext as string, 'base64')).toHaveLength(32);
    expect(data(await call('POST', 'transit/decrypt/dk', { ciphertext: dk.ciphertext })).plaintext).toBe(dk.plaintext);
    const wrapped = data(await call('POST', 'transit/datakey/wrapped/dk', { bits: 512 }));
    expect(wrapped.plaintext).toBeUndefined();
    await call('POST', 'transit/keys/dk/rotate');
    const rewrapped = data(await call('POST', 'transit/rewrap/dk', { ciphertext: dk.ciphertext }));
    expect(rewrapped).toMatchObject({ key_version: 2 });
    expect(data(await call('POST', 'transit/decrypt/dk', { ciphertext: rewrapped.ciphertext })).plaintext).toBe(dk.plaintext);
    expect((await call('POST', 'transit/datakey/bogus/dk', {})).status).toBe(400);
  });

  it('refuses wrong key usage: encrypt with a signing key, sign with an AES key, prehashed Ed25519', async () => {
    await call('POST', 'transit/keys/usage-ec', { type: 'ecdsa-p256' });
    await call('POST', 'transit/keys/usage-ed', { type: 'ed25519' });
    expect((await call('POST', 'transit/encrypt/usage-ec', { plaintext: b64('x') })).body.errors).toEqual(['message encryption not supported for key type ecdsa-p256']);
    expect((await call('POST', 'transit/sign/enc', { input: b64('x') })).body.errors).toEqual(['key type aes256-gcm96 does not support signing']);
    expect((await call('POST', 'transit/sign/usage-ed', { input: b64('x'), prehashed: true })).status).toBe(400);
  });
});

describe('Vault emulator: bounds', () => {
  it('Precondition: a request body over MAX_REQUEST_BYTES is refused with 413, not buffered', async () => {
    const body = JSON.stringify({ plaintext: 'A'.repeat(MAX_REQUEST_BYTES) });
    const response = await fetch(`${vault.url}/v1/transit/encrypt/enc`, { method: 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body });
    expect(response.status).toBe(413);
  });

  it('Precondition: an AES ciphertext shorter than nonce + tag is refused with 400', async () => {
    await call('POST', 'transit/keys/short');
    const answer = await call('POST', 'transit/decrypt/short', { ciphertext: `vault:v1:${Buffer.alloc(27).toString('base64')}` });
    expect(answer).toEqual({ status: 400, body: { errors: ['invalid ciphertext length'] } });
  });
});

describe('Vault emulator: sign / verify', () => {
  const message = Buffer.from('fleet command 42');
  const cases = [
    { type: 'ecdsa-p256', hash: 'sha2-256', node: 'sha256' },
    { type: 'ecdsa-p384', hash: 'sha2-384', node: 'sha384' },
    { type: 'ecdsa-p521', hash: 'sha2-512', node: 'sha512' },
    { type: 'rsa-2048', hash: 'sha2-256', node: 'sha256' },
    { type: 'ed25519', hash: undefined, node: null },
  ] as const;

  for (const c of cases) {
    it(`${c.type}: prehashed and message signatures verify with node:crypto and with /verify`, async () => {
      const name = `sig-${c.type}`;
      const key = data(await call('POST', `transit/keys/${name}`, { type: c.type }));
      const pem = (key.keys as Record<string, { public_key: string }>)['1']!.public_key;
      const publicKey =
        c.type === 'ed25519'
          ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pem, 'base64').toString('base64url') }, format: 'jwk' })
          : createPublicKey(pem);
      const bodies: Record<string, unknown>[] =
        c.node === null
          ? [{ input: b64(message) }]
          : [
              { input: b64(createHash(c.node).update(message).digest()), prehashed: true, hash_algorithm: c.hash, signature_algorithm: 'pkcs1v15' },
              { input: b64(message), hash_algorithm: c.hash, signature_algorithm: 'pss', salt_length: 'hash' },
            ];
      for (const body of bodies) {
        const signed = await call('POST', `transit/sign/${name}`, { ...body, marshaling_algorithm: 'asn1' });
        expect(signed.status).toBe(200);
        const signature = data(signed).signature as string;
        expect(signature).toMatch(/^vault:v1:/);
        const raw = Buffer.from(signature.slice('vault:v1:'.length), 'base64');
        const options =
          c.type.startsWith('rsa') && body.signature_algorithm === 'pss'
            ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
            : publicKey;
        expect(nodeVerify(c.node, message, options, raw)).toBe(true);
        expect(data(await call('POST', `transit/verify/${name}`, { ...body, signature })).valid).toBe(true);
        const forged = signature.slice(0, -4) + (signature.endsWith('AAA=') ? 'BBB=' : 'AAA=');
        const verdict = await call('POST', `transit/verify/${name}`, { ...body, signature: forged });
        expect(verdict.status === 400 || data(verdict).valid === false).toBe(true);
      }
    });
  }

  it('JWS marshaling gives raw r‖s for ECDSA', async () => {
    const signed = data(await call('POST', 'transit/sign/sig-ecdsa-p256/sha2-256', { input: b64(message), marshaling_algorithm: 'jws' }));
    const raw = Buffer.from((signed.signature as string).slice('vault:v1:'.length), 'base64url');
    expect(raw).toHaveLength(64);
    expect(data(await call('POST', 'transit/verify/sig-ecdsa-p256/sha2-256', { input: b64(message), marshaling_algorithm: 'jws', signature: signed.signature })).valid).toBe(true);
  });

  it('the curve constants are right: (n−1)·G = −G for every curve', () => {
    for (const curve of Object.values(CURVES)) {
      const one = createECDH(curve.ecdhName);
      one.setPrivateKey(Buffer.concat([Buffer.alloc(curve.bytes - 1), Buffer.from([1])]));
      const minusOne = createECDH(curve.ecdhName);
      minusOne.setPrivateKey(Buffer.from((curve.n - 1n).toString(16).padStart(curve.bytes * 2, '0'), 'hex'));
      const g = one.getPublicKey();
      const h = minusOne.getPublicKey();
      const y = (point: Buffer): bigint => BigInt(`0x${point.subarray(1 + curve.bytes).toString('hex')}`);
      expect(g.subarray(1, 1 + curve.bytes).equals(h.subarray(1, 1 + curve.bytes))).toBe(true);
      expect(y(g) + y(h)).toBe(curve.p);
    }
  });
});

describe('Vault emulator: faults', () => {
  it('answers 429 when throttled, 500 on injected errors, 503 sealed during an outage', async () => {
    try {
      vault.faults.set({ throttleRate: 1 });
      const throttled = await call('GET', 'transit/keys/enc');
      expect(throttled.status).toBe(429);
      expect(throttled.body.errors?.[0]).toContain('rate limit quota exceeded');
      vault.faults.set({ errorRate: 1 });
      expect((await call('GET', 'transit/keys/enc')).status).toBe(500);
      vault.faults.set({ outage: true });
      expect(await call('GET', 'transit/keys/enc')).toEqual({ status: 503, body: { errors: ['Vault is sealed'] } });
      const health = await call('GET', 'sys/health', undefined, null);
      expect(health.status).toBe(503);
      expect(health.body.sealed).toBe(true);
    } finally {
      vault.faults.reset();
    }
    const before = vault.faults.requests;
    await call('GET', 'sys/health', undefined, null);
    expect(vault.faults.requests).toBe(before + 1);
  });
});
