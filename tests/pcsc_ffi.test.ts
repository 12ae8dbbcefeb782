// ffi/pcsc.ts against tests/fixtures/fake_pcsc.c built with gcc twice: with pcsclite's 64-bit
// Linux layout (8-byte DWORD/LONG/handles) and with the macOS PCSC.framework layout (4-byte
// DWORD/handles, packed structs), both loaded through the real dlopen. The winscard.dll
// layout runs the same cases under Wine (tests/windows/pcsc.test.ts).
import { ABI } from "../ffi/pcsc.ts";
import { buildFixture } from "./helpers/build_fixture.ts";
import { definePcscFfiCases } from "./helpers/pcsc_ffi_cases.ts";

let linux = "";
let macos = "";
definePcscFfiCases("pcsclite layout", () => (linux ||= buildFixture("fake_pcsc")), ABI.pcsclite);
definePcscFfiCases(
  "macOS layout",
  () => (macos ||= buildFixture("fake_pcsc", { defines: { FAKE_ABI_MACOS: true } })),
  ABI.macos,
);
