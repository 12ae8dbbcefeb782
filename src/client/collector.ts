/**
 * Client data collection: turns creation/request options into the `CollectedClientData` an
 * authenticator signs, and decides the RP ID, refusing RP IDs the origin may not use. Apps
 * that are not browsers (native apps with an associated domain, tests) supply the origin;
 * a custom `verify` can implement related-origin requests or platform app links.
 * @module
 */
import { rpIdToAscii, verifyRpId } from "../rpid.ts";
import { CollectedClientData } from "../webauthn/clientdata.ts";
import {
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
} from "../webauthn/options.ts";
import { ClientError } from "./errors.ts";

/** What a collector produces for one operation. */
export interface CollectedData {
  /** The client data the authenticator's signature will cover. */
  readonly clientData: CollectedClientData;
  /** The RP ID to send to the authenticator (its SHA-256 is the rpIdHash). */
  readonly rpId: string;
}

/** Supplies client data and the RP ID for an operation; a `ClientError` refuses it. */
export interface ClientDataCollector {
  /** Called once per operation, before any authenticator is contacted. */
  collectClientData(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
  ): Promise<CollectedData>;
}

/** Decides whether `origin` may use `rpId`; may be async (e.g. fetches /.well-known/webauthn). */
export type RpIdVerifier = (rpId: string, origin: string) => boolean | Promise<boolean>;

/** Answers of the default check (per origin, per RP ID): it depends on nothing else. */
const verified = new Map<string, Map<string, boolean>>();

/**
 * {@linkcode verifyRpId}, remembered: it parses the origin and the RP ID as URLs and may
 * consult the public suffix list, several microseconds that every operation of a client
 * would otherwise repeat for the same pair.
 */
function verifiedBefore(rpId: string, origin: string): boolean {
  if (typeof rpId !== "string" || typeof origin !== "string") return verifyRpId(rpId, origin);
  let answers = verified.get(origin);
  if (!answers) {
    if (verified.size >= 16) verified.clear();
    verified.set(origin, answers = new Map());
  }
  let allowed = answers.get(rpId);
  if (allowed === undefined) {
    allowed = verifyRpId(rpId, origin);
    if (answers.size >= 256) answers.clear();
    answers.set(rpId, allowed);
  }
  return allowed;
}

/**
 * The standard collector for a fixed origin: type "webauthn.create" for creation options,
 * "webauthn.get" for request options; the RP ID is the options' (rp.id / rpId) or the
 * origin's host, and must pass `verify` (by default {@linkcode verifyRpId}).
 */
export class DefaultClientDataCollector implements ClientDataCollector {
  readonly #verify: RpIdVerifier;

  /** `origin` is the caller's origin (e.g. "https://example.com"); `verify` vets RP IDs for it. */
  constructor(readonly origin: string, verify: RpIdVerifier = verifyRpId) {
    if (typeof origin !== "string") throw new TypeError("origin must be a string");
    this.#verify = verify;
  }

  /** The RP ID the options ask for, or the origin's host (without port) when they name none. */
  getRpId(options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions): string {
    const given = options instanceof PublicKeyCredentialCreationOptions
      ? options.rp.id
      : options.rpId;
    if (given !== undefined) return given;
    let host: string;
    try {
      host = new URL(this.origin).hostname;
    } catch (e) {
      throw new ClientError(ClientError.ERR.BAD_REQUEST, `Invalid origin ${this.origin}`, {
        cause: e,
      });
    }
    if (!host) throw new ClientError(ClientError.ERR.BAD_REQUEST, `Origin has no host`);
    return host.startsWith("[") ? host.slice(1, -1) : host;
  }

  /**
   * The client data type for `options`: "webauthn.create" or "webauthn.get" (python-fido2's
   * overridable `get_request_type`).
   */
  getRequestType(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
  ): string {
    if (options instanceof PublicKeyCredentialCreationOptions) {
      return CollectedClientData.TYPE.CREATE;
    }
    if (options instanceof PublicKeyCredentialRequestOptions) return CollectedClientData.TYPE.GET;
    throw new ClientError(
      ClientError.ERR.BAD_REQUEST,
      "Options must be PublicKeyCredentialCreationOptions or PublicKeyCredentialRequestOptions",
    );
  }

  /**
   * Refuses an RP ID the origin may not use with a BAD_REQUEST `ClientError` (python-fido2's
   * overridable `verify_rp_id`); by default asks the `verify` function given at construction.
   */
  async verifyRpId(rpId: string, origin: string = this.origin): Promise<void> {
    let allowed: boolean;
    try {
      allowed = this.#verify === verifyRpId
        ? verifiedBefore(rpId, origin)
        : await this.#verify(rpId, origin);
    } catch (e) {
      throw new ClientError(ClientError.ERR.BAD_REQUEST, `RP ID check failed for ${rpId}`, {
        cause: e,
      });
    }
    if (allowed !== true) {
      throw new ClientError(
        ClientError.ERR.BAD_REQUEST,
        `RP ID ${JSON.stringify(rpId)} is not valid for origin ${origin}`,
      );
    }
  }

  /**
   * Builds the client data after checking the RP ID against the origin, through the
   * overridable `getRequestType`, `getRpId` and `verifyRpId` hooks.
   */
  async collectClientData(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
  ): Promise<CollectedData> {
    const type = this.getRequestType(options);
    // Internationalised RP IDs are checked, hashed and sent in their ASCII form.
    const rpId = rpIdToAscii(this.getRpId(options));
    await this.verifyRpId(rpId, this.origin);
    const clientData = CollectedClientData.create({
      type,
      challenge: options.challenge,
      origin: this.origin,
      crossOrigin: false,
    });
    return { clientData, rpId };
  }
}
