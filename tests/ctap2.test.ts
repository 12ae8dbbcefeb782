import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CborMap, type CborValue, decode, encode } from "../src/cbor.ts";
import { ES256 } from "../src/cose.ts";
import { p256 } from "@noble/curves/nist.js";
import { CtapError } from "../src/ctap.ts";
import { FormatError } from "../src/errors.ts";
import { SignatureData } from "../src/ctap1.ts";
import {
  AssertionResponse,
  BioEnrollment,
  CaptureError,
  CaptureStatus,
  ClientPin,
  CMD,
  Config,
  CredentialManagement,
  Ctap2,
  deflateRaw,
  encryptBlobEntry,
  FPBioEnrollment,
  type GetAssertionArgs,
  inflateRaw,
  Info,
  LargeBlobs,
  serializeBlobArray,
} from "../src/ctap2/mod.ts";
import { MAX_ENUMERATION } from "../src/ctap2/constants.ts";
import { concat, fromHex, hmacSha256, sha256, toHex } from "../src/utils.ts";
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

describe("Info.getIdentifier (python-fido2 vectors §12)", () => {
  const token = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const enc = fromHex("000000000000000000000000000000005187c1e6df4ebf01c0f47ee1471f996a");

  it("decrypts encIdentifier with the persistent token", async () => {
    const info = new Info(infoMap([[0x19, enc]]));
    assert.equal(toHex((await info.getIdentifier(token))!), "101112131415161718191a1b1c1d1e1f");
  });

  it("decrypts encCredStoreState with its own label", async () => {
    const info = new Info(infoMap([[0x1e, enc]]));
    const state = await info.getCredStoreState(token);
    assert.equal(state?.length, 16);
    assert.notEqual(toHex(state!), "101112131415161718191a1b1c1d1e1f");
  });

  it("undefined when absent; FormatError for a malformed value", async () => {
    assert.equal(await new Info(infoMap()).getIdentifier(token), undefined);
    const short = new Info(infoMap([[0x19, enc.subarray(0, 20)]]));
    await assert.rejects(short.getIdentifier(token), FormatError);
    const odd = new Info(infoMap([[0x19, concat(enc, fromHex("00"))]]));
    await assert.rejects(odd.getIdentifier(token), FormatError);
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

const GA_ARGS: GetAssertionArgs = {
  rpId: "example.com",
  clientDataHash: new Uint8Array(32).fill(2),
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

  it("rejects malformed arguments before sending", async () => {
    const { dev, c } = ctap([]);
    const bad: Record<string, unknown>[] = [
      { clientDataHash: new Uint8Array(31) },
      { rp: { name: "x" } },
      { user: { id: "abc" } },
      { pubKeyCredParams: [{ type: "public-key", alg: "-7" }] },
      { pubKeyCredParams: {} },
      { excludeList: [{ type: "public-key", id: "abc" }] },
    ];
    for (const b of bad) {
      await assert.rejects(
        c.makeCredential({ ...MC_ARGS, ...b } as never),
        FormatError,
        JSON.stringify(Object.keys(b)),
      );
    }
    await assert.rejects(c.getAssertion({ ...GA_ARGS, rpId: 5 } as never), FormatError);
    await assert.rejects(
      c.getAssertion({ ...GA_ARGS, allowList: [{ id: new Uint8Array(1) }] } as never),
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
    const res = await c.getAssertion(GA_ARGS);
    assert.equal(res.credential, undefined);
    const filled = res.withCredential({ type: "public-key", id: fromHex("abcd") });
    assert.equal(toHex(filled.credential!.id), "abcd");
    assert.deepEqual(filled.signature, res.signature);
    // The parsed authData is handed over, not parsed again, and only to that one response.
    assert.equal(filled.authData, res.authData);
    const other = decode(fromHex(GA_RESP)) as CborMap;
    const otherAuthData = new Uint8Array(other.get(2) as Uint8Array);
    otherAuthData[32] ^= 0x01; // another flags byte: a different authData
    other.set(2, otherAuthData);
    const next = new AssertionResponse(other);
    assert.notEqual(next.authData, res.authData);
    assert.equal(next.authData.flags, res.authData.flags ^ 0x01);
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

  it("getAssertions rejects a numberOfCredentials above MAX_ENUMERATION before looping", async () => {
    // Regression (fuzz): a lying count of 2^53 − 1 made getAssertions call getNextAssertion
    // without end, keeping every response.
    const first = decode(fromHex(GA_RESP)) as CborMap;
    for (const n of [MAX_ENUMERATION + 1, Number.MAX_SAFE_INTEGER]) {
      first.set(5, n);
      const dev = new ScriptedDevice([ok(first)]);
      const c = new Ctap2(dev, new Info(infoMap([[5, 1200]])));
      await assert.rejects(c.getAssertions(GA_ARGS), /numberOfCredentials must be at most 1024/);
      assert.equal(dev.calls.length, 1);
    }
    first.set(5, MAX_ENUMERATION);
    const next = new Map(first);
    next.delete(5);
    const { dev, c } = ctap([ok(first), ...Array(MAX_ENUMERATION - 1).fill(ok(next))]);
    assert.equal((await c.getAssertions(GA_ARGS)).length, MAX_ENUMERATION);
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
    const pre = ctap(["00"], [
      [1, ["FIDO_2_0", "FIDO_2_1_PRE"]],
      [4, new Map([["credentialMgmtPreview", true]])],
    ]);
    await pre.c.credentialManagement(2);
    assert.deepEqual(pre.dev.requestsHex, ["41a10102"]);
    // The prototype option means nothing without FIDO_2_1_PRE, and false means unsupported.
    for (
      const extra of [
        [[4, new Map([["credentialMgmtPreview", true]])]],
        [[4, new Map([["credMgmt", false]])]],
      ] as [number, CborValue][][]
    ) {
      const no = ctap([], extra);
      await assert.rejects(
        no.c.credentialManagement(1),
        (e) => e instanceof CtapError && e.code === CtapError.ERR.INVALID_COMMAND,
      );
      assert.equal(no.dev.calls.length, 0);
    }
    const none = ctap([]);
    await assert.rejects(
      none.c.credentialManagement(1),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.INVALID_COMMAND,
    );
    assert.equal(none.dev.calls.length, 0);
  });

  it("bioEnrollment refuses the 0x40 prototype on a key without FIDO_2_1_PRE", async () => {
    const { dev, c } = ctap([], [[4, new Map([["userVerificationMgmtPreview", true]])]]);
    await assert.rejects(
      c.bioEnrollment({ getModality: true }),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.INVALID_COMMAND,
    );
    assert.equal(dev.calls.length, 0);
  });

  it("bioEnrollment uses 0x09, the 0x40 prototype, or refuses", async () => {
    const full = ctap(["00"], [[4, new Map([["bioEnroll", false]])]]);
    await full.c.bioEnrollment({ getModality: true });
    assert.deepEqual(full.dev.requestsHex, ["09a106f5"]);
    const pre = ctap(["00"], [
      [1, ["FIDO_2_0", "FIDO_2_1_PRE"]],
      [4, new Map([["userVerificationMgmtPreview", true]])],
    ]);
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

// ---------------------------------------------------------------------------------------------
// Management helpers. pinUvAuthParam messages are checked against python-fido2 (vectors §12)
// with a fixed HMAC key, and the request map must carry exactly that HMAC.

const TOKEN = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const FF32 = "ff".repeat(32);

/** A PinAuth that records every message and authenticates with HMAC-SHA-256. */
function recordingProtocol(version = 2) {
  const messages: string[] = [];
  return {
    messages,
    protocol: {
      version,
      authenticate(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
        messages.push(toHex(message));
        return Promise.resolve(hmacSha256(key, message));
      },
    },
  };
}

function sentMap(dev: ScriptedDevice, i: number): CborMap {
  return decode(dev.calls[i].data.subarray(1)) as CborMap;
}

const CM_OPTS: [number, CborValue][] = [[4, new Map([["credMgmt", true]])]];

describe("CredentialManagement", () => {
  const rpIdHash = sha256(new TextEncoder().encode("example.com"));

  it("getMetadata: message 01, protocol and HMAC in the request", async () => {
    const { dev, c } = ctap([ok(new Map([[1, 3], [2, 22]]))], CM_OPTS);
    const { messages, protocol } = recordingProtocol();
    const meta = await new CredentialManagement(c, protocol, TOKEN).getMetadata();
    assert.deepEqual(meta, {
      existingResidentCredentialsCount: 3,
      maxPossibleRemainingResidentCredentialsCount: 22,
    });
    assert.deepEqual(messages, ["01"]);
    assert.equal(dev.calls[0].data[0], 0x0a);
    const sent = sentMap(dev, 0);
    assert.equal(sent.get(1), 1);
    assert.equal(sent.has(2), false);
    assert.equal(sent.get(3), 2);
    assert.deepEqual(sent.get(4), hmacSha256(TOKEN, fromHex("01")));
  });

  it("enumerateCreds: python-fido2 message bytes; NEXT calls unauthenticated", async () => {
    const cred = (n: number) =>
      new Map<CborValue, CborValue>([
        [6, new Map<CborValue, CborValue>([["id", new Uint8Array([n])], ["name", `u${n}`]])],
        [
          7,
          new Map<CborValue, CborValue>([["id", new Uint8Array([n, n])], ["type", "public-key"]]),
        ],
        [8, new Map<CborValue, CborValue>([[1, 2], [3, -7]])],
        [10, 2],
      ]);
    const first = cred(1).set(9, 2).set(11, new Uint8Array(32));
    const { dev, c } = ctap([ok(first), ok(cred(2).set(12, true))], CM_OPTS);
    const { messages, protocol } = recordingProtocol();
    const creds = await new CredentialManagement(c, protocol, TOKEN).enumerateCreds(rpIdHash);
    assert.deepEqual(messages, [
      "04a1015820a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947",
    ]);
    assert.deepEqual(dev.requestsHex[1], "0aa10105");
    assert.equal(creds.length, 2);
    assert.equal(creds[0].user.name, "u1");
    assert.deepEqual(creds[1].credentialId.id, new Uint8Array([2, 2]));
    assert.equal(creds[0].credProtect, 2);
    assert.equal(creds[0].largeBlobKey?.length, 32);
    assert.equal(creds[1].thirdPartyPayment, true);
    assert.equal(creds[0].publicKey.get(3), -7);
  });

  it("enumerateRps walks totalRPs; NO_CREDENTIALS and totalRPs 0 mean none", async () => {
    const rp = (id: string) =>
      new Map<CborValue, CborValue>([
        [3, new Map([["id", id]])],
        [4, sha256(new TextEncoder().encode(id))],
      ]);
    const { dev, c } = ctap([
      ok(rp("a.com").set(5, 2)),
      ok(rp("b.com")),
      "2e",
      ok(new Map([[5, 0]])),
    ], CM_OPTS);
    const cm = new CredentialManagement(c, recordingProtocol().protocol, TOKEN);
    const rps = await cm.enumerateRps();
    assert.deepEqual(rps.map((r) => r.rp.id), ["a.com", "b.com"]);
    assert.deepEqual(dev.requestsHex[1], "0aa10103");
    assert.deepEqual(await cm.enumerateRps(), []);
    assert.deepEqual(await cm.enumerateRps(), []);
    assert.ok(dev.done);
  });

  it("enumerations reject totals above MAX_ENUMERATION before looping", async () => {
    // Regression (fuzz): totalRPs / totalCredentials were trusted without a bound.
    const rp = new Map<CborValue, CborValue>([
      [3, new Map([["id", "a.com"]])],
      [4, sha256(new TextEncoder().encode("a.com"))],
      [5, MAX_ENUMERATION + 1],
    ]);
    const { dev, c } = ctap([ok(rp), ok(new Map([[9, Number.MAX_SAFE_INTEGER]]))], CM_OPTS);
    const cm = new CredentialManagement(c, recordingProtocol().protocol, TOKEN);
    await assert.rejects(cm.enumerateRps(), /totalRPs must be at most 1024/);
    await assert.rejects(cm.enumerateCreds(rpIdHash), /totalCredentials must be at most 1024/);
    assert.ok(dev.done);
  });

  it("rejects lying enumeration responses", async () => {
    const cm = (resp: string) =>
      new CredentialManagement(ctap([resp], CM_OPTS).c, recordingProtocol().protocol, TOKEN);
    await assert.rejects(
      cm(ok(new Map<number, unknown>([[5, 1], [3, new Map([["id", 1]])], [4, new Uint8Array(32)]])))
        .enumerateRps(),
      FormatError,
    );
    await assert.rejects(
      cm(
        ok(new Map<number, unknown>([[5, 1], [3, new Map([["id", "x"]])], [4, new Uint8Array(3)]])),
      ).enumerateRps(),
      FormatError,
    );
    await assert.rejects(cm(ok(new Map<number, unknown>([[5, "1"]]))).enumerateRps(), FormatError);
    await assert.rejects(
      cm(ok(new Map<number, unknown>([[9, 1], [6, new Map([["id", "x"]])]]))).enumerateCreds(
        rpIdHash,
      ),
      FormatError,
    );
    await assert.rejects(
      cm(ok(new Map<number, unknown>([[1, -1], [2, 1]]))).getMetadata(),
      FormatError,
    );
    await assert.rejects(cm("").enumerateCreds(new Uint8Array(5)), FormatError);
  });

  it("deleteCred and updateUserInfo message bytes", async () => {
    const { dev, c } = ctap(["00", "00"], CM_OPTS);
    const { messages, protocol } = recordingProtocol(1);
    const cm = new CredentialManagement(c, protocol, TOKEN);
    const desc = { type: "public-key", id: fromHex("0102") };
    await cm.deleteCred(desc);
    await cm.updateUserInfo(desc, { id: fromHex("aa"), name: "n" });
    const d = toHex(encode({ id: fromHex("0102"), type: "public-key" }));
    assert.deepEqual(messages, [
      "06a102" + d,
      "07a202" + d + "03" + toHex(encode({ id: fromHex("aa"), name: "n" })),
    ]);
    assert.equal(sentMap(dev, 0).get(3), 1);
  });

  it("updateUserInfo refuses on an authenticator without credMgmt", async () => {
    const { dev, c } = ctap([], [[4, new Map([["credentialMgmtPreview", true]])]]);
    const cm = new CredentialManagement(c, recordingProtocol().protocol, TOKEN);
    await assert.rejects(
      cm.updateUserInfo({ type: "public-key", id: fromHex("01") }, { id: fromHex("02") }),
      CtapError,
    );
    assert.equal(dev.calls.length, 0);
  });

  it("every feature is absent when its getInfo option is absent (CTAP 2.1 §6.4)", () => {
    const info = (o: Record<string, boolean>, v = ["FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"]) =>
      new Info(new Map<CborValue, CborValue>([[1, v], [4, new Map(Object.entries(o))]]));
    const bare = info({ rk: true, up: true, clientPin: true });
    assert.equal(CredentialManagement.isSupported(bare), false);
    assert.equal(BioEnrollment.isSupported(bare), false);
    assert.equal(LargeBlobs.isSupported(bare), false);
    assert.equal(Config.isSupported(bare), false);
    assert.equal(ClientPin.isTokenSupported(bare), false);
    assert.equal(LargeBlobs.isSupported(info({ largeBlobs: false })), false);
    assert.equal(Config.isSupported(info({ authnrCfg: false })), false);
    // bioEnroll: false means "supported, nothing enrolled"; the prototype needs FIDO_2_1_PRE.
    assert.equal(BioEnrollment.isSupported(info({ bioEnroll: false })), true);
    assert.equal(BioEnrollment.isSupported(info({ userVerificationMgmtPreview: false })), true);
    assert.equal(
      BioEnrollment.isSupported(info({ userVerificationMgmtPreview: true }, ["FIDO_2_0"])),
      false,
    );
  });

  it("isSupported / isUpdateSupported / isReadonlySupported", () => {
    const info = (o: Record<string, boolean>, v = ["FIDO_2_1"]) =>
      new Info(new Map<CborValue, CborValue>([[1, v], [4, new Map(Object.entries(o))]]));
    assert.equal(CredentialManagement.isSupported(info({ credMgmt: true })), true);
    assert.equal(CredentialManagement.isSupported(info({ credentialMgmtPreview: true })), false);
    assert.equal(
      CredentialManagement.isSupported(info({ credentialMgmtPreview: true }, ["FIDO_2_1_PRE"])),
      true,
    );
    assert.equal(CredentialManagement.isSupported(info({ credMgmt: false })), false);
    assert.equal(
      CredentialManagement.isSupported(info({ credentialMgmtPreview: false }, ["FIDO_2_1_PRE"])),
      false,
    );
    assert.equal(CredentialManagement.isPreview(info({ credMgmt: true })), false);
    assert.equal(
      CredentialManagement.isPreview(info({ credentialMgmtPreview: true }, ["FIDO_2_1_PRE"])),
      true,
    );
    assert.equal(CredentialManagement.isUpdateSupported(info({ credMgmt: false })), false);
    assert.equal(CredentialManagement.isReadonlySupported(info({ perCredMgmtRO: true })), true);
  });
});

/** The options of a CTAP 2.1 key with every authenticatorConfig feature. */
const CFG_OPTIONS = new Map<string, boolean>([
  ["authnrCfg", true],
  ["alwaysUv", false],
  ["ep", false],
  ["setMinPINLength", true],
]);

describe("Config", () => {
  it("toggleAlwaysUv and setMinPinLength message bytes (python-fido2)", async () => {
    const { dev, c } = ctap(["00", "00", "00"], [[4, CFG_OPTIONS]]);
    const { messages, protocol } = recordingProtocol();
    const cfg = new Config(c, protocol, TOKEN);
    await cfg.toggleAlwaysUv();
    await cfg.setMinPinLength({ minPinLength: 6 });
    await cfg.enableEnterpriseAttestation();
    assert.deepEqual(messages, [FF32 + "0d02", FF32 + "0d03a2010603f4", FF32 + "0d01"]);
    assert.equal(dev.calls[0].data[0], 0x0d);
    const sent = sentMap(dev, 1);
    assert.equal(sent.get(1), 3);
    assert.deepEqual(sent.get(2), new Map<CborValue, CborValue>([[1, 6], [3, false]]));
    assert.equal(sent.get(3), 2);
    assert.deepEqual(sent.get(4), hmacSha256(TOKEN, fromHex(FF32 + "0d03a2010603f4")));
  });

  it("setMinPinLength with RP IDs, forced change and complexity policy", async () => {
    const { c } = ctap(["00"], [[4, CFG_OPTIONS], [0x1b, false]]);
    const { messages, protocol } = recordingProtocol();
    await new Config(c, protocol, TOKEN).setMinPinLength({
      rpIds: ["a.com"],
      forceChangePin: true,
      pinComplexityPolicy: true,
    });
    assert.equal(
      messages[0],
      FF32 + "0d03" +
        toHex(encode(new Map<number, CborValue>([[2, ["a.com"]], [3, true], [4, true]]))),
    );
  });

  it("refuses what the authenticator does not support, before sending", async () => {
    const { dev, c } = ctap([], [[4, CFG_OPTIONS], [0x1f, [1, 3]]]);
    const cfg = new Config(c, recordingProtocol().protocol, TOKEN);
    await assert.rejects(cfg.toggleAlwaysUv(), CtapError);
    await assert.rejects(cfg.setMinPinLength({ pinComplexityPolicy: true }), CtapError);
    await assert.rejects(cfg.setMinPinLength({ minPinLength: -1 }), FormatError);
    assert.equal(dev.calls.length, 0);
  });

  it("works without a token on an authenticator without a PIN", async () => {
    const { dev } = ctap([]);
    const d2 = ctap(["00"], [[4, CFG_OPTIONS]]);
    await new Config(d2.c).toggleAlwaysUv();
    assert.deepEqual(d2.dev.requestsHex, ["0da10102"]);
    assert.equal(dev.calls.length, 0);
  });

  // CTAP 2.1 §6.11: each sub-command exists only with its getInfo option; absent = no.
  for (
    const [option, call] of [
      ["ep", (cfg: Config) => cfg.enableEnterpriseAttestation()],
      ["alwaysUv", (cfg: Config) => cfg.toggleAlwaysUv()],
      ["setMinPINLength", (cfg: Config) => cfg.setMinPinLength({ minPinLength: 6 })],
    ] as const
  ) {
    it(`refuses ${option} sub-commands when getInfo lacks the ${option} option`, async () => {
      const without = new Map(CFG_OPTIONS);
      without.delete(option);
      const { dev, c } = ctap([], [[4, without]]);
      await assert.rejects(
        call(new Config(c, recordingProtocol().protocol, TOKEN)),
        (e) => e instanceof CtapError && e.code === CtapError.ERR.INVALID_SUBCOMMAND,
      );
      assert.equal(dev.calls.length, 0);
    });
  }
});

const BIO_OPTS: [number, CborValue][] = [[4, new Map([["bioEnroll", true]])]];

describe("FPBioEnrollment", () => {
  it("create checks the modality", async () => {
    const { dev, c } = ctap([ok(new Map([[1, 1]])), ok(new Map([[1, 2]]))], BIO_OPTS);
    const { protocol } = recordingProtocol();
    await FPBioEnrollment.create(c, protocol, TOKEN);
    assert.deepEqual(dev.requestsHex, ["09a106f5"]);
    await assert.rejects(FPBioEnrollment.create(c, protocol, TOKEN), CtapError);
  });

  it("enumerateEnrollments and enrollBegin message bytes (python-fido2)", async () => {
    const infos = [
      new Map<CborValue, CborValue>([[1, fromHex("01")], [2, "thumb"]]),
      new Map<CborValue, CborValue>([[1, fromHex("02")]]),
    ];
    const { dev, c } = ctap([
      ok(new Map([[7, infos]])),
      ok(new Map<number, CborValue>([[4, fromHex("03")], [5, 0], [6, 4]])),
    ], BIO_OPTS);
    const { messages, protocol } = recordingProtocol();
    const bio = new FPBioEnrollment(c, protocol, TOKEN);
    assert.deepEqual(await bio.enumerateEnrollments(), [
      { templateId: fromHex("01"), name: "thumb" },
      { templateId: fromHex("02") },
    ]);
    const begin = await bio.enrollBegin(10000);
    assert.deepEqual(begin, { templateId: fromHex("03"), status: 0, remaining: 4 });
    assert.deepEqual(messages, ["0104", "0101a103192710"]);
    const sent = sentMap(dev, 1);
    assert.equal(sent.get(1), 1);
    assert.equal(sent.get(2), 1);
    assert.equal(sent.get(4), 2);
    assert.deepEqual(sent.get(5), hmacSha256(TOKEN, fromHex("0101a103192710")));
  });

  it("an enrollment context captures until remaining is 0; bad samples raise CaptureError", async () => {
    const { dev, c } = ctap([
      ok(new Map<number, CborValue>([[4, fromHex("09")], [5, 0], [6, 2]])),
      ok(new Map([[5, CaptureStatus.FP_TOO_FAST], [6, 2]])),
      ok(new Map([[5, 0], [6, 1]])),
      ok(new Map([[5, 0], [6, 0]])),
    ], BIO_OPTS);
    const { messages, protocol } = recordingProtocol();
    const ctx = new FPBioEnrollment(c, protocol, TOKEN).enroll();
    assert.equal(await ctx.capture(), undefined);
    await assert.rejects(ctx.capture(), (e) => e instanceof CaptureError && e.code === 5);
    assert.equal(await ctx.capture(), undefined);
    assert.deepEqual(await ctx.capture(), fromHex("09"));
    assert.equal(messages[1], "0102a1014109");
    assert.ok(dev.done);
  });

  it("sensor info and cancel go without a token; INVALID_OPTION means no enrollments", async () => {
    const { dev, c } = ctap([ok(new Map([[2, 1], [3, 5], [8, 15]])), "00", "2c"], BIO_OPTS);
    const { messages, protocol } = recordingProtocol();
    const bio = new FPBioEnrollment(c, protocol, TOKEN);
    assert.deepEqual(await bio.getFingerprintSensorInfo(), {
      fingerprintKind: 1,
      maxCaptureSamplesRequiredForEnroll: 5,
      maxTemplateFriendlyName: 15,
    });
    await bio.enrollCancel();
    assert.deepEqual(await bio.enumerateEnrollments(), []);
    assert.deepEqual(dev.requestsHex.slice(0, 2), ["09a201010207", "09a201010203"]);
    assert.deepEqual(messages, ["0104"]);
  });

  it("setName and removeEnrollment message bytes; lying responses rejected", async () => {
    const { c } = ctap([
      "00",
      "00",
      ok(new Map([[7, [new Map([[2, "x"]])]]])),
      ok(new Map([[4, "id"]])),
    ], BIO_OPTS);
    const { messages, protocol } = recordingProtocol();
    const bio = new FPBioEnrollment(c, protocol, TOKEN);
    await bio.setName(fromHex("01"), "a");
    await bio.removeEnrollment(fromHex("01"));
    assert.deepEqual(messages, ["0105a20141010261" + "61", "0106a1014101"]);
    await assert.rejects(bio.enumerateEnrollments(), FormatError);
    await assert.rejects(bio.enrollBegin(), FormatError);
  });
});

// python-fido2 vectors §12.
const BLOB_KEY = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const ENTRY_HEX =
  "a301581b6352f34828a11fb277665ffd599b5cff7698ce3c9bdec51051deb6024c6465666768696a6b6c6d6e6f0309";
const ARRAY_HEX = "81" + ENTRY_HEX + "7486ec513cc419c346ff5605975d5198";
const EMPTY_ARRAY = "8076be8b528d0075f7aae98d6fa57a6d3c";

/** A scripted largeBlobs authenticator: serves `stored` on get, records set fragments. */
function blobDevice(stored: Uint8Array, maxMsgSize = 1024, extra: [number, CborValue][] = []) {
  const writes: Uint8Array[] = [];
  const dev = new ScriptedDevice();
  const step = (_cmd: number, data: Uint8Array): Uint8Array => {
    dev.push(step);
    const m = decode(data.subarray(1)) as CborMap;
    const offset = m.get(3) as number;
    if (m.has(1)) {
      const n = m.get(1) as number;
      return concat(fromHex("00"), encode(new Map([[1, stored.subarray(offset, offset + n)]])));
    }
    writes.push(m.get(2) as Uint8Array);
    return fromHex("00");
  };
  dev.push(step);
  const c = new Ctap2(
    dev,
    new Info(infoMap([[5, maxMsgSize], [4, new Map([["largeBlobs", true]])], ...extra])),
  );
  return { dev, c, writes };
}

describe("LargeBlobs", () => {
  it("serializes arrays with the truncated SHA-256 checksum (python-fido2)", () => {
    assert.equal(toHex(serializeBlobArray([])), EMPTY_ARRAY);
    assert.equal(toHex(serializeBlobArray([decode(fromHex(ENTRY_HEX))])), ARRAY_HEX);
    assert.throws(() => serializeBlobArray("x" as unknown as CborValue[]), FormatError);
  });

  it("encrypts an entry exactly as python-fido2 (fixed nonce)", async () => {
    const entry = await encryptBlobEntry(
      BLOB_KEY,
      fromHex("2b492d2e5148492c490400"),
      9,
      fromHex("6465666768696a6b6c6d6e6f"),
    );
    assert.equal(toHex(encode(entry)), ENTRY_HEX);
  });

  it("getBlob decrypts and inflates python-fido2's entry", async () => {
    const { c, writes } = blobDevice(fromHex(ARRAY_HEX));
    const lb = new LargeBlobs(c);
    assert.equal(new TextDecoder().decode(await lb.getBlob(BLOB_KEY)), "test data");
    const other = BLOB_KEY.slice();
    other[0] ^= 1;
    assert.equal(await lb.getBlob(other), undefined);
    assert.equal(writes.length, 0);
    await assert.rejects(lb.getBlob(new Uint8Array(16)), FormatError);
  });

  it("reads in fragments of maxMsgSize − 64 until a short one", async () => {
    const stored = serializeBlobArray([new Uint8Array(300), new Uint8Array(200)]);
    const { dev, c } = blobDevice(stored, 264); // fragments of 200 bytes
    const arr = await new LargeBlobs(c).readBlobArray();
    assert.equal(arr.length, 2);
    const reqs = dev.calls.map((call) => decode(call.data.subarray(1)) as CborMap);
    assert.deepEqual(reqs.map((r) => [r.get(1), r.get(3)]), [[200, 0], [200, 200], [200, 400]]);
    assert.equal(stored.length, 522);
  });

  it("an exact multiple of the fragment size ends with an empty fragment", async () => {
    const { dev, c } = blobDevice(new Uint8Array(400), 264);
    assert.deepEqual(await new LargeBlobs(c).readBlobArray(), []);
    assert.equal(dev.calls.length, 3);
  });

  it("a corrupt array (bad checksum, short, not CBOR, not an array) reads as empty", async () => {
    const good = fromHex(ARRAY_HEX);
    const badSum = good.slice();
    badSum[badSum.length - 1] ^= 1;
    const notArray = concat(
      encode(new Map([[1, 2]])),
      sha256(encode(new Map([[1, 2]]))).subarray(0, 16),
    );
    const notCbor = concat(fromHex("ff"), sha256(fromHex("ff")).subarray(0, 16));
    for (const stored of [badSum, good.subarray(0, 10), notArray, notCbor, new Uint8Array(0)]) {
      const { c } = blobDevice(stored);
      assert.deepEqual(await new LargeBlobs(c).readBlobArray(), []);
    }
  });

  it("rejects lying read responses", async () => {
    const tooLong = ctap([ok(new Map([[1, new Uint8Array(1137)]]))]);
    await assert.rejects(new LargeBlobs(tooLong.c).readBlobArray(), FormatError);
    const wrongType = ctap([ok(new Map([[1, "x"]]))]);
    await assert.rejects(new LargeBlobs(wrongType.c).readBlobArray(), FormatError);
    // A device that keeps returning full fragments past maxSerializedLargeBlobArray.
    const endless = new ScriptedDevice();
    const full = () => {
      endless.push(full);
      return concat(fromHex("00"), encode(new Map([[1, new Uint8Array(200)]])));
    };
    endless.push(full);
    const c = new Ctap2(endless, new Info(infoMap([[5, 264], [11, 1024]])));
    await assert.rejects(new LargeBlobs(c).readBlobArray(), FormatError);
    assert.ok(endless.calls.length <= 7);
  });

  it("writeBlobArray: python-fido2 pinUvAuthParam message and request map", async () => {
    const { dev, c } = ctap(["00"]);
    const { messages, protocol } = recordingProtocol();
    await new LargeBlobs(c, protocol, TOKEN).writeBlobArray([decode(fromHex(ENTRY_HEX))]);
    assert.deepEqual(messages, [
      FF32 + "0c0000000000b55c0d9fee3f766100f350a0afe71a4e5b443d2f0b19f9967623562e03dec210",
    ]);
    const sent = sentMap(dev, 0);
    assert.equal(dev.calls[0].data[0], 0x0c);
    assert.deepEqual([...sent.keys()], [2, 3, 4, 5, 6]);
    assert.equal(toHex(sent.get(2) as Uint8Array), ARRAY_HEX);
    assert.equal(sent.get(3), 0);
    assert.equal(sent.get(4), 64);
    assert.deepEqual(sent.get(5), hmacSha256(TOKEN, fromHex(messages[0])));
    assert.equal(sent.get(6), 2);
  });

  it("writeBlobArray fragments, sends length only at offset 0, authenticates each fragment", async () => {
    const { dev, c, writes } = blobDevice(new Uint8Array(0), 264);
    const { messages, protocol } = recordingProtocol();
    const array = [new Uint8Array(450)];
    await new LargeBlobs(c, protocol, TOKEN).writeBlobArray(array);
    const data = serializeBlobArray(array);
    assert.deepEqual(writes.map((w) => w.length), [200, 200, data.length - 400]);
    assert.deepEqual(concat(...writes), data);
    const reqs = dev.calls.map((call) => decode(call.data.subarray(1)) as CborMap);
    assert.deepEqual(reqs.map((r) => [r.get(3), r.get(4)]), [[0, data.length], [200, undefined], [
      400,
      undefined,
    ]]);
    assert.equal(messages[1], FF32 + "0c00" + "c8000000" + toHex(sha256(writes[1])));
  });

  it("writeBlobArray refuses an array over maxSerializedLargeBlobArray", async () => {
    const { dev, c } = ctap([], [[11, 1024]]);
    await assert.rejects(
      new LargeBlobs(c).writeBlobArray([new Uint8Array(1100)]),
      (e) => e instanceof CtapError && e.code === CtapError.ERR.LARGE_BLOB_STORAGE_FULL,
    );
    assert.equal(dev.calls.length, 0);
  });

  it("putBlob / getBlob / deleteBlob round trip keeps other keys' entries", async () => {
    let stored = fromHex(ARRAY_HEX);
    const dev = new ScriptedDevice();
    const step = (_cmd: number, data: Uint8Array): Uint8Array => {
      dev.push(step);
      const m = decode(data.subarray(1)) as CborMap;
      const offset = m.get(3) as number;
      if (m.has(1)) {
        return concat(
          fromHex("00"),
          encode(new Map([[1, stored.subarray(offset, offset + (m.get(1) as number))]])),
        );
      }
      const frag = m.get(2) as Uint8Array;
      stored = offset === 0 ? frag : concat(stored, frag);
      return fromHex("00");
    };
    dev.push(step);
    const c = new Ctap2(dev, new Info(infoMap([[5, 1024]])));
    const lb = new LargeBlobs(c);
    const key2 = new Uint8Array(32).fill(0x42);
    const big = new TextEncoder().encode("hello ".repeat(200));
    await lb.putBlob(key2, big);
    assert.deepEqual(await lb.getBlob(key2), big);
    assert.equal(new TextDecoder().decode(await lb.getBlob(BLOB_KEY)), "test data");
    await lb.putBlob(BLOB_KEY, new TextEncoder().encode("new"));
    assert.equal(new TextDecoder().decode(await lb.getBlob(BLOB_KEY)), "new");
    assert.equal((await lb.readBlobArray()).length, 2);
    await lb.deleteBlob(key2);
    assert.equal(await lb.getBlob(key2), undefined);
    assert.equal((await lb.readBlobArray()).length, 1);
    const writesBefore =
      dev.calls.filter((call) => (decode(call.data.subarray(1)) as CborMap).has(2)).length;
    await lb.deleteBlob(key2); // nothing to delete: no write
    const writesAfter =
      dev.calls.filter((call) => (decode(call.data.subarray(1)) as CborMap).has(2)).length;
    assert.equal(writesAfter, writesBefore);
  });

  it("deflate/inflate round trip and inflate size limit", async () => {
    const data = new TextEncoder().encode("abc".repeat(1000));
    const z = await deflateRaw(data);
    assert.ok(z.length < 100);
    assert.deepEqual(await inflateRaw(z, data.length), data);
    await assert.rejects(inflateRaw(z, 100), FormatError);
    await assert.rejects(inflateRaw(z, data.length + 1), FormatError);
    await assert.rejects(inflateRaw(z.subarray(0, 5), data.length), FormatError);
    await assert.rejects(inflateRaw(fromHex("ffffff"), 3), FormatError);
    assert.equal(
      new TextDecoder().decode(await inflateRaw(fromHex("2b492d2e5148492c490400"), 9)),
      "test data",
    );
  });

  it("an entry whose declared size does not match is skipped", async () => {
    const entry = await encryptBlobEntry(BLOB_KEY, fromHex("2b492d2e5148492c490400"), 8);
    const { c } = blobDevice(serializeBlobArray([entry]));
    assert.equal(await new LargeBlobs(c).getBlob(BLOB_KEY), undefined);
  });
});
