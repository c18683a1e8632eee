/**
 * A robot app in TypeScript calling the fleetkey edge agent's local API (`fleetkey.v1.AgentService`,
 * proto/fleetkey/v1/agent.proto) over the agent's Unix socket: the file an integrator copies. The
 * agent holds the robot's keys; this app never sees one. It sends data in and gets ciphertext,
 * plaintext or signatures back.
 *
 * It uses only the generated protocol code and the gRPC adapter of `@fleetkey/protocol`:
 * `createClient(AgentService, 'unix://…')` gives a typed client whose failures are `RpcError`s,
 * with `status` (the gRPC status) and `code`, the agent's own reason taken from the
 * `fleetkey-error-code` trailer (DEVICE_LOCKED, KEYS_EXPIRED, DECRYPTION_FAILED, UNAUTHENTICATED…):
 * the status alone does not tell a locked robot from another failed precondition.
 *
 * Run it against a real agent:
 *   FLEETKEY_AGENT_SOCKET=/run/fleetkey/agent.sock FLEETKEY_APP_TOKEN=fk_app_… npx tsx src/robot-app.ts
 *
 * Trust boundary: the agent checks every call (socket permissions, then the app token when it is
 * configured with app tokens). The app token comes from the environment, goes only into the
 * `authorization` header, and is never printed; nor is any plaintext but the app's own demo text.
 */
import { pathToFileURL } from 'node:url';
import { status as GrpcStatus, credentials } from '@grpc/grpc-js';
import { AgentService, ERROR_CODE_TRAILER, KeyState, RpcError, SignatureAlgorithm, closeClient, createClient, type CallOptions, type ServiceClient } from '@fleetkey/protocol';

export const DEFAULT_SOCKET = '/run/fleetkey/agent.sock';
/** Every call gets a deadline: a robot app must not hang on a stuck agent. */
const CALL_TIMEOUT_MS = 5_000;
/**
 * Seal and Open must agree on these two: they are authenticated, not sent, so a message opened
 * with other values is refused (DECRYPTION_FAILED).
 */
export const PURPOSE = 'telemetry';
export const ASSOCIATED_DATA = new TextEncoder().encode('route-7');

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The agent's client with this app's token (if any) and a deadline on every call. */
export class Agent {
  readonly #client: ServiceClient<typeof AgentService>;
  readonly #token: string | undefined;

  constructor(socketPath: string, appToken?: string) {
    // The socket is local: its file permissions are the transport security, hence no TLS.
    this.#client = createClient(AgentService, `unix://${socketPath}`, credentials.createInsecure());
    this.#token = appToken === '' ? undefined : appToken;
  }

  /** Options for one call: the deadline, and `authorization: Bearer <token>` when the app has one. */
  options(): CallOptions {
    return { timeoutMs: CALL_TIMEOUT_MS, ...(this.#token === undefined ? {} : { metadata: { authorization: `Bearer ${this.#token}` } }) };
  }

  get api(): ServiceClient<typeof AgentService> {
    return this.#client;
  }

  close(): void {
    closeClient(this.#client);
  }
}

/** A refused call as a robot app should report it: the gRPC status and the agent's own code. */
export interface Refusal {
  /** gRPC status name, e.g. INVALID_ARGUMENT. */
  readonly status: string;
  /** The `fleetkey-error-code` trailer, e.g. DECRYPTION_FAILED; RPC_FAILED when the agent sent none. */
  readonly code: string;
}

/** The refusal a failed call carries; anything that is not an RpcError is a bug and is rethrown. */
export function refusalOf(error: unknown): Refusal {
  if (!(error instanceof RpcError)) throw error;
  const status = (GrpcStatus as unknown as Record<number, string>)[error.status] ?? String(error.status);
  return { status, code: error.code };
}

/** What the app did, one entry per call (the scenario's test reads it). */
export interface RobotAppResult {
  readonly status: { readonly fleet: string; readonly deviceId: string; readonly locked: boolean; readonly epochs: readonly string[] };
  readonly sealed: { readonly text: string; readonly envelopeBytes: number; readonly epoch: number };
  readonly opened: { readonly text: string; readonly sender: string; readonly keyState: string };
  readonly otherAssociatedData: Refusal;
  readonly signed: { readonly algorithm: string; readonly valid: boolean; readonly signer: string; readonly tamperedValid: boolean };
  readonly storage: { readonly roundTrip: boolean; readonly keyId: string; readonly otherAssociatedData: Refusal };
}

/**
 * One call of each kind, printing one line each through `print`.
 * @throws RpcError when the agent refuses a call that should succeed (see `refusalOf`).
 */
export async function runRobotApp(agent: Agent, print: (line: string) => void = console.log): Promise<RobotAppResult> {
  const api = agent.api;

  // GetStatus answers even while the robot is locked: use it to explain why other calls fail.
  const status = await api.getStatus({}, agent.options());
  const epochs = status.epochs.map((epoch) => `${epoch.key?.keyId}@${epoch.key?.version} ${(KeyState[epoch.state] ?? String(epoch.state)).toLowerCase()}`);
  print(`status: fleet ${status.fleet}, device ${status.deviceId}, locked ${status.locked ? `yes (${status.lockReason})` : 'no'}, epochs [${epochs.join(', ')}], agent ${status.agentVersion}`);

  // Seal: for every robot of the fleet, with the active fleet key, signed with this robot's
  // identity key. The envelope may travel any way (MQTT, a file, a ROS topic).
  const text = `hello from ${status.deviceId}`;
  const sealed = await api.seal({ plaintext: encoder.encode(text), associatedData: ASSOCIATED_DATA, purpose: PURPOSE }, agent.options());
  print(`seal: ${text.length} bytes -> ${sealed.envelope.length}-byte envelope, key ${sealed.key?.keyId} epoch ${sealed.key?.version}`);

  // Open: any robot of the fleet holding that epoch can; here this robot opens its own message.
  const opened = await api.open({ envelope: sealed.envelope, associatedData: ASSOCIATED_DATA, purpose: PURPOSE }, agent.options());
  const openedText = decoder.decode(opened.plaintext);
  const keyState = (KeyState[opened.keyState] ?? String(opened.keyState)).toLowerCase();
  print(`open: "${openedText}" from ${opened.senderDeviceId} (epoch ${opened.key?.version}, ${keyState})`);

  // A refusal is an RpcError: report the agent's code from the trailer, not just the status.
  let otherAssociatedData: Refusal;
  try {
    await api.open({ envelope: sealed.envelope, associatedData: encoder.encode('route-8'), purpose: PURPOSE }, agent.options());
    throw new Error('the agent opened a message with other associated data');
  } catch (error) {
    otherAssociatedData = refusalOf(error);
  }
  print(`open with other associated data: refused, ${otherAssociatedData.status} ${ERROR_CODE_TRAILER}=${otherAssociatedData.code}`);

  // Sign with the identity key; the certificate that comes back lets any robot verify.
  const data = encoder.encode('waypoint 17: hold position');
  const signed = await api.sign({ data }, agent.options());
  const verified = await api.verify({ data, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: signed.certificate }, agent.options());
  // An invalid signature is a result (valid: false), not an error.
  const tampered = await api.verify({ data: encoder.encode('waypoint 18: hold position'), signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: signed.certificate }, agent.options());
  const algorithm = SignatureAlgorithm[signed.signatureAlgorithm] ?? String(signed.signatureAlgorithm);
  print(`sign/verify: ${signed.signature.length}-byte ${algorithm} signature, ${verified.valid ? `valid, signer ${verified.signerDeviceId}` : 'NOT valid'}; other data -> valid ${tampered.valid}`);

  // Encrypt/Decrypt: data at rest only this robot can read back (a storage key of its own).
  const calibration = encoder.encode('calibration: 0.9731');
  const encrypted = await api.encrypt({ plaintext: calibration, associatedData: encoder.encode('calib.bin') }, agent.options());
  const decrypted = await api.decrypt({ ciphertext: encrypted.ciphertext, associatedData: encoder.encode('calib.bin') }, agent.options());
  const roundTrip = decoder.decode(decrypted.plaintext) === 'calibration: 0.9731';
  let storageRefusal: Refusal;
  try {
    await api.decrypt({ ciphertext: encrypted.ciphertext, associatedData: encoder.encode('other.bin') }, agent.options());
    throw new Error('the agent decrypted with other associated data');
  } catch (error) {
    storageRefusal = refusalOf(error);
  }
  print(`encrypt/decrypt: round trip ${roundTrip ? 'ok' : 'MISMATCH'} with key ${encrypted.key?.keyId}; with other associated data -> ${storageRefusal.code}`);

  return {
    status: { fleet: status.fleet, deviceId: status.deviceId, locked: status.locked, epochs },
    sealed: { text, envelopeBytes: sealed.envelope.length, epoch: sealed.key?.version ?? 0 },
    opened: { text: openedText, sender: opened.senderDeviceId, keyState },
    otherAssociatedData,
    signed: { algorithm, valid: verified.valid, signer: verified.signerDeviceId, tamperedValid: tampered.valid },
    storage: { roundTrip, keyId: encrypted.key?.keyId ?? '', otherAssociatedData: storageRefusal },
  };
}

// Run directly (not imported): FLEETKEY_AGENT_SOCKET and FLEETKEY_APP_TOKEN from the environment.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const agent = new Agent(process.env['FLEETKEY_AGENT_SOCKET'] ?? DEFAULT_SOCKET, process.env['FLEETKEY_APP_TOKEN']);
  try {
    await runRobotApp(agent);
  } catch (error) {
    // The agent's messages never hold keys or plaintext; the code says what to do.
    const refusal = error instanceof RpcError ? refusalOf(error) : undefined;
    console.error(refusal === undefined ? `error: ${error instanceof Error ? error.message : String(error)}` : `error: ${refusal.status} ${ERROR_CODE_TRAILER}=${refusal.code}: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    agent.close();
  }
}
