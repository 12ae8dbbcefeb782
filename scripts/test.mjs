// `npm test`: static checks, then the whole suite on Deno and on Bun, then the Windows
// suite under Wine when wine is installed. Prints one "N passed, N failed" line at the end.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const env = { ...process.env, NO_COLOR: "1" };
const only = process.argv.slice(2);

const steps = [
  ["fmt", [bin("deno"), "fmt", "--check"]],
  ["lint", [bin("deno"), "lint"]],
  // JSR renders docs for every export: every public symbol needs a doc comment, an explicit
  // type, and only exported types in its signature. Exits non-zero on any problem.
  [
    "doc",
    [
      bin("deno"),
      "doc",
      "--lint",
      ...[
        "mod.ts",
        "src/ctap2/mod.ts",
        "src/ctap1.ts",
        "src/hid/mod.ts",
        "src/virtual/mod.ts",
        "src/cbor.ts",
        "src/cose.ts",
        "src/webauthn.ts",
        "src/client/windows.ts",
        "src/pcsc/mod.ts",
      ],
    ],
  ],
  [
    "check",
    [
      bin("deno"),
      "check",
      ...["mod.ts", "cli.ts", "src/", "ffi/", "tests/", "examples/", "bench/"].filter((p) =>
        existsSync(join(root, p))
      ),
    ],
  ],
  // --unstable-net enables Deno.listenDatagram, so the native UDP path is tested as well.
  ["deno", [bin("deno"), "test", "-A", "--unstable-net", "--no-check", "tests/"]],
  // tests/windows/ runs only in Bun for Windows under Wine (the "windows" step); Deno skips it
  // through deno.json "test.exclude".
  [
    "bun",
    [bin("bun"), "test", "--timeout", "60000", "--path-ignore-patterns=tests/windows/**", "tests/"],
  ],
  ["windows", ["node", join(root, "scripts", "test-windows.mjs"), "--if-available"]],
];

let passed = 0;
let failed = 0;
const failures = [];
for (const [name, cmd] of steps) {
  if (only.length && !only.includes(name)) continue;
  if (cmd[0] === "node" && !existsSync(cmd[1])) continue;
  console.log(`\n=== ${name}: ${cmd.map((c) => c.replace(root + "/", "")).join(" ")}`);
  const t0 = Date.now();
  const r = spawnSync(cmd[0], cmd.slice(1), {
    cwd: root,
    env,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  process.stdout.write(out);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (name === "deno" || name === "bun" || name === "windows") {
    // Count individual tests from each runner's summary.
    const m = name === "deno"
      ? out.match(/(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/)
      : out.match(/^\s*(\d+) pass\s*$[\s\S]*?^\s*(\d+) fail\s*$/m);
    if (m) {
      // Deno counts describe() groups as tests and it() cases as steps; report both.
      const p = name === "deno" ? Number(m[1]) + Number(m[2] ?? 0) : Number(m[1]);
      const f = name === "deno" ? Number(m[3]) : Number(m[2]);
      passed += p;
      failed += f;
      console.log(`--- ${name}: ${p} passed, ${f} failed (${secs}s)`);
    }
  }
  if (r.status !== 0) {
    failures.push(name);
    if (name !== "deno" && name !== "bun" && name !== "windows") failed++;
    console.log(`--- ${name}: FAILED (exit ${r.status}, ${secs}s)`);
  } else if (name !== "deno" && name !== "bun" && name !== "windows") {
    console.log(`--- ${name}: ok (${secs}s)`);
  }
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
if (failures.length) {
  console.log(`failed steps: ${failures.join(", ")}`);
  process.exit(1);
}
