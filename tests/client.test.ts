// Fido2Client end to end: the real client, CTAP2/CTAP1 command layers and CTAPHID framing
// against the VirtualAuthenticator, with every response checked by @simplewebauthn/server.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError, PinRequiredError } from "../src/client/errors.ts";
import type { UserInteraction } from "../src/client/interaction.ts";
import { PinUi } from "./helpers/pin_ui.ts";
import { defaultExtensions, HmacSecretExtension } from "../src/client/extensions.ts";
import { CTAP_STATUS, type CtapDevice, CtapError } from "../src/ctap.ts";
import { VirtualAuthenticator, type VirtualAuthenticatorOptions } from "../src/virtual/mod.ts";
import { AttestationObject } from "../src/webauthn/authdata.ts";
import { b64urlDecode, b64urlEncode, bytesEqual, randomBytes } from "../src/utils.ts";

const ORIGIN = "https://example.com";
const RP = { id: "example.com", name: "Example" };
const devices: CtapDevice[] = [];
after(async () => {
  for (const d of devices) await d.close();
});

class Ui extends PinUi {
  prompts = 0;
  override promptUp(): void {
    this.prompts++;
  }
}

async function setup(
  opts: VirtualAuthenticatorOptions = {},
  ui: UserInteraction = new Ui(),
  extensions = defaultExtensions(),
) {
  const va = new VirtualAuthenticator(opts);
  const device = await va.device();
  devices.push(device);
  const calls: number[] = [];
  const counting: CtapDevice = {
    get capabilities() {
      return device.capabilities;
    },
    call: (cmd, data, o) => {
      if (data?.length) calls.push(data[0]);
      return device.call(cmd, data, o);
    },
    close: () => device.close(),
  };
  const client = new Fido2Client(
    counting,
    new DefaultClientDataCollector(ORIGIN),
    ui,
    extensions,
  );
  return { va, client, calls };
}

async function regOptions(extra: Record<string, unknown> = {}) {
  const opts = await generateRegistrationOptions({
    rpName: RP.name,
    rpID: RP.id,
    userName: "alice",
    attestationType: "none",
    ...extra,
  });
  return opts as unknown as Record<string, unknown>;
}

async function register(
  client: Fido2Client,
  extra: Record<string, unknown> = {},
  requireUserVerification = false,
) {
  const options = await regOptions(extra);
  const response = await client.makeCredential(options);
  const json = response.toJSON() as Record<string, unknown>;
  const verification = await verifyRegistrationResponse({
    response: json as never,
    expectedChallenge: options.challenge as string,
    expectedOrigin: ORIGIN,
    expectedRPID: RP.id,
    requireUserVerification,
  });
  assert.equal(verification.verified, true);
  return { response, json, verification, options };
}

async function authenticate(
  client: Fido2Client,
  credential: { id: string; publicKey: Uint8Array; counter: number },
  extra: Record<string, unknown> = {},
  requireUserVerification = false,
) {
  const options = await generateAuthenticationOptions({
    rpID: RP.id,
    allowCredentials: [{ id: credential.id }],
    userVerification: "discouraged",
    ...extra,
  });
  const selection = await client.getAssertion(options as unknown as Record<string, unknown>);
  const response = selection.getResponse(0);
  const verification = await verifyAuthenticationResponse({
    response: response.toJSON() as never,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP.id,
    credential: credential as never,
    requireUserVerification,
  });
  assert.equal(verification.verified, true);
  return { selection, response, verification };
}

async function rejectsWith(p: Promise<unknown>, code: number, cause?: number) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected ClientError, got ${e}`);
    assert.equal(e.code, code, `code ${e.code} (${e.message})`);
    if (cause !== undefined) {
      assert.ok(e.cause instanceof CtapError, `cause ${e.cause}`);
      assert.equal((e.cause as CtapError).code, cause);
    }
    return true;
  });
}

describe("Fido2Client over CTAP2", () => {
  it("registers and authenticates; a relying party library verifies both", async () => {
    const { client } = await setup();
    const { verification, json } = await register(client);
    const info = verification.registrationInfo!;
    assert.equal(json.authenticatorAttachment, "cross-platform");
    // Default attestation "none" is anonymised; the AAGUID stays.
    assert.equal(info.fmt, "none");
    const { verification: auth } = await authenticate(client, {
      id: info.credential.id,
      publicKey: info.credential.publicKey,
      counter: info.credential.counter,
    });
    assert.ok(auth.authenticationInfo.newCounter > info.credential.counter);
    assert.equal(client.info.versions.includes("FIDO_2_1"), true);
  });

  it("keeps packed attestation when the RP asks for it", async () => {
    const { client } = await setup();
    const options = await regOptions({ attestationType: "direct" });
    const response = await client.makeCredential(options);
    const att = AttestationObject.parse(response.response.attestationObject.raw);
    assert.equal(att.fmt, "packed");
    const v = await verifyRegistrationResponse({
      response: response.toJSON() as never,
      expectedChallenge: options.challenge as string,
      expectedOrigin: ORIGIN,
      expectedRPID: RP.id,
      requireUserVerification: false,
    });
    assert.equal(v.verified, true);
  });

  it("enterprise attestation: asked only when the RP wants it and the key enables it", async () => {
    const va = new VirtualAuthenticator({});
    va.authenticator.setEnterpriseAttestation(true);
    const device = await va.device();
    devices.push(device);
    const sent: Uint8Array[] = [];
    const spy: CtapDevice = {
      capabilities: device.capabilities,
      call: (cmd, data, o) => {
        if (data?.[0] === 0x01) sent.push(data);
        return device.call(cmd, data, o);
      },
      close: () => device.close(),
    };
    const { decode } = await import("../src/cbor.ts");
    const epOf = (req: Uint8Array) => (decode(req.slice(1)) as Map<number, unknown>).get(0x0a);
    for (
      const [rpIds, attestationType, expected] of [
        [undefined, "enterprise", 1],
        [["example.com"], "enterprise", 2],
        [["example.com"], "direct", undefined],
      ] as const
    ) {
      const client = new Fido2Client(spy, new DefaultClientDataCollector(ORIGIN), new Ui(), [], {
        enterpriseRpIds: rpIds,
      });
      await client.makeCredential(await regOptions({ attestationType }));
      assert.equal(epOf(sent.at(-1)!), expected, `${rpIds} ${attestationType}`);
    }
  });

  it("refuses an RP ID the origin may not use before touching the device", async () => {
    const { client, calls } = await setup();
    const options = await regOptions();
    (options.rp as Record<string, unknown>).id = "other.org";
    await rejectsWith(client.makeCredential(options), ClientError.ERR.BAD_REQUEST);
    assert.deepEqual(calls, []);
  });

  it("prompts once for a touch and proceeds without UV on a key without PIN", async () => {
    const ui = new Ui();
    const { client } = await setup({}, ui);
    // python-fido2 fails this with CONFIGURATION_UNSUPPORTED; WebAuthn says proceed.
    const { verification } = await register(client, {
      authenticatorSelection: { userVerification: "preferred" },
    });
    assert.equal(verification.registrationInfo!.userVerified, false);
    assert.equal(ui.pinRequests, 0);
    assert.equal(ui.prompts, 1);
  });

  it("UV required on a key without PIN or UV is CONFIGURATION_UNSUPPORTED", async () => {
    const { client } = await setup();
    const options = await regOptions({
      authenticatorSelection: { userVerification: "required" },
    });
    await rejectsWith(client.makeCredential(options), ClientError.ERR.CONFIGURATION_UNSUPPORTED);
  });

  it("uses the PIN for UV and reports UV to the RP", async () => {
    const ui = new Ui("12345678");
    const { client } = await setup({ pin: "12345678" }, ui);
    const { verification } = await register(client, {
      authenticatorSelection: { userVerification: "required" },
    }, true);
    const info = verification.registrationInfo!;
    assert.equal(info.userVerified, true);
    await authenticate(
      client,
      {
        id: info.credential.id,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
      },
      { userVerification: "required" },
      true,
    );
    assert.equal(ui.pinRequests, 2);
  });

  it("no PIN given is PinRequiredError; a wrong PIN is BAD_REQUEST(PIN_INVALID)", async () => {
    const { client } = await setup({ pin: "12345678" }, new Ui());
    await assert.rejects(client.makeCredential(await regOptions()), PinRequiredError);
    const { client: c2 } = await setup({ pin: "12345678" }, new Ui("00000000"));
    await rejectsWith(
      c2.makeCredential(await regOptions()),
      ClientError.ERR.BAD_REQUEST,
      CTAP_STATUS.PIN_INVALID,
    );
  });

  it("a PIN set after getInfo was cached: PUAT_REQUIRED refreshes info and asks for it", async () => {
    const ui = new Ui("4321");
    const { va, client } = await setup({}, ui);
    await client.ready();
    assert.equal(client.info.options.clientPin, false);
    // Another program sets a PIN on the key.
    const { Ctap2 } = await import("../src/ctap2/base.ts");
    const { ClientPin } = await import("../src/ctap2/pin.ts");
    const other = await va.device();
    devices.push(other);
    await new ClientPin(await Ctap2.create(other)).setPin("4321");
    const { verification } = await register(client, {
      authenticatorSelection: { residentKey: "required", userVerification: "discouraged" },
    });
    assert.equal(verification.registrationInfo!.userVerified, true);
    assert.equal(ui.pinRequests, 1);
    assert.equal(client.info.options.clientPin, true);
  });

  it("built-in UV is used without a PIN", async () => {
    const ui = new Ui();
    const { client } = await setup({ uv: true, clientPin: false }, ui);
    const { verification } = await register(client, {
      authenticatorSelection: { userVerification: "required" },
    }, true);
    assert.equal(verification.registrationInfo!.userVerified, true);
    assert.equal(ui.pinRequests, 0);
  });

  it("a CTAP 2.1 key with a fingerprint sensor and a PIN: UV token, no PIN asked", async () => {
    const ui = new Ui("1234");
    const { client, calls } = await setup({ uv: true, pin: "1234" }, ui);
    await client.ready();
    assert.equal(client.info.options.pinUvAuthToken, true);
    calls.length = 0;
    const { verification } = await register(client, {
      authenticatorSelection: { userVerification: "required" },
    }, true);
    assert.equal(verification.registrationInfo!.userVerified, true);
    assert.equal(ui.pinRequests, 0);
    assert.deepEqual(calls, [0x06, 0x06, 0x01]); // getKeyAgreement, UV token, makeCredential
  });

  it("an excluded credential is DEVICE_INELIGIBLE, also past maxCredsInList", async () => {
    const { client, calls } = await setup({ maxCredsInList: 4 });
    const { verification } = await register(client);
    const id = verification.registrationInfo!.credential.id;
    // Fits in one request: sent directly, no pre-flight.
    calls.length = 0;
    await rejectsWith(
      client.makeCredential(await regOptions({ excludeCredentials: [{ id }] })),
      ClientError.ERR.DEVICE_INELIGIBLE,
      CTAP_STATUS.CREDENTIAL_EXCLUDED,
    );
    assert.deepEqual(calls, [0x01]);
    // Twelve unknown IDs and the real one: pre-flight in chunks of 4 finds it.
    const others = Array.from({ length: 12 }, () => ({ id: b64urlEncode(randomBytes(32)) }));
    await rejectsWith(
      client.makeCredential(await regOptions({ excludeCredentials: [...others, { id }] })),
      ClientError.ERR.DEVICE_INELIGIBLE,
    );
    // Without the real one the registration succeeds.
    await register(client, { excludeCredentials: others });
  });

  it("finds the credential in a long allow list and reports unknown lists", async () => {
    const { client } = await setup({ maxCredsInList: 3 });
    const { verification } = await register(client);
    const cred = verification.registrationInfo!.credential;
    const others = Array.from({ length: 7 }, () => ({ id: b64urlEncode(randomBytes(40)) }));
    const options = await generateAuthenticationOptions({
      rpID: RP.id,
      allowCredentials: [...others, { id: cred.id }],
    });
    const sel = await client.getAssertion(options as unknown as Record<string, unknown>);
    assert.equal(sel.getResponse(0).id, cred.id);
    const v = await verifyAuthenticationResponse({
      response: sel.getResponse(0).toJSON() as never,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP.id,
      credential: { id: cred.id, publicKey: cred.publicKey, counter: cred.counter } as never,
      requireUserVerification: false,
    });
    assert.equal(v.verified, true);
    const unknown = await generateAuthenticationOptions({ rpID: RP.id, allowCredentials: others });
    await rejectsWith(
      client.getAssertion(unknown as unknown as Record<string, unknown>),
      ClientError.ERR.DEVICE_INELIGIBLE,
    );
  });

  it("maxCredsInList 1: lists are pre-flighted one credential at a time", async () => {
    const { client, calls } = await setup({ maxCredsInList: 1 });
    const { verification } = await register(client);
    const cred = verification.registrationInfo!.credential;
    const others = [randomBytes(32), randomBytes(32)].map((b) => ({ id: b64urlEncode(b) }));
    calls.length = 0;
    const options = await generateAuthenticationOptions({
      rpID: RP.id,
      allowCredentials: [...others, { id: cred.id }],
    });
    const sel = await client.getAssertion(options as unknown as Record<string, unknown>);
    assert.equal(sel.getResponse(0).id, cred.id);
    assert.deepEqual(calls, [0x02, 0x02, 0x02, 0x02]); // three pre-flights, then the assertion
    calls.length = 0;
    await rejectsWith(
      client.makeCredential(await regOptions({ excludeCredentials: [...others, { id: cred.id }] })),
      ClientError.ERR.DEVICE_INELIGIBLE,
    );
    assert.deepEqual(calls, [0x02, 0x02, 0x02, 0x01]);
  });

  it("discoverable credentials: several accounts, the caller picks one", async () => {
    const { client } = await setup({ pin: "1234" }, new Ui("1234"));
    const creds = [];
    for (const userName of ["alice", "bob"]) {
      const { verification } = await register(client, {
        userName,
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        extensions: { credProps: true },
      }, true);
      creds.push(verification.registrationInfo!.credential);
    }
    const options = await generateAuthenticationOptions({
      rpID: RP.id,
      userVerification: "required",
    });
    const sel = await client.getAssertion(options as unknown as Record<string, unknown>);
    assert.equal(sel.length, 2);
    const names = sel.getAssertions().map((a) => a.user?.name).sort();
    assert.deepEqual(names, ["alice", "bob"]);
    for (let i = 0; i < 2; i++) {
      const r = sel.getResponse(i);
      const cred = creds.find((c) => c.id === r.id)!;
      const v = await verifyAuthenticationResponse({
        response: r.toJSON() as never,
        expectedChallenge: options.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP.id,
        credential: { id: cred.id, publicKey: cred.publicKey, counter: 0 } as never,
      });
      assert.equal(v.verified, true);
      assert.ok(r.response.userHandle && r.response.userHandle.length > 0);
    }
    assert.throws(() => sel.getResponse(2), RangeError);
  });

  it("credProps and credProtect outputs", async () => {
    const { client } = await setup({ pin: "1234" }, new Ui("1234"));
    const { json } = await register(client, {
      authenticatorSelection: { residentKey: "preferred" },
      extensions: {
        credProps: true,
        credentialProtectionPolicy: "userVerificationRequired",
        enforceCredentialProtectionPolicy: true,
      },
    });
    const ext = json.clientExtensionResults as Record<string, unknown>;
    assert.deepEqual(ext.credProps, { rk: true });
    assert.equal(ext.credentialProtectionPolicy, "userVerificationRequired");
  });

  it("minPinLength reaches an RP the key lists", async () => {
    const { client } = await setup(
      { pin: "123456", minPinLengthRpIds: ["example.com"] },
      new Ui("123456"),
    );
    const { json } = await register(client, { extensions: { minPinLength: true } });
    assert.equal((json.clientExtensionResults as Record<string, unknown>).minPinLength, 4);
  });

  it("prf: enabled at registration, stable per salt, different per salt", async () => {
    const { client } = await setup({ pin: "1234" }, new Ui("1234"));
    const { json, verification } = await register(client, { extensions: { prf: {} } });
    assert.deepEqual((json.clientExtensionResults as Record<string, unknown>).prf, {
      enabled: true,
    });
    const cred = verification.registrationInfo!.credential;
    const evalPrf = async (first: string) => {
      const { response } = await authenticate(client, {
        id: cred.id,
        publicKey: cred.publicKey,
        counter: 0,
      }, { extensions: { prf: { eval: { first } } } });
      const out = response.toJSON() as {
        clientExtensionResults: { prf: { results: { first: string } } };
      };
      return out.clientExtensionResults.prf.results.first;
    };
    const a = await evalPrf(b64urlEncode(new TextEncoder().encode("salt-a")));
    const a2 = await evalPrf(b64urlEncode(new TextEncoder().encode("salt-a")));
    const b = await evalPrf(b64urlEncode(new TextEncoder().encode("salt-b")));
    assert.equal(a, a2);
    assert.notEqual(a, b);
    assert.equal(b64urlDecode(a).length, 32);
  });

  it("legacy hmac-secret when enabled", async () => {
    const ext = [new HmacSecretExtension(true), ...defaultExtensions().slice(1)];
    const { client } = await setup({}, new Ui(), ext);
    const { json, verification } = await register(client, {
      extensions: { hmacCreateSecret: true },
    });
    assert.equal((json.clientExtensionResults as Record<string, unknown>).hmacCreateSecret, true);
    const cred = verification.registrationInfo!.credential;
    const salt = b64urlEncode(randomBytes(32));
    const outs = [];
    for (let i = 0; i < 2; i++) {
      const { response } = await authenticate(client, {
        id: cred.id,
        publicKey: cred.publicKey,
        counter: 0,
      }, { extensions: { hmacGetSecret: { salt1: salt } } });
      const r = response.toJSON() as {
        clientExtensionResults: { hmacGetSecret: { output1: string } };
      };
      outs.push(r.clientExtensionResults.hmacGetSecret.output1);
    }
    assert.equal(outs[0], outs[1]);
  });

  it("times out with TIMEOUT when nobody touches the key", async () => {
    const { client } = await setup({ userPresence: () => new Promise(() => {}) });
    const options = await regOptions({ timeout: 300 });
    const t0 = Date.now();
    await rejectsWith(client.makeCredential(options), ClientError.ERR.TIMEOUT);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    // The device is usable afterwards.
    const { client: c2 } = await setup();
    await register(c2);
  });

  it("an AbortSignal cancels a pending request; the next call works", async () => {
    let release: (() => void) | undefined;
    let block = true;
    const { client } = await setup({
      userPresence: () => block ? new Promise((r) => (release = () => r("approve"))) : "approve",
    });
    const ac = new AbortController();
    const p = client.makeCredential(await regOptions(), { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await rejectsWith(p, ClientError.ERR.TIMEOUT);
    block = false;
    release?.();
    await register(client);
  });

  it("a denied touch is reported, not hidden", async () => {
    const { client } = await setup({ userPresence: () => "deny" });
    await assert.rejects(client.makeCredential(await regOptions()), ClientError);
  });

  it("bad options are BAD_REQUEST with the member named", async () => {
    const { client } = await setup();
    await assert.rejects(
      client.makeCredential({ rp: RP, challenge: "not base64!", user: {}, pubKeyCredParams: [] }),
      (e: unknown) => e instanceof ClientError,
    );
  });
});

describe("Fido2Client over U2F (CTAP1)", () => {
  it("registers with fido-u2f attestation and authenticates", async () => {
    const { client } = await setup({ u2fOnly: true });
    await client.ready();
    assert.deepEqual(client.info.versions, ["U2F_V2"]);
    const options = await regOptions({ attestationType: "direct" });
    const response = await client.makeCredential(options);
    const att = AttestationObject.parse(response.response.attestationObject.raw);
    assert.equal(att.fmt, "fido-u2f");
    const v = await verifyRegistrationResponse({
      response: response.toJSON() as never,
      expectedChallenge: options.challenge as string,
      expectedOrigin: ORIGIN,
      expectedRPID: RP.id,
      requireUserVerification: false,
    });
    assert.equal(v.verified, true);
    const cred = v.registrationInfo!.credential;
    await authenticate(client, { id: cred.id, publicKey: cred.publicKey, counter: 0 });
    // Excluded credential after a touch.
    await rejectsWith(
      client.makeCredential(await regOptions({ excludeCredentials: [{ id: cred.id }] })),
      ClientError.ERR.DEVICE_INELIGIBLE,
    );
  });

  it("polls a U2F key that waits for a touch and prompts once", async () => {
    const ui = new Ui();
    const { client } = await setup({
      u2fOnly: true,
      userPresence: async () => {
        await new Promise((r) => setTimeout(r, 400));
        return "approve" as const;
      },
    }, ui);
    const t0 = Date.now();
    await register(client);
    assert.ok(Date.now() - t0 >= 400);
    assert.equal(ui.prompts, 1);
  });

  it("refuses what U2F cannot do", async () => {
    const { client } = await setup({ u2fOnly: true });
    await rejectsWith(
      client.makeCredential(
        await regOptions({ authenticatorSelection: { residentKey: "required" } }),
      ),
      ClientError.ERR.CONFIGURATION_UNSUPPORTED,
    );
    const options = await generateAuthenticationOptions({ rpID: RP.id });
    await rejectsWith(
      client.getAssertion(options as unknown as Record<string, unknown>),
      ClientError.ERR.CONFIGURATION_UNSUPPORTED,
    );
  });

  it("appid: a U2F credential registered under the AppID signs in through CTAP2", async () => {
    const appid = "https://example.com/appid.json";
    const va = new VirtualAuthenticator({});
    // Register through raw U2F with the AppID's application parameter, as a legacy RP did.
    const { Ctap1 } = await import("../src/ctap1.ts");
    const { sha256, utf8Encode } = await import("../src/utils.ts");
    const dev = await va.device();
    devices.push(dev);
    const reg = await new Ctap1(dev).register(randomBytes(32), sha256(utf8Encode(appid)));
    const client = new Fido2Client(dev, new DefaultClientDataCollector(ORIGIN));
    const sel = await client.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: RP.id,
      allowCredentials: [{ type: "public-key", id: b64urlEncode(reg.keyHandle) }],
      extensions: { appid },
    });
    const r = sel.getResponse(0);
    assert.ok(bytesEqual(r.rawId, reg.keyHandle));
    assert.equal(
      (r.toJSON() as { clientExtensionResults: { appid: boolean } })
        .clientExtensionResults.appid,
      true,
    );
    // The signature verifies with the U2F public key over the AppID's hash.
    const { ES256 } = await import("../src/cose.ts");
    const { concat } = await import("../src/utils.ts");
    const key = ES256.fromCtap1(reg.publicKey);
    const signed = concat(r.response.authenticatorData.raw, sel.clientData.hash);
    assert.equal(await key.verify(signed, r.response.signature), true);
  });

  it("appidExclude: a U2F credential under the AppID blocks registration (CTAP2 and U2F)", async () => {
    const appid = "https://example.com/appid.json";
    for (const u2fOnly of [false, true]) {
      const va = new VirtualAuthenticator({ u2fOnly });
      const { Ctap1 } = await import("../src/ctap1.ts");
      const { sha256, utf8Encode } = await import("../src/utils.ts");
      const dev = await va.device();
      devices.push(dev);
      const reg = await new Ctap1(dev).register(randomBytes(32), sha256(utf8Encode(appid)));
      const client = new Fido2Client(dev, new DefaultClientDataCollector(ORIGIN));
      const exclude = [{ id: b64urlEncode(reg.keyHandle) }];
      await rejectsWith(
        client.makeCredential(
          await regOptions({ excludeCredentials: exclude, extensions: { appidExclude: appid } }),
        ),
        ClientError.ERR.DEVICE_INELIGIBLE,
      );
      // Without appidExclude the U2F credential is not found under the RP ID.
      await register(client, { excludeCredentials: exclude });
    }
  });

  it("selection(): CTAP 2.1 authenticatorSelection, CTAP 2.0 and U2F fallbacks wait for a touch", async () => {
    for (const opts of [{}, { ctap21: false }, { u2fOnly: true }]) {
      let touched = 0;
      const { client } = await setup({
        ...opts,
        userPresence: () => {
          touched++;
          return "approve";
        },
      });
      await client.selection();
      assert.equal(touched, 1, JSON.stringify(opts));
    }
    const { client } = await setup({ userPresence: () => "deny" });
    await assert.rejects(client.selection(), ClientError);
  });

  it("appid with UV required: the token is taken for the AppID the credential lives under", async () => {
    const appid = "https://example.com/appid.json";
    const va = new VirtualAuthenticator({ pin: "1234" });
    const { Ctap1 } = await import("../src/ctap1.ts");
    const { sha256, utf8Encode } = await import("../src/utils.ts");
    const dev = await va.device();
    devices.push(dev);
    const reg = await new Ctap1(dev).register(randomBytes(32), sha256(utf8Encode(appid)));
    const ui = new Ui("1234");
    const client = new Fido2Client(dev, new DefaultClientDataCollector(ORIGIN), ui);
    const sel = await client.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: RP.id,
      userVerification: "required",
      allowCredentials: [{ type: "public-key", id: b64urlEncode(reg.keyHandle) }],
      extensions: { appid },
    });
    const r = sel.getResponse(0);
    assert.equal(r.response.authenticatorData.userVerified, true);
    assert.deepEqual(r.response.authenticatorData.rpIdHash, sha256(utf8Encode(appid)));
    assert.equal(ui.pinRequests, 2);
  });
});
