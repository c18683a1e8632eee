/**
 * How fleetctl shows results: aligned plain-text tables for people (no colour, so a pipe or a log
 * gets the same bytes as a terminal), or exactly one JSON document for scripts (camelCase keys,
 * ISO-8601 times, bytes as base64, certificates as PEM).
 *
 * Trust boundary: every string shown comes from the controller. Control characters are replaced
 * before they reach a terminal, so a hostile name cannot move the cursor, rewrite earlier lines or
 * set the window title; JSON escapes them itself.
 */
import { printable } from '@fleetkey/cli';
import { timestampDate, type Duration, type Timestamp } from '@bufbuild/protobuf/wkt';

export const OUTPUT_FORMATS = ['table', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Where text goes: process.stdout / process.stderr, or a buffer in tests. */
export interface TextSink {
  write(text: string): unknown;
}

/** One table column: its header and how a row renders in it. */
export interface Column<R> {
  readonly header: string;
  readonly value: (row: R) => string;
}

/** Shown in a table cell for an unset value. */
export const EMPTY_CELL = '-';

export { printable };

/** Renders rows under headers, columns separated by two spaces, the last column unpadded. */
export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => cell(c.value(row))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? '').length)));
  return cells.map((line) => line.map((text, i) => (i === line.length - 1 ? text : text.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Renders `label: value` lines with the values aligned. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${cell(value)}`.trimEnd()).join('\n') + '\n';
}

function cell(text: string): string {
  // Precondition: a hostile cell cannot break the layout or drive the terminal.
  return text === '' ? EMPTY_CELL : printable(text);
}

/** Exactly one JSON document, pretty-printed, newline-terminated. */
export function renderJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** ISO-8601 time of a protobuf Timestamp; null when unset or outside what a Date holds. */
export function isoTime(timestamp: Timestamp | undefined): string | null {
  if (timestamp === undefined) return null;
  const date = timestampDate(timestamp);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A Timestamp for a table cell: ISO-8601 to the second, or empty when unset. */
export function tableTime(timestamp: Timestamp | undefined): string {
  return isoTime(timestamp)?.replace(/\.\d{3}Z$/, 'Z') ?? '';
}

/** Milliseconds of a protobuf Duration, for JSON; null when unset. */
export function durationMs(duration: Duration | undefined): number | null {
  if (duration === undefined) return null;
  return Number(duration.seconds) * 1000 + Math.round(duration.nanos / 1_000_000);
}

/**
 * A uint64 for JSON: a number while it is exact (every realistic sequence), else a decimal string
 * rather than a silently rounded number.
 */
export function jsonInteger(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** RFC 7468 §2: PEM of a DER certificate, base64 lines of 64 characters. */
export function certificatePem(der: Uint8Array): string {
  const lines = base64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * The lower-case name of a protobuf-es enum value (`DeviceState.ACTIVE` -> `active`,
 * `KeyAlgorithm.ECDSA_P256` keeps its case via `upper`); `unspecified` for 0 and `unknown(7)` for a
 * value this build does not know (proto3 enums are open).
 */
export function enumName(names: Readonly<Record<number, string>>, value: number, options: { upper?: boolean } = {}): string {
  const name = names[value];
  if (name === undefined) return `unknown(${value})`;
  return options.upper === true && value !== 0 ? name : name.toLowerCase();
}

/** Writes results to stdout and notes to stderr in the chosen format. */
export class Printer {
  constructor(
    private readonly stdout: TextSink,
    private readonly stderr: TextSink,
    readonly format: OutputFormat,
  ) {}

  get json(): boolean {
    return this.format === 'json';
  }

  /** The one JSON document of the command. */
  document(document: unknown): void {
    this.stdout.write(renderJson(document));
  }

  table<R>(columns: readonly Column<R>[], rows: readonly R[]): void {
    this.stdout.write(renderTable(columns, rows));
  }

  fields(fields: readonly (readonly [string, string])[]): void {
    this.stdout.write(renderFields(fields));
  }

  /** One raw line on stdout (a secret being handed over, a PEM block); the caller vouches for it. */
  line(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A message for the person at the terminal, on stderr, so stdout stays parseable. */
  note(text: string): void {
    this.stderr.write(`fleetctl: ${printable(text)}\n`);
  }
}
