/**
 * Test support: temporary directories for real SQLite files, removed after each test.
 * Not exported from the package index.
 *
 * Trust boundary: test-only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class TempDirs {
  readonly #dirs: string[] = [];

  make(prefix = 'fleetkey-keystore-'): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
