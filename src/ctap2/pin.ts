/**
 * authenticatorClientPIN from the platform side: setting and changing the PIN, reading
 * retry counters, and obtaining pinUvAuthTokens (CTAP 2.1 §6.5.5).
 * @module
 */
import { CLIENT_PIN_SUB } from "./constants.ts";
import type { CborMap } from "../cbor.ts";
import { assertCtap2, type CallOptions, CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError, UnsupportedAlgorithmError } from "../errors.ts";
import { concat, sha256 } from "../utils.ts";
import { PinProtocolV1, PinProtocolV2, type PinUvAuthProtocol } from "./pin_protocol.ts";

/** The slice of the CTAP2 command layer ClientPin needs (the `Ctap2` class satisfies it). */
export interface ClientPinCtap {
  /** Sends one CTAP2 command with a CBOR parameter map. */
  sendCbor(
    cmd: number,
    args: Map<number, unknown>,
    opts?: CallOptions,
  ): Promise<CborMap | undefined>;
  /** The parts of getInfo that decide protocol and PIN policy. */
  readonly info: {
    readonly pinUvProtocols: readonly number[];
    /** getInfo minPINLength (0x0D): new PINs shorter than this are refused locally. */
    readonly minPinLength?: number;
    /** getInfo maxPinLength (0x1D, CTAP 2.3): longer new PINs are refused locally. */
    readonly maxPinLength?: number;
    /** getInfo options; only `pinUvAuthToken: true` allows the permission subcommands. */
    readonly options?: { readonly [name: string]: boolean | undefined };
  };
}

/** The getInfo members {@linkcode ClientPin.isSupported} and its siblings read. */
export interface PinInfo {
  /** getInfo options: an absent option means the feature is not supported (CTAP 2.1 §6.4). */
  readonly options?: { readonly [name: string]: boolean | undefined };
}

/** A PIN the spec forbids (too short, too long, not a string): refused before it is sent. */
export class PinPolicyError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "PinPolicyError";
  /** `message` says which rule the PIN broke. */
  constructor(message: string) {
    super(message);
  }
}

const CMD_CLIENT_PIN = 0x06;
const SUB = CLIENT_PIN_SUB;
const MIN_PIN_CODE_POINTS = 4;
const MAX_PIN_BYTES = 63;

/**
 * Checks and encodes a PIN: NFC-normalised UTF-8, at least `minLength` code points (never
 * fewer than 4), at most `maxLength` code points (getInfo maxPinLength, CTAP 2.3) and 63
 * bytes, no NUL (it would be eaten by the zero padding).
 */
export function encodePin(
  pin: string,
  minLength = MIN_PIN_CODE_POINTS,
  maxLength = MAX_PIN_BYTES,
): Uint8Array {
  if (typeof pin !== "string") throw new PinPolicyError("PIN must be a string");
  const normalized = pin.normalize("NFC");
  const min = Math.max(MIN_PIN_CODE_POINTS, minLength);
  const length = [...normalized].length;
  if (length < min) {
    throw new PinPolicyError(`PIN must be at least ${min} characters`);
  }
  if (length > maxLength) {
    throw new PinPolicyError(`PIN must be at most ${maxLength} characters for this key`);
  }
  if (normalized.includes("\u0000")) throw new PinPolicyError("PIN must not contain NUL");
  const bytes = new TextEncoder().encode(normalized);
  if (bytes.length > MAX_PIN_BYTES) {
    throw new PinPolicyError(`PIN must be at most ${MAX_PIN_BYTES} bytes in UTF-8`);
  }
  return bytes;
}

/** LEFT(SHA-256(pin), 16), what pinHashEnc carries. */
function pinHash(pin: Uint8Array): Uint8Array {
  return sha256(pin).slice(0, 16);
}

/** newPin zero-padded to exactly 64 bytes, as authenticators require. */
function padPin(pin: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(pin);
  return out;
}

/** Platform side of authenticatorClientPIN over a CTAP2 session. */
export class ClientPin {
  /** pinUvAuthToken permission bits (CTAP 2.1 §6.5.5.7). */
  static readonly PERMISSION = {
    MAKE_CREDENTIAL: 0x01,
    GET_ASSERTION: 0x02,
    CREDENTIAL_MGMT: 0x04,
    BIO_ENROLL: 0x08,
    LARGE_BLOB_WRITE: 0x10,
    AUTHENTICATOR_CFG: 0x20,
    PERSISTENT_CREDENTIAL_MGMT: 0x40,
  } as const;

  /**
   * Whether the authenticator implements clientPIN at all: the `clientPin` option is present
   * (true = a PIN is set, false = none yet). Like python-fido2, absent means no PIN support.
   */
  static isSupported(info: PinInfo): boolean {
    return info.options !== undefined && info.options.clientPin !== undefined;
  }

  /**
   * Whether the authenticator issues permission-scoped tokens (subcommands 0x06 and 0x09):
   * only when getInfo says `pinUvAuthToken: true`. CTAP 2.0 and 2.1-PRE keys leave the option
   * out and answer 0x09 with an error (Solo 1 and Nitrokey FIDO2: CTAP1_ERR_OTHER, 0x7F).
   */
  static isTokenSupported(info: PinInfo): boolean {
    return info.options?.pinUvAuthToken === true;
  }

  /** The protocol in use: the one given, else the first of v2, v1 the authenticator lists. */
  readonly protocol: PinUvAuthProtocol;
  readonly #ctap: ClientPinCtap;

  /** Without `protocol`, throws UnsupportedAlgorithmError when the key offers neither 1 nor 2. */
  constructor(ctap: ClientPinCtap, protocol?: PinUvAuthProtocol) {
    assertCtap2(ctap, "new ClientPin(ctap)");
    this.#ctap = ctap;
    const offered = ctap.info.pinUvProtocols;
    if (protocol) {
      this.protocol = protocol;
    } else if (offered.includes(2)) {
      this.protocol = new PinProtocolV2();
    } else if (offered.includes(1)) {
      this.protocol = new PinProtocolV1();
    } else {
      throw new UnsupportedAlgorithmError(
        `No compatible PIN/UV auth protocol (authenticator offers ${JSON.stringify(offered)})`,
      );
    }
  }

  async #call(
    sub: number,
    params: [number, unknown][],
    opts?: CallOptions,
  ): Promise<Map<number, unknown>> {
    const args = new Map<number, unknown>([[1, this.protocol.version], [2, sub], ...params]);
    return (await this.#ctap.sendCbor(CMD_CLIENT_PIN, args, opts)) ?? new Map();
  }

  /** getKeyAgreement + encapsulate: a fresh shared secret (also used by hmac-secret). */
  async getSharedSecret(
    opts?: CallOptions,
  ): Promise<{ keyAgreement: CborMap; sharedSecret: Uint8Array }> {
    const resp = await this.#call(SUB.GET_KEY_AGREEMENT, [], opts);
    const peer = resp.get(1);
    if (!(peer instanceof Map)) {
      throw new FormatError("getKeyAgreement response lacks a keyAgreement COSE key");
    }
    return await this.protocol.encapsulate(peer as CborMap);
  }

  async #decryptToken(sharedSecret: Uint8Array, resp: Map<number, unknown>): Promise<Uint8Array> {
    const enc = resp.get(2);
    if (!(enc instanceof Uint8Array)) {
      throw new FormatError("ClientPIN response lacks pinUvAuthToken");
    }
    return this.protocol.validateToken(await this.protocol.decrypt(sharedSecret, enc));
  }

  /**
   * A pinUvAuthToken from the PIN. With `permissions` and an authenticator that reports
   * `pinUvAuthToken: true` it is scoped to them and to `rpId` (subcommand 0x09); otherwise
   * the legacy getPinToken (0x05) is used and `permissions`/`rpId` are dropped, as in
   * python-fido2 and libfido2: a CTAP 2.0/2.1-PRE token already carries every right.
   */
  async getPinToken(
    pin: string,
    permissions?: number,
    rpId?: string,
    opts?: CallOptions,
  ): Promise<Uint8Array> {
    const pinBytes = encodePin(pin);
    const { keyAgreement, sharedSecret } = await this.getSharedSecret(opts);
    const pinHashEnc = await this.protocol.encrypt(sharedSecret, pinHash(pinBytes));
    const params: [number, unknown][] = [[3, keyAgreement], [6, pinHashEnc]];
    let sub: number = SUB.GET_PIN_TOKEN;
    if (
      permissions !== undefined && permissions !== 0 && ClientPin.isTokenSupported(this.#ctap.info)
    ) {
      sub = SUB.GET_TOKEN_USING_PIN;
      params.push([9, permissions]);
      if (rpId !== undefined) params.push([10, rpId]);
    }
    const resp = await this.#call(sub, params, opts);
    return await this.#decryptToken(sharedSecret, resp);
  }

  /**
   * A pinUvAuthToken from built-in user verification (e.g. a fingerprint). Only keys that
   * report `pinUvAuthToken: true` have subcommand 0x06; others fail with
   * `CtapError(INVALID_SUBCOMMAND)` before anything is sent (a CTAP 2.0 key verifies with
   * the `uv` option of makeCredential/getAssertion instead).
   */
  async getUvToken(permissions?: number, rpId?: string, opts?: CallOptions): Promise<Uint8Array> {
    if (!ClientPin.isTokenSupported(this.#ctap.info)) {
      throw new CtapError(
        CTAP_STATUS.INVALID_SUBCOMMAND,
        "Authenticator does not issue UV tokens (getInfo has no pinUvAuthToken option); " +
          "use the uv option of makeCredential/getAssertion",
      );
    }
    const { keyAgreement, sharedSecret } = await this.getSharedSecret(opts);
    const params: [number, unknown][] = [[3, keyAgreement]];
    if (permissions !== undefined) params.push([9, permissions]);
    if (rpId !== undefined) params.push([10, rpId]);
    const resp = await this.#call(SUB.GET_TOKEN_USING_UV, params, opts);
    return await this.#decryptToken(sharedSecret, resp);
  }

  /** Remaining PIN attempts, and whether a power cycle is needed before the next one. */
  async getPinRetries(
    opts?: CallOptions,
  ): Promise<{ retries: number; powerCycleState?: boolean }> {
    const resp = await this.#call(SUB.GET_PIN_RETRIES, [], opts);
    const retries = resp.get(3);
    if (typeof retries !== "number") throw new FormatError("getPinRetries lacks pinRetries");
    const state = resp.get(4);
    if (state !== undefined && typeof state !== "boolean") {
      throw new FormatError("getPinRetries powerCycleState must be a boolean");
    }
    return state === undefined ? { retries } : { retries, powerCycleState: state };
  }

  /** Remaining built-in UV attempts. */
  async getUvRetries(opts?: CallOptions): Promise<number> {
    const resp = await this.#call(SUB.GET_UV_RETRIES, [], opts);
    const retries = resp.get(5);
    if (typeof retries !== "number") throw new FormatError("getUVRetries lacks uvRetries");
    return retries;
  }

  /** Sets the first PIN of an authenticator that has none. */
  async setPin(pin: string, opts?: CallOptions): Promise<void> {
    const pinBytes = encodePin(pin, this.#ctap.info.minPinLength, this.#ctap.info.maxPinLength);
    const { keyAgreement, sharedSecret } = await this.getSharedSecret(opts);
    const newPinEnc = await this.protocol.encrypt(sharedSecret, padPin(pinBytes));
    const param = await this.protocol.authenticate(sharedSecret, newPinEnc);
    await this.#call(SUB.SET_PIN, [[3, keyAgreement], [4, param], [5, newPinEnc]], opts);
  }

  /** Replaces the PIN (also the way out of forcePINChange). */
  async changePin(oldPin: string, newPin: string, opts?: CallOptions): Promise<void> {
    const oldBytes = encodePin(oldPin);
    const newBytes = encodePin(
      newPin,
      this.#ctap.info.minPinLength,
      this.#ctap.info.maxPinLength,
    );
    const { keyAgreement, sharedSecret } = await this.getSharedSecret(opts);
    const pinHashEnc = await this.protocol.encrypt(sharedSecret, pinHash(oldBytes));
    const newPinEnc = await this.protocol.encrypt(sharedSecret, padPin(newBytes));
    const param = await this.protocol.authenticate(sharedSecret, concat(newPinEnc, pinHashEnc));
    await this.#call(
      SUB.CHANGE_PIN,
      [[3, keyAgreement], [4, param], [5, newPinEnc], [6, pinHashEnc]],
      opts,
    );
  }
}
