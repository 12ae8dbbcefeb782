/**
 * The shape of a sub-command: its name (one or two words), help text, the options it takes
 * and how it runs. Each group module exports a list of these.
 * @module
 */
import type { Context } from "./context.ts";
import { UsageError } from "./errors.ts";

/** An option definition in node:util parseArgs form, plus its help line. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** Help text, e.g. "ID  credential ID (base64url)". */
  readonly help: string;
}

/** One sub-command such as `pin set`. */
export interface Command {
  /** Words after `fido2`, e.g. "pin set". */
  readonly name: string;
  /** Positional argument synopsis, e.g. "CREDENTIAL_ID". */
  readonly args?: string;
  /** One-line description. */
  readonly summary: string;
  /** Options specific to this command. */
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Whether the command talks to a device (false: `list`). */
  readonly needsDevice?: boolean;
  /** Runs it; throw to fail (the error decides the exit code). */
  run(ctx: Context): Promise<void>;
}

/** Checks the positional argument count, with a usage error naming the synopsis. */
export function expectArgs(ctx: Context, cmd: Command, min: number, max = min): void {
  if (ctx.args.length < min || ctx.args.length > max) {
    const synopsis = `fido2 ${cmd.name}${cmd.args ? " " + cmd.args : ""}`;
    throw new UsageError(
      ctx.args.length < min
        ? `Missing argument. Usage: ${synopsis}`
        : `Too many arguments. Usage: ${synopsis}`,
    );
  }
}
