/**
 * Worker thread of `snapshotState` (./sqlite-file.ts): runs VACUUM INTO on a read-only connection
 * of its own, so a large state store is copied without blocking the controller's event loop
 * (better-sqlite3 is synchronous). Plain JavaScript so it runs under any loader.
 *
 * Trust boundary: paths come from the controller (its state file, its private work directory).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3-multiple-ciphers';

const { source, target } = workerData;
const db = new Database(source, { readonly: true, fileMustExist: true });
try {
  db.prepare('VACUUM INTO ?').run(target);
  parentPort.postMessage({ schemaVersion: db.pragma('user_version', { simple: true }) });
} finally {
  db.close();
}
