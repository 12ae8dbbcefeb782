// The side-by-side group of `npm run bench` (issue 15): python-fido2 as Debian ships it
// (python3-fido2, installed with apt-get when missing) and this library on Deno and on Bun,
// each against the same VirtualAuthenticator process served over UDP CTAPHID.
//
//   node bench/side_by_side/run.mjs [--n 200] [--json]
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const n = Number(args[args.indexOf("--n") + 1]) || 200;
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
  const r = spawnSync(cmd, argv, { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? "");
    process.stderr.write(r.stderr ?? "");
    throw new Error(`${what} failed (exit ${r.status})`);
  }
  return r.stdout;
}

/** Median wall time of `runs` process runs (after one warm-up run that fills caches). */
function coldStart(cmd, argv, runs = 5) {
  run(cmd, argv, `${cmd} ${argv.join(" ")}`);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    run(cmd, argv, `${cmd} ${argv.join(" ")}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[runs >> 1];
}

const py = pythonFido2();
if (py.skip) console.log(`\n${py.skip}\n`);
const plain = await authenticator();
const pinned = await authenticator(["--pin", "1234"]);
const ports = [String(plain.port), String(pinned.port), String(n)];
const clients = [];
try {
  if (!py.skip) {
    console.error(`side by side: python-fido2 ${py.version} (n=${n})…`);
    clients.push({
      name: `python-fido2 ${py.version}`,
      result: JSON.parse(run(PYTHON, [join(here, "client.py"), ...ports], "client.py")),
      cold: { script: coldStart(PYTHON, [join(here, "cold.py"), ports[0]]) },
    });
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
    const result = JSON.parse(run(exe, [...rt, join(here, "client.ts"), ...ports], name));
    clients.push({
      name: result.runtime + label,
      result,
      cold: {
        script: coldStart(exe, [...rt, join(here, "cold.ts"), ports[0]]),
        cli: coldStart(exe, [...rt, join(root, "cli.ts"), "info", "--udp", udp]),
      },
    });
  }
} finally {
  plain.stop();
  pinned.stop();
}

if (args.includes("--json")) {
  console.log(JSON.stringify(clients));
  process.exit(0);
}

const ROWS = [
  ["ping", "CTAPHID PING 8 B"],
  ["ctap2GetAssertion", "raw Ctap2 getAssertion"],
  ["clientGetAssertion", "Fido2Client getAssertion (1 allowed)"],
  ["makeCredential", "Fido2Client makeCredential"],
  ["makeCredentialPin", "makeCredential with PIN (token)"],
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
  const [field, title] of [
    ["ms", "### Side by side: median wall time per operation, ms (ratio to python-fido2)"],
    ["cpuMs", "### Side by side: CPU time per operation, ms (ratio to python-fido2)"],
    ["roundTrips", "### Side by side: CTAP2 round trips per operation"],
  ]
) {
  const rows = ROWS.filter(([k]) => field !== "roundTrips" || k !== "ping")
    .map(([k, label]) => [label, ...clients.map((c) => cell(c, k, field))]);
  table(title, ["operation", ...names], rows);
}
table("### Cold start: process start to first getInfo answer, ms (median of 5)", [
  "program",
  ...names,
], [
  ["minimal script (cold.py / cold.ts)", ...clients.map((c) => fmt(c.cold.script))],
  ["`fido2 info --udp` (cli.ts)", ...clients.map((c) => (c.cold.cli ? fmt(c.cold.cli) : "—"))],
]);
const err = base && ROWS.map(([k]) => base.result[k]?.error).find(Boolean);
if (err) {
  console.log(
    `\n¹ python-fido2 ${py.version}: ${err}. 0.9.1 sends each fragment's own size as ` +
      "`length` (the spec wants the total, with the first fragment only), so a conforming " +
      "authenticator checks the array's hash after the first fragment and rejects the write.",
  );
}
console.log(
  `\nAuthenticator: VirtualAuthenticator over UDP (bench/side_by_side/authenticator.ts), one ` +
    `process for every client (a second one with PIN 1234 for the PIN row). n=${n}.`,
);
