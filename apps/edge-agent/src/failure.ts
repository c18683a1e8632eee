/**
 * What a failure of an edge-agent command means to the person at the factory station: one line
 * and an exit code from @fleetkey/cli's EXIT table. The controller's typed refusals are shown as
 * such (ENROLLMENT_TOKEN_REJECTED with its reason, RECORD_EXISTS, CSR_INVALID).
 *
 * Trust boundary: server text and local messages are shown after control characters are replaced
 * and cut to a bound; no message built here contains the token or any key.
 */
import { EXIT, printable as terminalSafe } from '@fleetkey/cli';
import { isFleetkeyError } from '@fleetkey/key-types';
import { RpcError } from '@fleetkey/protocol';
import { status as Status } from '@grpc/grpc-js';

/** Server-sent details are cut to this many characters. */
export const MAX_DETAIL_LENGTH = 300;

export interface Failure {
  readonly message: string;
  readonly exitCode: number;
}

/** Terminal-safe text (libs/cli `printable`), cut at MAX_DETAIL_LENGTH. */
export function printable(text: string): string {
  const clean = terminalSafe(text);
  return clean.length > MAX_DETAIL_LENGTH ? `${clean.slice(0, MAX_DETAIL_LENGTH)}...` : clean;
}

function details(error: RpcError): string {
  // grpc-js words connection failures "No connection established. Last error: X. Resolution note: Y".
  return printable(error.message.replace(/^No connection established\. Last error: (Error: )?/, '').replace(/\.? ?Resolution note: ?$/, ''));
}

const TLS_FAILURE = /certificate|self[- ]signed|altnames|unable to (get|verify)|SSL|TLS|handshake/i;

function describeRpcError(error: RpcError, controller: string | undefined): Failure {
  const target = controller === undefined ? 'the controller' : `the controller at ${controller}`;
  switch (error.code) {
    case 'ENROLLMENT_TOKEN_REJECTED':
      return { message: `the controller refused the enrollment token: ${details(error)}`, exitCode: EXIT.unauthenticated };
    case 'RECORD_EXISTS':
      return { message: `the controller refused the enrollment: ${details(error)}`, exitCode: EXIT.conflict };
    case 'CSR_INVALID':
      return { message: `the controller refused the certificate request: ${details(error)}`, exitCode: EXIT.failure };
    default:
      break;
  }
  switch (error.status) {
    case Status.UNAVAILABLE:
      if (error.code === 'RPC_FAILED' && TLS_FAILURE.test(error.message)) {
        return { message: `TLS with ${target} failed: its certificate is not trusted by the CA file (or the system roots) or does not name that address (${details(error)})`, exitCode: EXIT.unavailable };
      }
      return { message: `cannot reach ${target}: ${details(error)}`, exitCode: EXIT.unavailable };
    case Status.DEADLINE_EXCEEDED:
      return { message: `${target} did not answer in time; try a longer --timeout`, exitCode: EXIT.unavailable };
    case Status.UNAUTHENTICATED:
      return { message: `the controller refused the request: ${details(error)}`, exitCode: EXIT.unauthenticated };
    case Status.PERMISSION_DENIED:
      return { message: `permission denied: ${details(error)}`, exitCode: EXIT.permissionDenied };
    case Status.ALREADY_EXISTS:
    case Status.FAILED_PRECONDITION:
      return { message: `the controller refused the enrollment: ${details(error)}`, exitCode: EXIT.conflict };
    case Status.INVALID_ARGUMENT:
      return { message: `the controller rejected the request: ${details(error)}`, exitCode: EXIT.usage };
    default:
      return { message: `the enrollment call failed: ${details(error)}`, exitCode: EXIT.failure };
  }
}

/** Maps any error an edge-agent command meets to one line and an exit code. */
export function describeFailure(error: unknown, context: { readonly controller?: string } = {}): Failure {
  if (error instanceof RpcError) return describeRpcError(error, context.controller);
  if (isFleetkeyError(error)) {
    switch (error.code) {
      case 'INVALID_ARGUMENT':
      case 'INVALID_IDENTIFIER':
      case 'INVALID_CONFIG':
        return { message: printable(error.message), exitCode: EXIT.usage };
      case 'STORE_EXISTS':
        return { message: printable(error.message), exitCode: EXIT.conflict };
      default:
        return { message: printable(error.message), exitCode: EXIT.failure };
    }
  }
  const errno = error as NodeJS.ErrnoException;
  if (error instanceof Error && typeof errno.code === 'string' && typeof errno.syscall === 'string') {
    return { message: `${errno.syscall} failed: ${errno.code}${errno.path === undefined ? '' : ` (${printable(errno.path)})`}`, exitCode: EXIT.failure };
  }
  return { message: `unexpected ${error instanceof Error ? error.name : 'error'}`, exitCode: EXIT.failure };
}
