/**
 * A guided run through the foundation libraries, in the order a fleet meets them: a fleet CA,
 * two robots with identities and certificates, a communication key wrapped to each robot, a
 * sealed and signed message between them, a rotation, a revocation, a signed emergency lockdown
 * command, and the encrypted keystore.
 * Everything runs in this process with real keys, real certificates and real SQLite files; the
 * controller and agent daemons that will do this over the network are later work.
 *
 * Trust boundary: none of its own; it only calls the libraries. It prints ids, versions and
 * sizes, never key bytes.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertSignature,
  createCaCertificate,
  createCsr,
  createLocalSigner,
  generateKeyPair,
  issueDeviceCertificate,
  openEnvelope,
  readEnvelopeHeader,
  sealEnvelope,
  unwrapWithPrivateKey,
  validateDeviceCertificate,
  verifyCsr,
  wrapToPublicKey,
  type Signer,
} from '@fleetkey/crypto';
import { formatVersionedKeyId, isFleetkeyError, versionedKeyId, type KeyState } from '@fleetkey/key-types';
import { SecureKeyStore, fileProtector } from '@fleetkey/keystore';
import { CommandAction, CommandSchema, SignatureAlgorithm, signPayload, verifyPayload, type SignedPayload } from '@fleetkey/protocol';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';

export interface TourStep {
  readonly title: string;
  readonly detail: string;
  readonly ms: number;
}

export interface TourOptions {
  readonly workDir: string;
  readonly fleet?: string;
  readonly onStep?: (step: TourStep) => void;
}

interface Robot {
  readonly id: string;
  readonly identity: { privateKey: KeyObject; publicKey: KeyObject };
  readonly signer: Signer;
  certificatePem: string;
  serialNumber: string;
  store: SecureKeyStore;
}

const DAY_MS = 86_400_000;

/** Runs the tour and returns every step; throws if any library behaves other than promised. */
export async function runTour(options: TourOptions): Promise<TourStep[]> {
  const fleet = options.fleet ?? 'acme';
  const steps: TourStep[] = [];
  const now = new Date();

  async function step(title: string, body: () => Promise<string> | string): Promise<void> {
    const started = performance.now();
    const detail = await body();
    const done: TourStep = { title, detail, ms: performance.now() - started };
    steps.push(done);
    options.onStep?.(done);
  }

  function expectFailure(code: string, action: () => unknown): string {
    try {
      action();
    } catch (error) {
      if (isFleetkeyError(error) && error.code === code) return code;
      throw error;
    }
    throw new Error(`expected ${code}, but the call succeeded`);
  }

  // 1. The fleet CA. In production its key lives in a KMS; the signer interface is the same.
  const caKeys = await generateKeyPair('ECDSA_P256');
  const caSigner = createLocalSigner(caKeys.privateKey, { keyId: `fleet-ca/${fleet}/ca@1` });
  let caPem = '';
  await step('fleet CA created', async () => {
    const ca = await createCaCertificate({
      signer: caSigner,
      fleet,
      commonName: `${fleet} fleet CA`,
      notBefore: now,
      notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    });
    caPem = ca.pem;
    return `ECDSA P-256, serial ${ca.serialNumber.slice(0, 12)}…, valid 10 years`;
  });

  // 2. Two robots make their identity keys and prove possession with a CSR; the CA signs.
  const robots: Robot[] = [];
  for (const id of ['robot-a', 'robot-b']) {
    await step(`${id} provisioned`, async () => {
      const identity = await generateKeyPair('ECDSA_P256');
      const signer = createLocalSigner(identity.privateKey, { keyId: `device-identity/${fleet}/${id}@1` });
      const csr = await createCsr({ signer, fleet, deviceId: id });
      const checked = verifyCsr(csr.der);
      const issued = await issueDeviceCertificate({
        issuerSigner: caSigner,
        issuerCertificate: caPem,
        publicKey: checked.publicKey,
        fleet,
        deviceId: checked.deviceId,
        notBefore: now,
        notAfter: new Date(now.getTime() + 365 * DAY_MS),
      });
      const storeDir = join(options.workDir, id);
      mkdirSync(storeDir, { mode: 0o700 });
      const store = await SecureKeyStore.create(join(storeDir, 'keystore.db'), fileProtector({ keyFile: join(storeDir, 'store.key') }));
      const pkcs8 = new Uint8Array(identity.privateKey.export({ format: 'der', type: 'pkcs8' }));
      try {
        store.put({
          keyId: versionedKeyId('device-identity', fleet, id, 1),
          algorithm: 'ECDSA_P256',
          state: 'active',
          material: pkcs8,
          publicKey: new Uint8Array(identity.publicKey.export({ format: 'der', type: 'spki' })),
        });
      } finally {
        pkcs8.fill(0);
      }
      robots.push({ id, identity, signer, certificatePem: issued.pem, serialNumber: issued.serialNumber, store });
      return `CSR verified, certificate fleetkey://${fleet}/${id} issued, identity key in its encrypted keystore`;
    });
  }
  const [robotA, robotB] = robots as [Robot, Robot];

  // 3. A communication epoch: one random key, wrapped to each robot's identity key (ECIES).
  async function distributeEpoch(version: number): Promise<void> {
    const epochKey = new Uint8Array(randomBytes(32));
    const keyId = versionedKeyId('communication', fleet, 'fleet', version);
    const context = { fleet, purpose: 'key-bundle' };
    try {
      for (const robot of robots) {
        const wrapped = wrapToPublicKey({
          recipient: robot.identity.publicKey,
          provider: 'device',
          keyId: formatVersionedKeyId(keyId),
          keyVersion: version,
          plaintext: epochKey,
          context: { ...context, device: robot.id },
        });
        const unwrapped = unwrapWithPrivateKey(wrapped, robot.identity.privateKey, { ...context, device: robot.id });
        try {
          robot.store.put({ keyId, algorithm: 'AES_256_GCM', state: 'pending', material: unwrapped, notBefore: now, notAfter: new Date(now.getTime() + 2 * DAY_MS) });
        } finally {
          unwrapped.fill(0);
        }
      }
    } finally {
      epochKey.fill(0);
    }
  }

  function promote(version: number): void {
    for (const robot of robots) {
      const previous = robot.store.list({ kind: 'communication', state: 'active' });
      robot.store.transition(versionedKeyId('communication', fleet, 'fleet', version), version, 'active');
      for (const old of previous) robot.store.transition(old.keyId, old.keyId.version, 'retiring');
    }
  }

  await step('communication epoch 1 distributed', async () => {
    await distributeEpoch(1);
    promote(1);
    return 'one key, wrapped to each robot with ECIES P-256 + HKDF-SHA256 + AES-256-GCM, now active on both';
  });

  // 4. Robot A seals and signs; robot B checks the sender's certificate, the signature, then opens.
  function seal(robot: Robot, text: string): { envelope: Uint8Array; signature: Promise<Uint8Array> } {
    const active = robot.store.list({ kind: 'communication', state: 'active' })[0];
    if (!active) throw new Error(`${robot.id} has no active communication key`);
    const record = robot.store.materialForSeal(active.keyId, active.keyId.version);
    try {
      const envelope = sealEnvelope({
        key: record.material,
        provider: 'fleet',
        keyId: formatVersionedKeyId(active.keyId),
        keyVersion: active.keyId.version,
        plaintext: new TextEncoder().encode(text),
        context: { fleet, sender: robot.id },
      });
      return { envelope, signature: robot.signer.sign(envelope) };
    } finally {
      record.material.fill(0);
    }
  }

  function open(receiver: Robot, sender: Robot, envelope: Uint8Array, signature: Uint8Array, revoked: ReadonlySet<string>): string {
    const device = validateDeviceCertificate({
      certificate: sender.certificatePem,
      caCertificates: [caPem],
      at: new Date(),
      expectedFleet: fleet,
      isRevoked: (serial) => revoked.has(serial),
    });
    assertSignature(device.publicKey, 'ECDSA_P256_SHA256', envelope, signature);
    const header = readEnvelopeHeader(envelope);
    const keyId = versionedKeyId('communication', fleet, 'fleet', header.keyVersion);
    const record = receiver.store.materialForOpen(keyId, header.keyVersion);
    try {
      return new TextDecoder().decode(openEnvelope(envelope, record.material, { fleet, sender: device.deviceId }));
    } finally {
      record.material.fill(0);
    }
  }

  const noneRevoked = new Set<string>();
  const first = seal(robotA, 'hello from robot-a');
  const firstSignature = await first.signature;
  await step('message sealed on robot-a, opened on robot-b', () => {
    const text = open(robotB, robotA, first.envelope, firstSignature, noneRevoked);
    return `"${text}" (${first.envelope.length}-byte envelope under communication epoch ${readEnvelopeHeader(first.envelope).keyVersion}, signed by robot-a)`;
  });

  await step('forged and mis-addressed messages refused', async () => {
    const forged = Uint8Array.from(first.envelope);
    forged[forged.length - 1]! ^= 0x01;
    const signatureOverForged = await robotA.signer.sign(forged);
    const forgedCode = expectFailure('DECRYPTION_FAILED', () => open(robotB, robotA, forged, signatureOverForged, noneRevoked));
    const wrongSigner = expectFailure('SIGNATURE_INVALID', () => open(robotA, robotB, first.envelope, firstSignature, noneRevoked));
    return `a flipped bit -> ${forgedCode}; robot-a's message claimed by robot-b -> ${wrongSigner}`;
  });

  // 5. Rotation: epoch 2 is distributed as pending, then activated; epoch 1 keeps opening.
  await step('communication key rotated to epoch 2', async () => {
    await distributeEpoch(2);
    promote(2);
    const states = robotB.store
      .list({ kind: 'communication' })
      .map((m) => `epoch ${m.keyId.version} ${m.state as KeyState}`)
      .join(', ');
    const old = open(robotB, robotA, first.envelope, firstSignature, noneRevoked);
    const second = seal(robotA, 'sealed under epoch 2');
    const fresh = open(robotB, robotA, second.envelope, await second.signature, noneRevoked);
    return `${states}; the epoch-1 message still opens ("${old}"), new messages seal under epoch ${readEnvelopeHeader(second.envelope).keyVersion} ("${fresh}")`;
  });

  // 6. Revocation: robot-b's certificate serial goes on the list; robot-a refuses it.
  await step('robot-b revoked', async () => {
    const revoked = new Set([robotB.serialNumber]);
    const fromB = seal(robotB, 'robot-b after revocation');
    const signature = await fromB.signature;
    const code = expectFailure('CERTIFICATE_REVOKED', () => open(robotA, robotB, fromB.envelope, signature, revoked));
    return `robot-a refuses robot-b's message: ${code}`;
  });

  // 7. Emergency lockdown: the controller signs a command with the emergency key; each robot
  // checks it against the emergency public key it pinned at provisioning and the last sequence it
  // saw, and persists LOCKED in its keystore. A replay and a forged copy are refused.
  const emergency = await generateKeyPair('ECDSA_P256');
  const emergencySigner = createLocalSigner(emergency.privateKey, { keyId: `emergency/${fleet}/emergency@1` });
  const pinnedEmergencyKey = emergency.publicKey;
  await step('fleet locked down by a signed command', async () => {
    const command = await signPayload(
      CommandSchema,
      {
        fleet,
        sequence: 1n,
        issuedAt: timestampFromDate(new Date()),
        expiresAt: timestampFromDate(new Date(Date.now() + 3_600_000)),
        scope: { fleet },
        action: CommandAction.LOCKDOWN,
        reason: 'demo: intrusion suspected',
        requestId: 'req-1',
      },
      async (input) => ({
        signature: await emergencySigner.sign(input),
        signatureAlgorithm: SignatureAlgorithm.ECDSA_P256_SHA256,
        signingKey: { keyId: emergencySigner.keyId, version: 1 },
      }),
    );
    const verifyWithPinnedKey = (input: Uint8Array, signed: SignedPayload) => assertSignature(pinnedEmergencyKey, 'ECDSA_P256_SHA256', input, signed.signature);
    async function apply(robot: Robot, signed: SignedPayload): Promise<string> {
      try {
        const accepted = await verifyPayload(CommandSchema, signed, verifyWithPinnedKey);
        const last = BigInt(String(robot.store.getValue('last-command-sequence') ?? '0'));
        if (accepted.sequence <= last) return 'REPLAY_REFUSED';
        robot.store.setValue('last-command-sequence', accepted.sequence.toString());
        robot.store.setValue('locked', accepted.reason);
        return 'LOCKED';
      } catch (error) {
        if (isFleetkeyError(error)) return error.code;
        throw error;
      }
    }
    const outcomes = [];
    for (const robot of robots) outcomes.push(`${robot.id} ${await apply(robot, command)}`);
    const replay = await apply(robotA, command);
    const forgedPayload = Uint8Array.from(command.payload);
    forgedPayload[forgedPayload.length - 1]! ^= 0x01;
    const forged = await apply(robotB, { ...command, payload: forgedPayload });
    return `${outcomes.join(', ')} (state kept in the keystore); the same command again -> ${replay}; a forged copy -> ${forged}`;
  });

  // 8. At rest: the keystore file holds no key bytes, and the wrong store key opens nothing.
  await step('keystore checked at rest', async () => {
    const meta = robotA.store.latest(versionedKeyId('communication', fleet, 'fleet', 1), 'active');
    if (!meta) throw new Error('robot-a lost its active key');
    const record = robotA.store.get(meta.keyId, meta.keyId.version);
    const needle = Buffer.from(record.material);
    record.material.fill(0);
    const dir = join(options.workDir, robotA.id);
    const files = readdirSync(dir).filter((name) => name.startsWith('keystore.db'));
    const leaks = files.filter((name) => readFileSync(join(dir, name)).includes(needle));
    needle.fill(0);
    if (leaks.length > 0) throw new Error(`key bytes found in ${leaks.join(', ')}`);
    const wrongKeyDir = join(options.workDir, robotB.id);
    robotA.store.close();
    let refusal = 'opened (unexpected)';
    try {
      await SecureKeyStore.open(join(dir, 'keystore.db'), fileProtector({ keyFile: join(wrongKeyDir, 'store.key') }));
    } catch (error) {
      if (!isFleetkeyError(error, 'STORE_KEY_INVALID')) throw error;
      refusal = error.code;
    }
    const reopened = await SecureKeyStore.open(join(dir, 'keystore.db'), fileProtector({ keyFile: join(dir, 'store.key') }));
    robotA.store = reopened;
    const count = reopened.list({}).length;
    return `active key bytes not found in ${files.join(', ')}; robot-b's store key -> ${refusal}; reopened with its own key: ${count} keys intact`;
  });

  for (const robot of robots) robot.store.close();
  return steps;
}
