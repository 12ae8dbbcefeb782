/**
 * authenticatorConfig (CTAP 2.1 §6.11) for the VirtualAuthenticator: enable enterprise
 * attestation, toggle alwaysUv and raise the minimum PIN length (with the RP IDs allowed to
 * read it and a forced PIN change), authorized with the `acfg` permission once the key is
 * protected by a PIN or built-in UV.
 * @module
 */
import { type CborMap, encode } from "../cbor.ts";
import { CtapError } from "../ctap.ts";
import { concat } from "../utils.ts";
import type { CommandHandler, CtapAuthenticator } from "./authenticator.ts";
import { checkAuthParam } from "./auth_param.ts";
import { optional, required } from "./params.ts";
import { PERMISSION, type PinUvAuthApi, type RequestContext } from "./types.ts";

const SUB = {
  ENABLE_ENTERPRISE_ATTESTATION: 0x01,
  TOGGLE_ALWAYS_UV: 0x02,
  SET_MIN_PIN_LENGTH: 0x03,
} as const;

/** Construction options of {@linkcode ConfigHandler}. */
export interface ConfigOptions {
  /** The authenticator whose alwaysUv, ep and minPinLength RP IDs change. */
  readonly authenticator: CtapAuthenticator;
  /** The PIN/UV state: verifies pinUvAuthParams and keeps the minimum PIN length. */
  readonly pinUvAuth?: PinUvAuthApi;
  /** Whether the key is protected by user verification (PIN set or built-in UV). */
  readonly protectedByUv: () => boolean;
  /** Offer enterprise attestation (getInfo `ep`, default true). */
  readonly enterpriseAttestation?: boolean;
  /** Offer toggleAlwaysUv (default true; without it the subcommand is INVALID_SUBCOMMAND). */
  readonly toggleAlwaysUv?: boolean;
}

/** The authenticatorConfig command handler (register for 0x0D). */
export class ConfigHandler implements CommandHandler {
  readonly #auth: CtapAuthenticator;
  readonly #pin?: PinUvAuthApi;
  readonly #protectedByUv: () => boolean;
  readonly #ep: boolean;
  readonly #toggle: boolean;

  /** Changes settings of `options.authenticator`, authorised through `options.pinUvAuth`. */
  constructor(options: ConfigOptions) {
    this.#auth = options.authenticator;
    this.#pin = options.pinUvAuth;
    this.#protectedByUv = options.protectedByUv;
    this.#ep = options.enterpriseAttestation ?? true;
    this.#toggle = options.toggleAlwaysUv ?? true;
  }

  /** authnrCfg, setMinPINLength (with a PIN/UV state) and ep (when offered). */
  get infoOptions(): Readonly<Record<string, boolean>> {
    return {
      authnrCfg: true,
      ...(this.#pin ? { setMinPINLength: true } : {}),
      ...(this.#ep ? { ep: this.#auth.enterpriseAttestation } : {}),
    };
  }

  // deno-lint-ignore require-await
  async handle(params: CborMap | undefined, _ctx: RequestContext): Promise<CborMap | undefined> {
    if (!params) throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "Missing parameters");
    const sub = required(params, 1, "uint");
    const subParams = optional(params, 2, "map");
    const protocol = optional(params, 3, "uint");
    const param = optional(params, 4, "bytes");
    const supported = sub === SUB.ENABLE_ENTERPRISE_ATTESTATION
      ? this.#ep
      : sub === SUB.TOGGLE_ALWAYS_UV
      ? this.#toggle
      : sub === SUB.SET_MIN_PIN_LENGTH
      ? this.#pin !== undefined
      : false;
    if (!supported) throw new CtapError(CtapError.ERR.INVALID_SUBCOMMAND);
    if (this.#protectedByUv() || param !== undefined) {
      // 32×0xff ‖ 0x0d ‖ uint8(subCommand) ‖ subCommandParams
      const message = concat(
        new Uint8Array(32).fill(0xff),
        new Uint8Array([0x0d, sub]),
        subParams === undefined ? new Uint8Array(0) : encode(subParams),
      );
      checkAuthParam(this.#pin, { protocol, param, message, permission: PERMISSION.ACFG });
    }
    switch (sub) {
      case SUB.ENABLE_ENTERPRISE_ATTESTATION:
        this.#auth.setEnterpriseAttestation(true);
        return undefined;
      case SUB.TOGGLE_ALWAYS_UV:
        this.#auth.setAlwaysUv(!this.#auth.alwaysUv);
        return undefined;
      default:
        this.#setMinPinLength(subParams ?? new Map());
        return undefined;
    }
  }

  #setMinPinLength(p: CborMap): void {
    const pin = this.#pin!;
    const length = optional(p, 1, "uint") ?? pin.minPinLength;
    const rpIdValues = optional(p, 2, "array");
    const force = optional(p, 3, "bool") ?? false;
    if (optional(p, 4, "bool") === true) {
      throw new CtapError(CtapError.ERR.INVALID_OPTION, "No PIN complexity policy");
    }
    const rpIds = rpIdValues?.map((v) => {
      if (typeof v !== "string") {
        throw new CtapError(CtapError.ERR.CBOR_UNEXPECTED_TYPE, "minPinLengthRPIDs entries");
      }
      return v;
    });
    if (rpIds && rpIds.length > this.#auth.maxRpIdsForSetMinPinLength) {
      throw new CtapError(CtapError.ERR.KEY_STORE_FULL, "Too many minPinLengthRPIDs");
    }
    // PIN_POLICY_VIOLATION (shorter) / PIN_NOT_SET (force without PIN) come from here.
    pin.setMinPinLength(length, force);
    if (rpIds) this.#auth.setMinPinLengthRpIds(rpIds);
  }
}
