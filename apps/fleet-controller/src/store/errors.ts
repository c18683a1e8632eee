/**
 * Typed errors of the controller's state store. Callers switch on `code`; the transport maps
 * codes to gRPC statuses (libs/protocol/src/grpc/status.ts).
 *
 * Trust boundary: messages name tables, identifiers and schema versions only — never a token, a
 * token hash, a wrapped key or a certificate.
 */
import { FleetkeyError } from '@fleetkey/key-types';

/** The database was written by a newer controller (its schema version is past the newest we know). */
export class SchemaVersionUnsupported extends FleetkeyError {
  readonly code = 'SCHEMA_VERSION_UNSUPPORTED' as const;
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`state schema version ${found} is newer than the supported version ${supported}; upgrade the controller`);
  }
}

/** A record with the same natural key already exists (fleet id, group id, device id, epoch version…). */
export class RecordExists extends FleetkeyError {
  readonly code = 'RECORD_EXISTS' as const;
}

/** The record does not exist in the given fleet (or at all). */
export class RecordNotFound extends FleetkeyError {
  readonly code = 'RECORD_NOT_FOUND' as const;
}

/** A stored row breaks an invariant the schema cannot express (e.g. a hand-edited database). */
export class StoreCorrupt extends FleetkeyError {
  readonly code = 'STORE_CORRUPT' as const;
}
