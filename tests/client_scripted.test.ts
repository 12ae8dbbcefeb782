// Fido2Client against scripted devices: python-fido2's client vectors, and authenticators
// that lie or speak non-canonical CBOR.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { UserInteraction } from "../src/client/interaction.ts";
import { decode, encode } from "../src/cbor.ts";
import { FormatError } from "../src/errors.ts";
import { b64urlEncode, concat, fromHex, sha256, toHex, utf8Encode } from "../src/utils.ts";
import { ScriptedDevice } from "./helpers/scripted_device.ts";
import { INFO, MC_RESP, U2F_REGISTER_RESP } from "./helpers/vectors.ts";

const ORIGIN = "https://foo.example.com";
const OK = "00";
const options = (extra: Record<string, unknown> = {}) => ({
  rp: { id: "example.com", name: "Example RP" },
  user: { id: b64urlEncode(utf8Encode("user_id")), name: "A. User" },
  challenge: b64urlEncode(utf8Encode("Y2hhbGxlbmdl")),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  ...extra,
});

function client(device: ScriptedDevice, ui = new UserInteraction(), strictCbor = true) {
  return new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui, undefined, {
    strictCbor,
  });
}

async function rejectsCode(
  p: Promise<unknown>,
  code: number,
  cause?: new (...a: never[]) => Error,
) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected ClientError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (cause) assert.ok(e.cause instanceof cause, `cause: ${e.cause}`);
    return true;
  });
}

/** python-fido2's _MC_RESP with its rpIdHash replaced by SHA-256(rpId). */
function mcRespFor(rpId: string): Uint8Array {
  const m = decode(fromHex(MC_RESP)) as Map<number, unknown>;
  const authData = (m.get(2) as Uint8Array).slice();
  authData.set(sha256(utf8Encode(rpId)), 0);
  return encode(new Map(m).set(2, authData));
}

describe("Fido2Client with python-fido2 vectors", () => {
  it("U2F key: the registration JSON python-fido2 produces (§6.1), after polling for a touch", async () => {
    // capabilities 0: no CBOR, so U2F. The first REGISTER says "touch me" (SW 6985).
    const dev = new ScriptedDevice(["6985", U2F_REGISTER_RESP + "9000"], 0);
    let prompts = 0;
    const ui = new (class extends UserInteraction {
      override promptUp() {
        prompts++;
      }
    })();
    const c = client(dev, ui);
    const r = await c.makeCredential(options({ attestation: "direct" }));
    const json = r.toJSON() as Record<string, unknown>;
    const resp = json.response as Record<string, unknown>;
    assert.equal(
      json.id,
      "KlUt_bdHftZf2EEz-GGWAQsiFbV9p10xW3uej-LjklpgGVUbq2HRZZFlnLrwC0lQ96v-ZmDi4Ab3aGi3ctcMJQ",
    );
    assert.equal(json.rawId, json.id);
    assert.equal(
      resp.clientDataJSON,
      "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiV1RKb2FHSkhlR3hpYldScyIsIm9yaWdpbiI6Imh0dHBzOi8vZm9vLmV4YW1wbGUuY29tIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
    );
    assert.ok(
      String(resp.attestationObject).startsWith(
        "o2NmbXRoZmlkby11MmZnYXR0U3RtdKJjc2lnWEcwRQIgFHGJm8w5h",
      ),
    );
    assert.ok(
      String(resp.attestationObject).endsWith("IlggHMa5UvhiFpeTZILaCm09OCalkJXa9s18A-LmA4XS9tk"),
    );
    assert.equal(json.authenticatorAttachment, "cross-platform");
    assert.deepEqual(json.clientExtensionResults, {});
    assert.equal(prompts, 1);
    // REGISTER APDU: client param = SHA-256(clientDataJSON), app param = SHA-256("example.com").
    assert.equal(dev.calls[1].cmd, 0x03);
    assert.equal(
      toHex(dev.calls[1].data.slice(7 + 32, 7 + 64)),
      "a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947",
    );
    await c.ready();
    assert.deepEqual(c.info.versions, ["U2F_V2"]);
    assert.deepEqual(c.info.pinUvProtocols, []);
  });

  it("a wrong RP ID is BAD_REQUEST before any device call", async () => {
    const dev = new ScriptedDevice([]);
    await rejectsCode(
      client(dev).makeCredential(options({ rp: { id: "bar.example.com", name: "x" } })),
      ClientError.ERR.BAD_REQUEST,
    );
    assert.equal(dev.calls.length, 0);
  });

  it("CREDENTIAL_EXCLUDED is DEVICE_INELIGIBLE, with one makeCredential and no retry", async () => {
    const dev = new ScriptedDevice([OK + INFO, "19"]);
    await rejectsCode(client(dev).makeCredential(options()), ClientError.ERR.DEVICE_INELIGIBLE);
    assert.deepEqual(dev.calls.map((c) => c.data[0]), [0x04, 0x01]);
  });

  it("sends the makeCredential python-fido2 sends (rp, user, params; no options)", async () => {
    // python-fido2's _MC_RESP signs for another RP ID; answer for example.com here.
    const dev = new ScriptedDevice([OK + INFO, OK + toHex(mcRespFor("example.com"))]);
    const r = await client(dev).makeCredential(
      options({
        authenticatorSelection: { userVerification: "discouraged" },
        timeout: 1000,
        attestation: "direct",
      }),
    );
    const expected = concat(
      new Uint8Array([0x01]),
      encode(
        new Map<number, unknown>([
          [1, r.response.clientDataJSON.hash],
          [2, { id: "example.com", name: "Example RP" }],
          [3, { id: utf8Encode("user_id"), name: "A. User" }],
          [4, [{ type: "public-key", alg: -7 }]],
        ]),
      ),
    );
    assert.equal(toHex(dev.calls[1].data), toHex(expected));
    assert.equal(r.response.attestationObject.fmt, "packed");
  });
});

describe("Fido2Client and misbehaving authenticators", () => {
  // getInfo with maxMsgSize written as a 4-byte integer: valid CBOR, not canonical.
  const NON_CANONICAL_INFO = INFO.replace("051904b0", "051a000004b0");

  it("non-canonical getInfo is an error, not a silent downgrade to U2F", async () => {
    const dev = new ScriptedDevice([OK + NON_CANONICAL_INFO]);
    await rejectsCode(client(dev).ready(), ClientError.ERR.OTHER_ERROR, FormatError);
    assert.equal(dev.calls.length, 1);
  });

  it("strictCbor: false talks to such keys", async () => {
    const dev = new ScriptedDevice([OK + NON_CANONICAL_INFO]);
    const info = await client(dev, undefined, false).ready();
    assert.equal(info.maxMsgSize, 1200);
  });

  it("attested credential data missing from makeCredential is a typed error", async () => {
    const authData = fromHex(
      "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12010000001c",
    );
    const lie = encode(new Map<number, unknown>([[1, "none"], [2, authData], [3, {}]]));
    const dev = new ScriptedDevice([OK + INFO, concat(new Uint8Array([0]), lie)]);
    await rejectsCode(
      client(dev).makeCredential(options()),
      ClientError.ERR.OTHER_ERROR,
      FormatError,
    );
  });

  it("an empty getAssertion response is a typed error", async () => {
    const dev = new ScriptedDevice([OK + INFO, OK]);
    await rejectsCode(
      client(dev).getAssertion({
        challenge: b64urlEncode(new Uint8Array(16)),
        rpId: "example.com",
        allowCredentials: [{ type: "public-key", id: b64urlEncode(new Uint8Array(16)) }],
      }),
      ClientError.ERR.OTHER_ERROR,
      FormatError,
    );
  });

  it("a truncated U2F registration is a typed error", async () => {
    const dev = new ScriptedDevice([U2F_REGISTER_RESP.slice(0, 100) + "9000"], 0);
    await rejectsCode(
      client(dev).makeCredential(options()),
      ClientError.ERR.OTHER_ERROR,
      FormatError,
    );
  });
});
