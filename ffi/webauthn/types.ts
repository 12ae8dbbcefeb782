/**
 * The binding's TypeScript side of webauthn.h: the plain objects callers pass and get back,
 * and the {@linkcode WebAuthnApi} interface the loaded library implements.
 * @module
 */
import type {
  Attachment,
  AttestationConveyance,
  EnterpriseAttestation,
  LargeBlobOperation,
  LargeBlobStatus,
  LargeBlobSupport,
  Transport,
  UserVerification,
} from "./layout.ts";

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
  /**
   * Frees the library; later calls throw `WebAuthnClosedError`. A MakeCredential/GetAssertion
   * still blocked in the DLL is cancelled (when it has a cancellation id) and waited for: the
   * request memory and the library are released only once the DLL has returned, and then the
   * promise resolves. If that takes longer than `closeTimeoutMs` (see `loadWebAuthn`), it
   * rejects with `WebAuthnCloseTimeoutError` and the release happens when the call returns.
   * Without calls in flight it completes at once; a second call returns the first's promise.
   */
  close(): Promise<void>;
}
