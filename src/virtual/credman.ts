/**
 * authenticatorCredentialManagement (CTAP 2.1 §6.8, command 0x0A and the 0x41 prototype) for
 * the VirtualAuthenticator: lets a platform list, delete and rename discoverable credentials
 * with a pinUvAuthToken carrying the `cm` permission (or `pcmr` for the read-only calls).
 * @module
 */
import { CREDENTIAL_MGMT_SUB } from "../ctap2/constants.ts";
import { type CborMap, type CborValue, encode } from "../cbor.ts";
import { CtapError } from "../ctap.ts";
import { bytesEqual, concat, sha256, utf8Encode } from "../utils.ts";
import type { CommandHandler } from "./authenticator.ts";
import { checkAuthParam } from "./auth_param.ts";
import type { CredentialStore } from "./credential_store.ts";
import { asParamMap, descriptor, optional, required } from "./params.ts";
import {
  PERMISSION,
  type PinUvAuthApi,
  type RequestContext,
  type StoredCredential,
} from "./types.ts";

const SUB = CREDENTIAL_MGMT_SUB;

/** Construction options of {@linkcode CredentialManagementHandler}. */
export interface CredentialManagementOptions {
  /** The authenticator's credential store. */
  readonly store: CredentialStore;
  /** The PIN/UV state that verifies pinUvAuthParams. */
  readonly pinUvAuth: PinUvAuthApi;
  /** Discoverable credential slots (for maxPossibleRemainingResidentCredentialsCount). */
  readonly rkCapacity: number;
  /** Offer the read-only `pcmr` permission (getInfo perCredMgmtRO, default true). */
  readonly readOnlyPermission?: boolean;
  /** Clock in ms (default `Date.now`), for the 30 s life of enumeration state. */
  readonly now?: () => number;
  /**
   * "final" (default): credMgmt and credentialMgmtPreview, every subcommand. "preview": a
   * 2.1-PRE key, credentialMgmtPreview only and no updateUserInformation.
   */
  readonly mode?: "final" | "preview";
  /** Status for an unknown subcommand (default CTAP2_ERR_INVALID_SUBCOMMAND). */
  readonly unknownSubcommandStatus?: number;
  /** Quirk: enumerateRPs reports the first credential's user name as the RP name. */
  readonly rpNameIsUserName?: boolean;
  /** Quirk (Solo 1): a "preview" handler that reports `credMgmt` instead. */
  readonly finalOptionName?: boolean;
}

interface Enumeration {
  readonly kind: "rps" | "creds";
  readonly items: CborMap[];
  next: number;
  lastCall: number;
}

const ENUMERATION_TIMEOUT_MS = 30_000;

/** The credential management command handler (register for 0x0A and 0x41). */
export class CredentialManagementHandler implements CommandHandler {
  readonly #store: CredentialStore;
  readonly #pin: PinUvAuthApi;
  readonly #rkCapacity: number;
  readonly #readOnly: boolean;
  readonly #now: () => number;
  readonly #preview: boolean;
  readonly #unknownSubcommand: number;
  readonly #rpNameIsUserName: boolean;
  readonly #finalOptionName: boolean;
  #enumeration?: Enumeration;

  /** Manages the credentials of `options.store`, authorised through `options.pinUvAuth`. */
  constructor(options: CredentialManagementOptions) {
    this.#store = options.store;
    this.#pin = options.pinUvAuth;
    this.#rkCapacity = options.rkCapacity;
    this.#readOnly = options.readOnlyPermission ?? true;
    this.#now = options.now ?? Date.now;
    this.#preview = options.mode === "preview";
    this.#unknownSubcommand = options.unknownSubcommandStatus ?? CtapError.ERR.INVALID_SUBCOMMAND;
    this.#rpNameIsUserName = options.rpNameIsUserName ?? false;
    this.#finalOptionName = options.finalOptionName ?? false;
  }

  /** credMgmt (2.1), credentialMgmtPreview (the prototype) and perCredMgmtRO. */
  get infoOptions(): Readonly<Record<string, boolean>> {
    if (this.#preview) {
      return this.#finalOptionName ? { credMgmt: true } : { credentialMgmtPreview: true };
    }
    return {
      credMgmt: true,
      credentialMgmtPreview: true,
      ...(this.#readOnly ? { perCredMgmtRO: true } : {}),
    };
  }

  /** Enumeration state ends when another command arrives. */
  interrupt(): void {
    this.#enumeration = undefined;
  }

  /** Enumeration state ends with a reset. */
  reset(): void {
    this.#enumeration = undefined;
  }

  // deno-lint-ignore require-await
  async handle(params: CborMap | undefined, _ctx: RequestContext): Promise<CborMap | undefined> {
    if (!params) throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "Missing parameters");
    const sub = required(params, 1, "uint");
    const subParams = optional(params, 2, "map");
    const protocol = optional(params, 3, "uint");
    const param = optional(params, 4, "bytes");
    if (sub !== SUB.ENUMERATE_RPS_NEXT && sub !== SUB.ENUMERATE_CREDS_NEXT) {
      this.#enumeration = undefined;
    }
    const auth = (permission: "read" | "write", rpId?: string) => {
      const message = subParams === undefined
        ? new Uint8Array([sub])
        : concat(new Uint8Array([sub]), encode(subParams));
      const check = (p: number) =>
        checkAuthParam(this.#pin, { protocol, param, message, permission: p, rpId });
      if (permission === "write" || !this.#readOnly) return check(PERMISSION.CM);
      try {
        check(PERMISSION.CM);
      } catch (e) {
        if (!(e instanceof CtapError) || e.code !== CtapError.ERR.PIN_AUTH_INVALID) throw e;
        check(PERMISSION.PCMR);
      }
    };
    switch (sub) {
      case SUB.GET_CREDS_METADATA: {
        auth("read");
        return new Map<number, CborValue>([
          [1, this.#store.size],
          [2, Math.max(0, this.#rkCapacity - this.#store.size)],
        ]);
      }
      case SUB.ENUMERATE_RPS_BEGIN: {
        auth("read");
        const rps = new Map<string, StoredCredential>();
        for (const c of this.#store.all()) if (!rps.has(c.rpId)) rps.set(c.rpId, c);
        if (rps.size === 0) {
          // CTAP 2.1 says NO_CREDENTIALS; the recorded 2.1-PRE YubiKey 5 answers {totalRPs: 0}
          // (webauthn-rs credential_management.rs, tests/conformance.test.ts). What Solo 1
          // firmware (the credMgmtOnPre quirk) answers is not recorded: it keeps the spec's.
          if (this.#preview && !this.#finalOptionName) return new Map([[5, 0]]);
          throw new CtapError(CtapError.ERR.NO_CREDENTIALS);
        }
        const items = [...rps.values()].map((c) => {
          const name = this.#rpNameIsUserName ? c.user.name : c.rpName;
          return new Map<number, CborValue>([
            [3, name === undefined ? { id: c.rpId } : { id: c.rpId, name }],
            [4, sha256(utf8Encode(c.rpId))],
          ]);
        });
        return this.#begin("rps", items, 5);
      }
      case SUB.ENUMERATE_CREDS_BEGIN: {
        const sp = subParams ?? missing("subCommandParams");
        const rpIdHash = required(sp, 1, "bytes");
        const creds = this.#store.all().filter((c) =>
          bytesEqual(sha256(utf8Encode(c.rpId)), rpIdHash)
        );
        auth("read", creds[0]?.rpId);
        if (creds.length === 0) throw new CtapError(CtapError.ERR.NO_CREDENTIALS);
        return this.#begin("creds", creds.map(credentialEntry), 9);
      }
      case SUB.ENUMERATE_RPS_NEXT:
        return this.#next("rps");
      case SUB.ENUMERATE_CREDS_NEXT:
        return this.#next("creds");
      case SUB.DELETE_CREDENTIAL: {
        const sp = subParams ?? missing("subCommandParams");
        const cred = this.#find(sp);
        auth("write", cred?.rpId);
        if (!cred) throw new CtapError(CtapError.ERR.NO_CREDENTIALS);
        this.#store.delete(cred.id);
        return undefined;
      }
      case SUB.UPDATE_USER_INFO: {
        // The 2.1-PRE prototype had no updateUserInformation.
        if (this.#preview) throw new CtapError(this.#unknownSubcommand);
        const sp = subParams ?? missing("subCommandParams");
        const cred = this.#find(sp);
        const user = asParamMap(required(sp, 3, "map"), "user");
        const userId = required(user, "id", "bytes");
        const name = optional(user, "name", "text");
        const displayName = optional(user, "displayName", "text");
        auth("write", cred?.rpId);
        if (!cred) throw new CtapError(CtapError.ERR.NO_CREDENTIALS);
        if (!bytesEqual(userId, cred.user.id)) {
          throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "user.id does not match");
        }
        // Absent or empty fields are removed (CTAP 2.1 §6.8.6).
        cred.user = {
          id: cred.user.id,
          ...(name ? { name } : {}),
          ...(displayName ? { displayName } : {}),
        };
        return undefined;
      }
      default:
        throw new CtapError(this.#unknownSubcommand);
    }
  }

  #find(subParams: CborMap): StoredCredential | undefined {
    const d = descriptor(required(subParams, 2, "map"));
    return this.#store.all().find((c) => bytesEqual(c.id, d.id));
  }

  #begin(kind: Enumeration["kind"], items: CborMap[], totalKey: number): CborMap {
    const first = items[0];
    first.set(totalKey, items.length);
    if (items.length > 1) {
      this.#enumeration = { kind, items, next: 1, lastCall: this.#now() };
    }
    return first;
  }

  #next(kind: Enumeration["kind"]): CborMap {
    const e = this.#enumeration;
    if (
      !e || e.kind !== kind || e.next >= e.items.length ||
      this.#now() - e.lastCall > ENUMERATION_TIMEOUT_MS
    ) {
      this.#enumeration = undefined;
      throw new CtapError(CtapError.ERR.NOT_ALLOWED, "No enumeration to continue");
    }
    e.lastCall = this.#now();
    const item = e.items[e.next++];
    if (e.next >= e.items.length) this.#enumeration = undefined;
    return item;
  }
}

function credentialEntry(c: StoredCredential): CborMap {
  const user: Record<string, CborValue> = { id: c.user.id };
  if (c.user.name !== undefined) user.name = c.user.name;
  if (c.user.displayName !== undefined) user.displayName = c.user.displayName;
  const m = new Map<number, CborValue>([
    [6, user],
    [7, { id: c.id, type: "public-key" }],
    [8, c.publicKey],
    [10, c.credProtect],
  ]);
  if (c.largeBlobKey) m.set(11, c.largeBlobKey);
  if (c.thirdPartyPayment !== undefined) m.set(12, c.thirdPartyPayment);
  return m;
}

function missing(what: string): never {
  throw new CtapError(CtapError.ERR.MISSING_PARAMETER, `Missing ${what}`);
}
