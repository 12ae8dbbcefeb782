// Fuzz targets for src/cbor.ts: decoding arbitrary, grammar-generated and mutated CTAP bytes
// (only FormatError, never a hang; what strict mode accepts re-encodes to the same bytes and
// cborg's strict decoder accepts too), and encode/decode round trips of CTAP-shaped values
// checked against cbor2's deterministic encoder.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encode as cbor2Encode } from "cbor2";
import { decode as cborgDecode } from "cborg";
import { type CborValue, decode, decodeFrom, encode } from "../../src/cbor.ts";
import { FormatError } from "../../src/errors.ts";
import { bytesEqual } from "../../src/utils.ts";
import { CTAP_CORPUS } from "../fixtures/ctap_messages.ts";
import { byte, bytes, fuzz, hex, mutated, only } from "./_fuzz.ts";

const N64_MIN = -(1n << 64n);

const CBORG_STRICT = {
  strict: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
};

/** Structural equality between our decoded values and an original or another decoder's. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof a === "bigint") {
    if (typeof b !== "number" && typeof b !== "bigint") return false;
    return BigInt(a) === BigInt(b);
  }
  if (a instanceof Uint8Array) return b instanceof Uint8Array && bytesEqual(a, b);
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (a instanceof Map) {
    const entries: [unknown, unknown][] = b instanceof Map
      ? [...b.entries()]
      : b !== null && typeof b === "object" && !(b instanceof Uint8Array)
      ? Object.entries(b)
      : [];
    if (entries.length !== a.size) return false;
    // Primitive keys are found by value; byte-string, array and map keys by structure.
    const aEntries = [...a.entries()];
    return entries.every(([k, v]) =>
      typeof k === "object" && k !== null
        ? aEntries.some(([ak, av]) => same(ak, k) && same(av, v))
        : a.has(k) && same(a.get(k), v)
    );
  }
  return a === b;
}

/**
 * The decode invariants: a value or a FormatError; a strictly decoded value re-encodes to the
 * input (the one exception is -2^64, which the encoder refuses, see src/cbor.ts) and cborg's
 * strict decoder reads the same value; a leniently decoded value, once encoded, is canonical.
 */
function checkDecode(input: Uint8Array): void {
  const strict = only([FormatError], () => decode(input));
  if (strict.ok) {
    const v = strict.value;
    const again = only([FormatError], () => encode(v));
    if (again.ok) {
      assert.equal(hex(again.value), hex(input), "strict decode then encode changed the bytes");
    } else {
      assert.ok(containsN64Min(v), `encode refused a strictly decoded value: ${again.error}`);
    }
    const other = cborgDecode(input, CBORG_STRICT);
    assert.ok(same(v, other), "cborg decodes to a different value");
  }
  const lax = only([FormatError], () => decode(input, { strict: false }));
  if (lax.ok) {
    const e1 = only([FormatError], () => encode(lax.value));
    if (e1.ok) {
      const back = decode(e1.value);
      assert.equal(hex(encode(back)), hex(e1.value), "encoder output is not canonical");
      assert.ok(same(back, lax.value) || hasNullish(lax.value), "lenient value changed");
    }
  }
  if (strict.ok) assert.ok(lax.ok, "lenient mode rejected what strict mode accepts");
}

function containsN64Min(v: CborValue): boolean {
  if (v === N64_MIN) return true;
  if (Array.isArray(v)) return v.some(containsN64Min);
  if (v instanceof Map) return [...v].some(([k, x]) => containsN64Min(k) || containsN64Min(x));
  return false;
}

function hasNullish(v: CborValue): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.some(hasNullish);
  if (v instanceof Map) return [...v].some(([k, x]) => hasNullish(k) || hasNullish(x));
  return false;
}

/** One CBOR item as bytes, from a small grammar that also writes wrong lengths and heads. */
const cborItem: fc.Arbitrary<number[]> = fc.letrec<{ item: number[] }>((tie) => ({
  item: fc.oneof(
    { depthSize: "small" },
    // Integer or length head of any width, minimal or not.
    fc.tuple(
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 31 }),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 8 }),
    ).map(([major, ai, arg]) => {
      const n = ai < 24 ? 0 : ai <= 27 ? 1 << (ai - 24) : 0;
      return [(major << 5) | ai, ...arg.slice(0, n)];
    }),
    // Byte or text string whose declared length may be off by a little.
    fc.tuple(
      fc.constantFrom(2, 3),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
      fc.integer({ min: -2, max: 2 }),
    ).map(([major, data, skew]) => [...head(major, Math.max(0, data.length + skew)), ...data]),
    // Array or map of items, count possibly wrong.
    fc.tuple(
      fc.constantFrom(4, 5),
      fc.array(tie("item"), { maxLength: 6 }),
      fc.integer({ min: -1, max: 1 }),
    ).map(([major, items, skew]) => {
      const count = major === 4 ? items.length : Math.floor(items.length / 2);
      return [...head(major, Math.max(0, count + skew)), ...items.flat()];
    }),
    // Indefinite-length container, tag, or simple/float value.
    fc.array(tie("item"), { maxLength: 3 }).map((items) => [0x9f, ...items.flat(), 0xff]),
    tie("item").map((item) => [0xc2, ...item]),
    fc.tuple(fc.constantFrom(0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb), fc.nat(255))
      .map(([ib, b]) => [ib, b, b, b, b, b, b, b, b].slice(0, ib === 0xf8 ? 2 : ib - 0xf7)),
  ),
})).item;

function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  return [m | 25, n >> 8, n & 0xff];
}

// Integer map keys as CTAP uses them (small positive and negative) plus a few large ones.
const intKey = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.integer({ min: -(2 ** 32) - 2, max: 2 ** 32 + 2 }),
);
const textKey = fc.string({ maxLength: 12 });

/** CTAP-shaped values: integers of every width, bytes, text, booleans, arrays and maps. */
const ctapValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.integer({ min: -(2 ** 32) - 5, max: 2 ** 32 + 5 }),
    fc.maxSafeInteger(),
    fc.bigInt({ min: N64_MIN + 1n, max: (1n << 64n) - 1n }),
    fc.uint8Array({ maxLength: 80 }),
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.boolean(),
    fc.array(tie("value"), { maxLength: 6 }),
    fc.uniqueArray(fc.tuple(intKey, tie("value")), { selector: ([k]) => k, maxLength: 6 })
      .map((e) => new Map(e)),
    fc.uniqueArray(fc.tuple(textKey, tie("value")), { selector: ([k]) => k, maxLength: 6 })
      .map((e) => new Map(e)),
    fc.uniqueArray(fc.tuple(textKey, tie("value")), { selector: ([k]) => k, maxLength: 6 })
      .map((e) => Object.fromEntries(e)),
  ),
})).value;

describe("fuzz: CBOR decode", () => {
  it("arbitrary bytes: a value or FormatError, strict results re-encode identically", () => {
    fuzz("cbor.decode arbitrary bytes", bytes(64), checkDecode);
  });

  it("grammar-generated items (wrong lengths, tags, floats, indefinite)", () => {
    fuzz("cbor.decode grammar items", cborItem, (item) => checkDecode(Uint8Array.from(item)));
  });

  it("mutated real CTAP messages", () => {
    fuzz("cbor.decode mutated CTAP", mutated(CTAP_CORPUS), checkDecode);
  });

  it("decodeFrom: the rest is exactly the bytes after the item", () => {
    fuzz("cbor.decodeFrom prefix", fc.tuple(mutated(CTAP_CORPUS), bytes(8)), ([msg, tail]) => {
      const input = Uint8Array.from([...msg, ...tail]);
      const r = only([FormatError], () => decodeFrom(input));
      if (!r.ok) return;
      const [value, rest] = r.value;
      const used = input.length - rest.length;
      assert.ok(bytesEqual(rest, input.subarray(used)));
      if (!containsN64Min(value)) assert.equal(hex(encode(value)), hex(input.subarray(0, used)));
    });
  });

  it("nesting bombs and huge counts fail fast", () => {
    fuzz(
      "cbor.decode bombs",
      fc.tuple(fc.constantFrom(0x81, 0xa1, 0x9f), fc.integer({ min: 1, max: 5000 }), byte),
      ([open, depth, last]) => {
        const input = new Uint8Array(depth + 1).fill(open);
        input[depth] = last;
        const r = only([FormatError], () => decode(input, { strict: false, maxDepth: 64 }));
        assert.ok(!r.ok || depth <= 64);
      },
      { scale: 0.25 },
    );
  });
});

describe("fuzz: CBOR encode/decode round trip", () => {
  it("CTAP-shaped values: decode(encode(v)) equals v, bytes equal cbor2's deterministic form", () => {
    fuzz("cbor round trip", ctapValue, (v) => {
      const bytes = encode(v);
      const back = decode(bytes);
      assert.ok(same(back, v), "decoded value differs from the original");
      assert.equal(hex(encode(back)), hex(bytes), "re-encoding changed the bytes");
      const ref = cbor2Encode(v, { cde: true });
      assert.equal(hex(bytes), hex(ref), "differs from cbor2 (cde) encoding");
    });
  });

  it("text with unpaired surrogates is a FormatError, never invalid UTF-8 on the wire", () => {
    const unit = fc.oneof(
      fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    );
    fuzz("cbor.encode surrogates", fc.string({ unit, maxLength: 12 }), (s) => {
      const r = only([FormatError], () => encode(s));
      assert.equal(r.ok, s.isWellFormed(), `encode ${JSON.stringify(s)}`);
      if (r.ok) assert.equal(decode(r.value), s);
    });
  });
});

describe("CBOR length fields are checked before allocating", () => {
  const cases: [string, string][] = [
    ["byte string of 2^32 bytes", "5b0000000100000000"],
    ["text string of 2^32 bytes", "7b0000000100000000"],
    ["array of 2^32 items", "9b0000000100000000"],
    ["map of 2^32 pairs", "bb0000000100000000"],
    ["byte string of 2^64-1 bytes", "5bffffffffffffffff"],
    ["array of 2^32-1 items", "9affffffff"],
    ["map of 2^31 pairs", "ba80000000"],
    ["byte string of 2^32-1 bytes", "5affffffff00"],
  ];
  for (const [name, h] of cases) {
    it(`${name} fails fast with FormatError`, () => {
      const input = Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
      for (const strict of [true, false]) {
        const t0 = performance.now();
        assert.throws(() => decode(input, { strict }), FormatError);
        assert.ok(performance.now() - t0 < 50, "took too long: allocated before checking?");
      }
    });
  }
  it("an array claiming more items than bytes left is rejected before any item is read", () => {
    // 1000 items claimed, 999 one-byte items present.
    const input = new Uint8Array(3 + 999);
    input.set([0x99, 0x03, 0xe8]);
    assert.throws(() => decode(input), /length exceeds the available data at offset 0/);
  });
});
