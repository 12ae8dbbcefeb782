// The VirtualAuthenticator's management commands (credential management, large blobs,
// authenticatorConfig, bio enrollment) driven through the real client classes over CTAPHID.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateAuthenticationOptions, generateRegistrationOptions } from "@simplewebauthn/server";
import { encode } from "../src/cbor.ts";
import { CTAP_STATUS, type CtapDevice, CtapError } from "../src/ctap.ts";
import { Ctap2 } from "../src/ctap2/base.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import { LargeBlobs } from "../src/ctap2/blob.ts";
import { Config } from "../src/ctap2/config.ts";
import { CaptureError, CaptureStatus, FPBioEnrollment } from "../src/ctap2/bio.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { PinUi } from "./helpers/pin_ui.ts";
import {
  EMPTY_LARGE_BLOB_ARRAY,
  SAMPLE_STATUS,
  VirtualAuthenticator,
  type VirtualAuthenticatorOptions,
} from "../src/virtual/mod.ts";
import { b64urlDecode, concat, randomBytes, sha256, toHex, utf8Encode } from "../src/utils.ts";

const S = CTAP_STATUS;
const P = ClientPin.PERMISSION;
const PIN = "1234";
const devices: CtapDevice[] = [];
after(async () => {
  for (const d of devices) await d.close();
});

async function setup(opts: VirtualAuthenticatorOptions = {}) {
  const va = new VirtualAuthenticator(opts);
  const device = await va.device();
  devices.push(device);
  const ctap = await Ctap2.create(device);
  const clientPin = opts.clientPin === false ? undefined! : new ClientPin(ctap);
  const token = (permissions: number, rpId?: string) =>
    clientPin.getPinToken(PIN, permissions, rpId);
  const client = (origin = "https://example.com", pin: string | undefined = PIN) =>
    new Fido2Client(device, new DefaultClientDataCollector(origin), new PinUi(pin));
  return { va, device, ctap, clientPin, token, client, protocol: clientPin?.protocol };
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CtapError) return e.code;
    throw e;
  }
  assert.fail("expected a CtapError");
}

async function register(
  client: Fido2Client,
  rpId: string,
  userName: string,
  extra: Record<string, unknown> = {},
) {
  const options = await generateRegistrationOptions({
    rpName: `${rpId} RP`,
    rpID: rpId,
    userName,
    userDisplayName: `${userName} display`,
    attestationType: "none",
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    ...extra,
  });
  return await client.makeCredential(options as unknown as Record<string, unknown>);
}

const rpHash = (rpId: string) => sha256(utf8Encode(rpId));

describe("authenticatorCredentialManagement", () => {
  it("metadata, enumeration, update and delete after Fido2Client registrations", async () => {
    const { token, client, ctap, protocol } = await setup({ pin: PIN });
    const alice = await register(client(), "example.com", "alice", {
      extensions: {
        largeBlob: { support: "required" },
        credentialProtectionPolicy: "userVerificationRequired",
      },
    });
    const bob = await register(client(), "example.com", "bob");
    await register(client("https://other.example"), "other.example", "carol");

    const cm = new CredentialManagement(ctap, protocol, await token(P.CREDENTIAL_MGMT));
    assert.deepEqual(await cm.getMetadata(), {
      existingResidentCredentialsCount: 3,
      maxPossibleRemainingResidentCredentialsCount: 22,
    });
    const rps = await cm.enumerateRps();
    assert.deepEqual(rps.map((r) => r.rp).sort((a, b) => a.id.localeCompare(b.id)), [
      { id: "example.com", name: "example.com RP" },
      { id: "other.example", name: "other.example RP" },
    ]);
    for (const r of rps) assert.deepEqual(r.rpIdHash, rpHash(r.rp.id));
    assert.equal(rps[0].raw.get(5), 2);

    const creds = await cm.enumerateCreds(rpHash("example.com"));
    assert.equal(creds.length, 2);
    assert.equal(creds[0].raw.get(9), 2);
    const a = creds.find((c) => c.user.name === "alice")!;
    const b = creds.find((c) => c.user.name === "bob")!;
    assert.deepEqual(a.credentialId.id, b64urlDecode(alice.id));
    assert.deepEqual(b.credentialId.id, b64urlDecode(bob.id));
    assert.equal(a.user.displayName, "alice display");
    assert.equal(a.credProtect, 3);
    assert.equal(b.credProtect, 1);
    assert.equal(a.largeBlobKey?.length, 32);
    assert.equal(b.largeBlobKey, undefined);
    assert.ok([-7, -8, -35].includes(a.publicKey.get(3) as number));

    // updateUserInformation: new name, absent displayName removed.
    await cm.updateUserInfo(b.credentialId, { id: b.user.id, name: "robert" });
    const updated = (await cm.enumerateCreds(rpHash("example.com"))).find((c) =>
      toHex(c.credentialId.id) === toHex(b.credentialId.id)
    )!;
    assert.equal(updated.user.name, "robert");
    assert.equal(updated.user.displayName, undefined);
    assert.equal(
      await status(cm.updateUserInfo(b.credentialId, { id: randomBytes(8), name: "x" })),
      S.INVALID_PARAMETER,
    );

    await cm.deleteCred(a.credentialId);
    assert.equal((await cm.getMetadata()).existingResidentCredentialsCount, 2);
    assert.equal((await cm.enumerateCreds(rpHash("example.com"))).length, 1);
    assert.equal(await status(cm.deleteCred(a.credentialId)), S.NO_CREDENTIALS);
    assert.deepEqual(await cm.enumerateCreds(rpHash("nobody.example")), []);
    // The deleted credential no longer signs in.
    const options = await generateAuthenticationOptions({
      rpID: "example.com",
      allowCredentials: [{ id: alice.id }],
    });
    await assert.rejects(client().getAssertion(options as unknown as Record<string, unknown>));
  });

  it("the 0x41 prototype command answers like 0x0A", async () => {
    const { token, ctap, protocol } = await setup({ pin: PIN });
    assert.equal(ctap.info.options.credMgmt, true);
    assert.equal(ctap.info.options.credentialMgmtPreview, true);
    const t = await token(P.CREDENTIAL_MGMT);
    const param = await protocol.authenticate(t, new Uint8Array([1]));
    const r = await ctap.sendCbor(0x41, new Map<number, unknown>([[1, 1], [3, 2], [4, param]]));
    assert.equal(r!.get(1), 0);
    assert.equal(r!.get(2), 25);
  });

  it("pinUvAuthParam: missing, invalid, wrong permission, RP-scoped tokens, read-only", async () => {
    const { token, client, ctap, protocol } = await setup({ pin: PIN });
    await register(client(), "example.com", "alice");
    await register(client("https://other.example"), "other.example", "carol");
    const raw = (sub: number, param?: Uint8Array, subParams?: Map<number, unknown>) =>
      ctap.sendCbor(0x0a, new Map<number, unknown>([[1, sub], [2, subParams], [3, 2], [4, param]]));

    assert.equal(await status(raw(1)), S.PUAT_REQUIRED);
    assert.equal(
      await status(
        ctap.sendCbor(0x0a, new Map<number, unknown>([[1, 1], [4, new Uint8Array(32)]])),
      ),
      S.MISSING_PARAMETER,
    );
    assert.equal(await status(raw(1, new Uint8Array(32))), S.PIN_AUTH_INVALID);
    assert.equal(await status(raw(0x20, new Uint8Array(32))), S.INVALID_SUBCOMMAND);

    const lbw = new CredentialManagement(ctap, protocol, await token(P.LARGE_BLOB_WRITE));
    assert.equal(await status(lbw.getMetadata()), S.PIN_AUTH_INVALID);

    // A token scoped to other.example manages only other.example.
    const scoped = new CredentialManagement(
      ctap,
      protocol,
      await token(P.CREDENTIAL_MGMT, "other.example"),
    );
    assert.equal(await status(scoped.getMetadata()), S.PIN_AUTH_INVALID);
    assert.equal(await status(scoped.enumerateRps()), S.PIN_AUTH_INVALID);
    assert.equal(
      await status(scoped.enumerateCreds(rpHash("example.com"))),
      S.PIN_AUTH_INVALID,
    );
    const theirs = await scoped.enumerateCreds(rpHash("other.example"));
    assert.equal(theirs.length, 1);
    const mine = (await new CredentialManagement(ctap, protocol, await token(P.CREDENTIAL_MGMT))
      .enumerateCreds(rpHash("example.com")))[0];
    const scoped2 = new CredentialManagement(
      ctap,
      protocol,
      await token(P.CREDENTIAL_MGMT, "other.example"),
    );
    assert.equal(await status(scoped2.deleteCred(mine.credentialId)), S.PIN_AUTH_INVALID);
    await scoped2.deleteCred(theirs[0].credentialId);

    // pcmr: enumeration yes, changes no.
    assert.equal(ctap.info.options.perCredMgmtRO, true);
    const ro = new CredentialManagement(ctap, protocol, await token(P.PERSISTENT_CREDENTIAL_MGMT));
    assert.equal((await ro.enumerateCreds(rpHash("example.com"))).length, 1);
    assert.equal(await status(ro.deleteCred(mine.credentialId)), S.PIN_AUTH_INVALID);
  });

  it("getNext calls need a fresh Begin with no other command in between", async () => {
    const { token, client, ctap, protocol } = await setup({ pin: PIN });
    await register(client(), "example.com", "alice");
    await register(client(), "example.com", "bob");
    await register(client("https://other.example"), "other.example", "carol");
    const next = (sub: number) => ctap.sendCbor(0x0a, new Map([[1, sub]]));
    assert.equal(await status(next(3)), S.NOT_ALLOWED);
    const t = await token(P.CREDENTIAL_MGMT);
    const begin = (sub: number, subParams?: Map<number, unknown>) => {
      const msg = subParams
        ? concat(new Uint8Array([sub]), encode(subParams))
        : new Uint8Array([sub]);
      return ctap.sendCbor(
        0x0a,
        new Map<number, unknown>([[1, sub], [2, subParams], [3, 2], [
          4,
          protocol.authenticate(t, msg),
        ]]),
      );
    };
    const first = await begin(2);
    assert.equal(first!.get(5), 2);
    await ctap.getInfo();
    assert.equal(await status(next(3)), S.NOT_ALLOWED);
    await begin(2);
    assert.ok((await next(3))!.get(3) instanceof Map);
    assert.equal(await status(next(3)), S.NOT_ALLOWED);
    const creds = await begin(4, new Map([[1, rpHash("example.com")]]));
    assert.equal(creds!.get(9), 2);
    assert.equal(await status(next(3)), S.NOT_ALLOWED);
  });
});

describe("authenticatorLargeBlobs", () => {
  it("starts as the empty array and round-trips through LargeBlobs", async () => {
    const { token, ctap, protocol, va } = await setup({ pin: PIN, maxMsgSize: 600 });
    assert.equal(ctap.info.options.largeBlobs, true);
    assert.equal(ctap.info.maxLargeBlob, 4096);
    assert.ok(ctap.info.extensions.includes("largeBlobKey"));
    const reader = new LargeBlobs(ctap);
    assert.deepEqual(await reader.readSerialized(), EMPTY_LARGE_BLOB_ARRAY);
    assert.equal(
      toHex(EMPTY_LARGE_BLOB_ARRAY),
      "80" + toHex(sha256(new Uint8Array([0x80]))).slice(0, 32),
    );
    assert.deepEqual(await reader.readBlobArray(), []);

    // Writes need an lbw token once a PIN is set.
    assert.equal(await status(reader.writeBlobArray([1])), S.PUAT_REQUIRED);
    const cmOnly = new LargeBlobs(ctap, protocol, await token(P.CREDENTIAL_MGMT));
    assert.equal(await status(cmOnly.writeBlobArray([1])), S.PIN_AUTH_INVALID);

    // 1500 bytes in fragments of maxMsgSize − 64 = 536.
    const writer = new LargeBlobs(ctap, protocol, await token(P.LARGE_BLOB_WRITE));
    const big = randomBytes(1500);
    await writer.writeBlobArray([big, "x"]);
    assert.deepEqual(await reader.readBlobArray(), [big, "x"]);
    assert.deepEqual(va.largeBlobs!.serializedArray, await reader.readSerialized());

    // Persisted with the rest of the state.
    const again = await setup({ state: va.exportState(), maxMsgSize: 600 });
    assert.deepEqual(await new LargeBlobs(again.ctap).readBlobArray(), [big, "x"]);
  });

  it("rejects bad writes: checksum, sequence, length, size", async () => {
    const { ctap } = await setup({ clientPin: false, maxSerializedLargeBlobArray: 1024 });
    const call = (m: [number, unknown][]) => ctap.sendCbor(0x0c, new Map(m));
    const data = encode(["hello"]);
    const corrupt = concat(data, new Uint8Array(16));
    // No PIN: writes need no token.
    assert.equal(
      await status(call([[2, corrupt], [3, 0], [4, corrupt.length]])),
      S.INTEGRITY_FAILURE,
    );
    assert.deepEqual(await new LargeBlobs(ctap).readSerialized(), EMPTY_LARGE_BLOB_ARRAY);
    assert.equal(await status(call([[2, data], [3, 0], [4, 2000]])), S.LARGE_BLOB_STORAGE_FULL);
    assert.equal(await status(call([[2, data], [3, 0]])), S.INVALID_PARAMETER);
    assert.equal(await status(call([[2, data], [3, 0], [4, 5]])), S.INVALID_PARAMETER);
    assert.equal(await status(call([[2, data], [3, 5]])), S.INVALID_SEQ);
    await call([[2, data.subarray(0, 3)], [3, 0], [4, data.length + 16]]);
    assert.equal(await status(call([[2, data.subarray(3)], [3, 4]])), S.INVALID_SEQ);
    assert.equal(await status(call([[2, new Uint8Array(40)], [3, 3]])), S.INVALID_PARAMETER);
    assert.equal(await status(call([[1, 2000], [3, 0]])), S.INVALID_LENGTH);
    assert.equal(await status(call([[1, 10], [3, 100]])), S.INVALID_PARAMETER);
    assert.equal(await status(call([[1, 10]])), S.INVALID_PARAMETER);
    assert.equal(await status(call([[1, 10], [2, data], [3, 0]])), S.INVALID_PARAMETER);
    const ok = concat(data, sha256(data).subarray(0, 16));
    await call([[2, ok], [3, 0], [4, ok.length]]);
    assert.deepEqual(await new LargeBlobs(ctap).readBlobArray(), ["hello"]);
  });

  it("Fido2Client largeBlob write then read; a corrupt array reads as empty", async () => {
    const { client, va } = await setup({ pin: PIN });
    const reg = await register(client(), "example.com", "alice", {
      extensions: { largeBlob: { support: "required" } },
    });
    assert.deepEqual(reg.clientExtensionResults.largeBlob, { supported: true });
    const auth = async (largeBlob: Record<string, unknown>) => {
      const options = await generateAuthenticationOptions({
        rpID: "example.com",
        allowCredentials: [{ id: reg.id }],
        userVerification: "discouraged",
      });
      const sel = await client().getAssertion({ ...options, extensions: { largeBlob } });
      return sel.getResponse(0).clientExtensionResults.largeBlob;
    };
    const blob = utf8Encode("a certificate, say");
    assert.deepEqual(await auth({ write: blob }), { written: true });
    const read = await auth({ read: true });
    assert.deepEqual(read?.blob, blob);

    // Corrupt the stored array (bad checksum): the client treats it as empty.
    const state = va.exportState();
    const bad = state.largeBlobs!.slice(0, -2) + (state.largeBlobs!.endsWith("00") ? "01" : "00");
    const corrupted = await setup({ state: { ...state, largeBlobs: bad } });
    const options = await generateAuthenticationOptions({
      rpID: "example.com",
      allowCredentials: [{ id: reg.id }],
    });
    const sel = await corrupted.client().getAssertion({
      ...options,
      extensions: { largeBlob: { read: true } },
    });
    assert.deepEqual(sel.getResponse(0).clientExtensionResults.largeBlob, {});
    assert.deepEqual(await new LargeBlobs(corrupted.ctap).readBlobArray(), []);
  });

  it("authenticatorReset restores the empty array", async () => {
    const { ctap } = await setup({ clientPin: false });
    await new LargeBlobs(ctap).writeBlobArray(["kept until reset"]);
    assert.deepEqual(await new LargeBlobs(ctap).readBlobArray(), ["kept until reset"]);
    await new Config(ctap).enableEnterpriseAttestation();
    await ctap.reset();
    assert.deepEqual(await new LargeBlobs(ctap).readSerialized(), EMPTY_LARGE_BLOB_ARRAY);
    assert.equal((await ctap.getInfo()).options.ep, false);
  });

  it("can be turned off", async () => {
    const { ctap } = await setup({ largeBlobs: false });
    assert.equal(ctap.info.options.largeBlobs, undefined);
    assert.equal(ctap.info.extensions.includes("largeBlobKey"), false);
    assert.equal(await status(ctap.sendCbor(0x0c, new Map([[1, 1], [3, 0]]))), S.INVALID_COMMAND);
  });
});

describe("authenticatorConfig", () => {
  it("setMinPINLength raises the minimum and forces a PIN change", async () => {
    const { token, ctap, protocol, clientPin } = await setup({ pin: PIN });
    assert.equal(ctap.info.options.authnrCfg, true);
    assert.equal(ctap.info.options.setMinPINLength, true);
    assert.equal(ctap.info.maxRpidsForSetMinPinLength, 8);
    const cfg = new Config(ctap, protocol, await token(P.AUTHENTICATOR_CFG));
    await cfg.setMinPinLength({ minPinLength: 6, forceChangePin: true });
    let info = await ctap.getInfo();
    assert.equal(info.minPinLength, 6);
    assert.equal(info.forcePinChange, true);
    // The old PIN no longer yields tokens until it is changed.
    assert.notEqual(await status(token(P.CREDENTIAL_MGMT)), 0);
    await clientPin.changePin(PIN, "123456");
    info = await ctap.getInfo();
    assert.equal(info.forcePinChange, false);
    const cfg2 = new Config(
      ctap,
      protocol,
      await clientPin.getPinToken("123456", P.AUTHENTICATOR_CFG),
    );
    assert.equal(await status(cfg2.setMinPinLength({ minPinLength: 4 })), S.PIN_POLICY_VIOLATION);
    // Raising past the PIN's length forces a change without being asked to.
    await cfg2.setMinPinLength({ minPinLength: 8 });
    assert.equal((await ctap.getInfo()).forcePinChange, true);
  });

  it("minPinLength extension reports to the RP IDs configured", async () => {
    const { token, ctap, protocol, client } = await setup({ pin: PIN });
    const cfg = new Config(ctap, protocol, await token(P.AUTHENTICATOR_CFG));
    await cfg.setMinPinLength({ rpIds: ["example.com"] });
    assert.ok((await ctap.getInfo()).extensions.includes("minPinLength"));
    const listed = await register(client(), "example.com", "alice", {
      extensions: { minPinLength: true },
    });
    assert.equal(listed.clientExtensionResults.minPinLength, 4);
    const other = await register(client("https://other.example"), "other.example", "bob", {
      extensions: { minPinLength: true },
    });
    assert.equal(other.clientExtensionResults.minPinLength, undefined);
    const tooMany = Array.from({ length: 9 }, (_, i) => `rp${i}.example`);
    const cfg2 = new Config(ctap, protocol, await token(P.AUTHENTICATOR_CFG));
    assert.equal(await status(cfg2.setMinPinLength({ rpIds: tooMany })), S.KEY_STORE_FULL);
  });

  it("toggleAlwaysUv makes every registration verify the user, and back", async () => {
    const { token, ctap, protocol, client, device } = await setup({ pin: PIN });
    assert.equal(ctap.info.options.alwaysUv, false);
    assert.equal(device.capabilities & 0x08, 0);
    const cfg = new Config(ctap, protocol, await token(P.AUTHENTICATOR_CFG));
    await cfg.toggleAlwaysUv();
    let info = await ctap.getInfo();
    assert.equal(info.options.alwaysUv, true);
    assert.equal(info.options.makeCredUvNotRqd, false);
    assert.equal(info.versions.includes("U2F_V2"), false);
    // A non-discoverable registration now needs the PIN too; without one it fails.
    const options = await generateRegistrationOptions({
      rpName: "x",
      rpID: "example.com",
      userName: "u",
      attestationType: "none",
      authenticatorSelection: { residentKey: "discouraged", userVerification: "discouraged" },
    }) as unknown as Record<string, unknown>;
    const made = await client().makeCredential(options);
    assert.equal(made.response.attestationObject.authData.flags & 0x04, 0x04);
    await assert.rejects(client("https://example.com", "").makeCredential(options));
    // The client's PIN tokens replaced ours (one token at a time): toggle back with a new one.
    assert.equal(await status(cfg.toggleAlwaysUv()), S.PIN_AUTH_INVALID);
    await new Config(ctap, protocol, await token(P.AUTHENTICATOR_CFG)).toggleAlwaysUv();
    info = await ctap.getInfo();
    assert.equal(info.options.alwaysUv, false);
    assert.equal(info.options.makeCredUvNotRqd, true);
    const plain = await client("https://example.com", "").makeCredential(options);
    assert.equal(plain.response.attestationObject.authData.flags & 0x04, 0);
  });

  it("enableEnterpriseAttestation lets makeCredential take enterpriseAttestation", async () => {
    const { ctap } = await setup({ clientPin: false });
    assert.equal(ctap.info.options.ep, false);
    const mc = (ep: number) =>
      ctap.makeCredential({
        clientDataHash: randomBytes(32),
        rp: { id: "example.com" },
        user: { id: randomBytes(8) },
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        enterpriseAttestation: ep,
      });
    assert.equal(await status(mc(1)), S.INVALID_PARAMETER);
    await new Config(ctap).enableEnterpriseAttestation();
    assert.equal((await ctap.getInfo()).options.ep, true);
    await mc(1);
    await mc(2);
    assert.equal(await status(mc(3)), S.INVALID_OPTION);
    const off = await setup({ clientPin: false, enterpriseAttestation: false });
    assert.equal(off.ctap.info.options.ep, undefined);
    assert.equal(
      await status(off.ctap.sendCbor(0x0d, new Map([[1, 1]]))),
      S.INVALID_SUBCOMMAND,
    );
  });

  it("pinUvAuthParam rules, and config without a PIN", async () => {
    const { token, ctap, protocol } = await setup({ pin: PIN });
    const raw = (m: [number, unknown][]) => ctap.sendCbor(0x0d, new Map(m));
    assert.equal(await status(raw([[1, 2]])), S.PUAT_REQUIRED);
    assert.equal(await status(raw([[1, 2], [4, new Uint8Array(32)]])), S.MISSING_PARAMETER);
    assert.equal(await status(raw([[1, 2], [3, 2], [4, new Uint8Array(32)]])), S.PIN_AUTH_INVALID);
    assert.equal(
      await status(raw([[1, 0x42], [3, 2], [4, new Uint8Array(32)]])),
      S.INVALID_SUBCOMMAND,
    );
    const cm = new Config(ctap, protocol, await token(P.CREDENTIAL_MGMT));
    assert.equal(await status(cm.toggleAlwaysUv()), S.PIN_AUTH_INVALID);
    const noPin = new Config(ctap);
    assert.equal(await status(noPin.toggleAlwaysUv()), S.PUAT_REQUIRED);

    const fresh = await setup();
    await new Config(fresh.ctap).toggleAlwaysUv();
    assert.equal((await fresh.ctap.getInfo()).options.alwaysUv, true);
    assert.equal(fresh.va.exportState().config?.alwaysUv, true);
    assert.equal(
      await status(new Config(fresh.ctap).setMinPinLength({ forceChangePin: true })),
      S.PIN_NOT_SET,
    );
  });
});

describe("authenticatorBioEnrollment", () => {
  it("enrolls, enumerates, renames and removes fingerprints", async () => {
    const samples: number[] = [SAMPLE_STATUS.GOOD, SAMPLE_STATUS.POOR_QUALITY];
    const { token, ctap, protocol, va } = await setup({
      pin: PIN,
      uv: true,
      bioEnrollment: {
        samplesRequired: 3,
        captureSample: () => samples.shift() ?? SAMPLE_STATUS.GOOD,
      },
    });
    assert.equal(ctap.info.options.bioEnroll, true);
    const bio = await FPBioEnrollment.create(ctap, protocol, await token(P.BIO_ENROLL));
    assert.deepEqual(await bio.getFingerprintSensorInfo(), {
      fingerprintKind: 1,
      maxCaptureSamplesRequiredForEnroll: 3,
      maxTemplateFriendlyName: 32,
    });
    assert.equal((await bio.enumerateEnrollments()).length, 1);

    const enrollment = bio.enroll();
    const remaining: number[] = [];
    let templateId: Uint8Array | undefined;
    let poor = 0;
    while (!templateId) {
      try {
        templateId = await enrollment.capture();
      } catch (e) {
        assert.ok(e instanceof CaptureError);
        assert.equal(e.code, CaptureStatus.FP_POOR_QUALITY);
        poor++;
      }
      remaining.push(enrollment.remaining!);
    }
    assert.equal(poor, 1);
    assert.deepEqual(remaining, [2, 2, 1, 0]);
    let list = await bio.enumerateEnrollments();
    assert.equal(list.length, 2);
    assert.ok(list.some((t) => toHex(t.templateId) === toHex(templateId!)));

    await bio.setName(templateId, "left thumb");
    list = await bio.enumerateEnrollments();
    assert.equal(list.find((t) => toHex(t.templateId) === toHex(templateId!))?.name, "left thumb");
    assert.equal(await status(bio.setName(templateId, "x".repeat(33))), S.INVALID_LENGTH);
    assert.equal(va.exportState().bio?.length, 2);

    await bio.removeEnrollment(templateId);
    assert.equal(await status(bio.removeEnrollment(templateId)), S.INVALID_OPTION);
    for (const t of await bio.enumerateEnrollments()) await bio.removeEnrollment(t.templateId);
    assert.deepEqual(await bio.enumerateEnrollments(), []);
    // No finger left: built-in UV is not configured any more, until the next enrollment.
    let info = await ctap.getInfo();
    assert.equal(info.options.bioEnroll, false);
    assert.equal(info.options.uv, false);
    const uvMc = () =>
      ctap.makeCredential({
        clientDataHash: randomBytes(32),
        rp: { id: "example.com" },
        user: { id: randomBytes(8) },
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        options: { uv: true },
      });
    assert.equal(await status(uvMc()), S.INVALID_OPTION);
    const again = new FPBioEnrollment(ctap, protocol, await token(P.BIO_ENROLL));
    const next = again.enroll();
    while (!(await next.capture()));
    info = await ctap.getInfo();
    assert.equal(info.options.uv, true);
    assert.equal(info.options.bioEnroll, true);
    assert.equal((await uvMc()).authData.flags & 0x04, 0x04);
  });

  it("needs the be permission; captureNext needs an enrollment in progress", async () => {
    const { token, ctap, protocol } = await setup({ pin: PIN, uv: true });
    const cm = await FPBioEnrollment.create(ctap, protocol, await token(P.CREDENTIAL_MGMT));
    assert.equal(await status(cm.enumerateEnrollments()), S.PIN_AUTH_INVALID);
    const raw = (m: [number, unknown][]) => ctap.sendCbor(0x09, new Map(m));
    assert.equal(await status(raw([[1, 1], [2, 4]])), S.PUAT_REQUIRED);
    assert.equal(
      await status(raw([[1, 1], [2, 4], [3, undefined], [4, 2], [5, new Uint8Array(32)]])),
      S.PIN_AUTH_INVALID,
    );
    assert.equal(await status(raw([[1, 2], [2, 7]])), S.INVALID_PARAMETER);
    assert.equal(await status(raw([[1, 1], [2, 0x20]])), S.INVALID_SUBCOMMAND);
    const bio = new FPBioEnrollment(ctap, protocol, await token(P.BIO_ENROLL));
    assert.equal(await status(bio.enrollCaptureNext(randomBytes(8))), S.NOT_ALLOWED);
    const begun = await bio.enrollBegin();
    assert.equal(begun.remaining, 3);
    assert.equal(await status(bio.enrollCaptureNext(randomBytes(8))), S.INVALID_PARAMETER);
    await bio.enrollCancel();
    assert.equal(await status(bio.enrollCaptureNext(begun.templateId)), S.NOT_ALLOWED);
    // A prototype-only client reaches the same handler through 0x40.
    const r = await ctap.sendCbor(0x40, new Map([[6, true]]));
    assert.equal(r!.get(1), 1);
  });

  it("is absent without built-in UV", async () => {
    const { ctap } = await setup({ pin: PIN });
    assert.equal(ctap.info.options.bioEnroll, undefined);
    assert.equal(await status(ctap.sendCbor(0x09, new Map([[6, true]]))), S.INVALID_COMMAND);
  });
});
