// Runs only in Bun for Windows under Wine (scripts/test-windows.mjs); the Linux runs exclude
// tests/windows/. Proves the runtime layer (ffi/runtime.ts) drives a mingw-built DLL with
// the Win64 calling convention and UTF-16 strings before the real Windows tests rely on it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  getEnv,
  LibraryLoadError,
  openLibrary,
  platform,
  readWideString,
  runtime,
  wcharSize,
  wideString,
} from "../../ffi/runtime.ts";

const SYMBOLS = {
  smoke_add: { parameters: ["i32", "i32"], result: "i32" },
  smoke_weighted: { parameters: ["i32", "i32", "i32", "i32", "i32", "i32"], result: "i64" },
  smoke_wchar_size: { parameters: [], result: "u32" },
  smoke_greeting: { parameters: [], result: "ptr" },
  smoke_wcslen: { parameters: ["buffer"], result: "i32" },
  smoke_upcase: { parameters: ["buffer", "buffer", "u32"], result: "i32" },
  smoke_missing: { parameters: [], result: "void", optional: true },
} as const;

function fixture(name: string): string {
  const dir = getEnv("FIDO2_TEST_FIXTURES");
  if (!dir) throw new Error("FIDO2_TEST_FIXTURES is not set: run scripts/test-windows.mjs");
  return `${dir}\\${name}`;
}

describe("Windows environment under Wine", () => {
  it("is Bun on win32 with 2-byte wchar_t", () => {
    assert.equal(runtime, "bun");
    assert.equal(process.platform, "win32");
    assert.equal(platform(), "win32");
    assert.equal(wcharSize(), 2);
  });
});

describe("openLibrary with a mingw-built DLL", () => {
  it("loads by absolute Windows path and calls register and stack arguments", async () => {
    const lib = await openLibrary([fixture("wine_smoke.dll")], SYMBOLS);
    try {
      assert.equal(lib.symbols.smoke_add(40, 2), 42);
      assert.equal(lib.symbols.smoke_add(-7, 3), -4);
      // Distinct weights expose any swapped or dropped stack argument.
      assert.equal(lib.symbols.smoke_weighted(1, 2, 3, 4, 5, 6), 1_000_000_654_321);
      assert.equal(lib.symbols.smoke_missing, null);
      assert.equal(lib.symbols.smoke_wchar_size(), wcharSize());
    } finally {
      lib.close();
    }
  });

  it("reads and writes UTF-16 strings, surrogate pairs included", async () => {
    const lib = await openLibrary([fixture("wine_smoke.dll")], SYMBOLS);
    try {
      const greeting = readWideString(lib.symbols.smoke_greeting(), wcharSize());
      assert.equal(greeting, "Grüße, 世界 \u{1F511}");
      const key = wideString("key \u{1F511}", wcharSize());
      assert.equal(lib.symbols.smoke_wcslen(key), 6); // the emoji is two code units
      const out = new Uint8Array(32);
      assert.equal(lib.symbols.smoke_upcase(wideString("héllo", 2), out, 16), 5);
      assert.equal(new TextDecoder("utf-16le").decode(out.subarray(0, 10)), "HéLLO");
      // A too-small buffer is truncated and still terminated.
      const small = new Uint8Array(6);
      assert.equal(lib.symbols.smoke_upcase(wideString("abcdef", 2), small, 3), 2);
      assert.deepEqual([...small], [0x41, 0, 0x42, 0, 0, 0]);
    } finally {
      lib.close();
    }
  });

  it("falls through missing candidates and reports every failure", async () => {
    const lib = await openLibrary(
      [fixture("no_such_library.dll"), fixture("wine_smoke.dll")],
      SYMBOLS,
    );
    assert.match(lib.path, /wine_smoke\.dll$/);
    lib.close();
    await assert.rejects(
      openLibrary([fixture("no_such_library.dll"), "also_missing_fido2.dll"], SYMBOLS),
      (e: unknown) =>
        e instanceof LibraryLoadError && /no_such_library\.dll/.test(e.message) &&
        /also_missing_fido2\.dll/.test(e.message),
    );
  });
});
