import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CborMap, CborValue } from "../src/cbor.ts";
import { CTAP_STATUS, CtapError } from "../src/ctap.ts";
import { FormatError } from "../src/errors.ts";
import { PinProtocolV1, PinProtocolV2, type PinUvAuthProtocol } from "../src/ctap2/pin_protocol.ts";
import { PinUvAuthState } from "../src/virtual/pin.ts";
import { PERMISSION, type PinUvAuthOptions, type RequestContext } from "../src/virtual/types.ts";
import { concat, sha256, utf8Encode } from "../src/utils.ts";

const ctx: RequestContext = { signal: new AbortController().signal, keepalive() {} };
const S = CTAP_STATUS;
const CDH = sha256(utf8Encode("client data"));
const PROTOCOLS: PinUvAuthProtocol[] = [new PinProtocolV1(), new PinProtocolV2()];

const m = (entries: [number, CborValue][]) => new Map<CborValue, CborValue>(entries);

/** Resolves to the CtapError code a call fails with (fails the test if it succeeds). */
async function code(p: Promise<unknown> | (() => unknown)): Promise<number> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof CtapError) return e.code;
    throw e;
  }
  assert.fail("expected a CtapError");
}

/** A platform driving the state exactly as ClientPin would over the wire. */
class Platform {
  constructor(readonly state: PinUvAuthState, readonly p: PinUvAuthProtocol) {}
  call(entries: [number, CborValue][]): Promise<CborMap | undefined> {
    return this.state.handleClientPin(m([[1, this.p.version], ...entries]), ctx);
  }
  async shared(): Promise<{ keyAgreement: CborMap; sharedSecret: Uint8Array }> {
    const r = await this.call([[2, 2]]);
    return this.p.encapsulate(r!.get(1) as CborMap);
  }
  pad(pin: string, size = 64): Uint8Array {
    const out = new Uint8Array(size);
    out.set(utf8Encode(pin));
    return out;
  }
  async setPin(pin: string | Uint8Array): Promise<void> {
    const { keyAgreement, sharedSecret } = await this.shared();
    const padded = typeof pin === "string" ? this.pad(pin) : pin;
    const newPinEnc = await this.p.encrypt(sharedSecret, padded);
    const param = await this.p.authenticate(sharedSecret, newPinEnc);
    await this.call([[2, 3], [3, keyAgreement], [4, param], [5, newPinEnc]]);
  }
  async changePin(oldPin: string, newPin: string): Promise<void> {
    const { keyAgreement, sharedSecret } = await this.shared();
    const pinHashEnc = await this.p.encrypt(sharedSecret, hash(oldPin));
    const newPinEnc = await this.p.encrypt(sharedSecret, this.pad(newPin));
    const param = await this.p.authenticate(sharedSecret, concat(newPinEnc, pinHashEnc));
    await this.call([[2, 4], [3, keyAgreement], [4, param], [5, newPinEnc], [6, pinHashEnc]]);
  }
  /** subcommand 0x09, or legacy 0x05 when `permissions` is undefined. */
  async token(pin: string, permissions?: number, rpId?: string): Promise<Uint8Array> {
    const { keyAgreement, sharedSecret } = await this.shared();
    const pinHashEnc = await this.p.encrypt(sharedSecret, hash(pin));
    const args: [number, CborValue][] = [[3, keyAgreement], [6, pinHashEnc]];
    if (permissions !== undefined) args.push([2, 9], [9, permissions]);
    else args.push([2, 5]);
    if (rpId !== undefined) args.push([10, rpId]);
    const r = await this.call(args);
    return this.p.validateToken(await this.p.decrypt(sharedSecret, r!.get(2) as Uint8Array));
  }
  async uvToken(permissions: number, rpId?: string): Promise<Uint8Array> {
    const { keyAgreement, sharedSecret } = await this.shared();
    const args: [number, CborValue][] = [[2, 6], [3, keyAgreement], [9, permissions]];
    if (rpId !== undefined) args.push([10, rpId]);
    const r = await this.call(args);
    return this.p.validateToken(await this.p.decrypt(sharedSecret, r!.get(2) as Uint8Array));
  }
  async retries(): Promise<[number, boolean]> {
    const r = await this.call([[2, 1]]);
    return [r!.get(3) as number, r!.get(4) as boolean];
  }
  async use(token: Uint8Array, permission: number, rpId?: string, message = CDH) {
    const param = await this.p.authenticate(token, message);
    return this.state.verifyToken({ protocol: this.p.version, param, message, permission, rpId });
  }
}

function hash(pin: string): Uint8Array {
  return sha256(utf8Encode(pin)).slice(0, 16);
}

function setup(opts: PinUvAuthOptions = {}, p: PinUvAuthProtocol = PROTOCOLS[1]) {
  return new Platform(new PinUvAuthState(opts), p);
}

for (const proto of PROTOCOLS) {
  describe(`virtual PIN state, protocol ${proto.version}`, () => {
    it("sets a PIN and issues a permission-scoped token", async () => {
      const c = setup({}, proto);
      assert.equal(c.state.isPinSet, false);
      assert.equal(await code(c.token("1234", PERMISSION.MC, "a.com")), S.PIN_NOT_SET);
      await c.setPin("1234");
      assert.equal(c.state.isPinSet, true);
      assert.equal(await code(c.setPin("5678")), S.NOT_ALLOWED);
      const token = await c.token("1234", PERMISSION.MC | PERMISSION.GA, "a.com");
      assert.equal(token.length, 32);
      assert.deepEqual(await c.use(token, PERMISSION.GA, "a.com"), {
        userPresent: false,
        userVerified: true,
      });
      assert.equal(
        await code(() => c.use(token, PERMISSION.MC, "b.com")),
        S.PIN_AUTH_INVALID,
      );
      assert.equal(await code(() => c.use(token, PERMISSION.CM)), S.PIN_AUTH_INVALID);
      const bad = await c.p.authenticate(token, CDH);
      bad[0] ^= 1;
      assert.equal(
        await code(() =>
          c.state.verifyToken({ protocol: proto.version, param: bad, message: CDH, permission: 1 })
        ),
        S.PIN_AUTH_INVALID,
      );
    });

    it("changes the PIN; old PIN and old token stop working", async () => {
      const c = setup({}, proto);
      await c.setPin("1234");
      const old = await c.token("1234", PERMISSION.GA, "a.com");
      await c.changePin("1234", "98765");
      assert.equal(await code(() => c.use(old, PERMISSION.GA, "a.com")), S.PIN_AUTH_INVALID);
      assert.equal(await code(c.token("1234", PERMISSION.GA, "a.com")), S.PIN_INVALID);
      const t = await c.token("98765", PERMISSION.GA, "a.com");
      await c.use(t, PERMISSION.GA, "a.com");
      assert.equal(await code(c.changePin("1234", "11111")), S.PIN_INVALID);
    });

    it("legacy getPinToken: mc|ga, binds to the first RP used", async () => {
      const c = setup({}, proto);
      await c.setPin("1234");
      const t = await c.token("1234");
      await c.use(t, PERMISSION.MC, "a.com");
      await c.use(t, PERMISSION.GA, "a.com");
      assert.equal(await code(() => c.use(t, PERMISSION.GA, "b.com")), S.PIN_AUTH_INVALID);
      assert.equal(await code(() => c.use(t, PERMISSION.CM)), S.PIN_AUTH_INVALID);
    });
  });
}

describe("virtual PIN state: PIN policy", () => {
  it("enforces min length in code points, 63 bytes and 64-byte padding", async () => {
    const c = setup({ minPinLength: 4 });
    assert.equal(await code(c.setPin("123")), S.PIN_POLICY_VIOLATION);
    assert.equal(await code(c.setPin("ééé")), S.PIN_POLICY_VIOLATION); // 6 bytes, 3 code points
    assert.equal(await code(c.setPin(new Uint8Array(64).fill(0x31))), S.PIN_POLICY_VIOLATION);
    assert.equal(await code(c.setPin(c.pad("1234", 48))), S.INVALID_PARAMETER);
    assert.equal(await code(c.setPin(c.pad("1234", 80))), S.INVALID_PARAMETER);
    const invalidUtf8 = c.pad("12");
    invalidUtf8.set([0xff, 0xfe, 0xfd, 0xfc], 2);
    assert.equal(await code(c.setPin(invalidUtf8)), S.PIN_POLICY_VIOLATION);
    const inner0 = c.pad("1234");
    inner0[10] = 0x35;
    assert.equal(await code(c.setPin(inner0)), S.PIN_POLICY_VIOLATION);
    assert.equal(c.state.isPinSet, false);
    await c.setPin("1".repeat(63));
    await c.token("1".repeat(63), PERMISSION.GA, "a.com");
  });

  it("accepts a 4-code-point multibyte PIN", async () => {
    const c = setup();
    await c.setPin("éééé");
    await c.token("éééé", PERMISSION.GA, "x");
    assert.equal(c.state.exportState().pinLength, 4);
  });

  it("rejects setPIN with a wrong pinUvAuthParam", async () => {
    const c = setup();
    const { keyAgreement, sharedSecret } = await c.shared();
    const newPinEnc = await c.p.encrypt(sharedSecret, c.pad("1234"));
    const param = await c.p.authenticate(sharedSecret, concat(newPinEnc, new Uint8Array([0])));
    const r = c.call([[2, 3], [3, keyAgreement], [4, param], [5, newPinEnc]]);
    assert.equal(await code(r), S.PIN_AUTH_INVALID);
  });
});

describe("virtual PIN state: tokens", () => {
  it("expires after tokenLifetimeMs", async () => {
    let now = 1000;
    const c = setup({ tokenLifetimeMs: 5000, now: () => now });
    await c.setPin("1234");
    const t = await c.token("1234", PERMISSION.GA, "a.com");
    now += 5000;
    await c.use(t, PERMISSION.GA, "a.com");
    now += 1;
    assert.equal(await code(() => c.use(t, PERMISSION.GA, "a.com")), S.PIN_TOKEN_EXPIRED);
    now = 1000;
    assert.equal(await code(() => c.use(t, PERMISSION.GA, "a.com")), S.PIN_AUTH_INVALID);
  });

  it("a new token invalidates the previous one; tokens are per protocol", async () => {
    const state = new PinUvAuthState();
    const c2 = new Platform(state, PROTOCOLS[1]);
    const c1 = new Platform(state, PROTOCOLS[0]);
    await c2.setPin("1234");
    const a = await c2.token("1234", PERMISSION.GA, "a.com");
    const b = await c2.token("1234", PERMISSION.GA, "a.com");
    assert.equal(await code(() => c2.use(a, PERMISSION.GA, "a.com")), S.PIN_AUTH_INVALID);
    await c2.use(b, PERMISSION.GA, "a.com");
    // The v2 token MAC'd with protocol 1 is not the v1 token.
    assert.equal(await code(() => c1.use(b, PERMISSION.GA, "a.com")), S.PIN_AUTH_INVALID);
    const v1 = await c1.token("1234", PERMISSION.GA, "a.com");
    await c1.use(v1, PERMISSION.GA, "a.com");
    assert.equal(
      await code(() =>
        state.verifyToken({ protocol: 3, param: CDH, message: CDH, permission: PERMISSION.GA })
      ),
      S.INVALID_PARAMETER,
    );
  });

  it("consumeToken leaves only lbw", async () => {
    const c = setup();
    await c.setPin("1234");
    const t = await c.token("1234", PERMISSION.GA | PERMISSION.LBW, "a.com");
    c.state.consumeToken();
    assert.equal(await code(() => c.use(t, PERMISSION.GA, "a.com")), S.PIN_AUTH_INVALID);
    assert.deepEqual(await c.use(t, PERMISSION.LBW), { userPresent: false, userVerified: false });
  });

  it("credential-management tokens scoped to an RP refuse other RPs and all-RP requests", async () => {
    const c = setup();
    await c.setPin("1234");
    const any = await c.token("1234", PERMISSION.CM);
    await c.use(any, PERMISSION.CM);
    await c.use(any, PERMISSION.CM, "a.com");
    await c.use(any, PERMISSION.CM, "b.com");
    const scoped = await c.token("1234", PERMISSION.CM, "a.com");
    await c.use(scoped, PERMISSION.CM, "a.com");
    assert.equal(
      await code(() => c.use(scoped, PERMISSION.CM, "b.com")),
      S.PIN_AUTH_INVALID,
    );
    assert.equal(await code(() => c.use(scoped, PERMISSION.CM)), S.PIN_AUTH_INVALID);
  });

  it("validates permission requests", async () => {
    const c = setup();
    await c.setPin("1234");
    assert.equal(await code(c.token("1234", 0, "a.com")), S.INVALID_PARAMETER);
    assert.equal(await code(c.token("1234", PERMISSION.MC)), S.MISSING_PARAMETER);
    assert.equal(await code(c.token("1234", PERMISSION.BE)), S.UNAUTHORIZED_PERMISSION);
    const limited = setup({ supportedPermissions: PERMISSION.MC | PERMISSION.GA });
    await limited.setPin("1234");
    assert.equal(await code(limited.token("1234", PERMISSION.ACFG)), S.UNAUTHORIZED_PERMISSION);
    // Legacy getPinToken takes neither permissions nor rpId.
    const { keyAgreement, sharedSecret } = await c.shared();
    const pinHashEnc = await c.p.encrypt(sharedSecret, hash("1234"));
    const r = c.call([[2, 5], [3, keyAgreement], [6, pinHashEnc], [9, 1]]);
    assert.equal(await code(r), S.INVALID_PARAMETER);
    assert.equal(c.state.pinRetries, 8); // rejected before spending a retry
  });
});

describe("virtual PIN state: retries and blocking", () => {
  it("wrong PIN: retries drop, key agreement changes, 3 in a row need a power cycle", async () => {
    const c = setup();
    await c.setPin("1234");
    assert.deepEqual(await c.retries(), [8, false]);
    const before = (await c.call([[2, 2]]))!.get(1) as CborMap;
    assert.equal(await code(c.token("0000", PERMISSION.GA, "a")), S.PIN_INVALID);
    const after = (await c.call([[2, 2]]))!.get(1) as CborMap;
    assert.notDeepEqual(after.get(-2), before.get(-2));
    assert.deepEqual(await c.retries(), [7, false]);
    // A request built on the stale key agreement cannot carry a correct PIN hash.
    const stale = await c.p.encapsulate(before);
    const pinHashEnc = await c.p.encrypt(stale.sharedSecret, hash("1234"));
    const staleReq = c.call([[2, 9], [3, stale.keyAgreement], [6, pinHashEnc], [9, 2], [10, "a"]]);
    assert.equal(await code(staleReq), S.PIN_INVALID);
    assert.equal(await code(c.token("0000", PERMISSION.GA, "a")), S.PIN_AUTH_BLOCKED);
    assert.deepEqual(await c.retries(), [5, true]);
    assert.equal(await code(c.token("1234", PERMISSION.GA, "a")), S.PIN_AUTH_BLOCKED);
    assert.equal(await code(c.changePin("1234", "5678")), S.PIN_AUTH_BLOCKED);
    assert.equal(c.state.pinRetries, 5);
    c.state.powerCycle();
    assert.deepEqual(await c.retries(), [5, false]);
    await c.token("1234", PERMISSION.GA, "a");
    assert.deepEqual(await c.retries(), [8, false]);
  });

  it("blocks after maxPinRetries; only reset recovers", async () => {
    const c = setup({ maxPinRetries: 4 });
    await c.setPin("1234");
    assert.equal(await code(c.token("0000", PERMISSION.GA, "a")), S.PIN_INVALID);
    assert.equal(await code(c.changePin("0000", "5678")), S.PIN_INVALID);
    assert.equal(await code(c.token("0000", PERMISSION.GA, "a")), S.PIN_AUTH_BLOCKED);
    c.state.powerCycle();
    assert.equal(await code(c.token("0000", PERMISSION.GA, "a")), S.PIN_BLOCKED);
    assert.equal(c.state.pinRetries, 0);
    assert.equal(await code(c.token("1234", PERMISSION.GA, "a")), S.PIN_BLOCKED);
    c.state.powerCycle();
    assert.equal(await code(c.token("1234", PERMISSION.GA, "a")), S.PIN_BLOCKED);
    c.state.reset();
    assert.equal(c.state.isPinSet, false);
    assert.deepEqual(await c.retries(), [4, false]);
    await c.setPin("4321");
    await c.token("4321", PERMISSION.GA, "a");
  });

  it("power cycle and reset invalidate tokens", async () => {
    const c = setup();
    await c.setPin("1234");
    const t = await c.token("1234", PERMISSION.GA, "a");
    c.state.powerCycle();
    assert.equal(await code(() => c.use(t, PERMISSION.GA, "a")), S.PIN_AUTH_INVALID);
  });
});

describe("virtual PIN state: forcePINChange and minPinLength", () => {
  it("refuses tokens until the PIN changes, and a change to the same PIN", async () => {
    const c = setup();
    await c.setPin("1234");
    c.state.setMinPinLength(4, true);
    assert.equal(c.state.forcePinChange, true);
    assert.equal(await code(c.token("1234")), S.PIN_INVALID);
    assert.equal(await code(c.token("1234", PERMISSION.GA, "a")), S.PIN_POLICY_VIOLATION);
    assert.equal(c.state.pinRetries, 8); // the PIN was right
    assert.equal(await code(c.changePin("1234", "1234")), S.PIN_POLICY_VIOLATION);
    await c.changePin("1234", "5678");
    assert.equal(c.state.forcePinChange, false);
    await c.token("5678", PERMISSION.GA, "a");
  });

  it("raising the minimum above the PIN forces a change; lowering is refused", async () => {
    const c = setup();
    await c.setPin("1234");
    c.state.setMinPinLength(6, false);
    assert.equal(c.state.forcePinChange, true);
    assert.equal(c.state.minPinLength, 6);
    assert.equal(await code(() => c.state.setMinPinLength(5, false)), S.PIN_POLICY_VIOLATION);
    assert.equal(await code(c.changePin("1234", "56789")), S.PIN_POLICY_VIOLATION);
    await c.changePin("1234", "567890");
    await c.token("567890", PERMISSION.GA, "a");
    const fresh = setup();
    assert.equal(await code(() => fresh.state.setMinPinLength(6, true)), S.PIN_NOT_SET);
    fresh.state.setMinPinLength(8, false);
    assert.equal(fresh.state.forcePinChange, false);
    assert.equal(await code(fresh.setPin("1234567")), S.PIN_POLICY_VIOLATION);
  });
});

describe("virtual PIN state: persistence and options", () => {
  it("exportState / restore keeps PIN, retries, min length and forcePINChange", async () => {
    const c = setup({ maxPinRetries: 6 });
    await c.setPin("1234");
    assert.equal(await code(c.token("0000", PERMISSION.GA, "a")), S.PIN_INVALID);
    c.state.setMinPinLength(4, true);
    const saved = JSON.parse(JSON.stringify(c.state.exportState()));
    assert.deepEqual(saved, {
      pinHash: "03ac674216f3e15c761ee1a5e255f067",
      pinLength: 4,
      pinRetries: 5,
      uvRetries: 5,
      minPinLength: 4,
      forcePinChange: true,
    });
    const r = setup({ maxPinRetries: 6, state: saved, pin: "9999" });
    assert.equal(r.state.isPinSet, true);
    assert.equal(r.state.pinRetries, 5);
    assert.equal(r.state.forcePinChange, true);
    await r.changePin("1234", "4321");
    await r.token("4321", PERMISSION.GA, "a");
    assert.deepEqual(setup().state.exportState(), {
      pinRetries: 8,
      uvRetries: 5,
      minPinLength: 4,
      forcePinChange: false,
    });
  });

  it("rejects corrupt state and bad options", () => {
    const good = { pinRetries: 8, uvRetries: 5, minPinLength: 4, forcePinChange: false };
    assert.throws(() => new PinUvAuthState({ state: { ...good, pinHash: "abcd" } }), FormatError);
    assert.throws(() => new PinUvAuthState({ state: { ...good, pinRetries: 9 } }), FormatError);
    assert.throws(() => new PinUvAuthState({ state: { ...good, pinRetries: -1 } }), FormatError);
    assert.throws(
      () => new PinUvAuthState({ state: { ...good, forcePinChange: "no" as unknown as boolean } }),
      FormatError,
    );
    assert.throws(() => new PinUvAuthState({ protocols: [3] }), FormatError);
    assert.throws(() => new PinUvAuthState({ minPinLength: 2 }), FormatError);
    assert.throws(
      () => new PinUvAuthState({ pin: "12" }),
      (e) => e instanceof CtapError && e.code === S.PIN_POLICY_VIOLATION,
    );
  });

  it("an initial PIN option is NFC-normalised like a client's", async () => {
    const c = setup({ pin: "e\u0301e\u0301e\u0301e\u0301" }); // decomposed é ×4
    assert.equal(c.state.isPinSet, true);
    await c.token("\u00e9\u00e9\u00e9\u00e9", PERMISSION.GA, "a");
  });

  it("only offers the configured protocols", async () => {
    const c = setup({ protocols: [1] }, PROTOCOLS[1]);
    assert.deepEqual(c.state.protocols, [1]);
    assert.equal(await code(c.call([[2, 2]])), S.INVALID_PARAMETER);
  });
});

describe("virtual PIN state: built-in UV", () => {
  it("issues UV tokens with userPresent, counts UV failures and blocks", async () => {
    const answers: boolean[] = [];
    const rps: (string | undefined)[] = [];
    const c = setup({
      maxUvRetries: 3,
      verifyUser: (_ctx, rpId) => {
        rps.push(rpId);
        return Promise.resolve(answers.shift() ?? false);
      },
    });
    assert.equal((await c.call([[2, 7]]))!.get(5), 3);
    answers.push(true);
    const t = await c.uvToken(PERMISSION.GA | PERMISSION.BE, "a.com");
    assert.deepEqual(rps, ["a.com"]);
    assert.deepEqual(await c.use(t, PERMISSION.GA, "a.com"), {
      userPresent: true,
      userVerified: true,
    });
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.UV_INVALID);
    assert.equal(c.state.uvRetries, 2);
    answers.push(true);
    await c.uvToken(PERMISSION.GA, "a.com");
    assert.equal(c.state.uvRetries, 3);
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.UV_INVALID);
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.UV_INVALID);
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.UV_BLOCKED);
    answers.push(true);
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.UV_BLOCKED);
    assert.equal((await c.call([[2, 7]]))!.get(5), 0);
    assert.equal(await code(c.uvToken(0, "a.com")), S.INVALID_PARAMETER);
  });

  it("propagates a denial from the UV hook without spending a retry", async () => {
    const c = setup({
      verifyUser: () => Promise.reject(new CtapError(S.OPERATION_DENIED)),
    });
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.OPERATION_DENIED);
    assert.equal(c.state.uvRetries, 5);
  });

  it("without built-in UV the subcommand is unsupported", async () => {
    const c = setup();
    assert.equal(await code(c.uvToken(PERMISSION.GA, "a.com")), S.INVALID_SUBCOMMAND);
  });
});

describe("virtual PIN state: malformed requests", () => {
  it("maps bad parameters to CTAP statuses", async () => {
    const s = new PinUvAuthState({ pin: "1234" });
    const call = (entries: [number, CborValue][]) => s.handleClientPin(m(entries), ctx);
    assert.equal(await code(call([[1, 2]])), S.MISSING_PARAMETER);
    assert.equal(await code(call([[1, 2], [2, 0x08]])), S.INVALID_SUBCOMMAND);
    assert.equal(await code(call([[1, 2], [2, "1"]])), S.CBOR_UNEXPECTED_TYPE);
    assert.equal(await code(call([[2, 2]])), S.MISSING_PARAMETER);
    assert.equal(await code(call([[1, 3], [2, 2]])), S.INVALID_PARAMETER);
    assert.equal(
      await code(call([[1, 2], [2, 5], [3, new Uint8Array(1)], [6, new Uint8Array(32)]])),
      S.CBOR_UNEXPECTED_TYPE,
    );
    assert.equal(await code(call([[1, 2], [2, 5], [6, new Uint8Array(32)]])), S.MISSING_PARAMETER);
    assert.equal(await code(call([[1, 2], [2, 9], [10, 5]])), S.CBOR_UNEXPECTED_TYPE);
    // An off-curve platform key.
    const c = new Platform(s, PROTOCOLS[1]);
    const { keyAgreement, sharedSecret } = await c.shared();
    const offCurve = new Map(keyAgreement).set(-3, new Uint8Array(32).fill(1));
    const pinHashEnc = await c.p.encrypt(sharedSecret, hash("1234"));
    assert.equal(
      await code(call([[1, 2], [2, 9], [3, offCurve], [6, pinHashEnc], [9, 2], [10, "a"]])),
      S.INVALID_PARAMETER,
    );
    // pinHashEnc of the wrong size for the protocol.
    assert.equal(
      await code(call([[1, 2], [2, 9], [3, keyAgreement], [6, pinHashEnc.subarray(16)], [9, 2], [
        10,
        "a",
      ]])),
      S.INVALID_PARAMETER,
    );
    assert.equal(s.pinRetries, 8);
    // getPINRetries needs no protocol.
    assert.equal((await call([[2, 1]]))!.get(3), 8);
  });
});
