// ffi/pcsc.ts under Bun for Windows (Wine) against the mingw-built stand-in winscard.dll
// (tests/fixtures/fake_pcsc.c): 4-byte DWORD/LONG, pointer-sized handles, the …W entry points
// with UTF-16 reader names, the 64-byte SCARD_READERSTATEW and 8-byte SCARD_IO_REQUEST. Wine's
// own winscard.dll is only stubs, so the stand-in is named fake_winscard.dll and loaded by path.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { getEnv, platform } from "../../ffi/runtime.ts";
import { ABI, abiFor, defaultLibraryCandidates } from "../../ffi/pcsc.ts";
import {
  definePcscFfiCases,
  expectedHeaderLayout,
  headerLayout,
} from "../helpers/pcsc_ffi_cases.ts";

function fakeDll(): string {
  const dir = getEnv("FIDO2_TEST_FIXTURES");
  if (!dir) throw new Error("FIDO2_TEST_FIXTURES is not set: run scripts/test-windows.mjs");
  return `${dir}\\fake_winscard.dll`;
}

describe("PC/SC on Windows", () => {
  it("picks the winscard.dll ABI and library by default", () => {
    assert.equal(platform(), "win32");
    assert.equal(abiFor(), ABI.windows);
    assert.deepEqual(defaultLibraryCandidates(), ["winscard.dll"]);
  });

  it("the ABI table matches the Windows SDK layout (mingw-w64's winscard.h)", async () => {
    const dir = getEnv("FIDO2_TEST_FIXTURES")!;
    assert.equal(await headerLayout(`${dir}\\pcsc_layout.dll`), expectedHeaderLayout(ABI.windows));
  });
});

definePcscFfiCases("winscard.dll layout (Wine)", fakeDll, ABI.windows);
