/**
 * The VirtualAuthenticator's generation profiles answer like deployed keys of that
 * generation: each command and subcommand a CTAP 2.0 or 2.1-PRE key does not have is refused
 * with the status such a key gives, getInfo has exactly the members of that generation, and
 * the firmware quirks do what they say.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CborMap, type CborValue, decode, encode } from "../src/cbor.ts";
import { CAPABILITY, CTAP_STATUS, CtapError } from "../src/ctap.ts";
import { Ctap2 } from "../src/ctap2/base.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import { FormatError } from "../src/errors.ts";
import { concat, sha256, utf8Encode } from "../src/utils.ts";
import {
  type AuthenticatorProfile,
  VirtualAuthenticator,
  type VirtualAuthenticatorOptions,
} from "../src/virtual/mod.ts";
import type { RequestContext } from "../src/virtual/types.ts";

const ERR = CTAP_STATUS;
const P = ClientPin.PERMISSION;
const CDH = sha256(utf8Encode("client data"));

function ctx(): RequestContext {
  return { signal: new AbortController().signal, keepalive: () => {} };
}

/** Sends command `cmd` with `params` straight to the authenticator core. */
async function send(
  va: VirtualAuthenticator,
  cmd: number,
  params?: Map<CborValue, CborValue>,
): Promise<{ status: number; body?: CborMap }> {
  const req = params ? concat(new Uint8Array([cmd]), encode(params)) : new Uint8Array([cmd]);
  const resp = await va.authenticator.processCbor(req, ctx());
  return {
    status: resp[0],
    body: resp.length > 1 ? decode(resp.subarray(1)) as CborMap : undefined,
  };
}

async function info(va: VirtualAuthenticator): Promise<CborMap> {
  const r = await send(va, 0x04);
  assert.equal(r.status, 0);
  return r.body!;
}

async function session(options: VirtualAuthenticatorOptions) {
  const va = new VirtualAuthenticator(options);
  const device = await va.device();
  const ctap = await Ctap2.create(device);
  return { va, device, ctap, [Symbol.asyncDispose]: () => device.close() };
}

const optionNames = (i: CborMap) => [...(i.get(4) as Map<string, boolean>).keys()].sort();

describe("profiles: getInfo", () => {
  const expected: Record<Exclude<AuthenticatorProfile, "u2f-only">, {
    versions: string[];
    extensions: string[];
    options: string[];
    keys: number[];
  }> = {
    "ctap2.0": {
      versions: ["U2F_V2", "FIDO_2_0"],
      extensions: ["hmac-secret"],
      options: ["clientPin", "plat", "rk", "up"],
      keys: [1, 2, 3, 4, 5, 6],
    },
    "ctap2.1-pre": {
      versions: ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"],
      extensions: ["credProtect", "hmac-secret"],
      options: ["clientPin", "credentialMgmtPreview", "plat", "rk", "up"],
      // algorithms (0x0A) as both recorded 2.1-PRE keys have it (tests/conformance.test.ts).
      keys: [1, 2, 3, 4, 5, 6, 7, 8, 10],
    },
    "ctap2.1": {
      versions: ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"],
      extensions: ["credProtect", "hmac-secret", "credBlob", "largeBlobKey", "minPinLength"],
      options: [
        "alwaysUv",
        "authnrCfg",
        "clientPin",
        "credMgmt",
        "credentialMgmtPreview",
        "ep",
        "largeBlobs",
        "makeCredUvNotRqd",
        "pinUvAuthToken",
        "plat",
        "rk",
        "setMinPINLength",
        "up",
      ],
      keys: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20],
    },
    "ctap2.2": {
      versions: ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1", "FIDO_2_2"],
      extensions: [
        "credProtect",
        "hmac-secret",
        "hmac-secret-mc",
        "credBlob",
        "largeBlobKey",
        "minPinLength",
        "thirdPartyPayment",
      ],
      options: [
        "alwaysUv",
        "authnrCfg",
        "clientPin",
        "credMgmt",
        "credentialMgmtPreview",
        "ep",
        "largeBlobs",
        "makeCredUvNotRqd",
        "perCredMgmtRO",
        "pinUvAuthToken",
        "plat",
        "rk",
        "setMinPINLength",
        "up",
      ],
      keys: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20],
    },
  };
  for (const [profile, want] of Object.entries(expected)) {
    it(`${profile}: versions, extensions, options and members of that generation`, async () => {
      const i = await info(new VirtualAuthenticator({ profile: profile as AuthenticatorProfile }));
      assert.deepEqual(i.get(1), want.versions);
      assert.deepEqual(i.get(2), want.extensions);
      assert.deepEqual(optionNames(i), want.options);
      assert.deepEqual([...i.keys()].sort((a, b) => Number(a) - Number(b)), want.keys);
      const protocols = profile === "ctap2.0" || profile === "ctap2.1-pre" ? [1] : [2, 1];
      assert.deepEqual(i.get(6), protocols);
    });
  }

  it("2.1-PRE with a fingerprint: userVerificationMgmtPreview only, no bioEnroll", async () => {
    const i = await info(new VirtualAuthenticator({ profile: "ctap2.1-pre", uv: true }));
    const o = i.get(4) as Map<string, boolean>;
    assert.equal(o.get("userVerificationMgmtPreview"), true);
    assert.equal(o.has("bioEnroll"), false);
    assert.equal(o.get("uv"), true);
    assert.equal(o.has("pinUvAuthToken"), false);
  });

  it("u2f-only: no CBOR capability, CTAPHID_CBOR is an unknown command", async () => {
    const va = new VirtualAuthenticator({ profile: "u2f-only" });
    assert.equal(va.authenticator.capabilities & CAPABILITY.CBOR, 0);
    assert.equal((await send(va, 0x04)).status, ERR.INVALID_COMMAND);
    assert.equal(va.pinState, undefined);
  });

  it("the ctap21 and u2fOnly booleans are aliases; contradictions and typos are refused", async () => {
    assert.deepEqual(
      (await info(new VirtualAuthenticator({ ctap21: false }))).get(1),
      ["U2F_V2", "FIDO_2_0"],
    );
    assert.equal(new VirtualAuthenticator({ ctap21: true }).authenticator.features.name, "ctap2.2");
    assert.equal(
      new VirtualAuthenticator({ u2fOnly: true }).authenticator.features.name,
      "u2f-only",
    );
    assert.throws(
      () => new VirtualAuthenticator({ profile: "ctap2.1", ctap21: false }),
      FormatError,
    );
    assert.throws(
      () => new VirtualAuthenticator({ profile: "ctap2.0", ctap21: true }),
      FormatError,
    );
    assert.throws(
      () => new VirtualAuthenticator({ profile: "ctap2.2", u2fOnly: true }),
      FormatError,
    );
    assert.throws(
      () => new VirtualAuthenticator({ profile: "ctap3" as AuthenticatorProfile }),
      /Unknown authenticator profile "ctap3"/,
    );
  });
});

/** Commands a profile does not have: a CTAP 2.0/2.1-PRE key answers CTAP1_ERR_INVALID_COMMAND. */
const REJECTED_COMMANDS: Record<string, [number, string][]> = {
  "ctap2.0": [
    [0x09, "authenticatorBioEnrollment"],
    [0x0a, "authenticatorCredentialManagement"],
    [0x0b, "authenticatorSelection"],
    [0x0c, "authenticatorLargeBlobs"],
    [0x0d, "authenticatorConfig"],
    [0x40, "bio enrollment prototype"],
    [0x41, "credential management prototype"],
  ],
  "ctap2.1-pre": [
    [0x09, "authenticatorBioEnrollment"],
    [0x0a, "authenticatorCredentialManagement"],
    [0x0b, "authenticatorSelection"],
    [0x0c, "authenticatorLargeBlobs"],
    [0x0d, "authenticatorConfig"],
  ],
};

/** clientPin subcommands of 2.1 that 2.0-era firmware answers with CTAP1_ERR_OTHER. */
const REJECTED_PIN_SUBCOMMANDS: [number, string][] = [
  [0x06, "getPinUvAuthTokenUsingUvWithPermissions"],
  [0x07, "getUVRetries"],
  [0x09, "getPinUvAuthTokenUsingPinWithPermissions"],
];

for (const profile of ["ctap2.0", "ctap2.1-pre"] as const) {
  describe(`profile ${profile} rejects what those keys reject`, () => {
    for (const [cmd, name] of REJECTED_COMMANDS[profile]) {
      it(`command 0x${cmd.toString(16)} (${name}) → CTAP1_ERR_INVALID_COMMAND`, async () => {
        // uv: true so the 2.1-PRE key has its 0x40 sensor: 0x09 must still be unknown.
        const va = new VirtualAuthenticator({ profile, uv: true, pin: "1234" });
        const r = await send(va, cmd, new Map([[1, 1]]));
        assert.equal(r.status, ERR.INVALID_COMMAND);
      });
    }
    for (const [sub, name] of REJECTED_PIN_SUBCOMMANDS) {
      it(`clientPin subcommand 0x0${sub} (${name}) → CTAP1_ERR_OTHER (0x7F)`, async () => {
        const va = new VirtualAuthenticator({ profile, uv: true, pin: "1234" });
        const r = await send(va, 0x06, new Map([[1, 1], [2, sub]]));
        assert.equal(r.status, ERR.OTHER);
      });
    }
    it("makeCredential without pinAuth once a PIN is set → PIN_REQUIRED (no makeCredUvNotRqd)", async () => {
      const va = new VirtualAuthenticator({ profile, pin: "1234" });
      const r = await send(
        va,
        0x01,
        new Map<CborValue, CborValue>([
          [1, CDH],
          [2, new Map([["id", "example.com"]])],
          [3, new Map<string, CborValue>([["id", new Uint8Array([1])]])],
          [4, [new Map<string, CborValue>([["type", "public-key"], ["alg", -7]])]],
        ]),
      );
      assert.equal(r.status, ERR.PUAT_REQUIRED);
    });
  });
}

describe("profile ctap2.1-pre: the prototype commands", () => {
  it("0x41 with a legacy token: metadata and enumeration, no updateUserInformation", async () => {
    await using s = await session({ profile: "ctap2.1-pre", pin: "1234" });
    const pin = new ClientPin(s.ctap);
    const token = await pin.getPinToken("1234", P.CREDENTIAL_MGMT);
    const cm = new CredentialManagement(s.ctap, pin.protocol, token);
    assert.equal(CredentialManagement.isPreview(s.ctap.info), true);
    const meta = await cm.getMetadata();
    assert.equal(meta.existingResidentCredentialsCount, 0);
    // Raw: subcommand 0x07 is not in the prototype; Solo 1 answers INVALID_COMMAND.
    const r = await send(s.va, 0x41, new Map<CborValue, CborValue>([[1, 7]]));
    assert.equal(r.status, ERR.INVALID_COMMAND);
  });

  it("0x40 bio enrollment prototype answers getModality", async () => {
    const va = new VirtualAuthenticator({ profile: "ctap2.1-pre", uv: true });
    const r = await send(va, 0x40, new Map<CborValue, CborValue>([[6, true]]));
    assert.equal(r.status, 0);
    assert.equal(r.body!.get(1), 1);
  });
});

describe("profile ctap2.0: the 2.0 pinToken", () => {
  it("works for every RP and survives use (no permissions, no consumption)", async () => {
    await using s = await session({ profile: "ctap2.0", pin: "1234" });
    const pin = new ClientPin(s.ctap);
    const token = await pin.getPinToken("1234", P.GET_ASSERTION, "a.example");
    const mc = async (rpId: string) =>
      await s.ctap.makeCredential({
        clientDataHash: CDH,
        rp: { id: rpId },
        user: { id: new Uint8Array([1]), name: "u" },
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        pinUvAuthParam: await pin.protocol.authenticate(token, CDH),
        pinUvAuthProtocol: pin.protocol.version,
      });
    const first = await mc("a.example");
    const second = await mc("b.example");
    assert.ok(first.authData.userVerified);
    assert.ok(second.authData.userVerified);
  });
});

describe("profiles 2.1 and 2.2", () => {
  it("2.1 has no pcmr permission; 2.2 grants it", async () => {
    const cases: [AuthenticatorProfile, number][] = [
      ["ctap2.1", ERR.UNAUTHORIZED_PERMISSION],
      ["ctap2.2", 0],
    ];
    for (const [profile, status] of cases) {
      await using s = await session({ profile, pin: "1234" });
      const pin = new ClientPin(s.ctap);
      let got = 0;
      try {
        await pin.getPinToken("1234", P.PERSISTENT_CREDENTIAL_MGMT);
      } catch (e) {
        assert.ok(e instanceof CtapError);
        got = e.code;
      }
      assert.equal(got, status, profile);
    }
  });

  it("unknown clientPin subcommand on 2.1 → CTAP2_ERR_INVALID_SUBCOMMAND", async () => {
    const va = new VirtualAuthenticator({ profile: "ctap2.1", pin: "1234" });
    assert.equal((await send(va, 0x06, new Map([[1, 2], [2, 8]]))).status, ERR.INVALID_SUBCOMMAND);
  });
});

describe("quirks", () => {
  /** After a getAssertion with the token: does it still carry lbw? (status of the check) */
  async function lbwAfterAssertion(quirks: VirtualAuthenticatorOptions["quirks"]) {
    await using s = await session({ profile: "ctap2.1", pin: "1234", quirks });
    const pin = new ClientPin(s.ctap);
    await s.ctap.makeCredential({
      clientDataHash: CDH,
      rp: { id: "a.example" },
      user: { id: new Uint8Array([1]), name: "u" },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      options: { rk: true },
      pinUvAuthParam: await pin.protocol.authenticate(
        await pin.getPinToken("1234", P.MAKE_CREDENTIAL, "a.example"),
        CDH,
      ),
      pinUvAuthProtocol: pin.protocol.version,
    });
    const token = await pin.getPinToken("1234", P.GET_ASSERTION | P.LARGE_BLOB_WRITE, "a.example");
    await s.ctap.getAssertion({
      rpId: "a.example",
      clientDataHash: CDH,
      pinUvAuthParam: await pin.protocol.authenticate(token, CDH),
      pinUvAuthProtocol: pin.protocol.version,
    });
    const message = new Uint8Array(32).fill(0xff);
    try {
      s.va.pinState!.verifyToken({
        protocol: pin.protocol.version,
        param: await pin.protocol.authenticate(token, message),
        message,
        permission: P.LARGE_BLOB_WRITE,
      });
      return 0;
    } catch (e) {
      assert.ok(e instanceof CtapError);
      return e.code;
    }
  }

  it("tokenSingleUse: the consumed token loses lbw too (CTAP 2.1 keeps it)", async () => {
    assert.equal(await lbwAfterAssertion(undefined), 0);
    assert.equal(await lbwAfterAssertion({ tokenSingleUse: true }), ERR.PIN_AUTH_INVALID);
  });

  it("rpNameIsUserName: enumerateRPs reports the user's name", async () => {
    await using s = await session({
      profile: "ctap2.1",
      pin: "1234",
      quirks: { rpNameIsUserName: true },
    });
    const pin = new ClientPin(s.ctap);
    await s.ctap.makeCredential({
      clientDataHash: CDH,
      rp: { id: "a.example", name: "Example RP" },
      user: { id: new Uint8Array([1]), name: "alice" },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      options: { rk: true },
      pinUvAuthParam: await pin.protocol.authenticate(
        await pin.getPinToken("1234", P.MAKE_CREDENTIAL, "a.example"),
        CDH,
      ),
      pinUvAuthProtocol: pin.protocol.version,
    });
    const cm = new CredentialManagement(
      s.ctap,
      pin.protocol,
      await pin.getPinToken("1234", P.CREDENTIAL_MGMT),
    );
    const rps = await cm.enumerateRps();
    assert.deepEqual(rps.map((r) => r.rp), [{ id: "a.example", name: "alice" }]);
  });

  it("noAlgorithms: a 2.1 getInfo without algorithms (0x0A)", async () => {
    const i = await info(
      new VirtualAuthenticator({ profile: "ctap2.1", quirks: { noAlgorithms: true } }),
    );
    assert.equal(i.has(0x0a), false);
    assert.ok((i.get(1) as string[]).includes("FIDO_2_1"));
  });
});

describe("quirk initSilenceMs", () => {
  it("INIT goes unanswered after power-up; the client's repeated INIT finds the key", async () => {
    const va = new VirtualAuthenticator({ quirks: { initSilenceMs: 600 } });
    assert.equal(va.authenticator.initSilenced(), true);
    const start = Date.now();
    const device = await va.device();
    try {
      assert.ok(Date.now() - start >= 500, "answered although the key was still silent");
      assert.equal(va.authenticator.initSilenced(), false);
      assert.ok(device.supportsCbor);
    } finally {
      await device.close();
    }
  });

  it("a client that gives up before the key wakes gets the INIT timeout", async () => {
    const va = new VirtualAuthenticator({ quirks: { initSilenceMs: 60_000 } });
    await assert.rejects(
      va.device({ client: { readTimeout: 300 } }),
      /No CTAPHID_INIT response within 300 ms/,
    );
    await va.close();
  });
});

describe("profile ctap2.2: persistentPinUvAuthToken and encIdentifier", () => {
  it("a pcmr token survives a power cycle and decrypts a stable encIdentifier", async () => {
    await using s = await session({ profile: "ctap2.2", pin: "1234" });
    assert.equal((await s.ctap.getInfo()).encIdentifier, undefined, "no token, no encIdentifier");
    const pin = new ClientPin(s.ctap);
    const token = await pin.getPinToken("1234", P.PERSISTENT_CREDENTIAL_MGMT);
    const first = await s.ctap.getInfo();
    const id = await first.getIdentifier(token);
    assert.equal(id?.length, 16);
    s.va.powerCycle();
    const second = await s.ctap.getInfo();
    assert.notDeepEqual(second.encIdentifier, first.encIdentifier, "a fresh IV each time");
    assert.deepEqual(await second.getIdentifier(token), id);
    // Read-only credential management still works with the persistent token.
    const meta = await new CredentialManagement(s.ctap, pin.protocol, token).getMetadata();
    assert.equal(meta.existingResidentCredentialsCount, 0);
  });

  it("an ordinary token dies with the power cycle and gives no encIdentifier", async () => {
    await using s = await session({ profile: "ctap2.2", pin: "1234" });
    const pin = new ClientPin(s.ctap);
    const token = await pin.getPinToken("1234", P.CREDENTIAL_MGMT);
    assert.equal((await s.ctap.getInfo()).encIdentifier, undefined);
    s.va.powerCycle();
    await assert.rejects(
      new CredentialManagement(s.ctap, pin.protocol, token).getMetadata(),
      (e) => e instanceof CtapError && e.code === ERR.PIN_AUTH_INVALID,
    );
  });
});

describe("the profile is part of the saved state", () => {
  it("a state reopens as the generation that made it; another generation is refused", () => {
    const state = new VirtualAuthenticator({ profile: "ctap2.0", pin: "1234" }).exportState();
    assert.equal(state.profile, "ctap2.0");
    assert.equal(new VirtualAuthenticator({ state }).authenticator.features.name, "ctap2.0");
    assert.equal(
      new VirtualAuthenticator({ state, ctap21: false }).authenticator.features.name,
      "ctap2.0",
    );
    assert.throws(
      () => new VirtualAuthenticator({ state, profile: "ctap2.2" }),
      (e) =>
        e instanceof FormatError &&
        /belongs to a ctap2.0 authenticator.*--profile ctap2.0/.test(e.message),
    );
    // A state from before profiles existed opens with the default.
    const { profile: _, ...old } = state;
    assert.equal(new VirtualAuthenticator({ state: old }).authenticator.features.name, "ctap2.2");
  });
});
