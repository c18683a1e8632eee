/**
 * The three things backups do to the SQLite state file directly, below the repository port
 * (which deliberately has no "copy the database" or "replace a wrapped key" operation):
 *
 * - `snapshotState`: a consistent copy with `VACUUM INTO` on a read-only connection of its own,
 *   in a worker thread.
 *   Why not the online backup API (`db.backup()`): it copies page by page across several read
 *   transactions and restarts whenever another connection writes in between, so a busy
 *   controller can keep it restarting; VACUUM INTO reads everything inside ONE read transaction,
 *   which in WAL mode is a snapshot that never blocks the controller's writers and never restarts
 *   (https://sqlite.org/lang_vacuum.html#vacuuminto). The copy is also compacted and carries no
 *   free pages, so rows deleted before the backup do not travel in it.
 * - `checkStateFile`: PRAGMA integrity_check and the schema version of a restored file.
 * - `replaceEpochWrappings`: a secondary-only restore swaps each epoch key's primary wrapping for
 *   the secondary's, in one transaction, each UPDATE touching exactly one row.
 *
 * A PostgreSQL store (issue 9) needs its own snapshot (pg_dump in a repeatable-read transaction);
 * the archive format does not change.
 *
 * Trust boundary: paths come from the controller's own data directory or its staging directory;
 * the wrapped keys written are KMS envelopes the caller has checked unwrap.
 */
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3-multiple-ciphers';
import { BackupArchiveInvalid } from './errors.js';

/** SQLite files start with this 16-byte string (https://sqlite.org/fileformat.html §1.3). */
export const SQLITE_MAGIC = 'SQLite format 3\u0000';

/**
 * Writes a consistent, compacted copy of the database at `source` to `target` (which must not
 * exist) and returns its schema version (user_version). The copy runs in a worker thread
 * (./snapshot-worker.mjs): VACUUM INTO is one synchronous call, and a large store must not stall
 * the controller's gRPC and MQTT traffic while it runs.
 * @throws the SQLite error of the copy.
 */
export async function snapshotState(source: string, target: string): Promise<number> {
  const worker = new Worker(new URL('./snapshot-worker.mjs', import.meta.url), { workerData: { source, target } });
  try {
    return await new Promise<number>((resolve, reject) => {
      worker.once('message', (message: { schemaVersion: number }) => resolve(message.schemaVersion));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the snapshot worker exited with code ${code} before it finished`)));
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * Runs PRAGMA integrity_check on a restored file and returns its schema version.
 * @throws BackupArchiveInvalid when the file is not a sound SQLite database.
 */
export function checkStateFile(path: string): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new BackupArchiveInvalid('the state store in it fails SQLite integrity_check');
    return db.pragma('user_version', { simple: true }) as number;
  } catch (error) {
    if (error instanceof BackupArchiveInvalid) throw error;
    throw new BackupArchiveInvalid('the state store in it is not a SQLite database');
  } finally {
    db?.close();
  }
}

export interface EpochWrapping {
  readonly fleetId: string;
  readonly groupId: string | null;
  readonly version: number;
  readonly wrappedKey: Uint8Array;
}

/**
 * Replaces the wrapped key of each listed epoch (schema 2+ `epochs` table; the fleet-wide series
 * is keyed as '' as in its unique index), all or nothing.
 * @throws BackupArchiveInvalid when an epoch is not exactly one row of the file.
 */
export function replaceEpochWrappings(path: string, wrappings: readonly EpochWrapping[]): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    const update = db.prepare('UPDATE epochs SET wrapped_key = ? WHERE fleet_id = ? AND coalesce(group_id, \'\') = ? AND version = ?');
    db.transaction(() => {
      for (const wrapping of wrappings) {
        const changed = update.run(Buffer.from(wrapping.wrappedKey), wrapping.fleetId, wrapping.groupId ?? '', wrapping.version).changes;
        // Postcondition: each wrapping replaced exactly one epoch.
        if (changed !== 1) throw new BackupArchiveInvalid(`its secondary section names epoch ${wrapping.version} of ${wrapping.fleetId}/${wrapping.groupId ?? 'fleet'}, which the state does not hold`);
      }
    })();
  } finally {
    db.close();
  }
}
