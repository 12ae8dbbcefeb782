/**
 * webauthn.h for x64: struct field offsets and sizes, the struct version each API version
 * uses, and the numeric values of its enums, flags and HRESULTs. Data only.
 * @module
 */
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
export const ATTACHMENT = {
  any: 0,
  platform: 1,
  "cross-platform": 2,
  "cross-platform-u2f-v2": 3,
} as const satisfies Record<Attachment, number>;
export const USER_VERIFICATION = {
  any: 0,
  required: 1,
  preferred: 2,
  discouraged: 3,
} as const satisfies Record<UserVerification, number>;
export const CONVEYANCE = { any: 0, none: 1, indirect: 2, direct: 3 } as const satisfies Record<
  AttestationConveyance,
  number
>;
export const ENTERPRISE = {
  none: 0,
  "vendor-facilitated": 1,
  "platform-managed": 2,
} as const satisfies Record<EnterpriseAttestation, number>;
export const LARGE_BLOB_SUPPORT = { none: 0, required: 1, preferred: 2 } as const satisfies Record<
  LargeBlobSupport,
  number
>;
export const LARGE_BLOB_OPERATION = {
  none: 0,
  get: 1,
  set: 2,
  delete: 3,
} as const satisfies Record<
  LargeBlobOperation,
  number
>;
export const LARGE_BLOB_STATUS = [
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
