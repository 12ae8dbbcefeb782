/**
 * The client matrix of issue 12: every Fido2Client feature against every generation of key
 * the VirtualAuthenticator can be (u2f-only, CTAP 2.0, 2.1-PRE, 2.1, 2.2). Each cell states
 * the one outcome the spec implies for that generation: it works (and how: which PIN
 * subcommand, which command), or it fails with the exact typed error.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyRegistrationResponse } from "@simplewebauthn/server";
import { main } from "../src/cli/main.ts";
import { runCli } from "./helpers/run_cli.ts";
import { EXIT } from "../src/cli/errors.ts";
import { decode } from "../src/cbor.ts";
import type { CborMap } from "../src/cbor.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { createClient } from "../src/client/factory.ts";
import { PinUi } from "./helpers/pin_ui.ts";
import { CTAP_STATUS, type CtapDevice, CtapError } from "../src/ctap.ts";
import { Ctap1 } from "../src/ctap1.ts";
import { Ctap2 } from "../src/ctap2/base.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import { b64urlEncode, bytesEqual, randomBytes, sha256, utf8Encode } from "../src/utils.ts";
import {
  type AuthenticatorProfile,
  PROFILES,
  VirtualAuthenticator,
  type VirtualAuthenticatorOptions,
} from "../src/virtual/mod.ts";

const ORIGIN = "https://example.com";
const RP_ID = "example.com";
const PIN = "4321";
const CTAPHID_CBOR = 0x10;
const ERR = ClientError.ERR;

const open: CtapDevice[] = [];
after(async () => {
  for (const d of open) await d.close();
});

/** A client on a fresh key of `profile`, recording each CTAP2 command and PIN subcommand. */
async function setup(
  profile: AuthenticatorProfile,
  options: VirtualAuthenticatorOptions = {},
  pin?: string,
) {
  const va = new VirtualAuthenticator({ profile, ...options });
  const device = await va.device();
  open.push(device);
  const commands: number[] = [];
  const pinSubcommands: number[] = [];
  const recording: CtapDevice = {
    get capabilities() {
      return device.capabilities;
    },
    call: (cmd, data, o) => {
      if (cmd === CTAPHID_CBOR && data?.length) {
        commands.push(data[0]);
        if (data[0] === 0x06) {
          pinSubcommands.push((decode(data.subarray(1)) as CborMap).get(2) as number);
        }
      }
      return device.call(cmd, data, o);
    },
    close: () => device.close(),
  };
  const ui = new PinUi(pin);
  const client = new Fido2Client(recording, new DefaultClientDataCollector(ORIGIN), ui);
  return { va, device, recording, client, ui, commands, pinSubcommands };
}

function creation(extra: Record<string, unknown> = {}) {
  return {
    rp: { id: RP_ID, name: "Example" },
    user: { id: b64urlEncode(randomBytes(16)), name: "alice", displayName: "Alice" },
    challenge: b64urlEncode(randomBytes(32)),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    ...extra,
  };
}

function request(credentialIds: Uint8Array[], extra: Record<string, unknown> = {}) {
  return {
    challenge: b64urlEncode(randomBytes(32)),
    rpId: RP_ID,
    allowCredentials: credentialIds.map((id) => ({ type: "public-key", id: b64urlEncode(id) })),
    ...extra,
  };
}

type Json = Record<string, unknown>;
const extOut = (r: { toJSON(): unknown }) =>
  (r.toJSON() as { clientExtensionResults: Json }).clientExtensionResults;

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

const isCbor = (p: AuthenticatorProfile) => p !== "u2f-only";
/** Keys with permission-scoped tokens (getInfo pinUvAuthToken: true). */
const hasTokens = (p: AuthenticatorProfile) => p === "ctap2.1" || p === "ctap2.2";
/** The PIN subcommand a correct client uses to get a token from the PIN. */
const tokenSub = (p: AuthenticatorProfile) => hasTokens(p) ? 0x09 : 0x05;

for (const profile of PROFILES) {
  describe(`client matrix: ${profile}`, () => {
    it("register + authenticate a non-discoverable credential; an RP library verifies it", async () => {
      const { client } = await setup(profile);
      const opts = creation();
      const reg = await client.makeCredential(opts);
      const v = await verifyRegistrationResponse({
        response: reg.toJSON() as never,
        expectedChallenge: opts.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        requireUserVerification: false,
      });
      assert.equal(v.verified, true);
      const sel = await client.getAssertion(request([reg.rawId]));
      assert.ok(bytesEqual(sel.getResponse(0).rawId, reg.rawId));
    });

    it("discoverable credential, found with an empty allow list", async () => {
      const { client } = await setup(profile);
      const opts = creation({ authenticatorSelection: { residentKey: "required" } });
      if (!isCbor(profile)) {
        await rejectsWith(client.makeCredential(opts), ERR.CONFIGURATION_UNSUPPORTED);
        return;
      }
      const reg = await client.makeCredential(opts);
      const sel = await client.getAssertion(request([]));
      assert.equal(sel.getAssertions().length, 1);
      assert.ok(bytesEqual(sel.getResponse(0).rawId, reg.rawId));
    });

    for (const uv of ["required", "preferred", "discouraged"] as const) {
      it(`PIN set, userVerification ${uv}`, async () => {
        const { client, ui, pinSubcommands } = await setup(
          profile,
          isCbor(profile) ? { pin: PIN } : {},
          PIN,
        );
        const opts = creation({ authenticatorSelection: { userVerification: uv } });
        if (!isCbor(profile)) {
          if (uv === "required") {
            await rejectsWith(client.makeCredential(opts), ERR.CONFIGURATION_UNSUPPORTED);
          } else {
            await client.makeCredential(opts);
            assert.equal(ui.pinRequests, 0);
          }
          return;
        }
        const reg = await client.makeCredential(opts);
        const mcUv = reg.response.attestationObject.authData.userVerified;
        // CTAP 2.0/2.1-PRE keys with a PIN refuse makeCredential without one
        // (no makeCredUvNotRqd), so "discouraged" still needs the PIN there.
        const mcWantsPin = uv !== "discouraged" || !hasTokens(profile);
        assert.equal(mcUv, mcWantsPin);
        const sel = await client.getAssertion(
          request([reg.rawId], { userVerification: uv }),
        );
        const gaUv = sel.getResponse(0).response.authenticatorData.userVerified;
        assert.equal(gaUv, uv !== "discouraged");
        const expectedPrompts = (mcWantsPin ? 1 : 0) + (uv !== "discouraged" ? 1 : 0);
        assert.equal(ui.pinRequests, expectedPrompts);
        // The issue-12 regression: 2.0/2.1-PRE keys only know getPinToken (0x05).
        const tokens = pinSubcommands.filter((s) => s === 0x05 || s === 0x09);
        assert.deepEqual(tokens, Array(expectedPrompts).fill(tokenSub(profile)));
      });
    }

    it("built-in UV, no PIN: a UV token only where pinUvAuthToken says so", async () => {
      const { client, pinSubcommands } = await setup(profile, { uv: true });
      const opts = creation({ authenticatorSelection: { userVerification: "required" } });
      if (!isCbor(profile)) {
        await rejectsWith(client.makeCredential(opts), ERR.CONFIGURATION_UNSUPPORTED);
        return;
      }
      const reg = await client.makeCredential(opts);
      assert.equal(reg.response.attestationObject.authData.userVerified, true);
      // 2.1+: getPinUvAuthTokenUsingUvWithPermissions (0x06); older keys: the uv option.
      assert.deepEqual(
        pinSubcommands.filter((s) => s === 0x06),
        hasTokens(profile) ? [0x06] : [],
      );
    });

    it("wrong PIN: BAD_REQUEST caused by PIN_INVALID, one retry gone", async () => {
      if (!isCbor(profile)) {
        // No PIN on a U2F key: UV cannot be had at all.
        const { client } = await setup(profile, {}, "0000");
        await rejectsWith(
          client.makeCredential(
            creation({ authenticatorSelection: { userVerification: "required" } }),
          ),
          ERR.CONFIGURATION_UNSUPPORTED,
        );
        return;
      }
      const { client, va } = await setup(profile, { pin: PIN }, "0000");
      await rejectsWith(
        client.makeCredential(creation()),
        ERR.BAD_REQUEST,
        CTAP_STATUS.PIN_INVALID,
      );
      assert.equal(va.pinState!.pinRetries, 7);
    });

    it("credential management: enumerate, update, delete", async () => {
      const { client, device } = await setup(profile, isCbor(profile) ? { pin: PIN } : {}, PIN);
      if (!isCbor(profile)) {
        assert.equal(device.supportsCbor, false);
        return;
      }
      await client.makeCredential(
        creation({ authenticatorSelection: { residentKey: "required" } }),
      );
      const ctap = await Ctap2.create(device);
      if (profile === "ctap2.0") {
        assert.equal(CredentialManagement.isSupported(ctap.info), false);
        await assert.rejects(
          ctap.credentialManagement(1),
          (e) => e instanceof CtapError && e.code === CTAP_STATUS.INVALID_COMMAND,
        );
        return;
      }
      const pin = new ClientPin(ctap);
      const token = await pin.getPinToken(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT);
      const cm = new CredentialManagement(ctap, pin.protocol, token);
      const rps = await cm.enumerateRps();
      assert.deepEqual(rps.map((r) => r.rp.id), [RP_ID]);
      const creds = await cm.enumerateCreds(rps[0].rpIdHash);
      assert.equal(creds.length, 1);
      assert.equal(creds[0].user.name, "alice");
      const renamed = { id: creds[0].user.id, name: "alice2", displayName: "Alice 2" };
      if (profile === "ctap2.1-pre") {
        // The prototype has no updateUserInformation: refused before anything is sent.
        await assert.rejects(
          cm.updateUserInfo(creds[0].credentialId, renamed),
          (e) => e instanceof CtapError && e.code === CTAP_STATUS.INVALID_SUBCOMMAND,
        );
      } else {
        await cm.updateUserInfo(creds[0].credentialId, renamed);
        assert.equal((await cm.enumerateCreds(rps[0].rpIdHash))[0].user.name, "alice2");
      }
      await cm.deleteCred(creds[0].credentialId);
      assert.equal((await cm.getMetadata()).existingResidentCredentialsCount, 0);
    });

    it("prf (hmac-secret): enabled at registration, stable output per salt", async () => {
      const { client } = await setup(profile);
      const reg = await client.makeCredential(creation({ extensions: { prf: {} } }));
      if (!isCbor(profile)) {
        assert.deepEqual(extOut(reg).prf, { enabled: false });
        return;
      }
      assert.deepEqual(extOut(reg).prf, { enabled: true });
      const first = b64urlEncode(utf8Encode("salt"));
      const out = async () =>
        (extOut(
          (await client.getAssertion(
            request([reg.rawId], { extensions: { prf: { eval: { first } } } }),
          ))
            .getResponse(0),
        ).prf as { results: { first: string } }).results.first;
      const a = await out();
      assert.equal(a, await out());
    });

    it("credBlob: stored and read back where the key has it, absent elsewhere", async () => {
      const { client } = await setup(profile);
      const blob = b64urlEncode(utf8Encode("blob"));
      const reg = await client.makeCredential(
        creation({
          authenticatorSelection: { residentKey: isCbor(profile) ? "required" : "discouraged" },
          extensions: { credBlob: blob },
        }),
      );
      const sel = await client.getAssertion(
        request([reg.rawId], { extensions: { getCredBlob: true } }),
      );
      if (hasTokens(profile)) {
        assert.equal(extOut(reg).credBlob, true);
        assert.equal(extOut(sel.getResponse(0)).getCredBlob, blob);
      } else {
        assert.equal(extOut(reg).credBlob, undefined);
        assert.equal(extOut(sel.getResponse(0)).getCredBlob, undefined);
      }
    });

    it("largeBlob: write then read on 2.1+, CONFIGURATION_UNSUPPORTED when required elsewhere", async () => {
      const { client } = await setup(profile, isCbor(profile) ? { pin: PIN } : {}, PIN);
      const opts = creation({
        authenticatorSelection: { residentKey: isCbor(profile) ? "required" : "discouraged" },
        extensions: { largeBlob: { support: "required" } },
      });
      if (!hasTokens(profile)) {
        await rejectsWith(client.makeCredential(opts), ERR.CONFIGURATION_UNSUPPORTED);
        return;
      }
      const reg = await client.makeCredential(opts);
      assert.deepEqual(extOut(reg).largeBlob, { supported: true });
      const data = b64urlEncode(utf8Encode("large blob data"));
      const w = await client.getAssertion(
        request([reg.rawId], { extensions: { largeBlob: { write: data } } }),
      );
      assert.deepEqual(extOut(w.getResponse(0)).largeBlob, { written: true });
      const r = await client.getAssertion(
        request([reg.rawId], { extensions: { largeBlob: { read: true } } }),
      );
      assert.deepEqual(extOut(r.getResponse(0)).largeBlob, { blob: data });
    });

    it("credProtect userVerificationRequired, enforced", async () => {
      const { client } = await setup(profile, isCbor(profile) ? { pin: PIN } : {}, PIN);
      const opts = creation({
        extensions: {
          credentialProtectionPolicy: "userVerificationRequired",
          enforceCredentialProtectionPolicy: true,
        },
      });
      // credProtect arrived with 2.1-PRE: a 2.0 or U2F key cannot honour an enforced policy.
      if (profile === "ctap2.0" || !isCbor(profile)) {
        await rejectsWith(client.makeCredential(opts), ERR.CONFIGURATION_UNSUPPORTED);
        return;
      }
      const reg = await client.makeCredential(opts);
      assert.equal(extOut(reg).credentialProtectionPolicy, "userVerificationRequired");
      // Without UV the key does not reveal the credential.
      await rejectsWith(
        client.getAssertion(request([reg.rawId], { userVerification: "discouraged" })),
        ERR.DEVICE_INELIGIBLE,
      );
    });

    it("U2F fallback: a credential made over CTAP1 signs in through the client (appid)", async () => {
      const { client, device } = await setup(profile);
      const appid = "https://example.com/appid.json";
      const reg = await new Ctap1(device).register(randomBytes(32), sha256(utf8Encode(appid)));
      const sel = await client.getAssertion(request([reg.keyHandle], { extensions: { appid } }));
      assert.ok(bytesEqual(sel.getResponse(0).rawId, reg.keyHandle));
      assert.equal(extOut(sel.getResponse(0)).appid, true);
    });

    it("selection(): waits for a touch the way this generation can", async () => {
      const { client, commands } = await setup(profile, isCbor(profile) ? { pin: PIN } : {});
      await client.selection();
      // authenticatorSelection (0x0B) exists from 2.1 on; older keys get a dummy makeCredential.
      const want = hasTokens(profile) ? [0x04, 0x0b] : isCbor(profile) ? [0x04, 0x01] : [];
      assert.deepEqual(commands, want);
    });

    it("createClient picks the key and reads its getInfo", async () => {
      const va = new VirtualAuthenticator({ profile });
      const client = await createClient(new DefaultClientDataCollector(ORIGIN), {
        preferWindows: false,
        listDevices: async function* () {
          yield await va.device();
        },
      });
      try {
        assert.ok(client instanceof Fido2Client);
        const versions = (await client.ready()).versions;
        const want = isCbor(profile)
          ? ["U2F_V2", ...va.authenticator.features.versions]
          : ["U2F_V2"];
        assert.deepEqual(versions, want);
        await client.makeCredential(creation());
      } finally {
        await client.close();
      }
    });
  });
}

describe("largeBlob write after the token was consumed (issue 12 item 5)", () => {
  async function writeAndRead(quirks: VirtualAuthenticatorOptions["quirks"]) {
    const { client, ui, pinSubcommands } = await setup("ctap2.1", { pin: PIN, quirks }, PIN);
    const reg = await client.makeCredential(
      creation({
        authenticatorSelection: { residentKey: "required" },
        extensions: { largeBlob: { support: "required" } },
      }),
    );
    const before = { prompts: ui.pinRequests, subs: pinSubcommands.length };
    const data = b64urlEncode(utf8Encode("written after a consumed token"));
    const w = await client.getAssertion(
      request([reg.rawId], { extensions: { largeBlob: { write: data } } }),
    );
    assert.deepEqual(extOut(w.getResponse(0)).largeBlob, { written: true });
    const prompts = ui.pinRequests - before.prompts;
    const tokens = pinSubcommands.slice(before.subs).filter((s) => s === 0x09).length;
    const r = await client.getAssertion(
      request([reg.rawId], { extensions: { largeBlob: { read: true } } }),
    );
    assert.deepEqual(extOut(r.getResponse(0)).largeBlob, { blob: data });
    return { prompts, tokens };
  }

  it("a key whose token loses lbw after one use: a fresh lbw token, the user asked once", async () => {
    assert.deepEqual(await writeAndRead({ tokenSingleUse: true }), { prompts: 1, tokens: 2 });
  });

  it("a CTAP 2.1 key that keeps lbw: one token, no renewal", async () => {
    assert.deepEqual(await writeAndRead(undefined), { prompts: 1, tokens: 1 });
  });
});

describe("CLI over every profile (--virtual FILE --profile NAME)", () => {
  /** Runs `fido2 ARGS --virtual FILE --profile P` in-process; returns exit code and stdout. */
  async function cli(file: string, profile: AuthenticatorProfile, args: string[]) {
    const r = await runCli([...args, "--virtual", file, "--profile", profile]);
    return { code: r.code, out: r.stdout, err: r.stderr };
  }
  const json = (r: { out: string }) => JSON.parse(r.out) as Json;

  for (const profile of PROFILES) {
    it(`${profile}: info, pin set, register, authenticate, creds list, blobs list`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "fido2-matrix-"));
      const file = join(dir, "key.json");
      try {
        const info = await cli(file, profile, ["info", "--json"]);
        assert.equal(info.code, EXIT.OK, info.err);
        const versions = (json(info).info as Json).versions;
        const want = isCbor(profile)
          ? ["U2F_V2", ...new VirtualAuthenticator({ profile }).authenticator.features.versions]
          : ["U2F_V2"];
        assert.deepEqual(versions, want);

        const pinSet = await cli(file, profile, ["pin", "set", "--new-pin", PIN]);
        assert.equal(pinSet.code, isCbor(profile) ? EXIT.OK : EXIT.UNSUPPORTED, pinSet.err);

        const rk = isCbor(profile) ? ["--rk"] : [];
        const reg = await cli(file, profile, [
          "register",
          "--rp",
          RP_ID,
          ...rk,
          "--pin",
          PIN,
          "--json",
        ]);
        assert.equal(reg.code, EXIT.OK, reg.err);
        const id = json(reg).id as string;
        const auth = await cli(file, profile, [
          "authenticate",
          // --cred=: a base64url ID may start with "-", which a positional would not survive.
          `--cred=${id}`,
          "--rp",
          RP_ID,
          "--pin",
          PIN,
          "--json",
        ]);
        assert.equal(auth.code, EXIT.OK, auth.err);
        assert.equal(json(auth).id, id);

        const creds = await cli(file, profile, ["creds", "list", "--pin", PIN, "--json"]);
        const credsOk = profile !== "ctap2.0" && isCbor(profile);
        assert.equal(creds.code, credsOk ? EXIT.OK : EXIT.UNSUPPORTED, creds.err);
        if (credsOk) assert.equal((json(creds).credentials as unknown[]).length, 1);

        const blobs = await cli(file, profile, ["blobs", "list", "--pin", PIN, "--json"]);
        assert.equal(blobs.code, hasTokens(profile) ? EXIT.OK : EXIT.UNSUPPORTED, blobs.err);

        // The state file remembers its generation: no --profile needed, another one refused.
        let out = "";
        let err = "";
        const io = {
          stdout: { write: (t: string | Uint8Array) => (out += t) },
          stderr: { write: (t: string | Uint8Array) => (err += t) },
          env: {},
        };
        assert.equal(await main(["info", "--json", "--virtual", file], io), EXIT.OK, err);
        assert.deepEqual(((JSON.parse(out) as Json).info as Json).versions, want);
        const other = profile === "ctap2.2" ? "ctap2.0" : "ctap2.2";
        const wrong = await cli(file, other, ["info", "--json"]);
        assert.equal(wrong.code, EXIT.ERROR);
        assert.match(wrong.err, new RegExp(`--profile ${profile.replace(".", "\\.")}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("--profile and --quirk are checked: unknown names and use without --virtual", async () => {
    let err = "";
    const io = {
      stdout: { write: () => 0 },
      stderr: { write: (t: string | Uint8Array) => (err += t) },
      env: {},
    };
    assert.equal(await main(["info", "--virtual=", "--profile", "ctap9"], io), EXIT.USAGE);
    assert.match(err, /--profile must be one of u2f-only, ctap2.0, ctap2.1-pre, ctap2.1, ctap2.2/);
    assert.equal(await main(["info", "--virtual=", "--quirk", "nope"], io), EXIT.USAGE);
    assert.match(err, /--quirk must be one of token-single-use/);
    assert.equal(
      await main(["info", "--profile", "ctap2.0", "--udp", "127.0.0.1:1"], io),
      EXIT.USAGE,
    );
    assert.match(err, /--profile and --quirk only apply to --virtual/);
  });
});

describe("the key of issue 12 (Solo 1 / Nitrokey FIDO2 getInfo)", () => {
  const ISSUE_KEY: VirtualAuthenticatorOptions = {
    profile: "ctap2.1-pre",
    pin: PIN,
    quirks: { credMgmtOnPre: true },
  };

  it("reports exactly the issue's getInfo: FIDO_2_1_PRE, protocol 1, credMgmt, no pinUvAuthToken", async () => {
    const { client } = await setup("ctap2.1-pre", ISSUE_KEY, PIN);
    const info = await client.ready();
    assert.deepEqual(info.versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"]);
    assert.deepEqual(info.pinUvProtocols, [1]);
    assert.deepEqual(Object.keys(info.options).sort(), [
      "clientPin",
      "credMgmt",
      "plat",
      "rk",
      "up",
    ]);
  });

  it("PIN-verified register/authenticate (default UV preferred) use getPinToken 0x05", async () => {
    const { client, pinSubcommands } = await setup("ctap2.1-pre", ISSUE_KEY, PIN);
    const reg = await client.makeCredential(creation());
    const sel = await client.getAssertion(request([reg.rawId]));
    assert.equal(sel.getResponse(0).response.authenticatorData.userVerified, true);
    assert.deepEqual(pinSubcommands.filter((s) => s >= 0x05), [0x05, 0x05]);
  });

  it("credential management over 0x0A with the legacy token; update is refused by the key", async () => {
    const { client, recording, commands } = await setup("ctap2.1-pre", ISSUE_KEY, PIN);
    await client.makeCredential(creation({ authenticatorSelection: { residentKey: "required" } }));
    const ctap = await Ctap2.create(recording);
    const pin = new ClientPin(ctap);
    const cm = new CredentialManagement(
      ctap,
      pin.protocol,
      await pin.getPinToken(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT),
    );
    const before = commands.length;
    const rps = await cm.enumerateRps();
    const creds = await cm.enumerateCreds(rps[0].rpIdHash);
    assert.equal(creds.length, 1);
    await assert.rejects(
      cm.updateUserInfo(creds[0].credentialId, { id: creds[0].user.id, name: "x" }),
      (e) => e instanceof CtapError && e.code === CTAP_STATUS.INVALID_COMMAND,
    );
    // credMgmt: true selects the final command byte, as python-fido2 and libfido2 do.
    const used = commands.slice(before);
    assert.ok(used.includes(0x0a));
    assert.ok(!used.includes(0x41));
  });
});
