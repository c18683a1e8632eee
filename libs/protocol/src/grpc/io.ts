/**
 * Small transport helpers shared by the server and client halves of the adapter: the HTTP/2 path
 * of an rpc and a backpressure-aware write.
 *
 * Trust boundary: none of its own; it moves already-encoded messages.
 */
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { status as Status } from '@grpc/grpc-js';
import type { Writable } from 'node:stream';
import { RpcError } from '../errors.js';

/** `/fleetkey.v1.AgentService/Seal`: the HTTP/2 path of an rpc. */
export function methodPath(service: DescService, method: DescMethod): string {
  return `/${service.typeName}/${method.name}`;
}

/** Writes one message and waits until the transport took it, or the call is cancelled. */
export function writeMessage(stream: Writable, message: unknown, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RpcError('call cancelled', { status: Status.CANCELLED }));
      return;
    }
    const onAbort = (): void => reject(new RpcError('call cancelled', { status: Status.CANCELLED }));
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.write(message, (error) => {
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    });
  });
}
