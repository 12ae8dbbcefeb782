// `npm run fuzz`: the long fuzz run. Runs tests/fuzz/ on Deno and on Bun with many more inputs
// than CI (FUZZ_RUNS=200000 by default) and a fresh random seed, then prints inputs/second per
// target and runtime. A failure prints the seed; rerun it with `--seed N` (or FUZZ_SEED=N npm test).
//
//   node scripts/fuzz.mjs [--runs N] [--seed N] [--runtime deno|bun] [file-or-dir ...]
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

const args = process.argv.slice(2);
let runs = Number(process.env.FUZZ_RUNS ?? 200000);
let seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(1, 2 ** 31);
let runtimes = ["deno", "bun"];
const paths = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--runs") runs = Number(args[++i]);
  else if (a === "--seed") seed = Number(args[++i]);
  else if (a === "--runtime") runtimes = [args[++i]];
  else if (a === "--help" || a === "-h") {
    console.log("usage: node scripts/fuzz.mjs [--runs N] [--seed N] [--runtime deno|bun] [paths]");
    process.exit(0);
  } else paths.push(a);
}
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`bad --runs ${runs}`);
if (!Number.isSafeInteger(seed)) throw new Error(`bad --seed ${seed}`);
if (!paths.length) paths.push("tests/fuzz/");

const commands = {
  deno: [bin("deno"), "test", "-A", "--no-check", ...paths],
  // Bun's per-test timeout would cut long targets short; a day is "no timeout".
  bun: [bin("bun"), "test", "--timeout", "86400000", ...paths],
};

function run(name) {
  return new Promise((resolve) => {
    const [cmd, ...rest] = commands[name];
    const child = spawn(cmd, rest, {
      cwd: root,
      env: {
        ...process.env,
        NO_COLOR: "1",
        FUZZ_RUNS: String(runs),
        FUZZ_SEED: String(seed),
        FUZZ_REPORT: "1",
        // Generous per-input budget: long runs share the machine with the other runtime's
        // compilation and with GC pauses; a real hang still trips it.
        FUZZ_HANG_MS: process.env.FUZZ_HANG_MS ?? "10000",
      },
    });
    const stats = [];
    let out = "";
    let pending = "";
    const onData = (chunk) => {
      const text = chunk.toString();
      out += text;
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        const m = line.match(/FUZZ_STATS (\{.*\})/);
        if (!m) continue;
        const s = JSON.parse(m[1]);
        stats.push(s);
        console.log(`  [${name}] ${s.target}: ${s.runs} inputs in ${(s.ms / 1000).toFixed(1)} s`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => resolve({ name, code, stats, out }));
  });
}

function table(title, rows) {
  const header = ["target", "inputs", "seconds", "inputs/s"];
  const body = rows.map((s) => [
    s.target,
    String(s.runs),
    (s.ms / 1000).toFixed(2),
    Math.round(s.runs / (s.ms / 1000)).toLocaleString("en-US"),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(
      " | ",
    ) + " |";
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(
    "|" +
      widths.map((w, i) => "-".repeat(w + 1) + (i ? ":" : "-")).join("|") +
      "|",
  );
  for (const r of body) console.log(line(r));
}

console.log(`fuzz: FUZZ_RUNS=${runs} FUZZ_SEED=${seed} on ${runtimes.join(", ")}`);
const results = [];
for (const name of runtimes) {
  console.log(`\n=== ${name}: ${commands[name].map((c) => c.replace(root + "/", "")).join(" ")}`);
  const r = await run(name);
  results.push(r);
  if (r.code !== 0) process.stdout.write(r.out);
}
for (const r of results) {
  table(`${r.name} (FUZZ_RUNS=${runs}, seed ${seed})`, r.stats);
  const total = r.stats.reduce((n, s) => n + s.runs, 0);
  console.log(
    `${r.name}: ${r.code === 0 ? "ok" : "FAILED"}, ${total.toLocaleString("en-US")} inputs`,
  );
}
const failed = results.filter((r) => r.code !== 0);
if (failed.length) {
  console.log(`\nfailed on ${failed.map((r) => r.name).join(", ")}; reproduce with --seed ${seed}`);
  process.exit(1);
}
