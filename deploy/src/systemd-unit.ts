/**
 * A systemd unit file reader (systemd.syntax(7)) for the deployment test: sections, repeated
 * keys kept in order, `#` / `;` comments, backslash continuations. Also a word splitter for
 * ExecStart= command lines (whitespace and double quotes; specifiers and `$VAR` expansion are
 * refused, since the unit in deploy/systemd uses neither).
 *
 * Trust boundary: none; it reads files from this repository.
 */

export type UnitFile = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

/**
 * Parses a unit file.
 * @throws SyntaxError for a setting outside a section, a line without `=`, or a dangling continuation.
 */
export function parseUnit(text: string): UnitFile {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  let pending: { text: string; line: number } | undefined;
  const assign = (entry: string, line: number): void => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new SyntaxError(`line ${line}: expected Key=value`);
    if (current === undefined) throw new SyntaxError(`line ${line}: setting outside a section`);
    const key = entry.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) throw new SyntaxError(`line ${line}: bad key ${key}`);
    const values = current.get(key) ?? [];
    values.push(entry.slice(eq + 1).trim());
    current.set(key, values);
  };
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (pending === undefined) {
      if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
      const section = /^\[([A-Za-z]+)\]$/.exec(trimmed);
      if (section !== null) {
        if (sections.has(section[1]!)) throw new SyntaxError(`line ${index + 1}: section [${section[1]}] twice`);
        current = new Map();
        sections.set(section[1]!, current);
        return;
      }
      pending = { text: '', line: index + 1 };
    } else if (trimmed.startsWith('#') || trimmed.startsWith(';')) {
      // Comments inside a continued setting are skipped (systemd.syntax(7)).
      return;
    }
    if (trimmed.endsWith('\\')) {
      pending.text += `${trimmed.slice(0, -1).trimEnd()} `;
      return;
    }
    pending.text += trimmed;
    assign(pending.text, pending.line);
    pending = undefined;
  });
  if (pending !== undefined) throw new SyntaxError(`line ${pending.line}: the file ends inside a continued setting`);
  return sections;
}

/** Every value of a key in a section (empty when absent). */
export function valuesOf(unit: UnitFile, section: string, key: string): readonly string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The last value of a key, as systemd reads single-valued settings. */
export function lastValue(unit: UnitFile, section: string, key: string): string | undefined {
  const values = valuesOf(unit, section, key);
  return values[values.length - 1];
}

/**
 * Splits an ExecStart= command line into words.
 * @throws SyntaxError for `%` specifiers, `$` expansion, an unterminated quote or a leading prefix
 *   (`-`, `@`, `+`, `!`, `:`) — none of which the checked unit may need.
 */
export function splitCommandLine(text: string): string[] {
  if (/[%$]/.test(text)) throw new SyntaxError('specifiers and variable expansion are not supported here');
  if (/^[-@+!:]/.test(text)) throw new SyntaxError('ExecStart prefixes are not supported here');
  const words: string[] = [];
  const pattern = /\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))/y;
  let index = 0;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (match === null) {
      if (text.slice(index).trim() === '') break;
      throw new SyntaxError(`cannot split the command line at "${text.slice(index)}"`);
    }
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!);
    index = pattern.lastIndex;
  }
  return words;
}

/** `Environment=A=1 "B=two words"` assignments, in order. */
export function environmentOf(unit: UnitFile): Map<string, string> {
  const env = new Map<string, string>();
  for (const value of valuesOf(unit, 'Service', 'Environment')) {
    for (const word of splitCommandLine(value)) {
      const eq = word.indexOf('=');
      if (eq <= 0) throw new SyntaxError(`Environment= expected NAME=value, got ${word}`);
      env.set(word.slice(0, eq), word.slice(eq + 1));
    }
  }
  return env;
}
