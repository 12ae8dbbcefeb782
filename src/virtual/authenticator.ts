/**
 * The command core of the VirtualAuthenticator: a software CTAP 2.1 authenticator
 * (getInfo, makeCredential, getAssertion/getNextAssertion, reset, selection, clientPin
 * through the injected PIN/UV state, extra commands through registered handlers) and a
 * U2F (CTAP1) authenticator over the same credentials.
 *
 * Transport-free: the CTAPHID server calls {@linkcode CtapAuthenticator.processCbor} and
 * {@linkcode CtapAuthenticator.processMsg}; tests can call them directly.
 * @module
 */
import { CMD } from "../ctap2/constants.ts";
import { encode } from "../cbor.ts";
import type { CborMap, CborValue } from "../cbor.ts";
import { CAPABILITY, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import {
  bytesEqual,
  concat,
  fromHex,
  hkdfSha256,
  hmacSha256,
  randomBytes,
  sha256,
  toHex,
  u16be,
  u32be,
  utf8Encode,
} from "../utils.ts";
import { aesCbcEncryptNoPad } from "../ctap2/aes_cbc.ts";
import { pinProtocol, verify as verifyPinUvAuth } from "../ctap2/pin_protocol.ts";
import { CredentialStore } from "./credential_store.ts";
import type { CredentialStoreState } from "./credential_store.ts";
import { COSE_ALG, generateKeyPair, isSupportedAlgorithm, sign } from "./keys.ts";
import { asParamMap, decodeParams, descriptor, optional, readOptions, required } from "./params.ts";
import { PERMISSION } from "./types.ts";
import type {
  CtapProcessor,
  PinUvAuthApi,
  RequestContext,
  StoredCredential,
  UserActionHook,
  UserActionReason,
} from "./types.ts";
import { U2fCore } from "./u2f.ts";
import {
  type AuthenticatorProfile,
  type AuthenticatorQuirks,
  isCommandInProfile,
  type ProfileFeatures,
  profileFeatures,
  resolveProfile,
} from "./profile.ts";
import type { U2fAttestation } from "./u2f.ts";

/** CTAP2 command bytes handled or dispatched here (the table the client uses too). */
export const CTAP_CMD: typeof CMD = CMD;

/**
 * The AAGUID the virtual authenticator reports unless told otherwise:
 * `7669727475616c2d6669646f322d7473` ("virtual-fido2-ts" in ASCII), so relying parties and
 * tests can recognise it.
 */
export const DEFAULT_AAGUID: Uint8Array = fromHex("7669727475616c2d6669646f322d7473");

/** authenticatorData flag bits. */
export const AUTH_DATA_FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };

/** A handler for a command this module does not implement itself (credMgmt, largeBlobs…). */
export interface CommandHandler {
  /** Runs the command; the resolved map is the response body (none → status only). */
  handle(params: CborMap | undefined, ctx: RequestContext): Promise<CborMap | undefined>;
  /** getInfo options the handler adds, e.g. `{ credMgmt: true }` (read at every getInfo). */
  readonly infoOptions?: Readonly<Record<string, boolean>>;
  /** Another command arrived: drop multi-call state (enumerations, enrollments). */
  interrupt?(): void;
  /** authenticatorReset succeeded: forget what the handler keeps. */
  reset?(): void;
}

/** How signature counters advance. */
export type SignCountStrategy =
  /** One counter for the whole authenticator, incremented on every signature (default). */
  | "global"
  /** A counter per discoverable credential (non-discoverable ones use the global counter). */
  | "per-credential"
  /** Always 0: what many passkey providers report. */
  | "zero";

/** Attestation the authenticator produces at makeCredential. */
export type AttestationMode =
  | "self"
  | "none"
  | { readonly certificate: Uint8Array; readonly privateKey: Uint8Array };

/** Everything that survives a restart (see {@linkcode CtapAuthenticator.exportState}). */
export interface CtapAuthenticatorState {
  /** Format version, for future migrations. */
  readonly version: 1;
  /** The credential store's state. */
  readonly store: CredentialStoreState;
  /** U2F attestation key (hex) and self-signed certificate (hex DER). */
  readonly u2fAttestation?: { readonly privateKey: string; readonly certificate: string };
}

/** Construction options of {@linkcode CtapAuthenticator}. */
export interface VirtualAuthenticatorOptions {
  /** 16-byte AAGUID (default {@linkcode DEFAULT_AAGUID}). */
  readonly aaguid?: Uint8Array;
  /** COSE algorithms offered, preferred first (default [-7, -8, -35]). */
  readonly algorithms?: readonly number[];
  /** Discoverable credential slots (default 25; 0 disables the `rk` option). */
  readonly rkCapacity?: number;
  /** getInfo maxCredentialIdLength (default 128); longer list entries are ignored. */
  readonly maxCredIdLength?: number;
  /** getInfo maxCredentialCountInList (default 8); longer lists get REQUEST_TOO_LARGE. */
  readonly maxCredsInList?: number;
  /** getInfo maxMsgSize (default 1200); longer requests get REQUEST_TOO_LARGE. */
  readonly maxMsgSize?: number;
  /** getInfo maxCredBlobLength (default 32). */
  readonly maxCredBlobLength?: number;
  /** Built-in user verification (a "fingerprint"), enrolled (default false). */
  readonly uv?: boolean;
  /**
   * Whether the built-in UV has an enrollment right now (default: always), so a sensor whose
   * fingers were all removed reports `uv: false` and stops verifying.
   */
  readonly uvEnrolled?: () => boolean;
  /** Speak U2F over CTAPHID_MSG (default true). */
  readonly u2f?: boolean;
  /** A U2F-only key: no CTAPHID_CBOR capability (default false; profile "u2f-only"). */
  readonly u2fOnly?: boolean;
  /**
   * The generation of key to behave as, byte for byte (default "ctap2.2"): what getInfo
   * reports and which commands and subcommands exist. See {@linkcode AuthenticatorProfile}.
   */
  readonly profile?: AuthenticatorProfile;
  /** Firmware quirks to reproduce (default none). */
  readonly quirks?: AuthenticatorQuirks;
  /** Alias of `profile`: true is the default profile, false is "ctap2.0". */
  readonly ctap21?: boolean;
  /** alwaysUv enabled (default false; implies makeCredUvNotRqd false and disables U2F). */
  readonly alwaysUv?: boolean;
  /** makeCredUvNotRqd (default true). */
  readonly makeCredUvNotRqd?: boolean;
  /** Decides touches (default: approve at once). */
  readonly userPresence?: UserActionHook;
  /** Decides built-in UV (default: approve at once). Only used when `uv` is true. */
  readonly userVerification?: UserActionHook;
  /** PIN/UV state (`PinUvAuthState` from `pin.ts`); absent means no clientPin support. */
  readonly pinUvAuth?: PinUvAuthApi;
  /** Attestation for makeCredential (default "self": packed self attestation). */
  readonly attestation?: AttestationMode;
  /** Clock in milliseconds (default `Date.now`). */
  readonly now?: () => number;
  /** Signature counter strategy (default "global"). */
  readonly signCount?: SignCountStrategy;
  /** Restored state from a previous `exportState()`. */
  readonly state?: CtapAuthenticatorState;
  /** getInfo firmwareVersion (default 1). */
  readonly firmwareVersion?: number;
  /** CTAPHID INIT device version (default [1, 0, 0]). */
  readonly deviceVersion?: readonly [number, number, number];
  /** RP IDs allowed to read the minimum PIN length through the minPinLength extension. */
  readonly minPinLengthRpIds?: readonly string[];
  /** getInfo maxRPIDsForSetMinPINLength (default 8, at least the initial list's length). */
  readonly maxRpIdsForSetMinPinLength?: number;
  /** getInfo maxSerializedLargeBlobArray when a largeBlobs handler is registered (4096). */
  readonly maxSerializedLargeBlobArray?: number;
  /** How long after power-up authenticatorReset is allowed, in ms (default 10 000). */
  readonly resetWindowMs?: number;
  /** getNextAssertion state lifetime in ms (default 30 000). */
  readonly nextAssertionTimeoutMs?: number;
  /**
   * How long a hook may take before the request fails with USER_ACTION_TIMEOUT, in ms
   * (default 30 000), so an unanswered hook never hangs the device.
   */
  readonly userActionTimeoutMs?: number;
  /** Called on CTAPHID_WINK (a demo can flash something). */
  readonly onWink?: () => void;
  /**
   * getInfo `transports` (0x09), reported as given in every CTAP2 profile. Default: what the
   * key is served over: ["usb"] from CTAP 2.1 on (absent before, as the recorded USB keys
   * have it), and ["nfc", "usb"] once a `CtapCard` serves it, in every profile from
   * 2.1-PRE on (as the YubiKey 5 NFC reports it).
   */
  readonly transports?: readonly string[];
}

interface PendingAssertion {
  readonly rpIdHash: Uint8Array;
  readonly clientDataHash: Uint8Array;
  readonly credentials: StoredCredential[];
  readonly flags: number;
  readonly ext: AssertionExtensions;
  readonly uv: boolean;
  next: number;
  lastCall: number;
}

interface AssertionExtensions {
  hmacSecret?: { protocol: number; shared: Uint8Array; salts: Uint8Array };
  credBlob?: boolean;
  largeBlobKey?: boolean;
  thirdPartyPayment?: boolean;
}

const approve: UserActionHook = () => "approve";
const SW_INS_NOT_SUPPORTED = new Uint8Array([0x6d, 0x00]);

/** getInfo uvModality of the simulated sensor: USER_VERIFY_FINGERPRINT_INTERNAL (FIDO Registry). */
const UV_MODALITY_FINGERPRINT = 0x02;
/** getInfo preferredPlatformUvAttempts with built-in UV (the YubiKey Bio's value). */
const PREFERRED_PLATFORM_UV_ATTEMPTS = 3;

/** A software CTAP 2.1 + U2F authenticator behind the {@linkcode CtapProcessor} seam. */
export class CtapAuthenticator implements CtapProcessor {
  /** CTAPHID INIT device version. */
  readonly deviceVersion: readonly [number, number, number];
  /** Credential storage (for credential management and inspection in tests). */
  readonly credentials: CredentialStore;
  /** The PIN/UV state, when clientPin is supported. */
  readonly pinUvAuth?: PinUvAuthApi;

  readonly #aaguid: Uint8Array;
  readonly #algorithms: readonly number[];
  readonly #rkCapacity: number;
  readonly #maxCredIdLength: number;
  readonly #maxCredsInList: number;
  readonly #maxMsgSize: number;
  readonly #maxCredBlobLength: number;
  readonly #builtInUv: boolean;
  readonly #uvEnrolled: () => boolean;
  readonly #u2f: boolean;
  readonly #u2fOnly: boolean;
  readonly #ctap21: boolean;
  /** What the profile has. */
  readonly features: ProfileFeatures;
  readonly #quirks: AuthenticatorQuirks;
  #alwaysUv: boolean;
  #enterpriseAttestation = false;
  readonly #makeCredUvNotRqdOption: boolean;
  readonly #userPresence: UserActionHook;
  readonly #userVerification: UserActionHook;
  readonly #attestation: AttestationMode;
  readonly #now: () => number;
  readonly #signCount: SignCountStrategy;
  readonly #firmwareVersion: number;
  #minPinLengthRpIds: readonly string[];
  readonly #maxRpIdsForSetMinPinLength: number;
  readonly #maxLargeBlobArray: number;
  readonly #resetWindowMs: number;
  readonly #nextAssertionTimeoutMs: number;
  readonly #userActionTimeoutMs: number;
  readonly #onWink?: () => void;
  readonly #handlers = new Map<number, CommandHandler>();
  readonly #u2fCore: U2fCore;
  #powerUp: number;
  #pending?: PendingAssertion;
  readonly #transports?: readonly string[];
  /** Transports front ends announced through `servedOver` (besides USB). */
  readonly #served = new Set<string>();
  /** The device identifier getInfo encIdentifier carries (CTAP 2.2). */
  #identifier: Uint8Array = randomBytes(16);

  /** Starts fresh, or restores `options.state`. */
  constructor(options: VirtualAuthenticatorOptions = {}) {
    const o = options;
    this.#aaguid = o.aaguid ?? DEFAULT_AAGUID;
    if (this.#aaguid.length !== 16) throw new FormatError("aaguid must be 16 bytes");
    this.#algorithms = o.algorithms ?? [COSE_ALG.ES256, COSE_ALG.EdDSA, COSE_ALG.ES384];
    if (this.#algorithms.length === 0) throw new FormatError("algorithms must not be empty");
    for (const alg of this.#algorithms) {
      if (!isSupportedAlgorithm(alg)) throw new FormatError(`Unsupported algorithm ${alg}`);
    }
    this.#rkCapacity = nonNegative(o.rkCapacity ?? 25, "rkCapacity");
    this.#maxCredIdLength = nonNegative(o.maxCredIdLength ?? 128, "maxCredIdLength");
    if (this.#maxCredIdLength < 64) throw new FormatError("maxCredIdLength must be >= 64");
    this.#maxCredsInList = nonNegative(o.maxCredsInList ?? 8, "maxCredsInList");
    if (this.#maxCredsInList < 1) throw new FormatError("maxCredsInList must be >= 1");
    this.#maxMsgSize = nonNegative(o.maxMsgSize ?? 1200, "maxMsgSize");
    this.#maxCredBlobLength = nonNegative(o.maxCredBlobLength ?? 32, "maxCredBlobLength");
    this.#builtInUv = o.uv ?? false;
    this.#uvEnrolled = o.uvEnrolled ?? (() => true);
    this.features = profileFeatures(resolveProfile(o));
    this.#quirks = { ...o.quirks };
    this.#u2fOnly = (o.u2fOnly ?? false) || !this.features.cbor;
    if (this.#quirks.cborCapabilityWithoutCtap2 && !this.#u2fOnly) {
      throw new FormatError(
        'quirk cborCapabilityWithoutCtap2 belongs to U2F-only keys: use profile "u2f-only"',
      );
    }
    this.#alwaysUv = o.alwaysUv ?? false;
    this.#u2f = (o.u2f ?? true) || this.#u2fOnly;
    if (this.#u2fOnly && this.#alwaysUv) throw new FormatError("u2fOnly excludes alwaysUv");
    this.#ctap21 = this.features.ctap21;
    this.#makeCredUvNotRqdOption = o.makeCredUvNotRqd ?? true;
    this.#userPresence = o.userPresence ?? approve;
    this.#userVerification = o.userVerification ?? approve;
    this.pinUvAuth = o.pinUvAuth;
    this.#attestation = o.attestation ?? "self";
    this.#now = o.now ?? Date.now;
    this.#signCount = o.signCount ?? "global";
    this.#firmwareVersion = o.firmwareVersion ?? 1;
    this.#minPinLengthRpIds = [...(o.minPinLengthRpIds ?? [])];
    this.#maxRpIdsForSetMinPinLength = Math.max(
      nonNegative(o.maxRpIdsForSetMinPinLength ?? 8, "maxRpIdsForSetMinPinLength"),
      this.#minPinLengthRpIds.length,
    );
    this.#maxLargeBlobArray = o.maxSerializedLargeBlobArray ?? 4096;
    this.#resetWindowMs = o.resetWindowMs ?? 10_000;
    this.#nextAssertionTimeoutMs = o.nextAssertionTimeoutMs ?? 30_000;
    if (o.transports !== undefined) {
      if (
        !Array.isArray(o.transports) ||
        !o.transports.every((t) => typeof t === "string" && t.length > 0)
      ) {
        throw new FormatError(
          'transports must be an array of AuthenticatorTransport strings, e.g. ["nfc", "usb"]',
        );
      }
      this.#transports = [...o.transports];
    }
    this.#userActionTimeoutMs = nonNegative(o.userActionTimeoutMs ?? 30_000, "userActionTimeoutMs");
    this.deviceVersion = o.deviceVersion ?? [1, 0, 0];
    this.#onWink = o.onWink;
    if (o.state && o.state.version !== 1) throw new FormatError("Unknown authenticator state");
    this.credentials = new CredentialStore(o.state?.store);
    const u2fAtt: U2fAttestation | undefined = typeof this.#attestation === "object"
      ? this.#attestation
      : o.state?.u2fAttestation
      ? {
        privateKey: fromHex(o.state.u2fAttestation.privateKey),
        certificate: fromHex(o.state.u2fAttestation.certificate),
      }
      : undefined;
    this.#u2fCore = new U2fCore({
      store: this.credentials,
      attestation: u2fAtt,
      userPresence: (reason, signal) => this.#askOnce(this.#userPresence, reason, signal),
      nextCounter: (cred) => this.#nextCounter(cred),
    });
    this.#powerUp = this.#now();
  }

  /** Whether CTAPHID_INIT goes unanswered now (quirk `initSilenceMs` after power-up). */
  initSilenced(): boolean {
    const ms = this.#quirks.initSilenceMs ?? 0;
    return ms > 0 && this.#now() - this.#powerUp < ms;
  }

  /** CTAPHID capability flags (NMSG follows alwaysUv, which disables U2F). */
  get capabilities(): number {
    const cborBit = !this.#u2fOnly || this.#quirks.cborCapabilityWithoutCtap2 === true;
    return CAPABILITY.WINK | (cborBit ? CAPABILITY.CBOR : 0) |
      (this.#u2fEnabled ? 0 : CAPABILITY.NMSG);
  }

  /** Whether CTAPHID_CBOR is served at all: never on a U2F-only key, whatever its INIT says. */
  get cbor(): boolean {
    return !this.#u2fOnly;
  }

  get #makeCredUvNotRqd(): boolean {
    return this.#ctap21 && !this.#alwaysUv && this.#makeCredUvNotRqdOption;
  }

  /** Whether alwaysUv is on (authenticatorConfig toggleAlwaysUv flips it). */
  get alwaysUv(): boolean {
    return this.#alwaysUv;
  }

  /** Sets alwaysUv at runtime (authenticatorConfig toggleAlwaysUv). */
  setAlwaysUv(on: boolean): void {
    if (on && this.#u2fOnly) throw new FormatError("u2fOnly excludes alwaysUv");
    this.#alwaysUv = on;
  }

  /** Whether makeCredential accepts enterpriseAttestation (getInfo `ep`). */
  get enterpriseAttestation(): boolean {
    return this.#enterpriseAttestation;
  }

  /** Enables or disables enterprise attestation (authenticatorConfig, reset). */
  setEnterpriseAttestation(on: boolean): void {
    this.#enterpriseAttestation = on;
  }

  /** RP IDs that may read the minimum PIN length through the minPinLength extension. */
  get minPinLengthRpIds(): readonly string[] {
    return this.#minPinLengthRpIds;
  }

  /** getInfo maxRPIDsForSetMinPINLength. */
  get maxRpIdsForSetMinPinLength(): number {
    return this.#maxRpIdsForSetMinPinLength;
  }

  /** Replaces the minPinLength RP ID list (authenticatorConfig setMinPINLength). */
  setMinPinLengthRpIds(rpIds: readonly string[]): void {
    if (rpIds.length > this.#maxRpIdsForSetMinPinLength) {
      throw new CtapError(CtapError.ERR.KEY_STORE_FULL, "Too many minPinLength RP IDs");
    }
    this.#minPinLengthRpIds = [...rpIds];
  }

  get #u2fEnabled(): boolean {
    return this.#u2f && !this.#alwaysUv;
  }

  /** Adds a handler for a command byte this class does not implement (e.g. 0x0A credMgmt). */
  registerCommand(command: number, handler: CommandHandler): void {
    if (Object.values(CTAP_CMD).includes(command as never) === false && command < 0x40) {
      throw new FormatError(`Command 0x${command.toString(16)} is not a CTAP command`);
    }
    if (
      [
        CTAP_CMD.MAKE_CREDENTIAL,
        CTAP_CMD.GET_ASSERTION,
        CTAP_CMD.GET_INFO,
        CTAP_CMD.CLIENT_PIN,
        CTAP_CMD.RESET,
        CTAP_CMD.GET_NEXT_ASSERTION,
        CTAP_CMD.SELECTION,
      ]
        .includes(command as never)
    ) {
      throw new FormatError(`Command 0x${command.toString(16)} is built in`);
    }
    this.#handlers.set(command, handler);
  }

  /** Records that a front end serves the key over `transport` (see the `transports` option). */
  servedOver(transport: string): void {
    if (transport !== "usb") this.#served.add(transport);
  }

  /** getInfo `transports`: the option, or derived from the front ends; undefined: absent. */
  get transports(): readonly string[] | undefined {
    if (this.#transports) return this.#transports;
    if (this.#served.size && this.features.versions.includes("FIDO_2_1_PRE")) {
      return [...this.#served, "usb"].sort();
    }
    return this.#ctap21 ? ["usb"] : undefined;
  }

  /** Simulates unplugging and replugging: restarts the reset window, drops transient state. */
  powerCycle(): void {
    this.#powerUp = this.#now();
    this.#pending = undefined;
    this.pinUvAuth?.powerCycle();
  }

  /** Persistent state as JSON-safe data (pass back as `options.state`). */
  exportState(): CtapAuthenticatorState {
    const att = this.#u2fCore.attestationIfCreated();
    return {
      version: 1,
      store: this.credentials.exportState(),
      u2fAttestation: att && typeof this.#attestation !== "object"
        ? { privateKey: toHex(att.privateKey), certificate: toHex(att.certificate) }
        : undefined,
    };
  }

  /** CTAPHID_WINK: forwarded to the `onWink` option. */
  wink(): void {
    this.#onWink?.();
  }

  /** Handles one CTAPHID_CBOR request: command byte ‖ CBOR → status ‖ CBOR. */
  async processCbor(request: Uint8Array, ctx: RequestContext): Promise<Uint8Array> {
    try {
      const body = await this.#dispatch(request, ctx);
      return body === undefined ? new Uint8Array([0]) : concat(new Uint8Array([0]), encode(body));
    } catch (e) {
      const code = ctapErrorCode(e);
      if (code !== undefined) return new Uint8Array([code]);
      // A bug or a hook that threw something else: report CTAP1_ERR_OTHER, never hang.
      return new Uint8Array([CtapError.ERR.OTHER]);
    }
  }

  /** Handles one CTAPHID_MSG request (a U2F APDU) → response data ‖ SW1 SW2. */
  async processMsg(apdu: Uint8Array, ctx: RequestContext): Promise<Uint8Array> {
    if (!this.#u2fEnabled) return SW_INS_NOT_SUPPORTED.slice();
    return await this.#u2fCore.process(apdu, ctx);
  }

  async #dispatch(request: Uint8Array, ctx: RequestContext): Promise<CborMap | undefined> {
    if (request.length === 0) throw new CtapError(CtapError.ERR.INVALID_LENGTH, "Empty request");
    if (this.#u2fOnly) throw new CtapError(CtapError.ERR.INVALID_COMMAND, "U2F-only device");
    if (request.length > this.#maxMsgSize) throw new CtapError(CtapError.ERR.REQUEST_TOO_LARGE);
    const cmd = request[0];
    const known = cmd === CTAP_CMD.GET_NEXT_ASSERTION || cmd === CTAP_CMD.MAKE_CREDENTIAL ||
      cmd === CTAP_CMD.GET_ASSERTION || cmd === CTAP_CMD.GET_INFO ||
      cmd === CTAP_CMD.RESET || cmd === CTAP_CMD.SELECTION ||
      (cmd === CTAP_CMD.CLIENT_PIN && this.pinUvAuth !== undefined) || this.#handlers.has(cmd);
    // A command from a later generation is as unknown to the key as a made-up one.
    if (!known || !isCommandInProfile(this.features, cmd, this.#quirks)) {
      throw new CtapError(CtapError.ERR.INVALID_COMMAND);
    }
    // getNextAssertion state only survives back-to-back getNextAssertion calls.
    if (cmd !== CTAP_CMD.GET_NEXT_ASSERTION) this.#pending = undefined;
    const current = this.#handlers.get(cmd);
    for (const h of new Set(this.#handlers.values())) if (h !== current) h.interrupt?.();
    const params = decodeParams(request.subarray(1));
    switch (cmd) {
      case CTAP_CMD.GET_INFO:
        return await this.#getInfo();
      case CTAP_CMD.MAKE_CREDENTIAL:
        return await this.#makeCredential(need(params), ctx);
      case CTAP_CMD.GET_ASSERTION:
        return await this.#getAssertion(need(params), ctx);
      case CTAP_CMD.GET_NEXT_ASSERTION:
        return await this.#getNextAssertion();
      case CTAP_CMD.RESET:
        await this.#reset(ctx);
        return undefined;
      case CTAP_CMD.SELECTION:
        await this.#askUser(this.#userPresence, "selection", undefined, ctx);
        return undefined;
      case CTAP_CMD.CLIENT_PIN:
        return await this.pinUvAuth!.handleClientPin(need(params), ctx);
      default:
        return await this.#handlers.get(cmd)!.handle(params, ctx);
    }
  }

  // ---------------------------------------------------------------- getInfo (0x04)

  async #getInfo(): Promise<CborMap> {
    const pin = this.pinUvAuth;
    const options: Record<string, boolean> = {
      rk: this.#rkCapacity > 0,
      up: true,
      plat: false,
    };
    if (this.#builtInUv) options.uv = this.#uvReady;
    if (pin) options.clientPin = pin.isPinSet;
    if (this.#ctap21) {
      if (pin) options.pinUvAuthToken = true;
      // A key that also reports FIDO_2_1_PRE names getPinUvAuthTokenUsingUv by its preview
      // option too, as the YubiKey Bio does (tests/conformance.test.ts).
      if (pin && this.#builtInUv) options.uvToken = true;
      options.makeCredUvNotRqd = this.#makeCredUvNotRqd;
      if (pin || this.#builtInUv) options.alwaysUv = this.#alwaysUv;
    }
    Object.assign(options, this.#infoOptions());
    const largeBlobs = this.#ctap21 && options.largeBlobs === true;
    const versions = [...(this.#u2fEnabled ? ["U2F_V2"] : []), ...this.features.versions];
    const info = new Map<number, CborValue>([
      [0x01, versions],
      [0x02, this.#supportedExtensions(options)],
      [0x03, this.#aaguid],
      [0x04, options],
      [0x05, this.#maxMsgSize],
    ]);
    if (pin) info.set(0x06, [...pin.protocols]);
    if (this.features.listLimits) {
      info.set(0x07, this.#maxCredsInList);
      info.set(0x08, this.#maxCredIdLength);
    }
    if (this.features.algorithms && !this.#quirks.noAlgorithms) {
      info.set(0x0a, this.#algorithms.map((alg) => ({ alg, type: "public-key" })));
    }
    const transports = this.transports;
    if (transports) info.set(0x09, [...transports]);
    if (this.#ctap21) {
      if (largeBlobs) info.set(0x0b, this.#maxLargeBlobArray);
      if (pin) {
        info.set(0x0c, pin.forcePinChange);
        info.set(0x0d, pin.minPinLength);
      }
      info.set(0x0e, this.#firmwareVersion);
      info.set(0x0f, this.#maxCredBlobLength);
      if (options.setMinPINLength) info.set(0x10, this.#maxRpIdsForSetMinPinLength);
      if (this.#builtInUv) {
        // The simulated sensor is a fingerprint reader; 3 attempts before the PIN, as the
        // YubiKey Bio reports.
        info.set(0x11, PREFERRED_PLATFORM_UV_ATTEMPTS);
        info.set(0x12, UV_MODALITY_FINGERPRINT);
      }
      info.set(0x14, this.#rkCapacity - this.credentials.size);
    }
    const persistent = this.features.ctap22 ? pin?.persistentToken?.() : undefined;
    if (persistent) info.set(0x19, await encryptIdentifier(persistent, this.#identifier));
    return info;
  }

  /** hmac-secret needs the PIN/UV state's key agreement (decapsulate). */
  get #hmacSecret(): boolean {
    return typeof this.pinUvAuth?.decapsulate === "function";
  }

  #supportedExtensions(options: Record<string, boolean>): string[] {
    const f = this.features;
    // CTAP 2.0 keys had hmac-secret only; credProtect arrived with 2.1-PRE.
    const ext = f.credProtect ? ["credProtect"] : [];
    if (this.#hmacSecret) ext.push("hmac-secret");
    if (!this.#ctap21) return ext;
    if (this.#hmacSecret && f.ctap22) ext.push("hmac-secret-mc");
    ext.push("credBlob");
    if (options.largeBlobs) ext.push("largeBlobKey");
    if (options.setMinPINLength) ext.push("minPinLength");
    if (f.ctap22) ext.push("thirdPartyPayment");
    return ext;
  }

  // ---------------------------------------------------------------- shared steps

  get #protectedByUv(): boolean {
    return this.#uvReady || (this.pinUvAuth?.isPinSet ?? false);
  }

  /** Built-in UV exists and has an enrollment. */
  get #uvReady(): boolean {
    return this.#builtInUv && this.#uvEnrolled();
  }

  /** Steps 1–2 of MC/GA: zero-length pinUvAuthParam probing and protocol checks. */
  async #checkPinUvAuthParam(
    param: Uint8Array | undefined,
    protocol: number | undefined,
    rpId: string,
    reason: UserActionReason,
    ctx: RequestContext,
  ): Promise<void> {
    if (param === undefined) return;
    const pin = this.pinUvAuth;
    if (pin && param.length === 0) {
      await this.#askUser(this.#userPresence, reason, rpId, ctx);
      throw new CtapError(pin.isPinSet ? CtapError.ERR.PIN_INVALID : CtapError.ERR.PIN_NOT_SET);
    }
    if (protocol === undefined) {
      throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "pinUvAuthProtocol missing");
    }
    if (!pin || !pin.protocols.includes(protocol)) {
      throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "Unsupported pinUvAuthProtocol");
    }
  }

  /** The `uv` option after step 5 checks. */
  #uvOption(opts: Map<string, boolean>, param: Uint8Array | undefined): boolean {
    const uv = param === undefined && (opts.get("uv") ?? false);
    if (uv && !this.#uvReady) {
      throw new CtapError(CtapError.ERR.INVALID_OPTION, "No built-in user verification");
    }
    return uv;
  }

  /** Error for "user verification needed but not offered" (steps 6–8). */
  #uvRequiredError(): CtapError {
    return this.pinUvAuth
      ? new CtapError(CtapError.ERR.PUAT_REQUIRED)
      : new CtapError(CtapError.ERR.OPERATION_DENIED);
  }

  /** alwaysUv (MC step 6 / GA step 5); returns the possibly upgraded `uv` option. */
  #applyAlwaysUv(uv: boolean, param: Uint8Array | undefined): boolean {
    if (!this.#alwaysUv) return uv;
    if (!this.#protectedByUv) throw this.#uvRequiredError();
    if (param === undefined && !uv) {
      if (this.#uvReady) return true;
      throw this.#uvRequiredError();
    }
    return uv;
  }

  /**
   * User verification (MC step 11 / GA step 6): the token's flags or built-in UV. Returns the
   * uv bit, whether there is already evidence of user presence, and whether a token was used.
   */
  async #verifyUser(
    param: Uint8Array | undefined,
    protocol: number | undefined,
    uv: boolean,
    clientDataHash: Uint8Array,
    permission: number,
    rpId: string,
    reason: UserActionReason,
    ctx: RequestContext,
  ): Promise<{ uv: boolean; up: boolean; token: boolean }> {
    if (!this.#protectedByUv) return { uv: false, up: false, token: false };
    if (param !== undefined) {
      const flags = this.pinUvAuth!.verifyToken({
        protocol: protocol!,
        param,
        message: clientDataHash,
        permission,
        rpId,
      });
      if (!flags.userVerified) throw new CtapError(CtapError.ERR.PIN_AUTH_INVALID);
      return { uv: true, up: flags.userPresent, token: true };
    }
    if (uv) {
      await this.#askUser(this.#userVerification, reason, rpId, ctx);
      return { uv: true, up: true, token: false };
    }
    return { uv: false, up: false, token: false };
  }

  #checkListLength(list: CborValue[] | undefined): void {
    if (list && list.length > this.#maxCredsInList) {
      throw new CtapError(
        CtapError.ERR.REQUEST_TOO_LARGE,
        `List longer than maxCredentialCountInList (${this.#maxCredsInList})`,
      );
    }
  }

  /** The next signature counter value for `cred`. */
  #nextCounter(cred: StoredCredential): number {
    if (this.#signCount === "zero") return 0;
    if (this.#signCount === "per-credential" && cred.discoverable) {
      cred.signCount = (cred.signCount + 1) >>> 0;
      return cred.signCount;
    }
    this.credentials.counter = (this.credentials.counter + 1) >>> 0;
    return this.credentials.counter;
  }

  // ---------------------------------------------------------------- makeCredential (0x01)

  async #makeCredential(params: CborMap, ctx: RequestContext): Promise<CborMap> {
    const clientDataHash = required(params, 1, "bytes");
    const rp = asParamMap(required(params, 2, "map"), "rp");
    const user = asParamMap(required(params, 3, "map"), "user");
    const pubKeyCredParams = required(params, 4, "array");
    const excludeList = optional(params, 5, "array");
    const extensions = optional(params, 6, "map");
    const opts = readOptions(optional(params, 7, "map"));
    const param = optional(params, 8, "bytes");
    const protocol = optional(params, 9, "uint");
    const enterprise = optional(params, 10, "uint");

    const rpId = required(rp, "id", "text");
    const rpName = optional(rp, "name", "text");
    const userId = required(user, "id", "bytes");
    const userName = optional(user, "name", "text");
    const displayName = optional(user, "displayName", "text");
    if (userId.length > 64) {
      throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "user.id longer than 64 bytes");
    }
    const excludes = (excludeList ?? []).map(descriptor);
    const credParams = pubKeyCredParams.map((p) => {
      const m = asParamMap(p, "pubKeyCredParams entry");
      return { type: required(m, "type", "text"), alg: required(m, "alg", "int") };
    });
    this.#checkListLength(excludeList);

    // Steps 1-2.
    await this.#checkPinUvAuthParam(param, protocol, rpId, "makeCredential", ctx);
    // Step 3: the first supported algorithm, in the platform's order of preference.
    const chosen = credParams.find((p) =>
      p.type === "public-key" && this.#algorithms.includes(p.alg)
    );
    if (!chosen) throw new CtapError(CtapError.ERR.UNSUPPORTED_ALGORITHM);
    // Step 5: options.
    let uv = this.#uvOption(opts, param);
    const rk = opts.get("rk") ?? false;
    if (rk && this.#rkCapacity === 0) throw new CtapError(CtapError.ERR.UNSUPPORTED_OPTION);
    if (opts.get("up") === false) {
      throw new CtapError(CtapError.ERR.INVALID_OPTION, "up=false is not allowed");
    }
    // Step 6: alwaysUv.
    uv = this.#applyAlwaysUv(uv, param);
    // Steps 7-8: makeCredUvNotRqd.
    if (this.#protectedByUv && !uv && param === undefined && (rk || !this.#makeCredUvNotRqd)) {
      throw this.#uvRequiredError();
    }
    // Step 9.
    // An enabled ep with no enterprise attestation configured for the RP falls back to the
    // regular attestation (epAtt absent), as the spec allows.
    if (enterprise !== undefined) {
      if (!this.#enterpriseAttestation) {
        throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "Enterprise attestation disabled");
      }
      if (enterprise !== 1 && enterprise !== 2) {
        throw new CtapError(CtapError.ERR.INVALID_OPTION, "enterpriseAttestation must be 1 or 2");
      }
    }
    // Steps 10-11.
    const verified = await this.#verifyUser(
      param,
      protocol,
      uv,
      clientDataHash,
      PERMISSION.MC,
      rpId,
      "makeCredential",
      ctx,
    );
    // Step 12: excludeList.
    for (const d of excludes) {
      if (d.type !== "public-key" || d.id.length > this.#maxCredIdLength) continue;
      const cred = await this.credentials.lookup(d.id, rpId);
      if (!cred || (cred.credProtect === 3 && !verified.uv)) continue;
      // Touched or not, the answer is CREDENTIAL_EXCLUDED; only a cancel wins.
      await this.#askUser(this.#userPresence, "makeCredential", rpId, ctx).catch((e) => {
        if (ctapErrorCode(e) === CtapError.ERR.KEEPALIVE_CANCEL) throw e;
      });
      throw new CtapError(CtapError.ERR.CREDENTIAL_EXCLUDED);
    }
    // Extension inputs are validated before the touch so bad input fails fast.
    const ext = this.#parseMcExtensions(extensions, rk);
    const hmacMc = ext.hmacSecretMc ? await this.#hmacSecretInput(ext.hmacSecretMc) : undefined;
    // Steps 13-14: user presence.
    if (!verified.up) await this.#askUser(this.#userPresence, "makeCredential", rpId, ctx);
    if (verified.token) this.pinUvAuth!.consumeToken();

    // Steps 15-19: create the credential.
    if (rk && !this.credentials.replaces(rpId, userId)) {
      if (this.credentials.size >= this.#rkCapacity) {
        throw new CtapError(CtapError.ERR.KEY_STORE_FULL);
      }
    }
    const rpIdHash = sha256(utf8Encode(rpId));
    const keyPair = generateKeyPair(chosen.alg);
    const credProtect = ext.credProtect ?? 1;
    const credBlob = ext.credBlob !== undefined && ext.credBlob.length <= this.#maxCredBlobLength
      ? ext.credBlob
      : undefined;
    let cred: StoredCredential;
    if (rk) {
      cred = {
        id: randomBytes(16),
        rpId,
        rpName,
        user: { id: userId, name: userName, displayName },
        alg: keyPair.alg,
        privateKey: keyPair.privateKey,
        publicKey: keyPair.publicKey,
        discoverable: true,
        signCount: 0,
        credProtect,
        credRandom: ext.hmacSecret ? randomBytes(64) : undefined,
        credBlob,
        largeBlobKey: ext.largeBlobKey ? randomBytes(32) : undefined,
        thirdPartyPayment: ext.thirdPartyPayment || undefined,
        created: this.credentials.nextCreated(),
      };
    } else {
      const id = await this.credentials.wrap({
        alg: keyPair.alg,
        privateKey: keyPair.privateKey,
        credProtect,
        hmacSecret: ext.hmacSecret,
        credBlob,
        thirdPartyPayment: ext.thirdPartyPayment || undefined,
      }, rpIdHash);
      cred = {
        id,
        rpId,
        user: { id: new Uint8Array(0) },
        alg: keyPair.alg,
        privateKey: keyPair.privateKey,
        publicKey: keyPair.publicKey,
        discoverable: false,
        signCount: 0,
        credProtect,
        credRandom: ext.hmacSecret
          ? this.credentials.deriveCredRandom(keyPair.privateKey)
          : undefined,
        credBlob,
        thirdPartyPayment: ext.thirdPartyPayment || undefined,
        created: -1,
      };
    }

    // Extension outputs.
    const outputs: Record<string, CborValue> = {};
    if (ext.credProtect !== undefined) outputs.credProtect = credProtect;
    if (ext.hmacSecret) outputs["hmac-secret"] = true;
    if (ext.credBlob !== undefined) outputs.credBlob = credBlob !== undefined;
    if (ext.minPinLength && this.pinUvAuth && this.#minPinLengthRpIds.includes(rpId)) {
      outputs.minPinLength = this.pinUvAuth.minPinLength;
    }
    if (hmacMc && cred.credRandom) {
      outputs["hmac-secret-mc"] = await this.#hmacSecretOutput(hmacMc, cred, verified.uv);
    }

    if (rk) this.credentials.put(cred);
    let flags = AUTH_DATA_FLAG.UP | AUTH_DATA_FLAG.AT;
    if (verified.uv) flags |= AUTH_DATA_FLAG.UV;
    if (Object.keys(outputs).length) flags |= AUTH_DATA_FLAG.ED;
    const attestedData = concat(
      this.#aaguid,
      u16be(cred.id.length),
      cred.id,
      encode(cred.publicKey),
    );
    const authData = concat(
      rpIdHash,
      new Uint8Array([flags]),
      u32be(this.#nextCounter(cred)),
      attestedData,
      Object.keys(outputs).length ? encode(outputs) : new Uint8Array(0),
    );
    const [fmt, attStmt] = this.#attest(authData, clientDataHash, cred);
    const response = new Map<number, CborValue>([[1, fmt], [2, authData], [3, attStmt]]);
    if (cred.largeBlobKey) response.set(5, cred.largeBlobKey);
    return response;
  }

  #parseMcExtensions(extensions: CborMap | undefined, rk: boolean): {
    credProtect?: number;
    hmacSecret: boolean;
    hmacSecretMc?: CborMap;
    credBlob?: Uint8Array;
    minPinLength: boolean;
    largeBlobKey: boolean;
    thirdPartyPayment: boolean;
  } {
    const e = extensions ?? new Map();
    const supported = this.#supportedExtensions(this.#infoOptions());
    const has = (name: string) => supported.includes(name) && e.has(name);
    const credProtect = has("credProtect") ? optional(e, "credProtect", "uint") : undefined;
    if (credProtect !== undefined && (credProtect < 1 || credProtect > 3)) {
      throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "credProtect must be 1, 2 or 3");
    }
    const hmacSecret = has("hmac-secret") && optional(e, "hmac-secret", "bool") === true;
    const hmacSecretMc = has("hmac-secret-mc") ? optional(e, "hmac-secret-mc", "map") : undefined;
    const largeBlobKey = has("largeBlobKey") ? optional(e, "largeBlobKey", "bool") : undefined;
    if (largeBlobKey === false) {
      throw new CtapError(CtapError.ERR.INVALID_OPTION, "largeBlobKey must be true");
    }
    if (largeBlobKey && !rk) {
      throw new CtapError(
        CtapError.ERR.INVALID_OPTION,
        "largeBlobKey needs a discoverable credential",
      );
    }
    return {
      credProtect,
      hmacSecret,
      // hmac-secret-mc only accompanies hmac-secret: true.
      hmacSecretMc: hmacSecret ? hmacSecretMc : undefined,
      credBlob: has("credBlob") ? optional(e, "credBlob", "bytes") : undefined,
      minPinLength: has("minPinLength") && optional(e, "minPinLength", "bool") === true,
      largeBlobKey: largeBlobKey === true,
      thirdPartyPayment: has("thirdPartyPayment") &&
        optional(e, "thirdPartyPayment", "bool") === true,
    };
  }

  #infoOptions(): Record<string, boolean> {
    const options: Record<string, boolean> = {};
    for (const handler of this.#handlers.values()) Object.assign(options, handler.infoOptions);
    return options;
  }

  #attest(
    authData: Uint8Array,
    clientDataHash: Uint8Array,
    cred: StoredCredential,
  ): [string, Record<string, CborValue>] {
    const signed = concat(authData, clientDataHash);
    const att = this.#attestation;
    if (att === "none") return ["none", {}];
    if (att === "self") {
      return ["packed", { alg: cred.alg, sig: sign(cred.alg, cred.privateKey, signed) }];
    }
    return ["packed", {
      alg: COSE_ALG.ES256,
      sig: sign(COSE_ALG.ES256, att.privateKey, signed),
      x5c: [att.certificate],
    }];
  }

  // ---------------------------------------------------------------- getAssertion (0x02)

  async #getAssertion(params: CborMap, ctx: RequestContext): Promise<CborMap> {
    const rpId = required(params, 1, "text");
    const clientDataHash = required(params, 2, "bytes");
    const allowList = optional(params, 3, "array");
    const extensions = optional(params, 4, "map");
    const opts = readOptions(optional(params, 5, "map"));
    const param = optional(params, 6, "bytes");
    const protocol = optional(params, 7, "uint");
    const allowed = (allowList ?? []).map(descriptor);
    this.#checkListLength(allowList);

    // Steps 1-2.
    await this.#checkPinUvAuthParam(param, protocol, rpId, "getAssertion", ctx);
    // Step 4: options.
    let uv = this.#uvOption(opts, param);
    if (opts.has("rk")) throw new CtapError(CtapError.ERR.UNSUPPORTED_OPTION, "rk in getAssertion");
    const upRequested = opts.get("up") ?? true;
    // Step 5: alwaysUv applies when user presence is requested.
    if (upRequested) uv = this.#applyAlwaysUv(uv, param);
    // Step 6.
    const verified = await this.#verifyUser(
      param,
      protocol,
      uv,
      clientDataHash,
      PERMISSION.GA,
      rpId,
      "getAssertion",
      ctx,
    );
    // Extension inputs are read before the credential search so bad input fails early.
    const ext = await this.#parseGaExtensions(extensions);

    // Step 7: locate credentials, then apply credProtect.
    let creds: StoredCredential[] = [];
    if (allowList !== undefined && allowed.length > 0) {
      for (const d of allowed) {
        if (d.type !== "public-key" || d.id.length > this.#maxCredIdLength) continue;
        const cred = await this.credentials.lookup(d.id, rpId);
        if (cred && !creds.some((c) => bytesEqual(c.id, cred.id))) {
          creds.push(cred);
        }
      }
    } else {
      creds = this.credentials.discoverable(rpId);
    }
    const withList = allowed.length > 0;
    creds = creds.filter((c) =>
      c.credProtect === 3 ? verified.uv : c.credProtect === 2 ? verified.uv || withList : true
    );
    // Step 8.
    if (creds.length === 0) throw new CtapError(CtapError.ERR.NO_CREDENTIALS);
    // Steps 9-10: user presence.
    let up = false;
    if (upRequested) {
      if (!verified.up) await this.#askUser(this.#userPresence, "getAssertion", rpId, ctx);
      up = true;
      if (verified.token) this.pinUvAuth!.consumeToken();
    }
    let flags = 0;
    if (up) flags |= AUTH_DATA_FLAG.UP;
    if (verified.uv) flags |= AUTH_DATA_FLAG.UV;

    // Step 12: selection. Without an allowList every match is offered, newest first.
    const rpIdHash = sha256(utf8Encode(rpId));
    const first = creds[0];
    const response = await this.#assertion(
      rpIdHash,
      clientDataHash,
      first,
      flags,
      ext,
      verified.uv,
    );
    if (!withList) {
      response.set(5, creds.length);
      if (creds.length > 1) {
        this.#pending = {
          rpIdHash,
          clientDataHash,
          credentials: creds,
          flags,
          ext,
          uv: verified.uv,
          next: 1,
          lastCall: this.#now(),
        };
      }
    }
    return response;
  }

  async #getNextAssertion(): Promise<CborMap> {
    const p = this.#pending;
    if (!p) throw new CtapError(CtapError.ERR.NOT_ALLOWED, "No getAssertion to continue");
    if (p.next >= p.credentials.length || this.#now() - p.lastCall > this.#nextAssertionTimeoutMs) {
      this.#pending = undefined;
      throw new CtapError(CtapError.ERR.NOT_ALLOWED);
    }
    const cred = p.credentials[p.next++];
    p.lastCall = this.#now();
    return await this.#assertion(p.rpIdHash, p.clientDataHash, cred, p.flags, p.ext, p.uv);
  }

  async #parseGaExtensions(extensions: CborMap | undefined): Promise<AssertionExtensions> {
    const e = extensions ?? new Map();
    const supported = this.#supportedExtensions(this.#infoOptions());
    const has = (name: string) => supported.includes(name) && e.has(name);
    const out: AssertionExtensions = {};
    if (has("hmac-secret")) {
      out.hmacSecret = await this.#hmacSecretInput(required(e, "hmac-secret", "map"));
    }
    if (has("credBlob")) out.credBlob = optional(e, "credBlob", "bool");
    if (has("largeBlobKey")) {
      out.largeBlobKey = optional(e, "largeBlobKey", "bool");
      if (out.largeBlobKey === false) {
        throw new CtapError(CtapError.ERR.INVALID_OPTION, "largeBlobKey must be true");
      }
    }
    if (has("thirdPartyPayment")) {
      out.thirdPartyPayment = optional(e, "thirdPartyPayment", "bool");
    }
    return out;
  }

  async #assertion(
    rpIdHash: Uint8Array,
    clientDataHash: Uint8Array,
    cred: StoredCredential,
    baseFlags: number,
    ext: AssertionExtensions,
    uv: boolean,
  ): Promise<CborMap> {
    const outputs: Record<string, CborValue> = {};
    if (ext.hmacSecret && cred.credRandom) {
      outputs["hmac-secret"] = await this.#hmacSecretOutput(ext.hmacSecret, cred, uv);
    }
    if (ext.credBlob) outputs.credBlob = cred.credBlob ?? new Uint8Array(0);
    if (ext.thirdPartyPayment) outputs.thirdPartyPayment = cred.thirdPartyPayment === true;
    const hasExt = Object.keys(outputs).length > 0;
    const authData = concat(
      rpIdHash,
      new Uint8Array([baseFlags | (hasExt ? AUTH_DATA_FLAG.ED : 0)]),
      u32be(this.#nextCounter(cred)),
      hasExt ? encode(outputs) : new Uint8Array(0),
    );
    const signature = sign(cred.alg, cred.privateKey, concat(authData, clientDataHash));
    const response = new Map<number, CborValue>([
      [1, { id: cred.id, type: "public-key" }],
      [2, authData],
      [3, signature],
    ]);
    if (cred.discoverable) {
      // Identifying user fields only go out after user verification (CTAP 2.1 §6.2.2).
      const u: Record<string, CborValue> = { id: cred.user.id };
      if (uv && cred.user.name !== undefined) u.name = cred.user.name;
      if (uv && cred.user.displayName !== undefined) u.displayName = cred.user.displayName;
      response.set(4, u);
    }
    if (ext.largeBlobKey && cred.largeBlobKey) response.set(7, cred.largeBlobKey);
    return response;
  }

  // ---------------------------------------------------------------- hmac-secret

  async #hmacSecretInput(
    input: CborMap,
  ): Promise<{ protocol: number; shared: Uint8Array; salts: Uint8Array }> {
    const pin = this.pinUvAuth;
    if (!pin?.decapsulate) throw new CtapError(CtapError.ERR.UNSUPPORTED_EXTENSION);
    const keyAgreement = required(input, 1, "map");
    const saltEnc = required(input, 2, "bytes");
    const saltAuth = required(input, 3, "bytes");
    const protocol = optional(input, 4, "uint") ?? 1;
    const impl = pinProtocol(protocol);
    if (!impl || !pin.protocols.includes(protocol)) {
      throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "Unsupported pinUvAuthProtocol");
    }
    const shared = pin.decapsulate(protocol, keyAgreement);
    if (!verifyPinUvAuth(protocol, shared, saltEnc, saltAuth)) {
      throw new CtapError(CtapError.ERR.PIN_AUTH_INVALID, "hmac-secret saltAuth mismatch");
    }
    let salts: Uint8Array;
    try {
      salts = await impl.decrypt(shared, saltEnc);
    } catch (e) {
      throw new CtapError(CtapError.ERR.INVALID_LENGTH, "Bad hmac-secret saltEnc", { cause: e });
    }
    if (salts.length !== 32 && salts.length !== 64) {
      throw new CtapError(CtapError.ERR.INVALID_LENGTH, "hmac-secret salts must be 32 or 64 bytes");
    }
    return { protocol, shared, salts };
  }

  async #hmacSecretOutput(
    input: { protocol: number; shared: Uint8Array; salts: Uint8Array },
    cred: StoredCredential,
    uv: boolean,
  ): Promise<Uint8Array> {
    const random = cred.credRandom!.subarray(uv ? 0 : 32, uv ? 32 : 64);
    const out1 = hmacSha256(random, input.salts.subarray(0, 32));
    const out = input.salts.length === 64
      ? concat(out1, hmacSha256(random, input.salts.subarray(32)))
      : out1;
    return await pinProtocol(input.protocol)!.encrypt(input.shared, out);
  }

  // ---------------------------------------------------------------- reset (0x07)

  async #reset(ctx: RequestContext): Promise<void> {
    if (this.#now() - this.#powerUp > this.#resetWindowMs) {
      throw new CtapError(CtapError.ERR.NOT_ALLOWED, "Reset only within 10 s of power-up");
    }
    await this.#askUser(this.#userPresence, "reset", undefined, ctx);
    this.credentials.clear();
    this.pinUvAuth?.reset();
    // A reset makes a new authenticator: a new identifier (CTAP 2.2 encIdentifier).
    this.#identifier = randomBytes(16);
    this.#pending = undefined;
    this.#enterpriseAttestation = false;
    for (const h of new Set(this.#handlers.values())) h.reset?.();
  }

  // ---------------------------------------------------------------- user interaction

  /**
   * Asks a hook and waits, sending UPNEEDED keepalives every 100 ms. Denial is
   * OPERATION_DENIED, timeout USER_ACTION_TIMEOUT, a CTAPHID cancel KEEPALIVE_CANCEL.
   */
  async #askUser(
    hook: UserActionHook,
    reason: UserActionReason,
    rpId: string | undefined,
    ctx: RequestContext,
  ): Promise<void> {
    if (ctx.signal.aborted) throw new CtapError(CtapError.ERR.KEEPALIVE_CANCEL);
    ctx.keepalive(2);
    const keepalive = setInterval(() => ctx.keepalive(2), 100);
    // The hook sees one signal for both a CTAPHID cancel and our own timeout.
    const hookAbort = new AbortController();
    let fail!: (e: CtapError) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    const onCancel = () => {
      hookAbort.abort(ctx.signal.reason);
      fail(new CtapError(CtapError.ERR.KEEPALIVE_CANCEL));
    };
    ctx.signal.addEventListener("abort", onCancel, { once: true });
    const deadline = setTimeout(() => {
      hookAbort.abort(new Error("user action timeout"));
      fail(new CtapError(CtapError.ERR.USER_ACTION_TIMEOUT));
    }, this.#userActionTimeoutMs);
    try {
      const decision = await Promise.race([
        Promise.resolve().then(() => hook({ reason, rpId, signal: hookAbort.signal })),
        failed,
      ]);
      if (decision === "deny") throw new CtapError(CtapError.ERR.OPERATION_DENIED);
      if (decision === "timeout") throw new CtapError(CtapError.ERR.USER_ACTION_TIMEOUT);
      if (decision !== "approve") throw new CtapError(CtapError.ERR.OTHER, "Bad hook decision");
    } finally {
      clearInterval(keepalive);
      clearTimeout(deadline);
      ctx.signal.removeEventListener("abort", onCancel);
    }
  }

  /** One-shot presence check for U2F (no keepalives: U2F polls). */
  async #askOnce(
    hook: UserActionHook,
    reason: UserActionReason,
    signal: AbortSignal,
  ): Promise<boolean> {
    try {
      await this.#askUser(hook, reason, undefined, { signal, keepalive: () => {} });
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The status of a CtapError, also from another copy of `ctap.ts` (a handler bundled
 * separately), so a handler's error never degrades to CTAP1_ERR_OTHER.
 */
function ctapErrorCode(e: unknown): number | undefined {
  if (e instanceof CtapError) return e.code;
  if (e instanceof Error && e.name === "CtapError") {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "number" && Number.isInteger(code) && code > 0 && code < 256) return code;
  }
  return undefined;
}

function need(params: CborMap | undefined): CborMap {
  if (!params) throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "Missing parameters");
  return params;
}

function nonNegative(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new FormatError(`${what} must be an integer >= 0`);
  return n;
}

/**
 * encIdentifier (CTAP 2.2 §6.4): IV ‖ AES-128-CBC(HKDF-SHA-256(token, 32×00, "encIdentifier"),
 * IV, identifier), the 16-byte identifier being exactly one block (no padding).
 */
async function encryptIdentifier(token: Uint8Array, identifier: Uint8Array): Promise<Uint8Array> {
  const key = hkdfSha256(token, new Uint8Array(32), utf8Encode("encIdentifier"), 16);
  const iv = randomBytes(16);
  return concat(iv, await aesCbcEncryptNoPad(key, iv, identifier));
}
