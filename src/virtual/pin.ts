/**
 * The virtual authenticator's PIN/UV state: authenticatorClientPIN (CTAP 2.1 §6.5) and the
 * pinUvAuthToken checks every other command handler relies on.
 * @module
 */
import { CLIENT_PIN_SUB } from "../ctap2/constants.ts";
import type { CborMap, CborValue } from "../cbor.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import {
  decapsulate,
  generateKeyAgreementKey,
  type KeyAgreementKey,
  PinProtocolV1,
  PinProtocolV2,
  verify,
} from "../ctap2/pin_protocol.ts";
import { constantTimeEqual, fromHex, randomBytes, sha256, toHex, utf8Decode } from "../utils.ts";
import {
  PERMISSION,
  type PinUvAuthApi,
  type PinUvAuthOptions,
  type PinUvPersistentState,
  type RequestContext,
} from "./types.ts";

const SUB = CLIENT_PIN_SUB;

/** Request parameter keys. */
const REQ = {
  PROTOCOL: 0x01,
  SUB_COMMAND: 0x02,
  KEY_AGREEMENT: 0x03,
  PIN_UV_AUTH_PARAM: 0x04,
  NEW_PIN_ENC: 0x05,
  PIN_HASH_ENC: 0x06,
  PERMISSIONS: 0x09,
  RP_ID: 0x0a,
} as const;

/** Response keys. */
const RES = {
  KEY_AGREEMENT: 0x01,
  PIN_UV_AUTH_TOKEN: 0x02,
  PIN_RETRIES: 0x03,
  POWER_CYCLE_STATE: 0x04,
  UV_RETRIES: 0x05,
} as const;

/** Consecutive wrong PINs before the authenticator wants a power cycle. */
const MAX_CONSECUTIVE_MISMATCHES = 3;
const MAX_PIN_BYTES = 63;
const ALL_PERMISSIONS = 0x7f;
const RP_BOUND = PERMISSION.MC | PERMISSION.GA;
const RP_SCOPED = PERMISSION.CM | PERMISSION.PCMR;

const err = (code: number, message?: string) => new CtapError(code, message);

/** The pinUvAuthToken state of CTAP 2.1 §6.5.2.1 (one state, one token per protocol). */
interface TokenState {
  readonly tokens: ReadonlyMap<number, Uint8Array>;
  permissions: number;
  rpId?: string;
  userPresent: boolean;
  userVerified: boolean;
  readonly issuedAt: number;
  /** The protocol the platform received the token under. */
  readonly protocol: number;
  inUse: boolean;
}

/** A token carrying only pcmr is the CTAP 2.2 persistentPinUvAuthToken. */
function isPersistent(state: TokenState): boolean {
  return state.permissions === PERMISSION.PCMR && state.inUse;
}

function pinHashOf(pin: Uint8Array): Uint8Array {
  return sha256(pin).slice(0, 16);
}

function codePoints(text: string): number {
  return [...text].length;
}

function checkCount(value: unknown, what: string, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new FormatError(`Invalid PIN/UV state: ${what} must be an integer in 0..${max}`);
  }
  return value;
}

/**
 * PIN, retries, key agreement and pinUvAuthToken of a virtual authenticator. Errors are
 * `CtapError`s carrying the status the spec prescribes, so the dispatcher only forwards them.
 */
export class PinUvAuthState implements PinUvAuthApi {
  readonly protocols: readonly number[];
  readonly #maxPinRetries: number;
  readonly #maxUvRetries: number;
  readonly #initialMinPinLength: number;
  readonly #tokenLifetimeMs: number;
  readonly #verifyUser?: PinUvAuthOptions["verifyUser"];
  readonly #now: () => number;
  readonly #supportedPermissions: number;
  readonly #legacyTokens: boolean;
  readonly #subcommands?: ReadonlySet<number>;
  readonly #unknownSubcommand: number;
  readonly #tokenSingleUse: boolean;

  #pinHash?: Uint8Array;
  #pinLength = 0;
  #pinRetries: number;
  #uvRetries: number;
  #minPinLength: number;
  #forcePinChange = false;
  /** Consecutive mismatches since power-up (volatile). */
  #mismatches = 0;
  #keyAgreement: KeyAgreementKey = generateKeyAgreementKey();
  #token?: TokenState;

  /** Starts with no PIN unless `options.pin` or `options.state` sets one. */
  constructor(options: PinUvAuthOptions = {}) {
    const protocols = options.protocols ?? [2, 1];
    if (protocols.length === 0 || protocols.some((p) => p !== 1 && p !== 2)) {
      throw new FormatError(`Unsupported pinUvAuthProtocols ${JSON.stringify(protocols)}`);
    }
    this.protocols = [...protocols];
    this.#maxPinRetries = checkCount(options.maxPinRetries ?? 8, "maxPinRetries", 255);
    this.#maxUvRetries = checkCount(options.maxUvRetries ?? 5, "maxUvRetries", 255);
    this.#initialMinPinLength = checkCount(options.minPinLength ?? 4, "minPinLength", 63);
    if (this.#initialMinPinLength < 4) {
      throw new FormatError("Invalid PIN/UV state: minPinLength must be at least 4");
    }
    this.#tokenLifetimeMs = options.tokenLifetimeMs ?? 30_000;
    this.#verifyUser = options.verifyUser;
    this.#now = options.now ?? Date.now;
    this.#supportedPermissions = options.supportedPermissions ??
      (options.verifyUser ? ALL_PERMISSIONS : ALL_PERMISSIONS & ~PERMISSION.BE);
    this.#legacyTokens = options.tokenModel === "ctap2.0";
    this.#subcommands = options.subcommands ? new Set(options.subcommands) : undefined;
    this.#unknownSubcommand = options.unknownSubcommandStatus ?? CTAP_STATUS.INVALID_SUBCOMMAND;
    this.#tokenSingleUse = options.tokenSingleUse ?? false;
    this.#pinRetries = this.#maxPinRetries;
    this.#uvRetries = this.#maxUvRetries;
    this.#minPinLength = this.#initialMinPinLength;

    const state = options.state;
    if (state) {
      this.#restore(state);
    } else if (options.pin !== undefined) {
      const pin = new TextEncoder().encode(options.pin.normalize("NFC"));
      this.#checkPolicy(pin);
      this.#pinHash = pinHashOf(pin);
      this.#pinLength = codePoints(options.pin.normalize("NFC"));
    }
  }

  #restore(state: PinUvPersistentState): void {
    if (state.pinHash !== undefined) {
      const hash = fromHex(String(state.pinHash));
      if (hash.length !== 16) {
        throw new FormatError("Invalid PIN/UV state: pinHash is not 16 bytes");
      }
      this.#pinHash = hash;
      this.#pinLength = checkCount(state.pinLength ?? this.#initialMinPinLength, "pinLength", 63);
    }
    this.#pinRetries = checkCount(state.pinRetries, "pinRetries", this.#maxPinRetries);
    this.#uvRetries = checkCount(state.uvRetries, "uvRetries", this.#maxUvRetries);
    this.#minPinLength = checkCount(state.minPinLength, "minPinLength", 63);
    if (typeof state.forcePinChange !== "boolean") {
      throw new FormatError("Invalid PIN/UV state: forcePinChange must be a boolean");
    }
    this.#forcePinChange = state.forcePinChange;
  }

  get isPinSet(): boolean {
    return this.#pinHash !== undefined;
  }
  get forcePinChange(): boolean {
    return this.#forcePinChange;
  }
  get minPinLength(): number {
    return this.#minPinLength;
  }
  get pinRetries(): number {
    return this.#pinRetries;
  }
  get uvRetries(): number {
    return this.#uvRetries;
  }

  exportState(): PinUvPersistentState {
    return {
      ...(this.#pinHash ? { pinHash: toHex(this.#pinHash), pinLength: this.#pinLength } : {}),
      pinRetries: this.#pinRetries,
      uvRetries: this.#uvRetries,
      minPinLength: this.#minPinLength,
      forcePinChange: this.#forcePinChange,
    };
  }

  reset(): void {
    this.#pinHash = undefined;
    this.#pinLength = 0;
    this.#pinRetries = this.#maxPinRetries;
    this.#uvRetries = this.#maxUvRetries;
    this.#minPinLength = this.#initialMinPinLength;
    this.#forcePinChange = false;
    this.powerCycle();
    this.#token = undefined;
  }

  /** The shared secret with the platform's `keyAgreement` (used by hmac-secret). */
  decapsulate(protocol: number, keyAgreement: CborMap): Uint8Array {
    if (!this.protocols.includes(protocol)) {
      throw new CtapError(CTAP_STATUS.INVALID_PARAMETER, "Unsupported pinUvAuthProtocol");
    }
    return decapsulate(protocol, this.#keyAgreement.privateKey, keyAgreement);
  }

  powerCycle(): void {
    this.#mismatches = 0;
    this.#keyAgreement = generateKeyAgreementKey();
    // Only a persistentPinUvAuthToken (CTAP 2.2, pcmr alone) outlives the power cycle.
    if (this.#token && !isPersistent(this.#token)) this.#token = undefined;
  }

  persistentToken(): Uint8Array | undefined {
    const state = this.#token;
    return state && isPersistent(state) ? state.tokens.get(state.protocol) : undefined;
  }

  setMinPinLength(length: number, forceChange: boolean): void {
    if (!Number.isInteger(length) || length > MAX_PIN_BYTES) {
      throw err(CTAP_STATUS.PIN_POLICY_VIOLATION, `Invalid minimum PIN length ${length}`);
    }
    if (length < this.#minPinLength) {
      throw err(CTAP_STATUS.PIN_POLICY_VIOLATION, "The minimum PIN length cannot decrease");
    }
    if (forceChange && !this.isPinSet) throw err(CTAP_STATUS.PIN_NOT_SET);
    this.#minPinLength = length;
    if (this.isPinSet && (forceChange || this.#pinLength < length)) this.#forcePinChange = true;
  }

  /**
   * mc/ga bind an unbound token to `rpId` (required); cm/pcmr on an RP-scoped token need the
   * same `rpId`, and an absent `rpId` (a request over all RPs) is refused; other permissions
   * ignore `rpId`. A valid MAC on an expired token is PIN_TOKEN_EXPIRED.
   */
  verifyToken(args: {
    protocol: number;
    param: Uint8Array;
    message: Uint8Array;
    permission: number;
    rpId?: string;
  }): { userPresent: boolean; userVerified: boolean } {
    if (!this.protocols.includes(args.protocol)) {
      throw err(CTAP_STATUS.INVALID_PARAMETER, `Unsupported pinUvAuthProtocol ${args.protocol}`);
    }
    const state = this.#token;
    const token = state?.tokens.get(args.protocol);
    if (!state || !token || !state.inUse) throw err(CTAP_STATUS.PIN_AUTH_INVALID);
    if (!verify(args.protocol, token, args.message, args.param)) {
      throw err(CTAP_STATUS.PIN_AUTH_INVALID);
    }
    if (!isPersistent(state) && this.#now() - state.issuedAt > this.#tokenLifetimeMs) {
      // stopUsingPinUvAuthToken: the token stays unusable until a new one is issued.
      state.inUse = false;
      throw err(CTAP_STATUS.PIN_TOKEN_EXPIRED);
    }
    // CTAP 2.1 §6.1.2 step 11 and its siblings: a token lacking the permission or bound to
    // another RP is PIN_AUTH_INVALID at use; UNAUTHORIZED_PERMISSION is for token requests.
    if ((state.permissions & args.permission) !== args.permission || args.permission === 0) {
      throw err(CTAP_STATUS.PIN_AUTH_INVALID, "Token lacks the permission");
    }
    // A CTAP 2.0 pinToken is neither scoped nor bound: it opens everything until power-off.
    if (this.#legacyTokens) return { userPresent: state.userPresent, userVerified: true };
    if (args.permission & RP_BOUND) {
      if (args.rpId === undefined) {
        throw err(CTAP_STATUS.MISSING_PARAMETER, "rpId is required for mc/ga permission");
      }
      if (state.rpId !== undefined && state.rpId !== args.rpId) {
        throw err(CTAP_STATUS.PIN_AUTH_INVALID, "Token is bound to another RP");
      }
      state.rpId = args.rpId;
    } else if (args.permission & RP_SCOPED) {
      // An RP-scoped credential-management token cannot serve requests over all RPs.
      if (state.rpId !== undefined && state.rpId !== args.rpId) {
        throw err(CTAP_STATUS.PIN_AUTH_INVALID, "Token is scoped to another RP");
      }
    }
    return { userPresent: state.userPresent, userVerified: state.userVerified };
  }

  consumeToken(): void {
    const state = this.#token;
    // CTAP 2.0 has no consumption: the pinToken stays valid until the next power cycle.
    if (!state || this.#legacyTokens) return;
    state.userPresent = false;
    state.userVerified = false;
    state.permissions &= this.#tokenSingleUse ? 0 : PERMISSION.LBW;
  }

  async handleClientPin(params: CborMap, ctx: RequestContext): Promise<CborMap | undefined> {
    if (!(params instanceof Map)) throw err(CTAP_STATUS.CBOR_UNEXPECTED_TYPE);
    const sub = this.#int(params, REQ.SUB_COMMAND);
    if (sub === undefined) throw err(CTAP_STATUS.MISSING_PARAMETER, "subCommand missing");
    if (this.#subcommands && !this.#subcommands.has(sub)) {
      throw err(this.#unknownSubcommand, `Unknown clientPin subcommand 0x${sub.toString(16)}`);
    }
    switch (sub) {
      case SUB.GET_PIN_RETRIES: {
        const retries = new Map<CborValue, CborValue>([[RES.PIN_RETRIES, this.#pinRetries]]);
        // powerCycleState arrived with CTAP 2.1: the recorded 2.1-PRE Yubico key answers
        // {pinRetries} alone (tests/conformance.test.ts).
        if (!this.#legacyTokens) {
          retries.set(RES.POWER_CYCLE_STATE, this.#mismatches >= MAX_CONSECUTIVE_MISMATCHES);
        }
        return retries;
      }
      case SUB.GET_UV_RETRIES:
        return new Map<CborValue, CborValue>([[RES.UV_RETRIES, this.#uvRetries]]);
      case SUB.GET_KEY_AGREEMENT: {
        const protocol = this.#int(params, REQ.PROTOCOL);
        if (protocol === undefined) throw err(CTAP_STATUS.MISSING_PARAMETER);
        this.#checkProtocol(protocol);
        return new Map<CborValue, CborValue>([[RES.KEY_AGREEMENT, this.#keyAgreement.publicKey]]);
      }
      case SUB.SET_PIN:
        return await this.#setPin(params);
      case SUB.CHANGE_PIN:
        return await this.#changePin(params);
      case SUB.GET_PIN_TOKEN:
      case SUB.GET_TOKEN_USING_PIN:
        return await this.#getTokenUsingPin(params, sub === SUB.GET_PIN_TOKEN);
      case SUB.GET_TOKEN_USING_UV:
        return await this.#getTokenUsingUv(params, ctx);
      default:
        throw err(this.#unknownSubcommand);
    }
  }

  // ---- subcommands ------------------------------------------------------------------------

  async #setPin(params: CborMap): Promise<undefined> {
    const keyAgreement = this.#map(params, REQ.KEY_AGREEMENT);
    const newPinEnc = this.#bytes(params, REQ.NEW_PIN_ENC);
    const param = this.#bytes(params, REQ.PIN_UV_AUTH_PARAM);
    const protocol = this.#int(params, REQ.PROTOCOL);
    if (protocol === undefined || !keyAgreement || !newPinEnc || !param) {
      throw err(CTAP_STATUS.MISSING_PARAMETER);
    }
    this.#checkProtocol(protocol);
    if (this.isPinSet) throw err(CTAP_STATUS.NOT_ALLOWED, "A PIN is already set");
    const shared = decapsulate(protocol, this.#keyAgreement.privateKey, keyAgreement);
    if (!verify(protocol, shared, newPinEnc, param)) throw err(CTAP_STATUS.PIN_AUTH_INVALID);
    const pin = await this.#decryptNewPin(protocol, shared, newPinEnc);
    this.#storePin(pin);
    return undefined;
  }

  async #changePin(params: CborMap): Promise<undefined> {
    const keyAgreement = this.#map(params, REQ.KEY_AGREEMENT);
    const pinHashEnc = this.#bytes(params, REQ.PIN_HASH_ENC);
    const newPinEnc = this.#bytes(params, REQ.NEW_PIN_ENC);
    const param = this.#bytes(params, REQ.PIN_UV_AUTH_PARAM);
    const protocol = this.#int(params, REQ.PROTOCOL);
    if (protocol === undefined || !keyAgreement || !pinHashEnc || !newPinEnc || !param) {
      throw err(CTAP_STATUS.MISSING_PARAMETER);
    }
    this.#checkProtocol(protocol);
    this.#checkPinUsable();
    const shared = decapsulate(protocol, this.#keyAgreement.privateKey, keyAgreement);
    const message = new Uint8Array(newPinEnc.length + pinHashEnc.length);
    message.set(newPinEnc);
    message.set(pinHashEnc, newPinEnc.length);
    if (!verify(protocol, shared, message, param)) throw err(CTAP_STATUS.PIN_AUTH_INVALID);
    await this.#checkPinHash(protocol, shared, pinHashEnc);
    const pin = await this.#decryptNewPin(protocol, shared, newPinEnc);
    if (this.#forcePinChange && constantTimeEqual(pinHashOf(pin), this.#pinHash!)) {
      throw err(CTAP_STATUS.PIN_POLICY_VIOLATION, "The new PIN must differ from the current one");
    }
    this.#storePin(pin);
    return undefined;
  }

  async #getTokenUsingPin(params: CborMap, legacy: boolean): Promise<CborMap> {
    const keyAgreement = this.#map(params, REQ.KEY_AGREEMENT);
    const pinHashEnc = this.#bytes(params, REQ.PIN_HASH_ENC);
    const permissions = this.#int(params, REQ.PERMISSIONS);
    const rpId = this.#text(params, REQ.RP_ID);
    const protocol = this.#int(params, REQ.PROTOCOL);
    if (protocol === undefined || !keyAgreement || !pinHashEnc) {
      throw err(CTAP_STATUS.MISSING_PARAMETER);
    }
    this.#checkProtocol(protocol);
    let granted: number;
    if (legacy) {
      if (permissions !== undefined || rpId !== undefined) {
        throw err(CTAP_STATUS.INVALID_PARAMETER, "getPinToken takes no permissions or rpId");
      }
      // CTAP 2.1 §6.5.5.7: a legacy token carries mc and ga; a 2.0 key knows no scoping.
      granted = this.#legacyTokens ? this.#supportedPermissions : PERMISSION.MC | PERMISSION.GA;
    } else {
      granted = this.#checkPermissions(permissions, rpId);
    }
    this.#checkPinUsable();
    const shared = decapsulate(protocol, this.#keyAgreement.privateKey, keyAgreement);
    await this.#checkPinHash(protocol, shared, pinHashEnc);
    if (this.#forcePinChange) {
      throw legacy
        ? err(CTAP_STATUS.PIN_INVALID, "The PIN must be changed first (forcePINChange)")
        : err(CTAP_STATUS.PIN_POLICY_VIOLATION, "The PIN must be changed first (forcePINChange)");
    }
    return await this.#issueToken(protocol, shared, granted, legacy ? undefined : rpId, false);
  }

  async #getTokenUsingUv(params: CborMap, ctx: RequestContext): Promise<CborMap> {
    const keyAgreement = this.#map(params, REQ.KEY_AGREEMENT);
    const permissions = this.#int(params, REQ.PERMISSIONS);
    const rpId = this.#text(params, REQ.RP_ID);
    const protocol = this.#int(params, REQ.PROTOCOL);
    if (protocol === undefined || !keyAgreement) throw err(CTAP_STATUS.MISSING_PARAMETER);
    this.#checkProtocol(protocol);
    const granted = this.#checkPermissions(permissions, rpId);
    if (!this.#verifyUser) {
      throw err(CTAP_STATUS.INVALID_SUBCOMMAND, "No built-in user verification");
    }
    if (this.#uvRetries === 0) throw err(CTAP_STATUS.UV_BLOCKED);
    const shared = decapsulate(protocol, this.#keyAgreement.privateKey, keyAgreement);
    const matched = await this.#verifyUser(ctx, rpId);
    if (!matched) {
      this.#uvRetries--;
      throw err(this.#uvRetries === 0 ? CTAP_STATUS.UV_BLOCKED : CTAP_STATUS.UV_INVALID);
    }
    this.#uvRetries = this.#maxUvRetries;
    return await this.#issueToken(protocol, shared, granted, rpId, true);
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** Validates the permissions request of subcommands 0x06 and 0x09. */
  #checkPermissions(permissions: number | undefined, rpId: string | undefined): number {
    if (permissions === undefined) throw err(CTAP_STATUS.MISSING_PARAMETER, "permissions missing");
    if (permissions === 0 || permissions < 0) {
      throw err(CTAP_STATUS.INVALID_PARAMETER, "permissions must not be empty");
    }
    if ((permissions & RP_BOUND) && rpId === undefined) {
      throw err(CTAP_STATUS.MISSING_PARAMETER, "rpId is required for mc/ga permission");
    }
    if ((permissions & ~this.#supportedPermissions) !== 0) {
      throw err(CTAP_STATUS.UNAUTHORIZED_PERMISSION);
    }
    return permissions;
  }

  /** PIN set, not blocked, and no power cycle pending. */
  #checkPinUsable(): void {
    if (!this.isPinSet) throw err(CTAP_STATUS.PIN_NOT_SET);
    if (this.#pinRetries === 0) throw err(CTAP_STATUS.PIN_BLOCKED);
    if (this.#mismatches >= MAX_CONSECUTIVE_MISMATCHES) throw err(CTAP_STATUS.PIN_AUTH_BLOCKED);
  }

  /** Spends a retry, then compares pinHashEnc with the stored hash (§6.5.5.6 / §6.5.5.7). */
  async #checkPinHash(protocol: number, shared: Uint8Array, pinHashEnc: Uint8Array): Promise<void> {
    if (pinHashEnc.length !== (protocol === 1 ? 16 : 32)) {
      throw err(CTAP_STATUS.INVALID_PARAMETER, "pinHashEnc has the wrong length");
    }
    this.#pinRetries--;
    const hash = await this.#protocolImpl(protocol).decrypt(shared, pinHashEnc);
    if (!constantTimeEqual(hash, this.#pinHash!)) {
      this.#keyAgreement = generateKeyAgreementKey();
      this.#mismatches++;
      if (this.#pinRetries === 0) throw err(CTAP_STATUS.PIN_BLOCKED);
      if (this.#mismatches >= MAX_CONSECUTIVE_MISMATCHES) throw err(CTAP_STATUS.PIN_AUTH_BLOCKED);
      throw err(CTAP_STATUS.PIN_INVALID);
    }
    this.#pinRetries = this.#maxPinRetries;
    this.#mismatches = 0;
  }

  /** Decrypts and unpads newPinEnc, enforcing the 64-byte padding and the PIN policy. */
  async #decryptNewPin(
    protocol: number,
    shared: Uint8Array,
    newPinEnc: Uint8Array,
  ): Promise<Uint8Array> {
    let padded: Uint8Array;
    try {
      padded = await this.#protocolImpl(protocol).decrypt(shared, newPinEnc);
    } catch (e) {
      if (e instanceof FormatError) {
        throw new CtapError(CTAP_STATUS.INVALID_PARAMETER, e.message, { cause: e });
      }
      throw e;
    }
    if (padded.length !== 64) {
      throw err(CTAP_STATUS.INVALID_PARAMETER, "paddedNewPin must be 64 bytes");
    }
    const end = padded.indexOf(0);
    const pin = padded.slice(0, end < 0 ? 64 : end);
    // Anything non-zero after the first zero byte is not padding.
    if (end >= 0 && padded.subarray(end).some((b) => b !== 0)) {
      throw err(CTAP_STATUS.PIN_POLICY_VIOLATION, "PIN contains a zero byte");
    }
    this.#checkPolicy(pin);
    return pin;
  }

  /** ≥ minPinLength code points, ≤ 63 bytes, valid UTF-8. */
  #checkPolicy(pin: Uint8Array): void {
    if (pin.length > MAX_PIN_BYTES) {
      throw err(CTAP_STATUS.PIN_POLICY_VIOLATION, "PIN is longer than 63 bytes");
    }
    let text: string;
    try {
      text = utf8Decode(pin);
    } catch {
      throw err(CTAP_STATUS.PIN_POLICY_VIOLATION, "PIN is not valid UTF-8");
    }
    if (pin.length < 4 || codePoints(text) < this.#minPinLength) {
      throw err(
        CTAP_STATUS.PIN_POLICY_VIOLATION,
        `PIN is shorter than ${this.#minPinLength} code points`,
      );
    }
  }

  #storePin(pin: Uint8Array): void {
    this.#pinHash = pinHashOf(pin);
    this.#pinLength = codePoints(utf8Decode(pin));
    this.#pinRetries = this.#maxPinRetries;
    this.#forcePinChange = false;
    // resetPinUvAuthToken: tokens issued under the old PIN die with it.
    this.#token = undefined;
  }

  /** resetPinUvAuthToken + beginUsingPinUvAuthToken; returns the encrypted token. */
  async #issueToken(
    protocol: number,
    shared: Uint8Array,
    permissions: number,
    rpId: string | undefined,
    userPresent: boolean,
  ): Promise<CborMap> {
    const tokens = new Map<number, Uint8Array>();
    for (const p of this.protocols) tokens.set(p, randomBytes(32));
    this.#token = {
      tokens,
      permissions,
      rpId,
      userPresent,
      userVerified: true,
      issuedAt: this.#now(),
      protocol,
      inUse: true,
    };
    const enc = await this.#protocolImpl(protocol).encrypt(shared, tokens.get(protocol)!);
    return new Map<CborValue, CborValue>([[RES.PIN_UV_AUTH_TOKEN, enc]]);
  }

  #protocolImpl(protocol: number): PinProtocolV1 {
    return protocol === 1 ? V1 : V2;
  }

  /** pinUvAuthProtocol must be one this authenticator offers. */
  #checkProtocol(protocol: number): void {
    if (!this.protocols.includes(protocol)) {
      throw err(CTAP_STATUS.INVALID_PARAMETER, `Unsupported pinUvAuthProtocol ${protocol}`);
    }
  }

  #int(params: CborMap, key: number): number | undefined {
    const v = params.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) {
      throw err(CTAP_STATUS.CBOR_UNEXPECTED_TYPE, `Parameter ${key} must be an integer`);
    }
    return v;
  }

  #bytes(params: CborMap, key: number): Uint8Array | undefined {
    const v = params.get(key);
    if (v === undefined) return undefined;
    if (!(v instanceof Uint8Array)) {
      throw err(CTAP_STATUS.CBOR_UNEXPECTED_TYPE, `Parameter ${key} must be a byte string`);
    }
    return v;
  }

  #text(params: CborMap, key: number): string | undefined {
    const v = params.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      throw err(CTAP_STATUS.CBOR_UNEXPECTED_TYPE, `Parameter ${key} must be a text string`);
    }
    return v;
  }

  #map(params: CborMap, key: number): CborMap | undefined {
    const v = params.get(key);
    if (v === undefined) return undefined;
    if (!(v instanceof Map)) {
      throw err(CTAP_STATUS.CBOR_UNEXPECTED_TYPE, `Parameter ${key} must be a map`);
    }
    return v;
  }
}

const V1 = new PinProtocolV1();
const V2 = new PinProtocolV2();
