/**
 * webauthn.dll binding: symbols, x64 struct marshalling and HRESULT errors. It maps plain
 * TypeScript objects to the webauthn.h structs and back and holds no protocol logic (the
 * WebAuthn-level mapping lives in `src/client/windows.ts`).
 *
 * Struct versions follow the DLL's API version: every request is built with the newest struct
 * version that API supports, and outputs are read only up to the `dwVersion` the DLL returned.
 * Every offset comes from the {@linkcode LAYOUT} table (research/windows-webauthn.md §1.5);
 * Win64 and SysV x86-64 share these layouts, so a Linux fake library exercises the same code.
 * @module
 */
import {
  addressOf,
  getEnv,
  LibraryLoadError,
  type NativeLibrary,
  openLibrary,
  platform,
  readBytes,
  readWideString,
  wideString,
} from "./runtime.ts";
import { FormatError } from "../src/errors.ts";
import { loadSystemLibrary } from "./win32.ts";

export { LibraryLoadError };

// ---------------------------------------------------------------- layout (x64)

/**
 * Byte offsets and sizes of every webauthn.h struct field this binding touches, for x64
 * (Win64 = SysV x86-64 for these structs). One table so a layout bug has one place to live.
 */
export const LAYOUT = {
  guid: { size: 16 },
  rp: { size: 32, dwVersion: 0, pwszId: 8, pwszName: 16, pwszIcon: 24 },
  user: {
    size: 40,
    dwVersion: 0,
    cbId: 4,
    pbId: 8,
    pwszName: 16,
    pwszIcon: 24,
    pwszDisplayName: 32,
  },
  clientData: {
    size: 24,
    dwVersion: 0,
    cbClientDataJSON: 4,
    pbClientDataJSON: 8,
    pwszHashAlgId: 16,
  },
  coseParameter: { size: 24, dwVersion: 0, pwszCredentialType: 8, lAlg: 16 },
  coseParameters: { size: 16, cCredentialParameters: 0, pCredentialParameters: 8 },
  credential: { size: 24, dwVersion: 0, cbId: 4, pbId: 8, pwszCredentialType: 16 },
  credentials: { size: 16, cCredentials: 0, pCredentials: 8 },
  credentialEx: {
    size: 32,
    dwVersion: 0,
    cbId: 4,
    pbId: 8,
    pwszCredentialType: 16,
    dwTransports: 24,
  },
  credentialList: { size: 16, cCredentials: 0, ppCredentials: 8 },
  extension: { size: 24, pwszExtensionIdentifier: 0, cbExtension: 8, pvExtension: 16 },
  extensions: { size: 16, cExtensions: 0, pExtensions: 8 },
  credProtectIn: { size: 8, dwCredProtect: 0, bRequireCredProtect: 4 },
  credBlob: { size: 16, cbCredBlob: 0, pbCredBlob: 8 },
  hmacSalt: { size: 32, cbFirst: 0, pbFirst: 8, cbSecond: 16, pbSecond: 24 },
  credWithHmacSalt: { size: 24, cbCredID: 0, pbCredID: 8, pHmacSecretSalt: 16 },
  hmacSaltValues: {
    size: 24,
    pGlobalHmacSalt: 0,
    cCredWithHmacSecretSaltList: 8,
    pCredWithHmacSecretSaltList: 16,
  },
  makeCredentialOptions: {
    size: 200,
    dwVersion: 0,
    dwTimeoutMilliseconds: 4,
    CredentialList: 8,
    Extensions: 24,
    dwAuthenticatorAttachment: 40,
    bRequireResidentKey: 44,
    dwUserVerificationRequirement: 48,
    dwAttestationConveyancePreference: 52,
    dwFlags: 56,
    pCancellationId: 64, // v2
    pExcludeCredentialList: 72, // v3
    dwEnterpriseAttestation: 80, // v4
    dwLargeBlobSupport: 84,
    bPreferResidentKey: 88,
    bBrowserInPrivateMode: 92, // v5
    bEnablePrf: 96, // v6
    pLinkedDevice: 104, // v7
    cbJsonExt: 112,
    pbJsonExt: 120,
    pPRFGlobalEval: 128, // v8
    cCredentialHints: 136,
    ppwszCredentialHints: 144,
    bThirdPartyPayment: 152,
    pwszRemoteWebOrigin: 160, // v9
    cbPublicKeyCredentialCreationOptionsJSON: 168,
    pbPublicKeyCredentialCreationOptionsJSON: 176,
    cbAuthenticatorId: 184,
    pbAuthenticatorId: 192,
  },
  getAssertionOptions: {
    size: 200,
    dwVersion: 0,
    dwTimeoutMilliseconds: 4,
    CredentialList: 8,
    Extensions: 24,
    dwAuthenticatorAttachment: 40,
    dwUserVerificationRequirement: 44,
    dwFlags: 48,
    pwszU2fAppId: 56, // v2
    pbU2fAppId: 64,
    pCancellationId: 72, // v3
    pAllowCredentialList: 80, // v4
    dwCredLargeBlobOperation: 88, // v5
    cbCredLargeBlob: 92,
    pbCredLargeBlob: 96,
    pHmacSecretSaltValues: 104, // v6
    bBrowserInPrivateMode: 112,
    pLinkedDevice: 120, // v7
    bAutoFill: 128,
    cbJsonExt: 132,
    pbJsonExt: 136,
    cCredentialHints: 144, // v8
    ppwszCredentialHints: 152,
    pwszRemoteWebOrigin: 160, // v9
    cbPublicKeyCredentialRequestOptionsJSON: 168,
    pbPublicKeyCredentialRequestOptionsJSON: 176,
    cbAuthenticatorId: 184,
    pbAuthenticatorId: 192,
  },
  getCredentialsOptions: { size: 24, dwVersion: 0, pwszRpId: 8, bBrowserInPrivateMode: 16 },
  credentialDetails: {
    /** Bytes up to the end of each struct version (index = version). */
    end: [0, 36, 40, 68, 72],
    dwVersion: 0,
    cbCredentialID: 4,
    pbCredentialID: 8,
    pRpInformation: 16,
    pUserInformation: 24,
    bRemovable: 32,
    bBackedUp: 36, // v2
    pwszAuthenticatorName: 40, // v3
    cbAuthenticatorLogo: 48,
    pbAuthenticatorLogo: 56,
    bThirdPartyPayment: 64,
    dwTransports: 68, // v4
  },
  credentialDetailsList: { size: 16, cCredentialDetails: 0, ppCredentialDetails: 8 },
  credentialAttestation: {
    /** Bytes up to the end of each struct version (index = version). */
    end: [0, 96, 112, 116, 128, 132, 144, 156, 192],
    dwVersion: 0,
    pwszFormatType: 8,
    cbAuthenticatorData: 16,
    pbAuthenticatorData: 24,
    cbAttestation: 32,
    pbAttestation: 40,
    dwAttestationDecodeType: 48,
    pvAttestationDecode: 56,
    cbAttestationObject: 64,
    pbAttestationObject: 72,
    cbCredentialId: 80,
    pbCredentialId: 88,
    Extensions: 96, // v2
    dwUsedTransport: 112, // v3
    bEpAtt: 116, // v4
    bLargeBlobSupported: 120,
    bResidentKey: 124,
    bPrfEnabled: 128, // v5
    cbUnsignedExtensionOutputs: 132, // v6
    pbUnsignedExtensionOutputs: 136,
    pHmacSecret: 144, // v7
    bThirdPartyPayment: 152,
    dwTransports: 156, // v8
    cbClientDataJSON: 160,
    pbClientDataJSON: 168,
    cbRegistrationResponseJSON: 176,
    pbRegistrationResponseJSON: 184,
  },
  assertion: {
    end: [0, 72, 108, 120, 124, 136, 168],
    dwVersion: 0,
    cbAuthenticatorData: 4,
    pbAuthenticatorData: 8,
    cbSignature: 16,
    pbSignature: 24,
    Credential: 32,
    cbUserId: 56,
    pbUserId: 64,
    Extensions: 72, // v2
    cbCredLargeBlob: 88,
    pbCredLargeBlob: 96,
    dwCredLargeBlobStatus: 104,
    pHmacSecret: 112, // v3
    dwUsedTransport: 120, // v4
    cbUnsignedExtensionOutputs: 124, // v5
    pbUnsignedExtensionOutputs: 128,
    cbClientDataJSON: 136, // v6
    pbClientDataJSON: 144,
    cbAuthenticationResponseJSON: 152,
    pbAuthenticationResponseJSON: 160,
  },
} as const;

/** Struct versions per webauthn API version (index = API version; API 0 = pre-1903 DLL). */
export const STRUCT_VERSIONS = {
  makeCredentialOptions: [3, 3, 3, 4, 5, 5, 6, 7, 8, 9],
  getAssertionOptions: [4, 4, 4, 5, 6, 6, 6, 7, 8, 9],
  credentialAttestation: [3, 3, 3, 4, 4, 4, 5, 6, 7, 8],
  assertion: [1, 1, 1, 2, 3, 3, 4, 5, 5, 6],
  /** WEBAUTHN_CREDENTIAL_DETAILS (0: the platform credential API does not exist). */
  credentialDetails: [0, 0, 0, 0, 1, 2, 2, 2, 3, 4],
} as const;

/** API version that added WebAuthNGetPlatformCredentialList / DeletePlatformCredential. */
export const PLATFORM_CREDENTIALS_API_VERSION = 4;

/** Newest API version this binding knows; newer DLLs are driven as this version. */
export const MAX_KNOWN_API_VERSION = 9;

// ---------------------------------------------------------------- constants

/** `WEBAUTHN_CTAP_TRANSPORT_*` bits by name. */
export const TRANSPORTS = {
  usb: 0x01,
  nfc: 0x02,
  ble: 0x04,
  test: 0x08,
  internal: 0x10,
  hybrid: 0x20,
  "smart-card": 0x40,
} as const;

/** A transport name as webauthn.dll knows it. */
export type Transport = keyof typeof TRANSPORTS;

/** Authenticator attachment (`WEBAUTHN_AUTHENTICATOR_ATTACHMENT_*`). */
export type Attachment = "any" | "platform" | "cross-platform" | "cross-platform-u2f-v2";
/** User verification requirement (`WEBAUTHN_USER_VERIFICATION_REQUIREMENT_*`). */
export type UserVerification = "any" | "required" | "preferred" | "discouraged";
/** Attestation conveyance (`WEBAUTHN_ATTESTATION_CONVEYANCE_PREFERENCE_*`). */
export type AttestationConveyance = "any" | "none" | "indirect" | "direct";
/** Enterprise attestation (`WEBAUTHN_ENTERPRISE_ATTESTATION_*`). */
export type EnterpriseAttestation = "none" | "vendor-facilitated" | "platform-managed";
/** Large-blob support asked for at registration (`WEBAUTHN_LARGE_BLOB_SUPPORT_*`). */
export type LargeBlobSupport = "none" | "required" | "preferred";
/** Large-blob operation at authentication (`WEBAUTHN_CRED_LARGE_BLOB_OPERATION_*`). */
export type LargeBlobOperation = "none" | "get" | "set" | "delete";
/** Large-blob result (`WEBAUTHN_CRED_LARGE_BLOB_STATUS_*`). */
export type LargeBlobStatus =
  | "none"
  | "success"
  | "not-supported"
  | "invalid-data"
  | "invalid-parameter"
  | "not-found"
  | "multiple-credentials"
  | "lack-of-space"
  | "platform-error"
  | "authenticator-error";

// The unions above are spelled out so the public types read without these tables; `satisfies`
// keeps each table and its union in step.
const ATTACHMENT = {
  any: 0,
  platform: 1,
  "cross-platform": 2,
  "cross-platform-u2f-v2": 3,
} as const satisfies Record<Attachment, number>;
const USER_VERIFICATION = {
  any: 0,
  required: 1,
  preferred: 2,
  discouraged: 3,
} as const satisfies Record<UserVerification, number>;
const CONVEYANCE = { any: 0, none: 1, indirect: 2, direct: 3 } as const satisfies Record<
  AttestationConveyance,
  number
>;
const ENTERPRISE = {
  none: 0,
  "vendor-facilitated": 1,
  "platform-managed": 2,
} as const satisfies Record<EnterpriseAttestation, number>;
const LARGE_BLOB_SUPPORT = { none: 0, required: 1, preferred: 2 } as const satisfies Record<
  LargeBlobSupport,
  number
>;
const LARGE_BLOB_OPERATION = { none: 0, get: 1, set: 2, delete: 3 } as const satisfies Record<
  LargeBlobOperation,
  number
>;
const LARGE_BLOB_STATUS = [
  "none",
  "success",
  "not-supported",
  "invalid-data",
  "invalid-parameter",
  "not-found",
  "multiple-credentials",
  "lack-of-space",
  "platform-error",
  "authenticator-error",
] as const satisfies readonly LargeBlobStatus[];

/** `WEBAUTHN_AUTHENTICATOR_HMAC_SECRET_VALUES_FLAG`: salts are raw hmac-secret salts. */
export const HMAC_SECRET_VALUES_FLAG = 0x00100000;

/** Well-known HRESULTs webauthn.dll returns (unsigned values). */
export const HRESULT = {
  S_OK: 0,
  E_NOTIMPL: 0x80004001,
  E_INVALIDARG: 0x80070057,
  NTE_EXISTS: 0x8009000f,
  NTE_NOT_FOUND: 0x80090011,
  NTE_TOKEN_KEYSET_STORAGE_FULL: 0x80090023,
  NTE_INVALID_PARAMETER: 0x80090027,
  NTE_NOT_SUPPORTED: 0x80090029,
  NTE_DEVICE_NOT_FOUND: 0x80090035,
  NTE_USER_CANCELLED: 0x80090036,
  ERROR_NOT_SUPPORTED: 0x80070032,
  ERROR_CANCELLED: 0x800704c7,
  ERROR_TIMEOUT: 0x800705b4,
  RPC_S_CALL_FAILED: 0x800706be,
} as const;

// ---------------------------------------------------------------- errors

/**
 * A webauthn.dll function returned a failing HRESULT. `hresult` is the unsigned code (compare
 * with {@linkcode HRESULT}), `errorName` the DLL's W3C name ("NotAllowedError", ...) so
 * callers can map both the exact cause and its WebAuthn class.
 */
export class WindowsApiError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "WindowsApiError";
  /** The HRESULT as an unsigned 32-bit number. */
  readonly hresult: number;
  /** `WebAuthNGetErrorName(hresult)`: "InvalidStateError", "NotAllowedError", ... */
  readonly errorName: string;
  /** Symbolic name of a well-known HRESULT ("NTE_USER_CANCELLED"), else undefined. */
  readonly code: keyof typeof HRESULT | undefined;
  /** The webauthn.dll function that failed. */
  readonly operation: string;
  /** Builds the error for `operation`'s failing `hresult` and the DLL's W3C `errorName`. */
  constructor(operation: string, hresult: number, errorName: string) {
    const hr = hresult >>> 0;
    const code = (Object.keys(HRESULT) as (keyof typeof HRESULT)[]).find((k) => HRESULT[k] === hr);
    super(
      `${operation} failed: ${errorName} (HRESULT 0x${hr.toString(16).padStart(8, "0")}` +
        `${code ? ` ${code}` : ""})`,
    );
    this.hresult = hr;
    this.errorName = errorName;
    this.code = code;
    this.operation = operation;
  }
}

/** The request needs a struct field that the loaded DLL's API version does not have. */
export class WebAuthnUnsupportedError extends Error {
  override name = "WebAuthnUnsupportedError";
  constructor(
    /** What was asked for, e.g. "prf" or "hints". */
    readonly feature: string,
    /** Lowest webauthn API version that supports it. */
    readonly requiredApiVersion: number,
    /** API version of the loaded DLL. */
    readonly apiVersion: number,
  ) {
    super(
      `${feature} needs webauthn.dll API version ${requiredApiVersion}; ` +
        `this one has API version ${apiVersion}`,
    );
  }
}

// ---------------------------------------------------------------- public types

/** `WEBAUTHN_RP_ENTITY_INFORMATION`. */
export interface RpEntity {
  /** The RP ID (a domain). */
  id: string;
  /** Human-readable RP name. */
  name: string;
  /** Deprecated in WebAuthn; passed through when set. */
  icon?: string;
}

/** `WEBAUTHN_USER_ENTITY_INFORMATION` (id at most 64 bytes). */
export interface UserEntity {
  /** The user handle. */
  id: Uint8Array;
  /** Account name (e.g. an email address). */
  name: string;
  /** Name shown to the user. */
  displayName: string;
  /** Deprecated in WebAuthn; passed through when set. */
  icon?: string;
}

/** One `WEBAUTHN_COSE_CREDENTIAL_PARAMETER`. */
export interface CoseCredentialParameter {
  /** Credential type, normally "public-key". */
  type: string;
  /** COSE algorithm identifier (-7 = ES256, -8 = EdDSA, -257 = RS256, ...). */
  alg: number;
}

/** Client data handed to the DLL, which hashes it itself. */
export interface ClientDataInput {
  /** The UTF-8 client data JSON. */
  json: Uint8Array;
  /** Hash the DLL applies to `json` (default SHA-256). */
  hashAlg?: "SHA-256" | "SHA-384" | "SHA-512";
}

/** A credential in an allow/exclude list; unknown transport names are dropped. */
export interface CredentialDescriptor {
  /** The credential ID. */
  id: Uint8Array;
  /** Credential type (default "public-key"). */
  type?: string;
  /** Transport hints; names webauthn.dll does not know are dropped. */
  transports?: readonly string[];
}

/** PRF / hmac-secret salts (`WEBAUTHN_HMAC_SECRET_SALT`). */
export interface HmacSalts {
  /** First salt (32 bytes). */
  first: Uint8Array;
  /** Second salt (32 bytes), for key rotation. */
  second?: Uint8Array;
}

/** Extension inputs of MakeCredential. */
export interface MakeCredentialExtensions {
  /** `hmac-secret` TRUE. */
  hmacSecret?: boolean;
  /** `credProtect`: level 1..3 (0 = authenticator default), `enforce` = bRequireCredProtect. */
  credProtect?: { level: 0 | 1 | 2 | 3; enforce?: boolean };
  /** `credBlob` data to store. */
  credBlob?: Uint8Array;
  /** `minPinLength` TRUE. */
  minPinLength?: boolean;
  /** dwLargeBlobSupport (needs a resident key). */
  largeBlob?: LargeBlobSupport;
  /** bEnablePrf, and pPRFGlobalEval when `eval` is given (Windows applies the PRF hashing). */
  prf?: { eval?: HmacSalts };
  /**
   * hmac-secret-mc (API 8+): raw 32-byte hmac-secret salts evaluated at registration, sent in
   * pPRFGlobalEval with {@linkcode HMAC_SECRET_VALUES_FLAG} in dwFlags (libfido2's way).
   * Exclusive with `prf.eval`.
   */
  hmacSecretMc?: HmacSalts;
}

/** MakeCredential options (`WEBAUTHN_AUTHENTICATOR_MAKE_CREDENTIAL_OPTIONS`). */
export interface MakeCredentialOptions {
  /** Time the user has to respond, in milliseconds (DLL default when omitted). */
  timeoutMs?: number;
  /** Which kind of authenticator may answer (default "any"). */
  attachment?: Attachment;
  /** bRequireResidentKey; `residentKey: "required"` sets it too. */
  requireResidentKey?: boolean;
  /** "required" → bRequireResidentKey, "preferred" → bPreferResidentKey (API 3+). */
  residentKey?: "required" | "preferred" | "discouraged";
  /** Default "any" (the DLL's choice). */
  userVerification?: UserVerification;
  /** Default "any" (the DLL's choice). */
  attestationConveyance?: AttestationConveyance;
  /** Credentials the authenticator must not already hold. */
  excludeCredentials?: readonly CredentialDescriptor[];
  /** CTAP2 extension inputs. */
  extensions?: MakeCredentialExtensions;
  /** A GUID from {@linkcode WebAuthnApi.getCancellationId}. */
  cancellationId?: Uint8Array;
  /** Ask for enterprise attestation (default "none"). */
  enterpriseAttestation?: EnterpriseAttestation;
  /** Tell the DLL the caller runs in a private browsing session. */
  browserInPrivateMode?: boolean;
  /** Credential hints ("security-key", "client-device", "hybrid"). */
  hints?: readonly string[];
  /** Register a payment credential (the `thirdPartyPayment` extension). */
  thirdPartyPayment?: boolean;
  /** cbJsonExt/pbJsonExt (API 7+). */
  jsonExt?: Uint8Array;
  /** Origin of a remote web caller the DLL acts for (API 9: options struct v9). */
  remoteWebOrigin?: string;
  /** pbPublicKeyCredentialCreationOptionsJSON (API 9). */
  optionsJson?: Uint8Array;
  /** Restrict the ceremony to one authenticator (API 9: options struct v9). */
  authenticatorId?: Uint8Array;
}

/** Extension inputs of GetAssertion. */
export interface GetAssertionExtensions {
  /** `credBlob` TRUE (getCredBlob). */
  credBlob?: boolean;
  /** Large-blob read ("get"), write ("set" with `data`) or "delete". */
  largeBlob?: { operation: LargeBlobOperation; data?: Uint8Array };
  /**
   * pHmacSecretSaltValues: global salts and per-credential salts. `raw` sets
   * {@linkcode HMAC_SECRET_VALUES_FLAG} (32-byte hmac-secret salts instead of PRF inputs).
   */
  hmacSecret?: {
    global?: HmacSalts;
    byCredential?: readonly { id: Uint8Array; salts: HmacSalts }[];
    raw?: boolean;
  };
}

/** GetAssertion options (`WEBAUTHN_AUTHENTICATOR_GET_ASSERTION_OPTIONS`). */
export interface GetAssertionOptions {
  /** Time the user has to respond, in milliseconds (DLL default when omitted). */
  timeoutMs?: number;
  /** Which kind of authenticator may answer (default "any"). */
  attachment?: Attachment;
  /** Default "any" (the DLL's choice). */
  userVerification?: UserVerification;
  /** Credentials the RP accepts; empty means discoverable credentials. */
  allowCredentials?: readonly CredentialDescriptor[];
  /** U2F AppID (the `appid` extension); the result reports `appIdUsed`. */
  appId?: string;
  /** CTAP2 extension inputs. */
  extensions?: GetAssertionExtensions;
  /** A GUID from {@linkcode WebAuthnApi.getCancellationId}. */
  cancellationId?: Uint8Array;
  /** Tell the DLL the caller runs in a private browsing session. */
  browserInPrivateMode?: boolean;
  /** Conditional mediation (passkey autofill UI). */
  autoFill?: boolean;
  /** Credential hints ("security-key", "client-device", "hybrid"). */
  hints?: readonly string[];
  /** cbJsonExt/pbJsonExt (API 7+). */
  jsonExt?: Uint8Array;
  /** Origin of a remote web caller the DLL acts for (API 9: options struct v9). */
  remoteWebOrigin?: string;
  /** pbPublicKeyCredentialRequestOptionsJSON (API 9). */
  optionsJson?: Uint8Array;
  /** Restrict the ceremony to one authenticator (API 9: options struct v9). */
  authenticatorId?: Uint8Array;
}

/** Extension outputs found in a returned `WEBAUTHN_EXTENSIONS` array. */
export interface ExtensionOutputs {
  /** Whether the authenticator enabled hmac-secret. */
  hmacSecret?: boolean;
  /** The credProtect level applied (1..3). */
  credProtect?: number;
  /** MakeCredential: whether the blob was stored. */
  credBlobStored?: boolean;
  /** GetAssertion: the stored blob. */
  credBlob?: Uint8Array;
  /** Minimum PIN length the authenticator reported. */
  minPinLength?: number;
  /** Every entry as returned (identifier and the raw `pvExtension` bytes). */
  raw: { id: string; data: Uint8Array }[];
}

/** `WEBAUTHN_CREDENTIAL_ATTESTATION`, copied out of DLL memory. Later-version fields are
 * `undefined` when the DLL returned an older struct version. */
export interface CredentialAttestation {
  /** Struct version the DLL returned (decides which later fields are present). */
  version: number;
  /** Attestation statement format ("packed", "none", ...). */
  formatType: string;
  /** The raw authenticator data. */
  authenticatorData: Uint8Array;
  /** CBOR attStmt. */
  attestation: Uint8Array;
  /** The CBOR attestation object, ready for a relying party. */
  attestationObject: Uint8Array;
  /** ID of the new credential. */
  credentialId: Uint8Array;
  /** Extension outputs parsed from the DLL's extension array. */
  extensions?: ExtensionOutputs;
  /** Transport the DLL used to reach the authenticator. */
  usedTransports?: Transport[];
  /** Whether enterprise attestation was returned. */
  epAtt?: boolean;
  /** Whether the authenticator accepted large-blob support. */
  largeBlobSupported?: boolean;
  /** Whether the credential is discoverable (resident). */
  residentKey?: boolean;
  /** Whether PRF was enabled for the credential. */
  prfEnabled?: boolean;
  /** Unsigned extension outputs (CBOR). */
  unsignedExtensionOutputs?: Uint8Array;
  /** PRF results when `prf.eval` was given. */
  hmacSecret?: HmacSalts;
  /** Whether the thirdPartyPayment extension applied. */
  thirdPartyPayment?: boolean;
  /** Transports the new credential supports. */
  transports?: Transport[];
  /** The client data JSON the DLL actually used. */
  clientDataJson?: Uint8Array;
  /** The DLL's own RegistrationResponseJSON (API 9). */
  registrationResponseJson?: Uint8Array;
}

/** `WEBAUTHN_ASSERTION`, copied out of DLL memory. */
export interface Assertion {
  /** Struct version the DLL returned (decides which later fields are present). */
  version: number;
  /** The raw authenticator data. */
  authenticatorData: Uint8Array;
  /** The assertion signature. */
  signature: Uint8Array;
  /** The credential that signed. */
  credential: { type: string; id: Uint8Array };
  /** Empty when the DLL returned no user handle. */
  userId: Uint8Array;
  /** Extension outputs parsed from the DLL's extension array. */
  extensions?: ExtensionOutputs;
  /** Large-blob result; `status` is a number when the DLL reports an unknown code. */
  largeBlob?: { status: LargeBlobStatus | number; data: Uint8Array };
  /** hmac-secret / PRF outputs. */
  hmacSecret?: HmacSalts;
  /** Transport the DLL used to reach the authenticator. */
  usedTransports?: Transport[];
  /** Unsigned extension outputs (CBOR). */
  unsignedExtensionOutputs?: Uint8Array;
  /** The client data JSON the DLL actually used. */
  clientDataJson?: Uint8Array;
  /** The DLL's own AuthenticationResponseJSON (API 9). */
  authenticationResponseJson?: Uint8Array;
  /** Set when `appId` was given: whether the DLL used it (the `appid` extension output). */
  appIdUsed?: boolean;
}

/** Options of {@linkcode WebAuthnApi.getPlatformCredentialList}. */
export interface PlatformCredentialListOptions {
  /** Only credentials of this RP ID; all of them when omitted. */
  rpId?: string;
  /** Tell the DLL the caller runs in a private browsing session. */
  browserInPrivateMode?: boolean;
}

/**
 * One `WEBAUTHN_CREDENTIAL_DETAILS`, copied out of DLL memory. Later-version fields are
 * `undefined` when the DLL returned an older struct version.
 */
export interface PlatformCredential {
  /** Struct version the DLL returned (decides which later fields are present). */
  version: number;
  /** The credential ID. */
  credentialId: Uint8Array;
  /** The relying party the credential belongs to. */
  rp: { id: string; name: string; icon?: string };
  /** The account the credential belongs to. */
  user: { id: Uint8Array; name: string; displayName: string; icon?: string };
  /** Whether the user may delete it (bRemovable). */
  removable: boolean;
  /** v2 (API 5). */
  backedUp?: boolean;
  /** v3 (API 8). */
  authenticatorName?: string;
  /** v3: the authenticator's logo (SVG bytes). */
  authenticatorLogo?: Uint8Array;
  /** Whether it is a payment credential (v3). */
  thirdPartyPayment?: boolean;
  /** v4 (API 9). */
  transports?: Transport[];
}

/** The loaded webauthn.dll, with plain-object marshalling. */
export interface WebAuthnApi {
  /** The library path that was loaded. */
  readonly path: string;
  /** WebAuthNGetApiVersionNumber (0 when the DLL predates it), read once at load time. */
  apiVersion(): number;
  /** WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable. */
  isUserVerifyingPlatformAuthenticatorAvailable(): boolean;
  /** WebAuthNAuthenticatorMakeCredential; frees the DLL's result before resolving. */
  makeCredential(
    hwnd: number | bigint,
    rp: RpEntity,
    user: UserEntity,
    pubKeyCredParams: readonly CoseCredentialParameter[],
    clientData: ClientDataInput,
    options?: MakeCredentialOptions,
  ): Promise<CredentialAttestation>;
  /** WebAuthNAuthenticatorGetAssertion; frees the DLL's result before resolving. */
  getAssertion(
    hwnd: number | bigint,
    rpId: string,
    clientData: ClientDataInput,
    options?: GetAssertionOptions,
  ): Promise<Assertion>;
  /** WebAuthNGetCancellationId: a 16-byte GUID to pass as `cancellationId`. */
  getCancellationId(): Uint8Array;
  /** WebAuthNCancelCurrentOperation for the operation started with `cancellationId`. */
  cancelCurrentOperation(cancellationId: Uint8Array): void;
  /** WebAuthNGetErrorName. */
  getErrorName(hresult: number): string;
  /**
   * WebAuthNGetPlatformCredentialList (API 4+): the credentials stored on this machine's
   * platform authenticator, `[]` when there are none (NTE_NOT_FOUND). Throws
   * `WebAuthnUnsupportedError` on older DLLs.
   */
  getPlatformCredentialList(options?: PlatformCredentialListOptions): Promise<PlatformCredential[]>;
  /** WebAuthNDeletePlatformCredential (API 4+); NTE_NOT_FOUND when there is no such id. */
  deletePlatformCredential(credentialId: Uint8Array): Promise<void>;
  /** Frees the library (a second call does nothing); the API must not be used afterwards. */
  close(): void;
}

// ---------------------------------------------------------------- loading

const SYMBOLS = {
  WebAuthNGetApiVersionNumber: { parameters: [], result: "u32", optional: true },
  WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable: { parameters: ["buffer"], result: "i32" },
  WebAuthNAuthenticatorMakeCredential: {
    parameters: ["ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"],
    result: "i32",
    nonblocking: true,
  },
  WebAuthNAuthenticatorGetAssertion: {
    parameters: ["ptr", "ptr", "ptr", "ptr", "ptr"],
    result: "i32",
    nonblocking: true,
  },
  WebAuthNFreeCredentialAttestation: { parameters: ["ptr"], result: "void" },
  WebAuthNFreeAssertion: { parameters: ["ptr"], result: "void" },
  WebAuthNGetCancellationId: { parameters: ["buffer"], result: "i32" },
  WebAuthNCancelCurrentOperation: { parameters: ["buffer"], result: "i32" },
  WebAuthNGetErrorName: { parameters: ["i32"], result: "ptr" },
  // API 4+: absent from older DLLs.
  WebAuthNGetPlatformCredentialList: {
    parameters: ["ptr", "buffer"],
    result: "i32",
    optional: true,
    nonblocking: true,
  },
  WebAuthNFreePlatformCredentialList: { parameters: ["ptr"], result: "void", optional: true },
  WebAuthNDeletePlatformCredential: {
    parameters: ["u32", "ptr"],
    result: "i32",
    optional: true,
    nonblocking: true,
  },
} as const;

type Lib = NativeLibrary<typeof SYMBOLS>;

/** The two webauthn.dll functions that block until the user has answered Windows' dialog. */
export type BlockingFunction =
  | "WebAuthNAuthenticatorMakeCredential"
  | "WebAuthNAuthenticatorGetAssertion";

/**
 * Runs the blocking calls somewhere other than the calling thread. Every argument is a native
 * address (0 = NULL) of memory the binding owns and keeps alive until the promise settles, so
 * the runner only makes the call: it needs no marshalling code, only the library's path.
 */
export interface BlockingCaller {
  /** Calls `fn` of the library at `path` with these addresses; resolves with its HRESULT. */
  call(path: string, fn: BlockingFunction, args: readonly number[]): Promise<number>;
  /** Stops the runner; calls still pending reject. */
  close(): void;
}

/** Options of {@linkcode loadWebAuthn}. */
export interface LoadWebAuthnOptions {
  /** The library to load instead of webauthn.dll (else `FIDO2_WEBAUTHN_LIB`, else System32). */
  readonly path?: string;
  /**
   * Where MakeCredential/GetAssertion run (default: Deno's nonblocking FFI thread; on Bun the
   * calling thread, which blocks). The binding closes it on `close()`.
   */
  readonly blockingCaller?: BlockingCaller;
}

/**
 * Environment variables naming the library to load instead of System32's webauthn.dll, in
 * order: `FIDO2_WEBAUTHN_LIB` (the documented name), then `FIDO2_WEBAUTHN_PATH` (an alias kept
 * for earlier users). Tests point them at the fake library; an empty value counts as unset.
 */
export const LIBRARY_ENV = ["FIDO2_WEBAUTHN_LIB", "FIDO2_WEBAUTHN_PATH"] as const;

/** The override: an explicit path, else the first of {@linkcode LIBRARY_ENV} that is set. */
function override(path?: string): string | undefined {
  if (path) return path;
  for (const name of LIBRARY_ENV) {
    const env = getEnv(name);
    if (env) return env;
  }
  return undefined;
}

/**
 * Loads webauthn.dll (or the library named by `opts.path` / `FIDO2_WEBAUTHN_LIB` /
 * `FIDO2_WEBAUTHN_PATH`) and reads its API version. webauthn.dll itself comes from System32
 * only (`LoadLibraryExW` with `LOAD_LIBRARY_SEARCH_SYSTEM32`): a DLL planted in the
 * application or current directory, or a changed `%SystemRoot%`, cannot stand in for it.
 * Throws `LibraryLoadError` when it cannot be loaded or lacks a required symbol.
 */
export async function loadWebAuthn(opts: LoadWebAuthnOptions = {}): Promise<WebAuthnApi> {
  const explicit = override(opts.path);
  let lib: Lib;
  if (explicit) {
    lib = await openLibrary([explicit], SYMBOLS);
  } else {
    if (platform() !== "win32") {
      throw new LibraryLoadError(
        "webauthn.dll exists only on Windows (set FIDO2_WEBAUTHN_LIB to load another library)",
      );
    }
    const system = await loadSystemLibrary("webauthn.dll");
    try {
      // The module is loaded already: opening its full path takes another reference to it.
      lib = await openLibrary([system.path], SYMBOLS);
    } finally {
      system.release();
    }
  }
  const getVersion = lib.symbols.WebAuthNGetApiVersionNumber;
  const api = getVersion ? Number(getVersion()) >>> 0 : 0;
  return new Binding(lib, api, opts.blockingCaller);
}

// ---------------------------------------------------------------- marshalling helpers

/** Keeps every buffer handed to native code referenced until the call has returned. */
class Arena {
  readonly #keep: Uint8Array[] = [];

  /** Zeroed, GC-stable memory of `size` bytes (own ArrayBuffer, never an on-heap view). */
  alloc(size: number): { buf: Uint8Array; dv: DataView; addr: number } {
    const buf = new Uint8Array(new ArrayBuffer(Math.max(size, 8)));
    this.#keep.push(buf);
    return { buf, dv: new DataView(buf.buffer), addr: addressOf(buf) };
  }

  /** Copies `data` into stable memory; empty gives NULL. */
  bytes(data: Uint8Array | undefined): number {
    if (!data || data.length === 0) return 0;
    const m = this.alloc(data.length);
    m.buf.set(data);
    return m.addr;
  }

  /** Drops the references; call only after the native call has returned. */
  release(): void {
    this.#keep.length = 0;
  }

  /** NUL-terminated UTF-16LE copy of `s` (JS strings are UTF-16: surrogate pairs pass through). */
  wstr(s: string): number {
    const w = wideString(s, 2);
    const m = this.alloc(w.length);
    m.buf.set(w);
    return m.addr;
  }

  /** An array of pointers to `strings`. */
  wstrArray(strings: readonly string[]): number {
    if (strings.length === 0) return 0;
    const m = this.alloc(8 * strings.length);
    strings.forEach((s, i) => setPtr(m.dv, 8 * i, this.wstr(s)));
    return m.addr;
  }
}

function setPtr(dv: DataView, off: number, addr: number): void {
  dv.setBigUint64(off, BigInt(addr), true);
}

function getPtr(dv: DataView, off: number): number {
  return Number(dv.getBigUint64(off, true));
}

function setBool(dv: DataView, off: number, v: boolean | undefined): void {
  dv.setInt32(off, v ? 1 : 0, true);
}

function enumValue<T extends Record<string, number>>(
  table: T,
  value: string | undefined,
  what: string,
): number {
  if (value === undefined) return 0;
  if (!Object.hasOwn(table, value)) {
    throw new FormatError(`Unknown ${what} "${value}" (expected ${Object.keys(table).join(", ")})`);
  }
  return table[value];
}

function checkBytes(data: unknown, what: string, opts: { max?: number; min?: number } = {}) {
  if (!(data instanceof Uint8Array)) throw new FormatError(`${what} must be a Uint8Array`);
  if (opts.min !== undefined && data.length < opts.min) {
    throw new FormatError(`${what} must be at least ${opts.min} bytes`);
  }
  if (opts.max !== undefined && data.length > opts.max) {
    throw new FormatError(`${what} must be at most ${opts.max} bytes`);
  }
}

function checkString(s: unknown, what: string): asserts s is string {
  if (typeof s !== "string") throw new FormatError(`${what} must be a string`);
  if (s.includes("\0")) throw new FormatError(`${what} must not contain NUL`);
  // In a /u regex a surrogate pair is one code point, so this matches lone surrogates only.
  if (/\p{Cs}/u.test(s)) throw new FormatError(`${what} contains an unpaired UTF-16 surrogate`);
}

function checkU32(n: unknown, what: string): number {
  if (n === undefined) return 0;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new FormatError(`${what} must be an integer in 0..2^32-1`);
  }
  return n;
}

function transportMask(transports: readonly string[] | undefined): number {
  let mask = 0;
  for (const t of transports ?? []) {
    if (Object.hasOwn(TRANSPORTS, t)) mask |= TRANSPORTS[t as Transport];
  }
  return mask;
}

function transportNames(mask: number): Transport[] {
  return (Object.keys(TRANSPORTS) as Transport[]).filter((t) => (mask & TRANSPORTS[t]) !== 0);
}

function writeSalt(arena: Arena, salts: HmacSalts, what: string): number {
  checkBytes(salts?.first, `${what}.first`, { min: 1 });
  if (salts.second !== undefined) checkBytes(salts.second, `${what}.second`, { min: 1 });
  const L = LAYOUT.hmacSalt;
  const m = arena.alloc(L.size);
  m.dv.setUint32(L.cbFirst, salts.first.length, true);
  setPtr(m.dv, L.pbFirst, arena.bytes(salts.first));
  if (salts.second) {
    m.dv.setUint32(L.cbSecond, salts.second.length, true);
    setPtr(m.dv, L.pbSecond, arena.bytes(salts.second));
  }
  return m.addr;
}

/** Writes a WEBAUTHN_CREDENTIALS (array of structs) into `dv` at `off`. */
function writeCredentials(
  arena: Arena,
  dv: DataView,
  off: number,
  creds: readonly CredentialDescriptor[],
): void {
  if (creds.length === 0) return;
  const C = LAYOUT.credential;
  const arr = arena.alloc(C.size * creds.length);
  creds.forEach((c, i) => {
    const o = i * C.size;
    arr.dv.setUint32(o + C.dwVersion, 1, true);
    arr.dv.setUint32(o + C.cbId, c.id.length, true);
    setPtr(arr.dv, o + C.pbId, arena.bytes(c.id));
    setPtr(arr.dv, o + C.pwszCredentialType, arena.wstr(c.type ?? "public-key"));
  });
  dv.setUint32(off + LAYOUT.credentials.cCredentials, creds.length, true);
  setPtr(dv, off + LAYOUT.credentials.pCredentials, arr.addr);
}

/** A WEBAUTHN_CREDENTIAL_LIST (array of pointers to CREDENTIAL_EX). */
function writeCredentialList(arena: Arena, creds: readonly CredentialDescriptor[]): number {
  const X = LAYOUT.credentialEx;
  const ptrs = arena.alloc(8 * creds.length);
  creds.forEach((c, i) => {
    const m = arena.alloc(X.size);
    m.dv.setUint32(X.dwVersion, 1, true);
    m.dv.setUint32(X.cbId, c.id.length, true);
    setPtr(m.dv, X.pbId, arena.bytes(c.id));
    setPtr(m.dv, X.pwszCredentialType, arena.wstr(c.type ?? "public-key"));
    m.dv.setUint32(X.dwTransports, transportMask(c.transports), true);
    setPtr(ptrs.dv, 8 * i, m.addr);
  });
  const L = LAYOUT.credentialList;
  const list = arena.alloc(L.size);
  list.dv.setUint32(L.cCredentials, creds.length, true);
  setPtr(list.dv, L.ppCredentials, creds.length ? ptrs.addr : 0);
  return list.addr;
}

function checkCredentials(creds: readonly CredentialDescriptor[] | undefined, what: string) {
  if (creds === undefined) return [];
  if (!Array.isArray(creds)) throw new FormatError(`${what} must be an array`);
  creds.forEach((c, i) => {
    checkBytes(c?.id, `${what}[${i}].id`, { min: 1 });
    if (c.type !== undefined) checkString(c.type, `${what}[${i}].type`);
    if (c.transports !== undefined && !Array.isArray(c.transports)) {
      throw new FormatError(`${what}[${i}].transports must be an array`);
    }
  });
  return creds;
}

/** Writes a WEBAUTHN_EXTENSIONS into `dv` at `off`. */
function writeExtensions(
  arena: Arena,
  dv: DataView,
  off: number,
  exts: { id: string; payload: Uint8Array }[],
): void {
  if (exts.length === 0) return;
  const E = LAYOUT.extension;
  const arr = arena.alloc(E.size * exts.length);
  exts.forEach((e, i) => {
    const o = i * E.size;
    setPtr(arr.dv, o + E.pwszExtensionIdentifier, arena.wstr(e.id));
    arr.dv.setUint32(o + E.cbExtension, e.payload.length, true);
    setPtr(arr.dv, o + E.pvExtension, arena.bytes(e.payload));
  });
  dv.setUint32(off + LAYOUT.extensions.cExtensions, exts.length, true);
  setPtr(dv, off + LAYOUT.extensions.pExtensions, arr.addr);
}

function boolPayload(): Uint8Array {
  return new Uint8Array([1, 0, 0, 0]);
}

function writeClientData(arena: Arena, cd: ClientDataInput): number {
  if (!cd || typeof cd !== "object") throw new FormatError("clientData must be an object");
  checkBytes(cd.json, "clientData.json", { min: 1 });
  const alg = cd.hashAlg ?? "SHA-256";
  if (alg !== "SHA-256" && alg !== "SHA-384" && alg !== "SHA-512") {
    throw new FormatError(`clientData.hashAlg must be SHA-256, SHA-384 or SHA-512, not ${alg}`);
  }
  const L = LAYOUT.clientData;
  const m = arena.alloc(L.size);
  m.dv.setUint32(L.dwVersion, 1, true);
  m.dv.setUint32(L.cbClientDataJSON, cd.json.length, true);
  setPtr(m.dv, L.pbClientDataJSON, arena.bytes(cd.json));
  setPtr(m.dv, L.pwszHashAlgId, arena.wstr(alg));
  return m.addr;
}

function checkGuid(id: Uint8Array | undefined, what: string): void {
  if (id !== undefined) checkBytes(id, what, { min: 16, max: 16 });
}

function hwndAddress(hwnd: number | bigint): number {
  const n = typeof hwnd === "bigint" ? Number(hwnd) : hwnd;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FormatError("hwnd must be a non-negative window handle");
  }
  return n;
}

// ---------------------------------------------------------------- reading outputs

const MAX_BLOB = 1 << 24;

/** A view of the first `length` bytes of a native struct, copied out. */
function readStruct(addr: number, length: number): DataView {
  const b = readBytes(addr, length);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readBlob(dv: DataView, cbOff: number, pbOff: number, what: string): Uint8Array {
  const cb = dv.getUint32(cbOff, true);
  const pb = getPtr(dv, pbOff);
  if (cb === 0) return new Uint8Array(0);
  if (!pb) throw new FormatError(`webauthn.dll returned ${what} of ${cb} bytes at NULL`);
  if (cb > MAX_BLOB) throw new FormatError(`webauthn.dll returned ${what} of ${cb} bytes`);
  return readBytes(pb, cb);
}

function readString(addr: number, what: string): string {
  if (!addr) throw new FormatError(`webauthn.dll returned a NULL ${what}`);
  try {
    return readWideString(addr, 2, 4096)!;
  } catch (e) {
    throw new FormatError(`webauthn.dll returned an unterminated ${what}`, { cause: e });
  }
}

function readSalt(addr: number): HmacSalts | undefined {
  if (!addr) return undefined;
  const L = LAYOUT.hmacSalt;
  const dv = readStruct(addr, L.size);
  const first = readBlob(dv, L.cbFirst, L.pbFirst, "hmac secret");
  const second = readBlob(dv, L.cbSecond, L.pbSecond, "hmac secret");
  return second.length ? { first, second } : { first };
}

function readExtensions(dv: DataView, off: number): ExtensionOutputs {
  const L = LAYOUT.extensions;
  const n = dv.getUint32(off + L.cExtensions, true);
  const arr = getPtr(dv, off + L.pExtensions);
  const out: ExtensionOutputs = { raw: [] };
  if (n === 0) return out;
  if (!arr || n > 64) throw new FormatError(`webauthn.dll returned ${n} extensions at ${arr}`);
  const E = LAYOUT.extension;
  const all = readStruct(arr, n * E.size);
  for (let i = 0; i < n; i++) {
    const o = i * E.size;
    const id = readString(getPtr(all, o + E.pwszExtensionIdentifier), "extension identifier");
    const data = readBlob(all, o + E.cbExtension, o + E.pvExtension, `extension ${id}`);
    out.raw.push({ id, data });
    const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (id === "hmac-secret" && data.length >= 4) out.hmacSecret = d.getInt32(0, true) !== 0;
    else if (id === "credProtect" && data.length >= 4) out.credProtect = d.getUint32(0, true);
    else if (id === "minPinLength" && data.length >= 4) out.minPinLength = d.getUint32(0, true);
    else if (id === "credBlob" && data.length >= LAYOUT.credBlob.size) {
      // GetAssertion: WEBAUTHN_CRED_BLOB_EXTENSION pointing at the blob.
      out.credBlob = readBlob(
        d,
        LAYOUT.credBlob.cbCredBlob,
        LAYOUT.credBlob.pbCredBlob,
        "credBlob",
      );
    } else if (id === "credBlob" && data.length >= 4) {
      out.credBlobStored = d.getInt32(0, true) !== 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the binding

class Binding implements WebAuthnApi {
  readonly path: string;
  readonly #lib: Lib;
  readonly #api: number;
  /** The API version struct choices are made for (newer DLLs are driven as the newest known). */
  readonly #v: number;

  readonly #caller?: BlockingCaller;
  #closed = false;

  constructor(lib: Lib, api: number, caller?: BlockingCaller) {
    this.#lib = lib;
    this.path = lib.path;
    this.#api = api;
    this.#v = Math.min(api, MAX_KNOWN_API_VERSION);
    this.#caller = caller;
  }

  /** One blocking call, on the caller's runner when there is one. */
  async #blocking(fn: BlockingFunction, args: number[]): Promise<number> {
    if (this.#caller) return await this.#caller.call(this.path, fn, args);
    return await this.#lib.symbols[fn](...args);
  }

  apiVersion(): number {
    return this.#api;
  }

  isUserVerifyingPlatformAuthenticatorAvailable(): boolean {
    const out = new Uint8Array(new ArrayBuffer(8));
    const hr = this.#lib.symbols.WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable(out);
    this.#check("WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable", hr);
    return new DataView(out.buffer).getInt32(0, true) !== 0;
  }

  getCancellationId(): Uint8Array {
    const out = new Uint8Array(new ArrayBuffer(16));
    this.#check("WebAuthNGetCancellationId", this.#lib.symbols.WebAuthNGetCancellationId(out));
    return out;
  }

  cancelCurrentOperation(cancellationId: Uint8Array): void {
    checkGuid(cancellationId, "cancellationId");
    const guid = new Uint8Array(new ArrayBuffer(16));
    guid.set(cancellationId);
    const hr = this.#lib.symbols.WebAuthNCancelCurrentOperation(guid);
    this.#check("WebAuthNCancelCurrentOperation", hr);
  }

  getErrorName(hresult: number): string {
    const p = this.#lib.symbols.WebAuthNGetErrorName(hresult | 0) as number;
    return p ? readWideString(p, 2, 256)! : "UnknownError";
  }

  async getPlatformCredentialList(
    options: PlatformCredentialListOptions = {},
  ): Promise<PlatformCredential[]> {
    if (!options || typeof options !== "object") {
      throw new FormatError("options must be an object");
    }
    const sym = this.#platformSymbols("platform credential list");
    const arena = new Arena();
    const L = LAYOUT.getCredentialsOptions;
    const m = arena.alloc(L.size);
    m.dv.setUint32(L.dwVersion, 1, true);
    if (options.rpId !== undefined) {
      checkString(options.rpId, "rpId");
      if (!options.rpId) throw new FormatError("rpId must not be empty");
      setPtr(m.dv, L.pwszRpId, arena.wstr(options.rpId));
    }
    setBool(m.dv, L.bBrowserInPrivateMode, options.browserInPrivateMode);
    const out = new Uint8Array(new ArrayBuffer(8));
    const hr = await sym.list(m.addr, out);
    const p = getPtr(new DataView(out.buffer), 0);
    try {
      if ((hr >>> 0) === HRESULT.NTE_NOT_FOUND) return [];
      this.#check("WebAuthNGetPlatformCredentialList", hr);
      if (!p) throw new FormatError("WebAuthNGetPlatformCredentialList returned no result");
      return readCredentialDetailsList(p);
    } finally {
      if (p) sym.free(p);
      arena.release();
    }
  }

  async deletePlatformCredential(credentialId: Uint8Array): Promise<void> {
    const sym = this.#platformSymbols("deleting platform credentials");
    checkBytes(credentialId, "credentialId", { min: 1, max: 1024 });
    const arena = new Arena();
    try {
      const hr = await sym.delete(credentialId.length, arena.bytes(credentialId));
      this.#check("WebAuthNDeletePlatformCredential", hr);
    } finally {
      arena.release();
    }
  }

  /** The API 4 platform-credential functions, or WebAuthnUnsupportedError. */
  #platformSymbols(feature: string) {
    const s = this.#lib.symbols;
    const list = s.WebAuthNGetPlatformCredentialList;
    const free = s.WebAuthNFreePlatformCredentialList;
    const del = s.WebAuthNDeletePlatformCredential;
    if (this.#api < PLATFORM_CREDENTIALS_API_VERSION || !list || !free || !del) {
      throw new WebAuthnUnsupportedError(feature, PLATFORM_CREDENTIALS_API_VERSION, this.#api);
    }
    return { list, free, delete: del };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#caller?.close();
    this.#lib.close();
  }

  #check(operation: string, hr: number): void {
    if (hr === 0) return;
    throw new WindowsApiError(operation, hr, this.getErrorName(hr));
  }

  #need(feature: string, structVersion: number, table: readonly number[]): void {
    const have = table[this.#v];
    if (have >= structVersion) return;
    const api = table.findIndex((v) => v >= structVersion);
    throw new WebAuthnUnsupportedError(feature, api, this.#api);
  }

  /**
   * The members both options structs gained in the same versions (jsonExt v7, hints v8,
   * remoteWebOrigin, the options JSON and authenticatorId v9); only their offsets differ.
   */
  #writeSharedTail(
    dv: DataView,
    arena: Arena,
    table: readonly number[],
    o: Pick<
      MakeCredentialOptions,
      "jsonExt" | "hints" | "remoteWebOrigin" | "optionsJson" | "authenticatorId"
    >,
    L: {
      readonly cbJsonExt: number;
      readonly pbJsonExt: number;
      readonly cCredentialHints: number;
      readonly ppwszCredentialHints: number;
      readonly pwszRemoteWebOrigin: number;
      readonly cbOptionsJson: number;
      readonly pbOptionsJson: number;
      readonly cbAuthenticatorId: number;
      readonly pbAuthenticatorId: number;
    },
  ): void {
    const blob = (data: Uint8Array, what: string, version: number, cb: number, pb: number) => {
      this.#need(what, version, table);
      checkBytes(data, what);
      dv.setUint32(cb, data.length, true);
      setPtr(dv, pb, arena.bytes(data));
    };
    if (o.jsonExt !== undefined) blob(o.jsonExt, "jsonExt", 7, L.cbJsonExt, L.pbJsonExt);
    if (o.hints?.length) {
      this.#need("hints", 8, table);
      o.hints.forEach((h, i) => checkString(h, `hints[${i}]`));
      dv.setUint32(L.cCredentialHints, o.hints.length, true);
      setPtr(dv, L.ppwszCredentialHints, arena.wstrArray(o.hints));
    }
    if (o.remoteWebOrigin !== undefined) {
      this.#need("remoteWebOrigin", 9, table);
      checkString(o.remoteWebOrigin, "remoteWebOrigin");
      setPtr(dv, L.pwszRemoteWebOrigin, arena.wstr(o.remoteWebOrigin));
    }
    if (o.optionsJson !== undefined) {
      blob(o.optionsJson, "optionsJson", 9, L.cbOptionsJson, L.pbOptionsJson);
    }
    if (o.authenticatorId !== undefined) {
      blob(o.authenticatorId, "authenticatorId", 9, L.cbAuthenticatorId, L.pbAuthenticatorId);
    }
  }

  #needApi(feature: string, api: number): void {
    if (this.#api < api) throw new WebAuthnUnsupportedError(feature, api, this.#api);
  }

  async makeCredential(
    hwnd: number | bigint,
    rp: RpEntity,
    user: UserEntity,
    pubKeyCredParams: readonly CoseCredentialParameter[],
    clientData: ClientDataInput,
    options: MakeCredentialOptions = {},
  ): Promise<CredentialAttestation> {
    const arena = new Arena();
    const hwndAddr = hwndAddress(hwnd);
    // rp
    if (!rp || typeof rp !== "object") throw new FormatError("rp must be an object");
    checkString(rp.id, "rp.id");
    checkString(rp.name, "rp.name");
    if (rp.icon !== undefined) checkString(rp.icon, "rp.icon");
    const R = LAYOUT.rp;
    const rpM = arena.alloc(R.size);
    rpM.dv.setUint32(R.dwVersion, 1, true);
    setPtr(rpM.dv, R.pwszId, arena.wstr(rp.id));
    setPtr(rpM.dv, R.pwszName, arena.wstr(rp.name));
    if (rp.icon !== undefined) setPtr(rpM.dv, R.pwszIcon, arena.wstr(rp.icon));
    // user
    if (!user || typeof user !== "object") throw new FormatError("user must be an object");
    checkBytes(user.id, "user.id", { min: 1, max: 64 });
    checkString(user.name, "user.name");
    checkString(user.displayName, "user.displayName");
    if (user.icon !== undefined) checkString(user.icon, "user.icon");
    const U = LAYOUT.user;
    const userM = arena.alloc(U.size);
    userM.dv.setUint32(U.dwVersion, 1, true);
    userM.dv.setUint32(U.cbId, user.id.length, true);
    setPtr(userM.dv, U.pbId, arena.bytes(user.id));
    setPtr(userM.dv, U.pwszName, arena.wstr(user.name));
    if (user.icon !== undefined) setPtr(userM.dv, U.pwszIcon, arena.wstr(user.icon));
    setPtr(userM.dv, U.pwszDisplayName, arena.wstr(user.displayName));
    // algorithms
    if (!Array.isArray(pubKeyCredParams) || pubKeyCredParams.length === 0) {
      throw new FormatError("pubKeyCredParams must be a non-empty array");
    }
    const P = LAYOUT.coseParameter;
    const params = arena.alloc(P.size * pubKeyCredParams.length);
    pubKeyCredParams.forEach((p, i) => {
      checkString(p?.type, `pubKeyCredParams[${i}].type`);
      if (!Number.isInteger(p.alg) || p.alg < -0x80000000 || p.alg > 0x7fffffff) {
        throw new FormatError(`pubKeyCredParams[${i}].alg must be a 32-bit integer`);
      }
      params.dv.setUint32(i * P.size + P.dwVersion, 1, true);
      setPtr(params.dv, i * P.size + P.pwszCredentialType, arena.wstr(p.type));
      params.dv.setInt32(i * P.size + P.lAlg, p.alg, true);
    });
    const PS = LAYOUT.coseParameters;
    const paramsM = arena.alloc(PS.size);
    paramsM.dv.setUint32(PS.cCredentialParameters, pubKeyCredParams.length, true);
    setPtr(paramsM.dv, PS.pCredentialParameters, params.addr);
    const cdAddr = writeClientData(arena, clientData);
    const optAddr = this.#makeCredentialOptions(arena, options);

    const out = new Uint8Array(new ArrayBuffer(8));
    const hr = await this.#blocking("WebAuthNAuthenticatorMakeCredential", [
      hwndAddr,
      rpM.addr,
      userM.addr,
      paramsM.addr,
      cdAddr,
      optAddr,
      addressOf(out),
    ]);
    const p = getPtr(new DataView(out.buffer), 0);
    try {
      this.#check("WebAuthNAuthenticatorMakeCredential", hr);
      if (!p) throw new FormatError("WebAuthNAuthenticatorMakeCredential returned no result");
      return readAttestation(p);
    } finally {
      if (p) this.#lib.symbols.WebAuthNFreeCredentialAttestation(p);
      arena.release(); // the request memory stayed referenced until the call returned
    }
  }

  #makeCredentialOptions(arena: Arena, o: MakeCredentialOptions): number {
    if (!o || typeof o !== "object") throw new FormatError("options must be an object");
    const table = STRUCT_VERSIONS.makeCredentialOptions;
    const v = table[this.#v];
    const L = LAYOUT.makeCredentialOptions;
    const m = arena.alloc(L.size);
    const dv = m.dv;
    dv.setUint32(L.dwVersion, v, true);
    dv.setUint32(L.dwTimeoutMilliseconds, checkU32(o.timeoutMs, "timeoutMs"), true);
    const exclude = checkCredentials(o.excludeCredentials, "excludeCredentials");
    // Legacy list too (Chromium does this for CTAP1 keys); the DLL prefers the EX list.
    writeCredentials(arena, dv, L.CredentialList, exclude);
    if (exclude.length) setPtr(dv, L.pExcludeCredentialList, writeCredentialList(arena, exclude));

    const x = o.extensions ?? {};
    const exts: { id: string; payload: Uint8Array }[] = [];
    if (x.hmacSecret || x.prf) exts.push({ id: "hmac-secret", payload: boolPayload() });
    if (x.credProtect !== undefined) {
      this.#needApi("credProtect", 2);
      const level = x.credProtect.level;
      if (![0, 1, 2, 3].includes(level)) throw new FormatError("credProtect.level must be 0..3");
      const p = new Uint8Array(LAYOUT.credProtectIn.size);
      const pdv = new DataView(p.buffer);
      pdv.setUint32(LAYOUT.credProtectIn.dwCredProtect, level, true);
      setBool(pdv, LAYOUT.credProtectIn.bRequireCredProtect, x.credProtect.enforce);
      exts.push({ id: "credProtect", payload: p });
    }
    if (x.credBlob !== undefined) {
      this.#needApi("credBlob", 3);
      checkBytes(x.credBlob, "extensions.credBlob", { min: 1 });
      const p = new Uint8Array(LAYOUT.credBlob.size);
      const pdv = new DataView(p.buffer);
      pdv.setUint32(LAYOUT.credBlob.cbCredBlob, x.credBlob.length, true);
      setPtr(pdv, LAYOUT.credBlob.pbCredBlob, arena.bytes(x.credBlob));
      exts.push({ id: "credBlob", payload: p });
    }
    if (x.minPinLength) {
      this.#needApi("minPinLength", 3);
      exts.push({ id: "minPinLength", payload: boolPayload() });
    }
    writeExtensions(arena, dv, L.Extensions, exts);

    dv.setUint32(
      L.dwAuthenticatorAttachment,
      enumValue(ATTACHMENT, o.attachment, "attachment"),
      true,
    );
    const rkRequired = o.requireResidentKey === true || o.residentKey === "required";
    if (
      o.residentKey !== undefined &&
      !["required", "preferred", "discouraged"].includes(o.residentKey)
    ) {
      throw new FormatError(`Unknown residentKey "${o.residentKey}"`);
    }
    setBool(dv, L.bRequireResidentKey, rkRequired);
    dv.setUint32(
      L.dwUserVerificationRequirement,
      enumValue(USER_VERIFICATION, o.userVerification, "userVerification"),
      true,
    );
    dv.setUint32(
      L.dwAttestationConveyancePreference,
      enumValue(CONVEYANCE, o.attestationConveyance, "attestationConveyance"),
      true,
    );
    // v2
    checkGuid(o.cancellationId, "cancellationId");
    setPtr(dv, L.pCancellationId, arena.bytes(o.cancellationId));
    // v4
    const ep = enumValue(ENTERPRISE, o.enterpriseAttestation, "enterpriseAttestation");
    const lb = enumValue(LARGE_BLOB_SUPPORT, x.largeBlob, "largeBlob support");
    const preferRk = o.residentKey === "preferred";
    if (ep) this.#need("enterpriseAttestation", 4, table);
    if (lb) this.#need("largeBlob", 4, table);
    if (preferRk) this.#need('residentKey "preferred"', 4, table);
    if (v >= 4) {
      dv.setUint32(L.dwEnterpriseAttestation, ep, true);
      dv.setUint32(L.dwLargeBlobSupport, lb, true);
      setBool(dv, L.bPreferResidentKey, preferRk);
    }
    // v5
    if (o.browserInPrivateMode) this.#need("browserInPrivateMode", 5, table);
    if (v >= 5) setBool(dv, L.bBrowserInPrivateMode, o.browserInPrivateMode);
    // v6
    if (x.prf) this.#need("prf", 6, table);
    if (v >= 6) setBool(dv, L.bEnablePrf, x.prf !== undefined);
    // v7
    // v8
    if (x.prf?.eval && x.hmacSecretMc) {
      throw new FormatError("prf.eval and hmacSecretMc both use pPRFGlobalEval: give one");
    }
    if (x.prf?.eval) {
      this.#need("prf.eval", 8, table);
      setPtr(dv, L.pPRFGlobalEval, writeSalt(arena, x.prf.eval, "prf.eval"));
    }
    if (x.hmacSecretMc) {
      this.#need("hmacSecretMc", 8, table);
      const s = x.hmacSecretMc;
      checkBytes(s?.first, "hmacSecretMc.first", { min: 32, max: 32 });
      if (s.second !== undefined) checkBytes(s.second, "hmacSecretMc.second", { min: 32, max: 32 });
      setPtr(dv, L.pPRFGlobalEval, writeSalt(arena, s, "hmacSecretMc"));
      dv.setUint32(L.dwFlags, HMAC_SECRET_VALUES_FLAG, true);
    }
    if (o.thirdPartyPayment) this.#need("thirdPartyPayment", 8, table);
    if (v >= 8) setBool(dv, L.bThirdPartyPayment, o.thirdPartyPayment);
    this.#writeSharedTail(dv, arena, table, o, {
      ...L,
      cbOptionsJson: L.cbPublicKeyCredentialCreationOptionsJSON,
      pbOptionsJson: L.pbPublicKeyCredentialCreationOptionsJSON,
    });
    return m.addr;
  }

  async getAssertion(
    hwnd: number | bigint,
    rpId: string,
    clientData: ClientDataInput,
    options: GetAssertionOptions = {},
  ): Promise<Assertion> {
    const arena = new Arena();
    const hwndAddr = hwndAddress(hwnd);
    checkString(rpId, "rpId");
    const rpAddr = arena.wstr(rpId);
    const cdAddr = writeClientData(arena, clientData);
    const { addr: optAddr, appIdOut } = this.#getAssertionOptions(arena, options);

    const out = new Uint8Array(new ArrayBuffer(8));
    const hr = await this.#blocking("WebAuthNAuthenticatorGetAssertion", [
      hwndAddr,
      rpAddr,
      cdAddr,
      optAddr,
      addressOf(out),
    ]);
    const p = getPtr(new DataView(out.buffer), 0);
    try {
      this.#check("WebAuthNAuthenticatorGetAssertion", hr);
      if (!p) throw new FormatError("WebAuthNAuthenticatorGetAssertion returned no result");
      const result = readAssertion(p);
      if (appIdOut) result.appIdUsed = appIdOut.getInt32(0, true) !== 0;
      return result;
    } finally {
      if (p) this.#lib.symbols.WebAuthNFreeAssertion(p);
      arena.release(); // the request memory stayed referenced until the call returned
    }
  }

  #getAssertionOptions(
    arena: Arena,
    o: GetAssertionOptions,
  ): { addr: number; appIdOut?: DataView } {
    if (!o || typeof o !== "object") throw new FormatError("options must be an object");
    const table = STRUCT_VERSIONS.getAssertionOptions;
    const v = table[this.#v];
    const L = LAYOUT.getAssertionOptions;
    const m = arena.alloc(L.size);
    const dv = m.dv;
    dv.setUint32(L.dwVersion, v, true);
    dv.setUint32(L.dwTimeoutMilliseconds, checkU32(o.timeoutMs, "timeoutMs"), true);
    const allow = checkCredentials(o.allowCredentials, "allowCredentials");
    writeCredentials(arena, dv, L.CredentialList, allow);
    if (allow.length) setPtr(dv, L.pAllowCredentialList, writeCredentialList(arena, allow));

    const x = o.extensions ?? {};
    const exts: { id: string; payload: Uint8Array }[] = [];
    if (x.credBlob) {
      this.#needApi("credBlob", 3);
      exts.push({ id: "credBlob", payload: boolPayload() });
    }
    writeExtensions(arena, dv, L.Extensions, exts);
    dv.setUint32(
      L.dwAuthenticatorAttachment,
      enumValue(ATTACHMENT, o.attachment, "attachment"),
      true,
    );
    dv.setUint32(
      L.dwUserVerificationRequirement,
      enumValue(USER_VERIFICATION, o.userVerification, "userVerification"),
      true,
    );
    // v2: appid, with the BOOL the DLL writes back.
    let appIdOut: DataView | undefined;
    if (o.appId !== undefined) {
      checkString(o.appId, "appId");
      setPtr(dv, L.pwszU2fAppId, arena.wstr(o.appId));
      const b = arena.alloc(4);
      appIdOut = b.dv;
      setPtr(dv, L.pbU2fAppId, b.addr);
    }
    // v3
    checkGuid(o.cancellationId, "cancellationId");
    setPtr(dv, L.pCancellationId, arena.bytes(o.cancellationId));
    // v5
    if (x.largeBlob !== undefined) {
      const op = enumValue(LARGE_BLOB_OPERATION, x.largeBlob.operation, "largeBlob operation");
      if (op) this.#need("largeBlob", 5, table);
      if (op === LARGE_BLOB_OPERATION.set) {
        checkBytes(x.largeBlob.data, "largeBlob.data", { min: 1 });
        dv.setUint32(L.cbCredLargeBlob, x.largeBlob.data!.length, true);
        setPtr(dv, L.pbCredLargeBlob, arena.bytes(x.largeBlob.data));
      } else if (x.largeBlob.data !== undefined) {
        throw new FormatError('largeBlob.data is only valid with operation "set"');
      }
      if (v >= 5) dv.setUint32(L.dwCredLargeBlobOperation, op, true);
    }
    // v6
    if (x.hmacSecret) {
      this.#need("hmacSecret salts", 6, table);
      const h = x.hmacSecret;
      const S = LAYOUT.hmacSaltValues;
      const sv = arena.alloc(S.size);
      if (h.global) {
        setPtr(sv.dv, S.pGlobalHmacSalt, writeSalt(arena, h.global, "hmacSecret.global"));
      }
      const list = h.byCredential ?? [];
      if (!h.global && list.length === 0) {
        throw new FormatError("hmacSecret needs global or per-credential salts");
      }
      if (h.raw) {
        for (const s of [h.global, ...list.map((c) => c.salts)]) {
          if (!s) continue;
          if (s.first?.length !== 32 || (s.second !== undefined && s.second.length !== 32)) {
            throw new FormatError("raw hmac-secret salts must be 32 bytes");
          }
        }
        dv.setUint32(L.dwFlags, HMAC_SECRET_VALUES_FLAG, true);
      }
      if (list.length) {
        const C = LAYOUT.credWithHmacSalt;
        const arr = arena.alloc(C.size * list.length);
        list.forEach((c, i) => {
          checkBytes(c?.id, `hmacSecret.byCredential[${i}].id`, { min: 1 });
          arr.dv.setUint32(i * C.size + C.cbCredID, c.id.length, true);
          setPtr(arr.dv, i * C.size + C.pbCredID, arena.bytes(c.id));
          setPtr(
            arr.dv,
            i * C.size + C.pHmacSecretSalt,
            writeSalt(arena, c.salts, `hmacSecret.byCredential[${i}].salts`),
          );
        });
        sv.dv.setUint32(S.cCredWithHmacSecretSaltList, list.length, true);
        setPtr(sv.dv, S.pCredWithHmacSecretSaltList, arr.addr);
      }
      setPtr(dv, L.pHmacSecretSaltValues, sv.addr);
    }
    if (o.browserInPrivateMode) this.#need("browserInPrivateMode", 6, table);
    if (v >= 6) setBool(dv, L.bBrowserInPrivateMode, o.browserInPrivateMode);
    // v7
    if (o.autoFill) this.#need("autoFill", 7, table);
    if (v >= 7) setBool(dv, L.bAutoFill, o.autoFill);
    this.#writeSharedTail(dv, arena, table, o, {
      ...L,
      cbOptionsJson: L.cbPublicKeyCredentialRequestOptionsJSON,
      pbOptionsJson: L.pbPublicKeyCredentialRequestOptionsJSON,
    });
    return { addr: m.addr, appIdOut };
  }
}

function outputVersion(addr: number, max: number, what: string): number {
  const v = readStruct(addr, 4).getUint32(0, true);
  if (v < 1) throw new FormatError(`webauthn.dll returned ${what} version ${v}`);
  return Math.min(v, max);
}

function readAttestation(addr: number): CredentialAttestation {
  const L = LAYOUT.credentialAttestation;
  const version = readStruct(addr, 4).getUint32(0, true);
  const v = outputVersion(addr, L.end.length - 1, "WEBAUTHN_CREDENTIAL_ATTESTATION");
  const dv = readStruct(addr, L.end[v]);
  const r: CredentialAttestation = {
    version,
    formatType: readString(getPtr(dv, L.pwszFormatType), "attestation format"),
    authenticatorData: readBlob(dv, L.cbAuthenticatorData, L.pbAuthenticatorData, "authData"),
    attestation: readBlob(dv, L.cbAttestation, L.pbAttestation, "attestation statement"),
    attestationObject: readBlob(
      dv,
      L.cbAttestationObject,
      L.pbAttestationObject,
      "attestation object",
    ),
    credentialId: readBlob(dv, L.cbCredentialId, L.pbCredentialId, "credential id"),
  };
  if (v >= 2) r.extensions = readExtensions(dv, L.Extensions);
  if (v >= 3) r.usedTransports = transportNames(dv.getUint32(L.dwUsedTransport, true));
  if (v >= 4) {
    r.epAtt = dv.getInt32(L.bEpAtt, true) !== 0;
    r.largeBlobSupported = dv.getInt32(L.bLargeBlobSupported, true) !== 0;
    r.residentKey = dv.getInt32(L.bResidentKey, true) !== 0;
  }
  if (v >= 5) r.prfEnabled = dv.getInt32(L.bPrfEnabled, true) !== 0;
  if (v >= 6) {
    r.unsignedExtensionOutputs = readBlob(
      dv,
      L.cbUnsignedExtensionOutputs,
      L.pbUnsignedExtensionOutputs,
      "unsigned extension outputs",
    );
  }
  if (v >= 7) {
    r.hmacSecret = readSalt(getPtr(dv, L.pHmacSecret));
    r.thirdPartyPayment = dv.getInt32(L.bThirdPartyPayment, true) !== 0;
  }
  if (v >= 8) {
    r.transports = transportNames(dv.getUint32(L.dwTransports, true));
    r.clientDataJson = readBlob(dv, L.cbClientDataJSON, L.pbClientDataJSON, "clientDataJSON");
    r.registrationResponseJson = readBlob(
      dv,
      L.cbRegistrationResponseJSON,
      L.pbRegistrationResponseJSON,
      "registration response JSON",
    );
  }
  return r;
}

function readAssertion(addr: number): Assertion {
  const L = LAYOUT.assertion;
  const version = readStruct(addr, 4).getUint32(0, true);
  const v = outputVersion(addr, L.end.length - 1, "WEBAUTHN_ASSERTION");
  const dv = readStruct(addr, L.end[v]);
  const C = LAYOUT.credential;
  const r: Assertion = {
    version,
    authenticatorData: readBlob(dv, L.cbAuthenticatorData, L.pbAuthenticatorData, "authData"),
    signature: readBlob(dv, L.cbSignature, L.pbSignature, "signature"),
    credential: {
      type: readString(getPtr(dv, L.Credential + C.pwszCredentialType), "credential type"),
      id: readBlob(dv, L.Credential + C.cbId, L.Credential + C.pbId, "credential id"),
    },
    userId: readBlob(dv, L.cbUserId, L.pbUserId, "user id"),
  };
  if (v >= 2) {
    r.extensions = readExtensions(dv, L.Extensions);
    const status = dv.getUint32(L.dwCredLargeBlobStatus, true);
    if (status !== 0) {
      r.largeBlob = {
        status: LARGE_BLOB_STATUS[status] ?? status,
        data: readBlob(dv, L.cbCredLargeBlob, L.pbCredLargeBlob, "large blob"),
      };
    }
  }
  if (v >= 3) r.hmacSecret = readSalt(getPtr(dv, L.pHmacSecret));
  if (v >= 4) r.usedTransports = transportNames(dv.getUint32(L.dwUsedTransport, true));
  if (v >= 5) {
    r.unsignedExtensionOutputs = readBlob(
      dv,
      L.cbUnsignedExtensionOutputs,
      L.pbUnsignedExtensionOutputs,
      "unsigned extension outputs",
    );
  }
  if (v >= 6) {
    r.clientDataJson = readBlob(dv, L.cbClientDataJSON, L.pbClientDataJSON, "clientDataJSON");
    r.authenticationResponseJson = readBlob(
      dv,
      L.cbAuthenticationResponseJSON,
      L.pbAuthenticationResponseJSON,
      "authentication response JSON",
    );
  }
  return r;
}

/** Strings the DLL may leave NULL (names, icons): NULL reads as undefined. */
function readOptString(addr: number, what: string): string | undefined {
  return addr ? readString(addr, what) : undefined;
}

function readCredentialDetailsList(addr: number): PlatformCredential[] {
  const L = LAYOUT.credentialDetailsList;
  const dv = readStruct(addr, L.size);
  const n = dv.getUint32(L.cCredentialDetails, true);
  const arr = getPtr(dv, L.ppCredentialDetails);
  if (n === 0) return [];
  if (!arr || n > 4096) {
    throw new FormatError(`webauthn.dll returned ${n} platform credentials at ${arr}`);
  }
  const ptrs = readStruct(arr, 8 * n);
  const out: PlatformCredential[] = [];
  for (let i = 0; i < n; i++) {
    const p = getPtr(ptrs, 8 * i);
    if (!p) throw new FormatError(`webauthn.dll returned a NULL platform credential ${i}`);
    out.push(readCredentialDetails(p));
  }
  return out;
}

function readCredentialDetails(addr: number): PlatformCredential {
  const D = LAYOUT.credentialDetails;
  const version = readStruct(addr, 4).getUint32(0, true);
  const v = outputVersion(addr, D.end.length - 1, "WEBAUTHN_CREDENTIAL_DETAILS");
  const dv = readStruct(addr, D.end[v]);
  const rpAddr = getPtr(dv, D.pRpInformation);
  const userAddr = getPtr(dv, D.pUserInformation);
  if (!rpAddr || !userAddr) {
    throw new FormatError("webauthn.dll returned a platform credential without RP or user");
  }
  const R = LAYOUT.rp;
  const rp = readStruct(rpAddr, R.size);
  const U = LAYOUT.user;
  const user = readStruct(userAddr, U.size);
  const rpIcon = readOptString(getPtr(rp, R.pwszIcon), "RP icon");
  const userIcon = readOptString(getPtr(user, U.pwszIcon), "user icon");
  const r: PlatformCredential = {
    version,
    credentialId: readBlob(dv, D.cbCredentialID, D.pbCredentialID, "credential id"),
    rp: {
      id: readString(getPtr(rp, R.pwszId), "RP id"),
      name: readOptString(getPtr(rp, R.pwszName), "RP name") ?? "",
      ...(rpIcon !== undefined ? { icon: rpIcon } : {}),
    },
    user: {
      id: readBlob(user, U.cbId, U.pbId, "user id"),
      name: readOptString(getPtr(user, U.pwszName), "user name") ?? "",
      displayName: readOptString(getPtr(user, U.pwszDisplayName), "user display name") ?? "",
      ...(userIcon !== undefined ? { icon: userIcon } : {}),
    },
    removable: dv.getInt32(D.bRemovable, true) !== 0,
  };
  if (r.credentialId.length === 0) {
    throw new FormatError("webauthn.dll returned a platform credential with an empty id");
  }
  if (v >= 2) r.backedUp = dv.getInt32(D.bBackedUp, true) !== 0;
  if (v >= 3) {
    r.authenticatorName = readOptString(getPtr(dv, D.pwszAuthenticatorName), "authenticator");
    r.authenticatorLogo = readBlob(
      dv,
      D.cbAuthenticatorLogo,
      D.pbAuthenticatorLogo,
      "authenticator logo",
    );
    r.thirdPartyPayment = dv.getInt32(D.bThirdPartyPayment, true) !== 0;
  }
  if (v >= 4) r.transports = transportNames(dv.getUint32(D.dwTransports, true));
  return r;
}
