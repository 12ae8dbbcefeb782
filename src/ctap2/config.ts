/**
 * authenticatorConfig (CTAP 2.3 §6.11): enterprise attestation, alwaysUv, minimum PIN length.
 * @module
 */
import { type CborMap, encode } from "../cbor.ts";
import { assertCtap2, type CallOptions, CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { concat } from "../utils.ts";
import type { Ctap2, PinAuth } from "./base.ts";
import type { Info } from "./info.ts";

/** Options of {@linkcode Config.setMinPinLength}. */
export interface SetMinPinLengthOptions {
  /** New minimum PIN length (may only grow). */
  readonly minPinLength?: number;
  /** RP IDs allowed to read the minimum PIN length (minPinLength extension). */
  readonly rpIds?: readonly string[];
  /** Require a PIN change before the next use. */
  readonly forceChangePin?: boolean;
  /** Turn on the PIN complexity policy (CTAP 2.3). */
  readonly pinComplexityPolicy?: boolean;
}

/** Authenticator configuration with a pinUvAuthToken carrying the `acfg` permission. */
export class Config {
  /** Sub-commands. */
  static readonly CMD = {
    ENABLE_ENTERPRISE_ATT: 0x01,
    TOGGLE_ALWAYS_UV: 0x02,
    SET_MIN_PIN_LENGTH: 0x03,
    VENDOR_PROTOTYPE: 0xff,
  } as const;
  /** setMinPINLength parameter keys. */
  static readonly PARAM = {
    NEW_MIN_PIN_LENGTH: 0x01,
    MIN_PIN_LENGTH_RPIDS: 0x02,
    FORCE_CHANGE_PIN: 0x03,
    PIN_COMPLEXITY_POLICY: 0x04,
  } as const;

  /** Protocol and token may be omitted on an authenticator without a PIN. */
  constructor(
    readonly ctap: Ctap2,
    readonly protocol?: PinAuth,
    readonly pinUvToken?: Uint8Array,
  ) {
    assertCtap2(ctap, "new Config(ctap)");
  }

  /** The authenticator supports authenticatorConfig. */
  static isSupported(info: Info): boolean {
    return info.options.authnrCfg === true;
  }

  async #call(
    subCmd: number,
    params?: Map<number, unknown>,
    opts?: CallOptions,
  ): Promise<CborMap> {
    const supported = this.ctap.info.authenticatorConfigCommands;
    if (supported !== undefined && !supported.includes(subCmd)) {
      throw new CtapError(
        CTAP_STATUS.INVALID_SUBCOMMAND,
        `authenticatorConfig sub-command 0x${subCmd.toString(16)} is not supported`,
      );
    }
    let pinUvAuthParam: Uint8Array | undefined;
    if (this.protocol && this.pinUvToken) {
      // 32×0xff ‖ 0x0d ‖ subCommand ‖ cbor(subCommandParams)
      const message = concat(
        new Uint8Array(32).fill(0xff),
        new Uint8Array([0x0d, subCmd]),
        params === undefined ? new Uint8Array(0) : encode(params),
      );
      pinUvAuthParam = await this.protocol.authenticate(this.pinUvToken, message);
    }
    return await this.ctap.config(subCmd, params, this.protocol?.version, pinUvAuthParam, opts);
  }

  /**
   * Refuses a sub-command whose getInfo option is absent: CTAP 2.1 §6.11 ties
   * enableEnterpriseAttestation to `ep`, toggleAlwaysUv to `alwaysUv` and setMinPINLength to
   * `setMinPINLength`, and an absent option means the feature does not exist.
   */
  #requireOption(option: string, what: string): void {
    if (!(option in this.ctap.info.options)) {
      throw new CtapError(
        CTAP_STATUS.INVALID_SUBCOMMAND,
        `Authenticator does not support ${what} (getInfo has no ${option} option)`,
      );
    }
  }

  /** Allows makeCredential to request enterprise attestation (needs the `ep` option). */
  async enableEnterpriseAttestation(opts?: CallOptions): Promise<void> {
    this.#requireOption("ep", "enterprise attestation");
    await this.#call(Config.CMD.ENABLE_ENTERPRISE_ATT, undefined, opts);
  }

  /** Toggles the alwaysUv option (needs the `alwaysUv` option in getInfo). */
  async toggleAlwaysUv(opts?: CallOptions): Promise<void> {
    this.#requireOption("alwaysUv", "alwaysUv");
    await this.#call(Config.CMD.TOGGLE_ALWAYS_UV, undefined, opts);
  }

  /** Raises the minimum PIN length, sets the RP IDs allowed to read it, forces a PIN change. */
  async setMinPinLength(o: SetMinPinLengthOptions = {}, opts?: CallOptions): Promise<void> {
    this.#requireOption("setMinPINLength", "setMinPINLength");
    const P = Config.PARAM;
    const params = new Map<number, unknown>();
    if (o.minPinLength !== undefined) {
      if (!Number.isInteger(o.minPinLength) || o.minPinLength < 0) {
        throw new FormatError("minPinLength must be a non-negative integer");
      }
      params.set(P.NEW_MIN_PIN_LENGTH, o.minPinLength);
    }
    if (o.rpIds !== undefined) params.set(P.MIN_PIN_LENGTH_RPIDS, [...o.rpIds]);
    params.set(P.FORCE_CHANGE_PIN, o.forceChangePin ?? false);
    if (o.pinComplexityPolicy) {
      if (this.ctap.info.pinComplexityPolicy === undefined) {
        throw new CtapError(
          CTAP_STATUS.INVALID_OPTION,
          "Authenticator does not support a PIN complexity policy",
        );
      }
      params.set(P.PIN_COMPLEXITY_POLICY, true);
    }
    await this.#call(Config.CMD.SET_MIN_PIN_LENGTH, params, opts);
  }
}
