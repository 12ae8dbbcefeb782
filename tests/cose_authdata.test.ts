import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CborValue, decode, encode } from "../src/cbor.ts";
import {
  CoseKey,
  Ed25519,
  EdDSA,
  ES256,
  ES384,
  ESP256,
  PS256,
  RS1,
  RS256,
  UnsupportedKey,
} from "../src/cose.ts";
import {
  Aaguid,
  AttestationObject,
  AttestedCredentialData,
  AuthenticatorData,
  FLAG,
} from "../src/webauthn/authdata.ts";
import { FormatError, UnsupportedAlgorithmError } from "../src/errors.ts";
import { fromHex, sha256, toHex } from "../src/utils.ts";
import { p384 } from "@noble/curves/nist.js";
import { sha384 } from "@noble/hashes/sha2.js";

// Vectors: python-fido2 tests/test_cose.py and tests/test_ctap2.py (see research notes).
const ES256_KEY =
  "a5010203262001215820a5fd5ce1b1c458c530a54fa61b31bf6b04be8b97afde54dd8cbb69275a8a1be1225820fa3a3231dd9deed9d1897be5a6228c59501e4bcd12975d3dff730f01278ea61c";
const ES256_MSG =
  "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12010000002c7b89f12a9088b0f5ee0ef8f6718bccc374249c31aeebaeb79bd0450132cd536c";
const ES256_SIG =
  "304402202b3933fe954a2d29de691901eb732535393d4859aaa80d58b08741598109516d0220236fbe6b52326c0a6b1cfdc6bf0a35bda92a6c2e41e40c3a1643428d820941e0";
const RS256_KEY =
  "a401030339010020590100b610dce84b65029fae24f7bf8a1730d37bc91435642a628e691e9b030bf3f7cec59ff91cbe82c54de16c136fa4fa8a58939b5a950b32e03073592fec8d8b33601c04f70e5e2d5cf7b4e805e1990ea5a86928a1b390eb9026527933acc03e6e41dc0be40aa5eb7b9b460743e4dd80895a758fb3f3f794e5e9b8310d3a60c28f2410d95cf6e732749a243a30475267628b456de770bc2185bbed1d451ecb0062a3d132c0e4d842e0ddf93a444a3ee33a85c2e913156361713155f1f1dc64e8e68ed176466553bbde669eb82810b104cb4407d32ae6316c3bd6f382ec3ae2c5fd49304986d64d92ed11c25b6c5cf1287233545a987e9a3e169f99790603dba5c8ad2143010001";
const RS256_MSG =
  "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12010000002ecc9340fd84950987ba667dbe9b2c97c7241e15e2b54869a0dd1ce2013c4064b8";
const RS256_SIG =
  "071b707d11f0e7f62861dfaca89c4e674321ad8a6e329fdd40c7d6971348fbb0514e7b2b0efe215baac0365c4124a808f8180d6575b710e7c01dae8f052d0c5a2ce82f487c656e7ad824f3d699be389addde2cbf39e87a8955e93202bae8830ab4139a7688dfdad849f1bb689f3852ba05bed70897553cc44704f6941fd1467ad6a46b4dab503716d386fe7b398e78e0a5a8c4040539d2c9bfa37e4d94f96091ffd1d194de2ca58e9124a39757f013801421e09bd261ada31992a8b0386a80af51a87bd0cee8fdab0d4651477670d4c7b245489bed30a57b83964db79418d5a4f5f2e5abca274426c9f90b007a962ae15dff7343af9e110746e2db9226d785c6";
const ED_KEY =
  "a4010103272006215820ee9b21803405d3cf45601e58b6f4c06ea93862de87d3af903c5870a5016e86f5";
const ED_MSG =
  "a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947010000000500a11a323057d1103784ddff99a354ddd42348c2f00e88d8977b916cabf92268";
const ED_SIG =
  "e8c927ef1a57c738ff4ba8d6f90e06d837a5219eee47991f96b126b0685d512520c9c2eedebe4b88ff2de2b19cb5f8686efc7c4261e9ed1cb3ac5de50869be0a";

const ACD =
  "f8a011f38c0a4d15800617111f9edc7d0040fe3aac036d14c1e1c65518b698dd1da8f596bc33e11072813466c6bf3845691509b80fb76d59309b8d39e0a93452688f6ca3a39a76f3fc52744fb73948b15783a5010203262001215820643566c206dd00227005fa5de69320616ca268043a38f08bde2e9dc45a5cafaf225820171353b2932434703726aae579fa6542432861fe591e481ea22d63997e1a5290";
const RPH = "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12";
const MC_AUTH = RPH + "410000001c" + ACD;
const GA_AUTH = RPH + "010000001d";

function flip(hex: string, at: number): Uint8Array {
  const b = fromHex(hex);
  b[at] ^= 1;
  return b;
}

describe("cose", () => {
  it("ES256 parses and verifies", async () => {
    const key = CoseKey.parse(decode(fromHex(ES256_KEY)));
    assert.ok(key instanceof ES256);
    assert.equal(key.alg, -7);
    assert.equal(await key.verify(fromHex(ES256_MSG), fromHex(ES256_SIG)), true);
    assert.equal(await key.verify(flip(ES256_MSG, 3), fromHex(ES256_SIG)), false);
    assert.equal(await key.verify(fromHex(ES256_MSG), new Uint8Array([1, 2, 3])), false);
  });
  it("ESP256 (alg -9) uses the same verification", async () => {
    const key = CoseKey.parse(decode(fromHex(ES256_KEY.replace("0326", "0328"))));
    assert.ok(key instanceof ESP256);
    assert.equal(await key.verify(fromHex(ES256_MSG), fromHex(ES256_SIG)), true);
  });
  it("RS256 parses and verifies", async () => {
    const key = CoseKey.parse(decode(fromHex(RS256_KEY)));
    assert.ok(key instanceof RS256);
    assert.equal(await key.verify(fromHex(RS256_MSG), fromHex(RS256_SIG)), true);
    assert.equal(await key.verify(flip(RS256_MSG, 5), fromHex(RS256_SIG)), false);
  });
  it("EdDSA and Ed25519 verify", async () => {
    const key = CoseKey.parse(decode(fromHex(ED_KEY)));
    assert.ok(key instanceof EdDSA);
    assert.equal(await key.verify(fromHex(ED_MSG), fromHex(ED_SIG)), true);
    assert.equal(await key.verify(flip(ED_MSG, 0), fromHex(ED_SIG)), false);
    const k2 = CoseKey.parse(decode(fromHex(ED_KEY.replace("0327", "0332"))));
    assert.ok(k2 instanceof Ed25519);
    assert.equal(await k2.verify(fromHex(ED_MSG), fromHex(ED_SIG)), true);
  });
  it("ES384 verifies a signature made with noble", async () => {
    const priv = p384.utils.randomSecretKey();
    const pub = p384.getPublicKey(priv, false);
    const key = CoseKey.parse(
      new Map<number, number | Uint8Array>([[1, 2], [3, -35], [-1, 2], [-2, pub.slice(1, 49)], [
        -3,
        pub.slice(49),
      ]]),
    );
    assert.ok(key instanceof ES384);
    const msg = new TextEncoder().encode("hello");
    const sig = p384.sign(sha384(msg), priv, { prehash: false, format: "der" });
    assert.equal(await key.verify(msg, sig), true);
  });
  it("RSA-PSS and RS1 verify WebCrypto signatures", async () => {
    for (
      const [cls, alg, params, sign] of [
        [PS256, -37, { name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 222 }],
        [RS1, -65535, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-1" }, { name: "RSASSA-PKCS1-v1_5" }],
      ] as const
    ) {
      const kp = await crypto.subtle.generateKey(
        { ...params, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
        true,
        ["sign", "verify"],
      ) as CryptoKeyPair;
      const jwk = await crypto.subtle.exportKey("jwk", kp.publicKey);
      const { b64urlDecode } = await import("../src/utils.ts");
      const key = CoseKey.parse(
        new Map<number, number | Uint8Array>([[1, 3], [3, alg], [-1, b64urlDecode(jwk.n!)], [
          -2,
          b64urlDecode(jwk.e!),
        ]]),
      );
      assert.ok(key instanceof cls);
      const msg = new TextEncoder().encode("message");
      const sig = new Uint8Array(await crypto.subtle.sign(sign, kp.privateKey, msg));
      assert.equal(await key.verify(msg, sig), true);
      assert.equal(await key.verify(new TextEncoder().encode("other"), sig), false);
    }
  });
  it("unsupported algorithms parse but cannot verify", async () => {
    const map = new Map<number, number | Uint8Array>([[1, 4711], [3, 4712], [
      -1,
      fromHex("313233"),
    ]]);
    const key = CoseKey.parse(map);
    assert.ok(key instanceof UnsupportedKey);
    assert.deepEqual(key.map, map);
    await assert.rejects(key.verify(), UnsupportedAlgorithmError);
  });
  it("rejects malformed keys with FormatError", async () => {
    assert.throws(() => CoseKey.parse(new Map([[1, 2]])), FormatError);
    assert.throws(() => CoseKey.parse([1, 2]), FormatError);
    const k = CoseKey.parse(
      new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, new Uint8Array(5)]]),
    );
    await assert.rejects(k.verify(new Uint8Array(1), new Uint8Array(70)), FormatError);
    const wrongCurve = CoseKey.parse(new Map<number, number>([[1, 2], [3, -7], [-1, 2]]));
    await assert.rejects(
      wrongCurve.verify(new Uint8Array(1), new Uint8Array(70)),
      UnsupportedAlgorithmError,
    );
  });
  it("fromCryptoKey: WebCrypto keys become COSE keys that verify their signatures", async () => {
    const msg = new TextEncoder().encode("signed");
    const cases = [
      [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }, ES256],
      [{ name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }, ES384],
      [
        {
          name: "RSASSA-PKCS1-v1_5",
          hash: "SHA-256",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
        },
        { name: "RSASSA-PKCS1-v1_5" },
        RS256,
      ],
    ] as const;
    for (const [gen, sign, cls] of cases) {
      const kp = await crypto.subtle.generateKey(gen, true, ["sign", "verify"]) as CryptoKeyPair;
      const key = await CoseKey.fromCryptoKey(kp.publicKey);
      assert.ok(key instanceof cls, cls.name);
      let sig: Uint8Array = new Uint8Array(await crypto.subtle.sign(sign, kp.privateKey, msg));
      if (gen.name === "ECDSA") sig = rawToDer(sig);
      assert.equal(await key.verify(msg, sig), true, cls.name);
      assert.deepEqual(CoseKey.parse(decode(key.encode())).map, key.map);
    }
    const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, [
      "sign",
    ]);
    await assert.rejects(CoseKey.fromCryptoKey(hmac as CryptoKey), FormatError);
  });

  it("maps algorithms to classes", () => {
    assert.equal(CoseKey.forAlg(-7), ES256);
    assert.equal(CoseKey.forAlg(-257), RS256);
    assert.equal(CoseKey.forAlg(-8), EdDSA);
    assert.equal(CoseKey.forAlg(12345), UnsupportedKey);
    assert.deepEqual(CoseKey.supportedAlgorithms(), [-7, -8, -35, -36, -37, -257, -47]);
  });
  // Found by tests/fuzz/cose.test.ts: WebCrypto's verify threw a TypeError (PSS salt length
  // below zero) or a runtime-specific Error (a modulus it only rejects at verify time).
  it("RSA keys WebCrypto cannot use are a FormatError, not a TypeError", async () => {
    const tiny = (alg: number, n: number[]) =>
      CoseKey.parse(
        new Map<CborValue, CborValue>([[1, 3], [3, alg], [-1, new Uint8Array(n)], [
          -2,
          new Uint8Array([1, 0, 1]),
        ]]),
      );
    await assert.rejects(
      tiny(-37, [0xdf]).verify(new Uint8Array(4), new Uint8Array(1)),
      FormatError,
    );
    await assert.rejects(tiny(-37, [1]).verify(new Uint8Array(0), new Uint8Array(0)), FormatError);
    for (const n of [[], [0], [1], [0xdf]]) {
      try {
        assert.equal(await tiny(-257, n).verify(new Uint8Array(4), new Uint8Array(1)), false);
      } catch (e) {
        assert.ok(e instanceof FormatError, String(e));
      }
    }
  });
});

describe("authenticator data", () => {
  it("Aaguid", () => {
    const a = Aaguid.parse("F8A011F3-8C0A-4D15-8006-17111F9EDC7D");
    assert.equal(String(a), "f8a011f3-8c0a-4d15-8006-17111f9edc7d");
    assert.equal(a.isSet, true);
    assert.equal(Aaguid.NONE.isSet, false);
    assert.throws(() => new Aaguid(new Uint8Array(15)), FormatError);
    assert.throws(() => Aaguid.parse("nope"), FormatError);
  });
  it("AttestedCredentialData parses and re-creates the vector", () => {
    const acd = AttestedCredentialData.parse(fromHex(ACD));
    assert.equal(toHex(acd.aaguid.bytes), "f8a011f38c0a4d15800617111f9edc7d");
    assert.equal(acd.credentialId.length, 64);
    assert.equal(acd.publicKey.get(3), -7);
    const again = AttestedCredentialData.create(acd.aaguid, acd.credentialId, acd.publicKey);
    assert.equal(toHex(again.raw), ACD);
    assert.throws(() => AttestedCredentialData.parse(fromHex(ACD + "00")), FormatError);
    assert.throws(() => AttestedCredentialData.parse(fromHex(ACD.slice(0, 100))), FormatError);
  });
  it("parses makeCredential and getAssertion authenticator data", () => {
    const mc = AuthenticatorData.parse(fromHex(MC_AUTH));
    assert.equal(toHex(mc.rpIdHash), RPH);
    assert.equal(mc.flags, FLAG.UP | FLAG.AT);
    assert.equal(mc.counter, 28);
    assert.equal(toHex(mc.credentialData!.raw), ACD);
    assert.equal(mc.extensions, undefined);
    assert.equal(mc.userPresent && mc.attested && !mc.userVerified, true);
    const ga = AuthenticatorData.parse(fromHex(GA_AUTH));
    assert.equal(ga.counter, 29);
    assert.equal(ga.credentialData, undefined);
    assert.equal(
      toHex(AuthenticatorData.create(fromHex(RPH), 0x41, 28, mc.credentialData).raw),
      MC_AUTH,
    );
  });
  it("round-trips extensions and rejects lies", () => {
    const ext = new Map([["credProtect", 2]]);
    const ad = AuthenticatorData.create(fromHex(RPH), FLAG.UP, 0xffffffff, undefined, ext);
    assert.equal(ad.hasExtensionData, true);
    assert.equal(ad.counter, 0xffffffff);
    assert.deepEqual(AuthenticatorData.parse(ad.raw).extensions, ext);
    // ED flag set, no extension bytes; AT flag without data; trailing garbage; truncated.
    assert.throws(() => AuthenticatorData.parse(fromHex(RPH + "8100000001")), FormatError);
    assert.throws(() => AuthenticatorData.parse(fromHex(RPH + "4100000001")), FormatError);
    assert.throws(() => AuthenticatorData.parse(fromHex(GA_AUTH + "00")), FormatError);
    assert.throws(() => AuthenticatorData.parse(fromHex(RPH + "01")), FormatError);
  });
  it("AttestationObject from a U2F registration (python-fido2 vector)", () => {
    const app = fromHex("1194228da8fdbdeefd261bd7b6595cfd70a50d70c6407bcf013de96d4efb17de");
    const reg = fromHex(U2F_REG);
    const publicKey = reg.slice(1, 66);
    const khLen = reg[66];
    const keyHandle = reg.slice(67, 67 + khLen);
    const certStart = 67 + khLen;
    const certLen = ((reg[certStart + 2] << 8) | reg[certStart + 3]) + 4;
    const certificate = reg.slice(certStart, certStart + certLen);
    const signature = reg.slice(certStart + certLen);
    const obj = AttestationObject.fromCtap1(app, { publicKey, keyHandle, certificate, signature });
    assert.equal(obj.fmt, "fido-u2f");
    assert.equal(toHex(obj.raw), U2F_ATT_OBJ);
    const parsed = AttestationObject.parse(obj.raw);
    assert.deepEqual(parsed.authData.credentialData!.credentialId, keyHandle);
    const none = parsed.withoutAttestation();
    assert.equal(none.fmt, "none");
    assert.equal(decode(none.raw) instanceof Map, true);
    // The U2F signature covers 00 ‖ app ‖ clientDataHash ‖ keyHandle ‖ publicKey, signed by
    // the attestation certificate's key; check the COSE key we built equals the point.
    const cose = CoseKey.parse(parsed.authData.credentialData!.publicKey);
    assert.deepEqual((cose as ES256).point(), publicKey);
    assert.throws(() => AttestationObject.parse(encode({ fmt: "none" })), FormatError);
    assert.deepEqual(sha256(new Uint8Array()).length, 32);
  });
});

const U2F_REG =
  "0504e87625896ee4e46dc032766e8087962f36df9dfe8b567f3763015b1990a60e1427de612d66418bda1950581ebc5c8c1dad710cb14c22f8c97045f4612fb20c91403ebd89bf77ec509755ee9c2635efaaac7b2b9c5cef1736c3717da48534c8c6b654d7ff945f50b5cc4e78055bdd396b64f78da2c5f96200ccd415cd08fe4200383082024a30820132a0030201020204046c8822300d06092a864886f70d01010b0500302e312c302a0603550403132359756269636f2055324620526f6f742043412053657269616c203435373230303633313020170d3134303830313030303030305a180f32303530303930343030303030305a302c312a302806035504030c2159756269636f205532462045452053657269616c203234393138323332343737303059301306072a8648ce3d020106082a8648ce3d030107034200043ccab92ccb97287ee8e639437e21fcd6b6f165b2d5a3f3db131d31c16b742bb476d8d1e99080eb546c9bbdf556e6210fd42785899e78cc589ebe310f6cdb9ff4a33b3039302206092b0601040182c40a020415312e332e362e312e342e312e34313438322e312e323013060b2b0601040182e51c020101040403020430300d06092a864886f70d01010b050003820101009f9b052248bc4cf42cc5991fcaabac9b651bbe5bdcdc8ef0ad2c1c1ffb36d18715d42e78b249224f92c7e6e7a05c49f0e7e4c881bf2e94f45e4a21833d7456851d0f6c145a29540c874f3092c934b43d222b8962c0f410cef1db75892af116b44a96f5d35adea3822fc7146f6004385bcb69b65c99e7eb6919786703c0d8cd41e8f75cca44aa8ab725ad8e799ff3a8696a6f1b2656e631b1e40183c08fda53fa4a8f85a05693944ae179a1339d002d15cabd810090ec722ef5def9965a371d415d624b68a2707cad97bcdd1785af97e258f33df56a031aa0356d8e8d5ebcadc74e071636c6b110ace5cc9b90dfeacae640ff1bb0f1fe5db4eff7a95f060733f530450220324779c68f3380288a1197b6095f7a6eb9b1b1c127f66ae12a99fe8532ec23b9022100e39516ac4d61ee64044d50b415a6a4d4d84ba6d895cb5ab7a1aa7d081de341fa";
const U2F_ATT_OBJ =
  "a363666d74686669646f2d7532666761747453746d74a263736967584730450220324779c68f3380288a1197b6095f7a6eb9b1b1c127f66ae12a99fe8532ec23b9022100e39516ac4d61ee64044d50b415a6a4d4d84ba6d895cb5ab7a1aa7d081de341fa637835638159024e3082024a30820132a0030201020204046c8822300d06092a864886f70d01010b0500302e312c302a0603550403132359756269636f2055324620526f6f742043412053657269616c203435373230303633313020170d3134303830313030303030305a180f32303530303930343030303030305a302c312a302806035504030c2159756269636f205532462045452053657269616c203234393138323332343737303059301306072a8648ce3d020106082a8648ce3d030107034200043ccab92ccb97287ee8e639437e21fcd6b6f165b2d5a3f3db131d31c16b742bb476d8d1e99080eb546c9bbdf556e6210fd42785899e78cc589ebe310f6cdb9ff4a33b3039302206092b0601040182c40a020415312e332e362e312e342e312e34313438322e312e323013060b2b0601040182e51c020101040403020430300d06092a864886f70d01010b050003820101009f9b052248bc4cf42cc5991fcaabac9b651bbe5bdcdc8ef0ad2c1c1ffb36d18715d42e78b249224f92c7e6e7a05c49f0e7e4c881bf2e94f45e4a21833d7456851d0f6c145a29540c874f3092c934b43d222b8962c0f410cef1db75892af116b44a96f5d35adea3822fc7146f6004385bcb69b65c99e7eb6919786703c0d8cd41e8f75cca44aa8ab725ad8e799ff3a8696a6f1b2656e631b1e40183c08fda53fa4a8f85a05693944ae179a1339d002d15cabd810090ec722ef5def9965a371d415d624b68a2707cad97bcdd1785af97e258f33df56a031aa0356d8e8d5ebcadc74e071636c6b110ace5cc9b90dfeacae640ff1bb0f1fe5db4eff7a95f060733f568617574684461746158c41194228da8fdbdeefd261bd7b6595cfd70a50d70c6407bcf013de96d4efb17de41000000000000000000000000000000000000000000403ebd89bf77ec509755ee9c2635efaaac7b2b9c5cef1736c3717da48534c8c6b654d7ff945f50b5cc4e78055bdd396b64f78da2c5f96200ccd415cd08fe420038a5010203262001215820e87625896ee4e46dc032766e8087962f36df9dfe8b567f3763015b1990a60e1422582027de612d66418bda1950581ebc5c8c1dad710cb14c22f8c97045f4612fb20c91";

/** WebCrypto's ECDSA signatures are r ‖ s; WebAuthn's are DER. */
function rawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.slice(i);
    return v[0] & 0x80 ? Uint8Array.of(0, ...v) : v;
  };
  const r = int(raw.slice(0, half));
  const s = int(raw.slice(half));
  const body = Uint8Array.of(2, r.length, ...r, 2, s.length, ...s);
  return body.length < 128
    ? Uint8Array.of(0x30, body.length, ...body)
    : Uint8Array.of(0x30, 0x81, body.length, ...body);
}
