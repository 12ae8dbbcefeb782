// WindowsClient in Bun for Windows under Wine (scripts/test-windows.mjs), against the fake
// webauthn.dll that mingw builds from tests/fixtures/fake_webauthn.c: the same scenarios as
// tests/windows_client.test.ts, now with the Win64 calling convention, 2-byte wchar_t and the
// `win32` code paths (window handle lookup, Worker-based cancellation, isAvailable).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { getEnv, platform } from "../../ffi/runtime.ts";
import { WindowsClient } from "../../src/client/windows.ts";
import { windowsClientCases } from "../helpers/windows_client_cases.ts";

function fakeDll(): string {
  const p = getEnv("FIDO2_WEBAUTHN_LIB");
  if (!p) throw new Error("FIDO2_WEBAUTHN_LIB is not set: run scripts/test-windows.mjs");
  return p;
}

describe("WindowsClient.isAvailable on Windows", () => {
  it("is true when FIDO2_WEBAUTHN_PATH names a loadable webauthn library", async () => {
    assert.equal(platform(), "win32");
    process.env.FIDO2_WEBAUTHN_PATH = fakeDll();
    try {
      assert.equal(await WindowsClient.isAvailable(), true);
    } finally {
      delete process.env.FIDO2_WEBAUTHN_PATH;
    }
  });

  it("is false when the library cannot be loaded (Wine ships no webauthn.dll)", async () => {
    process.env.FIDO2_WEBAUTHN_PATH = "C:\\nonexistent\\webauthn.dll";
    try {
      assert.equal(await WindowsClient.isAvailable(), false);
    } finally {
      delete process.env.FIDO2_WEBAUTHN_PATH;
    }
  });
});

windowsClientCases(fakeDll);
