/**
 * The one frame every fleetkey command line uses: consistent --help/--version, usage errors as one
 * line on stderr with exit code 2, and no stack traces for expected failures. Apps build their
 * commands on top of `createProgram` and hand argv to `runProgram`.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

/**
 * Exit codes shared by every fleetkey CLI, so scripts can tell failure kinds apart. The values are
 * a public contract: scripts branch on them, so a code is never renumbered or reused.
 */
export const EXIT = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  unauthenticated: 3,
  permissionDenied: 4,
  notFound: 5,
  unavailable: 6,
  conflict: 7,
});

export type ExitCodeName = keyof typeof EXIT;

/** One line per exit code, for --help epilogues; kept beside EXIT so the two cannot drift. */
export const EXIT_MEANINGS: Readonly<Record<ExitCodeName, string>> = Object.freeze({
  ok: 'success',
  failure: 'the operation failed (or, for a check, found a problem)',
  usage: 'bad command line, settings or request',
  unauthenticated: 'the credential was missing, unknown or revoked',
  permissionDenied: "the credential's role or fleet scope does not allow the operation",
  notFound: 'the named fleet, operator, token or device does not exist',
  unavailable: 'the server was unreachable, failed TLS verification, or did not answer in time',
  conflict: 'the request conflicts with existing state (exists, used, revoked)',
});

/** The exit-code table as help text: `  0  success`, one line per code. */
export function exitCodeHelp(): string {
  return (Object.keys(EXIT) as ExitCodeName[]).map((name) => `  ${EXIT[name]}  ${EXIT_MEANINGS[name]}`).join('\n');
}

export interface ProgramOptions {
  readonly name: string;
  readonly description: string;
  /** URL of the app's package.json (`new URL('../package.json', import.meta.url)`). */
  readonly manifestUrl: URL;
  /** The version when it is known without the manifest (a bundle built with it); wins over `manifestUrl`. */
  readonly version?: string;
}

/** @throws Error when the manifest has no string `version`. */
export function readPackageVersion(manifestUrl: URL): string {
  const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8')) as { version?: unknown };
  if (typeof manifest.version !== 'string') throw new Error(`${manifestUrl.pathname} has no version`);
  return manifest.version;
}

export function createProgram(options: ProgramOptions): Command {
  return new Command(options.name)
    .description(options.description)
    .version(options.version ?? readPackageVersion(options.manifestUrl), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help')
    .showSuggestionAfterError(true)
    .exitOverride();
}

/** Runs `program` on `argv` (without node and script) and returns the process exit code. */
export async function runProgram(program: Command, argv: readonly string[]): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    if (argv.length === 0) program.outputHelp();
    return EXIT.ok;
  } catch (error) {
    // Commander has already printed its own one-line message (or the help) to the right stream.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
}
