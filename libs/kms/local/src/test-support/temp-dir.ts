/**
 * Test support: temporary directories for real key files, removed after each test.
 * Not exported from the package index.
 *
 * Trust boundary: test-only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class TempDirs {
  readonly #dirs: string[] = [];

  make(prefix = 'fleetkey-kms-local-'): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** The `code` of what `promise` rejected with (or its name), or undefined when it resolved. */
export async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}
