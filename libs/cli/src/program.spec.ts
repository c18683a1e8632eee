import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EXIT, EXIT_MEANINGS, createProgram, exitCodeHelp, readPackageVersion, runProgram } from './program.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetkey-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function manifest(content: unknown): URL {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return pathToFileURL(path);
}

describe('CLI frame', () => {
  it('reads the version from the manifest', () => {
    expect(readPackageVersion(manifest({ version: '9.8.7' }))).toBe('9.8.7');
    expect(() => readPackageVersion(manifest({}))).toThrow(/no version/);
  });

  it('exits 0 on --version and 2 on an unknown option', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const writeErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const url = manifest({ version: '1.2.3' });
      expect(await runProgram(createProgram({ name: 't', description: 'd', manifestUrl: url }), ['--version'])).toBe(EXIT.ok);
      expect(write.mock.calls.map((c) => String(c[0])).join('')).toContain('1.2.3');
      expect(await runProgram(createProgram({ name: 't', description: 'd', manifestUrl: url }), ['--bogus'])).toBe(EXIT.usage);
      expect(writeErr.mock.calls.map((c) => String(c[0])).join('')).toContain('unknown option');
    } finally {
      write.mockRestore();
      writeErr.mockRestore();
    }
  });

  it('keeps the exit codes distinct, stable and documented', () => {
    expect(EXIT).toMatchObject({ ok: 0, failure: 1, usage: 2, unauthenticated: 3, permissionDenied: 4, notFound: 5, unavailable: 6, conflict: 7 });
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
    expect(Object.keys(EXIT_MEANINGS).sort()).toEqual(Object.keys(EXIT).sort());
    const help = exitCodeHelp().split('\n');
    expect(help).toHaveLength(Object.keys(EXIT).length);
    expect(help[3]).toBe(`  3  ${EXIT_MEANINGS.unauthenticated}`);
  });
});
