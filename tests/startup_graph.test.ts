/**
 * What starting the `fido2` CLI or importing mod.ts loads, read from the sources: the static
 * import graph (type-only imports excluded; dynamic `import()` is where loading on demand
 * happens). Start-up time itself is measured in bench/side_by_side (cold-start rows), not
 * here; this guards the seams that keep it low, and that every dynamic import names its
 * module with a string literal, which `deno compile` and `bun build --compile` need to
 * bundle it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// `import … from "x"`, `export … from "x"` (possibly over several lines) and `import "x"`.
const FROM = /^(?:import|export)\s+([^;]*?)\s*from\s*"([^"]+)";/gm;
const BARE = /^import\s+"([^"]+)";/gm;

/** Whether an import clause brings in types only (so nothing is loaded at run time). */
function typeOnly(clause: string): boolean {
  if (/^type\s/.test(clause)) return true;
  const braces = /^\{([^}]*)\}$/s.exec(clause.trim());
  if (!braces) return false;
  const names = braces[1].split(",").map((n) => n.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith("type "));
}

/** Repository-relative paths and bare specifiers statically reachable from `entry`. */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    const rel = relative(root, file);
    if (seen.has(rel)) return;
    seen.add(rel);
    const text = readFileSync(file, "utf8");
    const specs = [
      ...[...text.matchAll(FROM)].filter((m) => !typeOnly(m[1])).map((m) => m[2]),
      ...[...text.matchAll(BARE)].map((m) => m[1]),
    ];
    for (const spec of specs) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else seen.add(spec);
    }
  };
  visit(join(root, entry));
  return seen;
}

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Modules of `graph` that match one of `patterns`. */
function loaded(graph: Set<string>, patterns: readonly RegExp[]): string[] {
  return [...graph].filter((m) => patterns.some((p) => p.test(m))).sort();
}

describe("start-up import graph", () => {
  it("the walker sees what cli.ts needs for every command (an oracle for the others)", () => {
    const graph = staticGraph("cli.ts");
    for (
      const m of ["src/cli/main.ts", "src/ctap2/base.ts", "src/hid/udp.ts", "@noble/hashes/sha2.js"]
    ) {
      assert.ok(graph.has(m), `${m} missing from the walked graph: the walker is broken`);
    }
  });

  it("cli.ts loads no command's library code and no optional dependency at start", () => {
    const graph = staticGraph("cli.ts");
    assert.deepEqual(
      loaded(graph, [
        /^tldts$/, // the RP ID check: register/authenticate only
        /^@noble\/curves\//, // signatures: loaded with their first use
        /^node:crypto$/, // the PIN protocols' ECDH and AES: loaded with the first key agreement
        /^node:fs/, // state, options and blob files
        /^src\/virtual\//, // --virtual only
        /^src\/client\/(?!errors\.ts$)/, // the WebAuthn client: register/authenticate only
        /^src\/webauthn\.ts$/,
        /^src\/webauthn\/(?!authdata\.ts$)/,
        /^src\/cose\.ts$/,
        /^src\/ctap2\/(bio|blob|config|credman|key_agreement)\.ts$/,
        /^ffi\/(hidapi|webauthn|win32)/, // native libraries load on first use
      ]),
      [],
    );
  });

  it("mod.ts loads the curves few keys use only when such a key verifies", () => {
    const graph = staticGraph("mod.ts");
    assert.ok(graph.has("src/cose.ts"));
    assert.deepEqual(
      loaded(graph, [/^@noble\/curves\/(ed25519|ed448|secp256k1)\.js$/, /^src\/virtual\//]),
      [],
    );
  });

  it("every dynamic import in src/, ffi/ and cli.ts names its module with a string literal", () => {
    // bun:ffi is a runtime built-in, not a file to bundle; computed so Deno does not resolve it.
    const allowed = new Set(["ffi/runtime.ts: import(spec"]);
    const offenders: string[] = [];
    for (const file of ["cli.ts", ...sources("src"), ...sources("ffi")]) {
      const text = readFileSync(join(root, file), "utf8");
      for (const m of text.matchAll(/\bimport\(\s*([^)]{0,40})/g)) {
        const at = `${file}: import(${m[1]}`;
        if (!/^["']/.test(m[1]) && !allowed.has(at)) offenders.push(at);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
