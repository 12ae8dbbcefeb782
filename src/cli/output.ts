/**
 * How the CLI writes: results to stdout (aligned tables and `key: value` lines for people,
 * one JSON document with `--json`), prompts and progress to stderr so stdout stays clean.
 * @module
 */
import process from "node:process";

/** A writable text sink (stdout/stderr, or a buffer in tests). */
export interface Sink {
  write(text: string | Uint8Array): unknown;
}

/** Formats rows as columns padded to the widest cell; the header row is underlined. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(header.map((_, i) => r[i] ?? ""))),
  ].join("\n") + "\n";
}

/** Formats `key: value` pairs with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${(k + ":").padEnd(width)} ${v}`.trimEnd()).join("\n") + "\n";
}

/** The output channel of one CLI run. */
export class Output {
  constructor(
    /** Machine output requested (`--json`). */
    readonly json: boolean,
    readonly stdout: Sink = process.stdout,
    readonly stderr: Sink = process.stderr,
  ) {}

  /** The command's result: `human()` text normally, `data` as JSON with `--json`. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.stdout.write(JSON.stringify(data, null, 2) + "\n");
    else this.stdout.write(human());
  }

  /** A progress or prompt line for the person at the terminal (stderr; kept with --json). */
  status(text: string): void {
    this.stderr.write(text + "\n");
  }

  /** An error line. */
  error(text: string): void {
    this.stderr.write(`fido2: ${text}\n`);
  }
}
