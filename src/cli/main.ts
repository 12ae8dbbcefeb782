/**
 * The `fido2` command line: parses arguments (node:util parseArgs), picks the sub-command,
 * opens the device, wires Ctrl-C to CTAPHID_CANCEL and turns failures into exit codes.
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { bioCommands } from "./bio_commands.ts";
import { blobsCommands } from "./blobs_commands.ts";
import type { Command, OptionSpec } from "./command.ts";
import { configCommands } from "./config_commands.ts";
import { Context, type OptionValues } from "./context.ts";
import { credsCommands } from "./creds_commands.ts";
import { deviceCommands } from "./device_commands.ts";
import { type DeviceSelection, openSelected, udpEndpoints } from "./device.ts";
import { EXIT, EXIT_HELP, exitCodeFor, messageFor, UsageError } from "./errors.ts";
import { Output, type Sink } from "./output.ts";
import { pinCommands } from "./pin_commands.ts";
import { Prompter } from "./prompt.ts";
import { webauthnCommands } from "./webauthn_commands.ts";
import { type CliSystem, hostSystem, requireElevation } from "./windows.ts";

/** Every sub-command, in help order. */
export const COMMANDS: readonly Command[] = [
  ...deviceCommands,
  ...pinCommands,
  ...credsCommands,
  ...blobsCommands,
  ...configCommands,
  ...bioCommands,
  ...webauthnCommands,
];

const GLOBAL: Record<string, OptionSpec> = {
  device: { type: "string", help: "PATH  use the hidapi device at PATH (see `fido2 list`)" },
  virtual: {
    type: "string",
    help: "[FILE]  use a virtual authenticator, persisted to FILE when given",
  },
  "virtual-uv": {
    type: "boolean",
    help: "give the virtual authenticator a (simulated) fingerprint sensor",
  },
  profile: {
    type: "string",
    help: "NAME  --virtual behaves as a u2f-only, ctap2.0, ctap2.1-pre, ctap2.1 or ctap2.2 " +
      "(default) key",
  },
  quirk: {
    type: "string",
    multiple: true,
    help: "NAME  --virtual firmware quirk (repeat): token-single-use, rp-name-is-user-name, " +
      "no-algorithms, credmgmt-on-pre, u2f-cbor-bit (with --profile u2f-only)",
  },
  udp: { type: "string", help: "HOST:PORT  use a CTAPHID-over-UDP simulator" },
  "udp-local-port": {
    type: "string",
    help: "N  local port for --udp answers (default 7112, as simulators expect; 0 = any)",
  },
  reader: {
    type: "string",
    help: "NAME  use the key on the PC/SC (NFC or smart-card) reader whose name contains NAME",
  },
  pin: { type: "string", help: "PIN  the PIN (else FIDO2_PIN, else prompt / stdin line)" },
  json: { type: "boolean", help: "machine-readable JSON output on stdout" },
  help: { type: "boolean", short: "h", help: "show help" },
};

const GROUPS = [...new Set(COMMANDS.map((c) => c.name.split(" ")[0]))];

function optionHelp(options: Record<string, OptionSpec>): string {
  const lines = Object.entries(options).map(([name, o]) => {
    const [arg, ...rest] = o.help.split("  ");
    const hasArg = rest.length > 0;
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${hasArg ? " " + arg : ""}`;
    return [flag, hasArg ? rest.join("  ") : o.help];
  });
  const width = Math.max(...lines.map(([f]) => f.length));
  return lines.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`).join("\n");
}

function synopsis(c: Command): string {
  return `fido2 ${c.name}${c.args ? " " + c.args : ""}`;
}

/** `fido2 --help`. */
export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => synopsis(c).length - 6));
  const cmds = COMMANDS.map((c) => `  ${synopsis(c).slice(6).padEnd(width)}  ${c.summary}`);
  return `fido2: manage FIDO2 security keys and run WebAuthn ceremonies from a terminal.

Usage: fido2 COMMAND [ARGS] [OPTIONS]

Commands:
${cmds.join("\n")}

Device selection (default: the first FIDO key found through hidapi):
${optionHelp(GLOBAL)}

On Windows, register and authenticate go through webauthn.dll (Windows' own dialogs, also
Windows Hello; no admin rights) unless a device option is given; the other commands talk to
the key directly, which Windows allows only from an elevated prompt (exit code 8 otherwise).

--virtual takes the next argument as its state file unless it starts with "-" or is a
command name; --virtual= (empty) is an in-memory authenticator that forgets everything.
A credential ID (base64url) that starts with "-" is taken as is where a command expects one
(CREDENTIAL_ID, --cred, --exclude); anything after "--" is never an option.
Environment: FIDO2_PIN, FIDO2_NEW_PIN. Without them a PIN is read hidden from the terminal,
or as one line from stdin when stdin is not a terminal. Ctrl-C cancels (CTAPHID_CANCEL).
Run \`fido2 COMMAND --help\` for a command's options.

${EXIT_HELP}
`;
}

function commandHelp(c: Command): string {
  return `Usage: ${synopsis(c)} [OPTIONS]\n\n${c.summary}.\n` +
    (c.options ? `\nOptions:\n${optionHelp(c.options as Record<string, OptionSpec>)}\n` : "") +
    `\nGlobal options:\n${optionHelp(GLOBAL)}\n`;
}

function groupHelp(group: string): string {
  const cmds = COMMANDS.filter((c) => c.name.split(" ")[0] === group);
  return `Usage:\n${cmds.map((c) => `  ${synopsis(c)}  (${c.summary})`).join("\n")}\n`;
}

/** Rewrites `--virtual [FILE]` (an optional value parseArgs cannot express) to `--virtual=…`. */
export function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let sawCommand = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (a === "--virtual") {
      const next = argv[i + 1];
      const isFile = next !== undefined && !next.startsWith("-") &&
        (sawCommand || !GROUPS.includes(next));
      out.push(`--virtual=${isFile ? next : ""}`);
      if (isFile) i++;
      continue;
    }
    if (!a.startsWith("-") && GROUPS.includes(a)) sawCommand = true;
    out.push(a);
  }
  return out;
}

function allOptions(): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = { ...GLOBAL };
  for (const c of COMMANDS) {
    for (const [name, o] of Object.entries(c.options ?? {})) {
      const prev = all[name];
      if (prev && (prev.type !== o.type || !!prev.multiple !== !!o.multiple)) {
        throw new Error(`Option --${name} is defined twice with different types`);
      }
      all[name] ??= o;
    }
  }
  return all;
}

/** What {@linkcode parseCommandLine} found: the command, its positionals and option values. */
export interface Parsed {
  readonly command?: Command;
  readonly group?: string;
  readonly positionals: string[];
  readonly values: OptionValues;
}

/** Options whose value is a credential ID (base64url, which may start with "-"). */
const CREDENTIAL_ID_OPTIONS: ReadonlySet<string> = new Set(["cred", "exclude"]);

/**
 * Whether `arg` is one of `specs`' options: `--name`, `--name=…`, or shorts as parseArgs reads
 * them (`-h`, `-yh`, `-o FILE`, `-oFILE`: a string option's short takes the rest as its value).
 */
function isKnownOption(arg: string, specs: Record<string, OptionSpec>): boolean {
  if (arg.startsWith("--")) return Object.hasOwn(specs, arg.slice(2).split("=")[0]);
  const shorts = new Map(Object.values(specs).filter((o) => o.short).map((o) => [o.short, o]));
  for (const c of arg.slice(1)) {
    const o = shorts.get(c);
    if (!o) return false;
    if (o.type === "string") return true;
  }
  return true;
}

/**
 * The positional slot `index` of `cmd` takes a credential or template ID (per its synopsis):
 * both are base64url, so either may start with "-".
 */
function credentialSlot(cmd: Command, index: number): boolean {
  const words = (cmd.args ?? "").split(" ").filter(Boolean);
  const last = words[words.length - 1] ?? "";
  const word = words[index] ?? (last.endsWith("...]") || last.endsWith("...") ? last : "");
  const name = word.replace(/^\[|\]$|\.\.\.\]?$/g, "");
  return name === "CREDENTIAL_ID" || name === "TEMPLATE_ID";
}

/**
 * Hides the arguments that start with "-" but name no option (base64url credential IDs may)
 * behind placeholders parseArgs reads as plain values; `parse` then accepts each one only
 * where a credential ID goes. Arguments after `--` are values anyway.
 */
function shieldDashValues(
  args: readonly string[],
  specs: Record<string, OptionSpec>,
): { args: string[]; hidden: Map<string, string> } {
  const hidden = new Map<string, string>();
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a.length > 1 && a.startsWith("-") && !isKnownOption(a, specs)) {
      // NUL cannot occur in a real argument, so no placeholder collides with one.
      const placeholder = `\0${hidden.size}`;
      hidden.set(placeholder, a);
      out.push(placeholder);
    } else {
      out.push(a);
    }
  }
  return { args: out, hidden };
}

export function parseCommandLine(argv: readonly string[]): Parsed {
  const specs = allOptions();
  const { args, hidden } = shieldDashValues(normalizeArgv(argv), specs);
  const unknownOption = (a: string, where: string) =>
    new UsageError(
      `Unknown option ${a}${where}. A credential ID that starts with "-" is taken as is where ` +
        `the command expects one (or after "--", or as --cred=${a})`,
    );
  let result;
  try {
    result = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(specs).map(([k, o]) => [k, {
          type: o.type,
          ...(o.short ? { short: o.short } : {}),
          ...(o.multiple ? { multiple: true } : {}),
        }]),
      ),
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const values = result.values as OptionValues;
  // Hidden arguments taken as option values: only credential-ID options accept them.
  for (const [name, v] of Object.entries(values)) {
    const list = Array.isArray(v) ? v : [v];
    for (const x of list) {
      if (typeof x !== "string" || !hidden.has(x)) continue;
      if (!CREDENTIAL_ID_OPTIONS.has(name)) {
        throw new UsageError(
          `--${name} needs a value; to give one that starts with "-", write --${name}=${
            hidden.get(x)
          }`,
        );
      }
    }
    (values as Record<string, unknown>)[name] = Array.isArray(v)
      ? v.map((x) => typeof x === "string" ? hidden.get(x) ?? x : x)
      : typeof v === "string"
      ? hidden.get(v) ?? v
      : v;
  }
  const hiddenPos = result.positionals.filter((p) => hidden.has(p));
  const pos = result.positionals.map((p) => hidden.get(p) ?? p);
  if (pos.length === 0) return { positionals: [], values };
  if (hidden.has(result.positionals[0])) throw unknownOption(pos[0], "");
  const group = pos[0];
  const two = COMMANDS.find((c) => c.name === `${group} ${pos[1]}`);
  const one = COMMANDS.find((c) => c.name === group);
  const command = two ?? one;
  if (!command) {
    if (GROUPS.includes(group)) {
      if (values.help) return { group, positionals: [], values };
      throw new UsageError(
        pos[1] === undefined
          ? `\`fido2 ${group}\` needs a sub-command:\n${groupHelp(group)}`
          : `Unknown sub-command \`${group} ${pos[1]}\`:\n${groupHelp(group)}`,
      );
    }
    throw new UsageError(`Unknown command \`${group}\` (see \`fido2 --help\`)`);
  }
  const allowed = new Set([...Object.keys(GLOBAL), ...Object.keys(command.options ?? {})]);
  for (const t of result.tokens ?? []) {
    if (t.kind === "option" && !allowed.has(t.name)) {
      throw new UsageError(`\`fido2 ${command.name}\` does not take --${t.name}`);
    }
  }
  const skip = two ? 2 : 1;
  if (hiddenPos.length) {
    const raw = result.positionals.slice(skip);
    raw.forEach((p, i) => {
      if (hidden.has(p) && !credentialSlot(command, i)) {
        throw unknownOption(hidden.get(p)!, ` for \`fido2 ${command.name}\``);
      }
    });
    if (hidden.has(result.positionals[skip - 1])) {
      throw unknownOption(hidden.get(result.positionals[skip - 1])!, "");
    }
  }
  return { command, positionals: pos.slice(skip), values };
}

/** Streams and environment of one run (real process ones by default; tests may swap). */
export interface MainIo {
  readonly stdout?: Sink;
  readonly stderr?: Sink;
  readonly env?: Record<string, string | undefined>;
  /** The OS and elevation check (default: the running process's). */
  readonly system?: CliSystem;
}

/** Runs the CLI and resolves with the exit code. */
export async function main(argv: readonly string[], io: MainIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const jsonRequested = argv.includes("--json");
  const out = new Output(jsonRequested, io.stdout, io.stderr);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    out.status("Cancelling…");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  try {
    return await run(argv, env, out, controller.signal, io.system ?? hostSystem());
  } finally {
    process.off("SIGINT", onSigint);
  }
}

async function run(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  out: Output,
  signal: AbortSignal,
  system: CliSystem,
): Promise<number> {
  let ctx: Context | undefined;
  let code: number;
  try {
    const parsed = parseCommandLine(argv);
    if (!parsed.command) {
      if (parsed.group) out.stdout.write(groupHelp(parsed.group));
      else if (parsed.values.help || argv.length === 0) out.stdout.write(globalHelp());
      if (argv.length === 0) return EXIT.USAGE;
      return EXIT.OK;
    }
    if (parsed.values.help) {
      out.stdout.write(commandHelp(parsed.command));
      return EXIT.OK;
    }
    const v = parsed.values;
    const virtual = v.virtual === undefined
      ? undefined
      : v.virtual === ""
      ? true
      : String(v.virtual);
    const selection: DeviceSelection = {
      device: v.device as string | undefined,
      virtual,
      udp: v.udp as string | undefined,
      udpLocalPort: v["udp-local-port"] as string | undefined,
      virtualUv: v["virtual-uv"] === true,
      profile: v.profile as string | undefined,
      quirks: v.quirk as string[] | undefined,
      reader: v.reader as string | undefined,
    };
    const given = [selection.device, selection.virtual, selection.udp, selection.reader].filter((
      x,
    ) => x !== undefined);
    if (given.length > 1) {
      throw new UsageError("Use only one of --device, --virtual, --udp and --reader");
    }
    udpEndpoints(selection); // usage errors before any PIN prompt
    const prompter = new Prompter(out, {
      pin: (v.pin as string | undefined) ?? env.FIDO2_PIN,
      newPin: (v["new-pin"] as string | undefined) ?? env.FIDO2_NEW_PIN,
    });
    const command = parsed.command.name;
    const explicit = given.length > 0;
    // A USB key (the default, or --device) needs an elevated prompt on Windows; PC/SC does not.
    const needsHid = selection.virtual === undefined && selection.udp === undefined &&
      selection.reader === undefined;
    ctx = new Context(
      out,
      prompter,
      parsed.positionals,
      v,
      signal,
      async () => {
        if (needsHid) await requireElevation(system, command);
        return await openSelected(selection);
      },
      system,
      explicit,
    );
    await parsed.command.run(ctx);
    code = EXIT.OK;
  } catch (e) {
    code = signal.aborted ? EXIT.CANCELLED : exitCodeFor(e);
    out.error(signal.aborted ? "Cancelled." : messageFor(e));
    if (code === EXIT.ERROR && env.FIDO2_DEBUG) out.stderr.write(`${(e as Error)?.stack}\n`);
  }
  try {
    await ctx?.close();
  } catch (e) {
    out.error(`closing the device: ${messageFor(e)}`);
    if (code === EXIT.OK) code = exitCodeFor(e);
  }
  return code;
}
