import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { p256, p384 } from "@noble/curves/nist.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { decode, decodeFrom, encode } from "../src/cbor.ts";
import type { CborMap, CborValue } from "../src/cbor.ts";
import { CtapError } from "../src/ctap.ts";
import {
  b64urlEncode,
  bytesEqual,
  concat,
  randomBytes,
  sha256,
  toHex,
  utf8Encode,
} from "../src/utils.ts";
import { AUTH_DATA_FLAG, CtapAuthenticator, DEFAULT_AAGUID } from "../src/virtual/authenticator.ts";
import type { VirtualAuthenticatorOptions } from "../src/virtual/authenticator.ts";
import { PERMISSION } from "../src/virtual/types.ts";
import {
  createAttestation,
  createCertificate,
  derOid,
  derTlv,
  derUnsignedInteger,
} from "../src/virtual/attestation_cert.ts";
import {
  decapsulate,
  generateKeyAgreementKey,
  PinProtocolV1,
  PinProtocolV2,
} from "../src/ctap2/pin_protocol.ts";
import { verifyAuthenticationResponse, verifyRegistrationResponse } from "@simplewebauthn/server";
import fc from "fast-check";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import type { PinUvAuthApi, RequestContext, UserActionHook } from "../src/virtual/types.ts";

const ERR = CtapError.ERR;

// ------------------------------------------------------------------ helpers

interface TestCtx extends RequestContext {
  keepalives: number[];
  controller: AbortController;
}

function makeCtx(): TestCtx {
  const controller = new AbortController();
  const keepalives: number[] = [];
  return {
    signal: controller.signal,
    keepalive: (s: number) => keepalives.push(s),
    keepalives,
    controller,
  };
}

interface Reply {
  status: number;
  body?: CborMap;
}

async function call(
  auth: CtapAuthenticator,
  cmd: number,
  params?: unknown,
  ctx: RequestContext = makeCtx(),
): Promise<Reply> {
  const req = params === undefined
    ? new Uint8Array([cmd])
    : concat(new Uint8Array([cmd]), encode(params));
  const res = await auth.processCbor(req, ctx);
  assert.ok(res.length >= 1);
  return { status: res[0], body: res.length > 1 ? decode(res.subarray(1)) as CborMap : undefined };
}

async function ok(
  auth: CtapAuthenticator,
  cmd: number,
  params?: unknown,
  ctx?: RequestContext,
): Promise<CborMap> {
  const r = await call(auth, cmd, params, ctx);
  assert.equal(r.status, 0, `expected success, got 0x${r.status.toString(16)}`);
  assert.ok(r.body);
  return r.body;
}

async function status(
  auth: CtapAuthenticator,
  cmd: number,
  params?: unknown,
  ctx?: RequestContext,
): Promise<number> {
  return (await call(auth, cmd, params, ctx)).status;
}

interface ParsedAuthData {
  rpIdHash: Uint8Array;
  flags: number;
  counter: number;
  aaguid?: Uint8Array;
  credentialId?: Uint8Array;
  publicKey?: CborMap;
  extensions?: Map<CborValue, CborValue>;
}

function parseAuthData(data: Uint8Array): ParsedAuthData {
  assert.ok(data.length >= 37, "authData too short");
  const out: ParsedAuthData = {
    rpIdHash: data.slice(0, 32),
    flags: data[32],
    counter: new DataView(data.buffer, data.byteOffset + 33, 4).getUint32(0),
  };
  let rest = data.subarray(37);
  if (out.flags & AUTH_DATA_FLAG.AT) {
    out.aaguid = rest.slice(0, 16);
    const len = (rest[16] << 8) | rest[17];
    out.credentialId = rest.slice(18, 18 + len);
    const [key, after] = decodeFrom(rest.subarray(18 + len));
    out.publicKey = key as CborMap;
    rest = after;
  }
  if (out.flags & AUTH_DATA_FLAG.ED) {
    const [ext, after] = decodeFrom(rest);
    out.extensions = ext as CborMap;
    rest = after;
  }
  assert.equal(rest.length, 0, "trailing bytes in authData");
  return out;
}

/** Verifies a WebAuthn signature with a COSE public key. */
function verifyCose(key: CborMap, sig: Uint8Array, msg: Uint8Array): boolean {
  const alg = key.get(3);
  if (alg === -8) {
    assert.equal(key.get(1), 1);
    assert.equal(key.get(-1), 6);
    return ed25519.verify(sig, msg, key.get(-2) as Uint8Array);
  }
  assert.equal(key.get(1), 2);
  const point = concat(new Uint8Array([4]), key.get(-2) as Uint8Array, key.get(-3) as Uint8Array);
  if (alg === -7) {
    assert.equal(key.get(-1), 1);
    return p256.verify(sig, msg, point, { format: "der" });
  }
  assert.equal(alg, -35);
  assert.equal(key.get(-1), 2);
  return p384.verify(sig, msg, point, { format: "der" });
}

const RP = "example.com";
const RP_HASH = sha256(utf8Encode(RP));

function mcParams(over: Record<number, unknown> = {}): Map<number, unknown> {
  const m = new Map<number, unknown>([
    [1, randomBytes(32)],
    [2, { id: RP, name: "Example" }],
    [3, { id: new Uint8Array([1, 2, 3, 4]), name: "alice", displayName: "Alice" }],
    [4, [{ type: "public-key", alg: -7 }]],
  ]);
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) m.delete(Number(k));
    else m.set(Number(k), v);
  }
  return m;
}

function gaParams(over: Record<number, unknown> = {}): Map<number, unknown> {
  const m = new Map<number, unknown>([[1, RP], [2, randomBytes(32)]]);
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) m.delete(Number(k));
    else m.set(Number(k), v);
  }
  return m;
}

const MC = 0x01, GA = 0x02, INFO = 0x04, CLIENT_PIN = 0x06, RESET = 0x07, GNA = 0x08;
const SELECTION = 0x0b;

async function register(
  auth: CtapAuthenticator,
  over: Record<number, unknown> = {},
): Promise<{ id: Uint8Array; key: CborMap; authData: ParsedAuthData; body: CborMap }> {
  const body = await ok(auth, MC, mcParams(over));
  const authData = parseAuthData(body.get(2) as Uint8Array);
  return { id: authData.credentialId!, key: authData.publicKey!, authData, body };
}

/** A fake PIN/UV state: records calls, answers verifyToken as configured. */
class FakePin implements PinUvAuthApi {
  isPinSet = true;
  forcePinChange = false;
  minPinLength = 6;
  protocols = [2, 1];
  pinRetries = 8;
  uvRetries = 5;
  verifyCalls: Parameters<PinUvAuthApi["verifyToken"]>[0][] = [];
  consumed = 0;
  resets = 0;
  tokenFlags: { userPresent: boolean; userVerified: boolean } | undefined;
  verifyToken(args: Parameters<PinUvAuthApi["verifyToken"]>[0]) {
    this.verifyCalls.push(args);
    if (!this.tokenFlags) throw new CtapError(ERR.PIN_AUTH_INVALID);
    return this.tokenFlags;
  }
  consumeToken(): void {
    this.consumed++;
  }
  handleClientPin(params: CborMap): Promise<CborMap | undefined> {
    return Promise.resolve(new Map([[3, this.pinRetries + (params.get(2) as number)]]));
  }
  setMinPinLength(): void {}
  reset(): void {
    this.resets++;
    this.isPinSet = false;
  }
  powerCycle(): void {}
  exportState() {
    return { pinRetries: 8, uvRetries: 5, minPinLength: 6, forcePinChange: false };
  }
}

function counting(decision: "approve" | "deny" | "timeout" = "approve") {
  const calls: string[] = [];
  const hook: UserActionHook = (req) => {
    calls.push(req.reason);
    return decision;
  };
  return { hook, calls };
}

function newAuth(o: VirtualAuthenticatorOptions = {}): CtapAuthenticator {
  return new CtapAuthenticator(o);
}

// ------------------------------------------------------------------ getInfo

describe("getInfo", () => {
  it("reports the CTAP 2.1 field set (default profile ctap2.2)", async () => {
    const pin = new FakePin();
    const auth = newAuth({ pinUvAuth: pin, uv: true, rkCapacity: 10 });
    const info = await ok(auth, INFO);
    assert.deepEqual(info.get(1), ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1", "FIDO_2_2"]);
    const ext = info.get(2) as string[];
    for (const e of ["credProtect", "credBlob", "thirdPartyPayment"]) assert.ok(ext.includes(e));
    assert.ok(!ext.includes("hmac-secret"), "no hmac-secret without a shared-secret provider");
    assert.ok(!ext.includes("largeBlobKey"), "no largeBlobKey without a largeBlobs handler");
    assert.ok(bytesEqual(info.get(3) as Uint8Array, DEFAULT_AAGUID));
    const options = info.get(4) as CborMap;
    assert.equal(options.get("rk"), true);
    assert.equal(options.get("up"), true);
    assert.equal(options.get("uv"), true);
    assert.equal(options.get("plat"), false);
    assert.equal(options.get("clientPin"), true);
    assert.equal(options.get("pinUvAuthToken"), true);
    assert.equal(options.get("makeCredUvNotRqd"), true);
    assert.equal(options.get("alwaysUv"), false);
    assert.equal(info.get(5), 1200);
    assert.deepEqual(info.get(6), [2, 1]);
    assert.equal(info.get(7), 8);
    assert.equal(info.get(8), 128);
    assert.deepEqual(info.get(9), ["usb"]);
    assert.deepEqual(info.get(10), [
      new Map<string, unknown>([["alg", -7], ["type", "public-key"]]),
      new Map<string, unknown>([["alg", -8], ["type", "public-key"]]),
      new Map<string, unknown>([["alg", -35], ["type", "public-key"]]),
    ]);
    assert.equal(info.get(12), false);
    assert.equal(info.get(13), 6);
    assert.equal(info.get(14), 1);
    assert.equal(info.get(15), 32);
    assert.equal(info.get(20), 10);
  });

  it("omits clientPin and uv when not configured, and 2.1 fields for a 2.0 device", async () => {
    const info = await ok(newAuth({ ctap21: false, u2f: false }), INFO);
    assert.deepEqual(info.get(1), ["FIDO_2_0"]);
    const options = info.get(4) as CborMap;
    assert.equal(options.has("clientPin"), false);
    assert.equal(options.has("uv"), false);
    assert.equal(options.has("pinUvAuthToken"), false);
    assert.equal(info.has(6), false);
    assert.equal(info.has(10), false);
    assert.equal(info.has(20), false);
  });

  it("advertises options of registered command handlers", async () => {
    const auth = newAuth();
    auth.registerCommand(0x0c, {
      handle: () => Promise.resolve(new Map([[1, new Uint8Array(17)]])),
      infoOptions: { largeBlobs: true },
    });
    const info = await ok(auth, INFO);
    assert.equal((info.get(4) as CborMap).get("largeBlobs"), true);
    assert.ok((info.get(2) as string[]).includes("largeBlobKey"));
    assert.equal(info.get(11), 4096);
    const r = await ok(auth, 0x0c, new Map([[1, 0]]));
    assert.equal((r.get(1) as Uint8Array).length, 17);
  });

  it("counts remaining discoverable credentials down", async () => {
    const auth = newAuth({ rkCapacity: 2 });
    await register(auth, { 7: { rk: true } });
    assert.equal((await ok(auth, INFO)).get(20), 1);
  });
});

// ------------------------------------------------------------------ makeCredential

describe("makeCredential", () => {
  it("creates a credential with a verifiable packed self attestation", async () => {
    const auth = newAuth();
    const params = mcParams();
    const body = await ok(auth, MC, params);
    assert.equal(body.get(1), "packed");
    const authDataBytes = body.get(2) as Uint8Array;
    const ad = parseAuthData(authDataBytes);
    assert.ok(bytesEqual(ad.rpIdHash, RP_HASH));
    assert.equal(ad.flags, AUTH_DATA_FLAG.UP | AUTH_DATA_FLAG.AT);
    assert.equal(ad.counter, 1);
    assert.ok(bytesEqual(ad.aaguid!, DEFAULT_AAGUID));
    assert.ok(ad.credentialId!.length <= 128 && ad.credentialId!.length >= 16);
    assert.equal(ad.publicKey!.get(3), -7);
    const attStmt = body.get(3) as CborMap;
    assert.equal(attStmt.get("alg"), -7);
    assert.equal(attStmt.has("x5c"), false);
    const signed = concat(authDataBytes, params.get(1) as Uint8Array);
    assert.ok(verifyCose(ad.publicKey!, attStmt.get("sig") as Uint8Array, signed));
    // A different message does not verify: the check above can fail.
    assert.ok(!verifyCose(ad.publicKey!, attStmt.get("sig") as Uint8Array, randomBytes(64)));
  });

  it("picks the first supported algorithm in the platform's order", async () => {
    const auth = newAuth();
    const a = await register(auth, {
      4: [
        { type: "public-key", alg: -257 },
        { type: "other", alg: -7 },
        { type: "public-key", alg: -8 },
        { type: "public-key", alg: -7 },
      ],
    });
    assert.equal(a.key.get(3), -8);
    const b = await register(auth, { 4: [{ type: "public-key", alg: -35 }] });
    assert.equal(b.key.get(3), -35);
    assert.equal(
      await status(auth, MC, mcParams({ 4: [{ type: "public-key", alg: -257 }] })),
      ERR.UNSUPPORTED_ALGORITHM,
    );
    const only256 = newAuth({ algorithms: [-7] });
    assert.equal(
      await status(only256, MC, mcParams({ 4: [{ type: "public-key", alg: -8 }] })),
      ERR.UNSUPPORTED_ALGORITHM,
    );
  });

  it("signs attestations and assertions with every algorithm", async () => {
    const auth = newAuth();
    for (const alg of [-7, -8, -35]) {
      const params = mcParams({ 4: [{ type: "public-key", alg }] });
      const body = await ok(auth, MC, params);
      const ad = parseAuthData(body.get(2) as Uint8Array);
      const sig = (body.get(3) as CborMap).get("sig") as Uint8Array;
      assert.equal((body.get(3) as CborMap).get("alg"), alg);
      assert.ok(
        verifyCose(
          ad.publicKey!,
          sig,
          concat(body.get(2) as Uint8Array, params.get(1) as Uint8Array),
        ),
      );
      const cdh = randomBytes(32);
      const ga = await ok(
        auth,
        GA,
        gaParams({ 2: cdh, 3: [{ type: "public-key", id: ad.credentialId }] }),
      );
      assert.ok(
        verifyCose(ad.publicKey!, ga.get(3) as Uint8Array, concat(ga.get(2) as Uint8Array, cdh)),
      );
    }
  });

  it("produces 'none' and certificate-based packed attestation", async () => {
    const none = await ok(newAuth({ attestation: "none" }), MC, mcParams());
    assert.equal(none.get(1), "none");
    assert.equal((none.get(3) as CborMap).size, 0);

    const attKey = p256.utils.randomSecretKey();
    const cert = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    const params = mcParams();
    const body = await ok(
      newAuth({ attestation: { certificate: cert, privateKey: attKey } }),
      MC,
      params,
    );
    const att = body.get(3) as CborMap;
    assert.equal(att.get("alg"), -7);
    assert.deepEqual(att.get("x5c"), [cert]);
    const msg = concat(body.get(2) as Uint8Array, params.get(1) as Uint8Array);
    assert.ok(
      p256.verify(att.get("sig") as Uint8Array, msg, p256.getPublicKey(attKey, false), {
        format: "der",
      }),
    );
  });

  it("honours the excludeList after a touch", async () => {
    const up = counting();
    const auth = newAuth({ userPresence: up.hook });
    const { id } = await register(auth);
    const other = await register(newAuth());
    up.calls.length = 0;
    const exclude = [{ type: "public-key", id: other.id }, { type: "public-key", id }];
    assert.equal(await status(auth, MC, mcParams({ 5: exclude })), ERR.CREDENTIAL_EXCLUDED);
    assert.deepEqual(up.calls, ["makeCredential"]);
    // Another RP is not excluded by this id.
    await ok(auth, MC, mcParams({ 2: { id: "other.example" }, 5: exclude }));
    // Foreign ids do not exclude.
    await ok(auth, MC, mcParams({ 5: [{ type: "public-key", id: other.id }] }));
  });

  it("stores discoverable credentials and replaces same-user ones", async () => {
    const auth = newAuth({ rkCapacity: 2 });
    await register(auth, { 7: { rk: true } });
    await register(auth, { 7: { rk: true } });
    assert.equal(auth.credentials.size, 1);
    await register(auth, { 3: { id: new Uint8Array([9]) }, 7: { rk: true } });
    assert.equal(auth.credentials.size, 2);
    assert.equal(
      await status(auth, MC, mcParams({ 3: { id: new Uint8Array([10]) }, 7: { rk: true } })),
      ERR.KEY_STORE_FULL,
    );
    assert.equal(
      await status(newAuth({ rkCapacity: 0 }), MC, mcParams({ 7: { rk: true } })),
      ERR.UNSUPPORTED_OPTION,
    );
  });

  it("rejects bad options", async () => {
    const auth = newAuth();
    assert.equal(await status(auth, MC, mcParams({ 7: { up: false } })), ERR.INVALID_OPTION);
    assert.equal(await status(auth, MC, mcParams({ 7: { uv: true } })), ERR.INVALID_OPTION);
    assert.equal(await status(auth, MC, mcParams({ 7: { rk: 1 } })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(await status(auth, MC, mcParams({ 10: 1 })), ERR.INVALID_PARAMETER);
    // Unknown options are ignored.
    await ok(auth, MC, mcParams({ 7: { foo: true } }));
  });

  it("validates parameters with the CTAP status codes", async () => {
    const auth = newAuth();
    assert.equal(await status(auth, MC), ERR.MISSING_PARAMETER);
    for (const key of [1, 2, 3, 4]) {
      assert.equal(await status(auth, MC, mcParams({ [key]: undefined })), ERR.MISSING_PARAMETER);
    }
    assert.equal(await status(auth, MC, mcParams({ 1: "x" })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(await status(auth, MC, mcParams({ 2: "rp" })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(await status(auth, MC, mcParams({ 2: { name: "x" } })), ERR.MISSING_PARAMETER);
    assert.equal(await status(auth, MC, mcParams({ 2: { id: 5 } })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(await status(auth, MC, mcParams({ 3: { id: "u" } })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(
      await status(auth, MC, mcParams({ 3: { id: new Uint8Array(65) } })),
      ERR.INVALID_PARAMETER,
    );
    assert.equal(await status(auth, MC, mcParams({ 4: [{ alg: -7 }] })), ERR.MISSING_PARAMETER);
    assert.equal(
      await status(auth, MC, mcParams({ 4: [{ type: "public-key", alg: "-7" }] })),
      ERR.CBOR_UNEXPECTED_TYPE,
    );
    assert.equal(await status(auth, MC, mcParams({ 4: [5] })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(
      await status(auth, MC, mcParams({ 5: [{ type: "public-key" }] })),
      ERR.MISSING_PARAMETER,
    );
    assert.equal(await status(auth, MC, mcParams({ 6: [] })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(
      await status(auth, MC, mcParams({ 8: new Uint8Array(16) })),
      ERR.MISSING_PARAMETER,
    );
    assert.equal(
      await status(auth, MC, mcParams({ 8: new Uint8Array(16), 9: 1 })),
      ERR.INVALID_PARAMETER,
    );
  });

  it("limits list lengths to maxCredentialCountInList", async () => {
    const auth = newAuth({ maxCredsInList: 2 });
    const d = { type: "public-key", id: new Uint8Array(16) };
    await ok(auth, MC, mcParams({ 5: [d, d] }));
    assert.equal(await status(auth, MC, mcParams({ 5: [d, d, d] })), ERR.REQUEST_TOO_LARGE);
    assert.equal(await status(auth, GA, gaParams({ 3: [d, d, d] })), ERR.REQUEST_TOO_LARGE);
  });
});

// ------------------------------------------------------------------ PIN/UV gating

describe("pinUvAuthParam handling", () => {
  it("verifies tokens with the mc/ga permission and rpId, and consumes them", async () => {
    const pin = new FakePin();
    pin.tokenFlags = { userPresent: false, userVerified: true };
    const up = counting();
    const auth = newAuth({ pinUvAuth: pin, userPresence: up.hook });
    const cdh = randomBytes(32);
    const param = randomBytes(32);
    const body = await ok(auth, MC, mcParams({ 1: cdh, 7: { rk: true }, 8: param, 9: 2 }));
    const ad = parseAuthData(body.get(2) as Uint8Array);
    assert.equal(ad.flags & (AUTH_DATA_FLAG.UP | AUTH_DATA_FLAG.UV), 0x05);
    assert.equal(pin.verifyCalls.length, 1);
    const v = pin.verifyCalls[0];
    assert.equal(v.permission, PERMISSION.MC);
    assert.equal(v.protocol, 2);
    assert.equal(v.rpId, RP);
    assert.ok(bytesEqual(v.message, cdh) && bytesEqual(v.param, param));
    assert.deepEqual(up.calls, ["makeCredential"], "token without UP flag needs a touch");
    assert.equal(pin.consumed, 1);

    pin.tokenFlags = { userPresent: true, userVerified: true };
    up.calls.length = 0;
    const ga = await ok(auth, GA, gaParams({ 6: param, 7: 1 }));
    assert.deepEqual(up.calls, [], "token with UP flag needs no touch");
    assert.equal(parseAuthData(ga.get(2) as Uint8Array).flags, 0x05);
    assert.equal(pin.verifyCalls[1].permission, PERMISSION.GA);
    assert.equal(pin.consumed, 2);
    // UV lets the user's name out.
    assert.deepEqual(
      ga.get(4),
      new Map<string, unknown>([["id", new Uint8Array([1, 2, 3, 4])], ["name", "alice"], [
        "displayName",
        "Alice",
      ]]),
    );
  });

  it("maps token failures and missing UV to CTAP errors", async () => {
    const pin = new FakePin();
    const auth = newAuth({ pinUvAuth: pin });
    const param = randomBytes(32);
    assert.equal(await status(auth, MC, mcParams({ 8: param, 9: 2 })), ERR.PIN_AUTH_INVALID);
    assert.equal(await status(auth, GA, gaParams({ 6: param, 7: 2 })), ERR.PIN_AUTH_INVALID);
    assert.equal(await status(auth, MC, mcParams({ 8: param, 9: 3 })), ERR.INVALID_PARAMETER);
    pin.tokenFlags = { userPresent: true, userVerified: false };
    assert.equal(await status(auth, MC, mcParams({ 8: param, 9: 2 })), ERR.PIN_AUTH_INVALID);
    // PIN set: a discoverable credential needs a token; a non-discoverable one does not.
    assert.equal(await status(auth, MC, mcParams({ 7: { rk: true } })), ERR.PUAT_REQUIRED);
    const { authData } = await register(auth);
    assert.equal(authData.flags & AUTH_DATA_FLAG.UV, 0);
    // Without makeCredUvNotRqd every credential needs one.
    const strict = newAuth({ pinUvAuth: pin, makeCredUvNotRqd: false });
    assert.equal(await status(strict, MC, mcParams()), ERR.PUAT_REQUIRED);
  });

  it("answers a zero-length pinUvAuthParam after a touch", async () => {
    const pin = new FakePin();
    const up = counting();
    const auth = newAuth({ pinUvAuth: pin, userPresence: up.hook });
    assert.equal(await status(auth, MC, mcParams({ 8: new Uint8Array(0) })), ERR.PIN_INVALID);
    assert.equal(await status(auth, GA, gaParams({ 6: new Uint8Array(0) })), ERR.PIN_INVALID);
    pin.isPinSet = false;
    assert.equal(await status(auth, MC, mcParams({ 8: new Uint8Array(0) })), ERR.PIN_NOT_SET);
    assert.equal(up.calls.length, 3);
    const denied = newAuth({ pinUvAuth: pin, userPresence: counting("deny").hook });
    assert.equal(
      await status(denied, MC, mcParams({ 8: new Uint8Array(0) })),
      ERR.OPERATION_DENIED,
    );
  });

  it("uses built-in UV for uv=true and enforces alwaysUv", async () => {
    const uvHook = counting();
    const upHook = counting();
    const auth = newAuth({ uv: true, userVerification: uvHook.hook, userPresence: upHook.hook });
    const { authData } = await register(auth, { 7: { uv: true, rk: true } });
    assert.equal(authData.flags & 0x05, 0x05);
    assert.deepEqual(uvHook.calls, ["makeCredential"]);
    assert.deepEqual(upHook.calls, [], "UV evidence counts as presence");
    // Built-in UV but uv not requested: rk needs UV.
    assert.equal(await status(auth, MC, mcParams({ 7: { rk: true } })), ERR.OPERATION_DENIED);

    const always = newAuth({ uv: true, alwaysUv: true, userVerification: uvHook.hook });
    uvHook.calls.length = 0;
    const got = await register(always);
    assert.equal(got.authData.flags & AUTH_DATA_FLAG.UV, AUTH_DATA_FLAG.UV);
    assert.deepEqual(uvHook.calls, ["makeCredential"]);
    const info = await ok(always, INFO);
    assert.equal((info.get(4) as CborMap).get("alwaysUv"), true);
    assert.equal((info.get(4) as CborMap).get("makeCredUvNotRqd"), false);
    assert.ok(!(info.get(1) as string[]).includes("U2F_V2"));

    const pin = new FakePin();
    pin.isPinSet = false;
    const alwaysPin = newAuth({ pinUvAuth: pin, alwaysUv: true });
    assert.equal(await status(alwaysPin, MC, mcParams()), ERR.PUAT_REQUIRED);
    assert.equal(await status(alwaysPin, GA, gaParams()), ERR.PUAT_REQUIRED);
  });

  it("forwards clientPin to the PIN/UV state and rejects it without one", async () => {
    const pin = new FakePin();
    const auth = newAuth({ pinUvAuth: pin });
    const r = await ok(auth, CLIENT_PIN, new Map([[1, 2], [2, 1]]));
    assert.equal(r.get(3), 9);
    assert.equal(await status(auth, CLIENT_PIN), ERR.MISSING_PARAMETER);
    assert.equal(await status(newAuth(), CLIENT_PIN, new Map([[1, 2]])), ERR.INVALID_COMMAND);
  });
});

// ------------------------------------------------------------------ getAssertion

describe("getAssertion", () => {
  it("signs with an allowList credential and advances the counter", async () => {
    const auth = newAuth();
    const { id, key } = await register(auth);
    const foreign = await register(newAuth());
    const cdh = randomBytes(32);
    const allow = [{ type: "public-key", id: foreign.id }, { type: "public-key", id }];
    const body = await ok(auth, GA, gaParams({ 2: cdh, 3: allow }));
    assert.ok(bytesEqual((body.get(1) as CborMap).get("id") as Uint8Array, id));
    assert.equal((body.get(1) as CborMap).get("type"), "public-key");
    const ad = parseAuthData(body.get(2) as Uint8Array);
    assert.ok(bytesEqual(ad.rpIdHash, RP_HASH));
    assert.equal(ad.flags, AUTH_DATA_FLAG.UP);
    assert.equal(ad.counter, 2);
    assert.ok(verifyCose(key, body.get(3) as Uint8Array, concat(body.get(2) as Uint8Array, cdh)));
    assert.equal(body.has(4), false, "no user for a non-discoverable credential");
    assert.equal(body.has(5), false, "no numberOfCredentials with an allowList");
    const again = await ok(auth, GA, gaParams({ 3: allow }));
    assert.equal(parseAuthData(again.get(2) as Uint8Array).counter, 3);
    // Same id, other RP: not found.
    assert.equal(
      await status(auth, GA, gaParams({ 1: "evil.example", 3: allow })),
      ERR.NO_CREDENTIALS,
    );
    assert.equal(
      await status(auth, GA, gaParams({ 3: [{ type: "public-key", id: foreign.id }] })),
      ERR.NO_CREDENTIALS,
    );
    // A tampered id is not ours.
    const bad = id.slice();
    bad[bad.length - 1] ^= 1;
    assert.equal(
      await status(auth, GA, gaParams({ 3: [{ type: "public-key", id: bad }] })),
      ERR.NO_CREDENTIALS,
    );
  });

  it("supports silent assertions with up=false", async () => {
    const up = counting();
    const auth = newAuth({ userPresence: up.hook });
    const { id } = await register(auth);
    up.calls.length = 0;
    const body = await ok(
      auth,
      GA,
      gaParams({ 3: [{ type: "public-key", id }], 5: { up: false } }),
    );
    assert.equal(parseAuthData(body.get(2) as Uint8Array).flags, 0);
    assert.deepEqual(up.calls, []);
  });

  it("enumerates discoverable credentials with getNextAssertion", async () => {
    let clock = 1_000_000;
    const auth = newAuth({ now: () => clock });
    const users = [1, 2, 3].map((n) => new Uint8Array([n]));
    const keys: CborMap[] = [];
    for (const u of users) {
      keys.push((await register(auth, { 3: { id: u, name: `u${u[0]}` }, 7: { rk: true } })).key);
    }
    await register(auth, { 2: { id: "other.example" }, 7: { rk: true } });
    const cdh = randomBytes(32);
    const first = await ok(auth, GA, gaParams({ 2: cdh }));
    assert.equal(first.get(5), 3);
    const seen = [first];
    seen.push(await ok(auth, GNA));
    seen.push(await ok(auth, GNA));
    assert.equal(seen[1].has(5), false);
    // Newest first; without UV only the user id is returned.
    const ids = seen.map((b) => ((b.get(4) as CborMap).get("id") as Uint8Array)[0]);
    assert.deepEqual(ids, [3, 2, 1]);
    assert.ok(seen.every((b) => (b.get(4) as CborMap).size === 1));
    seen.forEach((b, i) => {
      assert.ok(
        verifyCose(keys[2 - i], b.get(3) as Uint8Array, concat(b.get(2) as Uint8Array, cdh)),
      );
    });
    assert.equal(await status(auth, GNA), ERR.NOT_ALLOWED);

    // The 30 s timer.
    await ok(auth, GA, gaParams());
    clock += 30_001;
    assert.equal(await status(auth, GNA), ERR.NOT_ALLOWED);
    // Any other command drops the state.
    await ok(auth, GA, gaParams());
    await ok(auth, INFO);
    assert.equal(await status(auth, GNA), ERR.NOT_ALLOWED);
    // A single match leaves nothing to continue.
    const single = await ok(auth, GA, gaParams({ 1: "other.example" }));
    assert.equal(single.get(5), 1);
    assert.equal(await status(auth, GNA), ERR.NOT_ALLOWED);
  });

  it("filters by credProtect", async () => {
    const uvHook = counting();
    const auth = newAuth({ uv: true, userVerification: uvHook.hook });
    const ext = (level: number) => ({ credProtect: level });
    const c1 = await register(auth, {
      3: { id: new Uint8Array([1]) },
      6: ext(1),
      7: { rk: true, uv: true },
    });
    const c2 = await register(auth, {
      3: { id: new Uint8Array([2]) },
      6: ext(2),
      7: { rk: true, uv: true },
    });
    const c3 = await register(auth, {
      3: { id: new Uint8Array([3]) },
      6: ext(3),
      7: { rk: true, uv: true },
    });
    assert.equal(c2.authData.extensions!.get("credProtect"), 2);
    assert.equal(c3.authData.flags & AUTH_DATA_FLAG.ED, AUTH_DATA_FLAG.ED);
    // Without UV and allowList: only level 1.
    const noUv = await ok(auth, GA, gaParams());
    assert.equal(noUv.get(5), 1);
    assert.ok(bytesEqual((noUv.get(1) as CborMap).get("id") as Uint8Array, c1.id));
    // With an allowList: level 2 too, never level 3.
    const list = (c: { id: Uint8Array }) => [{ type: "public-key", id: c.id }];
    await ok(auth, GA, gaParams({ 3: list(c2) }));
    assert.equal(await status(auth, GA, gaParams({ 3: list(c3) })), ERR.NO_CREDENTIALS);
    // With UV everything.
    const withUv = await ok(auth, GA, gaParams({ 5: { uv: true } }));
    assert.equal(withUv.get(5), 3);
    // Excluding a level-3 credential needs UV.
    await ok(auth, MC, mcParams({ 5: list(c3) }));
    assert.equal(
      await status(auth, MC, mcParams({ 5: list(c3), 7: { uv: true } })),
      ERR.CREDENTIAL_EXCLUDED,
    );
    assert.equal(
      await status(auth, MC, mcParams({ 6: { credProtect: 4 } })),
      ERR.INVALID_PARAMETER,
    );
    assert.equal(
      await status(auth, MC, mcParams({ 6: { credProtect: "x" } })),
      ERR.CBOR_UNEXPECTED_TYPE,
    );
  });

  it("rejects bad input", async () => {
    const auth = newAuth();
    assert.equal(await status(auth, GA), ERR.MISSING_PARAMETER);
    assert.equal(await status(auth, GA, gaParams({ 1: undefined })), ERR.MISSING_PARAMETER);
    assert.equal(await status(auth, GA, gaParams({ 2: undefined })), ERR.MISSING_PARAMETER);
    assert.equal(
      await status(auth, GA, gaParams({ 1: new Uint8Array(1) })),
      ERR.CBOR_UNEXPECTED_TYPE,
    );
    assert.equal(await status(auth, GA, gaParams({ 3: {} })), ERR.CBOR_UNEXPECTED_TYPE);
    assert.equal(
      await status(auth, GA, gaParams({ 3: [{ id: new Uint8Array(4) }] })),
      ERR.MISSING_PARAMETER,
    );
    assert.equal(await status(auth, GA, gaParams({ 5: { rk: true } })), ERR.UNSUPPORTED_OPTION);
    assert.equal(await status(auth, GA, gaParams({ 5: { uv: true } })), ERR.INVALID_OPTION);
    assert.equal(await status(auth, GA, gaParams()), ERR.NO_CREDENTIALS);
  });
});

// ------------------------------------------------------------------ framing and errors

describe("command dispatch", () => {
  it("maps malformed requests to CTAP errors", async () => {
    const auth = newAuth();
    const ctx = makeCtx();
    const raw = async (bytes: number[]) => (await auth.processCbor(new Uint8Array(bytes), ctx))[0];
    assert.equal(await raw([]), ERR.INVALID_LENGTH);
    assert.equal(await raw([0x03]), ERR.INVALID_COMMAND);
    assert.equal(await raw([0x55, 0xa0]), ERR.INVALID_COMMAND);
    assert.equal(await raw([MC, 0xa1]), ERR.INVALID_CBOR); // truncated map
    assert.equal(await raw([MC, 0xa2, 0x02, 0x00, 0x01, 0x00]), ERR.INVALID_CBOR); // key order
    assert.equal(await raw([MC, 0xbf, 0xff]), ERR.INVALID_CBOR); // indefinite length
    assert.equal(await raw([MC, 0x80]), ERR.CBOR_UNEXPECTED_TYPE); // array, not map
    assert.equal(await raw([GA, 0x01]), ERR.CBOR_UNEXPECTED_TYPE);
    const big = new Uint8Array(1201);
    big[0] = GA;
    assert.equal((await auth.processCbor(big, ctx))[0], ERR.REQUEST_TOO_LARGE);
  });

  it("passes handler CtapErrors through, also from another copy of ctap.ts", async () => {
    const auth = newAuth();
    auth.registerCommand(0x0a, {
      handle: () => Promise.reject(new CtapError(ERR.NOT_ALLOWED)),
    });
    auth.registerCommand(0x41, {
      handle: () => {
        const e = new Error("foreign");
        e.name = "CtapError";
        return Promise.reject(Object.assign(e, { code: ERR.PUAT_REQUIRED }));
      },
    });
    auth.registerCommand(0x42, { handle: () => Promise.reject(new TypeError("bug")) });
    assert.equal(await status(auth, 0x0a, new Map([[1, 1]])), ERR.NOT_ALLOWED);
    assert.equal(await status(auth, 0x41), ERR.PUAT_REQUIRED);
    assert.equal(await status(auth, 0x42), ERR.OTHER);
    assert.throws(() => auth.registerCommand(0x01, { handle: () => Promise.resolve(undefined) }));
    assert.throws(() => auth.registerCommand(0x0e, { handle: () => Promise.resolve(undefined) }));
  });

  it("forwards winks", () => {
    let winks = 0;
    const auth = newAuth({ onWink: () => winks++ });
    auth.wink();
    newAuth().wink();
    assert.equal(winks, 1);
  });

  it("reports a U2F-only device as lacking CBOR", async () => {
    const auth = newAuth({ u2fOnly: true });
    assert.equal(auth.capabilities & 0x04, 0);
    assert.equal(await status(auth, INFO), ERR.INVALID_COMMAND);
    assert.equal(newAuth().capabilities, 0x05);
    assert.equal(newAuth({ u2f: false }).capabilities, 0x0d);
  });

  it("turns hook denial, timeout and cancel into CTAP statuses with keepalives", async () => {
    assert.equal(
      await status(newAuth({ userPresence: counting("deny").hook }), MC, mcParams()),
      ERR.OPERATION_DENIED,
    );
    assert.equal(
      await status(newAuth({ userPresence: counting("timeout").hook }), MC, mcParams()),
      ERR.USER_ACTION_TIMEOUT,
    );
    assert.equal(
      await status(
        newAuth({
          userPresence: () => {
            throw new Error("boom");
          },
        }),
        MC,
        mcParams(),
      ),
      ERR.OTHER,
    );
    // A hook that never answers: cancel after a few keepalives.
    let sawSignal: AbortSignal | undefined;
    const auth = newAuth({
      userPresence: ({ signal }) => {
        sawSignal = signal;
        return new Promise(() => {});
      },
    });
    const ctx = makeCtx();
    const pending = call(auth, MC, mcParams(), ctx);
    await new Promise((r) => setTimeout(r, 250));
    ctx.controller.abort();
    assert.equal((await pending).status, ERR.KEEPALIVE_CANCEL);
    assert.ok(ctx.keepalives.length >= 2, `keepalives: ${ctx.keepalives.length}`);
    assert.ok(ctx.keepalives.every((s) => s === 2));
    assert.equal(sawSignal?.aborted, true);
    const n = ctx.keepalives.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(ctx.keepalives.length, n, "keepalives stop after the request ends");
  });

  it("selection asks for a touch", async () => {
    const up = counting();
    assert.equal(await status(newAuth({ userPresence: up.hook }), SELECTION), 0);
    assert.deepEqual(up.calls, ["selection"]);
    assert.equal(
      await status(newAuth({ userPresence: counting("deny").hook }), SELECTION),
      ERR.OPERATION_DENIED,
    );
  });
});

// ------------------------------------------------------------------ reset and persistence

describe("reset and state", () => {
  it("resets within 10 s of power-up, with a touch", async () => {
    let clock = 0;
    const pin = new FakePin();
    const auth = newAuth({ now: () => clock, pinUvAuth: pin });
    pin.tokenFlags = { userPresent: true, userVerified: true };
    const rk = await register(auth, { 7: { rk: true }, 8: new Uint8Array(32), 9: 2 });
    const nonRk = await register(auth);
    clock = 10_001;
    assert.equal(await status(auth, RESET), ERR.NOT_ALLOWED);
    auth.powerCycle();
    clock += 5_000;
    assert.equal(await status(auth, RESET), 0);
    assert.equal(pin.resets, 1);
    assert.equal(auth.credentials.size, 0);
    for (const c of [rk, nonRk]) {
      assert.equal(
        await status(auth, GA, gaParams({ 3: [{ type: "public-key", id: c.id }] })),
        ERR.NO_CREDENTIALS,
      );
    }
    const denied = newAuth({ userPresence: counting("deny").hook });
    assert.equal(await status(denied, RESET), ERR.OPERATION_DENIED);
  });

  it("exports and restores credentials", async () => {
    const auth = newAuth({ signCount: "per-credential" });
    const rk = await register(auth, { 7: { rk: true } });
    const nonRk = await register(auth);
    await ok(auth, GA, gaParams());
    const state = JSON.parse(JSON.stringify(auth.exportState()));
    const restored = newAuth({ state, signCount: "per-credential" });
    const cdh = randomBytes(32);
    const a = await ok(restored, GA, gaParams({ 2: cdh }));
    assert.ok(bytesEqual((a.get(1) as CborMap).get("id") as Uint8Array, rk.id));
    assert.equal(parseAuthData(a.get(2) as Uint8Array).counter, 3);
    assert.ok(verifyCose(rk.key, a.get(3) as Uint8Array, concat(a.get(2) as Uint8Array, cdh)));
    const b = await ok(
      restored,
      GA,
      gaParams({ 2: cdh, 3: [{ type: "public-key", id: nonRk.id }] }),
    );
    assert.ok(verifyCose(nonRk.key, b.get(3) as Uint8Array, concat(b.get(2) as Uint8Array, cdh)));
    assert.equal(restored.exportState().store.credentials[0].id, toHex(rk.id));
    assert.throws(() => newAuth({ state: { ...state, version: 2 } }));
  });

  it("supports zero and global sign counters", async () => {
    const zero = newAuth({ signCount: "zero" });
    const z = await register(zero);
    assert.equal(z.authData.counter, 0);
    const ga = await ok(zero, GA, gaParams({ 3: [{ type: "public-key", id: z.id }] }));
    assert.equal(parseAuthData(ga.get(2) as Uint8Array).counter, 0);
  });
});

// ------------------------------------------------------------------ extensions

describe("extensions", () => {
  it("credBlob is stored up to maxCredBlobLength and returned on request", async () => {
    const auth = newAuth();
    const blob = utf8Encode("hello credBlob");
    const c = await register(auth, { 6: { credBlob: blob }, 7: { rk: true } });
    assert.equal(c.authData.extensions!.get("credBlob"), true);
    const nonRk = await register(auth, { 3: { id: new Uint8Array([7]) }, 6: { credBlob: blob } });
    assert.equal(nonRk.authData.extensions!.get("credBlob"), true);
    const tooLong = await register(auth, {
      3: { id: new Uint8Array([8]) },
      6: { credBlob: new Uint8Array(33) },
    });
    assert.equal(tooLong.authData.extensions!.get("credBlob"), false);
    for (const [cred, want] of [[c, blob], [nonRk, blob], [tooLong, new Uint8Array(0)]] as const) {
      const r = await ok(
        auth,
        GA,
        gaParams({ 3: [{ type: "public-key", id: cred.id }], 4: { credBlob: true } }),
      );
      const ad = parseAuthData(r.get(2) as Uint8Array);
      assert.ok(bytesEqual(ad.extensions!.get("credBlob") as Uint8Array, want));
    }
    assert.equal(
      await status(auth, MC, mcParams({ 6: { credBlob: true } })),
      ERR.CBOR_UNEXPECTED_TYPE,
    );
  });

  it("largeBlobKey needs rk and a largeBlobs implementation", async () => {
    const plain = newAuth();
    const ignored = await ok(plain, MC, mcParams({ 6: { largeBlobKey: true }, 7: { rk: true } }));
    assert.equal(ignored.has(5), false);
    const auth = newAuth();
    auth.registerCommand(0x0c, {
      handle: () => Promise.resolve(undefined),
      infoOptions: { largeBlobs: true },
    });
    const body = await ok(auth, MC, mcParams({ 6: { largeBlobKey: true }, 7: { rk: true } }));
    const key = body.get(5) as Uint8Array;
    assert.equal(key.length, 32);
    assert.equal(
      await status(auth, MC, mcParams({ 6: { largeBlobKey: true } })),
      ERR.INVALID_OPTION,
    );
    assert.equal(
      await status(auth, MC, mcParams({ 6: { largeBlobKey: false }, 7: { rk: true } })),
      ERR.INVALID_OPTION,
    );
    const ga = await ok(auth, GA, gaParams({ 4: { largeBlobKey: true } }));
    assert.ok(bytesEqual(ga.get(7) as Uint8Array, key));
    const without = await ok(auth, GA, gaParams());
    assert.equal(without.has(7), false);
  });

  it("minPinLength only for configured RP IDs", async () => {
    const pin = new FakePin();
    pin.isPinSet = false;
    const cfg = {
      handle: () => Promise.resolve(undefined),
      infoOptions: { setMinPINLength: true },
    };
    const auth = newAuth({
      pinUvAuth: pin,
      minPinLengthRpIds: [RP],
      maxRpIdsForSetMinPinLength: 3,
    });
    auth.registerCommand(0x0d, cfg);
    const yes = await register(auth, { 6: { minPinLength: true } });
    assert.equal(yes.authData.extensions!.get("minPinLength"), 6);
    const no = await register(auth, { 2: { id: "other.example" }, 6: { minPinLength: true } });
    assert.equal(no.authData.extensions, undefined);
    // getInfo 0x10 is maxRPIDsForSetMinPINLength, not the list's current length.
    assert.equal((await ok(auth, INFO)).get(16), 3);
  });

  it("thirdPartyPayment is remembered per credential", async () => {
    const auth = newAuth();
    const pay = await register(auth, { 6: { thirdPartyPayment: true } });
    const plain = await register(auth);
    for (const [c, want] of [[pay, true], [plain, false]] as const) {
      const r = await ok(
        auth,
        GA,
        gaParams({ 3: [{ type: "public-key", id: c.id }], 4: { thirdPartyPayment: true } }),
      );
      assert.equal(
        parseAuthData(r.get(2) as Uint8Array).extensions!.get("thirdPartyPayment"),
        want,
      );
    }
  });
});

// ------------------------------------------------------------------ U2F

function apdu(ins: number, p1: number, data: Uint8Array, extended = false): Uint8Array {
  if (extended) {
    return concat(
      new Uint8Array([0, ins, p1, 0, 0, data.length >> 8, data.length & 0xff]),
      data,
      new Uint8Array([0, 0]),
    );
  }
  return concat(new Uint8Array([0, ins, p1, 0, data.length]), data);
}

function sw(res: Uint8Array): number {
  return (res[res.length - 2] << 8) | res[res.length - 1];
}

/** Splits a U2F registration response; the certificate length comes from its DER header. */
function parseRegistration(res: Uint8Array) {
  assert.equal(res[0], 0x05);
  const publicKey = res.slice(1, 66);
  const khLen = res[66];
  const keyHandle = res.slice(67, 67 + khLen);
  let off = 67 + khLen;
  assert.equal(res[off], 0x30);
  const lenByte = res[off + 1];
  const certLen = lenByte < 0x80 ? 2 + lenByte : 2 + (lenByte & 0x7f) +
    [...res.subarray(off + 2, off + 2 + (lenByte & 0x7f))].reduce((a, b) => a * 256 + b, 0);
  const certificate = res.slice(off, off + certLen);
  off += certLen;
  const signature = res.slice(off, res.length - 2);
  return { publicKey, keyHandle, certificate, signature };
}

function certPublicKey(der: Uint8Array): Uint8Array {
  const cert = AsnConvert.parse(der, Certificate);
  return new Uint8Array(cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
}

describe("U2F", () => {
  const challenge = randomBytes(32);
  const appId = "https://example.com/app-id.json";
  const application = sha256(utf8Encode(appId));

  async function u2fRegister(auth: CtapAuthenticator, extended = false) {
    const res = await auth.processMsg(
      apdu(0x01, 0x03, concat(challenge, application), extended),
      makeCtx(),
    );
    assert.equal(sw(res), 0x9000);
    return parseRegistration(res);
  }

  it("answers VERSION in short and extended form", async () => {
    const auth = newAuth();
    for (const a of [[0, 3, 0, 0], [0, 3, 0, 0, 0], [0, 3, 0, 0, 0, 0, 0]]) {
      const res = await auth.processMsg(new Uint8Array(a), makeCtx());
      assert.equal(new TextDecoder().decode(res.subarray(0, -2)), "U2F_V2");
      assert.equal(sw(res), 0x9000);
    }
    assert.equal(sw(await auth.processMsg(apdu(0x03, 0, new Uint8Array(1)), makeCtx())), 0x6700);
  });

  it("registers with a verifiable self-signed attestation", async () => {
    const auth = newAuth();
    for (const extended of [false, true]) {
      const reg = await u2fRegister(auth, extended);
      assert.equal(reg.publicKey[0], 4);
      const attKey = certPublicKey(reg.certificate);
      const signed = concat(
        new Uint8Array([0]),
        application,
        challenge,
        reg.keyHandle,
        reg.publicKey,
      );
      assert.ok(p256.verify(reg.signature, signed, attKey, { format: "der" }));
      assert.ok(
        !p256.verify(reg.signature, concat(signed, new Uint8Array([0])), attKey, { format: "der" }),
      );
    }
    // The attestation is persisted with the state.
    const state = auth.exportState();
    assert.ok(state.u2fAttestation);
    const again = await u2fRegister(newAuth({ state }));
    assert.equal(toHex(again.certificate), state.u2fAttestation.certificate);
  });

  it("authenticates: check-only, enforce and don't-enforce user presence", async () => {
    const up = counting();
    const auth = newAuth({ userPresence: up.hook });
    const reg = await u2fRegister(auth);
    const body = (app: Uint8Array, kh = reg.keyHandle) =>
      concat(challenge, app, new Uint8Array([kh.length]), kh);
    const ctx = makeCtx();
    assert.equal(sw(await auth.processMsg(apdu(0x02, 0x07, body(application)), ctx)), 0x6985);
    assert.equal(sw(await auth.processMsg(apdu(0x02, 0x07, body(randomBytes(32))), ctx)), 0x6a80);
    const tampered = reg.keyHandle.slice();
    tampered[5] ^= 0xff;
    assert.equal(
      sw(await auth.processMsg(apdu(0x02, 0x03, body(application, tampered)), ctx)),
      0x6a80,
    );
    up.calls.length = 0;
    let lastCounter = 0;
    for (const [p1, flag, extended] of [[0x03, 1, false], [0x08, 0, true]] as const) {
      const res = await auth.processMsg(apdu(0x02, p1, body(application), extended), ctx);
      assert.equal(sw(res), 0x9000);
      assert.equal(res[0], flag);
      const counter = new DataView(res.buffer, res.byteOffset + 1, 4).getUint32(0);
      assert.ok(counter > lastCounter);
      lastCounter = counter;
      const sig = res.slice(5, -2);
      const signed = concat(application, res.subarray(0, 5), challenge);
      assert.ok(p256.verify(sig, signed, reg.publicKey, { format: "der" }));
    }
    assert.deepEqual(up.calls, ["u2fAuthenticate"], "only P1=0x03 asks for a touch");
    assert.equal(sw(await auth.processMsg(apdu(0x02, 0x05, body(application)), ctx)), 0x6a80);
  });

  it("answers 0x6985 while the user does not touch", async () => {
    const auth = newAuth({ userPresence: counting("deny").hook });
    const res = await auth.processMsg(apdu(0x01, 0x03, concat(challenge, application)), makeCtx());
    assert.deepEqual([...res], [0x69, 0x85]);
    const ok = newAuth();
    const reg = await u2fRegister(ok);
    const state = ok.exportState();
    const denying = newAuth({ state, userPresence: counting("timeout").hook });
    const body = concat(
      challenge,
      application,
      new Uint8Array([reg.keyHandle.length]),
      reg.keyHandle,
    );
    assert.equal(sw(await denying.processMsg(apdu(0x02, 0x03, body), makeCtx())), 0x6985);
  });

  it("rejects malformed APDUs with ISO status words", async () => {
    const auth = newAuth();
    const ctx = makeCtx();
    const raw = async (b: number[]) => sw(await auth.processMsg(new Uint8Array(b), ctx));
    assert.equal(await raw([0, 1]), 0x6700);
    assert.equal(await raw([0, 1, 0, 0, 5, 1, 2]), 0x6700); // Lc says 5, 2 given
    assert.equal(await raw([0, 1, 0, 0, 0, 0]), 0x6700); // truncated extended length
    assert.equal(await raw([0, 1, 0, 0, 0, 0, 3, 1, 2, 3, 4]), 0x6700); // 1-byte extended Le
    assert.equal(await raw([0x80, 3, 0, 0]), 0x6e00);
    assert.equal(await raw([0, 0x10, 0, 0]), 0x6d00);
    assert.equal(sw(await auth.processMsg(apdu(0x01, 0, new Uint8Array(63)), ctx)), 0x6700);
    assert.equal(sw(await auth.processMsg(apdu(0x02, 3, new Uint8Array(70)), ctx)), 0x6700);
    for (const off of [newAuth({ u2f: false }), newAuth({ uv: true, alwaysUv: true })]) {
      assert.equal(sw(await off.processMsg(new Uint8Array([0, 3, 0, 0]), ctx)), 0x6d00);
    }
  });

  it("shares credentials between U2F and CTAP2", async () => {
    const auth = newAuth();
    const reg = await u2fRegister(auth);
    // CTAP2 getAssertion with rpId = appId (what the appid extension does).
    const cdh = randomBytes(32);
    const ga = await ok(
      auth,
      GA,
      gaParams({ 1: appId, 2: cdh, 3: [{ type: "public-key", id: reg.keyHandle }] }),
    );
    const ad = parseAuthData(ga.get(2) as Uint8Array);
    assert.ok(bytesEqual(ad.rpIdHash, application));
    assert.ok(
      p256.verify(ga.get(3) as Uint8Array, concat(ga.get(2) as Uint8Array, cdh), reg.publicKey, {
        format: "der",
      }),
    );
    // An ES256 CTAP2 credential (discoverable or not) works over U2F.
    for (const rk of [false, true]) {
      const c = await register(auth, { 7: { rk } });
      const body = concat(challenge, RP_HASH, new Uint8Array([c.id.length]), c.id);
      const res = await auth.processMsg(apdu(0x02, 0x03, body), makeCtx());
      assert.equal(sw(res), 0x9000);
      const point = concat(
        new Uint8Array([4]),
        c.key.get(-2) as Uint8Array,
        c.key.get(-3) as Uint8Array,
      );
      assert.ok(
        p256.verify(res.slice(5, -2), concat(RP_HASH, res.subarray(0, 5), challenge), point, {
          format: "der",
        }),
      );
    }
    // An Ed25519 credential cannot be used over U2F.
    const ed = await register(auth, { 4: [{ type: "public-key", alg: -8 }] });
    const body = concat(challenge, RP_HASH, new Uint8Array([ed.id.length]), ed.id);
    assert.equal(sw(await auth.processMsg(apdu(0x02, 0x07, body), makeCtx())), 0x6a80);
  });
});

// ------------------------------------------------------------------ attestation certificates

describe("attestation certificates", () => {
  it("builds a self-signed X.509 v3 certificate that verifies", () => {
    const aaguid = randomBytes(16);
    const { privateKey, certificate } = createAttestation(aaguid);
    const cert = AsnConvert.parse(certificate, Certificate);
    const tbs = cert.tbsCertificate;
    assert.equal(tbs.version, 2);
    assert.equal(tbs.subject.toString(), tbs.issuer.toString());
    const ou = tbs.subject.find((rdn) => rdn[0].type === "2.5.4.11");
    assert.equal(ou?.[0].value.toString(), "Authenticator Attestation");
    const pub = new Uint8Array(tbs.subjectPublicKeyInfo.subjectPublicKey);
    assert.ok(bytesEqual(pub, p256.getPublicKey(privateKey, false)));
    const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
    assert.ok(p256.verify(new Uint8Array(cert.signatureValue), tbsDer, pub, { format: "der" }));
    const ext = tbs.extensions!.find((e) => e.extnID === "1.3.6.1.4.1.45724.1.1.4")!;
    assert.equal(ext.critical, false);
    assert.ok(bytesEqual(new Uint8Array(ext.extnValue.buffer).subarray(2), aaguid));
    const bc = tbs.extensions!.find((e) => e.extnID === "2.5.29.19")!;
    assert.ok(bytesEqual(new Uint8Array(bc.extnValue.buffer), new Uint8Array([0x30, 0x00])));
    assert.equal(tbs.validity.notAfter.getTime().getUTCFullYear(), 2070);
  });

  it("encodes DER primitives exactly", () => {
    assert.equal(toHex(derOid("1.2.840.10045.2.1")), "06072a8648ce3d0201");
    assert.equal(toHex(derUnsignedInteger(new Uint8Array([0, 0, 0x80]))), "02020080");
    assert.equal(toHex(derUnsignedInteger(new Uint8Array([0]))), "020100");
    assert.equal(toHex(derTlv(0x04, new Uint8Array(200))).slice(0, 6), "0481c8");
    assert.equal(toHex(derTlv(0x04, new Uint8Array(300))).slice(0, 8), "0482012c");
    assert.throws(() => derOid("3.1"));
    const custom = createCertificate({
      signingKey: p256.utils.randomSecretKey(),
      subject: { CN: "leaf" },
      issuer: { CN: "root", O: "x" },
      serial: new Uint8Array([1]),
      notBefore: new Date(Date.UTC(2049, 11, 31)),
      notAfter: new Date(Date.UTC(2050, 0, 1)),
      ca: true,
    });
    const tbs = AsnConvert.parse(custom, Certificate).tbsCertificate;
    assert.equal(tbs.validity.notBefore.utcTime?.getUTCFullYear(), 2049);
    assert.equal(tbs.validity.notAfter.generalTime?.getUTCFullYear(), 2050);
    assert.equal(toHex(new Uint8Array(tbs.serialNumber)), "01");
  });
});

// ------------------------------------------------------------------ hmac-secret

/** FakePin plus the key agreement hmac-secret needs. */
class FakePinWithKa extends FakePin {
  ka = generateKeyAgreementKey();
  decapsulate(protocol: number, keyAgreement: CborMap): Uint8Array {
    return decapsulate(protocol, this.ka.privateKey, keyAgreement);
  }
}

describe("hmac-secret", () => {
  async function hmacInput(
    pin: FakePinWithKa,
    version: 1 | 2,
    salts: Uint8Array,
    tamper = false,
  ) {
    const proto = version === 1 ? new PinProtocolV1() : new PinProtocolV2();
    const { keyAgreement, sharedSecret } = await proto.encapsulate(pin.ka.publicKey);
    const saltEnc = await proto.encrypt(sharedSecret, salts);
    const saltAuth = proto.authenticate(sharedSecret, saltEnc);
    if (tamper) saltAuth[0] ^= 1;
    const input = new Map<number, unknown>([[1, keyAgreement], [2, saltEnc], [3, saltAuth]]);
    if (version === 2) input.set(4, 2);
    return {
      input,
      decrypt: (ct: Uint8Array) => proto.decrypt(sharedSecret, ct),
    };
  }

  async function getSecret(
    auth: CtapAuthenticator,
    pin: FakePinWithKa,
    version: 1 | 2,
    salts: Uint8Array,
    over: Record<number, unknown> = {},
  ): Promise<Uint8Array> {
    const { input, decrypt } = await hmacInput(pin, version, salts);
    const body = await ok(auth, GA, gaParams({ 4: { "hmac-secret": input }, ...over }));
    const ad = parseAuthData(body.get(2) as Uint8Array);
    return await decrypt(ad.extensions!.get("hmac-secret") as Uint8Array);
  }

  it("is advertised when the PIN/UV state can decapsulate", async () => {
    const pin = new FakePinWithKa();
    const ext = (await ok(newAuth({ pinUvAuth: pin }), INFO)).get(2) as string[];
    assert.ok(ext.includes("hmac-secret") && ext.includes("hmac-secret-mc"));
  });

  it("derives stable per-credential secrets, distinct with and without UV", async () => {
    const pin = new FakePinWithKa();
    pin.isPinSet = false;
    const auth = newAuth({ pinUvAuth: pin, uv: true });
    const rk = await register(auth, { 6: { "hmac-secret": true }, 7: { rk: true, uv: true } });
    assert.equal(rk.authData.extensions!.get("hmac-secret"), true);
    const nonRk = await register(auth, { 6: { "hmac-secret": true } });
    const salt1 = randomBytes(32);
    const salt2 = randomBytes(32);
    for (const c of [rk, nonRk]) {
      const allow = { 3: [{ type: "public-key", id: c.id }] };
      const a = await getSecret(auth, pin, 2, concat(salt1, salt2), allow);
      assert.equal(a.length, 64);
      const b = await getSecret(auth, pin, 1, salt1, allow);
      assert.equal(b.length, 32);
      assert.ok(bytesEqual(a.subarray(0, 32), b), "same salt, same secret across protocols");
      assert.ok(!bytesEqual(a.subarray(0, 32), a.subarray(32)));
      const uv = await getSecret(auth, pin, 2, salt1, { ...allow, 5: { uv: true } });
      assert.ok(!bytesEqual(uv, b), "CredRandomWithUV differs");
    }
    const other = await getSecret(auth, pin, 2, salt1, { 3: [{ type: "public-key", id: rk.id }] });
    const mine = await getSecret(auth, pin, 2, salt1, {
      3: [{ type: "public-key", id: nonRk.id }],
    });
    assert.ok(!bytesEqual(other, mine));
    // A credential without hmac-secret yields no output.
    const plain = await register(auth);
    const { input } = await hmacInput(pin, 2, salt1);
    const body = await ok(
      auth,
      GA,
      gaParams({ 3: [{ type: "public-key", id: plain.id }], 4: { "hmac-secret": input } }),
    );
    assert.equal(parseAuthData(body.get(2) as Uint8Array).extensions, undefined);
  });

  it("returns outputs for every credential through getNextAssertion", async () => {
    const pin = new FakePinWithKa();
    pin.isPinSet = false;
    const auth = newAuth({ pinUvAuth: pin });
    for (const n of [1, 2]) {
      await register(auth, {
        3: { id: new Uint8Array([n]) },
        6: { "hmac-secret": true },
        7: { rk: true },
      });
    }
    const { input, decrypt } = await hmacInput(pin, 2, new Uint8Array(32).fill(7));
    const first = await ok(auth, GA, gaParams({ 4: { "hmac-secret": input } }));
    const second = await ok(auth, GNA);
    const outs = await Promise.all(
      [first, second].map((b) =>
        decrypt(parseAuthData(b.get(2) as Uint8Array).extensions!.get("hmac-secret") as Uint8Array)
      ),
    );
    assert.equal(outs[0].length, 32);
    assert.ok(!bytesEqual(outs[0], outs[1]));
  });

  it("hmac-secret-mc returns the secret at registration", async () => {
    const pin = new FakePinWithKa();
    pin.isPinSet = false;
    const auth = newAuth({ pinUvAuth: pin });
    const salt = randomBytes(32);
    const { input, decrypt } = await hmacInput(pin, 2, salt);
    const c = await register(auth, { 6: { "hmac-secret": true, "hmac-secret-mc": input } });
    const atMc = await decrypt(c.authData.extensions!.get("hmac-secret-mc") as Uint8Array);
    const atGa = await getSecret(auth, pin, 2, salt, { 3: [{ type: "public-key", id: c.id }] });
    assert.ok(bytesEqual(atMc, atGa));
  });

  it("rejects a bad hmac-secret-mc input before asking for a touch", async () => {
    const pin = new FakePinWithKa();
    pin.isPinSet = false;
    const up = counting();
    const auth = newAuth({ pinUvAuth: pin, userPresence: up.hook });
    const bad = await hmacInput(pin, 2, randomBytes(32), true);
    assert.equal(
      await status(auth, MC, mcParams({ 6: { "hmac-secret": true, "hmac-secret-mc": bad.input } })),
      ERR.PIN_AUTH_INVALID,
    );
    assert.deepEqual(up.calls, []);
  });

  it("rejects a bad saltAuth, bad salts and bad inputs", async () => {
    const pin = new FakePinWithKa();
    pin.isPinSet = false;
    const auth = newAuth({ pinUvAuth: pin });
    await register(auth, { 6: { "hmac-secret": true }, 7: { rk: true } });
    const bad = await hmacInput(pin, 2, randomBytes(32), true);
    assert.equal(
      await status(auth, GA, gaParams({ 4: { "hmac-secret": bad.input } })),
      ERR.PIN_AUTH_INVALID,
    );
    const short = await hmacInput(pin, 2, randomBytes(48));
    assert.equal(
      await status(auth, GA, gaParams({ 4: { "hmac-secret": short.input } })),
      ERR.INVALID_LENGTH,
    );
    const v3 = await hmacInput(pin, 2, randomBytes(32));
    v3.input.set(4, 3);
    assert.equal(
      await status(auth, GA, gaParams({ 4: { "hmac-secret": v3.input } })),
      ERR.INVALID_PARAMETER,
    );
    const noKey = await hmacInput(pin, 2, randomBytes(32));
    noKey.input.delete(1);
    assert.equal(
      await status(auth, GA, gaParams({ 4: { "hmac-secret": noKey.input } })),
      ERR.MISSING_PARAMETER,
    );
    const offCurve = await hmacInput(pin, 2, randomBytes(32));
    (offCurve.input.get(1) as CborMap).set(-2, new Uint8Array(32).fill(1));
    assert.equal(
      await status(auth, GA, gaParams({ 4: { "hmac-secret": offCurve.input } })),
      ERR.INVALID_PARAMETER,
    );
    assert.equal(
      await status(auth, GA, gaParams({ 4: { "hmac-secret": true } })),
      ERR.CBOR_UNEXPECTED_TYPE,
    );
  });
});

describe("user action timeout", () => {
  it("fails an unanswered hook with USER_ACTION_TIMEOUT and aborts its signal", async () => {
    let hookSignal: AbortSignal | undefined;
    const auth = newAuth({
      userActionTimeoutMs: 150,
      userPresence: ({ signal }) => {
        hookSignal = signal;
        return new Promise(() => {});
      },
    });
    const ctx = makeCtx();
    const t0 = Date.now();
    assert.equal(await status(auth, MC, mcParams(), ctx), ERR.USER_ACTION_TIMEOUT);
    assert.ok(Date.now() - t0 >= 140);
    assert.equal(hookSignal?.aborted, true);
    assert.ok(ctx.keepalives.length >= 1);
    const res = await auth.processMsg(
      concat(new Uint8Array([0, 1, 3, 0, 64]), new Uint8Array(64)),
      makeCtx(),
    );
    assert.deepEqual([...res], [0x69, 0x85]);
  });
});

// ------------------------------------------------------------------ a relying party's view

describe("verification by @simplewebauthn/server", () => {
  const origin = "https://example.com";
  const clientData = (type: string, challenge: Uint8Array) =>
    utf8Encode(JSON.stringify({ type, challenge: b64urlEncode(challenge), origin }));

  const modes = [
    ["self", () => "self" as const],
    ["none", () => "none" as const],
    ["x5c", () => createAttestation(DEFAULT_AAGUID)],
  ] as const;
  for (const [name, mode] of modes) {
    for (const alg of [-7, -8, -35]) {
      it(`registers (${name}, alg ${alg}) and authenticates`, async () => {
        const auth = newAuth({ attestation: mode(), uv: true });
        const challenge = randomBytes(32);
        const cdj = clientData("webauthn.create", challenge);
        const mc = await ok(
          auth,
          MC,
          mcParams({ 1: sha256(cdj), 4: [{ type: "public-key", alg }], 7: { uv: true } }),
        );
        const attestationObject = encode({
          fmt: mc.get(1),
          attStmt: mc.get(3),
          authData: mc.get(2),
        });
        const id = b64urlEncode(parseAuthData(mc.get(2) as Uint8Array).credentialId!);
        const reg = await verifyRegistrationResponse({
          response: {
            id,
            rawId: id,
            type: "public-key",
            response: {
              clientDataJSON: b64urlEncode(cdj),
              attestationObject: b64urlEncode(attestationObject),
            },
            clientExtensionResults: {},
          },
          expectedChallenge: b64urlEncode(challenge),
          expectedOrigin: origin,
          expectedRPID: RP,
          supportedAlgorithmIDs: [-7, -8, -35],
        });
        assert.equal(reg.verified, true);
        assert.equal(reg.registrationInfo!.fmt, name === "none" ? "none" : "packed");
        const credential = reg.registrationInfo!.credential;

        const challenge2 = randomBytes(32);
        const cdj2 = clientData("webauthn.get", challenge2);
        const ga = await ok(
          auth,
          GA,
          gaParams({
            2: sha256(cdj2),
            3: [{ type: "public-key", id: parseAuthData(mc.get(2) as Uint8Array).credentialId }],
            5: { uv: true },
          }),
        );
        const result = await verifyAuthenticationResponse({
          response: {
            id,
            rawId: id,
            type: "public-key",
            response: {
              clientDataJSON: b64urlEncode(cdj2),
              authenticatorData: b64urlEncode(ga.get(2) as Uint8Array),
              signature: b64urlEncode(ga.get(3) as Uint8Array),
            },
            clientExtensionResults: {},
          },
          expectedChallenge: b64urlEncode(challenge2),
          expectedOrigin: origin,
          expectedRPID: RP,
          credential,
        });
        assert.equal(result.verified, true);
        assert.equal(result.authenticationInfo.newCounter, 2);
      });
    }
  }
});

// ------------------------------------------------------------------ robustness

describe("robustness", () => {
  // Every malformed request must map to a CTAP status, never CTAP1_ERR_OTHER (an internal
  // exception) and never a rejected promise.
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.integer({ min: -100, max: 100 }),
      fc.boolean(),
      fc.string({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(tie("v"), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom("id", "type", "alg", "name", "up", "uv", "rk"), tie("v"), {
        maxKeys: 3,
      }),
      fc.array(fc.tuple(fc.integer({ min: -3, max: 10 }), tie("v")), { maxLength: 4 })
        .map((e) => new Map(e)),
    ),
  })).v;
  const request = fc.tuple(
    fc.constantFrom(0x01, 0x02, 0x04, 0x08, 0x0b, 0x0a, 0x3f),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), value), { maxLength: 4 }),
  );

  it("answers structured garbage with CTAP statuses", async () => {
    const pin = new FakePinWithKa();
    const auth = newAuth({ pinUvAuth: pin, uv: true, resetWindowMs: 0 });
    await register(auth, { 7: { rk: true, uv: true } });
    await fc.assert(
      fc.asyncProperty(request, async ([cmd, entries]) => {
        // Half the time, mutate a valid request so validation runs deep.
        const base = cmd === MC ? mcParams() : cmd === GA ? gaParams() : new Map();
        const params = entries.length % 2 ? new Map(entries) : new Map([...base, ...entries]);
        const req = concat(new Uint8Array([cmd]), encode(params));
        const res = await auth.processCbor(req, makeCtx());
        assert.ok(res.length >= 1);
        assert.notEqual(res[0], ERR.OTHER, `request ${toHex(req)}`);
      }),
      { numRuns: 400 },
    );
  });

  it("answers random bytes with CTAP statuses and random APDUs with status words", async () => {
    const auth = newAuth({ resetWindowMs: 0 });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), async (bytes) => {
        const res = await auth.processCbor(bytes, makeCtx());
        assert.ok(res.length >= 1);
        assert.notEqual(res[0], ERR.OTHER, `request ${toHex(bytes)}`);
        const msg = await auth.processMsg(bytes, makeCtx());
        assert.ok(msg.length >= 2);
      }),
      { numRuns: 400 },
    );
  });
});
