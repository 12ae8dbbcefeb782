import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { p256 } from "@noble/curves/nist.js";
import type { CborMap, CborValue } from "../src/cbor.ts";
import { CTAP_STATUS, CtapError } from "../src/ctap.ts";
import { FormatError } from "../src/errors.ts";
import { decapsulate, generateKeyAgreementKey } from "../src/ctap2/key_agreement.ts";
import { PinProtocolV1, PinProtocolV2, verify } from "../src/ctap2/pin_protocol.ts";
import { fromHex, sha256, toHex, utf8Encode } from "../src/utils.ts";

// research/python-fido2-vectors.md §3.1 (verbatim python-fido2 tests) and §3.2 (derived v2).
const PLATFORM_SK = fromHex("7452e599fee739d8a653f6a507343d12d382249108a651402520b72f24fe7684");
const PLATFORM_X = "44d78d7989b97e62ea993496c9ef6e8fd58b8b00715f9a89153ddd9c4657e47f";
const PLATFORM_Y = "ec802ee7d22bd4e100f12e48537eb4e7e96ed3a47a0a3bd5f5eeab65001664f9";
const AUTH_X = "0501d5bc78da9252560a26cb08fcc60cbe0b6d3b8e1d1fcee514fac0af675168";
const AUTH_Y = "d551b3ed46f665731f95b4532939c25d91db7eb844bd96d4abd4083785f8df47";
const V1_SHARED = "c42a039d548100dfba521e487debcbbb8b66bb7496f8b1862a7a395ed83e1a1c";
const V2_SHARED = "65ef955dd8cfcacab489ad582d64b872299cec1970aeffb10c90b9d9f4b4f1a7" +
  "46cc03964825ccbaf159fde1958b2063871bd5b66ecf28972eaac583214a22d8";
const FIXED_IV = fromHex("000102030405060708090a0b0c0d0e0f");
const TOKEN32 = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

function cose(x: string, y: string): CborMap {
  return new Map<CborValue, CborValue>([[1, 2], [3, -25], [-1, 1], [-2, fromHex(x)], [
    -3,
    fromHex(y),
  ]]);
}
const AUTH_KEY = cose(AUTH_X, AUTH_Y);
const pinHash = (pin: string) => sha256(utf8Encode(pin)).slice(0, 16);
function padPin(pin: string): Uint8Array {
  const out = new Uint8Array(64);
  out.set(utf8Encode(pin));
  return out;
}
const fixedIv = () => new PinProtocolV2({ random: () => FIXED_IV.slice() });

describe("PinProtocolV1 (python-fido2 TestClientPin vectors)", () => {
  const v1 = new PinProtocolV1();
  it("establishes the shared secret and returns the platform key", async () => {
    const { keyAgreement, sharedSecret } = await v1.encapsulate(AUTH_KEY, PLATFORM_SK);
    assert.equal(toHex(sharedSecret), V1_SHARED);
    assert.equal(keyAgreement.get(1), 2);
    assert.equal(keyAgreement.get(3), -25);
    assert.equal(keyAgreement.get(-1), 1);
    assert.equal(toHex(keyAgreement.get(-2) as Uint8Array), PLATFORM_X);
    assert.equal(toHex(keyAgreement.get(-3) as Uint8Array), PLATFORM_Y);
    assert.equal(v1.version, 1);
  });
  it("encrypts the PIN hash and decrypts the token", async () => {
    const shared = fromHex(V1_SHARED);
    assert.equal(
      toHex(await v1.encrypt(shared, pinHash("1234"))),
      "afe8327ce416da8ee3d057589c2ce1a9",
    );
    const token = await v1.decrypt(shared, fromHex("7a9f98e31b77be90f9c64d12e9635040"));
    assert.equal(toHex(v1.validateToken(token)), "aff12c6dcfbf9df52f7a09211e8865cd");
  });
  it("setPin and changePin parameters", async () => {
    const shared = fromHex(V1_SHARED);
    const newPinEnc = await v1.encrypt(shared, padPin("1234"));
    assert.equal(
      toHex(newPinEnc),
      "0222fc42c6dd76a274a7057858b9b29d98e8a722ec2dc6668476168c5320473c" +
        "ec9907b4cd76ce7943c96ba5683943211d84471e64d9c51e54763488cd66526a",
    );
    assert.equal(toHex(v1.authenticate(shared, newPinEnc)), "7b40c084ccc5794194189ab57836475f");
    const enc2 = await v1.encrypt(shared, padPin("4321"));
    assert.equal(
      toHex(enc2),
      "4280e14aac4fcbf02dd079985f0c0ffc9ea7d5f9c173fd1a4c843826f7590cb3" +
        "c2d080c6923e2fe6d7a52c31ea1309d3fcca3dedae8a2ef14b6330cafc79339e",
    );
    const hashEnc = await v1.encrypt(shared, pinHash("1234"));
    const param = v1.authenticate(shared, new Uint8Array([...enc2, ...hashEnc]));
    assert.equal(toHex(param), "fb97e92f3724d7c85e001d7f93e6490a");
    assert.equal(toHex(await v1.decrypt(shared, enc2)), toHex(padPin("4321")));
  });
  it("authenticate truncates to 16 bytes (§3.2)", () => {
    const mac = v1.authenticate(TOKEN32, new Uint8Array(32));
    assert.equal(toHex(mac), "416c5392b9f36df188e90eb14d17bf0d");
    assert.ok(PinProtocolV1.verify(TOKEN32, new Uint8Array(32), mac));
    assert.ok(verify(1, TOKEN32, new Uint8Array(32), mac));
    const bad = mac.slice();
    bad[15] ^= 1;
    assert.equal(PinProtocolV1.verify(TOKEN32, new Uint8Array(32), bad), false);
    assert.equal(PinProtocolV1.verify(TOKEN32, new Uint8Array(32), mac.subarray(0, 15)), false);
  });
  it("validates token lengths", () => {
    assert.throws(() => v1.validateToken(new Uint8Array(15)), FormatError);
    assert.equal(v1.validateToken(TOKEN32).length, 32);
  });
});

describe("PinProtocolV2 (derived vectors)", () => {
  it("derives hmacKey ‖ aesKey", async () => {
    const { sharedSecret } = await new PinProtocolV2().encapsulate(AUTH_KEY, PLATFORM_SK);
    assert.equal(toHex(sharedSecret), V2_SHARED);
  });
  it("encrypts with an IV prefix and decrypts back", async () => {
    const v2 = fixedIv();
    const shared = fromHex(V2_SHARED);
    const ct = await v2.encrypt(shared, pinHash("1234"));
    assert.equal(
      toHex(ct),
      "000102030405060708090a0b0c0d0e0f09870d15a35707bcc287efb5be976011",
    );
    assert.equal(toHex(await v2.decrypt(shared, ct)), toHex(pinHash("1234")));
  });
  it("setPin parameters", async () => {
    const v2 = fixedIv();
    const shared = fromHex(V2_SHARED);
    const newPinEnc = await v2.encrypt(shared, padPin("1234"));
    assert.equal(
      toHex(newPinEnc),
      "000102030405060708090a0b0c0d0e0f76f442d0c109cfc29362cfdea56c2dd2a64f2a11b02e40df972a71df" +
        "1011cf8426ff2f3887edf477a73a518467f90ff76adf360c00e8cd95e2eef66012267ec2",
    );
    assert.equal(
      toHex(v2.authenticate(shared, newPinEnc)),
      "cbd8ce828e9847125882660c6f7ffd3b71e5dbb13039a2b37dbae9d50f7c34cb",
    );
  });
  it("authenticate: full HMAC, first 32 bytes of the key", () => {
    const v2 = new PinProtocolV2();
    const mac = v2.authenticate(TOKEN32, new Uint8Array(32));
    assert.equal(toHex(mac), "416c5392b9f36df188e90eb14d17bf0da190bfdb7f1f4956e6e566a569c8b15c");
    assert.equal(
      toHex(v2.authenticate(fromHex(V2_SHARED), utf8Encode("abc"))),
      "c556c79e0fbcb9692ce33c2ed7a71bc2da927f61e3c188d54315a5b06bf3106f",
    );
    assert.ok(verify(2, TOKEN32, new Uint8Array(32), mac));
    assert.equal(verify(2, TOKEN32, new Uint8Array(32), mac.subarray(0, 16)), false);
    assert.equal(verify(3, TOKEN32, new Uint8Array(32), mac), false);
  });
  it("random IVs differ and tokens must be 32 bytes", async () => {
    const v2 = new PinProtocolV2();
    const shared = fromHex(V2_SHARED);
    const a = await v2.encrypt(shared, new Uint8Array(16));
    const b = await v2.encrypt(shared, new Uint8Array(16));
    assert.notEqual(toHex(a), toHex(b));
    assert.throws(() => v2.validateToken(new Uint8Array(16)), FormatError);
  });
  it("rejects wrong key sizes and short ciphertexts", async () => {
    const v2 = new PinProtocolV2();
    await assert.rejects(v2.encrypt(TOKEN32, new Uint8Array(16)), FormatError);
    await assert.rejects(v2.decrypt(fromHex(V2_SHARED), new Uint8Array(8)), FormatError);
    assert.throws(() => v2.authenticate(new Uint8Array(16), new Uint8Array(1)), FormatError);
  });
  // Found by tests/fuzz/pin_protocol.test.ts: an empty ciphertext skipped the key check.
  it("an empty ciphertext still needs a key of the right size", async () => {
    await assert.rejects(
      new PinProtocolV1().decrypt(new Uint8Array(0), new Uint8Array(0)),
      FormatError,
    );
    await assert.rejects(new PinProtocolV2().decrypt(TOKEN32, new Uint8Array(16)), FormatError);
    assert.equal(
      (await new PinProtocolV1().decrypt(new Uint8Array(32), new Uint8Array(0))).length,
      0,
    );
  });
});

describe("AES-CBC without padding", () => {
  for (const P of [PinProtocolV1, PinProtocolV2]) {
    it(`v${new P().version}: round-trips 0..80 bytes and rejects partial blocks`, async () => {
      const p = new P();
      const key = P === PinProtocolV1 ? fromHex(V1_SHARED) : fromHex(V2_SHARED);
      for (const n of [0, 16, 32, 64, 80]) {
        const pt = new Uint8Array(n).map((_, i) => i * 7);
        const ct = await p.encrypt(key, pt);
        assert.equal(ct.length, n + (p.version === 2 ? 16 : 0));
        assert.equal(toHex(await p.decrypt(key, ct)), toHex(pt));
      }
      await assert.rejects(p.encrypt(key, new Uint8Array(15)), FormatError);
      await assert.rejects(p.decrypt(key, new Uint8Array(p.version === 2 ? 33 : 17)), FormatError);
    });
  }
  it("decrypting garbage yields garbage, not a padding error", async () => {
    const v1 = new PinProtocolV1();
    const out = await v1.decrypt(fromHex(V1_SHARED), new Uint8Array(32).fill(0xab));
    assert.equal(out.length, 32);
  });
});

describe("authenticator side", () => {
  it("decapsulate agrees with encapsulate for both versions", async () => {
    for (const P of [PinProtocolV1, PinProtocolV2]) {
      const p = new P();
      const kp = generateKeyAgreementKey();
      const { keyAgreement, sharedSecret } = await p.encapsulate(kp.publicKey);
      assert.equal(toHex(decapsulate(p.version, kp.privateKey, keyAgreement)), toHex(sharedSecret));
    }
  });
  it("a fresh platform key agrees with an independent P-256 (noble) on Z", async () => {
    // node:crypto does both sides of encapsulate/decapsulate: check it against another curve.
    const kp = generateKeyAgreementKey();
    assert.equal(kp.privateKey.length, 32);
    const authPoint = p256.getPublicKey(kp.privateKey, false);
    assert.equal(toHex(kp.publicKey.get(-2) as Uint8Array), toHex(authPoint.subarray(1, 33)));
    assert.equal(toHex(kp.publicKey.get(-3) as Uint8Array), toHex(authPoint.subarray(33)));
    for (const P of [PinProtocolV1, PinProtocolV2]) {
      const { keyAgreement, sharedSecret } = await new P().encapsulate(kp.publicKey);
      const platform = new Uint8Array([
        4,
        ...keyAgreement.get(-2) as Uint8Array,
        ...keyAgreement.get(-3) as Uint8Array,
      ]);
      const z = p256.getSharedSecret(kp.privateKey, platform, true).slice(1);
      assert.equal(toHex(sharedSecret), toHex(P.kdf(z)));
    }
  });
  it("decapsulate with the vector keys", () => {
    // The authenticator's private key is unknown, but ECDH is symmetric: use the platform's.
    assert.equal(toHex(decapsulate(1, PLATFORM_SK, AUTH_KEY)), V1_SHARED);
    assert.equal(toHex(decapsulate(2, PLATFORM_SK, AUTH_KEY)), V2_SHARED);
  });
  it("rejects off-curve, malformed and unknown-protocol keys", async () => {
    const bad = cose(AUTH_X, AUTH_Y.replace(/.$/, "0"));
    const isInvalidParam = (e: unknown) =>
      e instanceof CtapError && e.code === CTAP_STATUS.INVALID_PARAMETER;
    assert.throws(() => decapsulate(2, PLATFORM_SK, bad), isInvalidParam);
    assert.throws(
      () => decapsulate(2, PLATFORM_SK, cose("00".repeat(32), "00".repeat(32))),
      isInvalidParam,
    );
    const noY = new Map(AUTH_KEY);
    noY.delete(-3);
    assert.throws(() => decapsulate(1, PLATFORM_SK, noY), isInvalidParam);
    const wrongCrv = new Map(AUTH_KEY).set(-1, 2);
    assert.throws(() => decapsulate(1, PLATFORM_SK, wrongCrv), isInvalidParam);
    const wrongKty = new Map(AUTH_KEY).set(1, 1);
    assert.throws(() => decapsulate(1, PLATFORM_SK, wrongKty), isInvalidParam);
    const shortX = new Map(AUTH_KEY).set(-2, new Uint8Array(31));
    assert.throws(() => decapsulate(1, PLATFORM_SK, shortX), isInvalidParam);
    assert.throws(() => decapsulate(3, PLATFORM_SK, AUTH_KEY), isInvalidParam);
    // The client side reports the same defects as FormatError.
    await assert.rejects(new PinProtocolV2().encapsulate(bad), FormatError);
    await assert.rejects(new PinProtocolV1().encapsulate(shortX), FormatError);
  });
});
