/**
 * Regression tests on recorded bytes of real authenticators (tests/fixtures/real_keys.ts cites
 * each source): what the client makes of them, byte for byte. The libfido2 wire captures are
 * replayed at the CTAPHID level through `CtapHidDevice`; getInfo and credential-management
 * bodies recorded at the CTAP level go through a scripted `CtapDevice`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CtapHidDevice } from "../src/hid/device.ts";
import { Ctap2 } from "../src/ctap2/base.ts";
import { Info } from "../src/ctap2/info.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { PinProtocolV1 } from "../src/ctap2/pin_protocol.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import { BioEnrollment, FPBioEnrollment } from "../src/ctap2/bio.ts";
import { ApduError, certificatePublicKey, Ctap1 } from "../src/ctap1.ts";
import { ES256 } from "../src/cose.ts";
import { type CborMap, decode, encode } from "../src/cbor.ts";
import { FormatError } from "../src/errors.ts";
import { AttestationObject } from "../src/webauthn/authdata.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { AuthenticatorResponseError } from "../src/client/validate.ts";
import {
  b64urlDecode,
  b64urlEncode,
  concat,
  fromHex,
  sha256,
  toHex,
  utf8Encode,
} from "../src/utils.ts";
import { ScriptedDevice } from "./helpers/scripted_device.ts";
import { messages, payload, type ReplayStep, WireReplay } from "./helpers/wire_replay.ts";
import {
  BIO_SENSOR_INFO_REPORT,
  FEITIAN_ENUMERATE_RPS_EMPTY,
  SOLO2_ATTESTATION_OBJECT,
  TOKEN2_INFO,
  YUBICO_521_WIRE as W,
  YUBICO_CTAP22_NFC_INFO_APDUS,
  YUBICO_SKY_51_PACKED as SKY,
  YUBIKEY_5_ENUMERATE_RPS_EMPTY,
  YUBIKEY_5_NFC_INFO,
  YUBIKEY_BIO_INFO,
} from "./fixtures/real_keys.ts";

const HID = { INIT: 0x06, MSG: 0x03, CBOR: 0x10 } as const;
const CMD = { MC: 0x01, GA: 0x02, INFO: 0x04, PIN: 0x06, CM_PRE: 0x41, CM: 0x0a } as const;
const CDH = sha256(utf8Encode("recorded-bytes"));
const P = ClientPin.PERMISSION;
/** Certificates hold printable names inside DER: decode byte for byte to search them. */
const latin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/** The CTAPHID session every libfido2 replay starts with: INIT, then getInfo. */
const OPEN: ReplayStep[] = [
  { cmd: HID.INIT, reply: W.INIT },
  { cmd: HID.CBOR, sub: CMD.INFO, reply: W.GET_INFO },
];

async function replay(steps: ReplayStep[]) {
  const wire = new WireReplay([...OPEN, ...steps]);
  const device = await CtapHidDevice.open(wire.descriptor, wire, { readTimeout: 5000 });
  const ctap = await Ctap2.create(device);
  return { wire, device, ctap };
}

/** The CBOR request map a replayed CTAPHID_CBOR request carried. */
function requestMap(data: Uint8Array): CborMap {
  return decode(data.subarray(1)) as CborMap;
}

function cborBody(hex: string): Uint8Array {
  return fromHex("00" + hex);
}

describe("real key: Yubico 5.2.1, CTAP 2.1-PRE (libfido2 wire captures, CTAPHID replay)", () => {
  it("INIT allocates the recorded channel; getInfo parses field by field", async () => {
    const { wire, device, ctap } = await replay([]);
    assert.equal(device.channelId, 0x00220002);
    assert.deepEqual(device.deviceVersion, [5, 2, 1]);
    assert.equal(device.capabilities, 0x05, "WINK | CBOR, and CTAPHID_MSG (no NMSG)");
    const info = ctap.info;
    assert.deepEqual(info.versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"]);
    assert.deepEqual(info.extensions, ["credProtect", "hmac-secret"]);
    assert.equal(info.aaguid.toString(), "1956e5bd-a374-45f1-a814-356403fdbc18");
    assert.deepEqual(info.options, {
      rk: true,
      up: true,
      plat: false,
      clientPin: false,
      credentialMgmtPreview: true,
    });
    assert.equal(info.maxMsgSize, 1200);
    assert.deepEqual(info.pinUvProtocols, [1]);
    assert.equal(info.maxCredsInList, 8);
    assert.equal(info.maxCredIdLength, 128);
    assert.deepEqual(info.transports, []);
    assert.deepEqual(info.algorithms, [
      { alg: -7, type: "public-key" },
      { alg: -8, type: "public-key" },
    ]);
    assert.equal(info.remainingDiscCreds, undefined);
    assert.equal(CredentialManagement.isSupported(info), true, "2.1-PRE credentialMgmtPreview");
    assert.equal(CredentialManagement.isUpdateSupported(info), false, "no final credMgmt");
    assert.ok(wire.done);
    await device.close();
  });

  it("PIN: getPinRetries, then the legacy getPinToken (0x05) with the key's agreement key", async () => {
    const { wire, device, ctap } = await replay([
      { cmd: HID.CBOR, sub: CMD.PIN, reply: W.RETRIES },
      { cmd: HID.CBOR, sub: CMD.PIN, reply: W.KEY_AGREEMENT },
      { cmd: HID.CBOR, sub: CMD.PIN, reply: W.PIN_TOKEN },
    ]);
    const pin = new ClientPin(ctap);
    assert.equal(pin.protocol.version, 1, "the key offers protocol 1 only");
    assert.deepEqual(await pin.getPinRetries(), { retries: 8 });
    const token = await pin.getPinToken("1234");
    assert.equal(token.length, 16);
    const [retries, agreement, getToken] = wire.requests.slice(2).map((r) => requestMap(r.data));
    assert.deepEqual(retries, new Map([[1, 1], [2, 0x01]]));
    assert.deepEqual(agreement, new Map([[1, 1], [2, 0x02]]));
    assert.equal(getToken.get(2), 0x05, "getPinToken");
    assert.deepEqual([...getToken.keys()], [1, 2, 3, 6]);
    assert.equal((getToken.get(6) as Uint8Array).length, 16, "pinHashEnc, protocol 1");
    assert.ok(wire.done);
    await device.close();
  });

  // Spec-exact feature detection (CTAP 2.1 §6.5.5.7, issue 12 item 1): this key has no
  // `pinUvAuthToken` option, so even a request for scoped permissions must use getPinToken.
  it("PIN with permissions: no pinUvAuthToken option means getPinToken (0x05), never 0x09", async () => {
    const { wire, device, ctap } = await replay([
      { cmd: HID.CBOR, sub: CMD.PIN, reply: W.KEY_AGREEMENT },
      { cmd: HID.CBOR, sub: CMD.PIN, reply: W.PIN_TOKEN },
    ]);
    const token = await new ClientPin(ctap).getPinToken(
      "1234",
      P.MAKE_CREDENTIAL | P.GET_ASSERTION,
      "localhost",
    );
    assert.equal(token.length, 16);
    const getToken = requestMap(wire.requests[3].data);
    assert.equal(getToken.get(2), 0x05);
    assert.deepEqual([...getToken.keys()], [1, 2, 3, 6], "no permissions (9) or rpId (10)");
    await device.close();
  });

  it("getAssertion: keepalive, then the recorded assertion decoded", async () => {
    const { wire, device, ctap } = await replay([
      { cmd: HID.CBOR, sub: CMD.GA, reply: [...W.KEEPALIVE, ...W.ASSERT] },
    ]);
    const keepalives: number[] = [];
    const a = await ctap.getAssertion({ rpId: "localhost", clientDataHash: CDH }, {
      onKeepalive: (s) => keepalives.push(s),
    });
    assert.deepEqual(keepalives, [2]);
    assert.equal(
      toHex(a.credential!.id),
      "4a4c9ecc817d42032b41d138d349b4fcfbe44ee4ff76341668069da60132b9ffc2350d89436612f88e5bdef4ccec9d0385c2f5e68eeb3f3aecc31d046ef35b88",
    );
    assert.equal(a.credential!.type, "public-key");
    assert.deepEqual(a.authData.rpIdHash, sha256(utf8Encode("localhost")));
    assert.equal(a.authData.flags, 0x04, "UV without UP");
    assert.equal(a.authData.counter, 9);
    assert.equal(a.authData.credentialData, undefined);
    assert.equal(a.signature.length, 71);
    assert.equal(a.user, undefined);
    assert.equal(a.numberOfCredentials, undefined);
    const request = requestMap(wire.requests[2].data);
    assert.equal(request.get(1), "localhost");
    assert.deepEqual(request.get(2), CDH);
    await device.close();
  });

  it("makeCredential: packed attestation with the Yubico preview certificate", async () => {
    const { device, ctap } = await replay([
      { cmd: HID.CBOR, sub: CMD.MC, reply: [...W.KEEPALIVE, ...W.CRED] },
    ]);
    const r = await ctap.makeCredential({
      clientDataHash: CDH,
      rp: { id: "localhost" },
      user: { id: new Uint8Array([1]) },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    });
    assert.equal(r.fmt, "packed");
    assert.deepEqual(r.authData.rpIdHash, sha256(utf8Encode("localhost")));
    assert.equal(r.authData.flags, 0x45, "UP | UV | AT");
    assert.equal(r.authData.counter, 0);
    const cd = r.authData.credentialData!;
    assert.equal(cd.aaguid.toString(), "f8a011f3-8c0a-4d15-8006-17111f9edc7d");
    assert.equal(cd.credentialId.length, 64);
    assert.deepEqual([...cd.publicKey.keys()], [1, 3, -1, -2, -3]);
    assert.equal(cd.publicKey.get(3), -7);
    assert.deepEqual([...r.attStmt.keys()], ["alg", "sig", "x5c"]);
    assert.equal(r.attStmt.get("alg"), -7);
    const [cert] = r.attStmt.get("x5c") as Uint8Array[];
    assert.equal(cert.length, 691);
    assert.match(latin1(cert), /Yubico FIDO Preview CA[\s\S]*Yubico U2F EE Serial 1213939126/);
    // The WebAuthn attestation object carries the same bytes.
    const att = AttestationObject.parse(r.toAttestationObject().raw);
    assert.deepEqual(att.authData.raw, r.authData.raw);
    assert.deepEqual(att.attStmt.get("sig"), r.attStmt.get("sig"));
    await device.close();
  });

  it("credential management goes to the 2.1-PRE command 0x41: metadata, 3 RPs, 5 credentials", async () => {
    const rps = messages(W.CREDMAN_RPS);
    const creds = messages(W.CREDMAN_CREDS);
    assert.equal(rps.length, 3);
    assert.equal(creds.length, 5);
    const { wire, device, ctap } = await replay([
      { cmd: HID.CBOR, sub: CMD.CM_PRE, reply: W.CREDMAN_META },
      ...rps.map((reply) => ({ cmd: HID.CBOR, sub: CMD.CM_PRE, reply })),
      ...creds.map((reply) => ({ cmd: HID.CBOR, sub: CMD.CM_PRE, reply })),
    ]);
    const cm = new CredentialManagement(ctap, new PinProtocolV1(), new Uint8Array(16));
    assert.deepEqual(await cm.getMetadata(), {
      existingResidentCredentialsCount: 0,
      maxPossibleRemainingResidentCredentialsCount: 25,
    });
    const listed = await cm.enumerateRps();
    assert.deepEqual(listed.map((r) => r.rp), [
      { id: "yubico.com" },
      { id: "yubikey.org" },
      { id: "webauthn.dev" },
    ]);
    for (const r of listed) assert.deepEqual(r.rpIdHash, sha256(utf8Encode(r.rp.id)));
    const found = await cm.enumerateCreds(listed[0].rpIdHash);
    assert.equal(found.length, 5);
    for (const c of found) {
      assert.deepEqual(
        { name: c.user.name, displayName: c.user.displayName, idLength: c.user.id.length },
        { name: "bob banana", displayName: "bbanana", idLength: 32 },
      );
      assert.equal(c.credentialId.id.length, 16);
      assert.equal(c.credProtect, 1);
    }
    assert.deepEqual(found.map((c) => c.publicKey.get(3)), [-7, -8, -8, -7, -7]);
    assert.equal(toHex(found[0].credentialId.id), "19f7780ca0bcb9a6d51ed787fb6c8003");
    // Subcommands: metadata 1, RPs begin 2 / next 3, credentials begin 4 / next 5.
    const subs = wire.requests.slice(2).map((r) => requestMap(r.data).get(1));
    assert.deepEqual(subs, [1, 2, 3, 3, 4, 5, 5, 5, 5]);
    assert.ok(wire.requests.slice(2).every((r) => r.data[0] === CMD.CM_PRE));
    assert.ok(wire.done);
    await device.close();
  });

  it("Fido2Client: a registration and an authentication built from the recorded answers", async () => {
    const wire = new WireReplay([
      ...OPEN,
      { cmd: HID.CBOR, sub: CMD.MC, reply: [...W.KEEPALIVE, ...W.CRED] },
      { cmd: HID.CBOR, sub: CMD.GA, reply: [...W.KEEPALIVE, ...W.ASSERT] },
    ]);
    const device = await CtapHidDevice.open(wire.descriptor, wire, { readTimeout: 5000 });
    const client = new Fido2Client(device, new DefaultClientDataCollector("https://localhost"));
    const challenge = b64urlEncode(new Uint8Array(16).fill(7));
    const reg = (await client.makeCredential({
      rp: { id: "localhost", name: "localhost" },
      user: { id: b64urlEncode(new Uint8Array([1])), name: "bob" },
      challenge,
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      attestation: "direct",
    })).toJSON() as { id: string; response: { attestationObject: string } };
    const att = AttestationObject.parse(b64urlDecode(reg.response.attestationObject));
    assert.equal(att.fmt, "packed", "direct attestation is passed through");
    assert.equal(reg.id, b64urlEncode(att.authData.credentialData!.credentialId));
    assert.equal(
      toHex(att.authData.raw),
      // status, a3 01 66 "packed" 02 58 c4: the byte string starts at offset 13.
      toHex(payload(W.CRED).subarray(13, 13 + 196)),
      "authenticatorData exactly as the key sent it",
    );
    const credentialId = b64urlEncode(
      fromHex(
        "4a4c9ecc817d42032b41d138d349b4fcfbe44ee4ff76341668069da60132b9ffc2350d89436612f88e5bdef4ccec9d0385c2f5e68eeb3f3aecc31d046ef35b88",
      ),
    );
    // The recorded assertion answers libfido2's request with up=false and uv=true (flags 0x04:
    // UV without UP). Fido2Client always asks for presence, so as an answer to its request
    // those bytes lack UP and are rejected by the response check, naming the flag.
    await assert.rejects(
      client.getAssertion({
        rpId: "localhost",
        challenge,
        allowCredentials: [{ type: "public-key", id: credentialId }],
        userVerification: "discouraged",
      }),
      (e: unknown) => {
        assert.ok(e instanceof ClientError && e.code === ClientError.ERR.OTHER_ERROR, String(e));
        assert.ok(e.cause instanceof AuthenticatorResponseError, String(e.cause));
        assert.equal(e.cause.check, "flags.UP");
        return true;
      },
    );
    assert.deepEqual(wire.requests.slice(1).map((r) => r.data[0]), [CMD.INFO, CMD.MC, CMD.GA]);
    await device.close();
  });

  it("U2F over CTAPHID_MSG: touch needed (6985), REGISTER, AUTHENTICATE", async () => {
    const wire = new WireReplay([
      { cmd: HID.INIT, reply: W.INIT },
      { cmd: HID.MSG, sub: 0x01, reply: W.U2F_6985 },
      { cmd: HID.MSG, sub: 0x01, reply: W.U2F_REGISTER },
      { cmd: HID.MSG, sub: 0x02, reply: W.U2F_AUTH },
    ]);
    const device = await CtapHidDevice.open(wire.descriptor, wire, { readTimeout: 5000 });
    const u2f = new Ctap1(device);
    const app = sha256(utf8Encode("https://localhost"));
    await assert.rejects(
      u2f.register(CDH, app),
      (e: unknown) => e instanceof ApduError && e.code === 0x6985,
    );
    const reg = await u2f.register(CDH, app);
    assert.equal(reg.publicKey.length, 65);
    assert.equal(reg.publicKey[0], 0x04);
    assert.equal(reg.keyHandle.length, 64);
    assert.match(latin1(reg.certificate), /Yubico U2F Root CA Serial 457200631/);
    assert.match(latin1(reg.certificate), /Yubico U2F EE Serial \d+/);
    assert.deepEqual(
      certificatePublicKey(reg.certificate).length,
      65,
      "a P-256 attestation key",
    );
    const sig = await u2f.authenticate(CDH, app, reg.keyHandle);
    assert.equal(sig.userPresence, 1);
    assert.equal(sig.counter, 44);
    assert.equal(sig.signature[0], 0x30, "DER ECDSA signature");
    assert.ok(wire.done);
    await device.close();
  });
});

describe("real key: Security Key by Yubico 5.1.x (libfido2 regress/cred.c)", () => {
  const authData = decode(fromHex(SKY.authDataCbor)) as Uint8Array;
  const response = (sig: string) =>
    concat(
      new Uint8Array([0]),
      encode(
        new Map<number, unknown>([
          [1, "packed"],
          [2, authData],
          [
            3,
            new Map<string, unknown>([["alg", -7], ["sig", fromHex(sig)], ["x5c", [
              fromHex(SKY.x509),
            ]]]),
          ],
        ]),
      ),
    );

  async function register(sig: string) {
    const dev = new ScriptedDevice([response(sig)]);
    const ctap = new Ctap2(dev, new Info(new Map([[1, ["U2F_V2", "FIDO_2_0"]]])));
    return await ctap.makeCredential({
      clientDataHash: fromHex(SKY.cdh),
      rp: { id: "localhost", name: "sweet home localhost" },
      user: { id: new Uint8Array([1]) },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    });
  }

  it("the decoded packed attestation verifies against the key's own certificate", async () => {
    const r = await register(SKY.sig);
    const cd = r.authData.credentialData!;
    assert.equal(cd.aaguid.toString(), "f8a011f3-8c0a-4d15-8006-17111f9edc7d");
    assert.equal(r.authData.flags, 0x41, "UP | AT");
    assert.equal(r.authData.counter, 4);
    assert.deepEqual(r.authData.rpIdHash, sha256(utf8Encode("localhost")));
    const att = AttestationObject.parse(r.toAttestationObject().raw);
    const [cert] = att.attStmt.get("x5c") as Uint8Array[];
    const key = ES256.fromCtap1(certificatePublicKey(cert));
    const signed = concat(att.authData.raw, fromHex(SKY.cdh));
    assert.equal(await key.verify(signed, att.attStmt.get("sig") as Uint8Array), true);
  });

  it("one flipped signature byte no longer verifies (the check above can fail)", async () => {
    const bad = SKY.sig.slice(0, 20) + (SKY.sig[20] === "0" ? "1" : "0") + SKY.sig.slice(21);
    const r = await register(bad);
    const key = ES256.fromCtap1(certificatePublicKey(fromHex(SKY.x509)));
    const signed = concat(r.authData.raw, fromHex(SKY.cdh));
    assert.equal(await key.verify(signed, r.attStmt.get("sig") as Uint8Array), false);
  });
});

/** The recorded key-agreement key of the Yubico 5.2.1 capture, as a CTAP response. */
const KEY_AGREEMENT_RESPONSE = payload(W.KEY_AGREEMENT);
/** The recorded protocol-1 token answer of the same capture. */
const PIN_TOKEN_RESPONSE = payload(W.PIN_TOKEN);

describe("real key: YubiKey 5 NFC 5.2/5.4, CTAP 2.1-PRE with a PIN (webauthn-rs getInfo)", () => {
  const info = () => new Info(decode(fromHex(YUBIKEY_5_NFC_INFO)) as CborMap);

  it("getInfo parses field by field", () => {
    const i = info();
    assert.deepEqual(i.versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"]);
    assert.equal(i.aaguid.toString(), "2fc0579f-8113-47ea-b116-bb5a8db9202a");
    assert.deepEqual(i.options, {
      rk: true,
      up: true,
      plat: false,
      clientPin: true,
      credentialMgmtPreview: true,
    });
    assert.equal("pinUvAuthToken" in i.options, false);
    assert.deepEqual(i.pinUvProtocols, [1]);
    assert.deepEqual(i.transports, ["nfc", "usb"]);
    assert.equal(i.maxMsgSize, 1200);
    assert.equal(i.minPinLength, 4, "absent: the CTAP default");
  });

  // Issue 12: every PIN-verified operation on this key failed with CTAP error 0x7f because the
  // client sent getPinUvAuthTokenUsingPinWithPermissions (0x09) to a key that does not have it.
  it("a PIN token with permissions is requested with getPinToken (0x05)", async () => {
    const dev = new ScriptedDevice([
      cborBody(YUBIKEY_5_NFC_INFO),
      KEY_AGREEMENT_RESPONSE,
      PIN_TOKEN_RESPONSE,
    ]);
    const ctap = await Ctap2.create(dev);
    const token = await new ClientPin(ctap).getPinToken("123456", P.MAKE_CREDENTIAL, "a.example");
    assert.equal(token.length, 16);
    const getToken = decode(dev.calls[2].data.subarray(1)) as CborMap;
    assert.equal(getToken.get(2), 0x05);
    assert.deepEqual([...getToken.keys()], [1, 2, 3, 6]);
  });

  it("credential management uses 0x41; a key without credentials answers {totalRPs: 0}", async () => {
    const dev = new ScriptedDevice([
      cborBody(YUBIKEY_5_NFC_INFO),
      cborBody(YUBIKEY_5_ENUMERATE_RPS_EMPTY),
    ]);
    const ctap = await Ctap2.create(dev);
    const cm = new CredentialManagement(ctap, new PinProtocolV1(), new Uint8Array(16));
    assert.deepEqual(await cm.enumerateRps(), []);
    assert.equal(dev.calls[1].data[0], CMD.CM_PRE);
    assert.ok(dev.done, "no GetNextRP after totalRPs 0");
  });
});

describe("real key: Token2 FIDO2, CTAP 2.1 (webauthn-rs getInfo)", () => {
  const info = () => new Info(decode(fromHex(TOKEN2_INFO)) as CborMap);

  it("getInfo parses field by field", () => {
    const i = info();
    assert.deepEqual(i.versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_1_PRE"]);
    assert.deepEqual(i.extensions, [
      "credBlob",
      "credProtect",
      "hmac-secret",
      "largeBlobKey",
      "minPinLength",
    ]);
    assert.equal(i.aaguid.toString(), "ab32f0c6-2239-afbb-c470-d2ef4e254db7");
    assert.equal(i.options.pinUvAuthToken, true);
    assert.equal(i.options.credMgmt, true);
    assert.equal(i.options.largeBlobs, true);
    assert.equal(i.options.alwaysUv, false);
    assert.equal(i.options.makeCredUvNotRqd, true);
    assert.deepEqual(i.pinUvProtocols, [2, 1]);
    assert.equal(i.maxMsgSize, 1536);
    assert.equal(i.maxCredIdLength, 96);
    assert.deepEqual(i.transports, ["usb", "nfc"]);
    assert.deepEqual(i.algorithms, [{ alg: -7, type: "public-key" }]);
    assert.equal(i.maxLargeBlob, 2048);
    assert.equal(i.forcePinChange, false);
    assert.equal(i.minPinLength, 4);
    assert.equal(i.firmwareVersion, 0x100);
    assert.equal(i.maxCredBlobLength, 32);
    assert.equal(i.maxRpidsForSetMinPinLength, 6);
    assert.deepEqual(i.certifications, { FIDO: 1 });
    assert.equal(i.remainingDiscCreds, 50);
    assert.equal(CredentialManagement.isUpdateSupported(i), true);
  });

  it("PIN protocol 2 and getPinUvAuthTokenUsingPinWithPermissions (0x09) with rpId", async () => {
    // Protocol 2 token: IV (16) ‖ AES-256-CBC of a 32-byte token.
    const encryptedToken = encode(new Map([[2, new Uint8Array(48).fill(0x5a)]]));
    const dev = new ScriptedDevice([
      cborBody(TOKEN2_INFO),
      KEY_AGREEMENT_RESPONSE,
      concat(new Uint8Array([0]), encryptedToken),
    ]);
    const ctap = await Ctap2.create(dev);
    const pin = new ClientPin(ctap);
    assert.equal(pin.protocol.version, 2);
    const token = await pin.getPinToken("123456", P.GET_ASSERTION, "a.example");
    assert.equal(token.length, 32);
    const getToken = decode(dev.calls[2].data.subarray(1)) as CborMap;
    assert.equal(getToken.get(1), 2);
    assert.equal(getToken.get(2), 0x09);
    assert.equal(getToken.get(9), P.GET_ASSERTION);
    assert.equal(getToken.get(10), "a.example");
  });

  it("credential management uses the final command 0x0A", async () => {
    const dev = new ScriptedDevice([cborBody(TOKEN2_INFO), cborBody("a10500")]);
    const ctap = await Ctap2.create(dev);
    const cm = new CredentialManagement(ctap, new PinProtocolV1(), new Uint8Array(32));
    assert.deepEqual(await cm.enumerateRps(), []);
    assert.equal(dev.calls[1].data[0], CMD.CM);
  });
});

describe("real key: YubiKey Bio 5.5.6, CTAP 2.1 with a fingerprint (ctap-hid-fido2 getInfo)", () => {
  const info = () => new Info(decode(fromHex(YUBIKEY_BIO_INFO)) as CborMap);

  it("getInfo parses field by field", () => {
    const i = info();
    assert.deepEqual(i.versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"]);
    assert.equal(i.aaguid.toString(), "d8522d9f-575b-4866-88a9-ba99fa02f35b");
    for (const o of ["uv", "uvToken", "alwaysUv", "bioEnroll", "pinUvAuthToken"]) {
      assert.equal(i.options[o], true, o);
    }
    assert.equal(i.options.makeCredUvNotRqd, false);
    assert.equal(i.options.userVerificationMgmtPreview, true);
    assert.equal(i.firmwareVersion, 0x050506);
    assert.equal(i.maxLargeBlob, 1024);
    assert.equal(i.preferredPlatformUvAttempts, 3);
    assert.equal(i.uvModality, 2, "fingerprint");
    assert.equal(i.remainingDiscCreds, 21);
    assert.equal(i.maxRpidsForSetMinPinLength, 1);
    assert.equal(BioEnrollment.isSupported(i), true);
  });

  it("a UV token is asked for with getPinUvAuthTokenUsingUvWithPermissions (0x06), protocol 2", async () => {
    const dev = new ScriptedDevice([
      cborBody(YUBIKEY_BIO_INFO),
      KEY_AGREEMENT_RESPONSE,
      concat(new Uint8Array([0]), encode(new Map([[2, new Uint8Array(48).fill(0x33)]]))),
    ]);
    const ctap = await Ctap2.create(dev);
    const token = await new ClientPin(ctap).getUvToken(P.GET_ASSERTION, "a.example");
    assert.equal(token.length, 32);
    const req = decode(dev.calls[2].data.subarray(1)) as CborMap;
    assert.deepEqual([...req.keys()], [1, 2, 3, 9, 10]);
    assert.deepEqual([req.get(1), req.get(2), req.get(9), req.get(10)], [
      2,
      0x06,
      P.GET_ASSERTION,
      "a.example",
    ]);
  });

  it("bio enrollment goes to the final command 0x09, not the 2.1-PRE 0x40", async () => {
    // The sensor answer is libfido2's recorded one (a fingerprint key of the same family).
    const dev = new ScriptedDevice([
      cborBody(YUBIKEY_BIO_INFO),
      payload([BIO_SENSOR_INFO_REPORT]),
    ]);
    const ctap = await Ctap2.create(dev);
    const bio = new FPBioEnrollment(ctap, new PinProtocolV1(), new Uint8Array(32));
    assert.deepEqual(await bio.getFingerprintSensorInfo(), {
      fingerprintKind: 1,
      maxCaptureSamplesRequiredForEnroll: 4,
    });
    assert.equal(dev.calls[1].data[0], 0x09);
    const req = decode(dev.calls[1].data.subarray(1)) as CborMap;
    assert.deepEqual(req, new Map([[1, 1], [2, 0x07]]), "modality 1, getSensorInfo, no auth");
  });
});

describe("real key: Yubico CTAP 2.2 firmware over NFC (ctap-nfc-sniffer getInfo)", () => {
  /** GET RESPONSE chaining: data of every response APDU; 61xx continues, 9000 ends. */
  function unchain(apdus: readonly string[]): Uint8Array {
    const parts = apdus.map((a) => fromHex(a));
    parts.forEach((p, i) => {
      const sw1 = p[p.length - 2];
      assert.equal(sw1, i === parts.length - 1 ? 0x90 : 0x61, `SW1 of response ${i}`);
    });
    return concat(...parts.map((p) => p.subarray(0, p.length - 2)));
  }

  it("getInfo with the CTAP 2.2 fields parses field by field", async () => {
    const dev = new ScriptedDevice([unchain(YUBICO_CTAP22_NFC_INFO_APDUS)]);
    const i = (await Ctap2.create(dev)).info;
    assert.deepEqual(i.versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1", "FIDO_2_2"]);
    assert.deepEqual(i.extensions, [
      "credProtect",
      "hmac-secret",
      "largeBlobKey",
      "credBlob",
      "minPinLength",
      "hmac-secret-mc",
      "thirdPartyPayment",
      "sign",
    ]);
    assert.equal(i.aaguid.toString(), "f8a011f3-8c0a-4d15-8006-17111f9edc7d");
    assert.equal(i.options.ep, true);
    assert.equal(i.options.perCredMgmtRO, true);
    assert.equal(CredentialManagement.isReadonlySupported(i), true);
    assert.deepEqual(i.algorithms.map((a) => a.alg), [-7, -8, -35]);
    assert.deepEqual(i.attestationFormats, ["packed", "none"]);
    assert.equal(i.remainingDiscCreds, 96);
    assert.equal(i.longTouchForReset, true);
    assert.equal(i.encIdentifier?.length, 32);
    assert.deepEqual(i.transportsForReset, ["usb"]);
    assert.equal(i.pinComplexityPolicy, true);
    assert.equal(latin1(i.pinComplexityPolicyUrl!), "https://example.com");
    assert.equal(i.maxPinLength, 63);
    assert.equal(i.maxLargeBlob, 4096);
  });

  it("PIN protocol 2 with permissions (0x09) and credential management 0x0A", async () => {
    const dev = new ScriptedDevice([
      unchain(YUBICO_CTAP22_NFC_INFO_APDUS),
      KEY_AGREEMENT_RESPONSE,
      concat(new Uint8Array([0]), encode(new Map([[2, new Uint8Array(48).fill(0x11)]]))),
      cborBody("a10500"),
    ]);
    const ctap = await Ctap2.create(dev);
    const pin = new ClientPin(ctap);
    const token = await pin.getPinToken("123456", P.CREDENTIAL_MGMT);
    const req = decode(dev.calls[2].data.subarray(1)) as CborMap;
    assert.deepEqual([req.get(1), req.get(2), req.get(9)], [2, 0x09, P.CREDENTIAL_MGMT]);
    assert.equal(req.has(10), false, "credential management takes no RP ID");
    const cm = new CredentialManagement(ctap, pin.protocol, token);
    assert.deepEqual(await cm.enumerateRps(), []);
    assert.equal(dev.calls[3].data[0], CMD.CM);
  });
});

describe("real key: Feitian (webauthn-rs credential-management answer)", () => {
  it("enumerateRPs on a key without credentials: success with an empty body is an empty list", async () => {
    // Only the credMgmt answer was recorded; the getInfo is the minimum that enables credMgmt.
    const info = new Info(
      new Map<number, unknown>([[1, ["FIDO_2_0", "FIDO_2_1"]], [
        4,
        new Map([["credMgmt", true]]),
      ]]) as CborMap,
    );
    const dev = new ScriptedDevice([cborBody(FEITIAN_ENUMERATE_RPS_EMPTY)]);
    const cm = new CredentialManagement(
      new Ctap2(dev, info),
      new PinProtocolV1(),
      new Uint8Array(16),
    );
    assert.deepEqual(await cm.enumerateRps(), []);
    assert.equal(dev.calls.length, 1, "no GetNextRP");
  });
});

describe("real key: SoloKeys Solo 2 (webauthn-rs recorded registration)", () => {
  it("the malformed Ed25519 credential key is a FormatError, not a credential", async () => {
    // WebAuthn attestationObject → CTAP makeCredential response: text keys fmt/authData/attStmt
    // become 1/2/3; the values are the recorded bytes.
    const att = decode(fromHex(SOLO2_ATTESTATION_OBJECT)) as Map<string, unknown>;
    const body = new Map<number, unknown>([
      [1, att.get("fmt")],
      [2, att.get("authData")],
      [3, att.get("attStmt")],
    ]);
    const dev = new ScriptedDevice([concat(new Uint8Array([0]), encode(body))]);
    const ctap = new Ctap2(dev, new Info(new Map([[1, ["FIDO_2_0", "FIDO_2_1"]]])));
    await assert.rejects(
      ctap.makeCredential({
        clientDataHash: CDH,
        rp: { id: "webauthn.firstyear.id.au" },
        user: { id: new Uint8Array([1]) },
        pubKeyCredParams: [{ type: "public-key", alg: -8 }],
      }),
      (e: unknown) => {
        assert.ok(e instanceof FormatError, `FormatError, got ${e}`);
        assert.match(e.message, /authenticator data|authData|credential public key|trailing/i);
        return true;
      },
    );
  });
});
