/**
 * Credential storage of the virtual authenticator.
 *
 * Discoverable credentials live in memory (and in the exported JSON state). Non-discoverable
 * credentials are not stored at all: their id is the credential sealed with AES-256-GCM under
 * a key derived from the authenticator's master secret, with the RP ID hash as associated
 * data, so an id only opens on the authenticator (and for the RP) that created it, and a
 * reset (new master secret) invalidates every id ever issued.
 * @module
 */
import { decode, encode } from "../cbor.ts";
import type { CborMap } from "../cbor.ts";
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
  utf8Encode,
} from "../utils.ts";
import { cosePublicKey, isSupportedAlgorithm } from "./keys.ts";
import type { StoredCredential } from "./types.ts";

/** JSON-safe form of one discoverable credential. */
export interface StoredCredentialJson {
  /** Credential ID (hex). */
  readonly id: string;
  /** The RP ID the credential is bound to. */
  readonly rpId: string;
  /** RP name given at registration. */
  readonly rpName?: string;
  /** The account (id in hex). */
  readonly user: { readonly id: string; readonly name?: string; readonly displayName?: string };
  /** COSE algorithm (-7 ES256, -8 EdDSA, -35 ES384). */
  readonly alg: number;
  /** Raw private key (hex). */
  readonly privateKey: string;
  /** Per-credential signature counter. */
  readonly signCount: number;
  /** credProtect level 1..3. */
  readonly credProtect: number;
  /** hmac-secret CredRandom (hex), when requested. */
  readonly credRandom?: string;
  /** Stored credBlob (hex). */
  readonly credBlob?: string;
  /** largeBlobKey (hex). */
  readonly largeBlobKey?: string;
  /** Whether it was registered for payments. */
  readonly thirdPartyPayment?: boolean;
  /** Creation sequence number (enumeration order). */
  readonly created: number;
}

/** JSON-safe persistent state of the credential store (part of `exportState()`). */
export interface CredentialStoreState {
  /** Master secret (hex, 32 bytes): wraps non-discoverable ids and derives their secrets. */
  readonly masterKey: string;
  /** Global signature counter. */
  readonly counter: number;
  /** Next creation sequence number. */
  readonly nextCreated: number;
  /** Every discoverable credential. */
  readonly credentials: readonly StoredCredentialJson[];
}

/** Version byte of wrapped credential ids. */
const WRAP_VERSION = 0x01;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** Fields sealed into a non-discoverable credential id. */
export interface WrappedFields {
  /** COSE algorithm (-7 ES256, -8 EdDSA, -35 ES384). */
  readonly alg: number;
  /** Raw private key. */
  readonly privateKey: Uint8Array;
  /** credProtect level 1..3. */
  readonly credProtect: number;
  /** Whether hmac-secret was requested (CredRandom is derived from the master key). */
  readonly hmacSecret: boolean;
  /** Stored credBlob. */
  readonly credBlob?: Uint8Array;
  /** Whether it was registered for payments. */
  readonly thirdPartyPayment?: boolean;
}

/** In-memory credential store with JSON persistence. */
export class CredentialStore {
  #masterKey: Uint8Array;
  #wrapKey?: Promise<CryptoKey>;
  #byId = new Map<string, StoredCredential>();
  /** Global signature counter (used by the "global" sign-count strategy). */
  counter: number;
  #nextCreated: number;

  /** Restores `state`, or starts empty with a fresh random master key. */
  constructor(state?: CredentialStoreState) {
    if (state) {
      this.#masterKey = fromHex(state.masterKey);
      if (this.#masterKey.length !== 32) throw new FormatError("masterKey must be 32 bytes");
      this.counter = checkCount(state.counter, "counter");
      this.#nextCreated = checkCount(state.nextCreated, "nextCreated");
      for (const c of state.credentials) {
        const cred = credentialFromJson(c);
        this.#byId.set(toHex(cred.id), cred);
      }
    } else {
      this.#masterKey = randomBytes(32);
      this.counter = 0;
      this.#nextCreated = 0;
    }
  }

  /** Number of discoverable credentials held. */
  get size(): number {
    return this.#byId.size;
  }

  /** A sequence number for the next credential's `created` field. */
  nextCreated(): number {
    return this.#nextCreated++;
  }

  /** Discoverable credentials of `rpId`, most recently created first. */
  discoverable(rpId: string): StoredCredential[] {
    return [...this.#byId.values()].filter((c) => c.rpId === rpId).sort((a, b) =>
      b.created - a.created
    );
  }

  /** Every discoverable credential, oldest first (credential management enumeration). */
  all(): StoredCredential[] {
    return [...this.#byId.values()].sort((a, b) => a.created - b.created);
  }

  /** Stores a discoverable credential, replacing one of the same RP and user handle. */
  put(cred: StoredCredential): void {
    for (const [key, c] of this.#byId) {
      if (c.rpId === cred.rpId && bytesEqual(c.user.id, cred.user.id)) this.#byId.delete(key);
    }
    this.#byId.set(toHex(cred.id), cred);
  }

  /** Whether storing `cred` would replace an existing entry (so needs no new slot). */
  replaces(rpId: string, userId: Uint8Array): boolean {
    for (const c of this.#byId.values()) {
      if (c.rpId === rpId && bytesEqual(c.user.id, userId)) return true;
    }
    return false;
  }

  /** Deletes a discoverable credential; false if unknown. */
  delete(id: Uint8Array): boolean {
    return this.#byId.delete(toHex(id));
  }

  /** Forgets everything and draws a new master secret (authenticatorReset). */
  clear(): void {
    this.#byId.clear();
    this.#masterKey = randomBytes(32);
    this.#wrapKey = undefined;
    this.counter = 0;
  }

  /**
   * Finds the credential `id` for `rpId`: a discoverable one by id, else a wrapped id that
   * opens under this authenticator's key for this RP. Anything else is `undefined`.
   */
  async lookup(id: Uint8Array, rpId: string): Promise<StoredCredential | undefined> {
    const stored = this.#byId.get(toHex(id));
    if (stored) return stored.rpId === rpId ? stored : undefined;
    return await this.unwrap(id, sha256(utf8Encode(rpId)), rpId);
  }

  /**
   * Like {@linkcode lookup} when only the RP ID hash is known (U2F's application parameter);
   * a wrapped credential found this way is labelled with the hash in hex as its `rpId`.
   */
  async lookupByHash(id: Uint8Array, rpIdHash: Uint8Array): Promise<StoredCredential | undefined> {
    const stored = this.#byId.get(toHex(id));
    if (stored) return bytesEqual(sha256(utf8Encode(stored.rpId)), rpIdHash) ? stored : undefined;
    return await this.unwrap(id, rpIdHash, toHex(rpIdHash));
  }

  /** Seals a non-discoverable credential into its id. */
  async wrap(fields: WrappedFields, rpIdHash: Uint8Array): Promise<Uint8Array> {
    const plaintext = encode(
      new Map<number, unknown>([
        [1, fields.alg],
        [2, fields.privateKey],
        [3, fields.credProtect],
        [4, fields.hmacSecret],
        [5, fields.credBlob],
        [6, fields.thirdPartyPayment],
      ]),
    );
    const iv = own(randomBytes(IV_LENGTH));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: own(rpIdHash), tagLength: TAG_LENGTH * 8 },
        await this.#aesKey(),
        own(plaintext),
      ),
    );
    return concat(new Uint8Array([WRAP_VERSION]), iv, ct);
  }

  /**
   * Opens a wrapped id for `rpIdHash`; `undefined` when it is not one of ours (wrong RP,
   * foreign, corrupted or issued before a reset). `rpId` only labels the result.
   */
  async unwrap(
    id: Uint8Array,
    rpIdHash: Uint8Array,
    rpId: string,
  ): Promise<StoredCredential | undefined> {
    if (id.length < 1 + IV_LENGTH + TAG_LENGTH || id[0] !== WRAP_VERSION) return undefined;
    let plaintext: Uint8Array;
    try {
      plaintext = new Uint8Array(
        await crypto.subtle.decrypt(
          {
            name: "AES-GCM",
            iv: own(id.subarray(1, 1 + IV_LENGTH)),
            additionalData: own(rpIdHash),
            tagLength: TAG_LENGTH * 8,
          },
          await this.#aesKey(),
          own(id.subarray(1 + IV_LENGTH)),
        ),
      );
    } catch {
      return undefined;
    }
    // Authenticated by GCM, so a parse failure here means a bug, not an attack.
    const m = decode(plaintext) as CborMap;
    const alg = m.get(1) as number;
    const privateKey = m.get(2) as Uint8Array;
    const credBlob = m.get(5);
    let publicKey: CborMap | undefined;
    return {
      id: id.slice(),
      rpId,
      user: { id: new Uint8Array(0) },
      alg,
      privateKey,
      // Deriving the public key costs a scalar multiplication that assertions never need.
      get publicKey(): CborMap {
        return (publicKey ??= cosePublicKey(alg, privateKey));
      },
      discoverable: false,
      signCount: 0,
      credProtect: m.get(3) as number,
      credRandom: m.get(4) === true ? this.deriveCredRandom(privateKey) : undefined,
      credBlob: credBlob instanceof Uint8Array ? credBlob : undefined,
      thirdPartyPayment: m.get(6) === true ? true : undefined,
      created: -1,
    };
  }

  /** hmac-secret CredRandomWithUV ‖ CredRandomWithoutUV of a non-discoverable credential. */
  deriveCredRandom(privateKey: Uint8Array): Uint8Array {
    return concat(
      hmacSha256(this.#masterKey, concat(utf8Encode("credRandomWithUV"), privateKey)),
      hmacSha256(this.#masterKey, concat(utf8Encode("credRandomWithoutUV"), privateKey)),
    );
  }

  /** JSON-safe snapshot for persistence. */
  exportState(): CredentialStoreState {
    return {
      masterKey: toHex(this.#masterKey),
      counter: this.counter,
      nextCreated: this.#nextCreated,
      credentials: this.all().map(credentialToJson),
    };
  }

  #aesKey(): Promise<CryptoKey> {
    this.#wrapKey ??= crypto.subtle.importKey(
      "raw",
      own(hkdfSha256(this.#masterKey, new Uint8Array(32), utf8Encode("credential-id wrap"), 32)),
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    return this.#wrapKey;
  }
}

// WebCrypto wants ArrayBuffer-backed views; copy into one.
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function checkCount(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new FormatError(`Invalid ${what} in credential store state`);
  }
  return n;
}

function optHex(s: string | undefined): Uint8Array | undefined {
  return s === undefined ? undefined : fromHex(s);
}

function credentialToJson(c: StoredCredential): StoredCredentialJson {
  return {
    id: toHex(c.id),
    rpId: c.rpId,
    rpName: c.rpName,
    user: { id: toHex(c.user.id), name: c.user.name, displayName: c.user.displayName },
    alg: c.alg,
    privateKey: toHex(c.privateKey),
    signCount: c.signCount,
    credProtect: c.credProtect,
    credRandom: c.credRandom && toHex(c.credRandom),
    credBlob: c.credBlob && toHex(c.credBlob),
    largeBlobKey: c.largeBlobKey && toHex(c.largeBlobKey),
    thirdPartyPayment: c.thirdPartyPayment,
    created: c.created,
  };
}

function credentialFromJson(j: StoredCredentialJson): StoredCredential {
  if (typeof j !== "object" || j === null || typeof j.rpId !== "string") {
    throw new FormatError("Invalid credential in credential store state");
  }
  if (!isSupportedAlgorithm(j.alg)) {
    throw new FormatError(`Unsupported algorithm ${j.alg} in credential store state`);
  }
  if (![1, 2, 3].includes(j.credProtect)) {
    throw new FormatError("Invalid credProtect in credential store state");
  }
  const privateKey = fromHex(j.privateKey);
  return {
    id: fromHex(j.id),
    rpId: j.rpId,
    rpName: j.rpName,
    user: { id: fromHex(j.user.id), name: j.user.name, displayName: j.user.displayName },
    alg: j.alg,
    privateKey,
    publicKey: cosePublicKey(j.alg, privateKey),
    discoverable: true,
    signCount: checkCount(j.signCount, "signCount"),
    credProtect: j.credProtect,
    credRandom: optHex(j.credRandom),
    credBlob: optHex(j.credBlob),
    largeBlobKey: optHex(j.largeBlobKey),
    thirdPartyPayment: j.thirdPartyPayment,
    created: checkCount(j.created, "created"),
  };
}
