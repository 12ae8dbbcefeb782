/**
 * CTAP2 canonical CBOR.
 *
 * Encoding goes through cbor-x after normalising the value so cbor-x cannot pick a
 * non-canonical form: map keys are pre-sorted bytewise on their encoding (RFC 8949 core
 * deterministic, which is CTAP2's order), integers of 2^32 and beyond become BigInt (cbor-x would
 * otherwise write a float64), byte strings are never tagged and records are off.
 *
 * Decoding is a single strict pass of our own: cbor-x's decoder accepts non-minimal heads,
 * duplicate keys, indefinite lengths and tags and returns `Buffer`s, so checking its output
 * would take more passes than reading the bytes once. Every rejection is a `FormatError`
 * that says what was wrong and where.
 * @module
 */
import { Encoder } from "cbor-x/decode";
import { FormatError } from "./errors.ts";

/** A value CTAP's CBOR subset can carry. Maps with non-string keys are `Map`s. */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | Map<CborValue, CborValue>
  | { [key: string]: CborValue };

/** A decoded CBOR map. */
export type CborMap = Map<CborValue, CborValue>;

/** Options for {@linkcode decode} and {@linkcode decodeFrom}. */
export interface DecodeOptions {
  /**
   * Require CTAP2 canonical form (the default): minimal heads, bytewise-sorted map keys and no
   * null/undefined. `false` accepts those from broken keys, but indefinite lengths, tags,
   * floats, duplicate keys, truncation and bad UTF-8 are always rejected.
   */
  readonly strict?: boolean;
  /** Maximum nesting of arrays and maps (default 16). */
  readonly maxDepth?: number;
}

const encoder = new Encoder(
  {
    useRecords: false,
    tagUint8Array: false,
    mapsAsObjects: false,
    variableMapSize: true,
    useTag259ForMaps: false,
    pack: false,
  } as ConstructorParameters<typeof Encoder>[0],
);

const TWO_32 = 2 ** 32;
const U64_MAX = (1n << 64n) - 1n;
const N64_MIN = -(1n << 64n);

/**
 * Encodes `value` as CTAP2 canonical CBOR.
 *
 * Maps: `Map` for integer keys, plain objects for string keys. Entries whose value is
 * `undefined` are left out, which is how optional CTAP parameters are written; any other
 * `undefined`, `null`, a non-integer number or an unsupported object is a `FormatError`.
 */
export function encode(value: unknown): Uint8Array {
  const out = encoder.encode(normalize(value, 0));
  // cbor-x hands back a Buffer view into its working buffer; return a plain, owned copy.
  return new Uint8Array(out);
}

function normalize(value: unknown, depth: number): unknown {
  if (depth > 64) throw new FormatError("CBOR encode: value nested too deeply");
  switch (typeof value) {
    case "number":
      if (!Number.isSafeInteger(value)) {
        throw new FormatError(`CBOR encode: unsupported number ${value} (CTAP2 has no floats)`);
      }
      return value >= TWO_32 || value < -TWO_32 ? BigInt(value) : value;
    case "bigint":
      if (value > U64_MAX || value < N64_MIN) {
        throw new FormatError(`CBOR encode: integer ${value} does not fit in 64 bits`);
      }
      if (value >= -BigInt(TWO_32) && value < BigInt(TWO_32)) return Number(value);
      if (value === N64_MIN) {
        // cbor-x would emit a bignum tag here; no CTAP structure needs this one value.
        throw new FormatError("CBOR encode: -2^64 is not supported");
      }
      return value;
    case "string":
      // cbor-x would write an unpaired surrogate as invalid UTF-8 that no strict decoder reads.
      if (!value.isWellFormed()) {
        throw new FormatError("CBOR encode: text string has an unpaired surrogate");
      }
      return value;
    case "boolean":
      return value;
    case "object": {
      if (value === null) throw new FormatError("CBOR encode: null is not supported by CTAP2");
      if (value instanceof Uint8Array) return value;
      if (ArrayBuffer.isView(value)) {
        return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      }
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      if (Array.isArray(value)) {
        return value.map((v) => {
          if (v === undefined) throw new FormatError("CBOR encode: undefined in an array");
          return normalize(v, depth + 1);
        });
      }
      const entries: Iterable<[unknown, unknown]> = value instanceof Map
        ? value.entries()
        : Object.getPrototypeOf(value) === Object.prototype ||
            Object.getPrototypeOf(value) === null
        ? Object.entries(value)
        : unsupported(value);
      return sortedMap(entries, depth);
    }
    default:
      throw new FormatError(`CBOR encode: unsupported value of type ${typeof value}`);
  }
}

function unsupported(value: object): never {
  throw new FormatError(`CBOR encode: unsupported object ${value.constructor?.name ?? "?"}`);
}

function sortedMap(entries: Iterable<[unknown, unknown]>, depth: number): Map<unknown, unknown> {
  const items: { k: unknown; kb: Uint8Array; v: unknown }[] = [];
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    const nk = normalize(k, depth + 1);
    items.push({ k: nk, kb: encodeKey(nk), v: normalize(v, depth + 1) });
  }
  items.sort((a, b) => compareBytes(a.kb, b.kb));
  for (let i = 1; i < items.length; i++) {
    if (compareBytes(items[i - 1].kb, items[i].kb) === 0) {
      throw new FormatError("CBOR encode: duplicate map key");
    }
  }
  return new Map(items.map((it) => [it.k, it.v]));
}

const textEncoder = new TextEncoder();
const keyCache = new Map<string, Uint8Array>();

// Encoded form of a map key, only for sorting. Integers and strings (all CTAP uses) are
// written here directly; anything else goes through cbor-x.
function encodeKey(k: unknown): Uint8Array {
  if (typeof k === "number") return k >= 0 ? head(0, k) : head(1, -1 - k);
  if (typeof k === "string") {
    // CTAP's string keys are a small fixed vocabulary ("type", "id", "alg"…): memoise them.
    const cached = keyCache.get(k);
    if (cached) return cached;
    const b = textEncoder.encode(k);
    const h = head(3, b.length);
    const out = new Uint8Array(h.length + b.length);
    out.set(h);
    out.set(b, h.length);
    if (keyCache.size < 512 && k.length <= 64) keyCache.set(k, out);
    return out;
  }
  return new Uint8Array(encoder.encode(k));
}

function head(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return new Uint8Array([m | n]);
  if (n < 0x100) return new Uint8Array([m | 24, n]);
  if (n < 0x10000) return new Uint8Array([m | 25, n >> 8, n & 0xff]);
  return new Uint8Array([m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Bytewise lexicographic comparison (shorter prefix first). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Decodes exactly one CBOR item; trailing bytes are a `FormatError`. */
export function decode(data: Uint8Array, options?: DecodeOptions): CborValue {
  const [value, rest] = decodeFrom(data, options);
  if (rest.length) {
    throw new FormatError(`CBOR: ${rest.length} extraneous byte(s) after the item`);
  }
  return value;
}

/** Decodes one CBOR item from the start of `data`; returns it and the unread rest. */
export function decodeFrom(data: Uint8Array, options?: DecodeOptions): [CborValue, Uint8Array] {
  if (!(data instanceof Uint8Array)) throw new FormatError("CBOR: input must be a Uint8Array");
  const r = new Reader(data, options?.strict ?? true, options?.maxDepth ?? 16);
  const value = r.item(0);
  return [value, data.subarray(r.pos)];
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Short ASCII strings (map keys, algorithm names, RP IDs) without a TextDecoder call, which
 * costs about a microsecond each on Deno; undefined when a byte is not ASCII.
 */
function asciiText(bytes: Uint8Array): string | undefined {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0x80) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

class Reader {
  pos = 0;
  constructor(
    readonly data: Uint8Array,
    readonly strict: boolean,
    readonly maxDepth: number,
  ) {}

  fail(msg: string, at = this.pos): never {
    throw new FormatError(`CBOR: ${msg} at offset ${at}`);
  }

  // Reads an initial byte and its argument; returns [major, argument, start offset].
  head(): [number, number | bigint, number] {
    const start = this.pos;
    if (start >= this.data.length) this.fail("unexpected end of data");
    const ib = this.data[this.pos++];
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (ai < 24) return [major, ai, start];
    if (ai > 27) {
      if (ai === 31) this.fail("indefinite length is not allowed", start);
      this.fail(`reserved additional information ${ai}`, start);
    }
    const size = 1 << (ai - 24);
    if (this.pos + size > this.data.length) this.fail("truncated item head", start);
    let value: number | bigint;
    const d = this.data;
    const p = this.pos;
    if (size === 1) value = d[p];
    else if (size === 2) value = (d[p] << 8) | d[p + 1];
    else if (size === 4) {
      value = ((d[p] << 24) >>> 0) + ((d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]);
    } else {
      const hi = ((d[p] << 24) >>> 0) + ((d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]);
      const lo = ((d[p + 4] << 24) >>> 0) + ((d[p + 5] << 16) | (d[p + 6] << 8) | d[p + 7]);
      value = hi < 0x200000 ? hi * TWO_32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
    }
    this.pos += size;
    if (this.strict && major !== 7) {
      const minimal = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : TWO_32;
      if (value < minimal) this.fail("integer or length not in shortest form", start);
    }
    return [major, value, start];
  }

  length(arg: number | bigint, start: number): number {
    if (typeof arg === "bigint" || arg > this.data.length - this.pos) {
      this.fail("length exceeds the available data", start);
    }
    return arg;
  }

  item(depth: number): CborValue {
    const [major, arg, start] = this.head();
    switch (major) {
      case 0:
        return arg;
      case 1:
        return typeof arg === "bigint"
          ? -1n - arg
          : arg >= 2 ** 53 - 1
          ? -1n - BigInt(arg)
          : -1 - arg;
      case 2: {
        const n = this.length(arg, start);
        const out = this.data.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(arg, start);
        const bytes = this.data.subarray(this.pos, this.pos + n);
        this.pos += n;
        const ascii = n <= 64 ? asciiText(bytes) : undefined;
        if (ascii !== undefined) return ascii;
        try {
          return utf8.decode(bytes);
        } catch {
          return this.fail("invalid UTF-8 in text string", start);
        }
      }
      case 4: {
        if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`, start);
        // Every element takes at least one byte: check before allocating.
        const n = this.length(arg, start);
        const out: CborValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.item(depth + 1);
        return out;
      }
      case 5: {
        if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`, start);
        const n = this.length(arg, start);
        const out: CborMap = new Map();
        let prevKey: Uint8Array | undefined;
        const seen = this.strict ? undefined : new Set<string>();
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const key = this.item(depth + 1);
          const keyBytes = this.data.subarray(keyStart, this.pos);
          if (prevKey) {
            const c = compareBytes(prevKey, keyBytes);
            if (c === 0) this.fail("duplicate map key", keyStart);
            if (c > 0 && this.strict) this.fail("map keys not in canonical order", keyStart);
          }
          if (seen) {
            const id = String(keyBytes);
            if (seen.has(id)) this.fail("duplicate map key", keyStart);
            seen.add(id);
          }
          prevKey = keyBytes;
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6:
        return this.fail("tags are not allowed", start);
      default: {
        // major 7: simple values and floats
        const ai = this.data[start] & 0x1f;
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22 || ai === 23) {
          if (this.strict) {
            this.fail(`${ai === 22 ? "null" : "undefined"} is not used by CTAP2`, start);
          }
          return ai === 22 ? null : undefined;
        }
        if (ai >= 25 && ai <= 27) return this.fail("floating-point values are not allowed", start);
        return this.fail(`unsupported simple value ${arg}`, start);
      }
    }
  }
}

/**
 * Reads a field from a decoded CTAP map (integer or string key), checking its type:
 * a wrong type is a `FormatError` naming the field, so malformed authenticator responses
 * never surface as `TypeError`s further up.
 */
export function getField<T extends CborValue>(
  map: CborMap,
  key: number | string,
  check: (v: CborValue) => v is T,
  what: string,
): T | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!check(v)) throw new FormatError(`Invalid type for ${what} (key ${String(key)})`);
  return v;
}

/** Type guards for {@linkcode getField}. */
export const is = {
  bytes: (v: CborValue): v is Uint8Array => v instanceof Uint8Array,
  int: (v: CborValue): v is number => typeof v === "number",
  text: (v: CborValue): v is string => typeof v === "string",
  bool: (v: CborValue): v is boolean => typeof v === "boolean",
  map: (v: CborValue): v is CborMap => v instanceof Map,
  array: (v: CborValue): v is CborValue[] => Array.isArray(v),
};

/** Asserts that a decoded value is a map (e.g. a CTAP response body). */
export function asMap(v: CborValue, what = "CBOR value"): CborMap {
  if (!(v instanceof Map)) throw new FormatError(`${what} must be a CBOR map`);
  return v;
}
