// ffi/pcsc.ts against tests/fixtures/fake_pcsc.c built with gcc twice: with pcsclite's 64-bit
// Linux layout (8-byte DWORD/LONG/handles) and with the macOS PCSC.framework layout (4-byte
// DWORD/handles, packed structs), both loaded through the real dlopen. The winscard.dll
// layout runs the same cases under Wine (tests/windows/pcsc.test.ts).
import { ABI } from "../ffi/pcsc.ts";
import { buildFixture } from "./helpers/build_fixture.ts";
import {
  definePcscFfiCases,
  expectedHeaderLayout,
  headerLayout,
} from "./helpers/pcsc_ffi_cases.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";

let linux = "";
let macos = "";
definePcscFfiCases("pcsclite layout", () => (linux ||= buildFixture("fake_pcsc")), ABI.pcsclite);
definePcscFfiCases(
  "macOS layout",
  () => (macos ||= buildFixture("fake_pcsc", { defines: { FAKE_ABI_MACOS: true } })),
  ABI.macos,
);

describe("the pcsclite ABI table against pcsc-lite's own headers", () => {
  it("struct sizes and offsets, error codes and constants match <PCSC/winscard.h>", async () => {
    const path = buildFixture("pcsc_layout", { extraArgs: ["-I/usr/include/PCSC"] });
    assert.equal(await headerLayout(path), expectedHeaderLayout(ABI.pcsclite));
  });
});
