/**
 * authenticatorCredentialManagement (CTAP 2.3 §6.8): list and delete discoverable
 * credentials, update their user information.
 * @module
 */
import { CREDENTIAL_MGMT_SUB } from "./constants.ts";
import { type CborMap, type CborValue, encode } from "../cbor.ts";
import { assertCtap2, type CallOptions, CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { concat } from "../utils.ts";
import {
  type CredentialDescriptor,
  type Ctap2,
  parseDescriptor,
  parseUser,
  type PinAuth,
  type UserEntity,
} from "./base.ts";
import type { Info } from "./info.ts";
import { MAX_ENUMERATION } from "./constants.ts";

/** A relying party with discoverable credentials on the authenticator. */
export interface ManagedRp {
  /** The RP entity (`id` always present, `name` if stored). */
  readonly rp: { readonly id: string; readonly name?: string };
  /** SHA-256 of the RP ID, used to enumerate its credentials. */
  readonly rpIdHash: Uint8Array;
  /** The raw response map. */
  readonly raw: CborMap;
}

/** A discoverable credential as credential management reports it. */
export interface ManagedCredential {
  /** The account the credential belongs to. */
  readonly user: UserEntity;
  /** Descriptor to pass to deleteCredential / updateUserInformation. */
  readonly credentialId: CredentialDescriptor;
  /** The credential public key (COSE map). */
  readonly publicKey: CborMap;
  /** credProtect level (1-3), if reported. */
  readonly credProtect?: number;
  /** The credential's large-blob key, when it has one. */
  readonly largeBlobKey?: Uint8Array;
  /** Whether it was registered for payments (CTAP 2.2). */
  readonly thirdPartyPayment?: boolean;
  /** The raw response map. */
  readonly raw: CborMap;
}

/** Credential storage counters. */
export interface CredentialMetadata {
  /** Discoverable credentials stored on the key. */
  readonly existingResidentCredentialsCount: number;
  /** Upper bound on how many more can be stored. */
  readonly maxPossibleRemainingResidentCredentialsCount: number;
}

/** A total of an enumeration (totalRPs, totalCredentials), bounded by MAX_ENUMERATION. */
function count(m: CborMap, key: number, what: string): number {
  const n = m.has(key) ? uint(m, key, what) : 0;
  if (n > MAX_ENUMERATION) {
    throw new FormatError(`credentialManagement: ${what} must be at most ${MAX_ENUMERATION}`);
  }
  return n;
}

function uint(m: CborMap, key: number, what: string): number {
  const v = m.get(key);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new FormatError(`credentialManagement: ${what} must be an unsigned integer`);
  }
  return v;
}

/** Credential management with a pinUvAuthToken carrying the `cm` permission. */
export class CredentialManagement {
  /** Sub-commands. */
  static readonly CMD: typeof CREDENTIAL_MGMT_SUB = CREDENTIAL_MGMT_SUB;
  /** Sub-command parameter keys. */
  static readonly PARAM = { RP_ID_HASH: 0x01, CREDENTIAL_ID: 0x02, USER: 0x03 } as const;
  /** Response keys. */
  static readonly RESULT = {
    EXISTING_CRED_COUNT: 0x01,
    MAX_REMAINING_COUNT: 0x02,
    RP: 0x03,
    RP_ID_HASH: 0x04,
    TOTAL_RPS: 0x05,
    USER: 0x06,
    CREDENTIAL_ID: 0x07,
    PUBLIC_KEY: 0x08,
    TOTAL_CREDENTIALS: 0x09,
    CRED_PROTECT: 0x0a,
    LARGE_BLOB_KEY: 0x0b,
    THIRD_PARTY_PAYMENT: 0x0c,
  } as const;

  /** `pinUvToken` needs the credentialManagement permission. */
  constructor(
    readonly ctap: Ctap2,
    readonly protocol: PinAuth,
    readonly pinUvToken: Uint8Array,
  ) {
    assertCtap2(ctap, "new CredentialManagement(ctap)");
  }

  /**
   * The authenticator supports credential management: `credMgmt: true` (command 0x0A), or a
   * FIDO_2_1_PRE key with `credentialMgmtPreview: true` (prototype command 0x41).
   */
  static isSupported(info: Info): boolean {
    if (info.options.credMgmt === true) return true;
    return info.versions.includes("FIDO_2_1_PRE") && info.options.credentialMgmtPreview === true;
  }

  /** Only the prototype (0x41) is available: no updateUserInformation, no permissions. */
  static isPreview(info: Info): boolean {
    return info.options.credMgmt !== true && CredentialManagement.isSupported(info);
  }

  /** The authenticator supports updateUserInformation. */
  static isUpdateSupported(info: Info): boolean {
    return info.options.credMgmt === true;
  }

  /** The authenticator allows read-only management with a persistent token. */
  static isReadonlySupported(info: Info): boolean {
    return info.options.perCredMgmtRO === true;
  }

  /** Sends an authenticated sub-command: pinUvAuthParam over `subCmd ‖ cbor(params)`. */
  async #call(
    subCmd: number,
    params?: Map<number, unknown>,
    opts?: CallOptions,
  ): Promise<CborMap> {
    const message = params === undefined
      ? new Uint8Array([subCmd])
      : concat(new Uint8Array([subCmd]), encode(params));
    const pinUvAuthParam = await this.protocol.authenticate(this.pinUvToken, message);
    return await this.ctap.credentialManagement(
      subCmd,
      params,
      this.protocol.version,
      pinUvAuthParam,
      opts,
    );
  }

  /** Number of stored discoverable credentials and an estimate of how many more fit. */
  async getMetadata(opts?: CallOptions): Promise<CredentialMetadata> {
    const r = await this.#call(CredentialManagement.CMD.GET_CREDS_METADATA, undefined, opts);
    return {
      existingResidentCredentialsCount: uint(r, 1, "existingResidentCredentialsCount"),
      maxPossibleRemainingResidentCredentialsCount: uint(
        r,
        2,
        "maxPossibleRemainingResidentCredentialsCount",
      ),
    };
  }

  /** Every RP with discoverable credentials (none → empty list). */
  async enumerateRps(opts?: CallOptions): Promise<ManagedRp[]> {
    const CMD = CredentialManagement.CMD;
    let first: CborMap;
    try {
      first = await this.#call(CMD.ENUMERATE_RPS_BEGIN, undefined, opts);
    } catch (e) {
      if (e instanceof CtapError && e.code === CTAP_STATUS.NO_CREDENTIALS) return [];
      throw e;
    }
    const total = count(first, 5, "totalRPs");
    if (total === 0) return [];
    const out = [parseRp(first)];
    for (let i = 1; i < total; i++) {
      out.push(
        parseRp(
          await this.ctap.credentialManagement(
            CMD.ENUMERATE_RPS_NEXT,
            undefined,
            undefined,
            undefined,
            opts,
          ),
        ),
      );
    }
    return out;
  }

  /** Every discoverable credential of one RP (none → empty list). */
  async enumerateCreds(rpIdHash: Uint8Array, opts?: CallOptions): Promise<ManagedCredential[]> {
    if (!(rpIdHash instanceof Uint8Array) || rpIdHash.length !== 32) {
      throw new FormatError("rpIdHash must be 32 bytes");
    }
    const CMD = CredentialManagement.CMD;
    let first: CborMap;
    try {
      first = await this.#call(CMD.ENUMERATE_CREDS_BEGIN, new Map([[1, rpIdHash]]), opts);
    } catch (e) {
      if (e instanceof CtapError && e.code === CTAP_STATUS.NO_CREDENTIALS) return [];
      throw e;
    }
    const total = count(first, 9, "totalCredentials");
    if (total === 0) return [];
    const out = [parseCred(first)];
    for (let i = 1; i < total; i++) {
      out.push(
        parseCred(
          await this.ctap.credentialManagement(
            CMD.ENUMERATE_CREDS_NEXT,
            undefined,
            undefined,
            undefined,
            opts,
          ),
        ),
      );
    }
    return out;
  }

  /** Deletes one discoverable credential. */
  async deleteCred(credentialId: CredentialDescriptor, opts?: CallOptions): Promise<void> {
    await this.#call(
      CredentialManagement.CMD.DELETE_CREDENTIAL,
      new Map([[2, descriptorMap(credentialId)]]),
      opts,
    );
  }

  /** Replaces the stored user name / display name of a credential (same user id). */
  async updateUserInfo(
    credentialId: CredentialDescriptor,
    user: UserEntity,
    opts?: CallOptions,
  ): Promise<void> {
    if (!CredentialManagement.isUpdateSupported(this.ctap.info)) {
      throw new CtapError(
        CTAP_STATUS.INVALID_SUBCOMMAND,
        "Authenticator does not support updateUserInformation",
      );
    }
    const u: Record<string, unknown> = {
      id: user.id,
      name: user.name,
      displayName: user.displayName,
    };
    await this.#call(
      CredentialManagement.CMD.UPDATE_USER_INFO,
      new Map<number, unknown>([[2, descriptorMap(credentialId)], [3, u]]),
      opts,
    );
  }
}

function descriptorMap(d: CredentialDescriptor): Record<string, unknown> {
  if (!(d?.id instanceof Uint8Array)) throw new FormatError("Credential ID must be bytes");
  return { id: d.id, type: d.type ?? "public-key", transports: d.transports };
}

function parseRp(m: CborMap): ManagedRp {
  const rp = m.get(3);
  if (!(rp instanceof Map) || typeof rp.get("id") !== "string") {
    throw new FormatError("credentialManagement: rp must be a map with a text id");
  }
  const name = rp.get("name");
  if (name !== undefined && typeof name !== "string") {
    throw new FormatError("credentialManagement: rp.name must be a text string");
  }
  const rpIdHash = m.get(4);
  if (!(rpIdHash instanceof Uint8Array) || rpIdHash.length !== 32) {
    throw new FormatError("credentialManagement: rpIdHash must be 32 bytes");
  }
  const id = rp.get("id") as string;
  return { rp: name === undefined ? { id } : { id, name }, rpIdHash, raw: m };
}

function parseCred(m: CborMap): ManagedCredential {
  const user = parseUser(m.get(6) as CborValue, "user");
  const credentialId = parseDescriptor(m.get(7) as CborValue, "credentialID");
  const publicKey = m.get(8);
  if (!(publicKey instanceof Map)) {
    throw new FormatError("credentialManagement: publicKey must be a COSE map");
  }
  const cred: {
    -readonly [K in keyof ManagedCredential]: ManagedCredential[K];
  } = { user, credentialId, publicKey, raw: m };
  const cp = m.get(10);
  if (cp !== undefined) {
    if (typeof cp !== "number") throw new FormatError("credentialManagement: credProtect");
    cred.credProtect = cp;
  }
  const lbk = m.get(11);
  if (lbk !== undefined) {
    if (!(lbk instanceof Uint8Array)) throw new FormatError("credentialManagement: largeBlobKey");
    cred.largeBlobKey = lbk;
  }
  const tpp = m.get(12);
  if (tpp !== undefined) {
    if (typeof tpp !== "boolean") {
      throw new FormatError("credentialManagement: thirdPartyPayment");
    }
    cred.thirdPartyPayment = tpp;
  }
  return cred;
}
