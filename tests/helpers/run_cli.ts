/**
 * Runs the `fido2` CLI in this process with captured output, as the CLI tests need it.
 * @module
 */
import { main, type MainIo } from "../../src/cli/main.ts";

/** What one in-process `fido2` run gave: the exit code and everything written to each stream. */
export interface CliRun {
  /** The exit code `main` resolved with. */
  readonly code: number;
  /** Everything written to stdout. */
  readonly stdout: string;
  /** Everything written to stderr. */
  readonly stderr: string;
}

/** `fido2 ARGV` in-process with an empty environment (and `io.system`, when given). */
export async function runCli(
  argv: readonly string[],
  io: Pick<MainIo, "system"> = {},
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: { write: (t: string | Uint8Array) => (stdout += t) },
    stderr: { write: (t: string | Uint8Array) => (stderr += t) },
    env: {},
    ...io,
  });
  return { code, stdout, stderr };
}
