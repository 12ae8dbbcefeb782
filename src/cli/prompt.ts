/**
 * Reading PINs and confirmations: hidden (no echo) on a terminal, one line at a time from
 * stdin when it is a pipe, so scripts can feed answers without the PIN showing up in `ps`.
 * @module
 */
import process from "node:process";
import { AbortError } from "../errors.ts";
import { CliError, EXIT } from "./errors.ts";
import type { Output } from "./output.ts";

/** Reads stdin line by line without consuming more than it returns lines for. */
class LineReader {
  #buffer = "";
  #ended = false;
  #waiter?: () => void;
  #started = false;

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => {
      this.#buffer += chunk;
      this.#waiter?.();
    });
    process.stdin.on("end", () => {
      this.#ended = true;
      this.#waiter?.();
    });
    process.stdin.on("error", () => {
      this.#ended = true;
      this.#waiter?.();
    });
  }

  /** The next line (without its newline), or undefined at end of input. */
  async readLine(): Promise<string | undefined> {
    this.#start();
    process.stdin.resume();
    try {
      while (true) {
        const nl = this.#buffer.indexOf("\n");
        if (nl >= 0) {
          const line = this.#buffer.slice(0, nl).replace(/\r$/, "");
          this.#buffer = this.#buffer.slice(nl + 1);
          return line;
        }
        if (this.#ended) {
          if (this.#buffer === "") return undefined;
          const line = this.#buffer;
          this.#buffer = "";
          return line;
        }
        await new Promise<void>((resolve) => (this.#waiter = resolve));
        this.#waiter = undefined;
      }
    } finally {
      process.stdin.pause();
    }
  }
}

/** Reads one line from the terminal without echoing it (Ctrl-C aborts, backspace edits). */
function readHidden(prompt: string, stderr: Output["stderr"]): Promise<string> {
  const stdin = process.stdin;
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = "";
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.off("data", onData);
      stdin.pause();
      stderr.write("\n");
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new AbortError("Cancelled"));
        if (ch === "\u007f" || ch === "\b") text = [...text].slice(0, -1).join("");
        else if (ch >= " ") text += ch;
      }
    };
    stdin.setEncoding("utf8");
    stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.resume();
  });
}

/** Where PINs come from: `--pin` / `FIDO2_PIN`, else a prompt (hidden on a TTY, else stdin). */
export class Prompter {
  readonly #lines = new LineReader();

  constructor(
    readonly out: Output,
    readonly given: { readonly pin?: string; readonly newPin?: string } = {},
    readonly interactive: boolean = process.stdin.isTTY === true,
  ) {}

  async #ask(label: string, flag: string, env: string): Promise<string> {
    if (this.interactive) return await readHidden(`Enter ${label}: `, this.out.stderr);
    const line = await this.#lines.readLine();
    if (line === undefined || line === "") {
      throw new CliError(
        EXIT.PIN,
        `The ${label} is needed: pass ${flag}, set ${env}, or write it as a line to stdin`,
      );
    }
    return line;
  }

  /** The current PIN. */
  async pin(): Promise<string> {
    if (this.given.pin !== undefined) return this.given.pin;
    return await this.#ask("PIN", "--pin", "FIDO2_PIN");
  }

  /** A new PIN, typed twice on a terminal. */
  async newPin(): Promise<string> {
    if (this.given.newPin !== undefined) return this.given.newPin;
    const first = await this.#ask("new PIN", "--new-pin", "FIDO2_NEW_PIN");
    if (!this.interactive) return first;
    const again = await this.#ask("the new PIN again", "--new-pin", "FIDO2_NEW_PIN");
    if (again !== first) throw new CliError(EXIT.PIN, "The PINs do not match");
    return first;
  }

  /** Asks y/N on a terminal; elsewhere only `assumeYes` (--yes) proceeds. */
  async confirm(question: string, assumeYes: boolean): Promise<boolean> {
    if (assumeYes) return true;
    if (!this.interactive) {
      throw new CliError(EXIT.USAGE, `${question} Pass --yes to confirm non-interactively.`);
    }
    this.out.stderr.write(`${question} [y/N] `);
    const line = await this.#lines.readLine();
    return /^y(es)?$/i.test((line ?? "").trim());
  }
}
