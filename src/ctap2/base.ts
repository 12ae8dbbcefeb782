/**
 * The CTAP2 command layer (CTAP 2.3 §6): one method per authenticator command, canonical CBOR
 * requests, type-checked responses.
 * @module
 */
import { type CborMap, type CborValue, decode, encodeWithPrefix } from "../cbor.ts";
import type { CoseKey } from "../cose.ts";
import {
  assertCtapDevice,
  type CallOptions,
  CAPABILITY,
  CTAP_STATUS,
  type CtapDevice,
  CtapError,
  describeValue,
} from "../ctap.ts";
import { FormatError } from "../errors.ts";
import type { SignatureData } from "../ctap1.ts";
import { AttestationObject, AuthenticatorData, FLAG } from "../webauthn/authdata.ts";
import { concat, u32be } from "../utils.ts";
import { Info } from "./info.ts";

const CTAPHID_CBOR = 0x10;

export { CMD } from "./constants.ts";
import { CMD, MAX_ENUMERATION } from "./constants.ts";

/** A relying party entity as sent to the authenticator. */
export interface RpEntity {
  /** The RP ID (a domain). */
  readonly id: string;
  /** Human-readable RP name; required by makeCredential. */
  readonly name?: string;
}

/** A user entity as sent to (and returned by) the authenticator. */
export interface UserEntity {
  /** The user handle (at most 64 bytes). */
  readonly id: Uint8Array;
  /** Account name; kept only for discoverable credentials. */
  readonly name?: string;
  /** Name shown to the user; kept only for discoverable credentials. */
  readonly displayName?: string;
}

/** A credential descriptor (allow/exclude list entry). */
export interface CredentialDescriptor {
  /** Credential type, normally "public-key". */
  readonly type: string;
  /** The credential ID. */
  readonly id: Uint8Array;
  /** Transport hints; the authenticator ignores them. */
  readonly transports?: readonly string[];
}

/** A credential type and COSE algorithm the RP accepts. */
export interface CredentialParameters {
  /** Credential type, normally "public-key". */
  readonly type: string;
  /** COSE algorithm identifier (-7 = ES256, -8 = EdDSA, ...). */
  readonly alg: number;
}

/** authenticatorMakeCredential parameters (keys 0x01..0x0B). */
export interface MakeCredentialArgs {
  /** SHA-256 of the client data (32 bytes). */
  readonly clientDataHash: Uint8Array;
  /** The relying party the credential is for. */
  readonly rp: RpEntity;
  /** The account the credential is for. */
  readonly user: UserEntity;
  /** Accepted algorithms, most preferred first. */
  readonly pubKeyCredParams: readonly CredentialParameters[];
  /** Credentials the authenticator must not already hold. */
  readonly excludeList?: readonly CredentialDescriptor[];
  /** Extension inputs by identifier (a plain object or a string-keyed Map). */
  readonly extensions?: Record<string, unknown> | Map<string, unknown>;
  /** `rk`, `up`, `uv` option flags; omitted ones take the authenticator's defaults. */
  readonly options?: Record<string, boolean>;
  /** MAC over clientDataHash with a pinUvAuthToken. */
  readonly pinUvAuthParam?: Uint8Array;
  /** PIN/UV protocol version `pinUvAuthParam` was made with (1 or 2). */
  readonly pinUvAuthProtocol?: number;
  /** 1 = vendor-facilitated, 2 = platform-managed enterprise attestation. */
  readonly enterpriseAttestation?: number;
  /** Attestation formats the platform prefers, most preferred first (CTAP 2.2). */
  readonly attestationFormatsPreference?: readonly string[];
}

/** authenticatorGetAssertion parameters (keys 0x01..0x07). */
export interface GetAssertionArgs {
  /** The RP ID the assertion is for. */
  readonly rpId: string;
  /** SHA-256 of the client data (32 bytes). */
  readonly clientDataHash: Uint8Array;
  /** Credentials the RP accepts; omitted for discoverable credentials. */
  readonly allowList?: readonly CredentialDescriptor[];
  /** Extension inputs by identifier (a plain object or a string-keyed Map). */
  readonly extensions?: Record<string, unknown> | Map<string, unknown>;
  /** `up`, `uv` option flags; omitted ones take the authenticator's defaults. */
  readonly options?: Record<string, boolean>;
  /** MAC over clientDataHash with a pinUvAuthToken. */
  readonly pinUvAuthParam?: Uint8Array;
  /** PIN/UV protocol version `pinUvAuthParam` was made with (1 or 2). */
  readonly pinUvAuthProtocol?: number;
}

/** authenticatorClientPIN parameters. */
export interface ClientPinArgs {
  /** PIN/UV protocol version (1 or 2). */
  readonly pinUvAuthProtocol: number;
  /** The clientPIN subcommand number. */
  readonly subCommand: number;
  /** The platform's COSE key-agreement key. */
  readonly keyAgreement?: CborMap;
  /** MAC proving knowledge of the shared secret (or PIN token). */
  readonly pinUvAuthParam?: Uint8Array;
  /** The new PIN, encrypted with the shared secret. */
  readonly newPinEnc?: Uint8Array;
  /** LEFT(SHA-256(PIN), 16), encrypted with the shared secret. */
  readonly pinHashEnc?: Uint8Array;
  /** Permission bits requested for the token. */
  readonly permissions?: number;
  /** RP ID the token's permissions are bound to. */
  readonly rpId?: string;
}

/** authenticatorBioEnrollment parameters. */
export interface BioEnrollmentArgs {
  /** Sensor modality (1 = fingerprint). */
  readonly modality?: number;
  /** The bio-enrollment subcommand number. */
  readonly subCommand?: number;
  /** Parameters of the subcommand (integer keys). */
  readonly subCommandParams?: Map<number, unknown>;
  /** PIN/UV protocol version `pinUvAuthParam` was made with (1 or 2). */
  readonly pinUvAuthProtocol?: number;
  /** MAC over the command with a pinUvAuthToken. */
  readonly pinUvAuthParam?: Uint8Array;
  /** Ask only for the supported modality. */
  readonly getModality?: boolean;
}

/**
 * The part of a PIN/UV auth protocol the management helpers need (credential management,
 * bio enrollment, large blobs, config); `PinProtocolV1`/`V2` satisfy it structurally.
 */
export type PinAuth = {
  readonly version: number;
  authenticate(key: Uint8Array, message: Uint8Array): Uint8Array | Promise<Uint8Array>;
};

/** Options for {@linkcode Ctap2}. */
export interface Ctap2Options {
  /** Reject non-canonical CBOR from the authenticator (default true). */
  readonly strictCbor?: boolean;
}

function fieldError(what: string, expected: string): never {
  throw new FormatError(`Authenticator response: ${what} must be ${expected}`);
}

function optBytes(m: CborMap, key: number, what: string): Uint8Array | undefined {
  const v = m.get(key);
  if (v !== undefined && !(v instanceof Uint8Array)) fieldError(what, "a byte string");
  return v;
}

function optMap(m: CborMap, key: number, what: string): CborMap | undefined {
  const v = m.get(key);
  if (v !== undefined && !(v instanceof Map)) fieldError(what, "a map");
  return v;
}

function optBool(m: CborMap, key: number, what: string): boolean | undefined {
  const v = m.get(key);
  if (v !== undefined && typeof v !== "boolean") fieldError(what, "a boolean");
  return v;
}

function authData(m: CborMap): AuthenticatorData {
  const raw = optBytes(m, 2, "authData");
  if (raw === undefined) throw new FormatError("Authenticator response has no authData");
  return AuthenticatorData.parse(raw);
}

/** Set by `AssertionResponse.withCredential` for the constructor it calls, and only then. */
let reusedAuthData: AuthenticatorData | undefined;

/** Parses a credential descriptor returned by an authenticator. */
export function parseDescriptor(v: CborValue, what = "credential"): CredentialDescriptor {
  if (!(v instanceof Map)) fieldError(what, "a map");
  const type = v.get("type");
  const id = v.get("id");
  if (typeof type !== "string") fieldError(`${what}.type`, "a text string");
  if (!(id instanceof Uint8Array)) fieldError(`${what}.id`, "a byte string");
  const transports = v.get("transports");
  if (
    transports !== undefined &&
    (!Array.isArray(transports) || !transports.every((t) => typeof t === "string"))
  ) {
    fieldError(`${what}.transports`, "an array of text strings");
  }
  return transports === undefined ? { type, id } : { type, id, transports: transports as string[] };
}

/** Parses a user entity returned by an authenticator. */
export function parseUser(v: CborValue, what = "user"): UserEntity {
  if (!(v instanceof Map)) fieldError(what, "a map");
  const id = v.get("id");
  if (!(id instanceof Uint8Array)) fieldError(`${what}.id`, "a byte string");
  const name = v.get("name");
  const displayName = v.get("displayName");
  if (name !== undefined && typeof name !== "string") fieldError(`${what}.name`, "a text string");
  if (displayName !== undefined && typeof displayName !== "string") {
    fieldError(`${what}.displayName`, "a text string");
  }
  const user: { id: Uint8Array; name?: string; displayName?: string } = { id };
  if (name !== undefined) user.name = name;
  if (displayName !== undefined) user.displayName = displayName;
  return user;
}

/** The authenticatorMakeCredential response. */
export class AttestationResponse {
  /** The decoded response map. */
  readonly raw: CborMap;
  /** Attestation statement format identifier. */
  readonly fmt: string;
  /** Authenticator data, with the new credential. */
  readonly authData: AuthenticatorData;
  /** Attestation statement (format-specific map). */
  readonly attStmt: CborMap;
  /** Enterprise attestation was returned. */
  readonly epAtt?: boolean;
  /** The credential's large-blob key (largeBlobKey extension). */
  readonly largeBlobKey?: Uint8Array;
  /** Unsigned extension outputs by identifier. */
  readonly unsignedExtensionOutputs?: CborMap;

  /** Validates the map; throws FormatError when a required field is missing or mistyped. */
  constructor(map: CborMap) {
    if (!(map instanceof Map)) throw new FormatError("makeCredential response must be a map");
    const fmt = map.get(1);
    if (typeof fmt !== "string") fieldError("fmt", "a text string");
    this.raw = map;
    this.fmt = fmt;
    this.authData = authData(map);
    if (!this.authData.credentialData) {
      throw new FormatError("makeCredential authData has no attested credential data");
    }
    const attStmt = optMap(map, 3, "attStmt");
    if (attStmt === undefined) throw new FormatError("makeCredential response has no attStmt");
    this.attStmt = attStmt;
    this.epAtt = optBool(map, 4, "epAtt");
    this.largeBlobKey = optBytes(map, 5, "largeBlobKey");
    this.unsignedExtensionOutputs = optMap(map, 6, "unsignedExtensionOutputs");
  }

  /** The WebAuthn attestation object for this response. */
  toAttestationObject(): AttestationObject {
    return AttestationObject.create(this.fmt, this.authData, this.attStmt);
  }
}

/** The authenticatorGetAssertion / getNextAssertion response. */
export class AssertionResponse {
  /** The decoded response map. */
  readonly raw: CborMap;
  /**
   * The credential used. The authenticator may omit it when the allow list had exactly one
   * entry; the caller then knows which one it was.
   */
  readonly credential?: CredentialDescriptor;
  /** Authenticator data. */
  readonly authData: AuthenticatorData;
  /** Signature over authData ‖ clientDataHash. */
  readonly signature: Uint8Array;
  /** The user (discoverable credentials only). */
  readonly user?: UserEntity;
  /** Number of matching credentials (first response only). */
  readonly numberOfCredentials?: number;
  /** The user picked this credential on the authenticator. */
  readonly userSelected?: boolean;
  /** The credential's large-blob key. */
  readonly largeBlobKey?: Uint8Array;
  /** Unsigned extension outputs (CTAP 2.2). */
  readonly unsignedExtensionOutputs?: CborMap;

  /** Validates the map; throws FormatError when a required field is missing or mistyped. */
  constructor(map: CborMap) {
    if (!(map instanceof Map)) throw new FormatError("getAssertion response must be a map");
    this.raw = map;
    const reused = reusedAuthData;
    reusedAuthData = undefined;
    const cred = map.get(1);
    if (cred !== undefined) this.credential = parseDescriptor(cred);
    this.authData = reused ?? authData(map);
    const signature = optBytes(map, 3, "signature");
    if (signature === undefined) throw new FormatError("getAssertion response has no signature");
    this.signature = signature;
    const user = map.get(4);
    if (user !== undefined) this.user = parseUser(user);
    const n = map.get(5);
    if (n !== undefined) {
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) {
        fieldError("numberOfCredentials", "a positive integer");
      }
      if (n > MAX_ENUMERATION) fieldError("numberOfCredentials", `at most ${MAX_ENUMERATION}`);
      this.numberOfCredentials = n;
    }
    this.userSelected = optBool(map, 6, "userSelected");
    this.largeBlobKey = optBytes(map, 7, "largeBlobKey");
    this.unsignedExtensionOutputs = optMap(map, 8, "unsignedExtensionOutputs");
  }

  /**
   * The same response naming `credential`, for when the authenticator left it out because the
   * allow list had a single entry.
   */
  withCredential(credential: CredentialDescriptor): AssertionResponse {
    const m = new Map(this.raw);
    m.set(1, new Map<CborValue, CborValue>([["type", credential.type], ["id", credential.id]]));
    // The same authData bytes: hand over their parsed form instead of parsing them again.
    reusedAuthData = this.authData;
    try {
      return new AssertionResponse(m);
    } finally {
      reusedAuthData = undefined;
    }
  }

  /** Checks the signature over authData ‖ clientDataHash with the credential's public key. */
  verify(clientDataHash: Uint8Array, publicKey: CoseKey): Promise<boolean> {
    return publicKey.verify(concat(this.authData.raw, clientDataHash), this.signature);
  }

  /** The assertion a U2F authentication amounts to (authData from presence and counter). */
  static fromCtap1(
    appParam: Uint8Array,
    credential: CredentialDescriptor,
    signature: SignatureData,
  ): AssertionResponse {
    const authData = concat(
      appParam,
      new Uint8Array([signature.userPresence & FLAG.UP]),
      u32be(signature.counter),
    );
    const cred = new Map<CborValue, CborValue>([["type", credential.type], ["id", credential.id]]);
    return new AssertionResponse(
      new Map<CborValue, CborValue>([[1, cred], [2, authData], [3, signature.signature]]),
    );
  }
}

function args(entries: [number, unknown][]): Map<number, unknown> {
  const m = new Map<number, unknown>();
  for (const [k, v] of entries) if (v !== undefined && v !== null) m.set(k, v);
  return m;
}

function checkDescriptors(list: readonly CredentialDescriptor[] | undefined, what: string): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new FormatError(`${what} must be an array`);
  for (const d of list) {
    if (typeof d?.type !== "string" || !(d.id instanceof Uint8Array)) {
      throw new FormatError(`${what} entries need a text type and a byte-string id`);
    }
  }
}

function checkMakeCredential(a: MakeCredentialArgs): void {
  checkHash(a.clientDataHash, "clientDataHash");
  if (typeof a.rp?.id !== "string") throw new FormatError("rp.id must be a string");
  if (!(a.user?.id instanceof Uint8Array)) throw new FormatError("user.id must be bytes");
  if (
    !Array.isArray(a.pubKeyCredParams) ||
    !a.pubKeyCredParams.every((p) => typeof p?.type === "string" && Number.isInteger(p.alg))
  ) {
    throw new FormatError("pubKeyCredParams must be {type, alg} entries");
  }
  checkDescriptors(a.excludeList, "excludeList");
}

function checkHash(v: Uint8Array, what: string): void {
  if (!(v instanceof Uint8Array) || v.length !== 32) {
    throw new FormatError(`${what} must be 32 bytes`);
  }
}

/** The CTAP2 command set over any {@linkcode CtapDevice}. */
export class Ctap2 {
  /** Command bytes (also exported as {@linkcode CMD}). */
  static readonly CMD: typeof CMD = CMD;
  /** The device commands go to. */
  readonly device: CtapDevice;
  /** The authenticator's getInfo (refresh with `info = await getInfo()`). */
  info: Info;
  /** Whether non-canonical CBOR responses are rejected. */
  readonly strictCbor: boolean;

  /** `info` is the device's getInfo, needed to pick commands and limits. */
  constructor(device: CtapDevice, info: Info, opts?: Ctap2Options) {
    assertCtapDevice(device, "new Ctap2(device, info)");
    if (!(info instanceof Info)) {
      throw new TypeError(
        `new Ctap2(device, info) needs the key's getInfo as an Info, got ${describeValue(info)}; ` +
          "use `await Ctap2.create(device)`, which reads it",
      );
    }
    this.device = device;
    this.info = info;
    this.strictCbor = opts?.strictCbor ?? true;
  }

  /**
   * Reads getInfo and returns a ready `Ctap2`. A device that does not advertise the CBOR
   * capability is rejected with `CtapError(INVALID_COMMAND)`.
   */
  static async create(
    device: CtapDevice,
    opts?: Ctap2Options & CallOptions,
  ): Promise<Ctap2> {
    assertCtapDevice(device, "Ctap2.create(device)");
    if (!(device.capabilities & CAPABILITY.CBOR)) {
      throw new CtapError(CTAP_STATUS.INVALID_COMMAND, "Device does not support CTAP2");
    }
    const provisional = new Ctap2(device, new Info(new Map([[1, []]])), opts);
    const info = await provisional.getInfo(opts);
    return new Ctap2(device, info, opts);
  }

  /**
   * Sends `cmd ‖ cbor(args)` and returns the decoded response map (undefined for an empty
   * body). A request longer than `info.maxMsgSize` fails locally with
   * `CtapError(REQUEST_TOO_LARGE)`; a non-zero status is a `CtapError`; a body that is not a
   * single (canonical, unless `strictCbor` is off) CBOR map is a `FormatError`.
   */
  async sendCbor(
    cmd: number,
    args?: Map<number, unknown>,
    opts?: CallOptions,
  ): Promise<CborMap | undefined> {
    let request: Uint8Array = new Uint8Array([cmd]);
    if (args !== undefined) {
      let clean = args;
      for (const v of args.values()) {
        if (v !== undefined && v !== null) continue;
        clean = new Map();
        for (const [k, v] of args) if (v !== undefined && v !== null) clean.set(k, v);
        break;
      }
      request = encodeWithPrefix(cmd, clean);
    }
    if (request.length > this.info.maxMsgSize) {
      throw new CtapError(
        CTAP_STATUS.REQUEST_TOO_LARGE,
        `Request of ${request.length} bytes exceeds maxMsgSize ${this.info.maxMsgSize}`,
      );
    }
    const response = await this.device.call(CTAPHID_CBOR, request, opts);
    if (!(response instanceof Uint8Array) || response.length === 0) {
      throw new FormatError("Empty CTAP2 response (no status byte)");
    }
    if (response[0] !== 0) throw new CtapError(response[0]);
    if (response.length === 1) return undefined;
    let body: CborValue;
    try {
      body = decode(response.subarray(1), { strict: this.strictCbor });
    } catch (e) {
      if (e instanceof FormatError) {
        throw new FormatError(`Invalid CBOR from authenticator: ${e.message}`, { cause: e });
      }
      throw e;
    }
    if (!(body instanceof Map)) throw new FormatError("CTAP2 response body is not a CBOR map");
    return body;
  }

  async #sendMap(cmd: number, a: Map<number, unknown>, opts?: CallOptions): Promise<CborMap> {
    return (await this.sendCbor(cmd, a, opts)) ?? new Map();
  }

  /** authenticatorGetInfo. */
  async getInfo(opts?: CallOptions): Promise<Info> {
    const m = await this.sendCbor(CMD.GET_INFO, undefined, opts);
    if (m === undefined) throw new FormatError("getInfo returned no data");
    return new Info(m);
  }

  /** authenticatorMakeCredential. */
  async makeCredential(
    args_: MakeCredentialArgs,
    opts?: CallOptions,
  ): Promise<AttestationResponse> {
    const a = args_;
    checkMakeCredential(a);
    const m = await this.sendCbor(
      CMD.MAKE_CREDENTIAL,
      args([
        [1, a.clientDataHash],
        [2, a.rp],
        [3, a.user],
        [4, a.pubKeyCredParams],
        [5, a.excludeList],
        [6, a.extensions],
        [7, a.options],
        [8, a.pinUvAuthParam],
        [9, a.pinUvAuthProtocol],
        [10, a.enterpriseAttestation],
        [11, a.attestationFormatsPreference],
      ]),
      opts,
    );
    if (m === undefined) throw new FormatError("makeCredential returned no data");
    return new AttestationResponse(m);
  }

  /** authenticatorGetAssertion (the first assertion only; see {@linkcode getAssertions}). */
  async getAssertion(args_: GetAssertionArgs, opts?: CallOptions): Promise<AssertionResponse> {
    const a = args_;
    checkHash(a.clientDataHash, "clientDataHash");
    if (typeof a.rpId !== "string") throw new FormatError("rpId must be a string");
    checkDescriptors(a.allowList, "allowList");
    const m = await this.sendCbor(
      CMD.GET_ASSERTION,
      args([
        [1, a.rpId],
        [2, a.clientDataHash],
        [3, a.allowList],
        [4, a.extensions],
        [5, a.options],
        [6, a.pinUvAuthParam],
        [7, a.pinUvAuthProtocol],
      ]),
      opts,
    );
    if (m === undefined) throw new FormatError("getAssertion returned no data");
    return new AssertionResponse(m);
  }

  /** authenticatorGetNextAssertion. */
  async getNextAssertion(opts?: CallOptions): Promise<AssertionResponse> {
    const m = await this.sendCbor(CMD.GET_NEXT_ASSERTION, undefined, opts);
    if (m === undefined) throw new FormatError("getNextAssertion returned no data");
    return new AssertionResponse(m);
  }

  /**
   * getAssertion followed immediately by `numberOfCredentials − 1` getNextAssertion calls
   * (any other command in between may drop the authenticator's state).
   */
  async getAssertions(args_: GetAssertionArgs, opts?: CallOptions): Promise<AssertionResponse[]> {
    const first = await this.getAssertion(args_, opts);
    const out = [first];
    const n = first.numberOfCredentials ?? 1;
    for (let i = 1; i < n; i++) out.push(await this.getNextAssertion(opts));
    return out;
  }

  /** authenticatorClientPIN; resolves with the response map (empty when there is none). */
  clientPin(a: ClientPinArgs, opts?: CallOptions): Promise<CborMap> {
    return this.#sendMap(
      CMD.CLIENT_PIN,
      args([
        [1, a.pinUvAuthProtocol],
        [2, a.subCommand],
        [3, a.keyAgreement],
        [4, a.pinUvAuthParam],
        [5, a.newPinEnc],
        [6, a.pinHashEnc],
        [9, a.permissions],
        [10, a.rpId],
      ]),
      opts,
    );
  }

  /** authenticatorReset (needs a touch shortly after power-up). */
  async reset(opts?: CallOptions): Promise<void> {
    await this.sendCbor(CMD.RESET, undefined, opts);
  }

  /** authenticatorSelection: waits for a touch, to pick one of several keys. */
  async selection(opts?: CallOptions): Promise<void> {
    await this.sendCbor(CMD.SELECTION, undefined, opts);
  }

  /**
   * The final command when getInfo advertises it, else the 2.1-PRE prototype when a
   * FIDO_2_1_PRE key advertises that; anything else would be an unknown command to the key.
   * `present` says whether the option's mere presence means support (bioEnroll: false = no
   * enrollment yet) or it must be true (credMgmt).
   */
  #pick(
    option: string,
    cmd: number,
    preview: string,
    previewCmd: number,
    what: string,
    present: boolean,
  ): number {
    const o = this.info.options;
    const has = (name: string) => present ? name in o : o[name] === true;
    if (has(option)) return cmd;
    if (this.info.versions.includes("FIDO_2_1_PRE") && has(preview)) return previewCmd;
    throw new CtapError(CTAP_STATUS.INVALID_COMMAND, `Authenticator does not support ${what}`);
  }

  /**
   * authenticatorCredentialManagement (0x0A, or the 0x41 prototype when the authenticator
   * only reports `credentialMgmtPreview`).
   */
  async credentialManagement(
    subCommand: number,
    subCommandParams?: Map<number, unknown>,
    pinUvAuthProtocol?: number,
    pinUvAuthParam?: Uint8Array,
    opts?: CallOptions,
  ): Promise<CborMap> {
    const cmd = this.#pick(
      "credMgmt",
      CMD.CREDENTIAL_MGMT,
      "credentialMgmtPreview",
      CMD.CREDENTIAL_MGMT_PRE,
      "credential management",
      false,
    );
    return await this.#sendMap(
      cmd,
      args([[1, subCommand], [2, subCommandParams], [3, pinUvAuthProtocol], [4, pinUvAuthParam]]),
      opts,
    );
  }

  /**
   * authenticatorBioEnrollment (0x09, or the 0x40 prototype when the authenticator only
   * reports `userVerificationMgmtPreview`).
   */
  async bioEnrollment(a: BioEnrollmentArgs, opts?: CallOptions): Promise<CborMap> {
    const cmd = this.#pick(
      "bioEnroll",
      CMD.BIO_ENROLLMENT,
      "userVerificationMgmtPreview",
      CMD.BIO_ENROLLMENT_PRE,
      "biometric enrollment",
      true,
    );
    return await this.#sendMap(
      cmd,
      args([
        [1, a.modality],
        [2, a.subCommand],
        [3, a.subCommandParams],
        [4, a.pinUvAuthProtocol],
        [5, a.pinUvAuthParam],
        [6, a.getModality],
      ]),
      opts,
    );
  }

  /** authenticatorLargeBlobs: read `get` bytes or write `set` at `offset`. */
  largeBlobs(
    offset: number,
    get?: number,
    set?: Uint8Array,
    length?: number,
    pinUvAuthParam?: Uint8Array,
    pinUvAuthProtocol?: number,
    opts?: CallOptions,
  ): Promise<CborMap> {
    return this.#sendMap(
      CMD.LARGE_BLOBS,
      args([
        [1, get],
        [2, set],
        [3, offset],
        [4, length],
        [5, pinUvAuthParam],
        [6, pinUvAuthProtocol],
      ]),
      opts,
    );
  }

  /** authenticatorConfig. */
  config(
    subCommand: number,
    subCommandParams?: Map<number, unknown>,
    pinUvAuthProtocol?: number,
    pinUvAuthParam?: Uint8Array,
    opts?: CallOptions,
  ): Promise<CborMap> {
    return this.#sendMap(
      CMD.CONFIG,
      args([[1, subCommand], [2, subCommandParams], [3, pinUvAuthProtocol], [4, pinUvAuthParam]]),
      opts,
    );
  }
}
