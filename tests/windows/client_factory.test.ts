// createClient in Bun for Windows under Wine (scripts/test-windows.mjs): the real `win32`
// platform check, shell32's IsUserAnAdmin, and the webauthn.dll branch against the fake DLL
// that mingw builds from tests/fixtures/fake_webauthn.c.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { getEnv, platform } from "../../ffi/runtime.ts";
import { isElevated } from "../../ffi/win32.ts";
import { createClient } from "../../src/client/factory.ts";
import { Fido2Client } from "../../src/client/fido2.ts";
import { WindowsClient } from "../../src/client/windows.ts";
import { DefaultClientDataCollector } from "../../src/client/collector.ts";
import type { CtapDevice } from "../../src/ctap.ts";
import { VirtualAuthenticator } from "../../src/virtual/mod.ts";
import { PublicKeyCredentialCreationOptions } from "../../src/webauthn.ts";
import { withEnv } from "../helpers/webauthn_fixture.ts";

const collector = new DefaultClientDataCollector("https://example.com");

/** The fake webauthn.dll (through FIDO2_TEST_FIXTURES, which no other test file changes). */
function fakeDll(): string {
  const dir = getEnv("FIDO2_TEST_FIXTURES");
  if (!dir) throw new Error("FIDO2_TEST_FIXTURES is not set: run scripts/test-windows.mjs");
  return `${dir}\\webauthn.dll`;
}

const lib = () => ({ FIDO2_WEBAUTHN_LIB: fakeDll(), FIDO2_WEBAUTHN_PATH: undefined });

function creation(): PublicKeyCredentialCreationOptions {
  return new PublicKeyCredentialCreationOptions({
    rp: { name: "Example RP" },
    user: { id: new Uint8Array([1, 2, 3]), name: "alice", displayName: "Alice" },
    challenge: new Uint8Array(32).fill(9),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  });
}

async function* oneVirtualKey(): AsyncIterable<CtapDevice> {
  yield await new VirtualAuthenticator({}).device();
}

describe("createClient on Windows", () => {
  it("isElevated() asks shell32 IsUserAnAdmin and answers a boolean", async () => {
    assert.equal(platform(), "win32");
    const elevated = await isElevated();
    assert.equal(typeof elevated, "boolean");
    console.log(`[windows] IsUserAnAdmin under Wine: ${elevated}`);
  });

  it("webauthn.dll available: a WindowsClient that works, listing no devices", async () => {
    await withEnv(lib(), async () => {
      const client = await createClient(collector, {
        listDevices: () => {
          throw new Error("listDevices must not be called");
        },
      });
      try {
        assert.ok(client instanceof WindowsClient);
        const reg = await client.makeCredential(creation());
        assert.equal(reg.rawId.length, 32);
        assert.equal((await client.api()).path, fakeDll());
      } finally {
        await client.close();
      }
    });
  });

  it("an elevated process (Wine runs as admin) still gets webauthn.dll", async () => {
    assert.equal(await isElevated(), true, "this test needs an elevated process");
    await withEnv(lib(), async () => {
      const client = await createClient(collector, {
        listDevices: () => {
          throw new Error("an admin without hidapi.dll or a key must still get WindowsClient");
        },
      });
      try {
        assert.ok(client instanceof WindowsClient);
        await client.makeCredential(creation());
      } finally {
        await client.close();
      }
    });
  });

  it("preferWindows: false gives raw CTAP (Fido2Client) over the first device", async () => {
    await withEnv(lib(), async () => {
      const client = await createClient(collector, {
        preferWindows: false,
        listDevices: oneVirtualKey,
      });
      assert.ok(client instanceof Fido2Client);
      await client.makeCredential(creation());
      await client.close();
    });
  });

  it("without a loadable webauthn library: Fido2Client over the first device", async () => {
    const none = { FIDO2_WEBAUTHN_LIB: "C:\\nonexistent\\webauthn.dll" };
    await withEnv(none, async () => {
      const client = await createClient(collector, { listDevices: oneVirtualKey });
      assert.ok(client instanceof Fido2Client);
      await client.makeCredential(creation());
      await client.close();
    });
  });
});
