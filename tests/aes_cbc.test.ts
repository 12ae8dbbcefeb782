import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { aesCbcDecryptNoPad, aesCbcEncryptNoPad } from "../src/ctap2/aes_cbc.ts";
import { FormatError } from "../src/errors.ts";
import { fromHex, toHex } from "../src/utils.ts";

// NIST SP 800-38A, F.2.1 (CBC-AES128) and F.2.5 (CBC-AES256): four blocks, no padding.
const IV = fromHex("000102030405060708090a0b0c0d0e0f");
const PLAIN = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51" +
  "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const VECTORS = [
  {
    name: "AES-128 (encIdentifier, encCredStoreState)",
    key: "2b7e151628aed2a6abf7158809cf4f3c",
    cipher: "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2" +
      "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
  },
  {
    name: "AES-256 (PIN/UV auth protocols)",
    key: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    cipher: "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d" +
      "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
  },
];

describe("AES-CBC without padding (SP 800-38A vectors)", () => {
  for (const v of VECTORS) {
    it(`${v.name}: encrypts and decrypts exactly the blocks given`, async () => {
      const key = fromHex(v.key);
      const ct = await aesCbcEncryptNoPad(key, IV, fromHex(PLAIN));
      assert.equal(toHex(ct), v.cipher);
      assert.equal(Object.getPrototypeOf(ct), Uint8Array.prototype);
      const pt = await aesCbcDecryptNoPad(key, IV, fromHex(v.cipher));
      assert.equal(toHex(pt), PLAIN);
      assert.equal(Object.getPrototypeOf(pt), Uint8Array.prototype);
      // A suffix of the chain decrypts with the preceding block as its IV.
      const tail = await aesCbcDecryptNoPad(key, ct.subarray(16, 32), ct.subarray(32));
      assert.equal(toHex(tail), PLAIN.slice(64));
    });
  }
  it("whole blocks only, and AES key and IV sizes, as FormatError", async () => {
    const key = new Uint8Array(32);
    await assert.rejects(aesCbcEncryptNoPad(key, IV, new Uint8Array(17)), {
      name: "FormatError",
      message: "AES-CBC plaintext length 17 is not a multiple of 16",
    });
    await assert.rejects(aesCbcDecryptNoPad(key, IV, new Uint8Array(8)), {
      name: "FormatError",
      message: "AES-CBC ciphertext length 8 is not a multiple of 16",
    });
    await assert.rejects(
      aesCbcDecryptNoPad(new Uint8Array(20), IV, new Uint8Array(16)),
      (e: unknown) => e instanceof FormatError && /16, 24 or 32 bytes, got 20/.test(e.message),
    );
    await assert.rejects(
      aesCbcEncryptNoPad(key, new Uint8Array(8), new Uint8Array(16)),
      (e: unknown) => e instanceof FormatError && /IV is 16 bytes, got 8/.test(e.message),
    );
  });
  it("an empty message is an empty answer", async () => {
    assert.equal((await aesCbcEncryptNoPad(new Uint8Array(16), IV, new Uint8Array(0))).length, 0);
    assert.equal((await aesCbcDecryptNoPad(new Uint8Array(16), IV, new Uint8Array(0))).length, 0);
  });
});
