// Lying authenticators: Fido2Client checks every CTAP2/U2F answer against its request
// (src/client/validate.ts). Each scenario is the VirtualAuthenticator with one answer
// rewritten; each names the one check that must reject it. Before the checks existed the
// client returned every one of these answers to the RP (or failed with another error).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { PinUi } from "./helpers/pin_ui.ts";
import {
  AuthenticatorResponseError,
  checkAssertion,
  checkRegistration,
} from "../src/client/validate.ts";
import { type CborMap, type CborValue, decode, encode } from "../src/cbor.ts";
import type { CtapDevice } from "../src/ctap.ts";
import { AssertionResponse, AttestationResponse } from "../src/ctap2/base.ts";
import { VirtualAuthenticator, type VirtualAuthenticatorOptions } from "../src/virtual/mod.ts";
import { AuthenticatorData, FLAG } from "../src/webauthn/authdata.ts";
import {
  b64urlEncode,
  bytesEqual,
  concat,
  fromHex,
  randomBytes,
  sha256,
  utf8Encode,
} from "../src/utils.ts";
import { type Ctap2Lie, lyingDevice, type U2fLie, withAuthData } from "./helpers/lying_device.ts";
import { YUBICO_SKY_51_PACKED as SKY } from "./fixtures/real_keys.ts";

const ORIGIN = "https://example.com";
const MC = 0x01;
const GA = 0x02;
const NEXT = 0x08;
const devices: CtapDevice[] = [];
after(async () => {
  for (const d of devices) await d.close();
});

/** A client over a virtual key whose answers pass through `lie` (settable at any time). */
async function setup(opts: VirtualAuthenticatorOptions = {}, pin?: string) {
  const va = new VirtualAuthenticator(opts);
  const device = await va.device();
  devices.push(device);
  const state: {
    ctap2?: Ctap2Lie;
    u2f?: U2fLie;
    raw?: (c: number, out: Uint8Array, q: CborMap | undefined) => Uint8Array | undefined;
  } = {};
  const dev = lyingDevice(device, {
    ctap2: (c, r, q) => state.ctap2?.(c, r, q),
    u2f: (a, r) => state.u2f?.(a, r),
    ctap2Raw: (c, out, q) => state.raw?.(c, out, q),
  });
  const client = new Fido2Client(dev, new DefaultClientDataCollector(ORIGIN), new PinUi(pin));
  return { va, client, state };
}

const regOptions = (extra: Record<string, unknown> = {}) => ({
  rp: { id: "example.com", name: "Example" },
  user: { id: b64urlEncode(randomBytes(8)), name: "alice", displayName: "Alice" },
  challenge: b64urlEncode(randomBytes(16)),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  ...extra,
});

const reqOptions = (ids: readonly Uint8Array[], extra: Record<string, unknown> = {}) => ({
  rpId: "example.com",
  challenge: b64urlEncode(randomBytes(16)),
  allowCredentials: ids.map((id) => ({ type: "public-key", id: b64urlEncode(id) })),
  userVerification: "discouraged",
  ...extra,
});

async function register(client: Fido2Client, extra: Record<string, unknown> = {}) {
  const r = await client.makeCredential(regOptions(extra));
  return r.rawId;
}

/** The call fails with ClientError OTHER_ERROR caused by the named check. */
async function rejectsCheck(p: Promise<unknown>, check: string, command?: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected ClientError, got ${e}`);
    assert.equal(e.code, ClientError.ERR.OTHER_ERROR, e.message);
    assert.ok(e.cause instanceof AuthenticatorResponseError, `cause: ${e.cause}`);
    assert.equal(e.cause.check, check, e.cause.message);
    if (command) assert.equal(e.cause.command, command, e.cause.message);
    assert.ok(e.message.includes("expected"), e.message);
    return true;
  });
}

const descriptor = (id: Uint8Array) =>
  new Map<CborValue, CborValue>([["id", id], ["type", "public-key"]]);
const isPreflight = (q: CborMap | undefined) =>
  (q?.get(5) as Map<string, boolean> | undefined)?.get("up") === false;

describe("getAssertion answers are checked against the request", () => {
  it("a credential that is not in the allow list is rejected (the review's bug)", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    const b = await register(client);
    state.ctap2 = (c, r) => c === GA ? new Map(r).set(1, descriptor(b)) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([a])), "credential", "getAssertion");
  });

  it("a missing credential is filled in for a one-entry allow list", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    state.ctap2 = (c, r) => {
      if (c !== GA) return undefined;
      const m = new Map(r);
      m.delete(1);
      return m;
    };
    const sel = await client.getAssertion(reqOptions([a]));
    assert.deepEqual(sel.getResponse(0).rawId, a);
    assert.deepEqual(sel.getAssertions()[0].credential?.id, a);
  });

  it("a missing credential with a two-entry allow list is rejected", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    const b = await register(client);
    state.ctap2 = (c, r) => {
      if (c !== GA) return undefined;
      const m = new Map(r);
      m.delete(1);
      return m;
    };
    await rejectsCheck(client.getAssertion(reqOptions([a, b])), "credential");
  });

  it("a pre-flight answer naming a credential outside the list is rejected", async () => {
    // appid forces the silent (up=false) pre-flight over the whole list.
    const { client, state } = await setup();
    const a = await register(client);
    const b = await register(client);
    const foreign = randomBytes(32);
    state.ctap2 = (c, r, q) =>
      c === GA && isPreflight(q) ? new Map(r).set(1, descriptor(foreign)) : undefined;
    await rejectsCheck(
      client.getAssertion(reqOptions([a, b], { extensions: { appid: "https://example.com/a" } })),
      "credential",
    );
  });

  it("success for the placeholder sent when nothing matched is rejected", async () => {
    // appid forces a pre-flight; no listed credential matches, so the client asks for a touch
    // with a one-byte placeholder ID no key holds. A key must answer NO_CREDENTIALS.
    const { client, state } = await setup();
    const a = await register(client);
    let honest: Map<CborValue, CborValue> | undefined;
    state.ctap2 = (c, r) => {
      if (c === GA) honest = r;
      return undefined;
    };
    await client.getAssertion(reqOptions([a]));
    state.ctap2 = undefined;
    state.raw = (c, _out, q) => {
      const list = q?.get(3) as Map<string, Uint8Array>[] | undefined;
      if (c !== GA || isPreflight(q) || list?.[0]?.get("id")?.length !== 1) return undefined;
      const placeholder = new Map(honest!).set(1, descriptor(list[0].get("id")!));
      return concat(new Uint8Array([0]), encode(placeholder));
    };
    await rejectsCheck(
      client.getAssertion(
        reqOptions([randomBytes(32)], { extensions: { appid: "https://example.com/a" } }),
      ),
      "credential",
    );
  });

  it("an rpIdHash of another RP is rejected", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    state.ctap2 = (c, r) =>
      c === GA ? withAuthData(r, { rpIdHash: sha256(utf8Encode("evil.example")) }) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([a])), "rpIdHash");
  });

  it("an assertion under the AppID is accepted; under the RP ID when the AppID was used, not", async () => {
    // A U2F credential registered under the AppID, asserted through CTAP2 (appid extension).
    const appid = "https://example.com/appid.json";
    const { va, client, state } = await setup();
    const { Ctap1 } = await import("../src/ctap1.ts");
    const dev = await va.device();
    devices.push(dev);
    const reg = await new Ctap1(dev).register(randomBytes(32), sha256(utf8Encode(appid)));
    const ok = await client.getAssertion(reqOptions([reg.keyHandle], { extensions: { appid } }));
    assert.deepEqual(
      ok.getResponse(0).response.authenticatorData.rpIdHash,
      sha256(utf8Encode(appid)),
    );
    state.ctap2 = (c, r, q) =>
      c === GA && !isPreflight(q)
        ? withAuthData(r, { rpIdHash: sha256(utf8Encode("example.com")) })
        : undefined;
    await rejectsCheck(
      client.getAssertion(reqOptions([reg.keyHandle], { extensions: { appid } })),
      "rpIdHash",
    );
  });

  it("UP clear when presence was requested is rejected", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    state.ctap2 = (c, r) => c === GA ? withAuthData(r, { flags: (f) => f & ~FLAG.UP }) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([a])), "flags.UP");
  });

  it("UV clear after a pinUvAuthParam is rejected", async () => {
    const { client, state } = await setup({ pin: "1234" }, "1234");
    const a = await register(client);
    state.ctap2 = (c, r, q) =>
      c === GA && q?.has(6) ? withAuthData(r, { flags: (f) => f & ~FLAG.UV }) : undefined;
    await rejectsCheck(
      client.getAssertion(reqOptions([a], { userVerification: "required" })),
      "flags.UV",
    );
  });

  it("UV clear after the uv option (built-in UV, CTAP 2.0 style) is rejected", async () => {
    const { client, state } = await setup({ uv: true, clientPin: false });
    const a = await register(client);
    state.ctap2 = (c, r, q) =>
      c === GA && (q?.get(5) as Map<string, boolean> | undefined)?.get("uv") === true
        ? withAuthData(r, { flags: (f) => f & ~FLAG.UV })
        : undefined;
    await rejectsCheck(
      client.getAssertion(reqOptions([a], { userVerification: "required" })),
      "flags.UV",
    );
  });

  it("BS without BE is rejected", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    state.ctap2 = (c, r) =>
      c === GA ? withAuthData(r, { flags: (f) => (f | FLAG.BS) & ~FLAG.BE }) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([a])), "flags.BS");
  });

  it("attested credential data in an assertion is rejected", async () => {
    const { client, state } = await setup();
    const r = await client.makeCredential(regOptions());
    const acd = r.response.attestationObject.authData.credentialData!;
    state.ctap2 = (c, m) => c === GA ? withAuthData(m, { credentialData: acd }) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([r.rawId])), "flags.AT");
  });

  it("numberOfCredentials above 1 with an allow list is rejected", async () => {
    const { client, state } = await setup();
    const a = await register(client);
    state.ctap2 = (c, r) => c === GA ? new Map(r).set(5, 2) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([a])), "numberOfCredentials");
  });

  const rk = {
    authenticatorSelection: { residentKey: "required", userVerification: "discouraged" },
  };

  it("a discoverable assertion without a user entity is rejected", async () => {
    const { client, state } = await setup({ clientPin: false });
    await register(client, rk);
    state.ctap2 = (c, r) => {
      if (c !== GA) return undefined;
      const m = new Map(r);
      m.delete(4);
      return m;
    };
    await rejectsCheck(client.getAssertion(reqOptions([])), "user");
  });

  it("user name without user verification is accepted as CTAP 2.0 keys send it (§5.2)", async () => {
    const { client, state } = await setup({ clientPin: false });
    await register(client, rk);
    const honest = await client.getAssertion(reqOptions([]));
    assert.equal(honest.getAssertions()[0].user?.name, undefined, "the virtual key complies");
    state.ctap2 = (c, r) => {
      if (c !== GA) return undefined;
      const user = new Map(r.get(4) as CborMap).set("name", "alice");
      return new Map(r).set(4, user);
    };
    const selection = await client.getAssertion(reqOptions([]));
    assert.equal(selection.getAssertions()[0].user?.name, "alice");
  });

  it("getNextAssertion repeating a credential is rejected", async () => {
    const { client, state } = await setup({ clientPin: false });
    await register(client, rk);
    await register(client, rk);
    let first: CborValue | undefined;
    state.ctap2 = (c, r) => {
      if (c === GA) first = r.get(1);
      return c === NEXT ? new Map(r).set(1, first!) : undefined;
    };
    await rejectsCheck(client.getAssertion(reqOptions([])), "credential", "getNextAssertion");
  });

  it("userSelected on a getNextAssertion answer is rejected", async () => {
    const { client, state } = await setup({ clientPin: false });
    await register(client, rk);
    await register(client, rk);
    state.ctap2 = (c, r) => c === NEXT ? new Map(r).set(6, true) : undefined;
    await rejectsCheck(client.getAssertion(reqOptions([])), "userSelected", "getNextAssertion");
  });

  it("several honest discoverable accounts pass every check", async () => {
    const { client } = await setup({ clientPin: false });
    const a = await register(client, rk);
    const b = await register(client, rk);
    const sel = await client.getAssertion(reqOptions([]));
    const ids = sel.getAssertions().map((x) => x.credential!.id);
    assert.equal(ids.length, 2);
    assert.ok(ids.some((i) => bytesEqual(i, a)) && ids.some((i) => bytesEqual(i, b)));
  });
});

describe("makeCredential answers are checked against the request", () => {
  it("an rpIdHash of another RP is rejected", async () => {
    const { client, state } = await setup();
    state.ctap2 = (c, r) =>
      c === MC ? withAuthData(r, { rpIdHash: sha256(utf8Encode("evil.example")) }) : undefined;
    await rejectsCheck(client.makeCredential(regOptions()), "rpIdHash", "makeCredential");
  });

  it("UP clear is rejected", async () => {
    const { client, state } = await setup();
    state.ctap2 = (c, r) => c === MC ? withAuthData(r, { flags: (f) => f & ~FLAG.UP }) : undefined;
    await rejectsCheck(client.makeCredential(regOptions()), "flags.UP");
  });

  it("UV clear after a pinUvAuthParam is rejected", async () => {
    const { client, state } = await setup({ pin: "1234" }, "1234");
    state.ctap2 = (c, r, q) =>
      c === MC && q?.has(8) ? withAuthData(r, { flags: (f) => f & ~FLAG.UV }) : undefined;
    await rejectsCheck(
      client.makeCredential(
        regOptions({ authenticatorSelection: { userVerification: "required" } }),
      ),
      "flags.UV",
    );
  });

  it("a credential key of an algorithm the RP did not offer is rejected", async () => {
    const { client, state } = await setup();
    const ed25519 = new Map<CborValue, CborValue>([[1, 1], [3, -8], [-1, 6], [
      -2,
      randomBytes(32),
    ]]);
    state.ctap2 = (c, r) => c === MC ? withAuthData(r, { publicKey: ed25519 }) : undefined;
    await rejectsCheck(client.makeCredential(regOptions()), "algorithm");
  });

  it("an ES256 key off the curve, or of the wrong key type, is rejected", async () => {
    const { client, state } = await setup();
    const bent = (k: CborMap) => {
      const x = (k.get(-2) as Uint8Array).slice();
      x[7] ^= 1;
      return new Map(k).set(-2, x);
    };
    for (const change of [bent, (k: CborMap) => new Map(k).set(1, 3)]) {
      state.ctap2 = (c, r) => {
        if (c !== MC) return undefined;
        const a = AuthenticatorData.parse(r.get(2) as Uint8Array);
        return withAuthData(r, { publicKey: change(a.credentialData!.publicKey) });
      };
      await rejectsCheck(client.makeCredential(regOptions()), "publicKey");
    }
  });

  it("an empty credential ID is rejected", async () => {
    const { client, state } = await setup();
    state.ctap2 = (c, r) =>
      c === MC ? withAuthData(r, { credentialId: new Uint8Array(0) }) : undefined;
    await rejectsCheck(client.makeCredential(regOptions()), "credentialId");
  });

  it("attestation statements that do not fit their format are rejected", async () => {
    const { client, state } = await setup();
    const lies: [string, CborMap][] = [
      ["packed", new Map([["alg", -7]])], // no sig
      ["none", new Map([["sig", new Uint8Array(8)]])], // "none" carries nothing
      ["fido-u2f", new Map<CborValue, CborValue>([["sig", new Uint8Array(8)], ["x5c", []]])],
    ];
    for (const [fmt, attStmt] of lies) {
      state.ctap2 = (c, r) => c === MC ? new Map(r).set(1, fmt).set(3, attStmt) : undefined;
      await rejectsCheck(client.makeCredential(regOptions({ attestation: "direct" })), "attStmt");
    }
    state.ctap2 = (c, r) => c === MC ? new Map(r).set(1, "x".repeat(33)) : undefined;
    await rejectsCheck(client.makeCredential(regOptions()), "fmt");
  });

  it("an enterprise attestation that was not requested is rejected", async () => {
    const { client, state } = await setup();
    state.ctap2 = (c, r) => c === MC ? new Map(r).set(4, true) : undefined;
    await rejectsCheck(client.makeCredential(regOptions({ attestation: "direct" })), "epAtt");
  });

  it("a credProtect level below the one requested is rejected", async () => {
    const { client, state } = await setup();
    state.ctap2 = (c, r) =>
      c === MC ? withAuthData(r, { extensions: new Map([["credProtect", 1]]) }) : undefined;
    await rejectsCheck(
      client.makeCredential(
        regOptions({ extensions: { credentialProtectionPolicy: "userVerificationRequired" } }),
      ),
      "extensions.credProtect",
    );
  });

  it("a requested hmac-secret output that is not a boolean is rejected", async () => {
    const { client, state } = await setup();
    state.ctap2 = (c, r) =>
      c === MC ? withAuthData(r, { extensions: new Map([["hmac-secret", 1]]) }) : undefined;
    await rejectsCheck(
      client.makeCredential(regOptions({ extensions: { prf: {} } })),
      "extensions.hmac-secret",
    );
  });

  it("an unrequested extension output is ignored, not rejected, and not reported", async () => {
    // Keys with a default credProtect policy return it unasked; Chromium accepts that too.
    const { client, state } = await setup();
    state.ctap2 = (c, r) =>
      c === MC ? withAuthData(r, { extensions: new Map([["credProtect", 2]]) }) : undefined;
    const reg = await client.makeCredential(regOptions());
    assert.deepEqual(
      reg.response.attestationObject.authData.extensions,
      new Map([["credProtect", 2]]),
    );
    assert.deepEqual(reg.clientExtensionResults, {});
  });
});

describe("U2F answers are checked too", () => {
  it("an AUTHENTICATE answer without user presence is rejected", async () => {
    const { client, state } = await setup({ u2fOnly: true });
    const a = await register(client);
    state.u2f = (apdu, out) => {
      // INS 02 (authenticate) with P1 03 (enforce presence), answered 9000.
      if (apdu[1] !== 0x02 || apdu[2] !== 0x03 || out.length < 7) return undefined;
      const lie = out.slice();
      lie[0] = 0;
      return lie;
    };
    await rejectsCheck(client.getAssertion(reqOptions([a])), "flags.UP", "U2F authenticate");
  });

  it("a REGISTER answer whose public key is not on P-256 is rejected", async () => {
    const { client, state } = await setup({ u2fOnly: true });
    state.u2f = (apdu, out) => {
      if (apdu[1] !== 0x01 || out.length < 70) return undefined;
      const lie = out.slice();
      lie[10] ^= 1; // inside x of the 65-byte point after the 0x05 byte
      return lie;
    };
    await rejectsCheck(client.makeCredential(regOptions()), "publicKey", "U2F register");
  });
});

describe("recorded real-key answers pass the checks", () => {
  it("Security Key by Yubico 5.1 packed registration (libfido2 regress/cred.c)", () => {
    const authData = decode(fromHex(SKY.authDataCbor)) as Uint8Array;
    const response = new AttestationResponse(
      new Map<CborValue, CborValue>([
        [1, "packed"],
        [2, authData],
        [
          3,
          new Map<CborValue, CborValue>([["alg", -7], ["sig", fromHex(SKY.sig)], ["x5c", [
            fromHex(SKY.x509),
          ]]]),
        ],
      ]),
    );
    checkRegistration(response, { rpId: "localhost", algorithms: [-7], uv: false });
    assert.throws(
      () => checkRegistration(response, { rpId: "localhost", algorithms: [-257], uv: false }),
      (e: unknown) => e instanceof AuthenticatorResponseError && e.check === "algorithm",
    );
  });

  it("messages say what was expected and what came back", () => {
    const raw = new Uint8Array(37);
    raw.set(sha256(utf8Encode("a.example")));
    raw[32] = FLAG.UP;
    const response = new AssertionResponse(
      new Map<CborValue, CborValue>([[1, descriptor(new Uint8Array([1]))], [2, raw], [
        3,
        new Uint8Array(8),
      ]]),
    );
    assert.throws(
      () =>
        checkAssertion(response, {
          rpId: "b.example",
          allowList: [{ type: "public-key", id: new Uint8Array([1]) }],
          uv: false,
        }),
      (e: unknown) => {
        assert.ok(e instanceof AuthenticatorResponseError);
        assert.equal(e.check, "rpIdHash");
        assert.match(e.message, /getAssertion response failed the rpIdHash check/);
        assert.match(e.message, /SHA-256\("b\.example"\)/);
        assert.match(e.expected, /^SHA-256/);
        assert.equal(e.received.length, 64);
        return true;
      },
    );
  });
});
