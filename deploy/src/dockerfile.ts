/**
 * A Dockerfile reader for the deployment test: logical instructions (line continuations joined,
 * comments dropped), grouped into build stages, with the exec (JSON) form of CMD / ENTRYPOINT /
 * HEALTHCHECK decoded and ENV pairs split. It reads only the subset of the syntax the files in
 * deploy/docker use and refuses anything else, so a file it cannot read fails the test instead of
 * being half-checked.
 *
 * Trust boundary: none; it reads files from this repository.
 */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ENV, … */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

export interface Stage {
  /** The image reference after FROM, with global ARG defaults substituted. */
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: ReadonlyMap<string, string>;
  readonly stages: readonly Stage[];
}

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** Splits `KEY=value KEY2="value 2"` (the only ENV / ARG form used here) into pairs. */
export function parseAssignments(text: string, line: number): Map<string, string> {
  const pairs = new Map<string, string>();
  const pattern = /\s*([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?/y;
  let rest = text.trim();
  while (rest.length > 0) {
    pattern.lastIndex = 0;
    const match = pattern.exec(rest);
    if (match === null || match[0].length === 0) throw new SyntaxError(`line ${line}: cannot read assignment in "${rest}"`);
    const [, name, raw] = match;
    const value = raw === undefined ? undefined : raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (pairs.has(name!)) throw new SyntaxError(`line ${line}: ${name} assigned twice`);
    pairs.set(name!, value ?? '');
    rest = rest.slice(match[0].length).trimStart();
  }
  return pairs;
}

/**
 * Parses a Dockerfile.
 * @throws SyntaxError for an unknown keyword, an instruction before FROM other than ARG, a
 *   dangling continuation or a stage reference that is not defined.
 */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let pending: { keyword: string; parts: string[]; line: number } | undefined;
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    // Comment lines are removed before continuations are joined, as Docker does (parser directives included).
    if (/^\s*#/.test(line)) return;
    if (pending === undefined && line.trim() === '') return;
    const continued = /\\\s*$/.test(line);
    const content = continued ? line.replace(/\\\s*$/, '') : line;
    if (pending === undefined) {
      const match = /^\s*([A-Za-z]+)(?:\s+(.*))?$/.exec(content);
      if (match === null) throw new SyntaxError(`line ${index + 1}: expected an instruction`);
      const keyword = match[1]!.toUpperCase();
      if (!KEYWORDS.has(keyword)) throw new SyntaxError(`line ${index + 1}: unknown instruction ${match[1]}`);
      pending = { keyword, parts: [match[2] ?? ''], line: index + 1 };
    } else {
      pending.parts.push(content);
    }
    if (!continued) {
      instructions.push({ keyword: pending.keyword, args: pending.parts.map((part) => part.trim()).filter((part) => part !== '').join(' '), line: pending.line });
      pending = undefined;
    }
  });
  if (pending !== undefined) throw new SyntaxError(`line ${pending.line}: the file ends inside a continued instruction`);

  const globalArgs = new Map<string, string>();
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (match === null) throw new SyntaxError(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      const from = match[1]!.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_whole, braced: string | undefined, bare: string | undefined) => {
        const name = (braced ?? bare)!;
        const value = globalArgs.get(name);
        if (value === undefined) throw new SyntaxError(`line ${instruction.line}: FROM uses ${name}, which no ARG before the first FROM defines`);
        return value;
      });
      stages.push({ from, name: match[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new SyntaxError(`line ${instruction.line}: only ARG may come before the first FROM`);
      for (const [name, value] of parseAssignments(instruction.args, instruction.line)) globalArgs.set(name, value);
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new SyntaxError('no FROM instruction');
  const names = new Set(stages.map((stage) => stage.name).filter((name) => name !== undefined));
  for (const stage of stages) {
    for (const instruction of stage.instructions) {
      const from = /--from=(\S+)/.exec(instruction.args)?.[1];
      if (instruction.keyword === 'COPY' && from !== undefined && !names.has(from)) throw new SyntaxError(`line ${instruction.line}: COPY --from=${from} names no stage`);
    }
  }
  return { globalArgs, stages };
}

/** The JSON (exec) form of CMD / ENTRYPOINT / HEALTHCHECK CMD; the shell form is refused. */
export function execForm(args: string, line: number): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new SyntaxError(`line ${line}: expected the exec form ["…", …], got ${args}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((part) => typeof part === 'string')) throw new SyntaxError(`line ${line}: expected a non-empty array of strings`);
  return parsed as string[];
}

/** Instructions of one keyword in a stage. */
export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

/** The stage's ENV variables (later assignments win, as in Docker). */
export function stageEnv(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const instruction of instructionsOf(stage, 'ENV')) for (const [name, value] of parseAssignments(instruction.args, instruction.line)) env.set(name, value);
  return env;
}

/** The stage's ARG names with their defaults. */
export function stageArgs(stage: Stage): Map<string, string> {
  const args = new Map<string, string>();
  for (const instruction of instructionsOf(stage, 'ARG')) for (const [name, value] of parseAssignments(instruction.args, instruction.line)) args.set(name, value);
  return args;
}
