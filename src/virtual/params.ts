/**
 * Readers for CTAP request parameters on the authenticator side. Each failure maps to the
 * status a CTAP authenticator must answer with: absent required member → MISSING_PARAMETER,
 * wrong CBOR type → CBOR_UNEXPECTED_TYPE; so every command handler reports bad input the
 * same way instead of throwing a TypeError.
 * @module
 */
import { decode } from "../cbor.ts";
import type { CborMap, CborValue } from "../cbor.ts";
import { CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";

/** CBOR types a parameter may be required to have. */
export type ParamType = "bytes" | "text" | "int" | "uint" | "bool" | "map" | "array";

type TypeOf<T extends ParamType> = T extends "bytes" ? Uint8Array
  : T extends "text" ? string
  : T extends "int" | "uint" ? number
  : T extends "bool" ? boolean
  : T extends "map" ? CborMap
  : CborValue[];

function matches(v: CborValue, type: ParamType): boolean {
  switch (type) {
    case "bytes":
      return v instanceof Uint8Array;
    case "text":
      return typeof v === "string";
    case "int":
      return typeof v === "number" || typeof v === "bigint";
    case "uint":
      return (typeof v === "number" || typeof v === "bigint") && v >= 0;
    case "bool":
      return typeof v === "boolean";
    case "map":
      return v instanceof Map;
    case "array":
      return Array.isArray(v);
  }
}

/** Reads an optional member; a present member of the wrong type is CBOR_UNEXPECTED_TYPE. */
export function optional<T extends ParamType>(
  map: CborMap,
  key: number | string,
  type: T,
): TypeOf<T> | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!matches(v, type)) {
    throw new CtapError(
      CtapError.ERR.CBOR_UNEXPECTED_TYPE,
      `Parameter ${String(key)} must be of CBOR type ${type}`,
    );
  }
  if (typeof v === "bigint") {
    // Integers outside the safe range never make sense in CTAP requests.
    throw new CtapError(CtapError.ERR.INVALID_PARAMETER, `Parameter ${String(key)} out of range`);
  }
  return v as TypeOf<T>;
}

/** Reads a required member: MISSING_PARAMETER when absent. */
export function required<T extends ParamType>(
  map: CborMap,
  key: number | string,
  type: T,
): TypeOf<T> {
  const v = optional(map, key, type);
  if (v === undefined) {
    throw new CtapError(CtapError.ERR.MISSING_PARAMETER, `Missing parameter ${String(key)}`);
  }
  return v;
}

/** Checks that `v` is a map (an array element, a nested structure). */
export function asParamMap(v: CborValue, what: string): CborMap {
  if (!(v instanceof Map)) {
    throw new CtapError(CtapError.ERR.CBOR_UNEXPECTED_TYPE, `${what} must be a CBOR map`);
  }
  return v;
}

/**
 * Decodes a command's CBOR parameters: malformed or non-canonical CBOR is INVALID_CBOR,
 * anything but a map is CBOR_UNEXPECTED_TYPE, no bytes at all is `undefined`.
 */
export function decodeParams(data: Uint8Array): CborMap | undefined {
  if (data.length === 0) return undefined;
  let value: CborValue;
  try {
    value = decode(data);
  } catch (e) {
    if (e instanceof FormatError) {
      throw new CtapError(CtapError.ERR.INVALID_CBOR, e.message, { cause: e });
    }
    throw e;
  }
  return asParamMap(value, "Command parameters");
}

/** Reads a PublicKeyCredentialDescriptor ({type, id}). */
export function descriptor(v: CborValue): { type: string; id: Uint8Array } {
  const m = asParamMap(v, "Credential descriptor");
  return { type: required(m, "type", "text"), id: required(m, "id", "bytes") };
}

/** Reads an `options` map: every value must be a boolean. */
export function readOptions(map: CborMap | undefined): Map<string, boolean> {
  const out = new Map<string, boolean>();
  if (!map) return out;
  for (const [k, v] of map) {
    if (typeof k !== "string" || typeof v !== "boolean") {
      throw new CtapError(CtapError.ERR.CBOR_UNEXPECTED_TYPE, "Options must map text to bool");
    }
    out.set(k, v);
  }
  return out;
}
