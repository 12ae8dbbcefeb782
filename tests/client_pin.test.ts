import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CborMap, type CborValue, decode, encode } from "../src/cbor.ts";
import { type CallOptions, CTAP_STATUS, CtapError } from "../src/ctap.ts";
import { FormatError, UnsupportedAlgorithmError } from "../src/errors.ts";
import { ClientPin, type ClientPinCtap, encodePin, PinPolicyError } from "../src/ctap2/pin.ts";
import { PinProtocolV1, PinProtocolV2 } from "../src/ctap2/pin_protocol.ts";
import { PinUvAuthState } from "../src/virtual/pin.ts";
import type { PinUvAuthOptions, RequestContext } from "../src/virtual/types.ts";
import { fromHex, sha256, toHex, utf8Encode } from "../src/utils.ts";

const P = ClientPin.PERMISSION;
const CDH = sha256(utf8Encode("cdh"));

/** A tiny Ctap2 stand-in: CBOR over the "wire" into a PinUvAuthState. */
class Adapter implements ClientPinCtap {
  readonly sent: Map<number, unknown>[] = [];
  readonly info: ClientPinCtap["info"];
  constructor(readonly state: PinUvAuthState, info: Partial<ClientPinCtap["info"]> = {}) {
    // A CTAP 2.1 key's options unless the test says otherwise.
    this.info = {
      pinUvProtocols: state.protocols,
      options: { clientPin: true, pinUvAuthToken: true },
      ...info,
    };
  }
  async sendCbor(cmd: number, args: Map<number, unknown>, opts?: CallOptions) {
    assert.equal(cmd, 0x06);
    const wire = decode(encode(args)) as CborMap;
    this.sent.push(wire as Map<number, unknown>);
    const ctx: RequestContext = {
      signal: opts?.signal ?? new AbortController().signal,
      keepalive: (s) => opts?.onKeepalive?.(s),
    };
    const resp = await this.state.handleClientPin(wire, ctx);
    return resp === undefined ? undefined : decode(encode(resp)) as CborMap;
  }
}

function setup(opts: PinUvAuthOptions = {}, info: Partial<ClientPinCtap["info"]> = {}) {
  const state = new PinUvAuthState(opts);
  const ctap = new Adapter(state, info);
  return { state, ctap, pin: new ClientPin(ctap) };
}

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CtapError) return e.code;
    throw e;
  }
  assert.fail("expected a CtapError");
}

function use(state: PinUvAuthState, pin: ClientPin, token: Uint8Array, perm: number, rp?: string) {
  const param = pin.protocol.authenticate(token, CDH) as Uint8Array;
  return state.verifyToken({
    protocol: pin.protocol.version,
    param,
    message: CDH,
    permission: perm,
    rpId: rp,
  });
}

describe("ClientPin against the virtual authenticator", () => {
  it("prefers protocol 2, falls back to 1, refuses none", () => {
    assert.equal(setup().pin.protocol.version, 2);
    assert.equal(setup({ protocols: [1] }).pin.protocol.version, 1);
    const ctap = new Adapter(new PinUvAuthState(), { pinUvProtocols: [] });
    assert.throws(() => new ClientPin(ctap), UnsupportedAlgorithmError);
    assert.equal(new ClientPin(ctap, new PinProtocolV1()).protocol.version, 1);
  });

  for (const protocols of [[2], [1]]) {
    it(`set, use, change PIN (protocol ${protocols[0]})`, async () => {
      const { state, ctap, pin } = setup({ protocols });
      assert.deepEqual(await pin.getPinRetries(), { retries: 8, powerCycleState: false });
      await pin.setPin("1234");
      const t = await pin.getPinToken("1234", P.MAKE_CREDENTIAL, "a.com");
      assert.equal(ctap.sent.at(-1)!.get(2), 0x09);
      assert.deepEqual(use(state, pin, t, P.MAKE_CREDENTIAL, "a.com"), {
        userPresent: false,
        userVerified: true,
      });
      assert.throws(() => use(state, pin, t, P.MAKE_CREDENTIAL, "b.com"), CtapError);
      await pin.changePin("1234", "abcdef");
      assert.equal(await code(pin.getPinToken("1234", P.GET_ASSERTION, "a")), 0x31);
      assert.deepEqual(await pin.getPinRetries(), { retries: 7, powerCycleState: false });
      await pin.getPinToken("abcdef", P.GET_ASSERTION, "a");
      assert.equal((await pin.getPinRetries()).retries, 8);
    });
  }

  it("uses legacy getPinToken without permissions or without token support", async () => {
    const { ctap, pin } = setup({ pin: "1234" });
    await pin.getPinToken("1234");
    assert.equal(ctap.sent.at(-1)!.get(2), 0x05);
    // false, and (the bug of issue 12) absent: CTAP 2.0 / 2.1-PRE keys have no 0x09.
    for (const options of [{ pinUvAuthToken: false }, { clientPin: true }, {}]) {
      const legacy = setup({ pin: "1234" }, { options });
      await legacy.pin.getPinToken("1234", P.GET_ASSERTION, "a.com");
      const req = legacy.ctap.sent.at(-1)!;
      assert.equal(req.get(2), 0x05, JSON.stringify(options));
      assert.equal(req.has(9), false);
      assert.equal(req.has(10), false);
    }
    const none = setup({ pin: "1234" }, { options: undefined });
    await none.pin.getPinToken("1234", P.GET_ASSERTION, "a.com");
    assert.equal(none.ctap.sent.at(-1)!.get(2), 0x05);
  });

  it("getUvToken needs pinUvAuthToken: true and sends nothing otherwise", async () => {
    for (const options of [{ uv: true }, { uv: true, pinUvAuthToken: false }]) {
      const { ctap, pin } = setup({}, { options });
      await assert.rejects(
        pin.getUvToken(P.GET_ASSERTION, "a.com"),
        (e) => e instanceof CtapError && e.code === CTAP_STATUS.INVALID_SUBCOMMAND,
      );
      assert.equal(ctap.sent.length, 0);
    }
  });

  it("isSupported and isTokenSupported read getInfo as python-fido2 does", () => {
    assert.equal(ClientPin.isSupported({ options: { clientPin: false } }), true);
    assert.equal(ClientPin.isSupported({ options: { clientPin: true } }), true);
    assert.equal(ClientPin.isSupported({ options: { uv: true } }), false);
    assert.equal(ClientPin.isSupported({}), false);
    assert.equal(ClientPin.isTokenSupported({ options: { pinUvAuthToken: true } }), true);
    assert.equal(ClientPin.isTokenSupported({ options: { pinUvAuthToken: false } }), false);
    assert.equal(ClientPin.isTokenSupported({ options: { clientPin: true } }), false);
    assert.equal(ClientPin.isTokenSupported({}), false);
  });

  it("normalises the PIN to NFC on both set and use", async () => {
    const { pin } = setup();
    // "été" decomposed is 5 code points but only 3 after NFC: too short.
    await assert.rejects(pin.setPin("e\u0301te\u0301"), PinPolicyError);
    const other = setup();
    await other.pin.setPin("e\u0301e\u0301e\u0301e\u0301");
    await other.pin.getPinToken("\u00e9\u00e9\u00e9\u00e9", P.GET_ASSERTION, "a");
  });

  it("validates PINs locally with PinPolicyError", async () => {
    const { ctap, pin } = setup({}, { minPinLength: 6 });
    await assert.rejects(pin.setPin("123"), PinPolicyError);
    await assert.rejects(pin.setPin("12345"), PinPolicyError); // below info.minPinLength
    await assert.rejects(pin.setPin("1".repeat(64)), PinPolicyError);
    await assert.rejects(pin.setPin("ab\u0000cd12"), PinPolicyError);
    await assert.rejects(pin.setPin(42 as unknown as string), PinPolicyError);
    assert.equal(ctap.sent.length, 0);
    assert.equal(encodePin("é".repeat(31)).length, 62);
    assert.throws(() => encodePin("é".repeat(32)), PinPolicyError);
    await pin.setPin("123456");
    // An existing PIN below the (raised) minimum can still be used to change it.
    const raised = setup({ pin: "1234" }, { minPinLength: 6 });
    await raised.pin.changePin("1234", "654321");
    assert.throws(() => encodePin("12345678", 4, 6), /at most 6 characters/);
    const capped = setup({}, { maxPinLength: 8 });
    await assert.rejects(capped.pin.setPin("123456789"), PinPolicyError);
    assert.equal(capped.ctap.sent.length, 0);
    await capped.pin.setPin("12345678");
  });

  it("reports retries, power-cycle state and blocking", async () => {
    const { state, pin } = setup({ pin: "1234" });
    for (let i = 0; i < 2; i++) {
      assert.equal(await code(pin.getPinToken("0000", P.GET_ASSERTION, "a")), 0x31);
    }
    assert.equal(
      await code(pin.getPinToken("0000", P.GET_ASSERTION, "a")),
      CTAP_STATUS.PIN_AUTH_BLOCKED,
    );
    assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: true });
    state.powerCycle();
    await pin.getPinToken("1234", P.GET_ASSERTION, "a");
  });

  it("forcePINChange: token refused, changePin recovers", async () => {
    const { state, pin } = setup({ pin: "1234" });
    state.setMinPinLength(4, true);
    assert.equal(
      await code(pin.getPinToken("1234", P.GET_ASSERTION, "a")),
      CTAP_STATUS.PIN_POLICY_VIOLATION,
    );
    await pin.changePin("1234", "4321");
    await pin.getPinToken("4321", P.GET_ASSERTION, "a");
  });

  it("UV tokens and retries", async () => {
    let ok = false;
    const keepalives: number[] = [];
    const { state, pin } = setup({
      verifyUser: (ctx) => {
        ctx.keepalive(2);
        return Promise.resolve(ok);
      },
    });
    assert.equal(await pin.getUvRetries(), 5);
    assert.equal(
      await code(pin.getUvToken(P.GET_ASSERTION, "a", { onKeepalive: (s) => keepalives.push(s) })),
      CTAP_STATUS.UV_INVALID,
    );
    assert.deepEqual(keepalives, [2]);
    assert.equal(await pin.getUvRetries(), 4);
    ok = true;
    const t = await pin.getUvToken(P.GET_ASSERTION, "a");
    assert.deepEqual(use(state, pin, t, P.GET_ASSERTION, "a"), {
      userPresent: true,
      userVerified: true,
    });
    assert.equal(await code(pin.getUvToken(undefined, "a")), CTAP_STATUS.MISSING_PARAMETER);
  });

  it("rejects malformed authenticator responses with FormatError", async () => {
    const replies: (CborMap | undefined)[] = [];
    const ctap: ClientPinCtap = {
      info: { pinUvProtocols: [2] },
      sendCbor: () => Promise.resolve(replies.shift()),
    };
    const pin = new ClientPin(ctap);
    replies.push(new Map([[1, new Uint8Array(3)]]));
    await assert.rejects(pin.getSharedSecret(), FormatError);
    replies.push(undefined);
    await assert.rejects(pin.getPinRetries(), FormatError);
    replies.push(new Map<CborValue, CborValue>([[3, 8], [4, 1]]));
    await assert.rejects(pin.getPinRetries(), FormatError);
    replies.push(new Map([[5, "x"]]));
    await assert.rejects(pin.getUvRetries(), FormatError);
    const kp = new Map<CborValue, CborValue>([[1, 2], [3, -25], [-1, 1], [
      -2,
      new Uint8Array(32),
    ], [-3, new Uint8Array(32)]]);
    replies.push(new Map([[1, kp]]));
    await assert.rejects(pin.getPinToken("1234", 1, "a"), FormatError); // off-curve key
  });
});

// python-fido2 tests/test_ctap2.py::TestClientPin, replayed through ClientPin with the
// vectors' fixed platform key (research/python-fido2-vectors.md §3.1).
describe("ClientPin reproduces python-fido2's TestClientPin requests", () => {
  const SK = fromHex("7452e599fee739d8a653f6a507343d12d382249108a651402520b72f24fe7684");
  class FixedV1 extends PinProtocolV1 {
    override encapsulate(peer: CborMap) {
      return super.encapsulate(peer, SK);
    }
  }
  const authKey = new Map<CborValue, CborValue>([
    [1, 2],
    [3, -25],
    [-1, 1],
    [-2, fromHex("0501d5bc78da9252560a26cb08fcc60cbe0b6d3b8e1d1fcee514fac0af675168")],
    [-3, fromHex("d551b3ed46f665731f95b4532939c25d91db7eb844bd96d4abd4083785f8df47")],
  ]);
  function stub(reply?: CborMap) {
    const sent: Map<number, unknown>[] = [];
    const ctap: ClientPinCtap = {
      info: { pinUvProtocols: [1] },
      sendCbor(_cmd, args) {
        sent.push(args);
        return Promise.resolve(args.get(2) === 2 ? new Map([[1, authKey]]) : reply);
      },
    };
    return { sent, pin: new ClientPin(ctap, new FixedV1()) };
  }
  const hex = (v: unknown) => toHex(v as Uint8Array);

  it("get_pin_token", async () => {
    const { sent, pin } = stub(new Map([[2, fromHex("7a9f98e31b77be90f9c64d12e9635040")]]));
    const token = await pin.getPinToken("1234");
    assert.equal(toHex(token), "aff12c6dcfbf9df52f7a09211e8865cd");
    assert.equal(hex(sent[1].get(6)), "afe8327ce416da8ee3d057589c2ce1a9");
    assert.equal(
      hex((sent[1].get(3) as CborMap).get(-2)),
      "44d78d7989b97e62ea993496c9ef6e8fd58b8b00715f9a89153ddd9c4657e47f",
    );
  });

  it("set_pin", async () => {
    const { sent, pin } = stub();
    await pin.setPin("1234");
    assert.deepEqual([sent[1].get(1), sent[1].get(2)], [1, 3]);
    assert.equal(
      hex(sent[1].get(5)),
      "0222fc42c6dd76a274a7057858b9b29d98e8a722ec2dc6668476168c5320473c" +
        "ec9907b4cd76ce7943c96ba5683943211d84471e64d9c51e54763488cd66526a",
    );
    assert.equal(hex(sent[1].get(4)), "7b40c084ccc5794194189ab57836475f");
  });

  it("change_pin", async () => {
    const { sent, pin } = stub();
    await pin.changePin("1234", "4321");
    assert.deepEqual([sent[1].get(1), sent[1].get(2)], [1, 4]);
    assert.equal(
      hex(sent[1].get(5)),
      "4280e14aac4fcbf02dd079985f0c0ffc9ea7d5f9c173fd1a4c843826f7590cb3" +
        "c2d080c6923e2fe6d7a52c31ea1309d3fcca3dedae8a2ef14b6330cafc79339e",
    );
    assert.equal(hex(sent[1].get(4)), "fb97e92f3724d7c85e001d7f93e6490a");
    assert.equal(hex(sent[1].get(6)), "afe8327ce416da8ee3d057589c2ce1a9");
  });

  it("short and long PINs", async () => {
    const { sent, pin } = stub();
    await assert.rejects(pin.setPin("123"), PinPolicyError);
    await assert.rejects(pin.setPin("1".repeat(256)), PinPolicyError);
    assert.equal(sent.length, 0);
  });

  it("v2 on the same stub derives the §3.2 shared secret", async () => {
    class FixedV2 extends PinProtocolV2 {
      override encapsulate(peer: CborMap) {
        return super.encapsulate(peer, SK);
      }
    }
    const ctap: ClientPinCtap = {
      info: { pinUvProtocols: [2] },
      sendCbor: () => Promise.resolve(new Map([[1, authKey]])),
    };
    const { sharedSecret } = await new ClientPin(ctap, new FixedV2()).getSharedSecret();
    assert.equal(
      toHex(sharedSecret),
      "65ef955dd8cfcacab489ad582d64b872299cec1970aeffb10c90b9d9f4b4f1a7" +
        "46cc03964825ccbaf159fde1958b2063871bd5b66ecf28972eaac583214a22d8",
    );
  });
});
