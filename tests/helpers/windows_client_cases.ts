// WindowsClient scenarios against the fake webauthn library (tests/fixtures/fake_webauthn.c),
// shared by tests/windows_client.test.ts (Linux .so, Deno and Bun) and
// tests/windows/windows_client.test.ts (mingw webauthn.dll, Bun for Windows under Wine). The
// fake records every request field, so each test checks the WebAuthn → webauthn.h mapping
// through the real FFI, then the response the client built from the DLL's answer.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { p256 } from "@noble/curves/nist.js";
import { encode } from "../../src/cbor.ts";
import {
  HRESULT,
  LIBRARY_ENV,
  LibraryLoadError,
  loadWebAuthn,
  type WebAuthnApi,
  WebAuthnClosedError,
  WebAuthnCloseTimeoutError,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "../../ffi/webauthn.ts";
import { FormatError } from "../../src/errors.ts";
import { loadWebAuthnInWorker, workerBlockingCaller } from "../../ffi/webauthn_worker.ts";
import { runtime } from "../../ffi/runtime.ts";
import { DLL_TIMEOUT_HEADROOM_MS, WindowsClient } from "../../src/client/windows.ts";
import { Fido2Client } from "../../src/client/fido2.ts";
import { VirtualAuthenticator } from "../../src/virtual/mod.ts";
import { DefaultClientDataCollector } from "../../src/client/collector.ts";
import { ClientError } from "../../src/client/errors.ts";
import {
  AuthenticationResponse,
  CredentialCreationOptions,
  CredentialRequestOptions,
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
  RegistrationResponse,
} from "../../src/webauthn.ts";
import { b64urlDecode, b64urlEncode, concat, sha256, toHex, utf8Encode } from "../../src/utils.ts";
import { type FakeControls, openFakeControls, withEnv } from "./webauthn_fixture.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const ORIGIN = "https://example.com";
const RP_ID = "example.com";
const enc = (s: string) => utf8Encode(s);
const bytes = (...b: number[]) => new Uint8Array(b);
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const E = ClientError.ERR;

function xorA5(salt: Uint8Array): string {
  return toHex(Uint8Array.from({ length: 32 }, (_, i) => salt[i % salt.length] ^ 0xa5));
}

function prfSalt(input: Uint8Array): Uint8Array {
  return sha256(concat(enc("WebAuthn PRF"), bytes(0), input));
}

function creation(extra: Record<string, unknown> = {}): PublicKeyCredentialCreationOptions {
  return new PublicKeyCredentialCreationOptions({
    rp: { name: "Example RP" },
    user: { id: bytes(1, 2, 3, 4), name: "alice", displayName: "Alice" },
    challenge: fill(32, 0xc1),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
    ...extra,
  });
}

function request(extra: Record<string, unknown> = {}): PublicKeyCredentialRequestOptions {
  return new PublicKeyCredentialRequestOptions({ challenge: fill(32, 0xc2), ...extra });
}

function isClientError(code: number, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected a ClientError, got ${e}`);
    assert.equal(e.codeName, new ClientError(code).codeName, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

/** Registers every WindowsClient scenario; `libraryPath` names the fake library to load. */
export function windowsClientCases(libraryPath: () => string): void {
  let path = "";
  let ctl: FakeControls;
  const apis: WebAuthnApi[] = [];

  before(async () => {
    path = libraryPath();
    ctl = await openFakeControls(path);
  });
  after(() => {
    for (const a of apis) a.close();
    ctl?.close();
  });

  /** A client over the fake reporting API version `v`. */
  async function client(v = 9, opts: { allowHmacSecret?: boolean; hwnd?: number } = {}) {
    ctl.reset();
    ctl.setApiVersion(v);
    const api = await loadWebAuthn({ path });
    apis.push(api);
    const collector = new DefaultClientDataCollector(ORIGIN);
    return new WindowsClient(collector, { api, hwnd: opts.hwnd ?? 0x42, ...opts });
  }

  const last = (): Json => {
    const r = ctl.lastRequest() as Json;
    assert.equal(r?.error, undefined, r?.error);
    return r;
  };

  describe("WindowsClient: makeCredential", () => {
    it("maps the options field by field (rp id from the collector, UV preferred)", async () => {
      const c = await client(9);
      const reg = await c.makeCredential(creation({
        timeout: 60000,
        excludeCredentials: [
          { type: "public-key", id: bytes(0xe1, 0xe2), transports: ["usb", "nfc", "teleport"] },
          { type: "public-key", id: bytes(0xe3) },
        ],
        authenticatorSelection: { residentKey: "preferred", authenticatorAttachment: "platform" },
        attestation: "direct",
        hints: ["security-key"],
      }));
      const r = last();
      assert.equal(r.function, "MakeCredential");
      assert.equal(r.hwnd, 0x42);
      // python-fido2 sends options.rp verbatim and crashes on a missing id; we use the
      // collector's RP ID (the origin's host here).
      assert.deepEqual(r.rp, { id: RP_ID, name: "Example RP", icon: null });
      assert.deepEqual(r.user, { id: "01020304", name: "alice", displayName: "Alice", icon: null });
      assert.deepEqual(r.params, [{ type: "public-key", alg: -7 }, {
        type: "public-key",
        alg: -257,
      }]);
      assert.equal(r.clientData.hashAlg, "SHA-256");
      const cd = JSON.parse(new TextDecoder().decode(reg.response.clientDataJSON.raw));
      assert.equal(r.clientData.json, toHex(reg.response.clientDataJSON.raw));
      assert.equal(cd.type, "webauthn.create");
      assert.equal(cd.origin, ORIGIN);
      assert.equal(cd.challenge, b64urlEncode(fill(32, 0xc1)));
      const o = r.options;
      assert.equal(o.timeoutMs, 60000 + DLL_TIMEOUT_HEADROOM_MS);
      assert.equal(o.attachment, 1); // platform
      assert.equal(o.requireResidentKey, false);
      assert.equal(o.preferResidentKey, true);
      assert.equal(o.userVerification, 2); // preferred, the WebAuthn default
      assert.equal(o.attestation, 3); // direct
      assert.equal(o.enterpriseAttestation, 0);
      assert.deepEqual(o.excludeList, [
        { id: "e1e2", transports: 0x03 },
        { id: "e3", transports: 0 },
      ]);
      assert.deepEqual(o.hints, ["security-key"]);
      // The timeout is also enforced locally, through a cancellation id.
      assert.equal(o.cancellationId.length, 32);
      assert.deepEqual(o.extensions, []);
      // The fake used its platform authenticator ("internal").
      assert.equal(reg.authenticatorAttachment, "platform");
      assert.deepEqual(reg.response.transports, ["internal"]);
      assert.deepEqual(reg.rawId, sha256(concat(enc(RP_ID), bytes(1, 2, 3, 4))));
    });

    it("defaults: UV preferred, attestation none, attachment any, no rk", async () => {
      const c = await client(9);
      const reg = await c.makeCredential(creation());
      const o = last().options;
      assert.equal(o.userVerification, 2);
      assert.equal(o.attestation, 1);
      assert.equal(o.attachment, 0);
      assert.equal(o.requireResidentKey, false);
      assert.equal(o.preferResidentKey, false);
      assert.equal(o.timeoutMs, 0);
      assert.equal(o.cancellationId, null, "no signal and no timeout: no cancellation id");
      assert.equal(reg.response.attestationObject.fmt, "none");
      assert.equal(reg.authenticatorAttachment, "cross-platform"); // the fake used USB
      assert.deepEqual(reg.response.transports, ["usb", "nfc"]);
    });

    it("a hint picks the attachment when authenticatorSelection names none", async () => {
      const c = await client(9);
      await c.makeCredential(creation({ hints: ["hybrid", "client-device"] }));
      assert.equal(last().options.attachment, 1);
      await c.makeCredential(creation({ hints: ["security-key"] }));
      assert.equal(last().options.attachment, 2);
      await c.makeCredential(creation({
        hints: ["client-device"],
        authenticatorSelection: { authenticatorAttachment: "cross-platform" },
      }));
      assert.equal(last().options.attachment, 2);
    });

    it("extensions: credProtect, credBlob, minPinLength, largeBlob, credProps", async () => {
      const c = await client(9);
      const reg = await c.makeCredential(creation({
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        extensions: {
          credentialProtectionPolicy: "userVerificationOptionalWithCredentialIDList",
          enforceCredentialProtectionPolicy: true,
          credBlob: bytes(0xb1, 0xb2),
          minPinLength: true,
          largeBlob: { support: "required" },
          credProps: true,
        },
      }));
      const o = last().options;
      assert.equal(o.requireResidentKey, true);
      assert.equal(o.userVerification, 1);
      assert.deepEqual(o.extensions, [
        { id: "credProtect", level: 2, required: true },
        { id: "credBlob", blob: "b1b2" },
        { id: "minPinLength", value: true },
      ]);
      assert.equal(o.largeBlobSupport, 1);
      assert.deepEqual(reg.clientExtensionResults, {
        credProps: { rk: true },
        credBlob: true,
        largeBlob: { supported: true },
      });
      const ext = reg.response.attestationObject.authData.extensions!;
      assert.equal(ext.get("credProtect"), 2);
      assert.equal(ext.get("minPinLength"), 4);
    });

    it("minPinLength is sent only when asked (python-fido2 defaults it to true)", async () => {
      const c = await client(9);
      await c.makeCredential(creation({ extensions: { credProps: true } }));
      assert.deepEqual(last().options.extensions, []);
    });

    it("prf with native PRF (API 8+): bEnablePrf and raw eval inputs", async () => {
      const c = await client(9);
      const reg = await c.makeCredential(creation({
        authenticatorSelection: { residentKey: "required" },
        extensions: { prf: { eval: { first: enc("first input"), second: enc("second") } } },
      }));
      const o = last().options;
      assert.equal(o.enablePrf, true);
      assert.deepEqual(o.extensions.map((e: Json) => e.id), ["hmac-secret"]);
      // Windows applies the PRF hashing itself: the inputs go in unchanged.
      assert.deepEqual(o.prfGlobalEval, {
        first: toHex(enc("first input")),
        second: toHex(enc("second")),
      });
      const prf = reg.clientExtensionResults.prf!;
      assert.equal(prf.enabled, true);
      assert.equal(toHex(prf.results!.first), xorA5(enc("first input")));
      assert.equal(toHex(prf.results!.second!), xorA5(enc("second")));
    });

    it("prf before native PRF (API 5): plain hmac-secret, no evaluation at create", async () => {
      const c = await client(5);
      const reg = await c.makeCredential(creation({
        extensions: { prf: { eval: { first: enc("x") } } },
      }));
      const o = last().options;
      assert.deepEqual(o.extensions.map((e: Json) => e.id), ["hmac-secret"]);
      assert.equal(o.enablePrf, undefined);
      assert.deepEqual(reg.clientExtensionResults.prf, { enabled: true });
    });

    it("hmacCreateSecret only with allowHmacSecret", async () => {
      let c = await client(9);
      let reg = await c.makeCredential(creation({ extensions: { hmacCreateSecret: true } }));
      assert.deepEqual(last().options.extensions, []);
      assert.deepEqual(reg.clientExtensionResults, {});
      c = await client(9, { allowHmacSecret: true });
      reg = await c.makeCredential(creation({ extensions: { hmacCreateSecret: true } }));
      assert.deepEqual(last().options.extensions.map((e: Json) => e.id), ["hmac-secret"]);
      assert.deepEqual(reg.clientExtensionResults, { hmacCreateSecret: true });
    });

    it("hmacGetSecret at registration (hmac-secret-mc): raw salts in pPRFGlobalEval, API 8+", async () => {
      const salt1 = fill(32, 0x31), salt2 = fill(32, 0x32);
      const ext = { hmacCreateSecret: true, hmacGetSecret: { salt1, salt2 } };
      let c = await client(9, { allowHmacSecret: true });
      let reg = await c.makeCredential(creation({ extensions: ext }));
      let o = last().options;
      assert.equal(o.flags, 0x00100000, "HMAC_SECRET_VALUES_FLAG: the salts are not PRF inputs");
      assert.deepEqual(o.prfGlobalEval, { first: toHex(salt1), second: toHex(salt2) });
      const out = reg.clientExtensionResults as Json;
      assert.equal(out.hmacCreateSecret, true);
      assert.equal(toHex(out.hmacGetSecret.output1), xorA5(salt1));
      assert.equal(toHex(out.hmacGetSecret.output2), xorA5(salt2));
      // API 7 has no pPRFGlobalEval: hmac-secret only, no outputs at registration.
      c = await client(7, { allowHmacSecret: true });
      reg = await c.makeCredential(creation({ extensions: ext }));
      o = last().options;
      assert.equal(o.flags, 0);
      assert.deepEqual(reg.clientExtensionResults, { hmacCreateSecret: true });
      await assert.rejects(
        c.makeCredential(creation({
          extensions: { hmacCreateSecret: true, hmacGetSecret: { salt1: bytes(1) } },
        })),
        isClientError(E.BAD_REQUEST, /32 bytes/),
      );
    });

    it("outputs missing from the DLL's extension array are read from the signed authData", async () => {
      const c = await client(9, { allowHmacSecret: true });
      ctl.setExtensionArray(false);
      const reg = await c.makeCredential(creation({
        authenticatorSelection: { residentKey: "required" },
        extensions: { credBlob: bytes(1, 2), hmacCreateSecret: true },
      }));
      assert.deepEqual(reg.clientExtensionResults, { credBlob: true, hmacCreateSecret: true });
      // prf over plain hmac-secret (API 5) with an attestation struct without bPrfEnabled.
      const p = await client(5);
      ctl.setExtensionArray(false);
      ctl.setOutputVersions(4, 0);
      const withPrf = await p.makeCredential(creation({ extensions: { prf: {} } }));
      assert.deepEqual(withPrf.clientExtensionResults, { prf: { enabled: true } });
    });

    it("largeBlob needs API 5: dropped (or refused when required) on API 4", async () => {
      let c = await client(4);
      const rk = { residentKey: "required" };
      let reg = await c.makeCredential(creation({
        authenticatorSelection: rk,
        extensions: { largeBlob: { support: "preferred" } },
      }));
      assert.equal(last().options.largeBlobSupport, 0);
      assert.deepEqual(reg.clientExtensionResults, {});
      await assert.rejects(
        c.makeCredential(creation({
          authenticatorSelection: rk,
          extensions: { largeBlob: { support: "required" } },
        })),
        isClientError(E.CONFIGURATION_UNSUPPORTED, /largeBlob needs webauthn.dll API version 5/),
      );
      c = await client(5);
      reg = await c.makeCredential(creation({
        authenticatorSelection: rk,
        extensions: { largeBlob: { support: "required" } },
      }));
      assert.equal(last().options.largeBlobSupport, 1);
      assert.deepEqual(reg.clientExtensionResults, { largeBlob: { supported: true } });
    });

    it("older APIs: unsupported extensions are dropped, enforced ones refused", async () => {
      const c = await client(1);
      const reg = await c.makeCredential(creation({
        authenticatorSelection: { residentKey: "required" },
        hints: ["security-key"],
        extensions: {
          credentialProtectionPolicy: "userVerificationRequired",
          credBlob: bytes(1),
          minPinLength: true,
          credProps: true,
        },
      }));
      const r = last();
      assert.deepEqual(r.options.extensions, []);
      assert.equal(r.options.hints, undefined);
      assert.equal(r.options.attachment, 2, "the hint still selects the attachment");
      // Struct version 3 has no bResidentKey: rk is known only because it was required.
      assert.deepEqual(reg.clientExtensionResults, { credProps: { rk: true } });
      await assert.rejects(
        c.makeCredential(creation({
          extensions: {
            credentialProtectionPolicy: "userVerificationRequired",
            enforceCredentialProtectionPolicy: true,
          },
        })),
        isClientError(E.CONFIGURATION_UNSUPPORTED, /credProtect/),
      );
      await assert.rejects(
        c.makeCredential(creation({ extensions: { largeBlob: { support: "required" } } })),
        isClientError(E.CONFIGURATION_UNSUPPORTED, /largeBlob/),
      );
    });

    it("credProps without rk information reports an empty object", async () => {
      const c = await client(1);
      const reg = await c.makeCredential(creation({ extensions: { credProps: true } }));
      assert.deepEqual(reg.clientExtensionResults, { credProps: {} });
    });

    it("enterprise attestation asks for direct + vendor-facilitated", async () => {
      const c = await client(9);
      await c.makeCredential(creation({ attestation: "enterprise" }));
      const o = last().options;
      assert.equal(o.attestation, 3);
      assert.equal(o.enterpriseAttestation, 1);
    });

    it("an empty pubKeyCredParams asks for ES256 and RS256 (WebAuthn §5.1.3)", async () => {
      const c = await client(9);
      await c.makeCredential(creation({ pubKeyCredParams: [] }));
      assert.deepEqual(last().params.map((p: Json) => p.alg), [-7, -257]);
    });

    it("bad extension inputs are BAD_REQUEST before the DLL is called", async () => {
      const c = await client(9);
      for (
        const extensions of [
          { largeBlob: { read: true } },
          { prf: { evalByCredential: { AAAA: { first: bytes(1) } } } },
          { credentialProtectionPolicy: "whatever" },
        ]
      ) {
        await assert.rejects(
          c.makeCredential(creation({ extensions })),
          isClientError(E.BAD_REQUEST),
        );
      }
      // A 65-byte user id is refused by the binding's checks, also before the call.
      await assert.rejects(
        c.makeCredential(creation({ user: { id: fill(65, 1), name: "a", displayName: "A" } })),
        isClientError(E.BAD_REQUEST, /user\.id/),
      );
      assert.equal(ctl.lastRequest(), null);
    });

    it("the registration verifies with @simplewebauthn/server (JSON in, JSON out)", async () => {
      const c = await client(9);
      const options = await generateRegistrationOptions({
        rpName: "Example RP",
        rpID: RP_ID,
        userName: "alice",
        attestationType: "none",
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        extensions: { credProps: true } as never,
      });
      const reg = await c.makeCredential(JSON.parse(JSON.stringify(options)));
      const json = JSON.parse(JSON.stringify(reg));
      assert.equal(json.authenticatorAttachment, "cross-platform");
      assert.deepEqual(json.clientExtensionResults, { credProps: { rk: true } });
      const result = await verifyRegistrationResponse({
        response: json,
        expectedChallenge: options.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        requireUserVerification: true,
      });
      assert.equal(result.verified, true);
      const info = result.registrationInfo!;
      assert.equal(info.credential.id, b64urlEncode(reg.rawId));
      assert.equal(info.fmt, "none");
      assert.equal(info.userVerified, true);
      // And the JSON parses back to an equal response.
      const back = RegistrationResponse.fromJSON(json);
      assert.deepEqual(JSON.parse(JSON.stringify(back)), json);
    });

    it("accepts the { publicKey } wrapper, as JSON and as a class", async () => {
      const c = await client(9);
      const opts = creation();
      await c.makeCredential({ publicKey: JSON.parse(JSON.stringify(opts)) });
      assert.equal(last().rp.id, RP_ID);
      await c.makeCredential(new CredentialCreationOptions(opts));
      assert.equal(last().rp.id, RP_ID);
      await assert.rejects(
        c.makeCredential({ publicKey: { challenge: "!!" } }),
        isClientError(E.BAD_REQUEST),
      );
    });

    it("an RP ID the origin may not use is refused before the DLL is called", async () => {
      const c = await client(9);
      await assert.rejects(
        c.makeCredential(creation({ rp: { id: "evil.example", name: "Evil" } })),
        isClientError(E.BAD_REQUEST, /evil\.example/),
      );
      assert.equal(ctl.lastRequest(), null);
    });
  });

  describe("WindowsClient: getAssertion", () => {
    async function registered(v = 9, opts: { allowHmacSecret?: boolean } = {}) {
      const c = await client(v, opts);
      const reg = await c.makeCredential(creation({
        authenticatorSelection: { residentKey: "required" },
        extensions: v >= 3 ? { credBlob: bytes(7, 8, 9) } : {},
      }));
      return { c, id: reg.rawId };
    }

    it("maps the options and builds a verifiable-shaped AuthenticationResponse", async () => {
      const { c, id } = await registered();
      const sel = await c.getAssertion(request({
        timeout: 30000,
        allowCredentials: [{ type: "public-key", id, transports: ["ble", "usb"] }],
        hints: ["client-device"],
      }));
      const r = last();
      assert.equal(r.function, "GetAssertion");
      assert.equal(r.rpId, RP_ID, "the collector's RP ID, not undefined");
      assert.equal(r.hwnd, 0x42);
      const o = r.options;
      assert.equal(o.timeoutMs, 30000 + DLL_TIMEOUT_HEADROOM_MS);
      assert.equal(o.userVerification, 2);
      assert.equal(o.attachment, 1);
      assert.deepEqual(o.hints, ["client-device"]);
      assert.deepEqual(o.allowList, [{ id: toHex(id), transports: 0x05 }]);
      assert.equal(o.appId, null);
      assert.equal(sel.length, 1);
      const resp = sel.getResponse(0);
      assert.ok(resp instanceof AuthenticationResponse);
      assert.deepEqual(resp.rawId, id);
      assert.deepEqual(resp.response.userHandle, bytes(1, 2, 3, 4));
      assert.equal(resp.authenticatorAttachment, "cross-platform");
      const ad = resp.response.authenticatorData;
      assert.deepEqual(ad.rpIdHash, sha256(enc(RP_ID)));
      const cd = resp.response.clientDataJSON;
      assert.equal(cd.type, "webauthn.get");
      assert.equal(cd.origin, ORIGIN);
      assert.deepEqual(cd.challenge, fill(32, 0xc2));
      // The fake's "signature" is SHA-256(authData || clientDataJSON), not ECDSA: check that
      // the bytes the DLL signed over are exactly the client data we sent.
      assert.deepEqual(resp.response.signature, sha256(concat(ad.raw, cd.raw)));
      const json = JSON.parse(JSON.stringify(resp));
      assert.deepEqual(JSON.parse(JSON.stringify(AuthenticationResponse.fromJSON(json))), json);
      assert.equal(json.type, "public-key");
      assert.equal(json.id, b64urlEncode(id));
    });

    it("accepts JSON request options and reports the platform attachment", async () => {
      const { c, id } = await registered();
      const sel = await c.getAssertion({
        publicKey: {
          challenge: b64urlEncode(fill(16, 3)),
          rpId: RP_ID,
          allowCredentials: [{ type: "public-key", id: b64urlEncode(id) }],
          userVerification: "discouraged",
        },
      });
      assert.equal(last().options.userVerification, 3);
      assert.equal(sel.getResponse().authenticatorAttachment, "cross-platform");
    });

    it("appid: passed to the DLL and its answer reported", async () => {
      const { c } = await registered();
      const sel = await c.getAssertion(request({
        extensions: { appid: "https://example.com/app-id.json" },
      }));
      assert.equal(last().options.appId, "https://example.com/app-id.json");
      assert.deepEqual(sel.getResponse().clientExtensionResults, { appid: true });
    });

    it("getCredBlob returns the stored blob", async () => {
      const { c } = await registered();
      const sel = await c.getAssertion(request({ extensions: { getCredBlob: true } }));
      assert.deepEqual(last().options.extensions, [{ id: "credBlob", value: true }]);
      assert.deepEqual(sel.getResponse().clientExtensionResults, { getCredBlob: bytes(7, 8, 9) });
    });

    it("largeBlob write then read", async () => {
      const { c, id } = await registered();
      const allowCredentials = [{ type: "public-key", id }];
      const w = await c.getAssertion(request({
        allowCredentials,
        extensions: { largeBlob: { write: enc("blob data") } },
      }));
      assert.equal(last().options.largeBlobOperation, 2);
      assert.equal(last().options.largeBlob, toHex(enc("blob data")));
      assert.deepEqual(w.getResponse().clientExtensionResults, { largeBlob: { written: true } });
      const rd = await c.getAssertion(request({ extensions: { largeBlob: { read: true } } }));
      assert.equal(last().options.largeBlobOperation, 1);
      assert.deepEqual(rd.getResponse().clientExtensionResults, {
        largeBlob: { blob: enc("blob data") },
      });
      // python-fido2 #260: no largeBlob input must not break the response.
      const plain = await c.getAssertion(request());
      assert.deepEqual(plain.getResponse().clientExtensionResults, {});
      await assert.rejects(
        c.getAssertion(request({ extensions: { largeBlob: { write: bytes(1) } } })),
        isClientError(E.BAD_REQUEST, /exactly one credential/),
      );
    });

    it("prf with native PRF: inputs go unhashed, per-credential salts win", async () => {
      const { c, id } = await registered(9);
      const other = fill(16, 0x0f);
      const sel = await c.getAssertion(request({
        allowCredentials: [{ type: "public-key", id }, { type: "public-key", id: other }],
        extensions: {
          prf: {
            eval: { first: enc("global") },
            evalByCredential: { [b64urlEncode(id)]: { first: enc("mine"), second: enc("2nd") } },
          },
        },
      }));
      const o = last().options;
      assert.equal(o.flags, 0);
      assert.deepEqual(o.hmacSecretSaltValues, {
        global: { first: toHex(enc("global")), second: null },
        byCredential: [{
          id: toHex(id),
          salt: { first: toHex(enc("mine")), second: toHex(enc("2nd")) },
        }],
      });
      const prf = sel.getResponse().clientExtensionResults.prf!;
      assert.equal(toHex(prf.results!.first), xorA5(enc("mine")));
      assert.equal(toHex(prf.results!.second!), xorA5(enc("2nd")));
    });

    it("prf without native PRF (API 5): salts hashed per WebAuthn L3, raw flag set", async () => {
      const { c } = await registered(5);
      const sel = await c.getAssertion(request({
        extensions: { prf: { eval: { first: enc("input") } } },
      }));
      const o = last().options;
      assert.equal(o.flags, 0x00100000);
      const salt = prfSalt(enc("input"));
      assert.deepEqual(o.hmacSecretSaltValues.global, { first: toHex(salt), second: null });
      const prf = sel.getResponse().clientExtensionResults.prf!;
      assert.equal(toHex(prf.results!.first), xorA5(salt));
    });

    it("prf.evalByCredential keys must be in allowCredentials", async () => {
      const { c, id } = await registered(9);
      await assert.rejects(
        c.getAssertion(request({
          allowCredentials: [{ type: "public-key", id }],
          extensions: { prf: { evalByCredential: { AAAA: { first: bytes(1) } } } },
        })),
        isClientError(E.BAD_REQUEST, /not in allowCredentials/),
      );
      await assert.rejects(
        c.getAssertion(request({
          extensions: { prf: { evalByCredential: { AAAA: { first: bytes(1) } } } },
        })),
        isClientError(E.BAD_REQUEST, /needs allowCredentials/),
      );
    });

    it("hmacGetSecret: raw 32-byte salts, only with allowHmacSecret", async () => {
      const { c } = await registered(9, { allowHmacSecret: true });
      const sel = await c.getAssertion(request({
        extensions: { hmacGetSecret: { salt1: fill(32, 1), salt2: fill(32, 2) } },
      }));
      const o = last().options;
      assert.equal(o.flags, 0x00100000);
      assert.deepEqual(o.hmacSecretSaltValues.global, {
        first: "01".repeat(32),
        second: "02".repeat(32),
      });
      const out = sel.getResponse().clientExtensionResults.hmacGetSecret!;
      assert.equal(toHex(out.output1), xorA5(fill(32, 1)));
      assert.equal(toHex(out.output2!), xorA5(fill(32, 2)));
      await assert.rejects(
        c.getAssertion(request({ extensions: { hmacGetSecret: { salt1: fill(31, 1) } } })),
        isClientError(E.BAD_REQUEST, /32 bytes/),
      );
      const plain = await client(9);
      await plain.makeCredential(creation());
      await plain.getAssertion(request({ extensions: { hmacGetSecret: { salt1: fill(32, 1) } } }));
      assert.equal(last().options.hmacSecretSaltValues, null);
    });

    it("API 1: extensions the DLL cannot carry are dropped, the assertion still works", async () => {
      const { c } = await registered(1);
      const sel = await c.getAssertion(request({
        extensions: {
          getCredBlob: true,
          largeBlob: { read: true },
          prf: { eval: { first: bytes(1) } },
        },
      }));
      const o = last().options;
      assert.deepEqual(o.extensions, []);
      assert.equal(o.largeBlobOperation, undefined);
      assert.deepEqual(sel.getResponse().clientExtensionResults, {});
    });
  });

  describe("WindowsClient: loading and window handle", () => {
    for (const name of LIBRARY_ENV) {
      it(`loads the library ${name} names when no api is given`, async () => {
        ctl.reset();
        ctl.setApiVersion(9);
        const env = Object.fromEntries(LIBRARY_ENV.map((n) => [n, n === name ? path : undefined]));
        await withEnv(env, async () => {
          const c = new WindowsClient(new DefaultClientDataCollector(ORIGIN));
          try {
            const api = await c.api();
            assert.equal(api.path, path);
            const reg = await c.makeCredential(creation());
            const sel = await c.getAssertion(request({
              allowCredentials: [{ type: "public-key", id: reg.rawId }],
            }));
            assert.deepEqual(sel.getResponse().rawId, reg.rawId);
            const r = last();
            // Without an hwnd option each request asks Windows for a window: foreground,
            // console or desktop, never NULL (the real DLL and the Windows fake reject NULL).
            assert.equal(typeof r.hwnd, "number");
            if (process.platform !== "win32") assert.equal(r.hwnd, 0);
            else assert.notEqual(r.hwnd, 0);
          } finally {
            await c.close();
          }
        });
      });
    }

    it("hwnd may be a function, called per request", async () => {
      const c = await client(9);
      let n = 0;
      const fc = new WindowsClient(new DefaultClientDataCollector(ORIGIN), {
        api: await c.api(),
        hwnd: () => 0x1000 + ++n,
      });
      await fc.makeCredential(creation());
      assert.equal(last().hwnd, 0x1001);
      await fc.getAssertion(request());
      assert.equal(last().hwnd, 0x1002);
    });
  });

  describe("WindowsClient: errors", () => {
    const cases: [keyof typeof HRESULT, number][] = [
      ["NTE_EXISTS", E.DEVICE_INELIGIBLE],
      ["NTE_NOT_FOUND", E.DEVICE_INELIGIBLE],
      ["NTE_DEVICE_NOT_FOUND", E.DEVICE_INELIGIBLE],
      ["NTE_INVALID_PARAMETER", E.BAD_REQUEST],
      ["NTE_NOT_SUPPORTED", E.CONFIGURATION_UNSUPPORTED],
      ["ERROR_NOT_SUPPORTED", E.CONFIGURATION_UNSUPPORTED],
      ["NTE_TOKEN_KEYSET_STORAGE_FULL", E.CONFIGURATION_UNSUPPORTED],
      ["NTE_USER_CANCELLED", E.TIMEOUT],
      ["ERROR_CANCELLED", E.TIMEOUT],
      ["E_NOTIMPL", E.CONFIGURATION_UNSUPPORTED],
      ["E_INVALIDARG", E.BAD_REQUEST],
      ["ERROR_TIMEOUT", E.TIMEOUT],
      ["RPC_S_CALL_FAILED", E.OTHER_ERROR],
    ];

    it("every HRESULT maps onto a ClientError code, with the Windows error as cause", async () => {
      const c = await client(9);
      await c.makeCredential(creation());
      for (const [code, expected] of cases) {
        for (const op of ["mc", "ga"]) {
          ctl.setNextHresult(HRESULT[code]);
          const p = op === "mc" ? c.makeCredential(creation()) : c.getAssertion(request());
          await assert.rejects(p, (e) => {
            isClientError(expected)(e);
            const cause = (e as ClientError).cause as Json;
            assert.equal(cause.hresult, HRESULT[code]);
            assert.equal(cause.code, code);
            assert.match((e as Error).message, new RegExp(cause.errorName));
            return true;
          });
        }
      }
    });

    it("an excluded credential is DEVICE_INELIGIBLE (InvalidStateError)", async () => {
      const c = await client(9);
      const reg = await c.makeCredential(creation());
      await assert.rejects(
        c.makeCredential(creation({ excludeCredentials: [{ type: "public-key", id: reg.rawId }] })),
        isClientError(E.DEVICE_INELIGIBLE, /InvalidStateError/),
      );
    });

    it("a library that cannot be loaded is OTHER_ERROR, and a later call retries", async () => {
      const c = new WindowsClient(new DefaultClientDataCollector(ORIGIN), {
        api: Promise.reject(new Error("no webauthn.dll here")),
      });
      await assert.rejects(c.makeCredential(creation()), isClientError(E.OTHER_ERROR, /loaded/));
      // The next call loads the library itself: a missing one fails the same way...
      await withEnv({ FIDO2_WEBAUTHN_LIB: `${path}.missing` }, async () => {
        await assert.rejects(c.getAssertion(request()), (e) => {
          isClientError(E.OTHER_ERROR, /loaded/)(e);
          assert.ok((e as Error).cause instanceof LibraryLoadError, String((e as Error).cause));
          return true;
        });
      });
      // ...and one that loads works (the failed load was not kept).
      ctl.reset();
      await withEnv({ FIDO2_WEBAUTHN_LIB: path }, async () => {
        await c.makeCredential(creation());
        await c.close();
      });
    });

    it("isAvailable is false off Windows and without the library", async () => {
      if (process.platform !== "win32") assert.equal(await WindowsClient.isAvailable(), false);
    });
  });

  describe("WindowsClient: webauthn calls on a Worker (Bun's default)", () => {
    it("results and typed errors cross the thread boundary intact", async () => {
      ctl.reset();
      ctl.setApiVersion(9);
      const api = await loadWebAuthnInWorker({ path });
      const c = new WindowsClient(new DefaultClientDataCollector(ORIGIN), { api, hwnd: 7 });
      const reg = await c.makeCredential(creation({ extensions: { credProps: true } }));
      assert.equal(last().hwnd, 7);
      assert.deepEqual(reg.clientExtensionResults, { credProps: { rk: false } });
      const sel = await c.getAssertion(request({ extensions: { appid: "https://a.example" } }));
      assert.deepEqual(sel.getResponse().rawId, reg.rawId);
      assert.deepEqual(sel.getResponse().clientExtensionResults, { appid: true });
      ctl.setNextHresult(HRESULT.NTE_NOT_SUPPORTED);
      await assert.rejects(c.makeCredential(creation()), (e) => {
        isClientError(E.CONFIGURATION_UNSUPPORTED, /ConstraintError/)(e);
        assert.equal(((e as ClientError).cause as Json).code, "NTE_NOT_SUPPORTED");
        return true;
      });
      // A FormatError from the binding's input checks, raised inside the Worker.
      await assert.rejects(
        c.makeCredential(creation({ user: { id: fill(65, 1), name: "a", displayName: "A" } })),
        isClientError(E.BAD_REQUEST, /user\.id/),
      );
      // An unsupported feature, also detected inside the Worker (hints need API 8).
      ctl.setApiVersion(7);
      const old = await loadWebAuthnInWorker({ path });
      apis.push(old);
      await assert.rejects(
        old.makeCredential(
          0,
          { id: RP_ID, name: "x" },
          { id: bytes(1), name: "a", displayName: "A" },
          [
            { type: "public-key", alg: -7 },
          ],
          { json: enc("{}") },
          { hints: ["hybrid"] },
        ),
        (e) => e instanceof WebAuthnUnsupportedError && e.requiredApiVersion === 8,
      );
      // Closing stops the Worker: later calls fail at once instead of hanging.
      api.close();
      await assert.rejects(c.getAssertion(request()), isClientError(E.OTHER_ERROR, /closed/));
      api.close(); // idempotent
    });
  });

  describe("the Worker that runs the blocking calls", () => {
    it("does not keep a failed library load: the next call with a good path works", async () => {
      const caller = workerBlockingCaller();
      try {
        await assert.rejects(
          caller.call(`${path}.missing`, "WebAuthNAuthenticatorGetAssertion", [0, 0, 0, 0, 0]),
          /webauthn worker/,
        );
        ctl.reset();
        // NULL everywhere: the fake answers E_INVALIDARG, proving the library was loaded.
        const hr = await caller.call(path, "WebAuthNAuthenticatorGetAssertion", [0, 0, 0, 0, 0]);
        assert.equal(hr >>> 0, HRESULT.E_INVALIDARG);
        await assert.rejects(
          caller.call(path, "WebAuthNFreeAssertion" as never, [0]),
          /bad webauthn call/,
        );
      } finally {
        caller.close();
      }
      await assert.rejects(
        caller.call(path, "WebAuthNAuthenticatorGetAssertion", [0, 0, 0, 0, 0]),
        /closed/,
      );
    });
  });

  describe("WindowsClient: genuine P-256 results pass @simplewebauthn/server", () => {
    // The fake returns authenticator data, a packed self-attestation and an assertion signed
    // here with a real P-256 key. WindowsClient's client data is deterministic for given
    // options and origin, so the test computes it first, signs over authData ‖
    // SHA-256(clientDataJSON), scripts the fake, and then checks that the client sent exactly
    // those bytes and that the server library accepts what the client returned.
    const sk = p256.utils.randomSecretKey();
    const pub = p256.getPublicKey(sk, false);
    const credentialId = sha256(enc("genuine windows credential")).slice(0, 20);
    const cose = encode(
      new Map<number, unknown>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, pub.slice(1, 33)],
        [-3, pub.slice(33)],
      ]),
    );
    const aaguid = fill(16, 0x77);
    const u32 = (n: number) => bytes(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
    const sign = (authData: Uint8Array, clientDataJSON: Uint8Array) =>
      p256.sign(concat(authData, sha256(clientDataJSON)), sk, { format: "der", lowS: true });
    const clientDataOf = async (
      opts: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
    ) => (await new DefaultClientDataCollector(ORIGIN).collectClientData(opts)).clientData.raw;

    async function registration(c: WindowsClient, tamper = false) {
      const json = await generateRegistrationOptions({
        rpName: "Example RP",
        rpID: RP_ID,
        userName: "alice",
        attestationType: "direct",
        authenticatorSelection: { userVerification: "required" },
      });
      const options = CredentialCreationOptions.fromJSON({
        publicKey: JSON.parse(JSON.stringify(json)),
      }).publicKey;
      const clientDataJSON = await clientDataOf(options);
      const authData = concat(
        sha256(enc(RP_ID)),
        bytes(0x45), // UP | UV | AT
        u32(0),
        aaguid,
        bytes(0, credentialId.length),
        credentialId,
        cose,
      );
      const sig = sign(authData, tamper ? enc("other client data") : clientDataJSON);
      const attStmt = encode(new Map<string, unknown>([["alg", -7], ["sig", sig]]));
      const attObj = encode(
        new Map<string, unknown>([
          ["fmt", "packed"],
          ["attStmt", new Map<string, unknown>([["alg", -7], ["sig", sig]])],
          ["authData", authData],
        ]),
      );
      ctl.scriptAttestation({
        fmt: "packed",
        authenticatorData: authData,
        attestationStatement: attStmt,
        attestationObject: attObj,
        credentialId,
      });
      const reg = await c.makeCredential(options);
      assert.equal(last().clientData.json, toHex(clientDataJSON), "the client sent what we signed");
      const verify = () =>
        verifyRegistrationResponse({
          response: JSON.parse(JSON.stringify(reg)),
          expectedChallenge: json.challenge,
          expectedOrigin: ORIGIN,
          expectedRPID: RP_ID,
          requireUserVerification: true,
        });
      return { json, reg, verify };
    }

    async function authentication(
      c: WindowsClient,
      userHandle: Uint8Array,
      counter: number,
      tamper = false,
    ) {
      const json = await generateAuthenticationOptions({
        rpID: RP_ID,
        allowCredentials: [{ id: b64urlEncode(credentialId) }],
        userVerification: "required",
      });
      const options = CredentialRequestOptions.fromJSON({
        publicKey: JSON.parse(JSON.stringify(json)),
      }).publicKey;
      const clientDataJSON = await clientDataOf(options);
      const authData = concat(sha256(enc(RP_ID)), bytes(0x05), u32(counter));
      const signature = sign(authData, tamper ? enc("other client data") : clientDataJSON);
      ctl.scriptAssertion({ authenticatorData: authData, signature, credentialId, userHandle });
      const sel = await c.getAssertion(JSON.parse(JSON.stringify(json)));
      const r = last();
      assert.equal(r.clientData.json, toHex(clientDataJSON), "the client sent what we signed");
      assert.deepEqual(r.options.allowList, [{ id: toHex(credentialId), transports: 0 }]);
      return { json, resp: sel.getResponse(0) };
    }

    it("registration (packed self-attestation) and assertion verify", async () => {
      const c = await client(9);
      const { json: regOptions, reg, verify } = await registration(c);
      assert.equal(reg.response.attestationObject.fmt, "packed", "direct attestation is kept");
      const result = await verify();
      assert.equal(result.verified, true);
      const info = result.registrationInfo!;
      assert.equal(info.fmt, "packed");
      assert.equal(info.userVerified, true);
      assert.equal(info.credential.id, b64urlEncode(credentialId));
      assert.deepEqual(new Uint8Array(info.credential.publicKey), cose);
      assert.equal(info.aaguid, "77777777-7777-7777-7777-777777777777");

      const userHandle = b64urlDecode(regOptions.user.id);
      const { json, resp } = await authentication(c, userHandle, 1);
      assert.deepEqual(resp.response.userHandle, userHandle);
      const auth = await verifyAuthenticationResponse({
        response: JSON.parse(JSON.stringify(resp)),
        expectedChallenge: json.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        credential: { id: info.credential.id, publicKey: info.credential.publicKey, counter: 0 },
        requireUserVerification: true,
      });
      assert.equal(auth.verified, true);
      assert.equal(auth.authenticationInfo.newCounter, 1);
      assert.equal(auth.authenticationInfo.userVerified, true);
      assert.equal(auth.authenticationInfo.credentialID, b64urlEncode(credentialId));
    });

    it("signatures over other client data fail the same verification", async () => {
      const c = await client(9);
      const bad = await registration(c, true);
      const regOk = await bad.verify().then((r) => r.verified, () => false);
      assert.equal(regOk, false, "a tampered attestation signature must not verify");

      const good = await (await registration(c)).verify();
      const info = good.registrationInfo!;
      const { json, resp } = await authentication(c, bytes(1), 2, true);
      const authOk = await verifyAuthenticationResponse({
        response: JSON.parse(JSON.stringify(resp)),
        expectedChallenge: json.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        credential: { id: info.credential.id, publicKey: info.credential.publicKey, counter: 0 },
      }).then((r) => r.verified, () => false);
      assert.equal(authOk, false, "a tampered assertion signature must not verify");
    });
  });

  describe("WindowsClient: platform credentials (API 4+)", () => {
    const hello = (id: Uint8Array, rpId: string, userName: string) => ({
      id,
      rpId,
      rpName: rpId,
      userId: bytes(0x55),
      userName,
      displayName: userName.toUpperCase(),
      removable: true,
    });

    it("lists all or one RP's credentials, and deletes one", async () => {
      const c = await client(9);
      ctl.addPlatformCredential(hello(bytes(1, 1), RP_ID, "alice"));
      ctl.addPlatformCredential(hello(bytes(2, 2), "other.example", "bob"));
      ctl.addPlatformCredential(hello(bytes(3, 3), RP_ID, "carol"));
      const all = await c.listPlatformCredentials();
      assert.deepEqual(all.map((x) => x.user.name), ["alice", "bob", "carol"]);
      assert.deepEqual(all.map((x) => x.rp.id), [RP_ID, "other.example", RP_ID]);
      assert.deepEqual(all[0].user, { id: bytes(0x55), name: "alice", displayName: "ALICE" });
      const mine = await c.listPlatformCredentials(RP_ID);
      assert.equal(last().rpId, RP_ID);
      assert.deepEqual(mine.map((x) => x.credentialId), [bytes(1, 1), bytes(3, 3)]);

      await c.deletePlatformCredential(bytes(1, 1));
      assert.equal(last().credentialId, "0101");
      assert.equal(ctl.platformCredentialCount(), 2);
      const after = await c.listPlatformCredentials(RP_ID);
      assert.deepEqual(after.map((x) => x.credentialId), [bytes(3, 3)]);
      const st = ctl.state();
      assert.equal(st.listsFreed, st.listsAllocated);
      assert.equal(st.badFrees, 0);
    });

    it("an empty store lists as []; deleting an unknown id is DEVICE_INELIGIBLE", async () => {
      const c = await client(9);
      assert.deepEqual(await c.listPlatformCredentials(), []);
      await assert.rejects(
        c.deletePlatformCredential(bytes(7)),
        isClientError(E.DEVICE_INELIGIBLE, /NTE_NOT_FOUND/),
      );
    });

    it("bad input is BAD_REQUEST; API 3 is CONFIGURATION_UNSUPPORTED", async () => {
      const c = await client(9);
      await assert.rejects(c.listPlatformCredentials(""), isClientError(E.BAD_REQUEST));
      await assert.rejects(
        c.deletePlatformCredential(new Uint8Array(0)),
        isClientError(E.BAD_REQUEST),
      );
      const old = await client(3);
      await assert.rejects(
        old.listPlatformCredentials(),
        isClientError(E.CONFIGURATION_UNSUPPORTED, /API version 4/),
      );
      await assert.rejects(
        old.deletePlatformCredential(bytes(1)),
        isClientError(E.CONFIGURATION_UNSUPPORTED),
      );
      assert.equal(ctl.lastRequest(), null);
    });

    it("work on the Worker-backed api too (Bun's default)", async () => {
      ctl.reset();
      ctl.setApiVersion(9);
      ctl.addPlatformCredential(hello(bytes(4), RP_ID, "dave"));
      const api = await loadWebAuthnInWorker({ path });
      apis.push(api);
      const c = new WindowsClient(new DefaultClientDataCollector(ORIGIN), { api });
      assert.deepEqual((await c.listPlatformCredentials()).map((x) => x.user.name), ["dave"]);
      await c.deletePlatformCredential(bytes(4));
      assert.deepEqual(await c.listPlatformCredentials(), []);
    });
  });

  /** Polls `cond` every 10 ms until it holds; fails after `ms`. */
  async function waitUntil(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  describe("WindowsClient: close() while a webauthn.dll call is blocked", () => {
    // "linger.example" blocks like "block.example", keeps running 300 ms after its cancel, then
    // re-reads the request: the fake's `running` and `lingerCorrupt` show whether close() let
    // go of the request memory (or unloaded the library) while the DLL still used it.
    const lingering = new DefaultClientDataCollector("https://linger.example");
    const calls: [string, (c: WindowsClient) => Promise<unknown>][] = [
      ["makeCredential", (c) => c.makeCredential(creation({ timeout: 60_000 }))],
      ["getAssertion", (c) => c.getAssertion(request({ timeout: 60_000 }))],
    ];
    for (const [name, call] of calls) {
      it(`${name}: close() cancels it and returns only after the DLL is done with the request`, async () => {
        ctl.reset();
        ctl.setApiVersion(9);
        await withEnv({ FIDO2_WEBAUTHN_LIB: path, FIDO2_WEBAUTHN_PATH: undefined }, async () => {
          // The client loads the library itself (on Bun with the Worker), so close() unloads it.
          const c = new WindowsClient(lingering, { hwnd: 1 });
          const pending = call(c);
          pending.catch(() => {});
          await waitUntil(() => (ctl.state() as Json).running === 1, "the call to start");
          const t0 = Date.now();
          await c.close();
          const ms = Date.now() - t0;
          const st = ctl.state() as Json;
          assert.equal(
            st.running,
            0,
            `close() returned after ${ms} ms with the call still running`,
          );
          assert.equal(st.lingerChecks, 1, JSON.stringify(st));
          assert.equal(st.lingerCorrupt, 0, st.lingerError);
          assert.ok(ms >= 250 && ms < 5000, `close() took ${ms} ms (the fake lingers 300 ms)`);
          // close() cancelled the call with its cancellation id; the call says it was closed.
          assert.equal(st.lastCancelled, (ctl.lastRequest() as Json).options.cancellationId);
          await assert.rejects(pending, isClientError(E.OTHER_ERROR, /closed/));
        });
      });
    }
  });

  describe("webauthn binding: close() with calls in flight", () => {
    const mc = (api: WebAuthnApi, options: Record<string, unknown>) =>
      api.makeCredential(
        1,
        { id: "linger.example", name: "Lingering" },
        { id: bytes(1, 2), name: "u", displayName: "U" },
        [{ type: "public-key", alg: -7 }],
        { json: enc('{"type":"webauthn.create"}') },
        options,
      );
    // Bun's FFI would block the event loop on the direct path: there only the Worker runs.
    const loaders: [string, (o: { closeTimeoutMs?: number }) => Promise<WebAuthnApi>][] = [
      ["Worker", (o) => loadWebAuthnInWorker({ path, ...o })],
      ...(runtime === "bun" ? [] : [
        ["nonblocking FFI", (o: { closeTimeoutMs?: number }) => loadWebAuthn({ path, ...o })],
      ] as [string, (o: { closeTimeoutMs?: number }) => Promise<WebAuthnApi>][]),
    ];
    for (const [name, load] of loaders) {
      it(`${name}: a call close() cannot cancel keeps its memory and the DLL until it returns`, async () => {
        ctl.reset();
        ctl.setApiVersion(9);
        const api = await load({ closeTimeoutMs: 200 });
        // No cancellationId: only the DLL's own timeout (1 s here) ends the call.
        const pending = mc(api, { timeoutMs: 1000 });
        pending.catch(() => {});
        await waitUntil(() => (ctl.state() as Json).running === 1, "the call to start");
        const t0 = Date.now();
        await assert.rejects(api.close(), (e) => {
          assert.ok(e instanceof WebAuthnCloseTimeoutError, String(e));
          assert.deepEqual(e.operations, ["WebAuthNAuthenticatorMakeCredential"]);
          assert.equal(e.uncancellable, true);
          assert.match(e.message, /AbortSignal or a timeout/);
          return true;
        });
        const waited = Date.now() - t0;
        assert.ok(waited >= 150 && waited < 900, `close() waited ${waited} ms, not ~200`);
        assert.equal((ctl.state() as Json).running, 1, "the call runs on after close() gave up");
        // New calls are refused at once; the running one ends with the DLL's own timeout.
        await assert.rejects(mc(api, {}), WebAuthnClosedError);
        await assert.rejects(pending, (e) => {
          assert.ok(e instanceof WebAuthnClosedError, String(e));
          assert.equal((e.cause as WindowsApiError).code, "ERROR_TIMEOUT");
          return true;
        });
        const st = ctl.state() as Json;
        assert.equal(st.running, 0);
        assert.equal(st.lingerChecks, 1);
        assert.equal(st.lingerCorrupt, 0, st.lingerError);
        assert.equal(st.badFrees, 0);
        assert.equal(st.live, 0, "every result the DLL allocated was freed");
        await assert.rejects(api.close(), WebAuthnCloseTimeoutError); // the same close
        assert.throws(() => api.getCancellationId(), WebAuthnClosedError);
      });

      it(`${name}: close() cancels a call with a cancellation id and resolves after it`, async () => {
        ctl.reset();
        ctl.setApiVersion(9);
        const api = await load({});
        const guid = api.getCancellationId();
        const pending = mc(api, { cancellationId: guid });
        pending.catch(() => {});
        await waitUntil(() => (ctl.state() as Json).running === 1, "the call to start");
        const closing = api.close();
        assert.equal(api.close(), closing, "a second close() is the same wait");
        await closing;
        const st = ctl.state() as Json;
        assert.equal(st.running, 0);
        assert.equal(st.lingerCorrupt, 0, st.lingerError);
        assert.equal(st.lastCancelled, toHex(guid), "close() cancelled the call by its id");
        await assert.rejects(pending, (e) => {
          assert.ok(e instanceof WebAuthnClosedError, String(e));
          assert.equal((e.cause as WindowsApiError).code, "NTE_USER_CANCELLED");
          return true;
        });
      });
    }

    it("closeTimeoutMs must be a number of milliseconds", async () => {
      for (const bad of [-1, Number.NaN, "5" as unknown as number, 2 ** 32]) {
        await assert.rejects(loadWebAuthn({ path, closeTimeoutMs: bad }), FormatError, String(bad));
      }
    });

    it("the Worker runner's close() lets a blocked call finish, then refuses new ones", async () => {
      ctl.reset();
      ctl.setApiVersion(9);
      const caller = workerBlockingCaller();
      const api = await loadWebAuthn({ path, blockingCaller: caller });
      apis.push(api);
      const pending = mc(api, { timeoutMs: 500 });
      pending.catch(() => {});
      await waitUntil(() => (ctl.state() as Json).running === 1, "the call to start");
      caller.close(); // not the binding's close(): the Worker alone is told to stop
      // The call ends as the DLL says (its own timeout), with its memory intact meanwhile.
      await assert.rejects(pending, (e) => {
        assert.ok(e instanceof WindowsApiError, String(e));
        assert.equal(e.code, "ERROR_TIMEOUT");
        return true;
      });
      const st = ctl.state() as Json;
      assert.equal(st.lingerChecks, 1);
      assert.equal(st.lingerCorrupt, 0, st.lingerError);
      await assert.rejects(
        caller.call(path, "WebAuthNAuthenticatorGetAssertion", [0, 0, 0, 0, 0]),
        /closed/,
      );
    });
  });

  describe("WindowsClient: cancellation", () => {
    // "block.example" makes the fake wait up to 5 s for WebAuthNCancelCurrentOperation.
    const blocking = new DefaultClientDataCollector("https://block.example");

    /** Bun's FFI blocks the event loop, so there the blocking call runs on a Worker. */
    async function cancellableApi(v = 9): Promise<WebAuthnApi> {
      ctl.reset();
      ctl.setApiVersion(v);
      const api = runtime === "bun"
        ? await loadWebAuthnInWorker({ path })
        : await loadWebAuthn({ path });
      apis.push(api);
      return api;
    }

    it("an AbortSignal cancels a pending makeCredential with its cancellation id", async () => {
      const api = await cancellableApi();
      const c = new WindowsClient(blocking, { api, hwnd: 1 });
      const ctrl = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ctrl.abort(), 150);
      await assert.rejects(
        c.makeCredential(creation(), { signal: ctrl.signal }),
        isClientError(E.TIMEOUT, /cancelled/),
      );
      const ms = Date.now() - t0;
      assert.ok(ms >= 100 && ms < 3000, `took ${ms} ms`);
      const r = ctl.lastRequest() as Json;
      assert.equal(r.hresult, HRESULT.NTE_USER_CANCELLED);
      assert.equal(r.options.cancellationId.length, 32);
      const st = ctl.state() as Json;
      assert.ok(st.cancelCalls >= 1, JSON.stringify(st));
      assert.equal(st.lastCancelled, r.options.cancellationId);
      assert.equal(ctrl.signal.aborted, true);
    });

    it("options.timeout cancels a pending getAssertion (TIMEOUT)", async () => {
      const api = await cancellableApi();
      const c = new WindowsClient(blocking, { api, hwnd: 1 });
      const t0 = Date.now();
      await assert.rejects(
        c.getAssertion(request({ timeout: 200 })),
        isClientError(E.TIMEOUT),
      );
      const ms = Date.now() - t0;
      assert.ok(ms >= 150 && ms < 3000, `took ${ms} ms`);
      const r = ctl.lastRequest() as Json;
      assert.equal(r.options.timeoutMs, 200 + DLL_TIMEOUT_HEADROOM_MS);
      assert.equal((ctl.state() as Json).lastCancelled, r.options.cancellationId);
    });

    it("the DLL's own timeout has headroom: our cancel, not its ERROR_TIMEOUT, ends the call", async () => {
      // The fake honours dwTimeoutMilliseconds; without headroom both timers fire together.
      const api = await cancellableApi();
      const c = new WindowsClient(blocking, { api, hwnd: 1 });
      for (const timeout of [50, 300]) {
        await assert.rejects(c.makeCredential(creation({ timeout })), (e) => {
          isClientError(E.TIMEOUT, /cancelled/)(e);
          const cause = (e as ClientError).cause as Json;
          assert.equal(cause.code, "NTE_USER_CANCELLED", `timeout ${timeout}: ${cause.message}`);
          return true;
        });
        assert.equal((ctl.lastRequest() as Json).options.timeoutMs, timeout + 10_000);
      }
    });

    it("a cancel sent before the DLL started the operation is repeated until it lands", async () => {
      // The strict fake ignores a cancel for an operation it does not run yet, as webauthn.dll
      // does; the Worker (Bun) or FFI thread (Deno) may start the call after the abort.
      const api = await cancellableApi();
      ctl.setStartDelay(400);
      const c = new WindowsClient(blocking, { api, hwnd: 1 });
      const ctrl = new AbortController();
      setTimeout(() => ctrl.abort(), 20);
      const t0 = Date.now();
      await assert.rejects(
        c.getAssertion(request(), { signal: ctrl.signal }),
        isClientError(E.TIMEOUT, /cancelled/),
      );
      const ms = Date.now() - t0;
      assert.ok(ms < 2500, `took ${ms} ms: the early cancel was lost (the fake waits 5 s)`);
      const st = ctl.state() as Json;
      assert.ok(st.ignoredCancels >= 1, JSON.stringify(st));
      assert.equal(st.lastCancelled, (ctl.lastRequest() as Json).options.cancellationId);
    });

    it("a user closing the Windows dialog gets the code a declined touch gets in Fido2Client", async () => {
      const va = new VirtualAuthenticator({ userPresence: () => "deny" });
      const device = await va.device();
      let ctapCode = -1;
      try {
        const f = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN));
        await f.makeCredential(creation()).catch((e) => (ctapCode = (e as ClientError).code));
      } finally {
        await device.close();
      }
      assert.equal(ctapCode, E.TIMEOUT);
      const c = await client(9);
      for (const hr of [HRESULT.NTE_USER_CANCELLED, HRESULT.ERROR_CANCELLED]) {
        ctl.setNextHresult(hr);
        await assert.rejects(c.makeCredential(creation()), (e) => {
          assert.equal((e as ClientError).code, ctapCode, (e as Error).message);
          return true;
        });
      }
    });

    it("a signal aborted before the call never reaches the DLL", async () => {
      const api = await cancellableApi();
      const c = new WindowsClient(new DefaultClientDataCollector(ORIGIN), { api, hwnd: 1 });
      await assert.rejects(
        c.makeCredential(creation(), { signal: AbortSignal.abort() }),
        isClientError(E.TIMEOUT),
      );
      assert.equal(ctl.lastRequest(), null);
      assert.equal((ctl.state() as Json).cancellationIds, 0);
    });

    it("a completed call leaves the caller's signal untouched and sends no cancel", async () => {
      const api = await cancellableApi();
      const c = new WindowsClient(new DefaultClientDataCollector(ORIGIN), { api, hwnd: 1 });
      const ctrl = new AbortController();
      await c.makeCredential(creation(), { signal: ctrl.signal });
      await c.getAssertion(request(), { signal: ctrl.signal });
      assert.equal(ctrl.signal.aborted, false, "python-fido2 sets the caller's event here");
      const st = ctl.state() as Json;
      assert.equal(st.cancellationIds, 2);
      assert.equal(st.cancelCalls, 0);
      ctrl.abort(); // after completion: nothing to cancel, nothing thrown
      assert.equal((ctl.state() as Json).cancelCalls, 0);
    });
  });
}
