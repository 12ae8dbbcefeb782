// WindowsClient in Bun for Windows under Wine (scripts/test-windows.mjs), against the fake
// webauthn.dll that mingw builds from tests/fixtures/fake_webauthn.c: the same scenarios as
// tests/windows_client.test.ts, now with the Win64 calling convention, 2-byte wchar_t and the
// `win32` code paths (window handle lookup, Worker-based cancellation, isAvailable).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { getEnv, openLibrary, platform } from "../../ffi/runtime.ts";
import { LIBRARY_ENV, loadWebAuthn } from "../../ffi/webauthn.ts";
import { defaultWindowHandle } from "../../ffi/win32.ts";
import { DefaultClientDataCollector } from "../../src/client/collector.ts";
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

  it("is false when the library cannot be loaded", async () => {
    await withEnv({ FIDO2_WEBAUTHN_LIB: "C:\\nonexistent\\webauthn.dll" }, async () => {
      assert.equal(await WindowsClient.isAvailable(), false);
    });
  });
});

// scripts/test-windows.mjs installs the fake as the prefix's System32\webauthn.dll (Wine
// ships none) and plants another copy under FIDO2_TEST_FIXTURES\planted\System32.
const SYSTEM32_DLL = "c:\\windows\\system32\\webauthn.dll";

describe("webauthn.dll comes from System32 only", () => {
  it("without FIDO2_WEBAUTHN_LIB it is System32's, found by LoadLibraryExW", async () => {
    const api = await loadWebAuthn();
    try {
      assert.equal(api.path.toLowerCase(), SYSTEM32_DLL);
      assert.equal(api.apiVersion(), 9);
    } finally {
      api.close();
    }
    assert.equal(await WindowsClient.isAvailable(), true);
  });

  it("%SystemRoot% pointing elsewhere cannot substitute another webauthn.dll", async () => {
    const planted = `${getEnv("FIDO2_TEST_FIXTURES")}\\planted`;
    await withEnv({ SystemRoot: planted, windir: planted }, async () => {
      const api = await loadWebAuthn();
      try {
        assert.equal(api.path.toLowerCase(), SYSTEM32_DLL);
      } finally {
        api.close();
      }
    });
  });
});

describe("the window handle is never NULL", () => {
  it("foreground, else console, else desktop window; an option giving 0 falls back", async () => {
    const user32 = await openLibrary(["user32.dll"], {
      GetForegroundWindow: { parameters: [], result: "ptr" },
      GetDesktopWindow: { parameters: [], result: "ptr" },
    });
    const kernel32 = await openLibrary(["kernel32.dll"], {
      GetConsoleWindow: { parameters: [], result: "ptr" },
    });
    const expected = (user32.symbols.GetForegroundWindow() as number) ||
      (kernel32.symbols.GetConsoleWindow() as number) ||
      (user32.symbols.GetDesktopWindow() as number);
    assert.notEqual(expected, 0);
    assert.equal(await defaultWindowHandle(), expected);
    const api = await loadWebAuthn({ path: fakeDll() });
    try {
      // The Windows build of the fake rejects a NULL HWND (E_INVALIDARG), as webauthn.dll does.
      const c = new WindowsClient(new DefaultClientDataCollector("https://example.com"), {
        api,
        hwnd: () => 0,
      });
      const reg = await c.makeCredential({
        rp: { name: "Example" },
        user: { id: "AQID", name: "alice", displayName: "Alice" },
        challenge: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      });
      assert.equal(reg.rawId.length, 32);
    } finally {
      api.close();
      user32.close();
      kernel32.close();
    }
  });
});

windowsClientCases(fakeDll);
