/**
 * authenticatorGetInfo response (CTAP 2.3 §6.4), every member through key 0x1F, type-checked.
 * @module
 */
import type { CborMap, CborValue } from "../cbor.ts";
import { FormatError } from "../errors.ts";
import { Aaguid } from "../webauthn/authdata.ts";
import { aesCbcDecryptNoPad } from "./aes_cbc.ts";
import { b64urlEncode, hkdfSha256 } from "../utils.ts";

/** A public key credential type and COSE algorithm pair (getInfo `algorithms`). */
export interface CredentialAlgorithm {
  /** Credential type, normally "public-key". */
  readonly type: string;
  /** COSE algorithm identifier (-7 = ES256, -8 = EdDSA, ...). */
  readonly alg: number;
}

/** getInfo member keys. */
export const INFO_KEY = {
  VERSIONS: 0x01,
  EXTENSIONS: 0x02,
  AAGUID: 0x03,
  OPTIONS: 0x04,
  MAX_MSG_SIZE: 0x05,
  PIN_UV_PROTOCOLS: 0x06,
  MAX_CREDS_IN_LIST: 0x07,
  MAX_CRED_ID_LENGTH: 0x08,
  TRANSPORTS: 0x09,
  ALGORITHMS: 0x0a,
  MAX_LARGE_BLOB: 0x0b,
  FORCE_PIN_CHANGE: 0x0c,
  MIN_PIN_LENGTH: 0x0d,
  FIRMWARE_VERSION: 0x0e,
  MAX_CRED_BLOB_LENGTH: 0x0f,
  MAX_RPIDS_FOR_MIN_PIN: 0x10,
  PREFERRED_PLATFORM_UV_ATTEMPTS: 0x11,
  UV_MODALITY: 0x12,
  CERTIFICATIONS: 0x13,
  REMAINING_DISC_CREDS: 0x14,
  VENDOR_PROTOTYPE_CONFIG_COMMANDS: 0x15,
  ATTESTATION_FORMATS: 0x16,
  UV_COUNT_SINCE_PIN: 0x17,
  LONG_TOUCH_FOR_RESET: 0x18,
  ENC_IDENTIFIER: 0x19,
  TRANSPORTS_FOR_RESET: 0x1a,
  PIN_COMPLEXITY_POLICY: 0x1b,
  PIN_COMPLEXITY_POLICY_URL: 0x1c,
  MAX_PIN_LENGTH: 0x1d,
  ENC_CRED_STORE_STATE: 0x1e,
  AUTHENTICATOR_CONFIG_COMMANDS: 0x1f,
} as const;

async function decryptInfoField(
  token: Uint8Array,
  label: string,
  value: Uint8Array | undefined,
): Promise<Uint8Array | undefined> {
  if (value === undefined) return undefined;
  if (!(token instanceof Uint8Array) || token.length === 0) {
    throw new FormatError("A persistent pinUvAuthToken is required");
  }
  if (value.length < 32) throw new FormatError(`getInfo ${label} is too short`);
  const key = hkdfSha256(token, new Uint8Array(32), new TextEncoder().encode(label), 16);
  return await aesCbcDecryptNoPad(key, value.subarray(0, 16), value.subarray(16));
}

function fail(key: number, what: string): never {
  throw new FormatError(`getInfo member 0x${key.toString(16)} must be ${what}`);
}

function uint(map: CborMap, key: number): number | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail(key, "an unsigned integer");
  return v;
}

function bool(map: CborMap, key: number): boolean | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") fail(key, "a boolean");
  return v;
}

function bytes(map: CborMap, key: number): Uint8Array | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) fail(key, "a byte string");
  return v;
}

function strings(map: CborMap, key: number): string[] | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    fail(key, "an array of text strings");
  }
  return v as string[];
}

function uints(map: CborMap, key: number): number[] | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((n) => typeof n === "number" && n >= 0)) {
    fail(key, "an array of unsigned integers");
  }
  return v as number[];
}

function stringMap<T>(
  map: CborMap,
  key: number,
  check: (v: CborValue) => v is CborValue & T,
  what: string,
): Record<string, T> | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Map)) fail(key, `a map of ${what}`);
  const out: Record<string, T> = {};
  for (const [k, val] of v) {
    if (typeof k !== "string" || !check(val)) fail(key, `a map of ${what}`);
    out[k] = val;
  }
  return out;
}

function algorithms(map: CborMap, key: number): CredentialAlgorithm[] | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail(key, "an array of credential parameters");
  return v.map((p) => {
    const type = p instanceof Map ? p.get("type") : undefined;
    const alg = p instanceof Map ? p.get("alg") : undefined;
    if (typeof type !== "string" || typeof alg !== "number") {
      fail(key, "an array of {type, alg} credential parameters");
    }
    return { type, alg };
  });
}

/**
 * What an authenticator says about itself. Absent members take the spec defaults; a member
 * of the wrong type is a `FormatError` (python-fido2 coerces instead). Unknown members stay
 * available in {@linkcode Info.raw}.
 */
export class Info {
  /** The decoded getInfo map, including members this class does not know. */
  readonly raw: CborMap;
  /** Supported protocol versions, e.g. `FIDO_2_1`, `U2F_V2`. */
  readonly versions: string[];
  /** Supported extension identifiers. */
  readonly extensions: string[];
  /** The model identifier. */
  readonly aaguid: Aaguid;
  /** Option flags (`rk`, `up`, `uv`, `clientPin`, `credMgmt`, ...). Absent means unsupported. */
  readonly options: Record<string, boolean>;
  /** Maximum request size in bytes (default 1024). */
  readonly maxMsgSize: number;
  /** Supported PIN/UV auth protocol versions, most preferred first. */
  readonly pinUvProtocols: number[];
  /** Maximum allow/exclude list length (0 when not reported). */
  readonly maxCredsInList: number;
  /** Maximum credential ID length (0 when not reported). */
  readonly maxCredIdLength: number;
  /** Transports the authenticator supports. */
  readonly transports: string[];
  /** Supported credential algorithms, most preferred first. */
  readonly algorithms: CredentialAlgorithm[];
  /** maxSerializedLargeBlobArray (0 when large blobs are unsupported). */
  readonly maxLargeBlob: number;
  /** The PIN must be changed before it can be used. */
  readonly forcePinChange: boolean;
  /** Current minimum PIN length in code points (default 4). */
  readonly minPinLength: number;
  /** Vendor firmware version (0 when not reported). */
  readonly firmwareVersion: number;
  /** Maximum credBlob length (0 when unsupported). */
  readonly maxCredBlobLength: number;
  /** Maximum RP IDs for setMinPINLength (0 when not reported). */
  readonly maxRpidsForSetMinPinLength: number;
  /** Preferred built-in UV attempts before falling back to PIN (0 when not reported). */
  readonly preferredPlatformUvAttempts: number;
  /** User verification modality bit field (0 when not reported). */
  readonly uvModality: number;
  /** Certification levels by certification name. */
  readonly certifications: Record<string, number>;
  /** Estimated number of discoverable credentials that still fit. */
  readonly remainingDiscCreds: number | undefined;
  /** Vendor prototype authenticatorConfig sub-commands. */
  readonly vendorPrototypeConfigCommands: number[];
  /** Supported attestation statement formats (default `["packed"]`). */
  readonly attestationFormats: string[];
  /** UV operations since the last PIN entry. */
  readonly uvCountSinceLastPinEntry: number | undefined;
  /** Reset requires a long touch. */
  readonly longTouchForReset: boolean;
  /** Encrypted device identifier (decryptable with a persistent pinUvAuthToken). */
  readonly encIdentifier: Uint8Array | undefined;
  /** Transports on which reset is allowed. */
  readonly transportsForReset: string[];
  /** A PIN complexity policy is enforced. */
  readonly pinComplexityPolicy: boolean | undefined;
  /** URL (bytes) describing the PIN complexity policy. */
  readonly pinComplexityPolicyUrl: Uint8Array | undefined;
  /** Maximum PIN length in code points (default 63). */
  readonly maxPinLength: number;
  /** Encrypted credential store state (CTAP 2.3). */
  readonly encCredStoreState: Uint8Array | undefined;
  /** authenticatorConfig sub-commands supported (CTAP 2.3); undefined when not reported. */
  readonly authenticatorConfigCommands: number[] | undefined;

  /** Validates the getInfo map; throws FormatError when a field is mistyped. */
  constructor(map: CborMap) {
    if (!(map instanceof Map)) throw new FormatError("getInfo response must be a CBOR map");
    const K = INFO_KEY;
    this.raw = map;
    const versions = strings(map, K.VERSIONS);
    if (versions === undefined) throw new FormatError("getInfo response has no versions");
    this.versions = versions;
    this.extensions = strings(map, K.EXTENSIONS) ?? [];
    const aaguid = bytes(map, K.AAGUID);
    if (aaguid !== undefined && aaguid.length !== 16) fail(K.AAGUID, "16 bytes");
    this.aaguid = aaguid ? new Aaguid(aaguid) : Aaguid.NONE;
    this.options = stringMap(
      map,
      K.OPTIONS,
      (v): v is boolean => typeof v === "boolean",
      "booleans",
    ) ?? {};
    this.maxMsgSize = uint(map, K.MAX_MSG_SIZE) ?? 1024;
    this.pinUvProtocols = uints(map, K.PIN_UV_PROTOCOLS) ?? [];
    this.maxCredsInList = uint(map, K.MAX_CREDS_IN_LIST) ?? 0;
    this.maxCredIdLength = uint(map, K.MAX_CRED_ID_LENGTH) ?? 0;
    this.transports = strings(map, K.TRANSPORTS) ?? [];
    this.algorithms = algorithms(map, K.ALGORITHMS) ?? [];
    this.maxLargeBlob = uint(map, K.MAX_LARGE_BLOB) ?? 0;
    this.forcePinChange = bool(map, K.FORCE_PIN_CHANGE) ?? false;
    this.minPinLength = uint(map, K.MIN_PIN_LENGTH) ?? 4;
    this.firmwareVersion = uint(map, K.FIRMWARE_VERSION) ?? 0;
    this.maxCredBlobLength = uint(map, K.MAX_CRED_BLOB_LENGTH) ?? 0;
    this.maxRpidsForSetMinPinLength = uint(map, K.MAX_RPIDS_FOR_MIN_PIN) ?? 0;
    this.preferredPlatformUvAttempts = uint(map, K.PREFERRED_PLATFORM_UV_ATTEMPTS) ?? 0;
    this.uvModality = uint(map, K.UV_MODALITY) ?? 0;
    this.certifications = stringMap(
      map,
      K.CERTIFICATIONS,
      (v): v is number => typeof v === "number",
      "integers",
    ) ?? {};
    this.remainingDiscCreds = uint(map, K.REMAINING_DISC_CREDS);
    this.vendorPrototypeConfigCommands = uints(map, K.VENDOR_PROTOTYPE_CONFIG_COMMANDS) ?? [];
    this.attestationFormats = strings(map, K.ATTESTATION_FORMATS) ?? ["packed"];
    this.uvCountSinceLastPinEntry = uint(map, K.UV_COUNT_SINCE_PIN);
    this.longTouchForReset = bool(map, K.LONG_TOUCH_FOR_RESET) ?? false;
    this.encIdentifier = bytes(map, K.ENC_IDENTIFIER);
    this.transportsForReset = strings(map, K.TRANSPORTS_FOR_RESET) ?? [];
    this.pinComplexityPolicy = bool(map, K.PIN_COMPLEXITY_POLICY);
    this.pinComplexityPolicyUrl = bytes(map, K.PIN_COMPLEXITY_POLICY_URL);
    this.maxPinLength = uint(map, K.MAX_PIN_LENGTH) ?? 63;
    this.encCredStoreState = bytes(map, K.ENC_CRED_STORE_STATE);
    this.authenticatorConfigCommands = uints(map, K.AUTHENTICATOR_CONFIG_COMMANDS);
  }

  /**
   * Decrypts `encIdentifier` with a persistent pinUvAuthToken (AES-128-CBC under
   * HKDF-SHA-256(token, salt 32×00, "encIdentifier")); undefined when not reported.
   */
  getIdentifier(persistentToken: Uint8Array): Promise<Uint8Array | undefined> {
    return decryptInfoField(persistentToken, "encIdentifier", this.encIdentifier);
  }

  /** Decrypts `encCredStoreState` the same way (HKDF info "encCredStoreState"). */
  getCredStoreState(persistentToken: Uint8Array): Promise<Uint8Array | undefined> {
    return decryptInfoField(persistentToken, "encCredStoreState", this.encCredStoreState);
  }

  /** Named members (bytes as base64url, absent optional members left out). */
  toJSON(): Record<string, unknown> {
    const b = (v: Uint8Array | undefined) => (v === undefined ? undefined : b64urlEncode(v));
    return {
      versions: this.versions,
      extensions: this.extensions,
      aaguid: this.aaguid.toString(),
      options: this.options,
      maxMsgSize: this.maxMsgSize,
      pinUvProtocols: this.pinUvProtocols,
      maxCredsInList: this.maxCredsInList,
      maxCredIdLength: this.maxCredIdLength,
      transports: this.transports,
      algorithms: this.algorithms,
      maxLargeBlob: this.maxLargeBlob,
      forcePinChange: this.forcePinChange,
      minPinLength: this.minPinLength,
      firmwareVersion: this.firmwareVersion,
      maxCredBlobLength: this.maxCredBlobLength,
      maxRpidsForSetMinPinLength: this.maxRpidsForSetMinPinLength,
      preferredPlatformUvAttempts: this.preferredPlatformUvAttempts,
      uvModality: this.uvModality,
      certifications: this.certifications,
      remainingDiscCreds: this.remainingDiscCreds,
      vendorPrototypeConfigCommands: this.vendorPrototypeConfigCommands,
      attestationFormats: this.attestationFormats,
      uvCountSinceLastPinEntry: this.uvCountSinceLastPinEntry,
      longTouchForReset: this.longTouchForReset,
      encIdentifier: b(this.encIdentifier),
      transportsForReset: this.transportsForReset,
      pinComplexityPolicy: this.pinComplexityPolicy,
      pinComplexityPolicyUrl: b(this.pinComplexityPolicyUrl),
      maxPinLength: this.maxPinLength,
      encCredStoreState: b(this.encCredStoreState),
      authenticatorConfigCommands: this.authenticatorConfigCommands,
    };
  }
}
