import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CborMap, type CborValue, decode, encode } from "../src/cbor.ts";
import { ES256 } from "../src/cose.ts";
import { p256 } from "@noble/curves/nist.js";
import { CtapError } from "../src/ctap.ts";
import { FormatError } from "../src/errors.ts";
import { SignatureData } from "../src/ctap1.ts";
import { AssertionResponse, CMD, Ctap2, type GetAssertionArgs, Info } from "../src/ctap2/mod.ts";
import { concat, fromHex, sha256, toHex } from "../src/utils.ts";
import { ScriptedDevice } from "./helpers/scripted_device.ts";
import { GA_RESP, INFO, INFO_EXTRA, MC_RESP, PACKED_RESP } from "./helpers/vectors.ts";

const CRED_ID =
  "fe3aac036d14c1e1c65518b698dd1da8f596bc33e11072813466c6bf3845691509b80fb76d59309b8d39e0a93452688f6ca3a39a76f3fc52744fb73948b15783";
const MC_AUTHDATA =
  "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12410000001cf8a011f38c0a4d15800617111f9edc7d0040" +
  CRED_ID +
  "a5010203262001215820643566c206dd00227005fa5de69320616ca268043a38f08bde2e9dc45a5cafaf225820171353b2932434703726aae579fa6542432861fe591e481ea22d63997e1a5290";
const GA_AUTHDATA = "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12010000001d";

function infoMap(extra: [number, CborValue][] = []): CborMap {
  return new Map<CborValue, CborValue>([[1, ["FIDO_2_0"]], ...extra]);
}

/** A Ctap2 over a scripted device with the given getInfo members (maxMsgSize 1200). */
function ctap(script: (string | Uint8Array | Error)[], extra: [number, CborValue][] = []) {
  const dev = new ScriptedDevice(script);
  const c = new Ctap2(dev, new Info(infoMap([[5, 1200], ...extra])));
  return { dev, c };
}

const ok = (m: unknown) => "00" + toHex(encode(m));

describe("Info (python-fido2 TestInfo)", () => {
  it("parses _INFO", () => {
    const info = new Info(decode(fromHex(INFO)) as CborMap);
    assert.deepEqual(info.versions, ["U2F_V2", "FIDO_2_0"]);
    assert.deepEqual(info.extensions, ["uvm", "hmac-secret"]);
    assert.equal(info.aaguid.toString(), "f8a011f3-8c0a-4d15-8006-17111f9edc7d");
    assert.deepEqual(info.options, { rk: true, up: true, plat: false, clientPin: false });
    assert.equal(info.maxMsgSize, 1200);
    assert.deepEqual(info.pinUvProtocols, [1]);
    assert.equal(info.raw.get(5), 1200);
  });

  it("keeps an unknown key in raw and otherwise ignores it", () => {
    const info = new Info(decode(fromHex(INFO_EXTRA)) as CborMap);
    assert.equal(info.raw.get(99), 1234);
    assert.equal(info.maxMsgSize, 1200);
    assert.equal("99" in info.toJSON(), false);
  });

  it("applies the spec defaults", () => {
    const info = new Info(infoMap());
    assert.equal(info.maxMsgSize, 1024);
    assert.equal(info.minPinLength, 4);
    assert.equal(info.maxPinLength, 63);
    assert.equal(info.forcePinChange, false);
    assert.deepEqual(info.attestationFormats, ["packed"]);
    assert.equal(info.aaguid.isSet, false);
    assert.equal(info.remainingDiscCreds, undefined);
    assert.equal(info.authenticatorConfigCommands, undefined);
  });

  it("parses every CTAP 2.1-2.3 member and names it in toJSON", () => {
    const aaguid = fromHex("00112233445566778899aabbccddeeff");
    const m = infoMap([
      [2, ["credProtect"]],
      [3, aaguid],
      [4, new Map<CborValue, CborValue>([["rk", true], ["credMgmt", true]])],
      [5, 2048],
      [6, [2, 1]],
      [7, 8],
      [8, 128],
      [9, ["usb", "nfc"]],
      [10, [new Map<CborValue, CborValue>([["type", "public-key"], ["alg", -7]])]],
      [11, 4096],
      [12, true],
      [13, 6],
      [14, 328965],
      [15, 32],
      [16, 2],
      [17, 3],
      [18, 2],
      [19, new Map<CborValue, CborValue>([["FIPS-CMVP-2", 2]])],
      [20, 25],
      [21, [0x42]],
      [22, ["packed", "none"]],
      [23, 5],
      [24, true],
      [25, fromHex("0102")],
      [26, ["usb"]],
      [27, false],
      [28, fromHex("6869")],
      [29, 64],
      [30, fromHex("0304")],
      [31, [1, 2, 3]],
    ]);
    const info = new Info(m);
    assert.deepEqual(info.toJSON(), {
      versions: ["FIDO_2_0"],
      extensions: ["credProtect"],
      aaguid: "00112233-4455-6677-8899-aabbccddeeff",
      options: { rk: true, credMgmt: true },
      maxMsgSize: 2048,
      pinUvProtocols: [2, 1],
      maxCredsInList: 8,
      maxCredIdLength: 128,
      transports: ["usb", "nfc"],
      algorithms: [{ type: "public-key", alg: -7 }],
      maxLargeBlob: 4096,
      forcePinChange: true,
      minPinLength: 6,
      firmwareVersion: 328965,
      maxCredBlobLength: 32,
      maxRpidsForSetMinPinLength: 2,
      preferredPlatformUvAttempts: 3,
      uvModality: 2,
      certifications: { "FIPS-CMVP-2": 2 },
      remainingDiscCreds: 25,
      vendorPrototypeConfigCommands: [0x42],
      attestationFormats: ["packed", "none"],
      uvCountSinceLastPinEntry: 5,
      longTouchForReset: true,
      encIdentifier: "AQI",
      transportsForReset: ["usb"],
      pinComplexityPolicy: false,
      pinComplexityPolicyUrl: "aGk",
      maxPinLength: 64,
      encCredStoreState: "AwQ",
      authenticatorConfigCommands: [1, 2, 3],
    });
  });

  it("rejects wrong types instead of coercing them (python-fido2 quirk)", () => {
    const cases: [number, CborValue][] = [
      [1, "FIDO_2_0"],
      [2, [1]],
      [3, fromHex("00")],
      [4, new Map<CborValue, CborValue>([["rk", 1]])],
      [4, new Map<CborValue, CborValue>([[1, true]])],
      [5, "1200"],
      [5, -1],
      [6, ["1"]],
      [7, true],
      [10, [new Map<CborValue, CborValue>([["type", "public-key"]])]],
      [10, [-7]],
      [12, 1],
      [13, fromHex("04")],
      [19, [1]],
      [25, "id"],
      [31, "x"],
    ];
    for (const [k, v] of cases) {
      const m = infoMap();
      m.set(k, v);
      assert.throws(() => new Info(m), FormatError, `key ${k}`);
    }
    assert.throws(() => new Info(new Map()), FormatError);
    assert.throws(() => new Info([] as unknown as CborMap), FormatError);
  });
});

describe("Ctap2.sendCbor", () => {
  it("sends cmd ‖ cbor and decodes the map (python-fido2 test_send_cbor_ok)", async () => {
    const { dev, c } = ctap([ok(new Map([[1, new TextEncoder().encode("response")]]))]);
    const res = await c.sendCbor(2, new Map([[1, new TextEncoder().encode("foobar")]]));
    assert.equal(dev.calls[0].cmd, 0x10);
    assert.deepEqual(dev.requestsHex, ["02a10146666f6f626172"]);
    assert.equal(new TextDecoder().decode(res?.get(1) as Uint8Array), "response");
  });

  it("drops undefined and null entries and sorts keys canonically", async () => {
    const { dev, c } = ctap(["00"]);
    const res = await c.sendCbor(
      9,
      new Map<number, unknown>([[3, "c"], [1, undefined], [2, null], [-1, 5]]),
    );
    assert.equal(res, undefined);
    assert.deepEqual(dev.requestsHex, ["09a2036163" + "2005"]);
  });

  it("sends only the command byte without arguments", async () => {
    const { dev, c } = ctap(["00"]);
    await c.sendCbor(CMD.SELECTION);
    assert.deepEqual(dev.requestsHex, ["0b"]);
  });

  it("maps status bytes to CtapError", async () => {
    for (const code of [0x01, 0x2e, 0x31, 0x39, 0x7f, 0xf2]) {
      const { c } = ctap([code.toString(16).padStart(2, "0")]);
      await assert.rejects(c.sendCbor(4), (e) => e instanceof CtapError && e.code === code);
    }
    const { c } = ctap(["31a0"]);
    await assert.rejects(
      c.sendCbor(4),
      (e) => e instanceof CtapError && e.statusName === "PIN_INVALID",
    );
  });

  it("rejects an empty response, trailing bytes, non-maps and bad CBOR", async () => {
    for (const resp of ["", "00a0ff", "0080", "0001", "00a1", "00a10141"]) {
      const { c } = ctap([resp]);
      await assert.rejects(c.sendCbor(4), FormatError, resp);
    }
  });

  it("rejects a request over maxMsgSize locally with REQUEST_TOO_LARGE", async () => {
    const { dev, c } = ctap([]);
    await assert.rejects(
      c.sendCbor(1, new Map([[1, new Uint8Array(1200)]])),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.REQUEST_TOO_LARGE,
    );
    assert.equal(dev.calls.length, 0);
  });

  it("forwards call options to the device", async () => {
    const { dev, c } = ctap(["00"]);
    const onKeepalive = () => {};
    await c.reset({ onKeepalive });
    assert.deepEqual(dev.requestsHex, ["07"]);
    assert.equal(dev.calls[0].opts?.onKeepalive, onKeepalive);
  });
});

describe("Canonical CBOR from the authenticator (python-fido2 vectors §5.10)", () => {
  // _MC_RESP with the authData length written as 59 00c4 instead of 58 c4.
  const NON_MINIMAL = "00" + MC_RESP.replace("0258c4", "025900c4");

  it("the vector differs from _MC_RESP only in the length head", () => {
    assert.equal(NON_MINIMAL.length, MC_RESP.length + 4);
  });

  it("rejects non-minimal lengths in strict mode (the default)", async () => {
    const { c } = ctap([NON_MINIMAL]);
    await assert.rejects(
      c.sendCbor(1),
      (e) => e instanceof FormatError && /shortest/.test(e.message),
    );
  });

  it("accepts them with strictCbor: false", async () => {
    const dev = new ScriptedDevice([NON_MINIMAL]);
    const c = new Ctap2(dev, new Info(infoMap([[5, 1200]])), { strictCbor: false });
    const res = await c.makeCredential({
      clientDataHash: new Uint8Array(32),
      rp: { id: "example.com" },
      user: { id: new Uint8Array([1]) },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    });
    assert.equal(toHex(res.authData.raw), MC_AUTHDATA);
  });

  it("rejects unsorted map keys in strict mode only", async () => {
    const unsorted = "00a2" + "02" + "01" + "01" + "02";
    await assert.rejects(ctap([unsorted]).c.sendCbor(4), FormatError);
    const dev = new ScriptedDevice([unsorted]);
    const lax = new Ctap2(dev, new Info(infoMap()), { strictCbor: false });
    assert.equal((await lax.sendCbor(4))?.get(1), 2);
  });
});

describe("Ctap2.create / getInfo", () => {
  it("reads getInfo (request 04) and adopts maxMsgSize", async () => {
    const dev = new ScriptedDevice(["00" + INFO]);
    const c = await Ctap2.create(dev);
    assert.deepEqual(dev.requestsHex, ["04"]);
    assert.equal(c.info.maxMsgSize, 1200);
    assert.equal(c.device, dev);
    assert.equal(c.strictCbor, true);
  });

  it("refuses a device without the CBOR capability", async () => {
    const dev = new ScriptedDevice([], 0x01);
    await assert.rejects(Ctap2.create(dev), CtapError);
    assert.equal(dev.calls.length, 0);
  });

  it("rejects an empty getInfo body", async () => {
    await assert.rejects(Ctap2.create(new ScriptedDevice(["00"])), FormatError);
  });
});

const MC_ARGS = {
  clientDataHash: fromHex("687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e602645f141"),
  rp: { id: "example.com", name: "Example" },
  user: { id: fromHex("01020304"), name: "a", displayName: "A" },
  pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -8 }],
};

describe("Ctap2.makeCredential", () => {
  it("python-fido2 request vector: 01 ‖ {1:1,2:2,3:3,4:4}", async () => {
    const { dev, c } = ctap([ok(new Map())]);
    await c.sendCbor(CMD.MAKE_CREDENTIAL, new Map([[1, 1], [2, 2], [3, 3], [4, 4]]));
    assert.deepEqual(dev.requestsHex, ["01a40101020203030404"]);
  });

  it("encodes every parameter with its CTAP key and parses _MC_RESP", async () => {
    const { dev, c } = ctap(["00" + MC_RESP]);
    const res = await c.makeCredential({
      ...MC_ARGS,
      excludeList: [{ type: "public-key", id: fromHex("aa"), transports: ["usb"] }],
      extensions: { credProtect: 2 },
      options: { rk: true },
      pinUvAuthParam: fromHex("0102"),
      pinUvAuthProtocol: 2,
      enterpriseAttestation: 1,
      attestationFormatsPreference: ["packed"],
    });
    const sent = decode(dev.calls[0].data.subarray(1)) as CborMap;
    assert.equal(dev.calls[0].data[0], 0x01);
    assert.deepEqual([...sent.keys()], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(sent.get(2), new Map([["id", "example.com"], ["name", "Example"]]));
    assert.deepEqual(
      sent.get(3),
      new Map<CborValue, CborValue>([["id", fromHex("01020304")], ["name", "a"], [
        "displayName",
        "A",
      ]]),
    );
    assert.deepEqual(
      sent.get(5),
      [
        new Map<CborValue, CborValue>([["id", fromHex("aa")], ["type", "public-key"], [
          "transports",
          ["usb"],
        ]]),
      ],
    );
    assert.deepEqual(sent.get(6), new Map([["credProtect", 2]]));
    assert.deepEqual(sent.get(7), new Map([["rk", true]]));
    assert.equal(res.fmt, "packed");
    assert.equal(toHex(res.authData.raw), MC_AUTHDATA);
    assert.equal(res.authData.counter, 28);
    assert.equal(toHex(res.authData.credentialData!.credentialId), CRED_ID);
    assert.deepEqual([...res.attStmt.keys()].sort(), ["alg", "sig", "x5c"]);
    assert.equal(res.epAtt, undefined);
    assert.equal(res.largeBlobKey, undefined);
    const ao = res.toAttestationObject();
    assert.equal(ao.fmt, "packed");
    assert.equal(toHex(ao.authData.raw), MC_AUTHDATA);
  });

  it("leaves out optional parameters", async () => {
    const { dev, c } = ctap(["00" + MC_RESP]);
    await c.makeCredential(MC_ARGS);
    const sent = decode(dev.calls[0].data.subarray(1)) as CborMap;
    assert.deepEqual([...sent.keys()], [1, 2, 3, 4]);
  });

  it("parses the packed attestation response (§5.9)", async () => {
    const { c } = ctap(["00" + PACKED_RESP]);
    const res = await c.makeCredential(MC_ARGS);
    assert.equal(res.fmt, "packed");
    assert.equal(res.authData.counter, 3);
    assert.equal(
      res.authData.credentialData!.aaguid.toString(),
      "f8a011f3-8c0a-4d15-8006-17111f9edc7d",
    );
  });

  it("parses epAtt, largeBlobKey and unsigned extension outputs", async () => {
    const m = decode(fromHex(MC_RESP)) as CborMap;
    m.set(4, true).set(5, new Uint8Array(32).fill(7)).set(6, new Map([["x", 1]]));
    const { c } = ctap([ok(m)]);
    const res = await c.makeCredential(MC_ARGS);
    assert.equal(res.epAtt, true);
    assert.deepEqual(res.largeBlobKey, new Uint8Array(32).fill(7));
    assert.equal(res.unsignedExtensionOutputs?.get("x"), 1);
  });

  it("rejects lying responses with FormatError", async () => {
    const base = decode(fromHex(MC_RESP)) as CborMap;
    const lies: ((m: CborMap) => void)[] = [
      (m) => m.delete(1),
      (m) => m.set(1, 5),
      (m) => m.delete(2),
      (m) => m.set(2, "authData"),
      (m) => m.set(2, fromHex(GA_AUTHDATA)), // no attested credential data
      (m) => m.set(2, fromHex(MC_AUTHDATA + "00")),
      (m) => m.delete(3),
      (m) => m.set(3, [1]),
      (m) => m.set(4, 1),
      (m) => m.set(5, "key"),
      (m) => m.set(6, [1]),
    ];
    for (const [i, lie] of lies.entries()) {
      const m = new Map(base);
      lie(m);
      const { c } = ctap([ok(m)]);
      await assert.rejects(c.makeCredential(MC_ARGS), FormatError, `lie ${i}`);
    }
    await assert.rejects(ctap(["00"]).c.makeCredential(MC_ARGS), FormatError);
  });

  it("rejects a clientDataHash that is not 32 bytes before sending", async () => {
    const { dev, c } = ctap([]);
    await assert.rejects(
      c.makeCredential({ ...MC_ARGS, clientDataHash: new Uint8Array(31) }),
      FormatError,
    );
    assert.equal(dev.calls.length, 0);
  });

  it("surfaces CREDENTIAL_EXCLUDED as CtapError", async () => {
    const { c } = ctap(["19"]);
    await assert.rejects(
      c.makeCredential(MC_ARGS),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.CREDENTIAL_EXCLUDED,
    );
  });
});

const GA_ARGS: GetAssertionArgs = {
  rpId: "example.com",
  clientDataHash: new Uint8Array(32).fill(2),
};

describe("Ctap2.getAssertion", () => {
  it("python-fido2 request vector: 02 ‖ {1:1,2:2}", async () => {
    const { dev, c } = ctap(["00" + GA_RESP]);
    await c.sendCbor(CMD.GET_ASSERTION, new Map([[1, 1], [2, 2]]));
    assert.deepEqual(dev.requestsHex, ["02a201010202"]);
  });

  it("encodes parameters and parses _GA_RESP", async () => {
    const { dev, c } = ctap(["00" + GA_RESP]);
    const res = await c.getAssertion({
      ...GA_ARGS,
      allowList: [{ type: "public-key", id: fromHex(CRED_ID) }],
      extensions: new Map([["hmac-secret", true]]),
      options: { up: false },
      pinUvAuthParam: fromHex("0a"),
      pinUvAuthProtocol: 1,
    });
    const sent = decode(dev.calls[0].data.subarray(1)) as CborMap;
    assert.equal(dev.calls[0].data[0], 0x02);
    assert.deepEqual([...sent.keys()], [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(sent.get(1), "example.com");
    assert.deepEqual(sent.get(5), new Map([["up", false]]));
    assert.equal(res.credential?.type, "public-key");
    assert.equal(toHex(res.credential!.id), CRED_ID);
    assert.equal(toHex(res.authData.raw), GA_AUTHDATA);
    assert.equal(res.authData.counter, 29);
    assert.equal(
      toHex(res.signature),
      "304402206765cbf6e871d3af7f01ae96f06b13c90f26f54b905c5166a2c791274fc2397102200b143893586cc799fba4da83b119eaea1bd80ac3ce88fcedb3efbd596a1f4f63",
    );
    assert.equal(res.user, undefined);
    assert.equal(res.numberOfCredentials, undefined);
  });

  it("verify checks the signature over authData ‖ clientDataHash", async () => {
    const priv = p256.utils.randomSecretKey();
    const point = p256.getPublicKey(priv, false);
    const key = ES256.fromCtap1(point);
    const cdh = new Uint8Array(32).fill(5);
    const sig = p256.sign(sha256(concat(fromHex(GA_AUTHDATA), cdh)), priv, {
      prehash: false,
      format: "der",
    });
    const m = decode(fromHex(GA_RESP)) as CborMap;
    m.set(3, sig);
    const ga = new AssertionResponse(m);
    assert.equal(await ga.verify(cdh, key), true);
    assert.equal(await ga.verify(new Uint8Array(32), key), false);
    // The python-fido2 signature was made by a different key.
    assert.equal(
      await new AssertionResponse(decode(fromHex(GA_RESP)) as CborMap).verify(cdh, key),
      false,
    );
  });

  it("accepts a response without credential (single-entry allow list)", async () => {
    const m = decode(fromHex(GA_RESP)) as CborMap;
    m.delete(1);
    const { c } = ctap([ok(m)]);
    assert.equal((await c.getAssertion(GA_ARGS)).credential, undefined);
  });

  it("rejects lying responses with FormatError", async () => {
    const base = decode(fromHex(GA_RESP)) as CborMap;
    const cred = (id: CborValue, type: CborValue = "public-key") =>
      new Map<CborValue, CborValue>([["id", id], ["type", type]]);
    const lies: ((m: CborMap) => void)[] = [
      (m) => m.set(1, cred("abc")),
      (m) => m.set(1, cred(fromHex("01"), 1)),
      (m) => m.set(1, fromHex("01")),
      (m) =>
        m.set(
          1,
          new Map<CborValue, CborValue>([["id", fromHex("01")], ["type", "public-key"], [
            "transports",
            "usb",
          ]]),
        ),
      (m) => m.delete(2),
      (m) => m.set(2, fromHex("00")),
      (m) => m.delete(3),
      (m) => m.set(3, "sig"),
      (m) => m.set(4, new Map([["id", "user"]])),
      (m) => m.set(4, new Map<CborValue, CborValue>([["id", fromHex("01")], ["name", 1]])),
      (m) =>
        m.set(4, new Map<CborValue, CborValue>([["id", fromHex("01")], ["displayName", true]])),
      (m) => m.set(5, 0),
      (m) => m.set(5, "2"),
      (m) => m.set(6, 1),
      (m) => m.set(7, true),
      (m) => m.set(8, 1),
    ];
    for (const [i, lie] of lies.entries()) {
      const m = new Map(base);
      lie(m);
      const { c } = ctap([ok(m)]);
      await assert.rejects(c.getAssertion(GA_ARGS), FormatError, `lie ${i}`);
    }
  });

  it("getAssertions fetches numberOfCredentials − 1 follow-ups", async () => {
    const first = decode(fromHex(GA_RESP)) as CborMap;
    first.set(4, new Map<CborValue, CborValue>([["id", fromHex("01")], ["name", "one"]]));
    first.set(5, 3);
    const next = (n: number) => {
      const m = new Map(first);
      m.delete(5);
      m.set(4, new Map<CborValue, CborValue>([["id", new Uint8Array([n])]]));
      return ok(m);
    };
    const { dev, c } = ctap([ok(first), next(2), next(3)]);
    const all = await c.getAssertions(GA_ARGS);
    assert.deepEqual(dev.requestsHex.slice(1), ["08", "08"]);
    assert.deepEqual(all.map((a) => toHex(a.user!.id)), ["01", "02", "03"]);
    assert.equal(all[0].user?.name, "one");
    assert.equal(all[0].numberOfCredentials, 3);
    assert.ok(dev.done);
  });

  it("getAssertions with one credential makes one call", async () => {
    const { dev, c } = ctap(["00" + GA_RESP]);
    assert.equal((await c.getAssertions(GA_ARGS)).length, 1);
    assert.equal(dev.calls.length, 1);
  });

  it("getNextAssertion surfaces NOT_ALLOWED", async () => {
    const { c } = ctap(["30"]);
    await assert.rejects(
      c.getNextAssertion(),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.NOT_ALLOWED,
    );
  });

  it("AssertionResponse.fromCtap1 builds authData from presence and counter", () => {
    const sig = new SignatureData(fromHex("0500000007304402"));
    const app = new Uint8Array(32).fill(9);
    const res = AssertionResponse.fromCtap1(app, { type: "public-key", id: fromHex("77") }, sig);
    assert.equal(toHex(res.authData.raw), toHex(concat(app, fromHex("0100000007"))));
    assert.equal(toHex(res.credential!.id), "77");
    assert.equal(toHex(res.signature), "304402");
  });
});

describe("Ctap2 other commands: request bytes", () => {
  it("clientPin maps its arguments to keys 1-6, 9, 10", async () => {
    const ka = new Map<CborValue, CborValue>([[1, 2], [3, -25]]);
    const { dev, c } = ctap([ok(new Map([[3, 8]])), "00"]);
    const r = await c.clientPin({ pinUvAuthProtocol: 2, subCommand: 1 });
    assert.equal(r.get(3), 8);
    const empty = await c.clientPin({
      pinUvAuthProtocol: 2,
      subCommand: 9,
      keyAgreement: ka,
      pinUvAuthParam: fromHex("01"),
      newPinEnc: fromHex("02"),
      pinHashEnc: fromHex("03"),
      permissions: 0x21,
      rpId: "x",
    });
    assert.equal(empty.size, 0);
    assert.equal(dev.requestsHex[0], "06a201020201");
    assert.equal(
      dev.requestsHex[1],
      "06" + toHex(encode(
        new Map<number, CborValue>([
          [1, 2],
          [2, 9],
          [3, ka],
          [4, fromHex("01")],
          [5, fromHex("02")],
          [6, fromHex("03")],
          [9, 0x21],
          [10, "x"],
        ]),
      )),
    );
  });

  it("reset and selection", async () => {
    const { dev, c } = ctap(["00", "00"]);
    await c.reset();
    await c.selection();
    assert.deepEqual(dev.requestsHex, ["07", "0b"]);
  });

  it("credentialManagement uses 0x0A, the 0x41 prototype, or refuses", async () => {
    const full = ctap(["00"], [[4, new Map([["credMgmt", true]])]]);
    await full.c.credentialManagement(1, undefined, 2, fromHex("aa"));
    assert.deepEqual(full.dev.requestsHex, ["0aa3010103020441aa"]);
    const pre = ctap(["00"], [[4, new Map([["credentialMgmtPreview", true]])]]);
    await pre.c.credentialManagement(2);
    assert.deepEqual(pre.dev.requestsHex, ["41a10102"]);
    const none = ctap([]);
    await assert.rejects(
      none.c.credentialManagement(1),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.INVALID_COMMAND,
    );
    assert.equal(none.dev.calls.length, 0);
  });

  it("bioEnrollment uses 0x09, the 0x40 prototype, or refuses", async () => {
    const full = ctap(["00"], [[4, new Map([["bioEnroll", false]])]]);
    await full.c.bioEnrollment({ getModality: true });
    assert.deepEqual(full.dev.requestsHex, ["09a106f5"]);
    const pre = ctap(["00"], [[4, new Map([["userVerificationMgmtPreview", true]])]]);
    await pre.c.bioEnrollment({
      modality: 1,
      subCommand: 4,
      subCommandParams: new Map([[1, 2]]),
      pinUvAuthProtocol: 1,
      pinUvAuthParam: fromHex("bb"),
    });
    assert.deepEqual(pre.dev.requestsHex, ["40a501010204" + "03a10102" + "0401" + "0541bb"]);
    await assert.rejects(ctap([]).c.bioEnrollment({ getModality: true }), CtapError);
  });

  it("largeBlobs and config key layout", async () => {
    const { dev, c } = ctap(["00", "00"]);
    await c.largeBlobs(0, 960);
    await c.config(3, new Map([[1, 6]]), 2, fromHex("cc"));
    assert.deepEqual(dev.requestsHex, ["0ca2011903c00300", "0da4010302a1010603020441cc"]);
  });
});
