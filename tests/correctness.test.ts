// Issue 13: client bugs found in review, misuse errors and python-fido2 parity, each with
// the one outcome a correct client produces (every test here failed before its fix).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { PinUi } from "./helpers/pin_ui.ts";
import { CTAP_STATUS, type CtapDevice, CtapError } from "../src/ctap.ts";
import { Ctap1 } from "../src/ctap1.ts";
import { VirtualAuthenticator, type VirtualAuthenticatorOptions } from "../src/virtual/mod.ts";
import {
  CredentialCreationOptions,
  CredentialRequestOptions,
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
} from "../src/webauthn.ts";
import { b64urlEncode, randomBytes, sha256, utf8Encode } from "../src/utils.ts";

const ORIGIN = "https://example.com";
const devices: CtapDevice[] = [];
after(async () => {
  for (const d of devices) await d.close();
});

/** A device that records the rpId (CBOR key 1 of makeCredential's rp / getAssertion). */
async function open(opts: VirtualAuthenticatorOptions = {}) {
  const va = new VirtualAuthenticator(opts);
  const device = await va.device();
  devices.push(device);
  return { va, device };
}

function regJson(extra: Record<string, unknown> = {}) {
  return {
    rp: { id: "example.com", name: "Example" },
    user: { id: b64urlEncode(randomBytes(16)), name: "alice", displayName: "Alice" },
    challenge: b64urlEncode(randomBytes(32)),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    ...extra,
  };
}

async function rejectsWith(p: Promise<unknown>, code: number, cause?: number) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected ClientError, got ${e}`);
    assert.equal(e.code, code, `code ${e.code} (${e.message}; cause ${e.cause})`);
    if (cause !== undefined) {
      assert.ok(e.cause instanceof CtapError, `cause ${e.cause}`);
      assert.equal((e.cause as CtapError).code, cause);
    }
    return true;
  });
}

describe("client bugs (issue 13)", () => {
  it("1: appidExclude with excludeCredentials on a PIN-protected CTAP 2.1 key finds the U2F credential", async () => {
    const appid = "https://example.com/appid.json";
    const { device } = await open({ pin: "1234" });
    const reg = await new Ctap1(device).register(randomBytes(32), sha256(utf8Encode(appid)));
    const client = new Fido2Client(
      device,
      new DefaultClientDataCollector(ORIGIN),
      new PinUi("1234"),
    );
    const exclude = [{ type: "public-key", id: b64urlEncode(reg.keyHandle) }];
    // Excluded under the AppID: CREDENTIAL_EXCLUDED after the touch, not PIN_AUTH_INVALID.
    await rejectsWith(
      client.makeCredential(
        regJson({ excludeCredentials: exclude, extensions: { appidExclude: appid } }),
      ),
      ClientError.ERR.DEVICE_INELIGIBLE,
      CTAP_STATUS.CREDENTIAL_EXCLUDED,
    );
    // An unrelated exclude entry under appidExclude registers normally with the PIN.
    const other = [{ type: "public-key", id: b64urlEncode(randomBytes(64)) }];
    const r = await client.makeCredential(
      regJson({ excludeCredentials: other, extensions: { appidExclude: appid } }),
    );
    assert.equal(r.response.attestationObject.authData.flags & 0x04, 0x04, "UV flag (PIN)");
  });

  for (const where of ["wrapper", "both"] as const) {
    it(`2: Fido2Client honours the signal on the { publicKey, signal } wrapper (${where})`, async () => {
      let release: (() => void) | undefined;
      let block = false;
      const { device } = await open({
        userPresence: () => block ? new Promise((r) => (release = () => r("approve"))) : "approve",
      });
      const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN));
      const cred = await client.makeCredential(regJson());
      block = true;
      const ac = new AbortController();
      const opts = new CredentialCreationOptions(
        PublicKeyCredentialCreationOptions.fromJSON(regJson()),
        ac.signal,
      );
      const call = where === "both" ? { signal: new AbortController().signal } : {};
      const t0 = Date.now();
      const p = client.makeCredential(opts, call);
      setTimeout(() => ac.abort(), 300);
      await rejectsWith(p, ClientError.ERR.TIMEOUT);
      // The key never answered (the touch is still pending): only the signal ended the call.
      assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
      release?.();
      // The same for getAssertion's wrapper.
      const ac2 = new AbortController();
      const req = new CredentialRequestOptions(
        PublicKeyCredentialRequestOptions.fromJSON({
          challenge: b64urlEncode(randomBytes(32)),
          rpId: "example.com",
          allowCredentials: [{ type: "public-key", id: b64urlEncode(cred.rawId) }],
        }),
        ac2.signal,
      );
      const p2 = client.getAssertion(req, call);
      setTimeout(() => ac2.abort(), 300);
      await rejectsWith(p2, ClientError.ERR.TIMEOUT);
      release?.();
    });
  }

  it("3: an internationalised RP ID is sent to the key in its ASCII (punycode) form", async () => {
    const { device } = await open();
    const sent: string[] = [];
    const { decode } = await import("../src/cbor.ts");
    const spy: CtapDevice = {
      capabilities: device.capabilities,
      call: (cmd, data, o) => {
        if (data?.[0] === 0x01) {
          const rp = (decode(data.subarray(1)) as Map<number, Map<string, string>>).get(2)!;
          sent.push(rp.get("id")!);
        }
        if (data?.[0] === 0x02) {
          sent.push((decode(data.subarray(1)) as Map<number, string>).get(1)!);
        }
        return device.call(cmd, data, o);
      },
      close: () => device.close(),
    };
    const origin = "https://xn--bcher-kva.example";
    const client = new Fido2Client(spy, new DefaultClientDataCollector(origin));
    const r = await client.makeCredential(
      regJson({
        rp: { id: "bücher.example", name: "B" },
        authenticatorSelection: { residentKey: "required" },
      }),
    );
    const ascii = "xn--bcher-kva.example";
    assert.deepEqual(
      r.response.attestationObject.authData.rpIdHash,
      sha256(utf8Encode(ascii)),
    );
    const sel = await client.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: "bücher.example",
    });
    assert.deepEqual(
      sel.getResponse().response.authenticatorData.rpIdHash,
      sha256(utf8Encode(ascii)),
    );
    assert.deepEqual(sent, [ascii, ascii]);
  });

  it("4: the U2F fallback skips credential IDs over 255 bytes instead of failing", async () => {
    const { device } = await open({ u2fOnly: true });
    const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN));
    const reg = await client.makeCredential(regJson());
    const long = { type: "public-key", id: b64urlEncode(randomBytes(300)) };
    const mine = { type: "public-key", id: b64urlEncode(reg.rawId) };
    // Registration: the long exclude entry is skipped; the real one still excludes.
    await client.makeCredential(regJson({ excludeCredentials: [long] }));
    await rejectsWith(
      client.makeCredential(regJson({ excludeCredentials: [long, mine] })),
      ClientError.ERR.DEVICE_INELIGIBLE,
      CTAP_STATUS.CREDENTIAL_EXCLUDED,
    );
    // Authentication: the long ID is skipped and the key's own credential signs.
    const sel = await client.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: "example.com",
      allowCredentials: [long, mine],
    });
    assert.deepEqual(sel.getResponse().rawId, reg.rawId);
  });

  for (const form of ["payment", "thirdPartyPayment"] as const) {
    it(`6: the payment extension input (${form}) reaches a CTAP 2.2 key as thirdPartyPayment`, async () => {
      const { device, va } = await open();
      const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN));
      const extensions = form === "payment"
        ? { payment: { isPayment: true } }
        : { thirdPartyPayment: true };
      const json = () =>
        regJson({ extensions, authenticatorSelection: { residentKey: "required" } });
      // Both through the JSON form and the typed class.
      await client.makeCredential(json());
      await client.makeCredential(PublicKeyCredentialCreationOptions.fromJSON(json()));
      const creds = va.authenticator.credentials.all();
      assert.equal(creds.length, 2);
      for (const c of creds) assert.equal(c.thirdPartyPayment, true);
    });
  }
});

/** Asserts a TypeError whose message names each of `parts`. */
function typeErrorNaming(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TypeError, `expected TypeError, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${p}" not in: ${e.message}`);
    return true;
  });
}

describe("misuse gets a TypeError at the call that is wrong (issue 13)", () => {
  it("a Promise of a device (forgotten await) is named as such by every constructor", async () => {
    const va = new VirtualAuthenticator();
    const pending = va.device();
    const collector = new DefaultClientDataCollector(ORIGIN);
    const { Ctap2 } = await import("../src/ctap2/base.ts");
    const { Info } = await import("../src/ctap2/info.ts");
    const info = new Info(new Map([[1, ["FIDO_2_0"]]]));
    // deno-lint-ignore no-explicit-any
    const anyPending = pending as any;
    typeErrorNaming(
      () => new Fido2Client(anyPending, collector),
      "a Promise",
      "await",
      "CtapDevice",
    );
    typeErrorNaming(() => new Ctap2(anyPending, info), "a Promise", "await", "CtapDevice");
    typeErrorNaming(() => new Ctap1(anyPending), "a Promise", "await", "CtapDevice");
    await assert.rejects(Ctap2.create(anyPending), TypeError);
    const device = await pending;
    devices.push(device);
    // A Ctap2 that was not awaited, given to the command-set classes.
    const { ClientPin } = await import("../src/ctap2/pin.ts");
    const { CredentialManagement } = await import("../src/ctap2/credman.ts");
    const { LargeBlobs } = await import("../src/ctap2/blob.ts");
    const { Config } = await import("../src/ctap2/config.ts");
    const { BioEnrollment } = await import("../src/ctap2/bio.ts");
    const ctapPromise = Ctap2.create(device);
    // deno-lint-ignore no-explicit-any
    const p = ctapPromise as any;
    typeErrorNaming(() => new ClientPin(p), "a Promise", "Ctap2.create");
    typeErrorNaming(() => new CredentialManagement(p, p, new Uint8Array(32)), "a Promise");
    typeErrorNaming(() => new LargeBlobs(p), "a Promise");
    typeErrorNaming(() => new Config(p), "a Promise");
    typeErrorNaming(() => new BioEnrollment(p, 1), "a Promise");
    await ctapPromise;
  });

  it("other wrong arguments name what was given and what is expected", async () => {
    const { device } = await open();
    const { Ctap2 } = await import("../src/ctap2/base.ts");
    // deno-lint-ignore no-explicit-any
    const any = (v: unknown) => v as any;
    typeErrorNaming(() => new Fido2Client(any({}), ORIGIN), "a plain object", "CtapDevice");
    typeErrorNaming(() => new Fido2Client(any(undefined), ORIGIN), "undefined", "CtapDevice");
    typeErrorNaming(
      () => new Fido2Client(device, any(42)),
      "number 42",
      "ClientDataCollector",
      "origin string",
    );
    typeErrorNaming(() => new Fido2Client(device, ORIGIN, undefined, any("x")), "extensions");
    typeErrorNaming(() => new Ctap2(device, any(undefined)), "Ctap2.create(device)", "undefined");
  });
});

describe("python-fido2 parity (issue 13)", () => {
  it("new Fido2Client(device, origin) makes a DefaultClientDataCollector for the origin", async () => {
    const { device } = await open();
    const client = new Fido2Client(device, ORIGIN);
    const r = await client.makeCredential(regJson());
    assert.equal(r.response.clientDataJSON.origin, ORIGIN);
    // The collector's RP ID check still applies.
    await rejectsWith(
      new Fido2Client(device, "https://evil.example").makeCredential(regJson()),
      ClientError.ERR.BAD_REQUEST,
    );
  });

  it("Fido2Client.info is there synchronously after create; before ready() it says what to do", async () => {
    const { device } = await open();
    const early = new Fido2Client(device, ORIGIN);
    assert.throws(
      () => early.info,
      (e: unknown) =>
        e instanceof ClientError && e.code === ClientError.ERR.BAD_REQUEST &&
        e.message.includes("Fido2Client.create"),
    );
    const client = await Fido2Client.create(device, ORIGIN);
    assert.ok(client.info.versions.includes("FIDO_2_1"));
  });

  it("getAssertions() returns the raw CTAP2 responses; getClientAssertions() the client view", async () => {
    const { device } = await open();
    const client = new Fido2Client(device, ORIGIN);
    for (const name of ["alice", "bob"]) {
      await client.makeCredential(
        regJson({
          user: { id: b64urlEncode(utf8Encode(name)), name, displayName: name },
          authenticatorSelection: { residentKey: "required", userVerification: "discouraged" },
          extensions: { credProps: true },
        }),
      );
    }
    const sel = await client.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: "example.com",
    });
    const { AssertionResponse } = await import("../src/ctap2/base.ts");
    const raw = sel.getAssertions();
    assert.equal(raw.length, 2);
    assert.ok(raw[0] instanceof AssertionResponse);
    assert.equal(raw[0].numberOfCredentials, 2);
    assert.equal(raw[1].numberOfCredentials, undefined);
    assert.deepEqual(
      raw.map((a) => a.credential?.id),
      sel.getClientAssertions().map((a) => a.credentialId),
    );
    assert.deepEqual(
      raw.map((a) => a.user?.id).sort(),
      [utf8Encode("alice"), utf8Encode("bob")].sort(),
    );
    assert.deepEqual(sel.getClientAssertions()[0].clientExtensionResults, {});
    // A U2F key's assertion is given in the CTAP2 form too.
    const u2f = await open({ u2fOnly: true });
    const c1 = new Fido2Client(u2f.device, ORIGIN);
    const reg = await c1.makeCredential(regJson());
    const s1 = await c1.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: "example.com",
      allowCredentials: [{ type: "public-key", id: b64urlEncode(reg.rawId) }],
    });
    assert.deepEqual(s1.getAssertions()[0].credential?.id, reg.rawId);
    assert.deepEqual(s1.getAssertions()[0].signature, s1.getResponse().response.signature);
  });

  it("DefaultClientDataCollector: getRpId, verifyRpId and getRequestType are overridable hooks", async () => {
    const seen: string[] = [];
    class AppCollector extends DefaultClientDataCollector {
      override getRequestType(
        o: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
      ): string {
        seen.push("type");
        return super.getRequestType(o);
      }
      override getRpId(): string {
        seen.push("rpId");
        return "example.com";
      }
      override verifyRpId(rpId: string, origin?: string): Promise<void> {
        seen.push(`verify ${rpId} ${origin}`);
        return Promise.resolve(); // An app-link origin that the default check would refuse.
      }
    }
    const collector = new AppCollector("android:apk-key-hash:abc");
    const { clientData, rpId } = await collector.collectClientData(
      PublicKeyCredentialCreationOptions.fromJSON(regJson({ rp: { name: "X" } })),
    );
    assert.equal(rpId, "example.com");
    assert.equal(clientData.type, "webauthn.create");
    assert.deepEqual(seen, ["type", "rpId", "verify example.com android:apk-key-hash:abc"]);
    // The default verifyRpId refuses with BAD_REQUEST.
    await rejectsWith(
      new DefaultClientDataCollector(ORIGIN).verifyRpId("other.example"),
      ClientError.ERR.BAD_REQUEST,
    );
  });

  it("each default extension says isSupported(ctap) from getInfo", async () => {
    const { defaultExtensions } = await import("../src/client/extensions.ts");
    const { Ctap2 } = await import("../src/ctap2/base.ts");
    const support = async (opts: VirtualAuthenticatorOptions) => {
      const { device } = await open(opts);
      const ctap = await Ctap2.create(device);
      return Object.fromEntries(
        defaultExtensions().map((e) => [e.constructor.name, e.isSupported?.(ctap)]),
      );
    };
    assert.deepEqual(await support({}), {
      HmacSecretExtension: true,
      LargeBlobExtension: true,
      CredBlobExtension: true,
      CredProtectExtension: true,
      MinPinLengthExtension: true,
      CredPropsExtension: true,
      ThirdPartyPaymentExtension: true,
    });
    // ctap21: false is the "ctap2.0" profile: hmac-secret only (credProtect came with 2.1-PRE).
    assert.deepEqual(await support({ ctap21: false }), {
      HmacSecretExtension: true,
      LargeBlobExtension: false,
      CredBlobExtension: false,
      CredProtectExtension: false,
      MinPinLengthExtension: false,
      CredPropsExtension: true,
      ThirdPartyPaymentExtension: false,
    });
    assert.deepEqual(await support({ profile: "ctap2.1-pre" }), {
      HmacSecretExtension: true,
      LargeBlobExtension: false,
      CredBlobExtension: false,
      CredProtectExtension: true,
      MinPinLengthExtension: false,
      CredPropsExtension: true,
      ThirdPartyPaymentExtension: false,
    });
  });
});
