/**
 * Request metrics for gRPC services without touching their handlers: every handler of a service
 * is wrapped to time the call and report the status it ended with (what the generic adapter will
 * answer for the error it throws). Requests refused before a handler runs (undecodable bytes,
 * oversized messages) are not seen here.
 *
 * Trust boundary: only the method path, a status code and a duration leave this module.
 */
import { status as Status } from '@grpc/grpc-js';
import type { DescService } from '@bufbuild/protobuf';
import { methodPath, statusForError, type ServiceHandlers } from '@fleetkey/protocol';

export type ObserveCall = (path: string, code: number, durationSeconds: number) => void;

type AnyHandler = (...args: unknown[]) => unknown;

function seconds(startedAt: bigint): number {
  return Number(process.hrtime.bigint() - startedAt) / 1e9;
}

export function instrumented<S extends DescService>(service: S, handlers: ServiceHandlers<S>, observe: ObserveCall): ServiceHandlers<S> {
  const wrapped: Record<string, AnyHandler> = {};
  const table = handlers as unknown as Record<string, AnyHandler>;
  for (const method of service.methods) {
    const handler = table[method.localName];
    if (handler === undefined) continue;
    const path = methodPath(service, method);
    if (method.methodKind === 'server_streaming') {
      wrapped[method.localName] = async function* (...args: unknown[]) {
        const startedAt = process.hrtime.bigint();
        try {
          yield* handler(...args) as AsyncIterable<unknown>;
          observe(path, Status.OK, seconds(startedAt));
        } catch (error) {
          observe(path, statusForError(error).code, seconds(startedAt));
          throw error;
        }
      };
    } else {
      wrapped[method.localName] = async (...args: unknown[]) => {
        const startedAt = process.hrtime.bigint();
        try {
          const result = await handler(...args);
          observe(path, Status.OK, seconds(startedAt));
          return result;
        } catch (error) {
          observe(path, statusForError(error).code, seconds(startedAt));
          throw error;
        }
      };
    }
  }
  return wrapped as unknown as ServiceHandlers<S>;
}
