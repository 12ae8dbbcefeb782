// `npm run test:windows`: runs tests/windows/*.test.ts in the real Windows build of Bun
// (bun.exe from @oven/bun-windows-x64) under Debian's Wine, against fixture DLLs that mingw
// builds from tests/fixtures/*.c. This exercises what a Linux run cannot: the Win64 calling
// convention, 2-byte wchar_t/UTF-16, Windows dlopen semantics and `process.platform ===
// "win32"` branches.
//
// Steps: (a) wine64 + mingw (apt-get install when root and missing), (b) bun.exe of the same
// version as node_modules/bun, cached in .cache/, (c) a quiet, GUI-less WINEPREFIX in
// .cache/wine/prefix, (d) fixture DLLs (and fixture .exe helpers) into .cache/fixtures/, the
// fake webauthn.dll installed as the prefix's System32\webauthn.dll (Wine ships none) and
// planted under fixtures/planted/System32 for the %SystemRoot% test, (e) fido2.exe and the
// user script .exe built with `bun build --compile --target=bun-windows-x64` into
// .cache/windows-exe/ (FIDO2_TEST_EXES), (f) `bun.exe test`.
//
// Where the Windows tests live: tests/windows/*.test.ts. The Linux runs skip that folder
// (deno.json "test.exclude" and `--path-ignore-patterns` in scripts/test.mjs) because those
// tests assert a Windows environment. They find the fixtures through FIDO2_TEST_FIXTURES
// (a Windows path to .cache/fixtures) and the fake webauthn.dll through FIDO2_WEBAUTHN_LIB.
//
// Which fixtures are built: every tests/fixtures/*.c holding a line
// `windows-fixture: <name>.dll [extra gcc args]` (or `windows-exe: <name>.exe [args]` for a
// helper program), plus fake_webauthn.c and fake_hidapi.c (as webauthn.dll / hidapi.dll)
// when present, since the Windows code paths need them.
//
// Bun 1.4 under Wine prints "Internal error: directory mismatch for directory ...\package.json"
// once per run; it is harmless (the tests still load and run) and comes from Bun, not us.
//
// Flags: --if-available (used by `npm test`) exits 0, saying why, when Wine cannot be
// provisioned here (not Linux x64, not root and not installed, no apt or npm access).
// FIDO2_WINE=0 skips the step. Extra arguments are passed to `bun test` instead of the
// default tests/windows/ folder.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(root, ".cache");
const args = process.argv.slice(2);
const ifAvailable = args.includes("--if-available");
const testArgs = args.filter((a) => a !== "--if-available");
const APT_PACKAGES = ["wine", "wine64", "gcc-mingw-w64-x86-64-win32"];
const MINGW = "x86_64-w64-mingw32-gcc";
const t0 = Date.now();

const secs = (since) => ((Date.now() - since) / 1000).toFixed(1) + "s";
const log = (msg) => console.log(`[windows] ${msg}`);

/** Not an error of the code under test: Wine cannot be set up on this machine. */
class Unavailable extends Error {}

function run(cmd, cmdArgs, opts = {}) {
  return spawnSync(cmd, cmdArgs, { encoding: "utf8", maxBuffer: 1 << 28, ...opts });
}

function onPath(name) {
  return run("sh", ["-c", `command -v ${name}`]).status === 0;
}

// ------------------------------------------------------------------ (a) tools

/** The 64-bit Wine loader: Debian keeps it off PATH in /usr/lib/wine (see `dpkg -L wine64`). */
function findWine() {
  for (const p of ["/usr/lib/wine/wine64", "/usr/lib64/wine/wine64", "/opt/wine/bin/wine64"]) {
    if (existsSync(p)) return { loader: p, server: join(dirname(p), "wineserver") };
  }
  if (onPath("wine64")) return { loader: "wine64", server: "wineserver" };
  return null;
}

function ensureTools() {
  let wine = findWine();
  const haveMingw = () => onPath(MINGW);
  if (wine && haveMingw()) return wine;
  const missing = APT_PACKAGES.filter((p) => run("dpkg", ["-s", p]).status !== 0);
  if (process.getuid?.() !== 0) {
    throw new Unavailable(`wine64/mingw not installed and not root (missing: ${missing})`);
  }
  if (!onPath("apt-get")) throw new Unavailable("wine64/mingw not installed and no apt-get");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env });
  const ta = Date.now();
  log(`installing ${missing.join(" ")} with apt-get`);
  let r = install();
  if (r.status !== 0) {
    // Stale or absent package lists (fresh container): refresh once and retry.
    run("apt-get", ["update", "-qq"], { env });
    r = install();
  }
  if (r.status !== 0) {
    throw new Unavailable(`apt-get install failed: ${(r.stderr || r.stdout).trim().slice(-500)}`);
  }
  log(`apt-get install took ${secs(ta)}`);
  wine = findWine();
  if (!wine || !haveMingw()) throw new Unavailable("wine64/mingw still missing after install");
  return wine;
}

// ------------------------------------------------------------------ (b) bun.exe

function bunVersion() {
  const pkg = JSON.parse(readFileSync(join(root, "node_modules", "bun", "package.json"), "utf8"));
  return pkg.version;
}

function ensureBunExe(binDir) {
  const exe = join(binDir, "bun.exe");
  if (existsSync(exe)) return exe;
  const version = bunVersion();
  const tb = Date.now();
  const dl = join(cache, "npm");
  mkdirSync(dl, { recursive: true });
  const r = run(
    "npm",
    ["pack", `@oven/bun-windows-x64@${version}`, "--pack-destination", dl, "--silent"],
    { cwd: root },
  );
  const tgz = join(dl, `oven-bun-windows-x64-${version}.tgz`);
  if (r.status !== 0 || !existsSync(tgz)) {
    throw new Unavailable(`npm pack @oven/bun-windows-x64@${version} failed: ${r.stderr.trim()}`);
  }
  const tmp = join(dl, "extract");
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const x = run("tar", ["xzf", tgz, "-C", tmp, "package/bin/bun.exe"]);
  if (x.status !== 0) throw new Error(`cannot extract bun.exe from ${tgz}: ${x.stderr}`);
  mkdirSync(binDir, { recursive: true });
  copyFileSync(join(tmp, "package", "bin", "bun.exe"), exe);
  rmSync(tmp, { recursive: true, force: true });
  rmSync(tgz, { force: true });
  log(`fetched bun.exe ${version} from npm in ${secs(tb)}`);
  return exe;
}

// ------------------------------------------------------------------ (c) prefix, (d) DLLs

/** True when `out` is missing or older than `src` or any header beside it. */
function stale(src, out) {
  if (!existsSync(out)) return true;
  const dir = dirname(src);
  const inputs = [
    src,
    ...readdirSync(dir).filter((n) => n.endsWith(".h")).map((n) => join(dir, n)),
  ];
  const built = statSync(out).mtimeMs;
  return inputs.some((p) => statSync(p).mtimeMs > built);
}

/** Compiles one C file into a Windows DLL (or .exe); returns the compiler's complaint or null. */
function buildDll(src, out, extra = []) {
  if (!stale(src, out)) return null;
  mkdirSync(dirname(out), { recursive: true });
  const r = run(MINGW, [
    ...(out.endsWith(".exe") ? [] : ["-shared"]),
    "-O2",
    "-Wall",
    "-static-libgcc",
    "-o",
    out,
    src,
    ...extra,
  ]);
  if (r.status !== 0) {
    rmSync(out, { force: true });
    return `${basename(src)}: ${(r.stderr || r.stdout).trim()}`;
  }
  return null;
}

/** Fixture sources to build for Windows, with their DLL names and extra compiler args. */
function windowsFixtures() {
  const dir = join(root, "tests", "fixtures");
  if (!existsSync(dir)) return [];
  const defaults = { "fake_webauthn.c": "webauthn.dll", "fake_hidapi.c": "hidapi.dll" };
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(".c")) continue;
    const text = readFileSync(join(dir, name), "utf8");
    const m = text.match(/windows-(?:fixture|exe):\s*(\S+\.(?:dll|exe))([^\n*]*)/);
    if (m) {
      out.push({
        src: join(dir, name),
        dll: m[1],
        extra: m[2].trim().split(/\s+/).filter(Boolean),
      });
    } else if (defaults[name]) {
      out.push({ src: join(dir, name), dll: defaults[name], extra: [] });
    }
  }
  return out;
}

function wineEnv(prefix) {
  return {
    ...process.env,
    WINEPREFIX: prefix,
    WINEARCH: "win64",
    WINEDEBUG: "-all",
    // No desktop menu entries, no Mono/Gecko install prompts, no display needed.
    WINEDLLOVERRIDES: "winemenubuilder.exe=d;mscoree=d;mshtml=d",
    DISPLAY: "",
    WAYLAND_DISPLAY: "",
  };
}

function ensurePrefix(wine, prefix) {
  if (existsSync(join(prefix, "system.reg"))) return;
  const tp = Date.now();
  mkdirSync(prefix, { recursive: true });
  const r = run(wine.loader, ["wineboot", "-i"], {
    env: wineEnv(prefix),
    timeout: 300_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Let wineboot's background work finish before anything else uses the prefix.
  run(wine.server, ["-w"], { env: wineEnv(prefix), timeout: 120_000 });
  if (!existsSync(join(prefix, "system.reg"))) {
    rmSync(prefix, { recursive: true, force: true });
    throw new Error(`wineboot -i failed (exit ${r.status}): ${(r.stderr ?? "").slice(-1000)}`);
  }
  log(`created WINEPREFIX in ${secs(tp)}`);
}

/** Copies `src` to `dest` when the content differs; returns whether it copied. */
function install(src, dest) {
  if (existsSync(dest) && readFileSync(dest).equals(readFileSync(src))) return false;
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(src, dest);
  return true;
}

/**
 * fido2.exe and the user script as single Windows binaries, next to the ProcessPrng shim
 * (Wine 8 lacks bcryptprimitives!ProcessPrng, which Bun for Windows imports).
 */
function buildExes(exeDir, shim) {
  const bun = join(root, "node_modules", ".bin", "bun");
  mkdirSync(exeDir, { recursive: true });
  install(shim, join(exeDir, "bcryptprimitives.dll"));
  const te = Date.now();
  for (
    const [entry, name] of [
      ["cli.ts", "fido2.exe"],
      ["tests/fixtures/windows_user_script.ts", "user-script.exe"],
    ]
  ) {
    const r = run(bun, [
      "build",
      "--compile",
      "--target=bun-windows-x64",
      join(root, entry),
      "--outfile",
      join(exeDir, name),
    ], { cwd: root, timeout: 300_000 });
    if (r.status !== 0) {
      throw new Error(`bun build --compile ${entry} for Windows failed: ${r.stderr || r.stdout}`);
    }
  }
  log(`built fido2.exe and user-script.exe in ${secs(te)}`);
}

/** Unix path as Wine's Z: drive sees it. */
function winPath(p) {
  return "Z:" + p.replaceAll("/", "\\");
}

// ------------------------------------------------------------------ main

function main() {
  if (process.env.FIDO2_WINE === "0") throw new Unavailable("FIDO2_WINE=0");
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Unavailable(`needs Linux x64 for Wine, this is ${process.platform} ${process.arch}`);
  }
  const wine = ensureTools();
  const wineDir = join(cache, "wine");
  const binDir = join(wineDir, "bin");
  const prefix = join(wineDir, "prefix");
  const bunExe = ensureBunExe(binDir);

  const errors = [];
  const shim = buildDll(
    join(root, "scripts", "wine", "bcryptprimitives.c"),
    join(binDir, "bcryptprimitives.dll"),
    ["-ladvapi32"],
  );
  if (shim) throw new Error(`cannot build the ProcessPrng shim: ${shim}`);
  const fixtureDir = join(cache, "fixtures");
  const fixtures = windowsFixtures();
  for (const f of fixtures) {
    const err = buildDll(f.src, join(fixtureDir, f.dll), f.extra);
    if (err) errors.push(err);
  }
  if (errors.length) {
    console.error(`[windows] fixture build failed:\n${errors.join("\n")}`);
    return 1;
  }
  log(`fixtures: ${fixtures.map((f) => f.dll).join(", ") || "none"}`);
  ensurePrefix(wine, prefix);
  const webauthn = join(fixtureDir, "webauthn.dll");
  if (existsSync(webauthn)) {
    // The system's webauthn.dll, as Windows 10 1903+ has one, and a planted copy that a
    // %SystemRoot%-based lookup would take instead.
    install(webauthn, join(prefix, "drive_c", "windows", "system32", "webauthn.dll"));
    install(webauthn, join(fixtureDir, "planted", "System32", "webauthn.dll"));
  }
  const exeDir = join(cache, "windows-exe");
  buildExes(exeDir, join(binDir, "bcryptprimitives.dll"));
  log(`setup done in ${secs(t0)}`);

  const env = {
    ...wineEnv(prefix),
    FIDO2_TEST_FIXTURES: winPath(fixtureDir),
    FIDO2_TEST_EXES: winPath(exeDir),
    NO_COLOR: "1",
  };
  if (existsSync(webauthn)) env.FIDO2_WEBAUTHN_LIB = winPath(webauthn);
  const tt = Date.now();
  const r = run(
    wine.loader,
    [bunExe, "test", "--timeout", "120000", ...(testArgs.length ? testArgs : ["tests/windows/"])],
    { cwd: root, env, timeout: 900_000, stdio: ["ignore", "pipe", "pipe"] },
  );
  // Bun prints its report on stderr; keep both streams so the summary lines reach npm test.
  process.stdout.write((r.stdout ?? "").replaceAll("\r\n", "\n"));
  process.stdout.write((r.stderr ?? "").replaceAll("\r\n", "\n"));
  if (r.error) console.error(`[windows] bun.exe did not finish: ${r.error.message}`);
  log(`bun.exe test took ${secs(tt)}; windows step total ${secs(t0)}`);
  return r.status === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (e) {
  if (e instanceof Unavailable && ifAvailable) {
    log(`skipped: ${e.message}`);
    process.exitCode = 0;
  } else {
    console.error(`[windows] ${e instanceof Unavailable ? "unavailable" : "error"}: ${e.message}`);
    process.exitCode = 1;
  }
}
