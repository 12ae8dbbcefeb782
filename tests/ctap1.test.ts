import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  APDU,
  ApduError,
  certificatePublicKey,
  Ctap1,
  RegistrationData,
  SignatureData,
} from "../src/ctap1.ts";
import { FormatError, UnsupportedAlgorithmError } from "../src/errors.ts";
import { concat, fromHex, toHex } from "../src/utils.ts";
import { AttestationObject } from "../src/webauthn/authdata.ts";
import { ScriptedDevice } from "./helpers/scripted_device.ts";
import { U2F_ATTOBJ, U2F_REG_YUBICO, U2F_REGISTER_RESP } from "./helpers/vectors.ts";

const REG_CLIENT = "4142d21c00d94ffb9d504ada8f99b721f4b191ae4e37ca0140f696b6983cfacb";
const REG_APP = "f0e6a6a97042a4f1f1c87f5f7d44315b2d852c2df5c7991cc66241bf7072d1c4";
const AUTH_CLIENT = "ccd6ee2e47baef244d49a222db496bad0ef5b6f93aa7cc4d30c4821b3b9dbc57";
const AUTH_APP = "4b0be934baebb5d12d26011b69227fa5e86df94e7d94aa2949a89f2d493992ca";
const AUTH_RESP =
  "0100000001304402204b5f0cd17534cedd8c34ee09570ef542a353df4436030ce43d406de870b847780220267bb998fac9b7266eb60e7cb0b5eabdfd5ba9614f53c7b22272ec10047a923f";
const AUTH_PUBKEY =
  "04d368f1b665bade3c33a20f1e429c7750d5033660c019119d29aa4ba7abc04aa7c80a46bbe11ca8cb5674d74f31f8a903f6bad105fb6ab74aefef4db8b0025e1d";

describe("Ctap1.sendApdu (python-fido2 test_ctap1.py)", () => {
  it("frames an extended-length APDU and strips the status word", async () => {
    const dev = new ScriptedDevice(["726573706f6e73659000"]);
    const res = await new Ctap1(dev).sendApdu(1, 2, 3, 4, new TextEncoder().encode("foobar"));
    assert.equal(new TextDecoder().decode(res), "response");
    assert.equal(dev.calls[0].cmd, 0x03);
    assert.deepEqual(dev.requestsHex, ["01020304000006666f6f6261720000"]);
  });

  it("maps a non-9000 status word to ApduError with code and data", async () => {
    const dev = new ScriptedDevice(["6572726a80"]);
    const err = await new Ctap1(dev).sendApdu(1, 2, 3, 4, new TextEncoder().encode("foobar"))
      .catch((e) => e);
    assert.ok(err instanceof ApduError);
    assert.equal(err.code, APDU.WRONG_DATA);
    assert.equal(new TextDecoder().decode(err.data), "err");
  });

  it("reports USE_NOT_SATISFIED (touch needed) as ApduError 0x6985", async () => {
    const dev = new ScriptedDevice(["6985"]);
    const c = new Ctap1(dev);
    await assert.rejects(
      c.register(fromHex(REG_CLIENT), fromHex(REG_APP)),
      (e) => e instanceof ApduError && e.code === 0x6985 && e.data.length === 0,
    );
  });

  it("rejects a response shorter than a status word", async () => {
    const dev = new ScriptedDevice(["90"]);
    await assert.rejects(new Ctap1(dev).getVersion(), FormatError);
  });

  it("rejects bad header bytes and oversize data before sending", async () => {
    const dev = new ScriptedDevice([]);
    const c = new Ctap1(dev);
    await assert.rejects(c.sendApdu(256, 0, 0, 0), FormatError);
    await assert.rejects(c.sendApdu(0, 0, 0, 0, new Uint8Array(65536)), FormatError);
    assert.equal(dev.calls.length, 0);
  });

  it("passes call options through to the device", async () => {
    const dev = new ScriptedDevice(["9000"]);
    const signal = new AbortController().signal;
    await new Ctap1(dev).sendApdu(0, 3, 0, 0, undefined, { signal });
    assert.equal(dev.calls[0].opts?.signal, signal);
  });
});

describe("Ctap1 commands", () => {
  it("getVersion", async () => {
    const dev = new ScriptedDevice(["5532465f56329000"]);
    assert.equal(await new Ctap1(dev).getVersion(), "U2F_V2");
    assert.deepEqual(dev.requestsHex, ["000300000000000000"]);
  });

  it("register: request bytes, parsed fields, attestation signature", async () => {
    const dev = new ScriptedDevice([U2F_REGISTER_RESP + "9000"]);
    const reg = await new Ctap1(dev).register(fromHex(REG_CLIENT), fromHex(REG_APP));
    assert.deepEqual(dev.requestsHex, ["00010000000040" + REG_CLIENT + REG_APP + "0000"]);
    const raw = fromHex(U2F_REGISTER_RESP);
    assert.equal(
      toHex(reg.publicKey),
      "04b174bc49c7ca254b70d2e5c207cee9cf174820ebd77ea3c65508c26da51b657c1cc6b952f8621697936482da0a6d3d3826a59095daf6cd7c03e2e60385d2f6d9",
    );
    assert.equal(
      toHex(reg.keyHandle),
      "2a552dfdb7477ed65fd84133f86196010b2215b57da75d315b7b9e8fe2e3925a6019551bab61d16591659cbaf00b4950f7abfe6660e2e006f76868b772d70c25",
    );
    assert.equal(reg.certificate.length, 320);
    assert.deepEqual(reg.certificate, raw.subarray(1 + 65 + 1 + 64, 1 + 65 + 1 + 64 + 320));
    assert.equal(
      toHex(reg.signature),
      "304502201471899bcc3987e62e8202c9b39c33c19033f7340352dba80fcab017db9230e402210082677d673d891933ade6f617e5dbde2e247e70423fd5ad7804a6d3d3961ef871",
    );
    assert.deepEqual(reg.raw, raw);
    assert.equal(await reg.verify(fromHex(REG_APP), fromHex(REG_CLIENT)), true);
    // A different client parameter must not verify.
    const other = fromHex(REG_CLIENT);
    other[0] ^= 1;
    assert.equal(await reg.verify(fromHex(REG_APP), other), false);
  });

  it("authenticate: request bytes, parsed fields, signature", async () => {
    const kh = new Uint8Array(64).fill(3);
    const dev = new ScriptedDevice([AUTH_RESP + "9000"]);
    const sig = await new Ctap1(dev).authenticate(fromHex(AUTH_CLIENT), fromHex(AUTH_APP), kh);
    assert.deepEqual(dev.requestsHex, [
      "0002030000" + "0081" + AUTH_CLIENT + AUTH_APP + "40" + toHex(kh) + "0000",
    ]);
    assert.equal(sig.userPresence, 1);
    assert.equal(sig.counter, 1);
    assert.equal(toHex(sig.signature), AUTH_RESP.slice(10));
    assert.equal(
      await sig.verify(fromHex(AUTH_APP), fromHex(AUTH_CLIENT), fromHex(AUTH_PUBKEY)),
      true,
    );
    assert.equal(
      await sig.verify(fromHex(AUTH_CLIENT), fromHex(AUTH_APP), fromHex(AUTH_PUBKEY)),
      false,
    );
  });

  it("authenticate with a short key handle, and check-only (P1 = 07)", async () => {
    const kh = new Uint8Array(8).fill(4);
    const dev = new ScriptedDevice([AUTH_RESP + "9000", "6985"]);
    const c = new Ctap1(dev);
    await c.authenticate(fromHex(AUTH_CLIENT), fromHex(AUTH_APP), kh);
    await assert.rejects(
      c.authenticate(fromHex(AUTH_CLIENT), fromHex(AUTH_APP), kh, true),
      (e) => e instanceof ApduError && e.code === APDU.USE_NOT_SATISFIED,
    );
    const body = AUTH_CLIENT + AUTH_APP + "08" + toHex(kh) + "0000";
    assert.deepEqual(dev.requestsHex, ["0002030000" + "0049" + body, "0002070000" + "0049" + body]);
  });

  it("rejects parameters that are not 32 bytes and key handles over 255 bytes", async () => {
    const c = new Ctap1(new ScriptedDevice([]));
    await assert.rejects(c.register(new Uint8Array(31), new Uint8Array(32)), FormatError);
    await assert.rejects(
      c.authenticate(new Uint8Array(32), new Uint8Array(32), new Uint8Array(256)),
      FormatError,
    );
  });
});

describe("RegistrationData parsing", () => {
  const raw = fromHex(U2F_REGISTER_RESP);

  it("rejects a wrong reserved byte", () => {
    const bad = raw.slice();
    bad[0] = 0x04;
    assert.throws(() => new RegistrationData(bad), FormatError);
  });

  it("rejects truncation anywhere", () => {
    for (const n of [0, 1, 40, 66, 67, 100, 131, 135, 300, 451]) {
      assert.throws(() => new RegistrationData(raw.subarray(0, n)), FormatError, `length ${n}`);
    }
  });

  it("rejects a certificate that is not a DER SEQUENCE or whose length overruns", () => {
    const bad = raw.slice();
    bad[131] = 0x31;
    assert.throws(() => new RegistrationData(bad), FormatError);
    const long = raw.slice();
    long[133] = 0x7f; // 30 82 7f 3c: longer than the data
    assert.throws(() => new RegistrationData(long), FormatError);
  });

  it("parses the Yubico registration and matches python-fido2's fido-u2f attestation object", async () => {
    const reg = new RegistrationData(fromHex(U2F_REG_YUBICO));
    const app = fromHex("1194228da8fdbdeefd261bd7b6595cfd70a50d70c6407bcf013de96d4efb17de");
    const cdh = fromHex("687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e602645f141");
    assert.equal(reg.certificate.length, 590);
    assert.equal(await reg.verify(app, cdh), true);
    assert.equal(toHex(AttestationObject.fromCtap1(app, reg).raw), U2F_ATTOBJ);
  });
});

describe("certificatePublicKey", () => {
  it("reads the P-256 point from the certificate", () => {
    const reg = new RegistrationData(fromHex(U2F_REGISTER_RESP));
    assert.equal(
      toHex(certificatePublicKey(reg.certificate)),
      "048d617e65c9508e64bcc5673ac82a6799da3c1446682c258c463fffdf58dfd2fa3e6c378b53d795c4a4dffb4199edd7862f23abaf0203b4b8911ba0569994e101",
    );
  });

  it("rejects a non-P-256 key and garbage", () => {
    const reg = new RegistrationData(fromHex(U2F_REGISTER_RESP));
    const cert = reg.certificate.slice();
    const oid = toHex(cert).indexOf("2a8648ce3d030107") / 2;
    cert[oid + 7] = 0x22; // a different curve OID
    assert.throws(() => certificatePublicKey(cert), UnsupportedAlgorithmError);
    assert.throws(
      () => certificatePublicKey(new Uint8Array([0x30, 0x03, 0x02, 0x01])),
      FormatError,
    );
    assert.throws(() => certificatePublicKey(new Uint8Array([0x04, 0x00])), FormatError);
  });
});

describe("SignatureData parsing", () => {
  it("rejects data too short for presence, counter and a signature", () => {
    for (const n of [0, 1, 4, 5]) {
      assert.throws(() => new SignatureData(fromHex(AUTH_RESP).subarray(0, n)), FormatError);
    }
  });

  it("reads a big-endian counter", () => {
    const s = new SignatureData(concat(fromHex("01fffffffe"), new Uint8Array([0x30])));
    assert.equal(s.counter, 0xfffffffe);
  });
});
