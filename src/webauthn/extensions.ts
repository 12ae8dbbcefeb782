/**
 * Client extension inputs and outputs (WebAuthn L3 §9-10, CTAP 2.2 §12) as typed records:
 * bytes are `Uint8Array` in memory and base64url in JSON. Extensions this library does not
 * know are kept verbatim, so a client can pass them through or ignore them.
 * @module
 */
import { FormatError } from "../errors.ts";
import { parseEnum } from "./enums.ts";
import {
  asObject,
  b64,
  type JsonObject,
  member,
  optBool,
  optBytes,
  optObject,
  optString,
  reqBytes,
} from "./jsonread.ts";

/** credProtect policies (CTAP 2.1 §12.1), by their WebAuthn names. */
export const CredentialProtectionPolicy = {
  USER_VERIFICATION_OPTIONAL: "userVerificationOptional",
  USER_VERIFICATION_OPTIONAL_WITH_CREDENTIAL_ID_LIST:
    "userVerificationOptionalWithCredentialIDList",
  USER_VERIFICATION_REQUIRED: "userVerificationRequired",
} as const;
/** A value of {@linkcode CredentialProtectionPolicy}. */
export type CredentialProtectionPolicy =
  (typeof CredentialProtectionPolicy)[keyof typeof CredentialProtectionPolicy];

/** largeBlob support requirement at registration (§10.1.5). */
export const LargeBlobSupport = { REQUIRED: "required", PREFERRED: "preferred" } as const;
/** A value of {@linkcode LargeBlobSupport}. */
export type LargeBlobSupport = (typeof LargeBlobSupport)[keyof typeof LargeBlobSupport];

/** PRF inputs or outputs: one or two 32-byte-ish values. */
export interface AuthenticationExtensionsPRFValues {
  readonly first: Uint8Array;
  readonly second?: Uint8Array;
}

/** prf extension input (§10.1.4). */
export interface AuthenticationExtensionsPRFInputs {
  readonly eval?: AuthenticationExtensionsPRFValues;
  /** Keyed by base64url credential ID. */
  readonly evalByCredential?: Readonly<Record<string, AuthenticationExtensionsPRFValues>>;
}

/** prf extension output. */
export interface AuthenticationExtensionsPRFOutputs {
  readonly enabled?: boolean;
  readonly results?: AuthenticationExtensionsPRFValues;
}

/** largeBlob extension input (§10.1.5). */
export interface AuthenticationExtensionsLargeBlobInputs {
  readonly support?: LargeBlobSupport;
  readonly read?: boolean;
  readonly write?: Uint8Array;
}

/** largeBlob extension output. */
export interface AuthenticationExtensionsLargeBlobOutputs {
  readonly supported?: boolean;
  readonly blob?: Uint8Array;
  readonly written?: boolean;
}

/** hmacGetSecret input (CTAP hmac-secret at the WebAuthn level). */
export interface HMACGetSecretInput {
  readonly salt1: Uint8Array;
  readonly salt2?: Uint8Array;
}

/** hmacGetSecret output. */
export interface HMACGetSecretOutput {
  readonly output1: Uint8Array;
  readonly output2?: Uint8Array;
}

/** credProps output (§10.1.3). */
export interface CredentialPropertiesOutput {
  readonly rk?: boolean;
}

/** Extension inputs a relying party may send; unknown names are kept as given. */
export interface AuthenticationExtensionsClientInputs {
  readonly appid?: string;
  readonly appidExclude?: string;
  readonly credProps?: boolean;
  readonly credentialProtectionPolicy?: CredentialProtectionPolicy;
  readonly enforceCredentialProtectionPolicy?: boolean;
  readonly credBlob?: Uint8Array;
  readonly getCredBlob?: boolean;
  readonly largeBlob?: AuthenticationExtensionsLargeBlobInputs;
  readonly minPinLength?: boolean;
  readonly hmacCreateSecret?: boolean;
  readonly hmacGetSecret?: HMACGetSecretInput;
  readonly prf?: AuthenticationExtensionsPRFInputs;
  readonly thirdPartyPayment?: boolean;
  readonly [name: string]: unknown;
}

/** Extension outputs a client returns; unknown names are kept as given. */
export interface AuthenticationExtensionsClientOutputs {
  readonly appid?: boolean;
  readonly appidExclude?: boolean;
  readonly credProps?: CredentialPropertiesOutput;
  /** true/false after registration; the stored blob after authentication. */
  readonly credBlob?: boolean | Uint8Array;
  readonly largeBlob?: AuthenticationExtensionsLargeBlobOutputs;
  readonly hmacCreateSecret?: boolean;
  readonly hmacGetSecret?: HMACGetSecretOutput;
  readonly prf?: AuthenticationExtensionsPRFOutputs;
  readonly thirdPartyPayment?: boolean;
  readonly [name: string]: unknown;
}

function prfValues(v: unknown, path: string): AuthenticationExtensionsPRFValues {
  const o = asObject(v, path);
  const second = optBytes(o, "second", path);
  return { first: reqBytes(o, "first", path), ...(second !== undefined ? { second } : {}) };
}

function defined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

type Parser = (o: JsonObject, key: string, path: string) => unknown;

const INPUT_PARSERS: Record<string, Parser> = {
  appid: optString,
  appidExclude: optString,
  credProps: optBool,
  credentialProtectionPolicy: (o, k, p) =>
    parseEnum(CredentialProtectionPolicy, o[k], member(p, k)),
  enforceCredentialProtectionPolicy: optBool,
  credBlob: optBytes,
  getCredBlob: optBool,
  largeBlob: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    const path = member(p, k);
    return defined({
      support: parseEnum(LargeBlobSupport, v.support, member(path, "support")),
      read: optBool(v, "read", path),
      write: optBytes(v, "write", path),
    });
  },
  minPinLength: optBool,
  hmacCreateSecret: optBool,
  hmacGetSecret: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    const path = member(p, k);
    return defined({ salt1: reqBytes(v, "salt1", path), salt2: optBytes(v, "salt2", path) });
  },
  prf: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    const path = member(p, k);
    const ev = optObject(v, "eval", path);
    const byCred = optObject(v, "evalByCredential", path);
    let evalByCredential: Record<string, AuthenticationExtensionsPRFValues> | undefined;
    if (byCred) {
      evalByCredential = {};
      const bp = member(path, "evalByCredential");
      for (const [id, vals] of Object.entries(byCred)) {
        evalByCredential[id] = prfValues(vals, member(bp, id));
      }
    }
    return defined({
      eval: ev ? prfValues(ev, member(path, "eval")) : undefined,
      evalByCredential,
    });
  },
  thirdPartyPayment: optBool,
};

const OUTPUT_PARSERS: Record<string, Parser> = {
  appid: optBool,
  appidExclude: optBool,
  credProps: (o, k, p) => {
    const v = optObject(o, k, p);
    return v ? defined({ rk: optBool(v, "rk", member(p, k)) }) : undefined;
  },
  credBlob: (o, k, p) => typeof o[k] === "boolean" ? o[k] : optBytes(o, k, p),
  largeBlob: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    const path = member(p, k);
    return defined({
      supported: optBool(v, "supported", path),
      blob: optBytes(v, "blob", path),
      written: optBool(v, "written", path),
    });
  },
  hmacCreateSecret: optBool,
  hmacGetSecret: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    const path = member(p, k);
    return defined({
      output1: reqBytes(v, "output1", path),
      output2: optBytes(v, "output2", path),
    });
  },
  prf: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    const path = member(p, k);
    const results = optObject(v, "results", path);
    return defined({
      enabled: optBool(v, "enabled", path),
      results: results ? prfValues(results, member(path, "results")) : undefined,
    });
  },
  thirdPartyPayment: optBool,
};

function parseRecord(
  json: unknown,
  path: string,
  parsers: Record<string, Parser>,
): Record<string, unknown> {
  const o = asObject(json, path);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const parser = parsers[key];
    const v = parser ? parser(o, key, path) : o[key];
    if (v !== undefined && v !== null) out[key] = v;
  }
  return out;
}

/**
 * JSON form of any extension value: bytes → base64url, nested records converted, undefined
 * members omitted.
 */
export function extensionValueToJSON(v: unknown): unknown {
  if (v instanceof Uint8Array) return b64(v);
  if (v instanceof ArrayBuffer) return b64(new Uint8Array(v));
  if (Array.isArray(v)) return v.map(extensionValueToJSON);
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined) out[k] = extensionValueToJSON(x);
    }
    return out;
  }
  if (typeof v === "bigint" || typeof v === "function" || typeof v === "symbol") {
    throw new FormatError(`Extension value of type ${typeof v} has no JSON form`);
  }
  return v;
}

/** Parsing and serialisation of {@linkcode AuthenticationExtensionsClientInputs}. */
export const AuthenticationExtensionsClientInputs: {
  fromJSON(json: unknown, path?: string): AuthenticationExtensionsClientInputs;
  toJSON(inputs: AuthenticationExtensionsClientInputs): Record<string, unknown>;
} = {
  /** Parses the JSON form; `path` prefixes error messages. */
  fromJSON(json: unknown, path = "extensions"): AuthenticationExtensionsClientInputs {
    return parseRecord(json, path, INPUT_PARSERS) as AuthenticationExtensionsClientInputs;
  },
  /** The JSON form. */
  toJSON(inputs: AuthenticationExtensionsClientInputs): Record<string, unknown> {
    return extensionValueToJSON(inputs) as Record<string, unknown>;
  },
};

/** Parsing and serialisation of {@linkcode AuthenticationExtensionsClientOutputs}. */
export const AuthenticationExtensionsClientOutputs: {
  fromJSON(json: unknown, path?: string): AuthenticationExtensionsClientOutputs;
  toJSON(outputs: AuthenticationExtensionsClientOutputs): Record<string, unknown>;
} = {
  /** Parses the JSON form; `path` prefixes error messages. */
  fromJSON(json: unknown, path = "clientExtensionResults"): AuthenticationExtensionsClientOutputs {
    return parseRecord(json, path, OUTPUT_PARSERS) as AuthenticationExtensionsClientOutputs;
  },
  /** The JSON form. */
  toJSON(outputs: AuthenticationExtensionsClientOutputs): Record<string, unknown> {
    return extensionValueToJSON(outputs) as Record<string, unknown>;
  },
};
