/**
 * CTAP2 canonical CBOR.
 *
 * Encoding is a single pass of our own into one growing buffer: every head minimal, map keys
 * sorted bytewise on their encoding (RFC 8949 core deterministic, which is CTAP2's order),
 * byte strings never tagged. (It replaced a normalising pass in front of cbor-x, which cost a
 * copy of the value tree, a re-sort into new Maps and a copy of the output per request.)
 *
 * Decoding is a single strict pass of our own: cbor-x's decoder accepts non-minimal heads,
 * duplicate keys, indefinite lengths and tags and returns `Buffer`s, so checking its output
 * would take more passes than reading the bytes once. Every rejection is a `FormatError`
 * that says what was wrong and where.
 * @module
 */
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

const TWO_32 = 2 ** 32;
const U64_MAX = (1n << 64n) - 1n;
const N64_MIN = -(1n << 64n);
const BIG_TWO_32 = BigInt(TWO_32);

/**
 * Encodes `value` as CTAP2 canonical CBOR.
 *
 * Maps: `Map` for integer keys, plain objects for string keys. Entries whose value is
 * `undefined` are left out, which is how optional CTAP parameters are written; any other
 * `undefined`, `null`, a non-integer number or an unsupported object is a `FormatError`.
 */
export function encode(value: unknown): Uint8Array {
  const w = new Writer();
  w.value(value, 0);
  return w.buf.slice(0, w.pos);
}

/**
 * `prefix` (one byte, e.g. a CTAP command) followed by the encoding of `value`, in one buffer:
 * what a CTAP request is, without a second copy to prepend the command byte.
 */
export function encodeWithPrefix(prefix: number, value: unknown): Uint8Array {
  const w = new Writer();
  w.buf[w.pos++] = prefix;
  w.value(value, 0);
  return w.buf.slice(0, w.pos);
}

const textEncoder = new TextEncoder();
const keyCache = new Map<string, Uint8Array>();

interface Entry {
  readonly kb: Uint8Array;
  readonly v: unknown;
}

const byKey = (a: Entry, b: Entry) => compareBytes(a.kb, b.kb);

/**
 * A single-pass canonical encoder: every head minimal, map entries written in the bytewise
 * order of their encoded keys, values checked as they are written (one buffer, no
 * intermediate copy of the value tree).
 */
class Writer {
  buf: Uint8Array = new Uint8Array(256);
  pos = 0;

  #room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  head(major: number, n: number): void {
    this.#room(9);
    const b = this.buf;
    const m = major << 5;
    if (n < 24) b[this.pos++] = m | n;
    else if (n < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = n >> 8;
      b[this.pos++] = n & 0xff;
    } else if (n < TWO_32) {
      b[this.pos++] = m | 26;
      b[this.pos++] = n >>> 24;
      b[this.pos++] = (n >>> 16) & 0xff;
      b[this.pos++] = (n >>> 8) & 0xff;
      b[this.pos++] = n & 0xff;
    } else {
      b[this.pos++] = m | 27;
      const hi = Math.floor(n / TWO_32);
      const lo = n >>> 0;
      for (const word of [hi, lo]) {
        b[this.pos++] = word >>> 24;
        b[this.pos++] = (word >>> 16) & 0xff;
        b[this.pos++] = (word >>> 8) & 0xff;
        b[this.pos++] = word & 0xff;
      }
    }
  }

  /** A head with a 64-bit argument given as a BigInt (≥ 2^32). */
  bigHead(major: number, n: bigint): void {
    this.#room(9);
    this.buf[this.pos++] = (major << 5) | 27;
    for (let shift = 56n; shift >= 0n; shift -= 8n) {
      this.buf[this.pos++] = Number((n >> shift) & 0xffn);
    }
  }

  raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  text(s: string): void {
    // ASCII (every CTAP key and most values) straight into the buffer, no TextEncoder call.
    const n = s.length;
    let ascii = n <= 256;
    if (ascii) {
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) >= 0x80) {
          ascii = false;
          break;
        }
      }
    }
    if (ascii) {
      this.head(3, n);
      this.#room(n);
      for (let i = 0; i < n; i++) this.buf[this.pos++] = s.charCodeAt(i);
      return;
    }
    // An unpaired surrogate would become invalid UTF-8 that no strict decoder reads.
    if (!s.isWellFormed()) {
      throw new FormatError("CBOR encode: text string has an unpaired surrogate");
    }
    const b = textEncoder.encode(s);
    this.head(3, b.length);
    this.raw(b);
  }

  value(value: unknown, depth: number): void {
    if (depth > 64) throw new FormatError("CBOR encode: value nested too deeply");
    switch (typeof value) {
      case "number":
        if (!Number.isSafeInteger(value)) {
          throw new FormatError(`CBOR encode: unsupported number ${value} (CTAP2 has no floats)`);
        }
        if (value >= 0) this.head(0, value);
        else this.head(1, -1 - value);
        return;
      case "bigint":
        if (value > U64_MAX || value < N64_MIN) {
          throw new FormatError(`CBOR encode: integer ${value} does not fit in 64 bits`);
        }
        if (value >= -BIG_TWO_32 && value < BIG_TWO_32) return this.value(Number(value), depth);
        if (value === N64_MIN) {
          // A bignum tag would be needed here; no CTAP structure needs this one value.
          throw new FormatError("CBOR encode: -2^64 is not supported");
        }
        if (value >= 0n) this.bigHead(0, value);
        else this.bigHead(1, -1n - value);
        return;
      case "string":
        this.text(value);
        return;
      case "boolean":
        this.#room(1);
        this.buf[this.pos++] = value ? 0xf5 : 0xf4;
        return;
      case "object": {
        if (value === null) throw new FormatError("CBOR encode: null is not supported by CTAP2");
        if (value instanceof Uint8Array) {
          this.head(2, value.length);
          this.raw(value);
          return;
        }
        if (ArrayBuffer.isView(value)) {
          return this.value(
            new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
            depth,
          );
        }
        if (value instanceof ArrayBuffer) return this.value(new Uint8Array(value), depth);
        if (Array.isArray(value)) {
          for (const v of value) {
            if (v === undefined) throw new FormatError("CBOR encode: undefined in an array");
          }
          this.head(4, value.length);
          for (const v of value) this.value(v, depth + 1);
          return;
        }
        if (value instanceof Map) return this.map(value.entries(), depth);
        const proto = Object.getPrototypeOf(value);
        if (proto === Object.prototype || proto === null) {
          return this.map(Object.entries(value), depth);
        }
        throw new FormatError(`CBOR encode: unsupported object ${value.constructor?.name ?? "?"}`);
      }
      default:
        throw new FormatError(`CBOR encode: unsupported value of type ${typeof value}`);
    }
  }

  map(entries: Iterable<[unknown, unknown]>, depth: number): void {
    const items: Entry[] = [];
    for (const [k, v] of entries) {
      if (v !== undefined) items.push({ kb: encodeKey(k, depth + 1), v });
    }
    items.sort(byKey);
    for (let i = 1; i < items.length; i++) {
      if (compareBytes(items[i - 1].kb, items[i].kb) === 0) {
        throw new FormatError("CBOR encode: duplicate map key");
      }
    }
    this.head(5, items.length);
    for (const it of items) {
      this.raw(it.kb);
      this.value(it.v, depth + 1);
    }
  }
}

/** A map key's encoding, for sorting and then writing. CTAP's string keys are memoised. */
function encodeKey(k: unknown, depth: number): Uint8Array {
  if (typeof k === "string") {
    // A small fixed vocabulary ("type", "id", "alg"…).
    const cached = keyCache.get(k);
    if (cached) return cached;
    const w = new Writer();
    w.text(k);
    const out = w.buf.slice(0, w.pos);
    if (keyCache.size < 512 && k.length <= 64) keyCache.set(k, out);
    return out;
  }
  if (typeof k === "number" && k >= 0 && k < 24 && Number.isInteger(k)) return SMALL_KEYS[k];
  const w = new Writer();
  w.value(k, depth);
  return w.buf.slice(0, w.pos);
}

const SMALL_KEYS = Array.from({ length: 24 }, (_, i) => new Uint8Array([i]));

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
function asciiText(data: Uint8Array, from: number, to: number): string | undefined {
  let out = "";
  for (let i = from; i < to; i++) {
    const b = data[i];
    if (b >= 0x80) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

/** Bytewise comparison of two ranges of `d` (as {@linkcode compareBytes}, without views). */
function compareRanges(d: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): number {
  const n = Math.min(aEnd - a, bEnd - b);
  for (let i = 0; i < n; i++) if (d[a + i] !== d[b + i]) return d[a + i] - d[b + i];
  return aEnd - a - (bEnd - b);
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

  /** Major type and argument of the head {@linkcode head} read last (no tuple per item). */
  major = 0;
  arg: number | bigint = 0;

  // Reads an initial byte and its argument into `major` and `arg`; returns its start offset.
  head(): number {
    const start = this.pos;
    if (start >= this.data.length) this.fail("unexpected end of data");
    const ib = this.data[this.pos++];
    const major = ib >> 5;
    const ai = ib & 0x1f;
    this.major = major;
    if (ai < 24) {
      this.arg = ai;
      return start;
    }
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
    this.arg = value;
    return start;
  }

  length(arg: number | bigint, start: number): number {
    if (typeof arg === "bigint" || arg > this.data.length - this.pos) {
      this.fail("length exceeds the available data", start);
    }
    return arg;
  }

  item(depth: number): CborValue {
    const start = this.head();
    const arg = this.arg;
    switch (this.major) {
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
        const from = this.pos;
        this.pos += n;
        const ascii = n <= 64 ? asciiText(this.data, from, from + n) : undefined;
        if (ascii !== undefined) return ascii;
        try {
          return utf8.decode(this.data.subarray(from, from + n));
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
        // The previous key's encoding, as a range of the input (no view per key).
        let prevStart = -1;
        let prevEnd = -1;
        const seen = this.strict ? undefined : new Set<string>();
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const key = this.item(depth + 1);
          const keyEnd = this.pos;
          if (prevStart >= 0) {
            const c = compareRanges(this.data, prevStart, prevEnd, keyStart, keyEnd);
            if (c === 0) this.fail("duplicate map key", keyStart);
            if (c > 0 && this.strict) this.fail("map keys not in canonical order", keyStart);
          }
          if (seen) {
            const id = String(this.data.subarray(keyStart, keyEnd));
            if (seen.has(id)) this.fail("duplicate map key", keyStart);
            seen.add(id);
          }
          prevStart = keyStart;
          prevEnd = keyEnd;
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
