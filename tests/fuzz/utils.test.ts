// Fuzz targets for the text parsers in src/utils.ts (base64url, hex, strict UTF-8, ByteReader):
// a value or FormatError for any input, and exact round trips for valid input.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { FormatError } from "../../src/errors.ts";
import {
  b64urlDecode,
  b64urlEncode,
  ByteReader,
  bytesEqual,
  fromHex,
  sha256,
  toHex,
  utf8Decode,
  utf8Encode,
} from "../../src/utils.ts";
import { bytes, fuzz, only } from "./_fuzz.ts";

const B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=";
const b64ish = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...B64_CHARS), maxLength: 40 }),
);
const hexish = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF \n\tg"), maxLength: 40 }),
);

describe("fuzz: utils sha256", () => {
  // Bun hashes natively, Deno with noble: both must agree with node:crypto, views included.
  it("agrees with node:crypto on any bytes and on views into a larger buffer", () => {
    assert.equal(
      toHex(sha256(utf8Encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    fuzz(
      "sha256",
      fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.nat(8), fc.nat(8)),
      ([b, head, tail]) => {
        const view = b.subarray(Math.min(head, b.length), Math.max(head, b.length - tail));
        for (const data of [b, view]) {
          const want = createHash("sha256").update(data).digest("hex");
          const got = sha256(data);
          assert.equal(got.constructor, Uint8Array);
          assert.equal(toHex(got), want);
        }
      },
    );
  });
});

describe("fuzz: utils parsers", () => {
  it("b64urlDecode: bytes or FormatError; encode/decode round trips", () => {
    fuzz("b64urlDecode strings", b64ish, (s) => {
      const r = only([FormatError], () => b64urlDecode(s));
      if (!r.ok) return;
      const body = s.replace(/=+$/, "");
      assert.equal(r.value.length, Math.floor((body.length * 3) / 4));
      assert.ok(!body.includes("="));
    });
    fuzz("b64url round trip", fc.uint8Array({ maxLength: 64 }), (b) => {
      const s = b64urlEncode(b);
      assert.match(s, /^[A-Za-z0-9_-]*$/);
      assert.ok(bytesEqual(b64urlDecode(s), b));
    });
  });

  it("fromHex: bytes or FormatError; toHex inverts it", () => {
    fuzz("fromHex strings", hexish, (s) => {
      const r = only([FormatError], () => fromHex(s));
      if (r.ok) assert.equal(toHex(r.value), s.replace(/\s+/g, "").toLowerCase());
    });
  });

  it("utf8Decode: text or FormatError; valid text round trips", () => {
    fuzz("utf8Decode bytes", bytes(64), (b) => {
      const r = only([FormatError], () => utf8Decode(b));
      if (r.ok) assert.ok(bytesEqual(utf8Encode(r.value), b.subarray(hasBom(b) ? 3 : 0)));
    });
  });

  it("ByteReader: reads within bounds or FormatError, never past the end", () => {
    const op = fc.oneof(
      fc.constant<["u8"]>(["u8"]),
      fc.constant<["u16"]>(["u16"]),
      fc.constant<["u32"]>(["u32"]),
      fc.tuple(fc.constant("bytes" as const), fc.integer({ min: -2, max: 40 })),
    );
    fuzz("ByteReader ops", fc.tuple(bytes(48), fc.array(op, { maxLength: 12 })), ([b, ops]) => {
      const r = new ByteReader(b);
      for (const [name, n] of ops) {
        const before = r.offset;
        const need = name === "u8" ? 1 : name === "u16" ? 2 : name === "u32" ? 4 : n!;
        const out = only(
          [FormatError],
          () =>
            name === "bytes"
              ? r.bytes(n!)
              : name === "u8"
              ? r.u8()
              : name === "u16"
              ? r.u16()
              : r.u32(),
        );
        assert.equal(out.ok, need >= 0 && need <= b.length - before);
        assert.equal(r.offset, out.ok ? before + need : before);
      }
      const left = b.length - r.offset;
      assert.equal(r.remaining, left);
      assert.equal(r.rest().length, left);
      assert.equal(r.remaining, 0);
    });
  });
});

function hasBom(b: Uint8Array): boolean {
  // The shared decoder drops a leading BOM (TextDecoder's default), so it is not re-encoded.
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
}
