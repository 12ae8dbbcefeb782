// WebAuthNGetPlatformCredentialList / FreePlatformCredentialList / DeletePlatformCredential
// (webauthn API 4+) through ffi/webauthn.ts, against the fake library's scripted list of
// platform credentials: struct versions per API, UTF-16 names, rpId filtering, freeing, and
// deletion of one credential.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  HRESULT,
  loadWebAuthn,
  STRUCT_VERSIONS,
  type WebAuthnApi,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "../ffi/webauthn.ts";
import { FormatError } from "../src/errors.ts";
import { utf8Encode } from "../src/utils.ts";
import {
  buildFakeWebAuthn,
  type FakeControls,
  type FakePlatformCredential,
  openFakeControls,
} from "./helpers/webauthn_fixture.ts";

let path = "";
let ctl: FakeControls;
const apis: WebAuthnApi[] = [];

before(async () => {
  path = buildFakeWebAuthn();
  ctl = await openFakeControls(path);
});

after(() => {
  for (const a of apis) a.close();
  ctl?.close();
});

// deno-lint-ignore no-explicit-any
type Json = any;

const bytes = (...b: number[]) => new Uint8Array(b);

const CREDS: FakePlatformCredential[] = [
  {
    id: bytes(0xa1, 0xa2, 0xa3),
    rpId: "example.com",
    rpName: "Example RP",
    userId: bytes(1, 2, 3, 4),
    userName: "alice@example.com",
    displayName: "Alice",
    removable: true,
    backedUp: true,
    transports: 0x10,
  },
  {
    id: bytes(0xb1),
    rpId: "example.com",
    rpName: "Example RP",
    userId: bytes(9),
    userName: "zoë",
    displayName: "Zoë 👩‍💻",
    authenticatorName: "Hello ✓",
    thirdPartyPayment: true,
    transports: 0x30,
  },
  {
    id: bytes(0xc1, 0xc2),
    rpId: "other.example",
    rpName: "Other",
    userId: bytes(),
    userName: "bob",
    displayName: "Bob",
    removable: true,
  },
];

/** The binding over the fake at API `v`, holding CREDS. */
async function load(v: number, creds = CREDS): Promise<WebAuthnApi> {
  ctl.reset();
  ctl.setApiVersion(v);
  for (const c of creds) ctl.addPlatformCredential(c);
  const api = await loadWebAuthn({ path });
  apis.push(api);
  return api;
}

function assertFreed() {
  const st = ctl.state();
  assert.equal(st.listsFreed, st.listsAllocated, "every list freed");
  assert.equal(st.badFrees, 0);
  assert.equal(st.live, 0);
}

describe("webauthn binding: platform credential list", () => {
  it("API 9: every CREDENTIAL_DETAILS v4 field, UTF-16 names, nested RP and user", async () => {
    const api = await load(9);
    const list = await api.getPlatformCredentialList();
    const r = ctl.lastRequest() as Json;
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(
      { fn: r.function, rpId: r.rpId, private: r.browserInPrivateMode, n: r.returned },
      { fn: "GetPlatformCredentialList", rpId: null, private: false, n: 3 },
    );
    assert.equal(list.length, 3);
    assert.deepEqual(list[0], {
      version: 4,
      credentialId: bytes(0xa1, 0xa2, 0xa3),
      rp: { id: "example.com", name: "Example RP" },
      user: { id: bytes(1, 2, 3, 4), name: "alice@example.com", displayName: "Alice" },
      removable: true,
      backedUp: true,
      authenticatorName: "Windows Hello",
      authenticatorLogo: utf8Encode("<svg/>"),
      thirdPartyPayment: false,
      transports: ["internal"],
    });
    assert.equal(list[1].user.name, "zoë");
    assert.equal(list[1].user.displayName, "Zoë 👩‍💻");
    assert.equal(list[1].authenticatorName, "Hello ✓");
    assert.equal(list[1].removable, false);
    assert.equal(list[1].thirdPartyPayment, true);
    assert.deepEqual(list[1].transports, ["internal", "hybrid"]);
    assert.deepEqual(list[2].user.id, new Uint8Array(0));
    assertFreed();
  });

  it("rpId filters (sent as a UTF-16 string), browserInPrivateMode is passed", async () => {
    const api = await load(9);
    const list = await api.getPlatformCredentialList({
      rpId: "example.com",
      browserInPrivateMode: true,
    });
    const r = ctl.lastRequest() as Json;
    assert.equal(r.rpId, "example.com");
    assert.equal(r.browserInPrivateMode, true);
    assert.deepEqual(list.map((c) => c.credentialId), [bytes(0xa1, 0xa2, 0xa3), bytes(0xb1)]);
    const other = await api.getPlatformCredentialList({ rpId: "other.example" });
    assert.deepEqual(other.map((c) => c.user.name), ["bob"]);
    assertFreed();
  });

  it("no credentials (NTE_NOT_FOUND) is an empty list, with nothing to free", async () => {
    const api = await load(9, []);
    assert.deepEqual(await api.getPlatformCredentialList(), []);
    assert.equal((ctl.lastRequest() as Json).hresult, HRESULT.NTE_NOT_FOUND);
    await load(9);
    assert.deepEqual(await api.getPlatformCredentialList({ rpId: "nobody.example" }), []);
    assert.equal(ctl.state().listsAllocated, 0);
  });

  for (const v of [4, 5, 8]) {
    it(`API ${v}: CREDENTIAL_DETAILS v${STRUCT_VERSIONS.credentialDetails[v]} only`, async () => {
      const api = await load(v);
      const [c] = await api.getPlatformCredentialList({ rpId: "example.com" });
      const sv = STRUCT_VERSIONS.credentialDetails[v];
      assert.equal(c.version, sv);
      assert.equal(c.removable, true);
      assert.equal(c.backedUp, sv >= 2 ? true : undefined);
      assert.equal(c.authenticatorName, sv >= 3 ? "Windows Hello" : undefined);
      assert.equal(c.thirdPartyPayment, sv >= 3 ? false : undefined);
      assert.equal(c.transports, undefined);
      assertFreed();
    });
  }

  it("before API 4 the functions are unsupported and never called", async () => {
    const api = await load(3);
    await assert.rejects(
      api.getPlatformCredentialList(),
      (e) => e instanceof WebAuthnUnsupportedError && e.requiredApiVersion === 4,
    );
    await assert.rejects(api.deletePlatformCredential(bytes(1)), WebAuthnUnsupportedError);
    assert.equal(ctl.lastRequest(), null);
  });

  it("a failing HRESULT is a WindowsApiError; bad input a FormatError", async () => {
    const api = await load(9);
    ctl.setNextHresult(HRESULT.NTE_INVALID_PARAMETER);
    await assert.rejects(
      api.getPlatformCredentialList(),
      (e) => e instanceof WindowsApiError && e.code === "NTE_INVALID_PARAMETER",
    );
    for (const rpId of ["", "a\0b", "\ud800"]) {
      await assert.rejects(api.getPlatformCredentialList({ rpId }), FormatError);
    }
    await assert.rejects(api.deletePlatformCredential(new Uint8Array(0)), FormatError);
    await assert.rejects(api.deletePlatformCredential("ab" as never), FormatError);
  });
});

describe("webauthn binding: DeletePlatformCredential", () => {
  it("deletes exactly the named credential", async () => {
    const api = await load(9);
    await api.deletePlatformCredential(bytes(0xb1));
    const r = ctl.lastRequest() as Json;
    assert.deepEqual(
      { fn: r.function, id: r.credentialId, hr: r.hresult },
      { fn: "DeletePlatformCredential", id: "b1", hr: 0 },
    );
    assert.equal(ctl.platformCredentialCount(), 2);
    const left = await api.getPlatformCredentialList();
    assert.deepEqual(left.map((c) => c.credentialId), [bytes(0xa1, 0xa2, 0xa3), bytes(0xc1, 0xc2)]);
  });

  it("an unknown id is NTE_NOT_FOUND and deletes nothing", async () => {
    const api = await load(9);
    await assert.rejects(
      api.deletePlatformCredential(bytes(0xa1, 0xa2)),
      (e) => e instanceof WindowsApiError && e.code === "NTE_NOT_FOUND",
    );
    assert.equal(ctl.platformCredentialCount(), 3);
  });
});
