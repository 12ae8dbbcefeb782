// The webauthn.dll binding (ffi/webauthn.ts) driven against tests/fixtures/fake_webauthn.c: the
// fake validates every struct field it receives and records it as JSON, so these tests check
// the marshalling end to end on the x64 layouts, for each webauthn API version.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { execFileSync } from "node:child_process";
import {
  HRESULT,
  LIBRARY_ENV,
  LibraryLoadError,
  loadWebAuthn,
  type MakeCredentialOptions,
  STRUCT_VERSIONS,
  type WebAuthnApi,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "../ffi/webauthn.ts";
import { platform, runtime } from "../ffi/runtime.ts";
import { FormatError } from "../src/errors.ts";
import { decode } from "../src/cbor.ts";
import { concat, sha256, toHex, utf8Encode } from "../src/utils.ts";
import {
  buildFakeWebAuthn,
  type FakeControls,
  openFakeControls,
  withEnv,
} from "./helpers/webauthn_fixture.ts";

let path = "";
let ctl: FakeControls;

before(async () => {
  path = buildFakeWebAuthn();
  ctl = await openFakeControls(path);
});

after(() => ctl?.close());

// deno-lint-ignore no-explicit-any
type Json = any;

/** Loads the binding against the fake reporting API version `v`. */
async function load(v: number): Promise<WebAuthnApi> {
  ctl.reset();
  ctl.setApiVersion(v);
  return await loadWebAuthn({ path });
}

const enc = (s: string) => utf8Encode(s);
const bytes = (...b: number[]) => new Uint8Array(b);
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const RP = { id: "example.com", name: "Example RP" };
const USER = { id: bytes(1, 2, 3, 4), name: "alice", displayName: "Alice" };
const PARAMS = [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }];
const CLIENT_DATA = { json: enc('{"type":"webauthn.create","challenge":"AAAA"}') };

function xorA5(salt: Uint8Array): string {
  return toHex(Uint8Array.from({ length: 32 }, (_, i) => salt[i % salt.length] ^ 0xa5));
}

function expectedCredId(rpId: string, userId: Uint8Array): Uint8Array {
  return sha256(concat(enc(rpId), userId));
}

/** The richest MakeCredential options the API version `api` can carry. */
function mcOptions(api: number, cancellationId: Uint8Array): MakeCredentialOptions {
  const o: MakeCredentialOptions = {
    timeoutMs: 30000,
    attachment: "cross-platform",
    requireResidentKey: true,
    userVerification: "required",
    attestationConveyance: "direct",
    cancellationId,
    excludeCredentials: [
      { id: bytes(0xe1, 0xe2), transports: ["usb", "nfc"] },
      { id: fill(48, 0xe3), transports: ["hybrid", "internal", "smart-card", "carrier-pigeon"] },
      { id: bytes(0xe4) },
    ],
    extensions: { hmacSecret: true },
  };
  if (api >= 2) o.extensions!.credProtect = { level: 3, enforce: true };
  if (api >= 3) {
    o.extensions!.credBlob = bytes(0xb1, 0xb2, 0xb3);
    o.extensions!.minPinLength = true;
    o.extensions!.largeBlob = "preferred";
    o.enterpriseAttestation = "vendor-facilitated";
  }
  if (api >= 4) o.browserInPrivateMode = true;
  if (api >= 6) o.extensions!.prf = {};
  if (api >= 7) o.jsonExt = enc('{"ext":1}');
  if (api >= 8) {
    o.extensions!.prf = { eval: { first: fill(32, 0x11), second: bytes(0x22, 0x23) } };
    o.hints = ["security-key", "client-device"];
    o.thirdPartyPayment = true;
  }
  if (api >= 9) {
    o.remoteWebOrigin = "https://remote.example";
    o.optionsJson = enc('{"rp":{}}');
    o.authenticatorId = bytes(0xa1, 0xa2);
  }
  return o;
}

const API_VERSIONS = [1, 3, 4, 5, 7, 8, 9];

describe("webauthn binding: loading", () => {
  it("loads the library named by FIDO2_WEBAUTHN_LIB and reads the API version", async () => {
    ctl.reset();
    ctl.setApiVersion(7);
    await withEnv({ FIDO2_WEBAUTHN_LIB: path, FIDO2_WEBAUTHN_PATH: undefined }, async () => {
      const api = await loadWebAuthn();
      assert.equal(api.path, path);
      assert.equal(api.apiVersion(), 7);
      api.close();
    });
  });

  it("FIDO2_WEBAUTHN_PATH is an alias; FIDO2_WEBAUTHN_LIB wins when both are set", async () => {
    assert.deepEqual([...LIBRARY_ENV], ["FIDO2_WEBAUTHN_LIB", "FIDO2_WEBAUTHN_PATH"]);
    await withEnv({ FIDO2_WEBAUTHN_LIB: undefined, FIDO2_WEBAUTHN_PATH: path }, async () => {
      const api = await loadWebAuthn();
      assert.equal(api.path, path);
      api.close();
    });
    const missing = "/nonexistent/alias-loses.so";
    await withEnv({ FIDO2_WEBAUTHN_LIB: path, FIDO2_WEBAUTHN_PATH: missing }, async () => {
      const api = await loadWebAuthn();
      assert.equal(api.path, path);
      api.close();
    });
    await withEnv({ FIDO2_WEBAUTHN_LIB: missing, FIDO2_WEBAUTHN_PATH: path }, async () => {
      await assert.rejects(
        loadWebAuthn(),
        (e) => e instanceof LibraryLoadError && /alias-loses/.test(e.message),
      );
    });
  });

  it("a fresh process honours FIDO2_WEBAUTHN_LIB and FAKE_WEBAUTHN_API_VERSION", () => {
    // Bun's process.env does not reach C getenv() after start-up, so use a child process.
    const mod = new URL("../ffi/webauthn.ts", import.meta.url).href;
    const code = `const m = await import(${JSON.stringify(mod)});\n` +
      "const api = await m.loadWebAuthn(); console.log(JSON.stringify([api.path, api.apiVersion()]));";
    const args = runtime === "deno" ? ["eval", code] : ["-e", code];
    const out = execFileSync(process.execPath, args, {
      env: { ...process.env, FIDO2_WEBAUTHN_LIB: path, FAKE_WEBAUTHN_API_VERSION: "5" },
      encoding: "utf8",
    });
    assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), [path, 5]);
  });

  it("a missing library is a LibraryLoadError", async () => {
    await assert.rejects(
      loadWebAuthn({ path: "/nonexistent/webauthn-missing.so" }),
      (e) => e instanceof LibraryLoadError && /webauthn-missing/.test(e.message),
    );
  });

  it("without an override: System32 on Windows, a LibraryLoadError elsewhere", async () => {
    if (platform() === "win32") {
      // Under Wine there is no webauthn.dll; on Windows the real one loads from System32.
      try {
        const api = await loadWebAuthn();
        assert.match(api.path, /\\System32\\webauthn\.dll$/i);
        api.close();
      } catch (e) {
        assert.ok(e instanceof LibraryLoadError && /System32/i.test(e.message));
      }
      return;
    }
    await withEnv({ FIDO2_WEBAUTHN_LIB: undefined, FIDO2_WEBAUTHN_PATH: undefined }, async () => {
      await assert.rejects(
        loadWebAuthn(),
        (e) => e instanceof LibraryLoadError && /FIDO2_WEBAUTHN_LIB/.test(e.message),
      );
    });
  });

  it("a library without the webauthn symbols is a LibraryLoadError", async () => {
    const other = platform() === "win32" ? "kernel32.dll" : "libc.so.6";
    await assert.rejects(loadWebAuthn({ path: other }), LibraryLoadError);
  });

  it("isUserVerifyingPlatformAuthenticatorAvailable reads the 4-byte BOOL", async () => {
    const api = await load(9);
    assert.equal(api.isUserVerifyingPlatformAuthenticatorAvailable(), true);
    ctl.setUvpaa(false);
    assert.equal(api.isUserVerifyingPlatformAuthenticatorAvailable(), false);
    api.close();
  });
});

describe("webauthn binding: MakeCredential per API version", () => {
  for (const v of API_VERSIONS) {
    it(`API ${v}: every field reaches the DLL and every output comes back`, async () => {
      const api = await load(v);
      assert.equal(api.apiVersion(), v);
      const guid = api.getCancellationId();
      const att = await api.makeCredential(
        0x1234,
        RP,
        USER,
        PARAMS,
        CLIENT_DATA,
        mcOptions(v, guid),
      );
      const req: Json = ctl.lastRequest();
      assert.equal(req.error, undefined, req.error);
      assert.equal(req.hresult, 0);
      assert.equal(req.hwnd, 0x1234);
      assert.deepEqual(req.rp, { id: "example.com", name: "Example RP", icon: null });
      assert.deepEqual(req.user, {
        id: "01020304",
        name: "alice",
        displayName: "Alice",
        icon: null,
      });
      assert.deepEqual(req.params, [
        { type: "public-key", alg: -7 },
        { type: "public-key", alg: -257 },
      ]);
      assert.deepEqual(req.clientData, { json: toHex(CLIENT_DATA.json), hashAlg: "SHA-256" });
      const o = req.options;
      assert.equal(o.version, STRUCT_VERSIONS.makeCredentialOptions[v]);
      assert.equal(o.timeoutMs, 30000);
      assert.equal(o.attachment, 2);
      assert.equal(o.requireResidentKey, true);
      assert.equal(o.userVerification, 1);
      assert.equal(o.attestation, 3);
      assert.equal(o.cancellationId, toHex(guid));
      assert.deepEqual(o.credentialList, [{ id: "e1e2" }, { id: "e3".repeat(48) }, { id: "e4" }]);
      assert.deepEqual(o.excludeList, [
        { id: "e1e2", transports: 0x03 },
        { id: "e3".repeat(48), transports: 0x20 | 0x10 | 0x40 },
        { id: "e4", transports: 0 },
      ]);
      const extIds = o.extensions.map((e: Json) => e.id);
      assert.equal(extIds[0], "hmac-secret");
      if (v >= 2) {
        assert.deepEqual(o.extensions[1], { id: "credProtect", level: 3, required: true });
      }
      if (v >= 3) {
        assert.deepEqual(o.extensions.slice(2), [
          { id: "credBlob", blob: "b1b2b3" },
          { id: "minPinLength", value: true },
        ]);
        assert.equal(o.enterpriseAttestation, 1);
        assert.equal(o.largeBlobSupport, 2);
        assert.equal(o.preferResidentKey, false);
      } else {
        assert.equal(o.enterpriseAttestation, undefined);
      }
      assert.equal(o.browserInPrivateMode, v >= 4 ? true : undefined);
      assert.equal(o.enablePrf, v >= 6 ? true : v >= 5 ? undefined : undefined);
      assert.equal(o.jsonExt, v >= 7 ? toHex(enc('{"ext":1}')) : undefined);
      if (v >= 8) {
        assert.deepEqual(o.prfGlobalEval, { first: "11".repeat(32), second: "2223" });
        assert.deepEqual(o.hints, ["security-key", "client-device"]);
        assert.equal(o.thirdPartyPayment, true);
      } else {
        assert.equal(o.hints, undefined);
      }
      if (v >= 9) {
        assert.equal(o.remoteWebOrigin, "https://remote.example");
        assert.equal(o.optionsJson, toHex(enc('{"rp":{}}')));
        assert.equal(o.authenticatorId, "a1a2");
      } else {
        assert.equal(o.remoteWebOrigin, undefined);
      }

      // Outputs, read up to the returned struct version.
      const av = STRUCT_VERSIONS.credentialAttestation[v];
      assert.equal(att.version, av);
      assert.equal(att.formatType, "none");
      const credId = expectedCredId("example.com", USER.id);
      assert.deepEqual(att.credentialId, credId);
      assert.deepEqual(att.authenticatorData.subarray(0, 32), sha256(enc("example.com")));
      assert.equal(att.authenticatorData[32], 0x01 | 0x04 | 0x40 | 0x80);
      assert.deepEqual(att.attestation, bytes(0xa0));
      const ao = decode(att.attestationObject) as Map<string, unknown>;
      assert.equal(ao.get("fmt"), "none");
      assert.deepEqual(ao.get("authData"), att.authenticatorData);
      const ext = att.extensions!;
      assert.equal(ext.hmacSecret, true);
      assert.equal(ext.credProtect, v >= 2 ? 3 : undefined);
      assert.equal(ext.credBlobStored, v >= 3 ? true : undefined);
      assert.equal(ext.minPinLength, v >= 3 ? 4 : undefined);
      assert.deepEqual(att.usedTransports, ["usb"]);
      if (av >= 4) {
        assert.equal(att.epAtt, true);
        assert.equal(att.residentKey, true);
        assert.equal(att.largeBlobSupported, true);
      } else {
        assert.equal(att.epAtt, undefined);
        assert.equal(att.residentKey, undefined);
      }
      assert.equal(att.prfEnabled, av >= 5 ? v >= 6 : undefined);
      assert.deepEqual(att.unsignedExtensionOutputs, av >= 6 ? bytes(0xa0) : undefined);
      if (av >= 7) {
        assert.equal(toHex(att.hmacSecret!.first), xorA5(fill(32, 0x11)));
        assert.equal(toHex(att.hmacSecret!.second!), xorA5(bytes(0x22, 0x23)));
        assert.equal(att.thirdPartyPayment, true);
      } else {
        assert.equal(att.hmacSecret, undefined);
      }
      if (av >= 8) {
        assert.deepEqual(att.transports, ["usb", "nfc"]);
        assert.deepEqual(att.clientDataJson, CLIENT_DATA.json);
        assert.equal(
          new TextDecoder().decode(att.registrationResponseJson),
          '{"type":"public-key"}',
        );
      } else {
        assert.equal(att.transports, undefined);
      }
      const st: Json = ctl.state();
      assert.equal(st.attestationsAllocated, 1);
      assert.equal(st.attestationsFreed, 1);
      assert.equal(st.badFrees, 0);
      assert.equal(st.live, 0);
      api.close();
    });
  }
});

describe("webauthn binding: GetAssertion per API version", () => {
  for (const v of API_VERSIONS) {
    it(`API ${v}: every field reaches the DLL and every output comes back`, async () => {
      const api = await load(v);
      // Register first so the fake knows the user handle and the credBlob.
      await api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, {
        requireResidentKey: true,
        extensions: v >= 3 ? { credBlob: bytes(7, 8, 9) } : {},
      });
      const credId = expectedCredId("example.com", USER.id);
      const guid = api.getCancellationId();
      const clientData = { json: enc('{"type":"webauthn.get"}') };
      const other = fill(16, 0x0f);
      const assertion = await api.getAssertion(7, "example.com", clientData, {
        timeoutMs: 5000,
        attachment: "platform",
        userVerification: "discouraged",
        allowCredentials: [{ id: credId, transports: ["ble"] }, { id: other }],
        appId: "https://example.com/appid.json",
        cancellationId: guid,
        extensions: {
          ...(v >= 3
            ? { credBlob: true, largeBlob: { operation: "set" as const, data: bytes(5, 6) } }
            : {}),
          ...(v >= 4
            ? {
              hmacSecret: {
                global: { first: fill(32, 0x01) },
                byCredential: [
                  { id: other, salts: { first: fill(32, 0x02) } },
                  { id: credId, salts: { first: fill(32, 0x03), second: fill(32, 0x04) } },
                ],
                raw: true,
              },
            }
            : {}),
        },
        ...(v >= 4 ? { browserInPrivateMode: true } : {}),
        ...(v >= 7 ? { autoFill: true, jsonExt: enc("{}") } : {}),
        ...(v >= 8 ? { hints: ["hybrid"] } : {}),
        ...(v >= 9
          ? {
            remoteWebOrigin: "https://r.example",
            optionsJson: enc("{}"),
            authenticatorId: bytes(9),
          }
          : {}),
      });
      const req: Json = ctl.lastRequest();
      assert.equal(req.error, undefined, req.error);
      assert.equal(req.function, "GetAssertion");
      assert.equal(req.hwnd, 7);
      assert.equal(req.rpId, "example.com");
      assert.deepEqual(req.clientData, { json: toHex(clientData.json), hashAlg: "SHA-256" });
      const o = req.options;
      assert.equal(o.version, STRUCT_VERSIONS.getAssertionOptions[v]);
      assert.equal(o.timeoutMs, 5000);
      assert.equal(o.attachment, 1);
      assert.equal(o.userVerification, 3);
      assert.equal(o.appId, "https://example.com/appid.json");
      assert.equal(o.cancellationId, toHex(guid));
      assert.deepEqual(o.credentialList, [{ id: toHex(credId) }, { id: toHex(other) }]);
      assert.deepEqual(o.allowList, [
        { id: toHex(credId), transports: 0x04 },
        { id: toHex(other), transports: 0 },
      ]);
      if (v >= 3) {
        assert.deepEqual(o.extensions, [{ id: "credBlob", value: true }]);
        assert.equal(o.largeBlobOperation, 2);
        assert.equal(o.largeBlob, "0506");
      } else {
        assert.deepEqual(o.extensions, []);
        assert.equal(o.largeBlobOperation, undefined);
      }
      if (v >= 4) {
        assert.equal(o.flags, 0x00100000);
        assert.deepEqual(o.hmacSecretSaltValues, {
          global: { first: "01".repeat(32), second: null },
          byCredential: [
            { id: toHex(other), salt: { first: "02".repeat(32), second: null } },
            { id: toHex(credId), salt: { first: "03".repeat(32), second: "04".repeat(32) } },
          ],
        });
        assert.equal(o.browserInPrivateMode, true);
      } else {
        assert.equal(o.flags, 0);
        assert.equal(o.hmacSecretSaltValues, undefined);
      }
      assert.equal(o.autoFill, v >= 7 ? true : undefined);
      assert.deepEqual(o.hints, v >= 8 ? ["hybrid"] : undefined);
      assert.equal(o.remoteWebOrigin, v >= 9 ? "https://r.example" : undefined);
      assert.equal(o.authenticatorId, v >= 9 ? "09" : undefined);

      const asv = STRUCT_VERSIONS.assertion[v];
      assert.equal(assertion.version, asv);
      assert.deepEqual(assertion.credential, { type: "public-key", id: credId });
      assert.deepEqual(assertion.userId, USER.id);
      assert.deepEqual(assertion.authenticatorData.subarray(0, 32), sha256(enc("example.com")));
      assert.deepEqual(
        assertion.signature,
        sha256(concat(assertion.authenticatorData, clientData.json)),
      );
      assert.equal(assertion.appIdUsed, true);
      if (asv >= 2) {
        assert.deepEqual(assertion.extensions!.credBlob, bytes(7, 8, 9));
        assert.deepEqual(assertion.largeBlob, { status: "success", data: new Uint8Array(0) });
      } else {
        assert.equal(assertion.extensions, undefined);
        assert.equal(assertion.largeBlob, undefined);
      }
      if (asv >= 3) {
        // The per-credential salts of the selected credential win over the global ones.
        assert.equal(toHex(assertion.hmacSecret!.first), xorA5(fill(32, 0x03)));
        assert.equal(toHex(assertion.hmacSecret!.second!), xorA5(fill(32, 0x04)));
      } else {
        assert.equal(assertion.hmacSecret, undefined);
      }
      assert.deepEqual(assertion.usedTransports, asv >= 4 ? ["usb"] : undefined);
      assert.deepEqual(
        assertion.unsignedExtensionOutputs,
        asv >= 5 ? new Uint8Array(0) : undefined,
      );
      assert.deepEqual(assertion.clientDataJson, asv >= 6 ? clientData.json : undefined);
      const st: Json = ctl.state();
      assert.equal(st.assertionsAllocated, 1);
      assert.equal(st.assertionsFreed, 1);
      assert.equal(st.attestationsFreed, 1);
      assert.equal(st.badFrees, 0);
      assert.equal(st.live, 0);
      api.close();
    });
  }
});

describe("webauthn binding: strings, lists and extensions", () => {
  it("UTF-16 strings round-trip, including non-BMP characters", async () => {
    const api = await load(9);
    const rp = { id: "bücher.example", name: "Bücher 📚 𝄞", icon: "data:,ï" };
    const user = { id: fill(64, 0x55), name: "zoë@example", displayName: "Zoë 漢字 🦄", icon: "🖼" };
    const att = await api.makeCredential(0, rp, user, PARAMS, CLIENT_DATA, {
      hints: ["security-key", "🔑"],
    });
    const req: Json = ctl.lastRequest();
    assert.equal(req.error, undefined, req.error);
    assert.deepEqual(req.rp, rp);
    assert.deepEqual(req.user, { ...user, id: "55".repeat(64) });
    assert.deepEqual(req.options.hints, ["security-key", "🔑"]);
    // The fake hashes the UTF-8 form of the UTF-16 rp id it received.
    assert.deepEqual(att.authenticatorData.subarray(0, 32), sha256(enc("bücher.example")));
    assert.deepEqual(att.credentialId, expectedCredId("bücher.example", user.id));
    api.close();
  });

  it("rejects strings that are not valid UTF-16 before calling the DLL", async () => {
    const api = await load(9);
    for (const bad of ["a\ud800b", "\udc00", "x\0y"]) {
      await assert.rejects(
        api.makeCredential(0, { id: "example.com", name: bad }, USER, PARAMS, CLIENT_DATA),
        FormatError,
      );
    }
    assert.equal(ctl.lastRequest(), null);
    api.close();
  });

  it("empty allow/exclude lists are sent as NULL lists", async () => {
    const api = await load(9);
    await api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, { excludeCredentials: [] });
    let req: Json = ctl.lastRequest();
    assert.equal(req.error, undefined, req.error);
    assert.equal(req.options.excludeList, null);
    assert.deepEqual(req.options.credentialList, []);
    assert.deepEqual(req.options.extensions, []);
    await api.getAssertion(0, "example.com", CLIENT_DATA);
    req = ctl.lastRequest();
    assert.equal(req.error, undefined, req.error);
    assert.equal(req.options.allowList, null);
    assert.equal(req.options.appId, null);
    api.close();
  });

  it("largeBlob get/set/delete and PRF (hashed) salts", async () => {
    const api = await load(9);
    await api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, { requireResidentKey: true });
    const get = () =>
      api.getAssertion(0, "example.com", CLIENT_DATA, {
        extensions: { largeBlob: { operation: "get" } },
      });
    assert.equal((await get()).largeBlob?.status, "not-found");
    const written = await api.getAssertion(0, "example.com", CLIENT_DATA, {
      extensions: { largeBlob: { operation: "set", data: enc("blob!") } },
    });
    assert.equal(written.largeBlob?.status, "success");
    assert.deepEqual((await get()).largeBlob, { status: "success", data: enc("blob!") });
    const del = await api.getAssertion(0, "example.com", CLIENT_DATA, {
      extensions: { largeBlob: { operation: "delete" } },
    });
    assert.equal(del.largeBlob?.status, "success");
    assert.equal((await get()).largeBlob?.status, "not-found");
    // Without the raw flag, salts of any length are PRF inputs.
    const prf = await api.getAssertion(0, "example.com", CLIENT_DATA, {
      extensions: { hmacSecret: { global: { first: enc("prf input") } } },
    });
    const req: Json = ctl.lastRequest();
    assert.equal(req.options.flags, 0);
    assert.equal(toHex(prf.hmacSecret!.first), xorA5(enc("prf input")));
    assert.equal(prf.hmacSecret!.second, undefined);
    assert.equal(prf.appIdUsed, undefined);
    const st: Json = ctl.state();
    assert.equal(st.assertionsAllocated, 6);
    assert.equal(st.assertionsFreed, 6);
    api.close();
  });

  it("residentKey preferred sets bPreferResidentKey only", async () => {
    const api = await load(9);
    const att = await api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, {
      residentKey: "preferred",
    });
    const o: Json = (ctl.lastRequest() as Json).options;
    assert.equal(o.requireResidentKey, false);
    assert.equal(o.preferResidentKey, true);
    assert.equal(att.residentKey, true);
    api.close();
  });
});

describe("webauthn binding: struct versions", () => {
  it("outputs are read only up to the dwVersion the DLL returned", async () => {
    const api = await load(9);
    ctl.setOutputVersions(1, 1);
    const att = await api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, {
      requireResidentKey: true,
      extensions: { hmacSecret: true, prf: { eval: { first: fill(32, 1) } } },
    });
    assert.equal(att.version, 1);
    assert.deepEqual(att.credentialId, expectedCredId("example.com", USER.id));
    for (const k of ["extensions", "usedTransports", "residentKey", "prfEnabled", "hmacSecret"]) {
      assert.equal(att[k as keyof typeof att], undefined, k);
    }
    const as = await api.getAssertion(0, "example.com", CLIENT_DATA, {
      extensions: { hmacSecret: { global: { first: fill(32, 1) } } },
    });
    assert.equal(as.version, 1);
    assert.equal(as.hmacSecret, undefined);
    assert.equal(as.extensions, undefined);
    assert.equal(as.usedTransports, undefined);
    const st: Json = ctl.state();
    assert.equal(st.attestationsFreed, 1);
    assert.equal(st.assertionsFreed, 1);
    api.close();
  });

  it("the fake rejects an options version its API does not have (E_INVALIDARG)", async () => {
    const api = await load(9);
    ctl.setApiVersion(3);
    await assert.rejects(
      api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA),
      (e) => e instanceof WindowsApiError && e.code === "E_INVALIDARG",
    );
    const req: Json = ctl.lastRequest();
    assert.match(req.error, /options\.dwVersion 9, API 3 wants 4/);
    assert.equal(ctl.state().attestationsAllocated, 0);
    api.close();
  });
});

describe("webauthn binding: input checks and version gating", () => {
  it("features newer than the DLL's API are a WebAuthnUnsupportedError, nothing is sent", async () => {
    const cases: [number, MakeCredentialOptions, string, number][] = [
      [1, { extensions: { credProtect: { level: 2 } } }, "credProtect", 2],
      [2, { extensions: { credBlob: bytes(1) } }, "credBlob", 3],
      [1, { residentKey: "preferred" }, 'residentKey "preferred"', 3],
      [3, { browserInPrivateMode: true }, "browserInPrivateMode", 4],
      [5, { extensions: { prf: {} } }, "prf", 6],
      [7, { hints: ["hybrid"] }, "hints", 8],
      [8, { remoteWebOrigin: "https://x" }, "remoteWebOrigin", 9],
    ];
    for (const [v, opts, feature, required] of cases) {
      const api = await load(v);
      await assert.rejects(
        api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, opts),
        (e) =>
          e instanceof WebAuthnUnsupportedError && e.feature === feature &&
          e.requiredApiVersion === required && e.apiVersion === v,
      );
      assert.equal(ctl.lastRequest(), null);
      api.close();
    }
    const api = await load(3);
    await assert.rejects(
      api.getAssertion(0, "example.com", CLIENT_DATA, {
        extensions: { hmacSecret: { global: { first: fill(32, 1) } } },
      }),
      (e) => e instanceof WebAuthnUnsupportedError && e.requiredApiVersion === 4,
    );
    api.close();
  });

  it("malformed inputs are FormatErrors", async () => {
    const api = await load(9);
    const mc = (o: Partial<Record<string, unknown>>) =>
      api.makeCredential(
        0,
        (o.rp ?? RP) as never,
        (o.user ?? USER) as never,
        (o.params ?? PARAMS) as never,
        (o.cd ?? CLIENT_DATA) as never,
        (o.options ?? {}) as never,
      );
    await assert.rejects(mc({ user: { ...USER, id: fill(65, 1) } }), FormatError);
    await assert.rejects(mc({ user: { ...USER, id: new Uint8Array(0) } }), FormatError);
    await assert.rejects(mc({ params: [] }), FormatError);
    await assert.rejects(mc({ params: [{ type: "public-key", alg: 2 ** 31 }] }), FormatError);
    await assert.rejects(mc({ cd: { json: new Uint8Array(0) } }), FormatError);
    await assert.rejects(mc({ cd: { json: enc("{}"), hashAlg: "MD5" } }), FormatError);
    await assert.rejects(mc({ options: { userVerification: "sometimes" } }), FormatError);
    await assert.rejects(mc({ options: { cancellationId: bytes(1, 2) } }), FormatError);
    await assert.rejects(mc({ options: { timeoutMs: -1 } }), FormatError);
    await assert.rejects(
      mc({ options: { excludeCredentials: [{ id: new Uint8Array(0) }] } }),
      FormatError,
    );
    await assert.rejects(
      api.getAssertion(0, "example.com", CLIENT_DATA, {
        extensions: { hmacSecret: { global: { first: fill(31, 1) }, raw: true } },
      }),
      FormatError,
    );
    await assert.rejects(
      api.getAssertion(0, "example.com", CLIENT_DATA, {
        extensions: { largeBlob: { operation: "get", data: bytes(1) } },
      }),
      FormatError,
    );
    await assert.rejects(api.getAssertion(-1, "example.com", CLIENT_DATA), FormatError);
    assert.equal(ctl.lastRequest(), null);
    api.close();
  });
});

describe("webauthn binding: HRESULT errors and freeing", () => {
  const cases: [keyof typeof HRESULT, string][] = [
    ["NTE_EXISTS", "InvalidStateError"],
    ["NTE_NOT_FOUND", "NotAllowedError"],
    ["NTE_TOKEN_KEYSET_STORAGE_FULL", "ConstraintError"],
    ["NTE_INVALID_PARAMETER", "NotSupportedError"],
    ["NTE_NOT_SUPPORTED", "ConstraintError"],
    ["NTE_DEVICE_NOT_FOUND", "NotAllowedError"],
    ["NTE_USER_CANCELLED", "NotAllowedError"],
    ["ERROR_NOT_SUPPORTED", "ConstraintError"],
    ["ERROR_CANCELLED", "NotAllowedError"],
    ["ERROR_TIMEOUT", "NotAllowedError"],
    ["RPC_S_CALL_FAILED", "UnknownError"],
  ];

  it("getErrorName maps every documented HRESULT", async () => {
    const api = await load(9);
    assert.equal(api.getErrorName(0), "Success");
    for (const [code, name] of cases) assert.equal(api.getErrorName(HRESULT[code]), name, code);
    api.close();
  });

  it("a failing HRESULT is a WindowsApiError with code and name; nothing is freed", async () => {
    const api = await load(9);
    for (const [code, name] of cases) {
      ctl.setNextHresult(HRESULT[code]);
      const op = code.length % 2
        ? api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA)
        : api.getAssertion(0, "example.com", CLIENT_DATA);
      await assert.rejects(op, (e) => {
        assert.ok(e instanceof WindowsApiError);
        assert.equal(e.hresult, HRESULT[code]);
        assert.equal(e.code, code);
        assert.equal(e.errorName, name);
        assert.match(e.message, new RegExp(HRESULT[code].toString(16)));
        return true;
      });
    }
    const st: Json = ctl.state();
    assert.equal(st.attestationsAllocated + st.assertionsAllocated, 0);
    assert.equal(st.attestationsFreed + st.assertionsFreed + st.nullFrees + st.badFrees, 0);
    api.close();
  });

  it("cancelled by the user and cancelled by the app stay distinguishable", () => {
    const user = new WindowsApiError("op", HRESULT.NTE_USER_CANCELLED, "NotAllowedError");
    const app = new WindowsApiError("op", HRESULT.ERROR_CANCELLED | 0, "NotAllowedError");
    assert.equal(user.code, "NTE_USER_CANCELLED");
    assert.equal(app.code, "ERROR_CANCELLED");
    assert.equal(app.hresult, 0x800704c7);
  });

  it("computed failures: excluded credential and largeBlob without a resident key", async () => {
    const api = await load(9);
    await assert.rejects(
      api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, {
        excludeCredentials: [{ id: expectedCredId("example.com", USER.id) }],
      }),
      (e) => e instanceof WindowsApiError && e.code === "NTE_EXISTS",
    );
    await assert.rejects(
      api.makeCredential(0, RP, USER, PARAMS, CLIENT_DATA, {
        extensions: { largeBlob: "required" },
      }),
      (e) => e instanceof WindowsApiError && e.errorName === "NotSupportedError",
    );
    api.close();
  });

  it("each result is freed exactly once, with the matching Free function", async () => {
    const api = await load(8);
    for (let i = 0; i < 5; i++) {
      await api.makeCredential(0, RP, { ...USER, id: bytes(i + 1) }, PARAMS, CLIENT_DATA);
      await api.getAssertion(0, "example.com", CLIENT_DATA);
    }
    const st: Json = ctl.state();
    assert.equal(st.attestationsAllocated, 5);
    assert.equal(st.attestationsFreed, 5);
    assert.equal(st.assertionsAllocated, 5);
    assert.equal(st.assertionsFreed, 5);
    assert.equal(st.badFrees, 0);
    assert.equal(st.nullFrees, 0);
    assert.equal(st.live, 0);
    api.close();
  });
});

describe("webauthn binding: cancellation", () => {
  it("getCancellationId returns a fresh GUID that cancelCurrentOperation passes back", async () => {
    const api = await load(9);
    const a = api.getCancellationId();
    const b = api.getCancellationId();
    assert.equal(a.length, 16);
    assert.notDeepEqual(a, b);
    api.cancelCurrentOperation(b);
    const st: Json = ctl.state();
    assert.equal(st.cancellationIds, 2);
    assert.equal(st.cancelCalls, 1);
    assert.equal(st.lastCancelRequest, toHex(b));
    // No operation with that id runs: like webauthn.dll, the fake ignores the cancel.
    assert.equal(st.ignoredCancels, 1);
    assert.throws(() => api.cancelCurrentOperation(new Uint8Array(15)), FormatError);
    api.close();
  });

  it("a MakeCredential blocked in a Worker is cancelled from the main thread", async () => {
    const api = await load(9);
    const id = api.getCancellationId();
    const worker = new Worker(new URL("./helpers/webauthn_cancel_worker.ts", import.meta.url), {
      type: "module",
    });
    try {
      const result = await new Promise<Json>((resolve, reject) => {
        worker.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
        worker.onmessage = (ev) => {
          if (ev.data.started) {
            setTimeout(() => api.cancelCurrentOperation(id), 100);
          } else if (ev.data.done) resolve(ev.data);
        };
        worker.postMessage({ path, guid: Array.from(id) });
      });
      assert.equal(result.hresult, HRESULT.NTE_USER_CANCELLED, result.message);
      assert.ok(result.ms >= 50 && result.ms < 3000, `took ${result.ms} ms`);
      assert.equal(ctl.state().lastCancelled, toHex(id));
    } finally {
      worker.terminate();
      api.close();
    }
  });

  if (runtime === "deno") {
    // Deno runs MakeCredential on a worker thread (nonblocking), so the main thread can cancel.
    it("a blocked MakeCredential is cancelled from the event loop", async () => {
      const api = await load(9);
      const id = api.getCancellationId();
      const t0 = Date.now();
      const pending = api.makeCredential(
        0,
        { id: "block.example", name: "Blocking" },
        USER,
        PARAMS,
        CLIENT_DATA,
        { cancellationId: id },
      );
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      await new Promise((r) => setTimeout(r, 100));
      api.cancelCurrentOperation(id);
      await assert.rejects(
        pending,
        (e) => e instanceof WindowsApiError && e.code === "NTE_USER_CANCELLED",
      );
      clearInterval(timer);
      assert.ok(Date.now() - t0 < 3000);
      assert.ok(ticks >= 3, `event loop ticked ${ticks} times`);
      api.close();
    });
  }
});
