#!/usr/bin/env -S deno run -A
/**
 * `fido2`: the command-line front end of @x/fido2 (`deno task cli`, `npm run cli`, or the
 * single binary from `npm run build:cli`). Run `fido2 --help` for commands and exit codes.
 * @module
 */
import process from "node:process";
import { main } from "./src/cli/main.ts";

const code = await main(process.argv.slice(2));
// Let buffered output reach a pipe before exiting; open sockets or stdin must not keep us.
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(code);
