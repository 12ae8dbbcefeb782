// Issue 13: client bugs found in review, misuse errors and python-fido2 parity, each with
// the one outcome a correct client produces (every test here failed before its fix).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { UserInteraction } from "../src/client/interaction.ts";
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

class PinUi extends UserInteraction {
  constructor(readonly pin?: string) {
    super();
  }
  override requestPin(): string | undefined {
    return this.pin;
  }
}

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
    const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), new PinUi("1234"));
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
        userPresence: () =>
          block ? new Promise((r) => (release = () => r("approve"))) : "approve",
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
    assert.deepEqual(sel.getResponse().response.authenticatorData.rpIdHash, sha256(utf8Encode(ascii)));
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
