/**
 * What a fleetkey binary really accepts, read from its own `--help` (commander's layout): the long
 * option names of one subcommand and the environment variables its options read. The deployment
 * test holds every flag and variable named in deploy/ to these lists, so the files cannot drift
 * from the code.
 *
 * Trust boundary: none; the text comes from this repository's binaries.
 */

export interface CommandOptions {
  readonly flags: ReadonlySet<string>;
  readonly env: ReadonlySet<string>;
}

/**
 * Reads the Options section of commander's help text.
 * @throws SyntaxError when the text has no Options section or lists no option (a changed help
 *   layout must fail the test, not empty the lists).
 */
export function parseHelp(text: string): CommandOptions {
  const start = text.search(/^Options:\s*$/m);
  if (start < 0) throw new SyntaxError('no "Options:" section in the help text');
  const body = text.slice(start).split('\n').slice(1);
  const end = body.findIndex((line) => /^\S/.test(line));
  const options = (end < 0 ? body : body.slice(0, end)).join('\n');
  const flags = new Set<string>();
  for (const match of options.matchAll(/^ {2}(?:-[A-Za-z], )?(--[a-z][a-z0-9-]*)/gm)) flags.add(match[1]!);
  const env = new Set<string>();
  // commander wraps long descriptions, so "env:" and the name may sit on different lines.
  for (const match of options.matchAll(/\benv:\s+([A-Z][A-Z0-9_]*)/g)) env.add(match[1]!);
  if (flags.size === 0) throw new SyntaxError('the Options section lists no option');
  return { flags, env };
}

/** Long flags (`--name`, `--name=value`) among command-line words. */
export function flagsIn(words: readonly string[]): string[] {
  return words.filter((word) => /^--[a-z]/.test(word)).map((word) => word.replace(/=.*$/, ''));
}

export interface Invocation {
  readonly binary: 'fleet-controller' | 'edge-agent';
  readonly command: string;
  readonly words: readonly string[];
  readonly where: string;
}

const INVOCATION = /(fleet-controller|edge-agent)(?:\.mjs|:[\w.-]+)?\s+(init|serve|restore|tls-renew|rotation-policy|provision|status|app-token)\b(.*)$/;

/**
 * Every command line in a text file (a unit, a manifest comment, a Markdown code block) that runs
 * a fleetkey binary: `edge-agent.mjs serve …`, `fleet-controller init …`, or an image
 * `fleetkey/fleet-controller:0.1.0 init …`. Backslash continuations are joined, also across
 * comment lines (`#   --flag \`).
 */
export function invocationsIn(text: string, file: string): Invocation[] {
  const found: Invocation[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    let line = lines[index]!;
    const first = index;
    while (/\\\s*$/.test(line) && index + 1 < lines.length) {
      index += 1;
      line = `${line.replace(/\\\s*$/, '')} ${lines[index]!.replace(/^\s*#?\s*/, '')}`;
    }
    const match = INVOCATION.exec(line);
    if (match === null) continue;
    // A Markdown span or a sentence ends the command.
    const rest = match[3]!.split(/[`|]/)[0]!;
    found.push({ binary: match[1] as Invocation['binary'], command: match[2]!, words: rest.trim().split(/\s+/).filter((word) => word !== ''), where: `${file}:${first + 1}` });
  }
  return found;
}
