/**
 * Profile conformance: the VirtualAuthenticator's generation profiles answer like the real
 * keys whose recorded bytes we have (tests/fixtures/real_keys.ts, conformance_keys.ts).
 *
 * 1. getInfo shape: for each profile, the recorded getInfo of a real key of that generation
 *    has the same members, versions, extensions and option names as the virtual key set up
 *    like that key. Every difference allowed is listed below with the reason it is
 *    configuration or optional, not protocol.
 * 2. Request replay: the request that produced each recorded answer (the libfido2 / python-fido2
 *    operation that made the capture) is sent to the virtual key of the matching profile, and
 *    the status byte and the CBOR structure of its answer (member keys and value types, not
 *    values: keys and randomness differ) must equal the recorded answer's, refusals included.
 * 3. U2F: the `u2f-only` profile answers the recorded APDUs with the recorded status words,
 *    and CTAPHID_CBOR with CTAPHID_ERROR ERR_INVALID_CMD, as a U2F-only YubiKey 4 does.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CborMap, type CborValue, decode, encode } from "../src/cbor.ts";
import { CAPABILITY } from "../src/ctap.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import { runCli } from "./helpers/run_cli.ts";
import { EXIT } from "../src/cli/errors.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { UserInteraction } from "../src/client/interaction.ts";
import { createConnectionPair, type HidConnection } from "../src/hid/connection.ts";
import { CtapHidServer } from "../src/hid/server.ts";
import { PinProtocolV1 } from "../src/ctap2/pin_protocol.ts";
import {
  b64urlEncode,
  bytesEqual,
  concat,
  fromHex,
  randomBytes,
  sha256,
  utf8Encode,
} from "../src/utils.ts";
import { createAttestation } from "../src/virtual/attestation_cert.ts";
import {
  type AuthenticatorProfile,
  CtapCard,
  VirtualAuthenticator,
  type VirtualAuthenticatorOptions,
} from "../src/virtual/mod.ts";
import type { RequestContext } from "../src/virtual/types.ts";
import {
  BIO_SENSOR_INFO_REPORT,
  TOKEN2_INFO,
  YUBICO_521_WIRE as W,
  YUBICO_CTAP22_NFC_INFO_APDUS,
  YUBIKEY_5_ENUMERATE_RPS_EMPTY,
  YUBIKEY_5_NFC_INFO,
  YUBIKEY_BIO_INFO,
} from "./fixtures/real_keys.ts";
import {
  YUBICO_SKY_20_GA,
  YUBICO_SKY_20_INFO,
  YUBICO_SKY_20_MC,
  YUBIKEY_4_CBOR_ERROR,
  YUBIKEY_4_INIT,
  YUBIKEY_5_NANO_512_CREDMAN_STATUS,
  YUBIKEY_5_NANO_512_INIT,
} from "./fixtures/conformance_keys.ts";
import { messages, payload } from "./helpers/wire_replay.ts";

// ---------------------------------------------------------------------------------------------
// Structure of CBOR values: member keys and value types, recursively.
// ---------------------------------------------------------------------------------------------

/** A value's structure: a type name, a map of member structures, or a list's element kinds. */
type Shape = string | { readonly [key: string]: Shape } | { readonly "[]": readonly Shape[] };

const keyName = (k: CborValue) => typeof k === "string" ? JSON.stringify(k) : String(k);

/** The structure of `v`. Lists give the distinct structures of their elements, in order. */
function shape(v: CborValue): Shape {
  if (v instanceof Uint8Array) return "bytes";
  if (v instanceof Map) {
    const out: Record<string, Shape> = {};
    for (const k of [...v.keys()].map(keyName).sort()) {
      out[k] = shape(v.get([...v.keys()].find((x) => keyName(x) === k)!) as CborValue);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const seen = new Map<string, Shape>();
    for (const e of v) seen.set(JSON.stringify(shape(e)), shape(e));
    return { "[]": [...seen.keys()].sort().map((k) => seen.get(k)!) };
  }
  if (typeof v === "number" || typeof v === "bigint") return "int";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "text";
  return v === null ? "null" : typeof v;
}

/** A CTAP answer: the status byte and the decoded body, if any. */
interface Answer {
  readonly status: number;
  readonly body?: CborMap;
}

function answer(bytes: Uint8Array): Answer {
  return {
    status: bytes[0],
    body: bytes.length > 1 ? decode(bytes.subarray(1)) as CborMap : undefined,
  };
}

/** A recorded CTAPHID_CBOR answer (one message of 64-byte reports). */
const recorded = (reports: readonly string[]): Answer => answer(payload(reports));
/** A recorded CBOR body (status byte stripped by the source: the key answered success). */
const recordedBody = (hex: string): Answer => ({
  status: 0,
  body: decode(fromHex(hex)) as CborMap,
});

/** Asserts equal status and equal structure; `what` names the exchange. */
function assertSameAnswer(virtual: Answer, real: Answer, what: string): void {
  assert.equal(
    virtual.status,
    real.status,
    `${what}: status 0x${virtual.status.toString(16)}, real key 0x${real.status.toString(16)}`,
  );
  assert.deepEqual(
    virtual.body === undefined ? undefined : shape(virtual.body),
    real.body === undefined ? undefined : shape(real.body),
    `${what}: structure differs from the real key's`,
  );
}

/** authenticatorData flags and which optional parts are present. */
function authDataLayout(authData: Uint8Array) {
  const flags = authData[32];
  return {
    up: (flags & 0x01) !== 0,
    uv: (flags & 0x04) !== 0,
    at: (flags & 0x40) !== 0,
    ed: (flags & 0x80) !== 0,
    length37: authData.length === 37,
  };
}

/** {@linkcode assertSameAnswer}, and the authenticator data (member 2) has the real key's layout. */
function assertSameAuthDataAnswer(virtual: Answer, real: Answer, what: string): void {
  assertSameAnswer(virtual, real, what);
  assert.deepEqual(
    authDataLayout(virtual.body!.get(2) as Uint8Array),
    authDataLayout(real.body!.get(2) as Uint8Array),
  );
}

// ---------------------------------------------------------------------------------------------
// A host that speaks raw CTAP to the virtual key's command processor, the way libfido2 and
// python-fido2 built the requests whose answers were recorded.
// ---------------------------------------------------------------------------------------------

function ctx(): RequestContext {
  return { signal: new AbortController().signal, keepalive: () => {} };
}

const PIN = "1234";
const CDH = sha256(utf8Encode("conformance client data"));

class Host {
  readonly p = new PinProtocolV1();
  constructor(readonly va: VirtualAuthenticator) {}

  async send(cmd: number, params?: Map<CborValue, CborValue>): Promise<Answer> {
    const req = params ? concat(new Uint8Array([cmd]), encode(params)) : new Uint8Array([cmd]);
    return answer(await this.va.authenticator.processCbor(req, ctx()));
  }

  /** clientPin with PIN/UV protocol 1 (what every 2.0/2.1-PRE key has). */
  clientPin(sub: number, more: [number, CborValue][] = []): Promise<Answer> {
    return this.send(0x06, new Map<CborValue, CborValue>([[1, 1], [2, sub], ...more]));
  }

  async shared() {
    const r = await this.clientPin(2);
    return await this.p.encapsulate(r.body!.get(1) as CborMap);
  }

  async setPin(pin = PIN): Promise<Answer> {
    const { keyAgreement, sharedSecret } = await this.shared();
    const padded = new Uint8Array(64);
    padded.set(utf8Encode(pin));
    const newPinEnc = await this.p.encrypt(sharedSecret, padded);
    const param = await this.p.authenticate(sharedSecret, newPinEnc);
    return await this.clientPin(3, [[3, keyAgreement], [4, param], [5, newPinEnc]]);
  }

  /** getPinToken (0x05): the answer and the decrypted token. */
  async pinToken(pin = PIN): Promise<{ answer: Answer; token: Uint8Array }> {
    const { keyAgreement, sharedSecret } = await this.shared();
    const pinHashEnc = await this.p.encrypt(sharedSecret, sha256(utf8Encode(pin)).subarray(0, 16));
    const a = await this.clientPin(5, [[3, keyAgreement], [6, pinHashEnc]]);
    const token = a.body
      ? await this.p.decrypt(sharedSecret, a.body.get(2) as Uint8Array)
      : new Uint8Array();
    return { answer: a, token };
  }

  async auth(token: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    return await this.p.authenticate(token, message);
  }

  /** makeCredential as libfido2 / python-fido2 send it; `token` adds pinAuth. */
  async makeCredential(o: {
    rpId: string;
    user?: Map<CborValue, CborValue>;
    alg?: number;
    rk?: boolean;
    token?: Uint8Array;
    extensions?: Map<CborValue, CborValue>;
  }): Promise<Answer> {
    const user = o.user ??
      new Map<CborValue, CborValue>([["id", utf8Encode("user")], ["name", "user"]]);
    const params = new Map<CborValue, CborValue>([
      [1, CDH],
      [2, new Map<CborValue, CborValue>([["id", o.rpId]])],
      [3, user],
      [4, [new Map<CborValue, CborValue>([["alg", o.alg ?? -7], ["type", "public-key"]])]],
    ]);
    if (o.extensions) params.set(6, o.extensions);
    if (o.rk) params.set(7, new Map([["rk", true]]));
    if (o.token) {
      params.set(8, await this.auth(o.token, CDH));
      params.set(9, 1);
    }
    return await this.send(0x01, params);
  }

  async getAssertion(o: {
    rpId: string;
    credentialId: Uint8Array;
    up?: boolean;
    token?: Uint8Array;
  }): Promise<Answer> {
    const params = new Map<CborValue, CborValue>([
      [1, o.rpId],
      [2, CDH],
      [3, [new Map<CborValue, CborValue>([["id", o.credentialId], ["type", "public-key"]])]],
    ]);
    if (o.up === false) params.set(5, new Map([["up", false]]));
    if (o.token) {
      params.set(6, await this.auth(o.token, CDH));
      params.set(7, 1);
    }
    return await this.send(0x02, params);
  }

  /** credentialManagement (`cmd` 0x41 or 0x0A) with pinUvAuthParam over subCommand ‖ params. */
  async credMgmt(
    cmd: number,
    sub: number,
    token?: Uint8Array,
    subParams?: Map<CborValue, CborValue>,
  ): Promise<Answer> {
    const params = new Map<CborValue, CborValue>([[1, sub]]);
    if (subParams) params.set(2, subParams);
    if (token) {
      const message = subParams
        ? concat(new Uint8Array([sub]), encode(subParams))
        : new Uint8Array([sub]);
      params.set(3, 1);
      params.set(4, await this.auth(token, message));
    }
    return await this.send(cmd, params);
  }
}

function credentialId(a: Answer): Uint8Array {
  const authData = a.body!.get(2) as Uint8Array;
  const len = (authData[53] << 8) | authData[54];
  return authData.subarray(55, 55 + len);
}

function virtualKey(profile: AuthenticatorProfile, o: VirtualAuthenticatorOptions = {}) {
  return new VirtualAuthenticator({ profile, ...o });
}

// ---------------------------------------------------------------------------------------------
// 1. getInfo shape conformance
// ---------------------------------------------------------------------------------------------

/** Differences from a recorded getInfo that are configuration or optional, with the reason. */
interface AllowedInfoDifferences {
  /** getInfo members present on one side only. */
  readonly members?: Readonly<Record<number, string>>;
  /** Extensions listed on one side only. */
  readonly extensions?: Readonly<Record<string, string>>;
  /** Options present on one side only. */
  readonly optionNames?: Readonly<Record<string, string>>;
  /** Versions listed on one side only. */
  readonly versions?: Readonly<Record<string, string>>;
}

interface InfoCase {
  readonly profile: AuthenticatorProfile;
  /** The real key and where its bytes come from (see the fixture). */
  readonly key: string;
  readonly info: () => CborMap;
  /** The virtual key set up like the recorded one (PIN set or not, built-in UV...). */
  readonly setup: VirtualAuthenticatorOptions;
  readonly enterpriseAttestationOn?: boolean;
  /** Served as an NFC card (a `CtapCard` over it), as the recorded NFC key was read. */
  readonly servedAsCard?: boolean;
  readonly allowed: AllowedInfoDifferences;
}

const TRANSPORTS_NFC =
  "transports (0x09) is optional before CTAP 2.1; this NFC model lists nfc and usb, the " +
  "USB-only 5.2.1 key with the same firmware generation leaves it out, as the virtual key does";

const INFO_CASES: readonly InfoCase[] = [
  {
    profile: "ctap2.0",
    key: "Security Key by Yubico, CTAP 2.0 (python-fido2 tests/test_ctap2.py)",
    info: () => decode(fromHex(YUBICO_SKY_20_INFO)) as CborMap,
    setup: {},
    allowed: {
      extensions: {
        uvm: "uvm is a WebAuthn-level extension (which UV method was used) that early Yubico " +
          "2.0 firmware listed and later firmware dropped; no CTAP version requires it, the " +
          "virtual key does not implement it, and the library never asks for it",
      },
    },
  },
  {
    profile: "ctap2.1-pre",
    key: "Yubico 5.2.1, CTAP 2.1-PRE, no PIN (libfido2 WIREDATA_CTAP_CBOR_INFO)",
    info: () => recorded(W.GET_INFO).body!,
    setup: {},
    allowed: {},
  },
  {
    profile: "ctap2.1-pre",
    key: "YubiKey 5 NFC 5.2/5.4, CTAP 2.1-PRE, PIN set (webauthn-rs get_info.rs)",
    info: () => decode(fromHex(YUBIKEY_5_NFC_INFO)) as CborMap,
    setup: { pin: PIN },
    allowed: { members: { 9: TRANSPORTS_NFC } },
  },
  {
    profile: "ctap2.1-pre",
    key: "YubiKey 5 NFC 5.2/5.4 served as an NFC card: transports [nfc, usb] as recorded",
    info: () => decode(fromHex(YUBIKEY_5_NFC_INFO)) as CborMap,
    setup: { pin: PIN },
    servedAsCard: true,
    allowed: {},
  },
  {
    profile: "ctap2.1",
    key: "Token2 FIDO2, CTAP 2.1, PIN set (webauthn-rs get_info.rs)",
    info: () => decode(fromHex(TOKEN2_INFO)) as CborMap,
    // The Token2 lists usb before nfc: the option reproduces a vendor's order.
    setup: { pin: PIN, enterpriseAttestation: false, transports: ["usb", "nfc"] },
    allowed: {
      members: {
        0x13: "certifications (FIDO L1) is a fact about the certified product, optional in " +
          "CTAP 2.1; an uncertified virtual key must not claim one",
      },
    },
  },
  {
    profile: "ctap2.1",
    key: "YubiKey Bio 5.5.6, CTAP 2.1 with a fingerprint (ctap-hid-fido2 get_info test)",
    info: () => decode(fromHex(YUBIKEY_BIO_INFO)) as CborMap,
    setup: {
      pin: PIN,
      uv: true,
      alwaysUv: true,
      makeCredUvNotRqd: false,
      enterpriseAttestation: false,
    },
    allowed: {
      versions: {
        U2F_V2: "with alwaysUv on, CTAP 2.1 (§7.2.1 alwaysUv, CTAPHID NMSG) takes U2F away, so " +
          "the virtual key drops U2F_V2 and sets NMSG; this key keeps listing U2F_V2 with " +
          "alwaysUv on. The client decides U2F from the CTAPHID capability, not from versions",
      },
    },
  },
  {
    profile: "ctap2.2",
    key: "Yubico CTAP 2.2 firmware over NFC, PIN set (ctap-nfc-sniffer README)",
    info: () => {
      const apdus = YUBICO_CTAP22_NFC_INFO_APDUS.map((h) => fromHex(h));
      const all = concat(...apdus.map((a) => a.subarray(0, a.length - 2)));
      return decode(all.subarray(1)) as CborMap;
    },
    setup: { pin: PIN },
    servedAsCard: true,
    enterpriseAttestationOn: true,
    allowed: {
      members: {
        0x16: "attestationFormats is optional; absent means packed only, which is what the " +
          "virtual key's default (packed self attestation) gives",
        0x18: "longTouchForReset is optional (absent: false): a trait of the key's button",
        0x19: "encIdentifier: the virtual key sends it once a persistentPinUvAuthToken exists " +
          "(tests/virtual_profiles.test.ts), this key had handed one out before",
        0x1a: "transportsForReset is optional (absent: reset over any transport)",
        0x1b: "pinComplexityPolicy is optional (absent: no policy beyond minPINLength)",
        0x1c: "pinComplexityPolicyURL only accompanies a pinComplexityPolicy",
        0x1d: "maxPINLength is optional (absent: 63 bytes, the limit the virtual key applies)",
      },
      extensions: {
        sign: "the sign extension is not part of CTAP 2.2 (a later proposal); the virtual " +
          "key does not implement it",
      },
    },
  },
];

/** Keys of `a` not in `b`. */
const minus = <T>(a: Iterable<T>, b: Iterable<T>) => {
  const bs = new Set(b);
  return [...a].filter((x) => !bs.has(x)).sort();
};

describe("conformance: getInfo of each profile against real keys of its generation", () => {
  for (const c of INFO_CASES) {
    it(`${c.profile} ↔ ${c.key}`, async () => {
      const va = virtualKey(c.profile, c.setup);
      if (c.enterpriseAttestationOn) va.authenticator.setEnterpriseAttestation(true);
      if (c.servedAsCard) new CtapCard(va.authenticator);
      const got = await new Host(va).send(0x04);
      assert.equal(got.status, 0);
      const v = got.body!;
      const r = c.info();
      const allowedMembers = Object.keys(c.allowed.members ?? {}).map(Number);
      const allowedExt = Object.keys(c.allowed.extensions ?? {});
      const allowedOpts = Object.keys(c.allowed.optionNames ?? {});
      const vKeys = [...v.keys()] as number[];
      const rKeys = [...r.keys()] as number[];
      // Every member, extension and option either matches or is an allowed difference, and
      // every allowed difference is a real one (no stale excuses).
      const memberDiff = [...minus(vKeys, rKeys), ...minus(rKeys, vKeys)].sort((a, b) => a - b);
      assert.deepEqual(memberDiff, allowedMembers.sort((a, b) => a - b), "getInfo members");
      const vVer = v.get(1) as string[];
      const rVer = r.get(1) as string[];
      assert.deepEqual(
        [...minus(vVer, rVer), ...minus(rVer, vVer)].sort(),
        Object.keys(c.allowed.versions ?? {}).sort(),
        "versions",
      );
      const vExt = v.get(2) as string[];
      const rExt = r.get(2) as string[];
      assert.deepEqual(
        [...minus(vExt, rExt), ...minus(rExt, vExt)].sort(),
        allowedExt.sort(),
        "extensions",
      );
      const vOpt = v.get(4) as Map<string, boolean>;
      const rOpt = r.get(4) as Map<string, boolean>;
      assert.deepEqual(
        [...minus(vOpt.keys(), rOpt.keys()), ...minus(rOpt.keys(), vOpt.keys())].sort(),
        allowedOpts.sort(),
        "option names",
      );
      if (v.has(9) && r.has(9)) assert.deepEqual(v.get(9), r.get(9), "transports");
      // The virtual key is set up like the real one, so the shared options agree in value.
      for (const [name, value] of rOpt) {
        if (vOpt.has(name)) assert.equal(vOpt.get(name), value, `option ${name}`);
      }
      // Shared members have the same type and structure.
      for (const k of rKeys) {
        if (v.has(k)) {
          assert.deepEqual(shape(v.get(k)!), shape(r.get(k)!), `member 0x${k.toString(16)}`);
        }
      }
      assert.deepEqual(v.get(6), r.get(6), "pinUvAuthProtocols");
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 2. Request replay
// ---------------------------------------------------------------------------------------------

/** The INIT answer's fields: payload of a recorded INIT report. */
function initFields(report: Uint8Array) {
  const p = report.subarray(7, 7 + 17);
  return { protocol: p[12], version: [...p.subarray(13, 16)], capabilities: p[16] };
}

const one = (reports: readonly string[]) => {
  const m = messages(reports);
  assert.equal(m.length, 1);
  return recorded(m[0]);
};

/** Shapes of a list of answers as sorted JSON (the order of credentials differs by key). */
const shapes = (answers: readonly Answer[]) =>
  answers.map((a) => `${a.status}:${JSON.stringify(a.body && shape(a.body))}`).sort();

describe("conformance: Yubico 5.2.1 captures (libfido2 fuzz/wiredata_fido2.h) replayed on ctap2.1-pre", () => {
  it("CTAPHID_INIT: the same capabilities (WINK|CBOR, U2F over MSG)", () => {
    const real = initFields(fromHex(W.INIT[0]));
    assert.equal(real.protocol, 2);
    assert.equal(real.capabilities, CAPABILITY.WINK | CAPABILITY.CBOR);
    assert.equal(virtualKey("ctap2.1-pre").authenticator.capabilities, real.capabilities);
  });

  it("getInfo (fido_dev_get_cbor_info: command 0x04, no parameters)", async () => {
    const host = new Host(virtualKey("ctap2.1-pre"));
    assertSameAnswer(await host.send(0x04), one(W.GET_INFO), "getInfo");
  });

  it("clientPin (protocol 1): getPinRetries, getKeyAgreement, setPin, getPinToken", async () => {
    // fido_dev_get_retry_count, fido_dev_set_pin and fido_dev_get_pin_token's requests on a
    // key without a PIN, as in the capture (RETRIES 8, then STATUS_OK for setPin).
    const host = new Host(virtualKey("ctap2.1-pre"));
    assertSameAnswer(await host.clientPin(1), one(W.RETRIES), "getPinRetries");
    assertSameAnswer(await host.clientPin(2), one(W.KEY_AGREEMENT), "getKeyAgreement");
    assertSameAnswer(await host.setPin(), one(W.STATUS_OK), "setPin");
    const { answer: token } = await host.pinToken();
    assertSameAnswer(token, one(W.PIN_TOKEN), "getPinToken");
    // The encrypted token: 16 bytes on the real key, a multiple of 16 on every key (protocol 1).
    assert.equal((token.body!.get(2) as Uint8Array).length % 16, 0);
  });

  it("makeCredential with pinAuth: packed attestation with x5c, flags UP|UV|AT", async () => {
    const host = new Host(virtualKey("ctap2.1-pre", { attestation: createAttestation() }));
    await host.setPin();
    const { token } = await host.pinToken();
    const got = await host.makeCredential({ rpId: "localhost", token });
    const real = one(W.CRED);
    assertSameAuthDataAnswer(got, real, "makeCredential");
  });

  it("getAssertion with up=false and pinAuth: flags UV without UP, no user, no count", async () => {
    const host = new Host(virtualKey("ctap2.1-pre"));
    await host.setPin();
    const { token } = await host.pinToken();
    const mc = await host.makeCredential({ rpId: "localhost", token });
    const { token: token2 } = await host.pinToken();
    const got = await host.getAssertion({
      rpId: "localhost",
      credentialId: credentialId(mc),
      up: false,
      token: token2,
    });
    const real = one(W.ASSERT);
    assertSameAuthDataAnswer(got, real, "getAssertion");
  });

  it("credential management on 0x41: metadata, enumerateRPs, enumerateCredentials", async () => {
    const host = new Host(virtualKey("ctap2.1-pre"));
    await host.setPin();
    // Discoverable credentials like the captured key's: one RP each for two names, and five
    // for a third RP, of one user name with distinct user IDs, ES256 and EdDSA.
    for (const rpId of ["yubico.com", "yubikey.org"]) {
      const { token } = await host.pinToken();
      assert.equal((await host.makeCredential({ rpId, rk: true, token })).status, 0);
    }
    for (const [i, alg] of [-7, -8, -8, -7, -7].entries()) {
      const { token } = await host.pinToken();
      // Distinct IDs by construction: a same-ID registration replaces the account (random
      // bytes collided about once in 60 runs).
      const user = new Map<CborValue, CborValue>([
        ["id", sha256(new Uint8Array([alg & 0xff, i]))],
        ["name", "bob banana"],
        ["displayName", "bbanana"],
      ]);
      const mc = await host.makeCredential({ rpId: "webauthn.dev", rk: true, token, alg, user });
      assert.equal(mc.status, 0);
    }
    const { token } = await host.pinToken();
    assertSameAnswer(await host.credMgmt(0x41, 1, token), one(W.CREDMAN_META), "getCredsMetadata");

    const rps = [await host.credMgmt(0x41, 2, token)];
    for (let i = 1; i < (rps[0].body?.get(5) as number); i++) {
      rps.push(await host.credMgmt(0x41, 3));
    }
    const realRps = messages(W.CREDMAN_RPS).map(recorded);
    assert.equal(rps.length, realRps.length);
    assertSameAnswer(rps[0], realRps[0], "enumerateRPsBegin");
    assert.deepEqual(shapes(rps.slice(1)), shapes(realRps.slice(1)), "enumerateRPsGetNextRP");

    const rpIdHash = new Map<CborValue, CborValue>([[1, sha256(utf8Encode("webauthn.dev"))]]);
    const creds = [await host.credMgmt(0x41, 4, token, rpIdHash)];
    for (let i = 1; i < (creds[0].body?.get(9) as number); i++) {
      creds.push(await host.credMgmt(0x41, 5));
    }
    const realCreds = messages(W.CREDMAN_CREDS).map(recorded);
    assert.equal(creds.length, realCreds.length);
    assert.deepEqual(
      [...creds[0].body!.keys()].sort(),
      [...realCreds[0].body!.keys()].sort(),
      "enumerateCredentialsBegin members",
    );
    assert.deepEqual(shapes(creds), shapes(realCreds), "enumerateCredentials answers");
  });
});

describe("conformance: CTAP 2.0 keys replayed on ctap2.0", () => {
  it("Security Key by Yubico: makeCredential without PIN, packed with x5c, flags UP|AT", async () => {
    // python-fido2's Ctap2.make_credential: clientDataHash, rp, user, pubKeyCredParams.
    const host = new Host(virtualKey("ctap2.0", { attestation: createAttestation() }));
    const got = await host.makeCredential({ rpId: "example.com" });
    const real = recordedBody(YUBICO_SKY_20_MC);
    assertSameAuthDataAnswer(got, real, "makeCredential");
  });

  it("Security Key by Yubico: getAssertion with an allowList, flags UP only", async () => {
    const host = new Host(virtualKey("ctap2.0"));
    const mc = await host.makeCredential({ rpId: "example.com" });
    const got = await host.getAssertion({ rpId: "example.com", credentialId: credentialId(mc) });
    const real = recordedBody(YUBICO_SKY_20_GA);
    assertSameAuthDataAnswer(got, real, "getAssertion");
  });

  it("YubiKey 5 Nano 5.1.2: same INIT capabilities; 0x41 getCredsMetadata is refused", async () => {
    const real = initFields(fromHex(YUBIKEY_5_NANO_512_INIT).subarray(0, 24));
    assert.deepEqual(real.version, [5, 1, 2]);
    const va = virtualKey("ctap2.0", { pin: PIN });
    assert.equal(va.authenticator.capabilities, real.capabilities);
    // fido2-token -I -c: a PIN token (legacy 0x05), then 0x41 with pinAuth over 0x01.
    const host = new Host(va);
    const { answer: token, token: pinToken } = await host.pinToken();
    assert.equal(token.status, 0);
    const got = await host.credMgmt(0x41, 1, pinToken);
    assertSameAnswer(got, { status: YUBIKEY_5_NANO_512_CREDMAN_STATUS }, "credMgmt 0x41");
  });
});

describe("conformance: other recorded 2.1-PRE answers", () => {
  it("YubiKey 5 (webauthn-rs): enumerateRPsBegin with no credentials answers {totalRPs: 0}", async () => {
    const host = new Host(virtualKey("ctap2.1-pre", { pin: PIN }));
    const { token } = await host.pinToken();
    const got = await host.credMgmt(0x41, 2, token);
    const real = recordedBody(YUBIKEY_5_ENUMERATE_RPS_EMPTY);
    assertSameAnswer(got, real, "enumerateRPsBegin on an empty key");
    assert.equal(got.body!.get(5), 0);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. U2F-only: recorded status words and the CTAPHID answer to CBOR
// ---------------------------------------------------------------------------------------------

/** Raw CTAPHID reports to and from the virtual key's HID server (no client code between). */
class RawHid implements AsyncDisposable {
  readonly #host: HidConnection;
  readonly #server: CtapHidServer;

  constructor(va: VirtualAuthenticator) {
    const [host, device] = createConnectionPair(64);
    this.#host = host;
    this.#server = new CtapHidServer(device, va.authenticator);
    this.#server.start();
  }

  /** Sends one CTAPHID message; resolves with the answer's command and payload. */
  /** Keepalive reports received while waiting for answers. */
  readonly keepalives: Uint8Array[] = [];

  async call(
    cid: number,
    cmd: number,
    data: Uint8Array,
  ): Promise<{ cmd: number; data: Uint8Array; first: Uint8Array }> {
    let offset = 0;
    let seq = 0;
    do {
      const r = new Uint8Array(64);
      new DataView(r.buffer).setUint32(0, cid);
      if (offset === 0) {
        r[4] = cmd | 0x80;
        r[5] = data.length >> 8;
        r[6] = data.length & 0xff;
        r.set(data.subarray(0, 57), 7);
        offset = 57;
      } else {
        r[4] = seq++;
        r.set(data.subarray(offset, offset + 59), 5);
        offset += 59;
      }
      await this.#host.writePacket(r);
    } while (offset < data.length);
    for (;;) {
      const first = await this.#host.readPacket(AbortSignal.timeout(10_000));
      if (first[4] === 0xbb) {
        this.keepalives.push(first);
        continue;
      }
      const len = (first[5] << 8) | first[6];
      const out = [...first.subarray(7, 7 + Math.min(len, 57))];
      while (out.length < len) {
        const c = await this.#host.readPacket(AbortSignal.timeout(10_000));
        out.push(...c.subarray(5, 5 + Math.min(len - out.length, 59)));
      }
      return { cmd: first[4] & 0x7f, data: Uint8Array.from(out), first };
    }
  }

  /** CTAPHID_INIT on the broadcast channel: the answer's 17-byte payload. */
  async init(): Promise<Uint8Array> {
    const nonce = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const r = await this.call(0xffffffff, 0x06, nonce);
    assert.deepEqual(r.data.subarray(0, 8), nonce);
    return r.data;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#host.close();
    await this.#server.stop();
  }
}

/** The status word of an APDU answer. */
const sw = (data: Uint8Array) =>
  ((data[data.length - 2] << 8) | data[data.length - 1]).toString(16);

/** A touch the test gives when it wants to, as a person would (U2F polls: 6985 meanwhile). */
function button() {
  let press: () => void = () => {};
  const hook = () =>
    new Promise<"approve">((resolve) => {
      press = () => resolve("approve");
    });
  return { hook, press: () => press() };
}

/** libfido2's U2F requests (src/u2f.c): extended-length APDUs, CLA 0. */
function apdu(ins: number, p1: number, data: Uint8Array): Uint8Array {
  return concat(
    new Uint8Array([0, ins, p1, 0, 0, data.length >> 8, data.length & 0xff]),
    data,
    new Uint8Array([0, 0]),
  );
}

const CHALLENGE = sha256(utf8Encode("u2f challenge"));
const APP = sha256(utf8Encode("https://example.com"));

/** The parts of a U2F REGISTER answer (FIDO U2F Raw Message Formats §4.3). */
function registration(data: Uint8Array) {
  const khLen = data[66];
  const rest = data.subarray(67 + khLen, data.length - 2);
  // The certificate is one DER SEQUENCE with a two-byte length (0x30 0x82 len).
  assert.equal(rest[0], 0x30);
  const certLen = 4 + ((rest[2] << 8) | rest[3]);
  return {
    reserved: data[0],
    publicKeyFormat: data[1],
    keyHandle: data.subarray(67, 67 + khLen),
    certTag: rest[0],
    signatureTag: rest[certLen],
    signatureIsRest: rest.length - certLen === 2 + rest[certLen + 1],
  };
}

describe("conformance: U2F-only (libfido2 fuzz/wiredata_u2f.h, issue #342) replayed on u2f-only", () => {
  const realMsg = (reports: readonly string[]) => payload(messages(reports)[0]);

  it("REGISTER before a touch: 6985, then the registration: same layout as the Yubico key's", async () => {
    const b = button();
    await using hid = new RawHid(virtualKey("u2f-only", { userPresence: b.hook }));
    const init = await hid.init();
    const cid = new DataView(init.buffer, init.byteOffset).getUint32(8);
    const register = apdu(0x01, 0x00, concat(CHALLENGE, APP));
    const before = await hid.call(cid, 0x03, register);
    assert.equal(before.cmd, 0x03);
    assert.deepEqual(before.data, realMsg(W.U2F_6985));
    b.press();
    await new Promise((r) => setTimeout(r, 10));
    const after = await hid.call(cid, 0x03, register);
    const real = realMsg(W.U2F_REGISTER);
    assert.equal(sw(after.data), sw(real));
    const v = registration(after.data);
    const r = registration(real);
    assert.deepEqual(
      { ...v, keyHandle: undefined },
      { ...r, keyHandle: undefined },
      "reserved 0x05, uncompressed key, DER certificate, DER signature",
    );
  });

  it("AUTHENTICATE: check-only and wrong key handle as a real key; the signature layout", async () => {
    const b = button();
    await using hid = new RawHid(virtualKey("u2f-only", { userPresence: b.hook }));
    const init = await hid.init();
    const cid = new DataView(init.buffer, init.byteOffset).getUint32(8);
    const register = apdu(0x01, 0x00, concat(CHALLENGE, APP));
    await hid.call(cid, 0x03, register);
    b.press();
    await new Promise((r) => setTimeout(r, 10));
    const kh = registration((await hid.call(cid, 0x03, register)).data).keyHandle;
    const auth = (p1: number, handle: Uint8Array) =>
      apdu(0x02, p1, concat(CHALLENGE, APP, new Uint8Array([handle.length]), handle));
    // check-only (0x07) with the key's own handle: 6985 (U2F Raw Message Formats §5.1), the
    // status libfido2 recorded for "touch needed" (WIREDATA_CTAP_U2F_6985).
    assert.deepEqual((await hid.call(cid, 0x03, auth(0x07, kh))).data, realMsg(W.U2F_6985));
    // A key handle that is not the key's, for check-only and for signing: 6A80 (SW_WRONG_DATA,
    // FIDO U2F Raw Message Formats §5.1; libfido2's key lookup reads it as "not this key"). No
    // public capture of a real key's 6A80 was found, so this one is the spec's, not a recording.
    const wrong = kh.slice();
    wrong[wrong.length - 1] ^= 1;
    assert.equal(sw((await hid.call(cid, 0x03, auth(0x07, wrong))).data), "6a80");
    assert.equal(sw((await hid.call(cid, 0x03, auth(0x03, wrong))).data), "6a80");
    // enforce-user-presence (0x03) before the touch: 6985; after it, 01 ‖ counter ‖ DER sig.
    assert.deepEqual((await hid.call(cid, 0x03, auth(0x03, kh))).data, realMsg(W.U2F_6985));
    b.press();
    await new Promise((r) => setTimeout(r, 10));
    const got = (await hid.call(cid, 0x03, auth(0x03, kh))).data;
    const real = realMsg(W.U2F_AUTH);
    const layout = (d: Uint8Array) => ({
      userPresence: d[0],
      signatureTag: d[5],
      signatureLength: d.length - 2 - 5 === 2 + d[6],
      sw: sw(d),
    });
    assert.deepEqual(layout(got), layout(real));
  });

  it("CTAPHID_CBOR: CTAPHID_ERROR ERR_INVALID_CMD, byte for byte as the YubiKey 4", async () => {
    await using hid = new RawHid(virtualKey("u2f-only"));
    const init = await hid.init();
    const cid = new DataView(init.buffer, init.byteOffset).getUint32(8);
    const got = await hid.call(cid, 0x10, new Uint8Array([0x04]));
    const real = fromHex(YUBIKEY_4_CBOR_ERROR);
    assert.deepEqual(got.first.subarray(4, 8), real.subarray(4, 8)); // bf 00 01 01
  });

  it("INIT: the YubiKey 4 sets the CBOR bit without CTAP2; quirk cborCapabilityWithoutCtap2 does too", async () => {
    const real = initFields(fromHex(YUBIKEY_4_INIT));
    assert.equal(real.protocol, 2);
    assert.deepEqual(real.version, [4, 4, 5]);
    assert.equal(real.capabilities, CAPABILITY.WINK | CAPABILITY.CBOR);
    // Plain u2f-only follows U2FHID (no CBOR bit), like the YubiKey NEO / Security Key.
    {
      await using hid = new RawHid(virtualKey("u2f-only"));
      assert.equal((await hid.init())[16], CAPABILITY.WINK);
    }
    await using hid = new RawHid(
      virtualKey("u2f-only", { quirks: { cborCapabilityWithoutCtap2: true } }),
    );
    const init = await hid.init();
    assert.equal(init[12], real.protocol);
    assert.equal(init[16], real.capabilities);
    const cid = new DataView(init.buffer, init.byteOffset).getUint32(8);
    const got = await hid.call(cid, 0x10, new Uint8Array([0x04]));
    assert.deepEqual(got.first.subarray(4, 8), fromHex(YUBIKEY_4_CBOR_ERROR).subarray(4, 8));
    assert.throws(
      () => virtualKey("ctap2.0", { quirks: { cborCapabilityWithoutCtap2: true } }),
      /cborCapabilityWithoutCtap2 belongs to U2F-only keys/,
    );
  });
});

describe("conformance: a client on the YubiKey 4 lookalike", () => {
  /** `fido2 ARGS` in-process on a fresh YubiKey 4 lookalike: exit code, stdout, stderr. */
  async function cli(args: string[]) {
    const key = ["--virtual=", "--profile", "u2f-only", "--quirk", "u2f-cbor-bit"];
    const r = await runCli([...args, ...key]);
    return { code: r.code, out: r.stdout, err: r.stderr };
  }

  it("fido2 info reports a U2F-only key, as libfido2 does, instead of failing on getInfo", async () => {
    const r = await cli(["info", "--json"]);
    assert.equal(r.code, EXIT.OK, r.err);
    const json = JSON.parse(r.out) as { device: { capabilities: string[] }; info: unknown };
    assert.deepEqual(json.info, { versions: ["U2F_V2"] });
    assert.ok(json.device.capabilities.includes("CBOR"));
  });

  it("CTAP2-only commands say the key is U2F-only (exit code UNSUPPORTED)", async () => {
    const r = await cli(["creds", "list"]);
    assert.equal(r.code, EXIT.UNSUPPORTED, r.err);
    assert.match(r.err, /U2F-only/);
  });

  it("Fido2Client sees getInfo refused, falls back to U2F and registers and signs", async () => {
    const va = virtualKey("u2f-only", { quirks: { cborCapabilityWithoutCtap2: true } });
    const device = await va.device();
    try {
      assert.equal(device.capabilities & CAPABILITY.CBOR, CAPABILITY.CBOR);
      const client = await Fido2Client.create(
        device,
        new DefaultClientDataCollector("https://example.com"),
        new UserInteraction(),
      );
      assert.deepEqual(client.info.versions, ["U2F_V2"]);
      const reg = await client.makeCredential({
        rp: { id: "example.com", name: "Example" },
        user: { id: b64urlEncode(randomBytes(16)), name: "alice", displayName: "Alice" },
        challenge: b64urlEncode(randomBytes(32)),
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        attestation: "direct",
      });
      assert.equal(reg.response.attestationObject.fmt, "fido-u2f");
      const sel = await client.getAssertion({
        challenge: b64urlEncode(randomBytes(32)),
        rpId: "example.com",
        allowCredentials: [{ type: "public-key", id: b64urlEncode(reg.rawId) }],
      });
      assert.ok(bytesEqual(sel.getResponse(0).rawId, reg.rawId));
    } finally {
      await device.close();
    }
  });
});

describe("conformance: waiting for a touch, and the fingerprint sensor", () => {
  it("makeCredential waiting for a touch sends KEEPALIVE UP_NEEDED like the Yubico 5.2.1", async () => {
    // libfido2 fuzz/fuzz_cred.c replays INIT, INFO, AUTHKEY, PINTOKEN, 3 x KEEPALIVE, CRED.
    const b = button();
    await using hid = new RawHid(virtualKey("ctap2.1-pre", { userPresence: b.hook }));
    const init = await hid.init();
    const cid = new DataView(init.buffer, init.byteOffset).getUint32(8);
    const params = new Map<CborValue, CborValue>([
      [1, CDH],
      [2, new Map([["id", "localhost"]])],
      [3, new Map<CborValue, CborValue>([["id", utf8Encode("user")], ["name", "user"]])],
      [4, [new Map<CborValue, CborValue>([["alg", -7], ["type", "public-key"]])]],
    ]);
    const pending = hid.call(cid, 0x10, concat(new Uint8Array([0x01]), encode(params)));
    const deadline = Date.now() + 20_000;
    while (hid.keepalives.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    b.press();
    const got = await pending;
    assert.equal(got.data[0], 0);
    assert.ok(hid.keepalives.length > 0, "no keepalive while waiting for the touch");
    const real = fromHex(W.KEEPALIVE[0]);
    for (const k of hid.keepalives) assert.deepEqual(k.subarray(4, 8), real.subarray(4, 8)); // bb 00 01 02
  });

  it("bioEnrollment getFingerprintSensorInfo: the recorded {fingerprintKind, maxCaptureSamples} shape", async () => {
    // fido_bio_dev_get_info (libfido2 src/bio.c): modality 1, subCommand 0x07, sent to the
    // prototype command 0x40, answered by WIREDATA_CTAP_CBOR_BIO_INFO: a 2.1-PRE sensor.
    const request = new Map<CborValue, CborValue>([[1, 1], [2, 7]]);
    const real = answer(payload([BIO_SENSOR_INFO_REPORT]));
    const pre = new Host(virtualKey("ctap2.1-pre", { uv: true, pin: PIN }));
    assertSameAnswer(await pre.send(0x40, request), real, "getFingerprintSensorInfo (0x40)");
    // CTAP 2.1 added maxTemplateFriendlyName (0x08); a 2.1 key answers it on 0x09.
    const final = await new Host(virtualKey("ctap2.1", { uv: true, pin: PIN })).send(0x09, request);
    assert.deepEqual([...final.body!.keys()], [2, 3, 8]);
  });
});
