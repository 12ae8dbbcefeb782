// Runs the project's Deno (node_modules/.bin/deno, from npm) with the given arguments.
// `deno task` puts node_modules/.bin on PATH and then treats that native `deno` binary as an
// npm script to run with Deno, which fails; deno.json's tasks therefore go through this.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await import("./ensure-deps.mjs");
const exe = join(root, "node_modules", ".bin", process.platform === "win32" ? "deno.cmd" : "deno");
const r = spawnSync(exe, process.argv.slice(2), { stdio: "inherit", cwd: process.cwd() });
if (r.error) throw r.error;
process.exit(r.status ?? 1);
