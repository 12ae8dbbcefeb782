// WindowsClient in Bun for Windows under Wine (scripts/test-windows.mjs), against the fake
// webauthn.dll that mingw builds from tests/fixtures/fake_webauthn.c: the same scenarios as
// tests/windows_client.test.ts, now with the Win64 calling convention, 2-byte wchar_t and the
// `win32` code paths (window handle lookup, Worker-based cancellation, isAvailable).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { getEnv, platform } from "../../ffi/runtime.ts";
import { LIBRARY_ENV } from "../../ffi/webauthn.ts";
import { WindowsClient } from "../../src/client/windows.ts";
import { withEnv } from "../helpers/webauthn_fixture.ts";
import { windowsClientCases } from "../helpers/windows_client_cases.ts";

// scripts/test-windows.mjs names the fake DLL in FIDO2_WEBAUTHN_LIB. Take it out of the
// environment so every test starts without a library override, as on Linux, and sets the
// variable it exercises itself.
const FAKE_DLL = getEnv("FIDO2_WEBAUTHN_LIB");
delete process.env.FIDO2_WEBAUTHN_LIB;
delete process.env.FIDO2_WEBAUTHN_PATH;

function fakeDll(): string {
  if (!FAKE_DLL) throw new Error("FIDO2_WEBAUTHN_LIB is not set: run scripts/test-windows.mjs");
  return FAKE_DLL;
}

describe("WindowsClient.isAvailable on Windows", () => {
  for (const name of LIBRARY_ENV) {
    it(`is true when ${name} names a loadable webauthn library`, async () => {
      assert.equal(platform(), "win32");
      await withEnv({ [name]: fakeDll() }, async () => {
        assert.equal(await WindowsClient.isAvailable(), true);
      });
    });
  }

  it("is false when the library cannot be loaded (Wine ships no webauthn.dll)", async () => {
    await withEnv({ FIDO2_WEBAUTHN_LIB: "C:\\nonexistent\\webauthn.dll" }, async () => {
      assert.equal(await WindowsClient.isAvailable(), false);
    });
    assert.equal(await WindowsClient.isAvailable(), false);
  });
});

windowsClientCases(fakeDll);
