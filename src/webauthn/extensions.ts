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
  /** First PRF input or output (32 bytes as output). */
  readonly first: Uint8Array;
  /** Second value, for rotating between two keys. */
  readonly second?: Uint8Array;
}

/** prf extension input (§10.1.4). */
export interface AuthenticationExtensionsPRFInputs {
  /** Salts for every allowed credential, unless `evalByCredential` has one for it. */
  readonly eval?: AuthenticationExtensionsPRFValues;
  /** Keyed by base64url credential ID. */
  readonly evalByCredential?: Readonly<Record<string, AuthenticationExtensionsPRFValues>>;
}

/** prf extension output. */
export interface AuthenticationExtensionsPRFOutputs {
  /** Whether the new credential supports PRF (registration only). */
  readonly enabled?: boolean;
  /** The PRF outputs, when inputs were evaluated. */
  readonly results?: AuthenticationExtensionsPRFValues;
}

/** largeBlob extension input (§10.1.5). */
export interface AuthenticationExtensionsLargeBlobInputs {
  /** Registration: whether the RP needs large-blob storage. */
  readonly support?: LargeBlobSupport;
  /** Authentication: read the credential's blob. */
  readonly read?: boolean;
  /** Authentication: replace the credential's blob with these bytes. */
  readonly write?: Uint8Array;
}

/** largeBlob extension output. */
export interface AuthenticationExtensionsLargeBlobOutputs {
  /** Registration: whether the credential can store a large blob. */
  readonly supported?: boolean;
  /** Authentication: the blob read, absent when there is none. */
  readonly blob?: Uint8Array;
  /** Authentication: whether the write succeeded. */
  readonly written?: boolean;
}

/** hmacGetSecret input (CTAP hmac-secret at the WebAuthn level). */
export interface HMACGetSecretInput {
  /** First salt (32 bytes). */
  readonly salt1: Uint8Array;
  /** Second salt (32 bytes), for rotating between two keys. */
  readonly salt2?: Uint8Array;
}

/** hmacGetSecret output. */
export interface HMACGetSecretOutput {
  /** HMAC output for `salt1` (32 bytes). */
  readonly output1: Uint8Array;
  /** HMAC output for `salt2`, when it was given. */
  readonly output2?: Uint8Array;
}

/** credProps output (§10.1.3). */
export interface CredentialPropertiesOutput {
  /** Whether the credential is discoverable; absent when the client cannot tell. */
  readonly rk?: boolean;
}

/** Extension inputs a relying party may send; unknown names are kept as given. */
export interface AuthenticationExtensionsClientInputs {
  /** U2F AppID to accept for legacy credentials at authentication. */
  readonly appid?: string;
  /** U2F AppID whose credentials are excluded at registration as well. */
  readonly appidExclude?: string;
  /** Ask whether the new credential is discoverable. */
  readonly credProps?: boolean;
  /** credProtect level wanted for the new credential. */
  readonly credentialProtectionPolicy?: CredentialProtectionPolicy;
  /** Fail rather than register with a weaker protection level. */
  readonly enforceCredentialProtectionPolicy?: boolean;
  /** Bytes (at most the key's maxCredBlobLength) stored with the new credential. */
  readonly credBlob?: Uint8Array;
  /** Return the stored credBlob at authentication. */
  readonly getCredBlob?: boolean;
  /** largeBlob extension input. */
  readonly largeBlob?: AuthenticationExtensionsLargeBlobInputs;
  /** Ask the authenticator for its minimum PIN length. */
  readonly minPinLength?: boolean;
  /** Enable CTAP hmac-secret on the new credential. */
  readonly hmacCreateSecret?: boolean;
  /** Evaluate hmac-secret at authentication. */
  readonly hmacGetSecret?: HMACGetSecretInput;
  /** prf extension input. */
  readonly prf?: AuthenticationExtensionsPRFInputs;
  /** Secure Payment Confirmation (W3C): `{ isPayment: true }` registers a payment credential. */
  readonly payment?: AuthenticationExtensionsPaymentInputs;
  /**
   * Alias of `payment: { isPayment }` (the CTAP 2.2 authenticator extension's name); both
   * clients accept either, see {@linkcode isPaymentRequested}.
   */
  readonly thirdPartyPayment?: boolean;
  /** Other extensions, passed through by identifier. */
  readonly [name: string]: unknown;
}

/** The W3C Secure Payment Confirmation `payment` input; other SPC members pass through. */
export interface AuthenticationExtensionsPaymentInputs {
  /** The credential is (registration) or is used as (authentication) a payment credential. */
  readonly isPayment?: boolean;
  /** Other SPC members (payeeName, total, instrument, ...), kept as given. */
  readonly [name: string]: unknown;
}

/**
 * Whether client extension inputs ask for a payment credential: the W3C form
 * `payment: { isPayment: true }` or its alias `thirdPartyPayment: true`. Every client reads
 * the payment input through this one function so they cannot disagree.
 */
export function isPaymentRequested(inputs: Readonly<Record<string, unknown>> | undefined): boolean {
  if (!inputs) return false;
  const p = inputs.payment;
  if (typeof p === "object" && p !== null && (p as { isPayment?: unknown }).isPayment === true) {
    return true;
  }
  return inputs.thirdPartyPayment === true;
}

/** Extension outputs a client returns; unknown names are kept as given. */
export interface AuthenticationExtensionsClientOutputs {
  /** Whether the `appid` AppID was used instead of the RP ID. */
  readonly appid?: boolean;
  /** Whether `appidExclude` was processed. */
  readonly appidExclude?: boolean;
  /** credProps output. */
  readonly credProps?: CredentialPropertiesOutput;
  /** true/false after registration; the stored blob after authentication. */
  readonly credBlob?: boolean | Uint8Array;
  /** largeBlob extension output. */
  readonly largeBlob?: AuthenticationExtensionsLargeBlobOutputs;
  /** Whether hmac-secret was enabled on the new credential. */
  readonly hmacCreateSecret?: boolean;
  /** hmac-secret outputs at authentication. */
  readonly hmacGetSecret?: HMACGetSecretOutput;
  /** prf extension output. */
  readonly prf?: AuthenticationExtensionsPRFOutputs;
  /** Whether the credential was registered for payments. */
  readonly thirdPartyPayment?: boolean;
  /** Other extension outputs, by identifier. */
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
  payment: (o, k, p) => {
    const v = optObject(o, k, p);
    if (!v) return undefined;
    return defined({ ...v, isPayment: optBool(v, "isPayment", member(p, k)) });
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
