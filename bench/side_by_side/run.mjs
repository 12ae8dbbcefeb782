// The side-by-side group of `npm run bench` (issue 15): python-fido2 as Debian ships it
// (python3-fido2, installed with apt-get when missing) and this library on Deno and on Bun,
// each against the same VirtualAuthenticator process served over UDP CTAPHID.
//
//   node bench/side_by_side/run.mjs [--n 200] [--cold-runs 21] [--cold-only] [--json]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const n = Number(args[args.indexOf("--n") + 1]) || 200;
// Launches per cold-start program (medians; the goal asks for at least 20).
const coldRuns = Number(args[args.indexOf("--cold-runs") + 1]) || 21;
// Only the cold-start table (no per-operation runs): a quick check of start-up work.
const coldOnly = args.includes("--cold-only");
// Debian's interpreter, where python3-fido2 installs (FIDO2_BENCH_PYTHON overrides it).
const PYTHON = process.env.FIDO2_BENCH_PYTHON ??
  (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

/** python-fido2's version, installing python3-fido2 with apt-get when it is missing. */
function pythonFido2() {
  const probe = () =>
    spawnSync(PYTHON, ["-c", "import fido2; print(fido2.__version__)"], { encoding: "utf8" });
  let r = probe();
  if (r.status === 0) return { version: r.stdout.trim() };
  console.error("python3-fido2 is missing: apt-get install -y python3-fido2 …");
  const apt = spawnSync("apt-get", ["install", "-y", "python3-fido2"], {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  r = probe();
  if (r.status === 0) return { version: r.stdout.trim() };
  const why = apt.error?.message ?? (apt.stderr || apt.stdout || "").trim().split("\n").pop();
  return {
    skip: `python-fido2 group skipped: ${PYTHON} cannot import fido2, and ` +
      `apt-get install -y python3-fido2 did not change that (${why || `exit ${apt.status}`}). ` +
      `Install python3-fido2 (Debian: apt-get install python3-fido2; other interpreters: ` +
      `FIDO2_BENCH_PYTHON=/path/to/python3 with fido2 0.9 importable) and rerun.`,
  };
}

/** An authenticator process (Bun, else Deno); resolves with its port and a stop function. */
function authenticator(extra = []) {
  const script = join(here, "authenticator.ts");
  const cmd = spawnSync(bin("bun"), ["--version"]).status === 0
    ? [bin("bun"), [script, ...extra]]
    : [bin("deno"), ["run", "-A", script, ...extra]];
  const child = spawn(cmd[0], cmd[1], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once(
      "data",
      (d) => resolve({ port: Number(String(d).trim()), stop: () => child.stdin.end() }),
    );
  });
}

function run(cmd, argv, what) {
  const r = spawnSync(cmd, argv, {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 1 << 26,
    // A floor waiting for an answer that never comes (floor.py reads without a timeout).
    timeout: 600_000,
  });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? "");
    process.stderr.write(r.stderr ?? "");
    throw new Error(`${what} failed (exit ${r.status})`);
  }
  return r.stdout;
}

/**
 * Median wall time of each cold-start program over `runs` launches, after one warm-up launch
 * each (fills the OS and compile caches). Launches are interleaved round-robin, rotating the
 * order every round, so a load burst on this shared machine hits every program alike and the
 * ratios stay comparable within one run.
 */
function coldStarts(programs, runs) {
  for (const p of programs) run(p.cmd, p.argv, `${p.cmd} ${p.argv.join(" ")}`);
  const times = programs.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < programs.length; k++) {
      const i = (k + r) % programs.length;
      const p = programs[i];
      const t0 = performance.now();
      run(p.cmd, p.argv, `${p.cmd} ${p.argv.join(" ")}`);
      times[i].push(performance.now() - t0);
    }
  }
  for (const [i, p] of programs.entries()) {
    const t = times[i].sort((a, b) => a - b);
    p.client.cold[p.row] = t.length % 2
      ? t[t.length >> 1]
      : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  }
}

/**
 * python-fido2 0.9.1 has no command line; the equivalent of `fido2 info --udp` is this
 * `python3 -c` one-liner: open the UDP device (CTAPHID INIT), getInfo, print it.
 */
const pythonInfo = (port) =>
  `import sys; sys.path.insert(0, ${JSON.stringify(here)}); ` +
  `from fido2.ctap2 import Ctap2; from udp_connection import open_udp_device; ` +
  `dev, _ = open_udp_device("127.0.0.1", ${port}); print(dev.descriptor); print(Ctap2(dev).info)`;

/** Operations whose recorded datagrams the floor replays (see floor.ts). */
const FLOOR_OPS = ["ping", "clientGetAssertion"];
const work = mkdtempSync(join(tmpdir(), "fido2-sbs-"));

/**
 * The runtime floor of `result`'s operations: their recorded datagrams replayed to the same
 * authenticator with no library (floor.ts / floor.py), stored as `<op>Floor`, and the
 * library's own share as `<op>AboveFloor`.
 */
function floors(result, cmd, argv) {
  const ops = FLOOR_OPS.filter((k) => result[k]?.datagrams);
  if (!ops.length) return;
  const file = join(work, `floor-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(ops.map((k) => result[k].datagrams)));
  const out = JSON.parse(run(cmd, [...argv, file], `${cmd} ${argv.join(" ")}`));
  for (const [i, k] of ops.entries()) {
    result[`${k}Floor`] = out[i];
    result[`${k}AboveFloor`] = {
      ms: result[k].ms - out[i].ms,
      cpuMs: result[k].cpuMs - out[i].cpuMs,
    };
  }
}

/**
 * bench/side_by_side/floor.c built with gcc: the lowest I/O cost of an exchange on this machine
 * (its datagrams from C on a blocking socket). Undefined, with a message, when gcc cannot build it.
 */
function cFloorProgram() {
  const out = join(work, "floor");
  const r = spawnSync("gcc", ["-O2", "-Wall", "-o", out, join(here, "floor.c")], {
    encoding: "utf8",
  });
  if (r.status === 0) return out;
  console.log(
    `\nThe C floor rows are skipped: gcc cannot build bench/side_by_side/floor.c ` +
      `(${r.error?.message ?? r.stderr.trim()}). Install gcc (apt-get install gcc) and rerun.\n`,
  );
}

/**
 * The same datagrams as `floors`, replayed from C (floor.c), stored as `<op>CFloor`: what the
 * operation's I/O costs with no runtime and no library at all.
 */
function cFloors(result, program) {
  const ops = FLOOR_OPS.filter((k) => result[k]?.datagrams);
  if (!ops.length || !program) return;
  const file = join(work, `cfloor-${Math.random().toString(36).slice(2)}.txt`);
  const lines = ops.flatMap((k) => [
    "op",
    ...result[k].datagrams.flatMap((x) => [...x.send.map((h) => `s ${h}`), `r ${x.read}`]),
  ]);
  writeFileSync(file, lines.join("\n") + "\n");
  const out = JSON.parse(run(program, [ports[0], ports[2], file], "floor.c"));
  for (const [i, k] of ops.entries()) result[`${k}CFloor`] = out[i];
}

const py = pythonFido2();
if (py.skip) console.log(`\n${py.skip}\n`);
const plain = await authenticator();
const pinned = await authenticator(["--pin", "1234"]);
const ports = [String(plain.port), String(pinned.port), String(n)];
const clients = [];
const cold = [];
const cFloor = coldOnly ? undefined : cFloorProgram();
try {
  if (!py.skip) {
    console.error(`side by side: python-fido2 ${py.version} (n=${n})…`);
    const client = {
      name: `python-fido2 ${py.version}`,
      result: coldOnly
        ? { version: py.version }
        : JSON.parse(run(PYTHON, [join(here, "client.py"), ...ports], "client.py")),
      cold: {},
    };
    if (!coldOnly) {
      floors(client.result, PYTHON, [join(here, "floor.py"), ports[0], ports[2]]);
      cFloors(client.result, cFloor);
    }
    clients.push(client);
    for (
      const [row, argv] of [
        ["floor", ["-c", "pass"]],
        ["import", ["-c", "import fido2.client, fido2.ctap2, fido2.hid"]],
        ["script", [join(here, "cold.py"), ports[0]]],
        ["cli", ["-c", pythonInfo(ports[0])]],
      ]
    ) cold.push({ client, row, cmd: PYTHON, argv });
  }
  const udp = `127.0.0.1:${plain.port}`;
  for (
    const [name, rt, label] of [
      ["Deno", ["run", "-A"], ""],
      // Deno.listenDatagram instead of node:dgram.
      ["Deno", ["run", "-A", "--unstable-net"], " --unstable-net"],
      ["Bun", [], ""],
    ]
  ) {
    console.error(`side by side: ${name}${label} (n=${n})…`);
    const exe = bin(name.toLowerCase());
    const result = coldOnly
      ? { runtime: run(exe, [...rt, join(here, "noop.ts")], name).trim() }
      : JSON.parse(run(exe, [...rt, join(here, "client.ts"), ...ports], name));
    if (!coldOnly) {
      // The datagram API the library used: the native one where the runtime has it unflagged.
      const api = name === "Bun" || label ? "native" : "node:dgram";
      floors(result, exe, [...rt, join(here, "floor.ts"), ports[0], ports[2], api]);
      cFloors(result, cFloor);
    }
    const client = { name: result.runtime + label, result, cold: {} };
    clients.push(client);
    for (
      const [row, argv] of [
        ["floor", [join(here, "noop.ts")]],
        ["import", [join(here, "import.ts")]],
        ["script", [join(here, "cold.ts"), ports[0]]],
        // Any free local port: other clients of this machine may hold the simulators' 7112.
        ["cli", [join(root, "cli.ts"), "info", "--udp", udp, "--udp-local-port", "0"]],
      ]
    ) cold.push({ client, row, cmd: exe, argv: [...rt, ...argv] });
  }
  console.error(`side by side: cold start, ${cold.length} programs × ${coldRuns} launches…`);
  coldStarts(cold, coldRuns);
} finally {
  plain.stop();
  pinned.stop();
  rmSync(work, { recursive: true, force: true });
}

if (args.includes("--json")) {
  console.log(JSON.stringify(clients));
  process.exit(0);
}

const ROWS = [
  ["ping", "CTAPHID PING 8 B"],
  ["pingFloor", "  floor: its datagrams, no library²"],
  ["pingCFloor", "  the same datagrams from C³"],
  ["ctap2GetAssertion", "raw Ctap2 getAssertion"],
  ["clientGetAssertion", "Fido2Client getAssertion (1 allowed)"],
  ["clientGetAssertionFloor", "  floor: its datagrams, no library²"],
  ["clientGetAssertionCFloor", "  the same datagrams from C³"],
  ["clientGetAssertionAboveFloor", "  the library's own share (above the floor)"],
  ["makeCredential", "Fido2Client makeCredential"],
  ["makeCredentialPin", "makeCredential with PIN (token)"],
  ["clientGetAssertionPin", "getAssertion with PIN (token, uv required)"],
  ["largeBlobWrite4k", "large blobs: write 4 KB array"],
  ["largeBlobRead4k", "large blobs: read 4 KB array"],
];
const base = clients.find((c) => c.name.startsWith("python"));
const fmt = (x) => (x < 1 ? x.toFixed(3) : x.toFixed(2));
const cell = (c, key, field) => {
  const r = c.result[key];
  if (!r) return "—";
  if (r.error) return "fails¹";
  const v = r[field];
  const b = base?.result[key];
  const ratio = base && c !== base && b && !b.error ? ` (${(v / b[field]).toFixed(2)}×)` : "";
  return field === "roundTrips" ? String(v) : `${fmt(v)}${ratio}`;
};
const table = (title, header, rows) => {
  console.log(`\n${title}\n`);
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    "| " + cells.map((x, i) => i ? x.padStart(w[i]) : x.padEnd(w[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + w.map((x, i) => "-".repeat(x + 1) + (i ? ":" : "-")).join("|") + "|");
  for (const r of rows) console.log(line(r));
};
const names = clients.map((c) => c.name);
for (
  const [field, title] of coldOnly ? [] : [
    ["ms", "### Side by side: median wall time per operation, ms (ratio to python-fido2)"],
    ["cpuMs", "### Side by side: CPU time per operation, ms (ratio to python-fido2)"],
    ["roundTrips", "### Side by side: CTAP2 round trips per operation"],
  ]
) {
  // The library's share is a CPU figure: wall time above the floor is mostly noise.
  const rows = ROWS.filter(([k]) => field !== "roundTrips" || !/^ping|Floor$/.test(k))
    .filter(([k]) => field !== "ms" || !k.endsWith("CFloor"))
    .filter(([k]) => field === "cpuMs" || !k.endsWith("AboveFloor"))
    .map(([k, label]) => [label, ...clients.map((c) => cell(c, k, field))]);
  table(title, ["operation", ...names], rows);
}
const coldCell = (c, row) => {
  const v = c.cold[row];
  if (v === undefined) return "—";
  const b = base?.cold[row];
  return `${fmt(v)}${base && c !== base && b ? ` (${(v / b).toFixed(2)}×)` : ""}`;
};
table(
  `### Cold start: process start to exit, ms (median of ${coldRuns}, ratio to python-fido2)`,
  ["program", ...names],
  [
    ["runtime alone (python3 -c pass / noop.ts)", "floor"],
    ["import the library, no device (import.ts)", "import"],
    ["minimal script to getInfo (cold.py / cold.ts)", "script"],
    ["`fido2 info --udp` (python3 -c one-liner)", "cli"],
  ].map(([label, row]) => [label, ...clients.map((c) => coldCell(c, row))]),
);
const err = base && ROWS.map(([k]) => base.result[k]?.error).find(Boolean);
if (err) {
  console.log(
    `\n¹ python-fido2 ${py.version}: ${err}. 0.9.1 sends each fragment's own size as ` +
      "`length` (the spec wants the total, with the first fragment only), so a conforming " +
      "authenticator checks the array's hash after the first fragment and rejects the write.",
  );
}
console.log(
  "\n² The same datagrams the operation exchanged (recorded per client: each report sent, and " +
    "how many came back), replayed to the same authenticator by floor.ts / floor.py with nothing " +
    "but the datagram API the library used (node:dgram on plain Deno, Deno.listenDatagram with " +
    "--unstable-net, Bun.udpSocket; a blocking socket in Python): the runtime's own I/O and the " +
    "authenticator's pace, without any framing, CBOR or client logic.",
);
if (cFloor) {
  console.log(
    "\n³ The same datagrams again, replayed from C on a blocking socket (floor.c): no runtime, " +
      "no library, the least CPU any client can spend on that exchange on this machine.",
  );
}
const budget = base?.result.clientGetAssertion?.cpuMs / 10;
if (budget) {
  console.log(
    `\nGoal 2 (CPU per Fido2Client getAssertion ≤ 1/10 of python-fido2's): the budget is ` +
      `${fmt(budget)} ms. ` +
      clients.filter((c) => c !== base).map((c) => {
        const r = c.result;
        const share = (x) => x ? `${(x.cpuMs / budget * 100).toFixed(0)} %` : "—";
        return `${c.name}: ${fmt(r.clientGetAssertion.cpuMs)} ms, ` +
          `${(r.clientGetAssertion.cpuMs / budget / 10).toFixed(2)}× python's; its datagrams ` +
          `alone take ${share(r.clientGetAssertionFloor)} of the budget (from C: ` +
          `${share(r.clientGetAssertionCFloor)})`;
      }).join("; ") + ".",
  );
}
console.log(
  `\nAuthenticator: VirtualAuthenticator over UDP (bench/side_by_side/authenticator.ts), one ` +
    `process for every client (a second one with PIN 1234 for the PIN row). n=${n}.`,
);
