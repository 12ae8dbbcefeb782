// The examples on Windows (Bun for Windows under Wine): `npm run demo` (examples/credential.ts)
// and the other WebAuthn-only examples go through createClient, i.e. System32's webauthn.dll
// (the fake that scripts/test-windows.mjs installs there), not through hidapi.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openWindowsExampleClient } from "../../examples/_common.ts";
import { WindowsClient } from "../../src/client/windows.ts";
import { withEnv } from "../helpers/webauthn_fixture.ts";

describe("examples on Windows", () => {
  it("the demo's client is a WindowsClient over System32's webauthn.dll", async () => {
    const none = { FIDO2_WEBAUTHN_LIB: undefined, FIDO2_WEBAUTHN_PATH: undefined };
    await withEnv(none, async () => {
      const ex = await openWindowsExampleClient();
      assert.ok(ex, "createClient found no authenticator");
      try {
        assert.ok(ex.client instanceof WindowsClient);
        assert.match(ex.label, /webauthn\.dll/);
        const api = await ex.client.api();
        assert.equal(api.path.toLowerCase(), "c:\\windows\\system32\\webauthn.dll");
        const reg = await ex.client.makeCredential({
          rp: { name: "Example" },
          user: { id: "AQID", name: "alice", displayName: "Alice" },
          challenge: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        });
        assert.equal(reg.rawId.length, 32);
      } finally {
        await ex.close();
      }
    });
  });
});
