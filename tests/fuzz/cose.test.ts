// Fuzz targets for src/cose.ts: CoseKey.parse of arbitrary values and maps, and verify() with
// arbitrary parameters, messages and signatures. Invariant: parse gives a key or FormatError;
// verify resolves a boolean or rejects with FormatError / UnsupportedAlgorithmError; genuine
// signatures verify and tampered ones do not.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import type { CborMap, CborValue } from "../../src/cbor.ts";
import { CoseKey } from "../../src/cose.ts";
import { FormatError, UnsupportedAlgorithmError } from "../../src/errors.ts";
import { sha256 } from "../../src/utils.ts";
import { bytes, fuzz, fuzzAsync, only, onlyAsync } from "./_fuzz.ts";

const ALGS = [-7, -8, -9, -19, -35, -36, -37, -47, -51, -52, -53, -257, -65535, -25, 0, 1];
const LABELS = [1, 2, 3, -1, -2, -3, -4];
const SIZES = [0, 1, 31, 32, 33, 48, 57, 64, 65, 66, 128, 256];

/** Byte strings of the lengths COSE parameters have (and just off them). */
const param = fc.oneof(
  fc.constantFrom(...SIZES).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  fc.uint8Array({ maxLength: 300 }),
);

const coseValue: fc.Arbitrary<CborValue> = fc.oneof(
  { weight: 4, arbitrary: param },
  { weight: 3, arbitrary: fc.constantFrom<CborValue>(...ALGS, 1, 2, 3, 6, 7, 8) },
  fc.integer({ min: -70000, max: 70000 }),
  fc.bigInt({ min: -(1n << 63n), max: 1n << 63n }),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant(new Map<CborValue, CborValue>()),
);

const coseMap: fc.Arbitrary<CborMap> = fc.tuple(
  fc.constantFrom(...ALGS),
  fc.uniqueArray(
    fc.tuple(fc.oneof(fc.constantFrom<CborValue>(...LABELS), fc.integer(), fc.string()), coseValue),
    { selector: ([k]) => k, maxLength: 8 },
  ),
  fc.boolean(),
).map(([alg, entries, keepAlg]) => {
  const m = new Map<CborValue, CborValue>(entries);
  if (keepAlg) m.set(3, alg);
  return m;
});

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything(),
  fc.uint8Array(),
  coseMap,
);

async function checkKey(map: unknown, message: Uint8Array, signature: Uint8Array) {
  const parsed = only([FormatError], () => CoseKey.parse(map as CborValue));
  if (!parsed.ok) return;
  const key = parsed.value;
  assert.equal(key.alg, (map as CborMap).get(3));
  const r = await onlyAsync(
    [FormatError, UnsupportedAlgorithmError],
    () => key.verify(message, signature),
  );
  if (r.ok) assert.equal(typeof r.value, "boolean");
}

// Genuine keys and signatures, so tampering is checked against a `true` baseline.
const ecSk = p256.utils.randomSecretKey();
const ecPub = p256.getPublicKey(ecSk, false);
const edSk = ed25519.utils.randomSecretKey();
const ES256_KEY = new Map<CborValue, CborValue>([
  [1, 2],
  [3, -7],
  [-1, 1],
  [-2, ecPub.slice(1, 33)],
  [-3, ecPub.slice(33)],
]);
const ED_KEY = new Map<CborValue, CborValue>([
  [1, 1],
  [3, -8],
  [-1, 6],
  [-2, ed25519.getPublicKey(edSk)],
]);

function sign(alg: number, msg: Uint8Array): Uint8Array {
  return alg === -7
    ? p256.sign(sha256(msg), ecSk, { prehash: false, format: "der" })
    : ed25519.sign(msg, edSk);
}

describe("fuzz: COSE keys", () => {
  it("CoseKey.parse of arbitrary values: a key or FormatError", () => {
    fuzz("CoseKey.parse arbitrary", anyValue, (v) => {
      const r = only([FormatError], () => CoseKey.parse(v as CborValue));
      if (r.ok) assert.ok(r.value instanceof CoseKey);
    });
  });

  it("parse + verify on arbitrary COSE-shaped maps", async () => {
    await fuzzAsync(
      "CoseKey.verify arbitrary maps",
      fc.tuple(coseMap, bytes(64), bytes(300)),
      ([map, msg, sig]) => checkKey(map, msg, sig),
      { scale: 0.5 },
    );
  });

  it("RSA keys with arbitrary modulus and exponent", async () => {
    const rsaMap = fc.tuple(fc.constantFrom(-257, -37, -65535), param, param).map(
      ([alg, n, e]) => new Map<CborValue, CborValue>([[1, 3], [3, alg], [-1, n], [-2, e]]),
    );
    await fuzzAsync(
      "CoseKey.verify RSA params",
      fc.tuple(rsaMap, bytes(32), fc.uint8Array({ maxLength: 300 })),
      ([map, msg, sig]) => checkKey(map, msg, sig),
      { scale: 0.25 },
    );
  });

  it("genuine ES256 / EdDSA signatures verify; tampered messages and signatures do not", async () => {
    await fuzzAsync(
      "CoseKey.verify tampering",
      fc.tuple(
        fc.constantFrom(-7, -8),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        fc.constantFrom("message", "signature", "none"),
      ),
      async ([alg, msg, at, bit, what]) => {
        const key = CoseKey.parse(alg === -7 ? ES256_KEY : ED_KEY);
        const sig = sign(alg, msg);
        const m2 = msg.slice();
        const s2 = sig.slice();
        if (what === "message") m2[at % m2.length] ^= 1 << bit;
        if (what === "signature") s2[at % s2.length] ^= 1 << bit;
        assert.equal(await key.verify(m2, s2), what === "none");
      },
      { scale: 0.05 },
    );
  });
});
