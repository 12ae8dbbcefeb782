/**
 * Compiles C test fixtures (fake native libraries) on demand, so tests exercise the FFI
 * bindings through a real dlopen without checking binaries into git. Results are cached
 * under `.cache/fixtures/` keyed by a hash of the source, compiler and flags.
 * @module
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Options for {@linkcode buildFixture}. */
export interface BuildFixtureOptions {
  /** Preprocessor macros (`-DNAME` for `true`, `-DNAME=value` otherwise). */
  readonly defines?: Readonly<Record<string, string | number | boolean>>;
  /** Compiler executable; default `gcc`, or `x86_64-w64-mingw32-gcc` for `target: "win64"`. */
  readonly compiler?: string;
  /** `"native"` builds a shared object for this machine; `"win64"` a DLL with mingw-w64. */
  readonly target?: "native" | "win64";
  /** Extra compiler arguments (appended before the output options). */
  readonly extraArgs?: readonly string[];
}

/** The repository root (two levels above this file). */
export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Raised when the compiler is absent or the fixture does not compile. */
export class FixtureBuildError extends Error {
  override name = "FixtureBuildError";
}

/**
 * Compiles `tests/fixtures/<name>.c` into a shared library and returns its absolute path.
 * A second call with the same source and options returns the cached file without compiling.
 */
export function buildFixture(name: string, opts: BuildFixtureOptions = {}): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new FixtureBuildError(`Invalid fixture name ${JSON.stringify(name)}`);
  }
  const source = join(repoRoot, "tests", "fixtures", `${name}.c`);
  if (!existsSync(source)) throw new FixtureBuildError(`No fixture source at ${source}`);
  const target = opts.target ?? "native";
  const compiler = opts.compiler ?? (target === "win64" ? "x86_64-w64-mingw32-gcc" : "gcc");
  const isMac = process.platform === "darwin";
  const ext = target === "win64" ? "dll" : isMac ? "dylib" : "so";
  const defines = Object.entries(opts.defines ?? {})
    .filter(([, v]) => v !== false)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => (v === true ? `-D${k}` : `-D${k}=${v}`));
  const args = [
    "-shared",
    ...(target === "win64" ? [] : ["-fPIC"]),
    "-O1",
    "-Wall",
    ...defines,
    ...(opts.extraArgs ?? []),
  ];
  const libs = target === "win64" ? ["-lws2_32"] : [];

  const hash = createHash("sha256")
    .update(readFileSync(source))
    .update("\0" + [compiler, target, ...args, ...libs].join("\0"))
    .digest("hex")
    .slice(0, 16);
  const outDir = join(repoRoot, ".cache", "fixtures");
  const out = join(outDir, `${name}-${hash}.${ext}`);
  if (existsSync(out)) return out;

  mkdirSync(outDir, { recursive: true });
  // Compile to a unique temporary name and rename: parallel test files may race here.
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  const r = spawnSync(compiler, [...args, "-o", tmp, source, ...libs], { encoding: "utf8" });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new FixtureBuildError(
      code === "ENOENT"
        ? `C compiler "${compiler}" not found: install it (Debian: apt-get install -y ${
          target === "win64" ? "gcc-mingw-w64-x86-64" : "gcc"
        }) to build test fixture ${name}`
        : `Could not run ${compiler}: ${r.error.message}`,
      { cause: r.error },
    );
  }
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new FixtureBuildError(
      `${compiler} failed to build fixture ${name} (exit ${r.status}):\n${r.stderr}`,
    );
  }
  renameSync(tmp, out);
  return out;
}
