/**
 * The one conformance suite of the KmsProvider port. Every adapter's spec file calls
 * `runKmsProviderConformance({ name, create, unsupported })` against its emulator (the local
 * adapter against a temp dir); kms-core runs it against the in-memory provider. It registers
 * vitest tests for: declared specs, key metadata and listing, wrap/unwrap and data-key round trips,
 * tamper and wrong-context rejection, rotation keeping old versions unwrappable / verifiable,
 * signatures verified by node:crypto with the public key alone for every supported spec,
 * unsupported specs, unknown keys, wrong key usage, batch forms, a KMS-backed certificate, and —
 * when the instance exposes `faults` — retry on injected throttling (core's withRetry), failover on
 * an injected outage (core's withFailover to a second instance), timeouts on injected latency, and
 * a cache hit without a provider call. Whether the provider injects faults is learnt from one probe
 * instance while the tests are collected; without `faults` the fault tests are not registered and
 * a test named "faults: NOT REGISTERED — …" says so.
 *
 * Trust boundary: test support; imports vitest and is exported from `@fleetkey/kms-core/testing` only.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCaCertificate,
  decodeEnvelope,
  encodeEnvelope,
  issueDeviceCertificate,
  readEnvelopeHeader,
  validateDeviceCertificate,
  verifySignature,
  generateKeyPair,
  signatureAlgorithmsFor,
  type SignatureAlgorithm,
} from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { unwrapMany, wrapMany, signMany } from '../batch.js';
import { withCache } from '../decorators/cache.js';
import { withFailover } from '../decorators/failover.js';
import { interceptProvider } from '../decorators/intercept.js';
import { withRetry } from '../decorators/retry.js';
import { withTimeout } from '../decorators/timeout.js';
import { KMS_ENVELOPE_ALGORITHM } from '../envelope.js';
import { KMS_KEY_SPECS, type KmsKeyDescription, type KmsKeySpec, type KmsProvider } from '../provider.js';
import { kmsSigner } from '../signer.js';

/** The emulators' FaultInjector, as far as the suite uses it. */
export interface ConformanceFaults {
  set(spec: { outage?: boolean; throttleRate?: number; errorRate?: number; latencyMs?: number }): void;
  reset(): void;
  readonly requests: number;
}

export interface ConformanceInstance {
  readonly provider: KmsProvider;
  /** Absent when the provider cannot inject faults: the fault tests are then not registered. */
  readonly faults?: ConformanceFaults;
  /** Closes the provider and stops whatever `create` started. */
  cleanup(): Promise<void>;
}

export interface KmsProviderConformanceOptions {
  /** Shown in every test name ('aws (emulator)', 'local (temp dir)', …). */
  readonly name: string;
  /** Starts a fresh, independent instance (called twice: once more for the failover test). */
  readonly create: () => Promise<ConformanceInstance>;
  /** Specs this provider does NOT support; each must be refused with UNSUPPORTED_ALGORITHM. */
  readonly unsupported?: readonly KmsKeySpec[];
  /**
   * Whether rotateKey works on signing keys (default true). AWS KMS cannot rotate asymmetric keys;
   * with false the suite checks that rotateKey on a signing key is refused with a typed error.
   */
  readonly rotatesSigningKeys?: boolean;
  /** A key id this provider has never issued, derived from one it did; default `${keyId}x`. */
  readonly unknownKeyId?: (existingKeyId: string) => string;
  /** Per-test timeout in ms for calls against the provider; default 60 s (RSA-4096 keys are slow). */
  readonly testTimeoutMs?: number;
  /**
   * The signature algorithms one key of `spec` signs with; default: every algorithm of the spec.
   * Google Cloud KMS fixes one RSA padding per key at creation, so its adapter narrows this.
   */
  readonly signatureAlgorithms?: (spec: Exclude<KmsKeySpec, 'AES_256'>) => readonly SignatureAlgorithm[];
}

const CONTEXT = Object.freeze({ fleet: 'acme', purpose: 'conformance', device: 'röbot-7' });
const MESSAGE = new TextEncoder().encode('fleetkey conformance: sign me');

/** The code a rejected promise carries ('NO_ERROR' when it resolved). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'NO_ERROR';
  } catch (error) {
    if (isFleetkeyError(error)) return error.code;
    return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
  }
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Flips one bit of `bytes[at]` in a copy. */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at]! ^= 0x01;
  return copy;
}

/** Registers the conformance tests for one provider. Call at the top level of a spec file. */
export function runKmsProviderConformance(options: KmsProviderConformanceOptions): void {
  const unsupported = new Set(options.unsupported ?? []);
  const supported = KMS_KEY_SPECS.filter((spec) => !unsupported.has(spec));
  const asymmetric = supported.filter((spec) => spec !== 'AES_256');
  const timeout = options.testTimeoutMs ?? 60_000;
  const unknownKeyId = options.unknownKeyId ?? ((keyId: string) => `${keyId}x`);
  const rotatesSigningKeys = options.rotatesSigningKeys ?? true;

  // The factory is async (vitest awaits it): one probe instance, created and cleaned up while the
  // tests are collected, tells whether this provider injects faults, so the fault tests are either
  // registered or visibly not registered, by name.
  describe(`KMS provider conformance: ${options.name}`, async () => {
    const probe = await options.create();
    const hasFaults = probe.faults !== undefined;
    await probe.cleanup();
    let instance: ConformanceInstance;
    let provider: KmsProvider;
    let aes: KmsKeyDescription;
    const signingKeys = new Map<KmsKeySpec, KmsKeyDescription>();
    const tag = `conformance-${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      instance = await options.create();
      provider = instance.provider;
      aes = await provider.createKey({ spec: 'AES_256', tags: { suite: tag, role: 'wrap' }, description: 'conformance AES key' });
    }, timeout);

    afterAll(async () => {
      await instance?.cleanup();
    }, timeout);

    async function signingKey(spec: KmsKeySpec): Promise<KmsKeyDescription> {
      let key = signingKeys.get(spec);
      if (key === undefined) {
        key = await provider.createKey({ spec, tags: { suite: tag, role: 'sign' } });
        signingKeys.set(spec, key);
      }
      return key;
    }

    describe('keys', () => {
      it('declares supportedKeySpecs = every port spec minus the unsupported ones', () => {
        expect([...provider.supportedKeySpecs].sort()).toEqual([...supported].sort());
        expect(supported).toContain('AES_256');
      });

      it('createKey returns a description: spec, purpose, enabled, version, tags', async () => {
        expect(aes).toMatchObject({ provider: provider.name, spec: 'AES_256', purpose: 'encrypt', enabled: true });
        expect(aes.tags).toMatchObject({ suite: tag, role: 'wrap' });
        expect(Number.isInteger(aes.currentVersion) && aes.currentVersion >= 0).toBe(true);
        const described = await provider.describeKey(aes.keyId);
        expect(described).toMatchObject({ keyId: aes.keyId, spec: 'AES_256', purpose: 'encrypt', enabled: true });
        expect(described.tags).toMatchObject({ suite: tag, role: 'wrap' });
      }, timeout);

      it('listKeys filters by tag and by purpose, and honours limit', async () => {
        const signSpec = asymmetric[0];
        if (signSpec !== undefined) await signingKey(signSpec);
        const mine = await provider.listKeys({ tags: { suite: tag } });
        expect(mine.map((k) => k.keyId)).toContain(aes.keyId);
        for (const key of mine) expect(key.tags).toMatchObject({ suite: tag });
        const encrypt = await provider.listKeys({ tags: { suite: tag }, purpose: 'encrypt' });
        expect(encrypt.map((k) => k.keyId)).toEqual([aes.keyId]);
        if (signSpec !== undefined) {
          const sign = await provider.listKeys({ tags: { suite: tag }, purpose: 'sign' });
          expect(sign.length).toBeGreaterThanOrEqual(1);
          for (const key of sign) expect(key.purpose).toBe('sign');
        }
        expect(await provider.listKeys({ tags: { suite: `${tag}-none` } })).toEqual([]);
        expect((await provider.listKeys({ tags: { suite: tag }, limit: 1 })).length).toBe(1);
      }, timeout);

      it('health answers ok with a latency', async () => {
        const health = await provider.health();
        expect(health.ok).toBe(true);
        expect(health.latencyMs).toBeGreaterThanOrEqual(0);
      }, timeout);
    });

    describe('wrap / unwrap', () => {
      it.each([0, 1, 32, 4096])('round-trips %i bytes with a context, as a KMS_AES_256_GCM envelope naming provider and key', async (size) => {
        const plaintext = new Uint8Array(randomBytes(size));
        const envelope = await provider.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT });
        const header = readEnvelopeHeader(envelope);
        expect(header.algorithm).toBe(KMS_ENVELOPE_ALGORITHM);
        expect(header.provider).toBe(provider.name);
        expect(header.keyId.length).toBeGreaterThan(0);
        expect(hex(await provider.unwrap({ envelope, context: CONTEXT }))).toBe(hex(plaintext));
      }, timeout);

      it('round-trips without a context, and two wraps of the same plaintext differ', async () => {
        const plaintext = Uint8Array.of(1, 2, 3);
        const a = await provider.wrap({ keyId: aes.keyId, plaintext });
        const b = await provider.wrap({ keyId: aes.keyId, plaintext });
        expect(hex(a)).not.toBe(hex(b));
        expect(hex(await provider.unwrap({ envelope: a }))).toBe('010203');
        expect(hex(await provider.unwrap({ envelope: b, context: {} }))).toBe('010203');
      }, timeout);

      it('generateDataKey returns 32 fresh bytes and an envelope that unwraps to them', async () => {
        const a = await provider.generateDataKey({ keyId: aes.keyId, context: CONTEXT });
        const b = await provider.generateDataKey({ keyId: aes.keyId, context: CONTEXT });
        expect(a.plaintext.length).toBe(32);
        expect(hex(a.plaintext)).not.toBe(hex(b.plaintext));
        expect(readEnvelopeHeader(a.wrapped).algorithm).toBe(KMS_ENVELOPE_ALGORITHM);
        expect(hex(await provider.unwrap({ envelope: a.wrapped, context: CONTEXT }))).toBe(hex(a.plaintext));
        expect(await codeOf(provider.unwrap({ envelope: a.wrapped }))).toBe('INVALID_CIPHERTEXT');
      }, timeout);

      it('rejects a wrong, missing or extra context with INVALID_CIPHERTEXT', async () => {
        const envelope = await provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(7), context: CONTEXT });
        expect(await codeOf(provider.unwrap({ envelope, context: { ...CONTEXT, device: 'robot-8' } }))).toBe('INVALID_CIPHERTEXT');
        expect(await codeOf(provider.unwrap({ envelope }))).toBe('INVALID_CIPHERTEXT');
        expect(await codeOf(provider.unwrap({ envelope, context: { ...CONTEXT, extra: '' } }))).toBe('INVALID_CIPHERTEXT');
        const { fleet: _dropped, ...fewer } = CONTEXT;
        expect(await codeOf(provider.unwrap({ envelope, context: fewer }))).toBe('INVALID_CIPHERTEXT');
      }, timeout);

      it('rejects a flipped bit in the ciphertext, the tag, the nonce and the encapsulated key with INVALID_CIPHERTEXT', async () => {
        const envelope = await provider.wrap({ keyId: aes.keyId, plaintext: new Uint8Array(randomBytes(40)), context: CONTEXT });
        const decoded = decodeEnvelope(envelope);
        const ciphertextStart = envelope.length - decoded.ciphertext.length;
        const nonceStart = ciphertextStart - 4 - decoded.nonce.length;
        const cases: Array<[string, Uint8Array]> = [
          ['ciphertext', flipped(envelope, ciphertextStart + 3)],
          ['tag', flipped(envelope, envelope.length - 1)],
          ['nonce', flipped(envelope, nonceStart + 5)],
          ['encapsulated key (middle)', encodeEnvelope({ ...decoded, encapsulatedKey: flipped(decoded.encapsulatedKey, decoded.encapsulatedKey.length >> 1) })],
          ['encapsulated key (last byte)', encodeEnvelope({ ...decoded, encapsulatedKey: flipped(decoded.encapsulatedKey, decoded.encapsulatedKey.length - 1) })],
        ];
        for (const [where, tampered] of cases) {
          expect([where, await codeOf(provider.unwrap({ envelope: tampered, context: CONTEXT }))]).toEqual([where, 'INVALID_CIPHERTEXT']);
        }
      }, timeout);

      it('rejects bytes that are not an envelope with ENVELOPE_MALFORMED, and a truncated envelope too', async () => {
        const envelope = await provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1), context: CONTEXT });
        expect(await codeOf(provider.unwrap({ envelope: new Uint8Array(randomBytes(64)), context: CONTEXT }))).toBe('ENVELOPE_MALFORMED');
        expect(await codeOf(provider.unwrap({ envelope: envelope.subarray(0, envelope.length - 1), context: CONTEXT }))).toBe('ENVELOPE_MALFORMED');
      }, timeout);

      it('wrapMany / unwrapMany keep input order and report per-item errors', async () => {
        const items = Array.from({ length: 6 }, (_, i) => ({ keyId: aes.keyId, plaintext: Uint8Array.of(i), context: CONTEXT }));
        const wrapped = await wrapMany(provider, [...items, { keyId: unknownKeyId(aes.keyId), plaintext: Uint8Array.of(9) }], { concurrency: 3 });
        expect(wrapped.slice(0, 6).every((r) => r.ok)).toBe(true);
        const last = wrapped[6]!;
        expect(last.ok).toBe(false);
        if (!last.ok) expect(isFleetkeyError(last.error) ? last.error.code : 'not a FleetkeyError').toBe('KMS_KEY_NOT_FOUND');
        const opened = await unwrapMany(
          provider,
          wrapped.slice(0, 6).map((r) => ({ envelope: r.ok ? r.value : new Uint8Array(0), context: CONTEXT })),
          { concurrency: 2 },
        );
        expect(opened.map((r) => (r.ok ? hex(r.value) : 'error'))).toEqual(['00', '01', '02', '03', '04', '05']);
      }, timeout);
    });

    describe('rotation', () => {
      it('rotateKey makes a new primary version; envelopes of the old version still unwrap', async () => {
        const key = await provider.createKey({ spec: 'AES_256', tags: { suite: tag, role: 'rotate' } });
        const before = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1), context: CONTEXT });
        const rotated = await provider.rotateKey(key.keyId);
        expect(rotated.keyId).toBe(key.keyId);
        if (key.currentVersion !== 0) expect(rotated.currentVersion).toBeGreaterThan(key.currentVersion);
        const after = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(2), context: CONTEXT });
        if (key.currentVersion !== 0) expect(readEnvelopeHeader(after).keyVersion).toBe(rotated.currentVersion);
        expect(hex(await provider.unwrap({ envelope: before, context: CONTEXT }))).toBe('01');
        expect(hex(await provider.unwrap({ envelope: after, context: CONTEXT }))).toBe('02');
      }, timeout);

      const signSpec = asymmetric.find((s) => s === 'ECDSA_P256') ?? asymmetric[0];
      if (signSpec !== undefined && rotatesSigningKeys) {
        it(`rotateKey on a ${signSpec} key: signatures of the old version still verify (node:crypto and provider.verify)`, async () => {
          const key = await provider.createKey({ spec: signSpec, tags: { suite: tag, role: 'rotate-sign' } });
          const old = await provider.sign({ keyId: key.keyId, data: MESSAGE });
          const oldPublic = await provider.getPublicKey({ keyId: key.keyId, ...(old.keyVersion === 0 ? {} : { keyVersion: old.keyVersion }) });
          const rotated = await provider.rotateKey(key.keyId);
          expect(rotated.currentVersion).toBeGreaterThan(old.keyVersion);
          const fresh = await provider.sign({ keyId: key.keyId, data: MESSAGE });
          expect(fresh.keyVersion).toBe(rotated.currentVersion);
          expect(verifySignature(oldPublic, old.algorithm, MESSAGE, old.signature)).toBe(true);
          expect(await provider.verify({ keyId: key.keyId, data: MESSAGE, signature: old.signature, algorithm: old.algorithm, keyVersion: old.keyVersion })).toBe(true);
          const newPublic = await provider.getPublicKey({ keyId: key.keyId, keyVersion: fresh.keyVersion });
          expect(verifySignature(newPublic, fresh.algorithm, MESSAGE, fresh.signature)).toBe(true);
          expect(verifySignature(newPublic, old.algorithm, MESSAGE, old.signature)).toBe(false);
        }, timeout);
      } else if (signSpec !== undefined) {
        it(`rotateKey on a ${signSpec} key is refused with a typed error (this provider does not rotate signing keys)`, async () => {
          const key = await signingKey(signSpec);
          expect(['UNSUPPORTED_ALGORITHM', 'INVALID_KEY_USAGE']).toContain(await codeOf(provider.rotateKey(key.keyId)));
          const signature = await provider.sign({ keyId: key.keyId, data: MESSAGE });
          expect(verifySignature(await provider.getPublicKey({ keyId: key.keyId }), signature.algorithm, MESSAGE, signature.signature)).toBe(true);
        }, timeout);
      }
    });

    describe('signatures', () => {
      for (const spec of asymmetric) {
        it(`${spec}: every algorithm of the key signs, and verifies with node:crypto and the public key alone`, async () => {
          const key = await signingKey(spec);
          expect(key).toMatchObject({ spec, purpose: 'sign', enabled: true });
          const publicKey = await provider.getPublicKey({ keyId: key.keyId });
          expect(publicKey.type).toBe('public');
          const defaultSignature = await provider.sign({ keyId: key.keyId, data: MESSAGE });
          expect(verifySignature(publicKey, defaultSignature.algorithm, MESSAGE, defaultSignature.signature)).toBe(true);
          const algorithms = (options.signatureAlgorithms ?? signatureAlgorithmsFor)(spec as Exclude<KmsKeySpec, 'AES_256'>);
          for (const algorithm of algorithms) {
            const { signature, algorithm: used } = await provider.sign({ keyId: key.keyId, data: MESSAGE, algorithm });
            expect(used).toBe(algorithm);
            expect([algorithm, verifySignature(publicKey, algorithm, MESSAGE, signature)]).toEqual([algorithm, true]);
            expect([algorithm, verifySignature(publicKey, algorithm, flipped(MESSAGE, 0), signature)]).toEqual([algorithm, false]);
            expect(await provider.verify({ keyId: key.keyId, data: MESSAGE, signature, algorithm })).toBe(true);
            expect(await provider.verify({ keyId: key.keyId, data: flipped(MESSAGE, 0), signature, algorithm })).toBe(false);
          }
        }, timeout);
      }

      it('signMany keeps input order', async () => {
        const spec = asymmetric[0];
        if (spec === undefined) return expect(asymmetric).toEqual([]);
        const key = await signingKey(spec);
        const messages = [0, 1, 2, 3].map((i) => Uint8Array.of(i, i, i));
        const results = await signMany(provider, messages.map((data) => ({ keyId: key.keyId, data })), { concurrency: 2 });
        const publicKey = await provider.getPublicKey({ keyId: key.keyId });
        results.forEach((r, i) => {
          expect(r.ok).toBe(true);
          if (r.ok) expect(verifySignature(publicKey, r.value.algorithm, messages[i]!, r.value.signature)).toBe(true);
        });
      }, timeout);

      const caSpec = asymmetric.find((s) => s === 'ECDSA_P256') ?? asymmetric.find((s) => s.startsWith('RSA_'));
      if (caSpec !== undefined) {
        it(`kmsSigner: a ${caSpec} KMS key signs a fleet CA and a device certificate that validates`, async () => {
          const key = await signingKey(caSpec);
          const signer = await kmsSigner(provider, key.keyId);
          const now = new Date();
          const notBefore = new Date(now.getTime() - 60_000);
          const notAfter = new Date(now.getTime() + 86_400_000);
          const ca = await createCaCertificate({ signer, fleet: 'acme', commonName: 'acme KMS CA', notBefore, notAfter });
          const device = await generateKeyPair('ECDSA_P256');
          const issued = await issueDeviceCertificate({ issuerSigner: signer, issuerCertificate: ca.pem, publicKey: device.publicKey, fleet: 'acme', deviceId: 'robot-7', notBefore, notAfter });
          const validated = validateDeviceCertificate({ certificate: issued.pem, caCertificates: [ca.pem], at: now, expectedFleet: 'acme' });
          expect(validated).toMatchObject({ fleet: 'acme', deviceId: 'robot-7' });
        }, timeout);
      }
    });

    describe('errors', () => {
      if (unsupported.size > 0) {
        it.each([...unsupported])('createKey(%s) is refused with UNSUPPORTED_ALGORITHM (never substituted)', async (spec) => {
          expect(await codeOf(provider.createKey({ spec, tags: { suite: tag } }))).toBe('UNSUPPORTED_ALGORITHM');
        }, timeout);
      } else {
        it('supports every spec of the port (no unsupported spec to refuse)', () => {
          expect(provider.supportedKeySpecs.length).toBe(KMS_KEY_SPECS.length);
        });
      }

      it('an unknown key is KMS_KEY_NOT_FOUND for describeKey, wrap, generateDataKey, sign, getPublicKey and unwrap', async () => {
        const unknown = unknownKeyId(aes.keyId);
        expect(await codeOf(provider.describeKey(unknown))).toBe('KMS_KEY_NOT_FOUND');
        expect(await codeOf(provider.wrap({ keyId: unknown, plaintext: Uint8Array.of(1) }))).toBe('KMS_KEY_NOT_FOUND');
        expect(await codeOf(provider.generateDataKey({ keyId: unknown }))).toBe('KMS_KEY_NOT_FOUND');
        expect(await codeOf(provider.sign({ keyId: unknown, data: MESSAGE }))).toBe('KMS_KEY_NOT_FOUND');
        expect(await codeOf(provider.getPublicKey({ keyId: unknown }))).toBe('KMS_KEY_NOT_FOUND');
        const envelope = await provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1) });
        const relabelled = encodeEnvelope({ ...decodeEnvelope(envelope), keyId: unknown });
        expect(await codeOf(provider.unwrap({ envelope: relabelled }))).toBe('KMS_KEY_NOT_FOUND');
      }, timeout);

      const signSpec = asymmetric[0];
      if (signSpec !== undefined) {
        it(`wrong key usage is INVALID_KEY_USAGE: sign with AES_256, wrap with ${signSpec}`, async () => {
          const signKey = await signingKey(signSpec);
          expect(await codeOf(provider.sign({ keyId: aes.keyId, data: MESSAGE }))).toBe('INVALID_KEY_USAGE');
          expect(await codeOf(provider.wrap({ keyId: signKey.keyId, plaintext: Uint8Array.of(1) }))).toBe('INVALID_KEY_USAGE');
        }, timeout);
      }
    });

    describe('cache', () => {
      it('a second getPublicKey / describeKey is answered by withCache without a provider call', async () => {
        let calls = 0;
        const counted = interceptProvider(provider, (_operation, _keyId, call) => {
          calls += 1;
          return call();
        });
        const cached = withCache(counted, { ttlMs: 60_000 });
        const spec = asymmetric[0];
        const requestsBefore = instance.faults?.requests;
        await cached.describeKey(aes.keyId);
        const publicKey = spec === undefined ? undefined : await cached.getPublicKey({ keyId: (await signingKey(spec)).keyId });
        const callsAfterMiss = calls;
        const requestsAfterMiss = instance.faults?.requests;
        await cached.describeKey(aes.keyId);
        if (spec !== undefined) {
          const again = await cached.getPublicKey({ keyId: (await signingKey(spec)).keyId });
          expect(again.equals(publicKey!)).toBe(true);
        }
        expect(calls).toBe(callsAfterMiss);
        if (instance.faults !== undefined) {
          // the emulator's own request counter: the hits never reached it
          expect(requestsAfterMiss).toBeGreaterThan(requestsBefore!);
          expect(instance.faults.requests).toBe(requestsAfterMiss);
        }
      }, timeout);
    });

    if (!hasFaults) {
      describe(`faults: NOT REGISTERED — ${options.name} exposes no fault injector`, () => {
        it('retry on throttling, failover on outage, timeout on latency and the request counter are not exercised for this provider', () => {
          expect(hasFaults).toBe(false);
        });
      });
      return;
    }

    /** The instance's fault injector (the probe had one, so every instance must). */
    function faultsOf(): ConformanceFaults {
      const faults = instance.faults;
      if (faults === undefined) throw new Error('create() returned faults for the probe instance but not for this one');
      return faults;
    }

    describe('faults', () => {
      it('retry: injected throttling fails the bare call with THROTTLED, and withRetry recovers', async () => {
        const faults = faultsOf();
        try {
          faults.set({ throttleRate: 1 });
          expect(await codeOf(provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1) }))).toBe('THROTTLED');
          const sleeps: number[] = [];
          const retried = withRetry(provider, {
            maxRetries: 3,
            baseDelayMs: 10,
            random: () => 0.5,
            sleep: async (ms) => {
              sleeps.push(ms);
              faults.reset(); // the throttling ends while we back off
            },
          });
          const before = faults.requests;
          const envelope = await retried.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(4), context: CONTEXT });
          expect(sleeps).toEqual([5]);
          expect(faults.requests - before).toBeGreaterThanOrEqual(2);
          expect(hex(await provider.unwrap({ envelope, context: CONTEXT }))).toBe('04');
        } finally {
          faults.reset();
        }
      }, timeout);

      it('retry: never retries a non-retryable error (unknown key, wrong context)', async () => {
        const faults = faultsOf();
        const sleeps: number[] = [];
        const retried = withRetry(provider, { maxRetries: 3, sleep: async (ms) => void sleeps.push(ms) });
        const before = faults.requests;
        expect(await codeOf(retried.describeKey(unknownKeyId(aes.keyId)))).toBe('KMS_KEY_NOT_FOUND');
        const envelope = await provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1), context: CONTEXT });
        expect(await codeOf(retried.unwrap({ envelope, context: {} }))).toBe('INVALID_CIPHERTEXT');
        expect(sleeps).toEqual([]);
        expect(faults.requests - before).toBeGreaterThanOrEqual(3);
      }, timeout);

      it('timeout: injected latency past the deadline is TIMEOUT through withTimeout', async () => {
        const faults = faultsOf();
        try {
          faults.set({ latencyMs: 400 });
          expect(await codeOf(withTimeout(provider, { timeoutMs: 50 }).describeKey(aes.keyId))).toBe('TIMEOUT');
        } finally {
          faults.reset();
        }
        // Let the late answer land before the next test changes the faults.
        await new Promise((resolve) => setTimeout(resolve, 450));
      }, timeout);

      it('failover: during an injected outage wrap goes to a second instance, and unwrap follows the envelope', async () => {
        const faults = faultsOf();
        const second = await options.create();
        try {
          const secondKey = await second.provider.createKey({ spec: 'AES_256', tags: { suite: tag, role: 'failover' } });
          const failover = withFailover([provider, { provider: second.provider, mapKeyId: (id) => (id === aes.keyId ? secondKey.keyId : id) }]);
          const fromPrimary = await failover.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1), context: CONTEXT });
          expect(readEnvelopeHeader(fromPrimary).keyId).toBe(readEnvelopeHeader(await provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(0) })).keyId);
          faults.set({ outage: true });
          expect(await codeOf(provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(2) }))).toBe('PROVIDER_UNAVAILABLE');
          const fromSecondary = await failover.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(2), context: CONTEXT });
          expect(readEnvelopeHeader(fromSecondary).provider).toBe(second.provider.name);
          expect(hex(await failover.unwrap({ envelope: fromSecondary, context: CONTEXT }))).toBe('02');
          expect(await codeOf(failover.unwrap({ envelope: fromPrimary, context: CONTEXT }))).toBe('PROVIDER_UNAVAILABLE');
          faults.reset();
          expect(hex(await failover.unwrap({ envelope: fromPrimary, context: CONTEXT }))).toBe('01');
          expect(hex(await failover.unwrap({ envelope: fromSecondary, context: CONTEXT }))).toBe('02');
        } finally {
          faults.reset();
          await second.cleanup();
        }
      }, timeout);
    });
  });
}
