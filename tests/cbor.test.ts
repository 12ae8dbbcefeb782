import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decode, decodeFrom, encode } from "../src/cbor.ts";
import { FormatError } from "../src/errors.ts";
import { fromHex, toHex } from "../src/utils.ts";

// research/python-fido2-vectors.md §1.1 (from cbor/test-vectors): decode and re-encode.
const VECTORS = [
  "00",
  "01",
  "0a",
  "17",
  "1818",
  "1819",
  "1864",
  "1903e8",
  "1a000f4240",
  "1b000000e8d4a51000",
  "1bffffffffffffffff",
  "20",
  "29",
  "3863",
  "3903e7",
  "f4",
  "f5",
  "40",
  "4401020304",
  "60",
  "6161",
  "6449455446",
  "62225c",
  "62c3bc",
  "63e6b0b4",
  "64f0908591",
  "80",
  "83010203",
  "8301820203820405",
  "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
  "a0",
  "a201020304",
  "a26161016162820203",
  "826161a161626163",
  "a56161614161626142616361436164614461656145",
];

describe("cbor vectors", () => {
  for (const hex of VECTORS) {
    it(`round trips ${hex}`, () => {
      assert.equal(toHex(encode(decode(fromHex(hex)))), hex);
    });
  }
  it("decodes values", () => {
    assert.equal(decode(fromHex("1bffffffffffffffff")), 18446744073709551615n);
    assert.equal(decode(fromHex("3bffffffffffffffff")), -18446744073709551616n);
    assert.deepEqual(decode(fromHex("a201020304")), new Map([[1, 2], [3, 4]]));
    assert.deepEqual(decode(fromHex("4401020304")), new Uint8Array([1, 2, 3, 4]));
  });
  it("canonical integers", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [23, "17"],
      [24, "1818"],
      [255, "18ff"],
      [256, "190100"],
      [65535, "19ffff"],
      [65536, "1a00010000"],
      [4294967295, "1affffffff"],
      [4294967296, "1b0000000100000000"],
      [-1, "20"],
      [-24, "37"],
      [-25, "3818"],
    ];
    for (const [v, h] of cases) assert.equal(toHex(encode(v)), h);
  });
  it("canonical key order", () => {
    assert.equal(
      toHex(encode(new Map<unknown, number>([["3", 0], [new Uint8Array([0x32]), 0], [1, 0]]))),
      "a30100413200613300",
    );
    assert.equal(
      toHex(encode(new Map<unknown, number>([[4294967296, 0], [255, 0], [256, 0], [0, 0]]))),
      "a4000018ff00190100001b000000010000000000",
    );
    assert.equal(toHex(encode(new Map([[true, 0], [false, 0]]))), "a2f400f500");
    assert.equal(toHex(encode(new Map([[24, 0], [-1, 0]]))), "a2181800" + "2000");
  });
  it("rejects non-canonical input", () => {
    for (
      const bad of [
        "1800",
        "190017",
        "5801ff",
        "a201020102",
        "a202010102",
        "9fff",
        "5f42010243030405ff",
        "c249010000000000000000",
        "f93c00",
        "430102",
        "1c",
        "60ff",
        "62c328",
        "f6",
        "f7",
      ]
    ) {
      assert.throws(() => decode(fromHex(bad)), FormatError, bad);
    }
  });
  it("lenient mode accepts non-minimal and unsorted, not duplicates", () => {
    assert.equal(decode(fromHex("1800"), { strict: false }), 0);
    assert.deepEqual(decode(fromHex("a202010102"), { strict: false }), new Map([[2, 1], [1, 2]]));
    assert.throws(() => decode(fromHex("a201020102"), { strict: false }), FormatError);
    assert.throws(() => decode(fromHex("9fff"), { strict: false }), FormatError);
  });
  it("decodeFrom returns the rest", () => {
    const [v, rest] = decodeFrom(fromHex("0102"));
    assert.equal(v, 1);
    assert.equal(toHex(rest), "02");
  });
  it("encode rejects unsupported values", () => {
    for (const v of [null, 1.5, 2n ** 64n, -(2n ** 64n) - 1n, [undefined], new Date()]) {
      assert.throws(() => encode(v), FormatError);
    }
    assert.equal(toHex(encode({ a: undefined, b: 1 })), "a1616201");
  });
  // Found by tests/fuzz/cbor.test.ts: cbor-x wrote lone surrogates as invalid UTF-8 (ed a0 80).
  it("encode rejects text with unpaired surrogates, in values and keys", () => {
    for (
      const v of ["\ud800", "a\udc00b", ["\udfff"], { "\ud83d": 1 }, new Map([["x\ud800", 1]])]
    ) {
      assert.throws(() => encode(v), /unpaired surrogate/);
    }
    assert.equal(toHex(encode("\ud83d\ude00")), "64f09f9880");
  });
});
