// CBOR on real CTAP messages: src/cbor.ts vs cbor2 vs cborg vs cbor-x without our wrapper.
// Run: node scripts/bench.mjs cbor   (or: node_modules/.bin/deno bench -A bench/cbor.bench.ts,
// node_modules/.bin/bun bench/cbor.bench.ts)
//
// Every encoder gets the same value (our decoder's output: Maps, Uint8Arrays, numbers). The
// strict peers are configured to do what CTAP needs: cbor2 with `cde` (deterministic encoding,
// strict decoding), cborg with RFC 8949 key order and strict decoding into Maps. "cbor-x raw"
// is cbor-x with neither sorting nor validation, i.e. the cost floor our wrapper adds to.
import { decode as cbor2Decode, encode as cbor2Encode } from "cbor2";
import { decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions } from "cborg";
import { Decoder, Encoder } from "cbor-x/decode";
import { type CborValue, decode, encode } from "../src/cbor.ts";
import { toHex } from "../src/utils.ts";
import { BENCH_MESSAGES } from "../tests/fixtures/ctap_messages.ts";
import { bench } from "./_harness.ts";

const cborxEnc = new Encoder(
  {
    useRecords: false,
    mapsAsObjects: false,
    tagUint8Array: false,
    variableMapSize: true,
    pack: false,
  } as ConstructorParameters<typeof Encoder>[0],
);
const cborxDec = new Decoder(
  { useRecords: false, mapsAsObjects: false } as ConstructorParameters<typeof Decoder>[0],
);
const CBORG_STRICT = { strict: true, useMaps: true, rejectDuplicateMapKeys: true };
const CBOR2_STRICT = { cde: true, preferMap: true, rejectDuplicateKeys: true };

for (const [name, bytes] of Object.entries(BENCH_MESSAGES)) {
  const value: CborValue = decode(bytes);
  const encoders: [string, () => Uint8Array][] = [
    ["src/cbor.ts", () => encode(value)],
    ["cbor2 (cde)", () => cbor2Encode(value, { cde: true })],
    ["cborg (rfc8949)", () => cborgEncode(value, rfc8949EncodeOptions)],
    ["cbor-x raw", () => cborxEnc.encode(value)],
  ];
  // A benchmark of a different output would compare nothing: all must write our bytes.
  for (const [lib, fn] of encoders) {
    if (toHex(fn()) !== toHex(bytes)) throw new Error(`${lib} encodes "${name}" differently`);
  }
  const decoders: [string, () => unknown][] = [
    ["src/cbor.ts (strict)", () => decode(bytes)],
    ["cbor2 (cde, strict)", () => cbor2Decode(bytes, CBOR2_STRICT)],
    ["cborg (strict)", () => cborgDecode(bytes, CBORG_STRICT)],
    ["cbor-x raw (no checks)", () => cborxDec.decode(bytes)],
  ];
  const label = `${name}, ${bytes.length} B`;
  for (const [lib, fn] of encoders) {
    bench(`encode ${lib}`, fn, { group: `encode ${label}`, baseline: lib === "src/cbor.ts" });
  }
  for (const [i, [lib, fn]] of decoders.entries()) {
    bench(`decode ${lib}`, fn, { group: `decode ${label}`, baseline: i === 0 });
  }
}
