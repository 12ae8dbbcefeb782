/**
 * Validating readers for WebAuthn JSON: every failure is a `FormatError` that names the
 * member path (e.g. "publicKey.user.id"), so a server sending bad options gets a message
 * that points at the culprit. `null` is treated as absent, as servers often emit it.
 * @module
 */
import { FormatError } from "../errors.ts";
import { b64urlDecode, b64urlEncode } from "../utils.ts";

/** A JSON object (plain record). */
export type JsonObject = Record<string, unknown>;

/** Appends a member name to a path. */
export function member(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** `json` as an object, or `FormatError`. */
export function asObject(json: unknown, path: string): JsonObject {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new FormatError(`${path || "value"}: expected an object`);
  }
  return json as JsonObject;
}

function missing(path: string): FormatError {
  return new FormatError(`${path}: required member is missing`);
}

function absent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

/** Optional string member. */
export function optString(o: JsonObject, key: string, path: string): string | undefined {
  const v = o[key];
  if (absent(v)) return undefined;
  if (typeof v !== "string") throw new FormatError(`${member(path, key)}: expected a string`);
  return v;
}

/** Required string member. */
export function reqString(o: JsonObject, key: string, path: string): string {
  const v = optString(o, key, path);
  if (v === undefined) throw missing(member(path, key));
  return v;
}

/** Optional boolean member. */
export function optBool(o: JsonObject, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (absent(v)) return undefined;
  if (typeof v !== "boolean") throw new FormatError(`${member(path, key)}: expected a boolean`);
  return v;
}

/** Optional integer member (WebIDL long / unsigned long). */
export function optInt(
  o: JsonObject,
  key: string,
  path: string,
  min = Number.MIN_SAFE_INTEGER,
): number | undefined {
  const v = o[key];
  if (absent(v)) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new FormatError(
      `${member(path, key)}: expected an integer${min === 0 ? " >= 0" : ""}`,
    );
  }
  return v;
}

/** Required integer member. */
export function reqInt(o: JsonObject, key: string, path: string): number {
  const v = optInt(o, key, path);
  if (v === undefined) throw missing(member(path, key));
  return v;
}

/**
 * Bytes from JSON: a base64url string (the W3C JSON form). A `Uint8Array` or `ArrayBuffer`
 * is accepted too, so options built in code can go through the same parser.
 */
export function bytesValue(v: unknown, path: string): Uint8Array {
  if (typeof v === "string") {
    try {
      return b64urlDecode(v);
    } catch (e) {
      throw new FormatError(`${path}: invalid base64url`, { cause: e });
    }
  }
  if (v instanceof Uint8Array) return v.slice();
  if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
  throw new FormatError(`${path}: expected a base64url string`);
}

/** Optional bytes member. */
export function optBytes(o: JsonObject, key: string, path: string): Uint8Array | undefined {
  const v = o[key];
  if (absent(v)) return undefined;
  return bytesValue(v, member(path, key));
}

/** Required bytes member. */
export function reqBytes(o: JsonObject, key: string, path: string): Uint8Array {
  const v = optBytes(o, key, path);
  if (v === undefined) throw missing(member(path, key));
  return v;
}

/** Optional object member. */
export function optObject(o: JsonObject, key: string, path: string): JsonObject | undefined {
  const v = o[key];
  if (absent(v)) return undefined;
  return asObject(v, member(path, key));
}

/** Required member of any type (presence check only). */
export function reqValue(o: JsonObject, key: string, path: string): unknown {
  const v = o[key];
  if (absent(v)) throw missing(member(path, key));
  return v;
}

/** Optional array member, each element parsed by `parse(element, elementPath)`. */
export function optArray<T>(
  o: JsonObject,
  key: string,
  path: string,
  parse: (v: unknown, p: string) => T,
): T[] | undefined {
  const v = o[key];
  if (absent(v)) return undefined;
  const p = member(path, key);
  if (!Array.isArray(v)) throw new FormatError(`${p}: expected an array`);
  return v.map((e, i) => parse(e, `${p}[${i}]`));
}

/** Required array member. */
export function reqArray<T>(
  o: JsonObject,
  key: string,
  path: string,
  parse: (v: unknown, p: string) => T,
): T[] {
  const v = optArray(o, key, path, parse);
  if (v === undefined) throw missing(member(path, key));
  return v;
}

/** Optional list of strings. */
export function optStringList(o: JsonObject, key: string, path: string): string[] | undefined {
  return optArray(o, key, path, (v, p) => {
    if (typeof v !== "string") throw new FormatError(`${p}: expected a string`);
    return v;
  });
}

/** Base64url (unpadded) for JSON output. */
export const b64 = b64urlEncode;

/** Copies only the defined entries of `entries` into a fresh object (member order kept). */
export function compact(entries: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v;
  return out;
}
