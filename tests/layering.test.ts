/**
 * The layering rule as a test: transports (src/hid/, src/pcsc/), native bindings (ffi/) and
 * the CTAP protocol modules (src/ctap.ts, src/ctap1.ts, src/ctap2/) never import the virtual
 * authenticator (src/virtual/), the client (src/client/) or the CLI (src/cli/). The front ends
 * serve the `CtapProcessor` contract from src/ctap.ts instead.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Directories and files that form the lower layers. */
const LOWER = ["src/hid", "src/pcsc", "ffi", "src/ctap2", "src/ctap.ts", "src/ctap1.ts"];
/** What the lower layers must not reach. */
const UPPER = ["src/virtual/", "src/client/", "src/cli/"];

/** Every module specifier in `source`: static imports/exports and dynamic `import("…")`. */
function importSpecifiers(source: string): string[] {
  const re = /\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g;
  return [...source.matchAll(re)].map((m) => m[1]);
}

/** The forbidden imports of the file at `path` (repository-relative), as "file -> target". */
function violations(path: string, source: string): string[] {
  const bad: string[] = [];
  for (const spec of importSpecifiers(source)) {
    if (!spec.startsWith(".")) continue;
    const target = relative(ROOT, resolve(ROOT, dirname(path), spec)).replaceAll("\\", "/");
    if (UPPER.some((u) => target.startsWith(u))) bad.push(`${path} -> ${target}`);
  }
  return bad;
}

function tsFiles(rel: string): string[] {
  const abs = join(ROOT, rel);
  if (!existsSync(abs)) return [];
  if (statSync(abs).isFile()) return rel.endsWith(".ts") ? [rel] : [];
  return readdirSync(abs).sort().flatMap((name) => tsFiles(`${rel}/${name}`));
}

describe("layering", () => {
  it("the checker sees static, type-only, re-export and dynamic imports", () => {
    const src = [
      `import { a } from "../virtual/types.ts";`,
      `import type { B } from '../client/fido2.ts';`,
      `export { c } from "../cli/main.ts";`,
      `const m = await import("../virtual/mod.ts");`,
      `import "../client/side_effect.ts";`,
      `import { ok } from "../ctap.ts";`,
      `import dgram from "node:dgram";`,
    ].join("\n");
    assert.deepEqual(violations("src/hid/x.ts", src), [
      "src/hid/x.ts -> src/virtual/types.ts",
      "src/hid/x.ts -> src/client/fido2.ts",
      "src/hid/x.ts -> src/cli/main.ts",
      "src/hid/x.ts -> src/virtual/mod.ts",
      "src/hid/x.ts -> src/client/side_effect.ts",
    ]);
  });

  it("transports, ffi/ and the CTAP modules import no upper layer", () => {
    const files = LOWER.flatMap(tsFiles);
    // The rule must actually look at the transport and protocol files.
    for (const f of ["src/hid/udp.ts", "src/hid/server.ts", "src/ctap.ts", "ffi/hidapi.ts"]) {
      assert.ok(files.includes(f), `${f} not scanned`);
    }
    const bad = files.flatMap((f) => violations(f, readFileSync(join(ROOT, f), "utf8")));
    assert.deepEqual(bad, []);
  });
});
