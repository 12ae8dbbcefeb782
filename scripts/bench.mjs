// `npm run bench`: runs bench/*.bench.ts under `deno bench` and under Bun (through the loop
// harness in bench/_harness.ts) and prints one Markdown table per runtime, then both side by side.
// Then groups of their own: `transport` (bench/transport.ts: CTAPHID overhead per packet
// over each runtime's own round trip), `wiretime` (bench/wire_time/client.ts: a 4 KB
// large-blob array read and written through the fake libhidapi at USB full-speed pacing,
// against the wire time) and `sidebyside` (bench/side_by_side/run.mjs: python-fido2 as Debian
// ships it, Deno and Bun against one UDP authenticator process).
//
//   node scripts/bench.mjs [--runtime deno|bun] [cbor|crypto|pin|transport|wiretime|sidebyside ...]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

const args = process.argv.slice(2);
let runtimes = ["deno", "bun"];
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runtime") runtimes = [args[++i]];
  else if (args[i] === "--help" || args[i] === "-h") {
    console.log(
      "usage: node scripts/bench.mjs [--runtime deno|bun] " +
        "[cbor|crypto|pin|transport|wiretime|sidebyside ...]",
    );
    process.exit(0);
  } else names.push(args[i].replace(/^bench\//, "").replace(/\.bench\.ts$/, ""));
}
const GROUPS = ["transport", "wiretime", "sidebyside"];
const groups = GROUPS.filter((g) => !names.length || names.includes(g));
const files = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !names.length || names.includes(f.replace(/\.bench\.ts$/, "")))
  .sort()
  .map((f) => `bench/${f}`);
if (!files.length && !groups.length) throw new Error(`no bench files match ${names.join(", ")}`);

const env = { ...process.env, NO_COLOR: "1" };

function fail(what, r) {
  process.stdout.write(r.stdout ?? "");
  process.stderr.write(r.stderr ?? "");
  throw new Error(`${what} failed (exit ${r.status})`);
}

/** deno bench --json: one result per case, times in ns. */
function runDeno() {
  const r = spawnSync(bin("deno"), [
    "bench",
    "-A",
    "--unstable-net",
    "--no-check",
    "--json",
    ...files,
  ], {
    cwd: root,
    env,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) fail("deno bench", r);
  const report = JSON.parse(r.stdout);
  return {
    runtime: report.runtime,
    results: report.benches.map((b) => {
      const ok = b.results[0]?.ok;
      if (!ok) throw new Error(`deno bench: ${b.name} failed: ${JSON.stringify(b.results[0])}`);
      return {
        file: b.origin.replace(/^.*\/bench\//, "bench/"),
        group: b.group ?? "",
        name: b.name,
        baseline: b.baseline,
        avgNs: ok.avg,
        p75Ns: ok.p75,
      };
    }),
  };
}

/** Bun: each file on its own, the harness prints BENCH_RESULT lines. */
function runBun() {
  const results = [];
  let version = "";
  for (const file of files) {
    const r = spawnSync(bin("bun"), [file], {
      cwd: root,
      env: { ...env, BENCH_JSON: "1" },
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    if (r.status !== 0) fail(`bun ${file}`, r);
    for (const m of r.stdout.matchAll(/^BENCH_RESULT (\{.*\})$/gm)) {
      const x = JSON.parse(m[1]);
      results.push({ file, group: x.group ?? "", name: x.name, baseline: x.baseline, ...x });
    }
  }
  const v = spawnSync(bin("bun"), ["--version"], { encoding: "utf8" });
  version = `Bun/${v.stdout.trim()}`;
  return { runtime: version, results };
}

function fmtTime(ns) {
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}
const fmtOps = (ns) => Math.round(1e9 / ns).toLocaleString("en-US");

function printTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    "| " + cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(
      " | ",
    ) + " |";
  console.log(line(header));
  console.log("|" + widths.map((w, i) => "-".repeat(w + 1) + (i < 2 ? "-" : ":")).join("|") + "|");
  for (const r of rows) console.log(line(r));
}

/** Cases of one group together, groups in order of first appearance (as deno bench shows). */
function byGroup(results) {
  const order = [...new Set(results.map((r) => r.group))];
  return order.flatMap((g) => results.filter((r) => r.group === g));
}

const runs = [];
for (const name of files.length ? runtimes : []) {
  console.error(`running ${files.join(" ")} on ${name}…`);
  const run = name === "deno" ? runDeno() : runBun();
  runs.push({ ...run, results: byGroup(run.results) });
}

for (const { runtime, results } of runs) {
  console.log(`\n### ${runtime}\n`);
  const rows = [];
  for (const r of results) {
    const base = results.find((b) => b.group === r.group && b.baseline) ??
      results.find((b) => b.group === r.group);
    const ratio = base === r || !r.group ? "" : `${(r.avgNs / base.avgNs).toFixed(2)}×`;
    rows.push([r.group, r.name, fmtTime(r.avgNs), fmtOps(r.avgNs), ratio]);
  }
  printTable(["group", "case", "time/op", "ops/s", "vs baseline"], rows);
}

if (runs.length > 1) {
  console.log(`\n### side by side (mean time/op)\n`);
  const keys = [];
  const seen = new Set();
  for (const { results } of runs) {
    for (const r of results) {
      const k = `${r.group}\u0000${r.name}`;
      if (!seen.has(k)) {
        seen.add(k);
        keys.push([r.group, r.name, k]);
      }
    }
  }
  const rows = keys.map(([group, name, k]) => [
    group,
    name,
    ...runs.map(({ results }) => {
      const r = results.find((x) => `${x.group}\u0000${x.name}` === k);
      return r ? fmtTime(r.avgNs) : "—";
    }),
  ]);
  printTable(["group", "case", ...runs.map((r) => r.runtime.split(" ")[0])], rows);
}
if (groups.includes("transport")) {
  const rows = [];
  for (const name of runtimes) {
    console.error(`running bench/transport.ts on ${name}…`);
    const cmd = name === "deno"
      ? [bin("deno"), ["run", "-A", "--unstable-net", "bench/transport.ts"]]
      : [bin("bun"), ["bench/transport.ts"]];
    const r = spawnSync(cmd[0], cmd[1], {
      cwd: root,
      env: { ...env, BENCH_JSON: "1" },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) fail(`${name} bench/transport.ts`, r);
    for (const m of r.stdout.matchAll(/^TRANSPORT (\{.*\})$/gm)) rows.push(JSON.parse(m[1]));
  }
  const us = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} µs` : "—");
  console.log(
    "\n### CTAPHID transport: our stack over the runtime's own round trip " +
      "(median of paired batches; PING 8 B = one 64-byte report each way)\n",
  );
  printTable(
    ["group", "runtime · floor", "floor", "stack", "overhead"],
    rows.map((r) => [
      r.group,
      `${r.runtime} · ${r.floor}`,
      us(r.floorUs),
      us(r.stackUs),
      us(r.overheadUs),
    ]),
  );
}

if (groups.includes("wiretime")) {
  const rows = [];
  for (const name of runtimes) {
    console.error(`running bench/wire_time/client.ts on ${name}…`);
    const cmd = name === "deno"
      ? [bin("deno"), ["run", "-A", "bench/wire_time/client.ts"]]
      : [bin("bun"), ["bench/wire_time/client.ts"]];
    const r = spawnSync(cmd[0], cmd[1], {
      cwd: root,
      env: { ...env, BENCH_JSON: "1" },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) fail(`${name} bench/wire_time/client.ts`, r);
    for (const m of r.stdout.matchAll(/^WIRETIME (\{.*\})$/gm)) rows.push(JSON.parse(m[1]));
  }
  const num = (x, d = 0) => (x === null ? "—" : x.toFixed(d));
  const of = (x, min) => (min === null ? `${x}` : `${x} / ${min}`);
  console.log(
    "\n### Large-blob wire time: 4 KB array through the fake libhidapi at USB full-speed " +
      `pacing (${process.env.WIRE_FRAME_US ?? 1000} µs frames, one 64-byte report per frame ` +
      "each way; medians)\n",
  );
  printTable(
    [
      "operation",
      "runtime",
      "reports out (min)",
      "reports in (min)",
      "frames (min)",
      "span",
      "wire ms",
      "auth ms",
      "measured ms",
      "unpaced ms",
      "(measured − auth) / wire",
      "client OUT→OUT µs (max)",
      "client IN→OUT µs (max)",
      "authenticator reply µs (max)",
    ],
    rows.map((r) => [
      r.op,
      r.runtime,
      of(r.reportsOut, r.minReportsOut),
      of(r.reportsIn, r.minReportsIn),
      of(r.frames, r.minFrames),
      num(r.spanFrames),
      num(r.wireMs, 1),
      num(r.authMs, 2),
      num(r.measuredMs, 2),
      num(r.unpacedMs, 2),
      num(r.ratio, 3),
      ...[r.outOut, r.inOut, r.reply].map((l) =>
        l === null ? "—" : `${num(l.meanUs)} (${num(l.maxUs)})`
      ),
    ]),
  );
}

if (groups.includes("sidebyside")) {
  console.error("running bench/side_by_side/run.mjs…");
  const r = spawnSync(process.execPath, [join(root, "bench", "side_by_side", "run.mjs")], {
    cwd: root,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) fail("bench/side_by_side/run.mjs", r);
  process.stdout.write(r.stdout);
}
console.log(`\nrerun: npm run bench${names.length ? " -- " + names.join(" ") : ""}`);
