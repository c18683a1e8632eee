/**
 * The connection to the controller's OperatorService, and what its failures mean to a person.
 * Every channel is TLS, authenticated against the CA bundle of --ca-file, and every call carries
 * `authorization: Bearer <token>` (gRPC call credentials, which grpc-js sends only over TLS).
 *
 * Trust boundary: the controller is authenticated by its certificate; what it answers, status
 * details included, is still only shown after control characters are replaced. The token is
 * never part of a message built here: failures name where the token came from, not what it is.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { EXIT } from '@fleetkey/cli';
import { isFleetkeyError } from '@fleetkey/key-types';
import { OperatorService, RpcError, closeClient, createClient, type ServiceClient } from '@fleetkey/protocol';
import { Metadata, credentials, status as Status } from '@grpc/grpc-js';
import { SettingsInvalid, type ConnectionSettings } from './config.js';
import { printable } from './output.js';

/** A CA bundle larger than this is not a CA bundle. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;
/** Server-sent details are cut to this many characters in an error line. */
export const MAX_DETAIL_LENGTH = 300;

export type OperatorClient = ServiceClient<typeof OperatorService>;

/**
 * Reads the PEM CA bundle the controller's certificate must chain to.
 * @throws SettingsInvalid when it is missing, unreadable, too large or holds no certificate.
 */
export function readCaBundle(settings: Pick<ConnectionSettings, 'caFile' | 'caFileSource'>): Buffer {
  const where = `the CA file ${settings.caFile} (from ${settings.caFileSource})`;
  let fd: number;
  try {
    fd = openSync(settings.caFile, 'r');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new SettingsInvalid(`cannot read ${where}: ${typeof code === 'string' ? code : 'unreadable'}; pass the controller's DIR/ca.pem with --ca-file`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_CA_FILE_BYTES) throw new SettingsInvalid(`${where} is not a PEM file of at most ${MAX_CA_FILE_BYTES} bytes`);
    const pem = Buffer.alloc(stat.size);
    const read = readSync(fd, pem, 0, pem.length, 0);
    const bundle = pem.subarray(0, read);
    if (!bundle.includes('-----BEGIN CERTIFICATE-----')) throw new SettingsInvalid(`${where} holds no PEM certificate; pass the controller's DIR/ca.pem with --ca-file`);
    return bundle;
  } finally {
    closeSync(fd);
  }
}

export interface OperatorConnection {
  readonly client: OperatorClient;
  close(): void;
}

/**
 * Opens a TLS channel to the controller with the bearer token on every call.
 * @throws SettingsInvalid for an unusable CA file.
 */
export function openOperatorConnection(settings: ConnectionSettings, timeoutMs: number): OperatorConnection {
  const ca = readCaBundle(settings);
  const bearer = credentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${settings.token}`);
    callback(null, metadata);
  });
  // Precondition: a controller certificate the CA file does not vouch for is refused.
  // Precondition: a certificate that does not name the address is refused.
  // (node:tls checks both during the handshake, before grpc-js sends any call or the token.)
  const channel = credentials.combineChannelCredentials(credentials.createSsl(ca), bearer);
  const client = createClient(OperatorService, settings.controller, channel, { defaultTimeoutMs: timeoutMs });
  return { client, close: () => closeClient(client) };
}

/** Runs `work` with a connected client and always closes the channel, so the process can exit. */
export async function withOperator<T>(settings: ConnectionSettings, timeoutMs: number, work: (client: OperatorClient) => Promise<T>): Promise<T> {
  const connection = openOperatorConnection(settings, timeoutMs);
  try {
    return await work(connection.client);
  } finally {
    connection.close();
  }
}

/** What a failure means: one line for stderr and the exit code. */
export interface Failure {
  readonly message: string;
  readonly exitCode: number;
}

/** What describeFailure may mention about the call that failed (never the token itself). */
export interface FailureContext {
  readonly settings?: ConnectionSettings;
  readonly timeoutSeconds?: number;
}

function details(error: RpcError): string {
  // Precondition: control characters in server text never reach the terminal.
  // grpc-js wraps connection failures as "No connection established. Last error: X. Resolution note: Y";
  // X is the part a person needs.
  const text = printable(error.message)
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .replace(/\.? ?Resolution note: ?$/, '');
  return text.length > MAX_DETAIL_LENGTH ? `${text.slice(0, MAX_DETAIL_LENGTH)}...` : text;
}

// How grpc-js and node:tls word a refused server certificate (the status is UNAVAILABLE).
const TLS_FAILURE = /certificate|self[- ]signed|altnames|unable to (get|verify)|SSL|TLS|handshake/i;

function unavailable(error: RpcError, context: FailureContext): Failure {
  const target = context.settings === undefined ? 'the controller' : `the controller at ${context.settings.controller}`;
  if (error.code !== 'RPC_FAILED') {
    // The controller answered with its own code: it is up, one of its dependencies is not.
    return { message: `${target} is unavailable: ${details(error)}`, exitCode: EXIT.unavailable };
  }
  if (TLS_FAILURE.test(error.message)) {
    const ca = context.settings === undefined ? 'the CA file' : `the CA file ${context.settings.caFile} (from ${context.settings.caFileSource})`;
    return {
      message: `TLS with ${target} failed: its certificate is not trusted by ${ca} or does not name that address; pass the controller's DIR/ca.pem with --ca-file (${details(error)})`,
      exitCode: EXIT.unavailable,
    };
  }
  const from = context.settings === undefined ? '' : ` (from ${context.settings.controllerSource})`;
  return { message: `cannot reach ${target}${from}: is it running and listening there? (${details(error)})`, exitCode: EXIT.unavailable };
}

function describeRpcError(error: RpcError, context: FailureContext): Failure {
  const source = context.settings === undefined ? '' : ` from ${context.settings.tokenSource}`;
  switch (error.status) {
    case Status.UNAUTHENTICATED:
      return { message: `the controller refused the credential${source} (run \`fleetctl login\` or check FLEETKEY_TOKEN)`, exitCode: EXIT.unauthenticated };
    case Status.PERMISSION_DENIED:
      return { message: `permission denied: ${details(error)}`, exitCode: EXIT.permissionDenied };
    case Status.NOT_FOUND:
      return { message: `not found: ${details(error)}`, exitCode: EXIT.notFound };
    case Status.ALREADY_EXISTS:
      return { message: `already exists: ${details(error)}`, exitCode: EXIT.conflict };
    case Status.FAILED_PRECONDITION:
    case Status.ABORTED:
      return { message: `the controller refused the change: ${details(error)}`, exitCode: EXIT.conflict };
    case Status.INVALID_ARGUMENT:
    case Status.OUT_OF_RANGE:
      return { message: `the controller rejected the request: ${details(error)}`, exitCode: EXIT.usage };
    case Status.UNAVAILABLE:
      return unavailable(error, context);
    case Status.DEADLINE_EXCEEDED: {
      const target = context.settings === undefined ? 'the controller' : `the controller at ${context.settings.controller}`;
      const within = context.timeoutSeconds === undefined ? '' : ` within ${context.timeoutSeconds} s`;
      return { message: `${target} did not answer${within}; try a longer --timeout`, exitCode: EXIT.unavailable };
    }
    case Status.UNIMPLEMENTED:
      return { message: `the controller does not support this operation yet (${details(error)})`, exitCode: EXIT.failure };
    default:
      return { message: `the call failed: ${details(error)}`, exitCode: EXIT.failure };
  }
}

/** Maps any error fleetctl meets to one line and an exit code. */
export function describeFailure(error: unknown, context: FailureContext = {}): Failure {
  if (error instanceof RpcError) return describeRpcError(error, context);
  if (isFleetkeyError(error)) {
    switch (error.code) {
      case 'INVALID_CONFIG':
      case 'INVALID_ARGUMENT':
      case 'INVALID_IDENTIFIER':
        return { message: printable(error.message), exitCode: EXIT.usage };
      case 'MESSAGE_MALFORMED':
        return { message: `the controller sent a malformed answer: ${printable(error.message)}`, exitCode: EXIT.failure };
      default:
        return { message: printable(error.message), exitCode: EXIT.failure };
    }
  }
  const text = error instanceof Error ? error.message : String(error);
  return { message: `unexpected error: ${printable(text).slice(0, MAX_DETAIL_LENGTH)}`, exitCode: EXIT.failure };
}
