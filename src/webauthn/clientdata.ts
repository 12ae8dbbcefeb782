/**
 * CollectedClientData (WebAuthn L3 §5.8.1): the JSON the client signs over through its
 * SHA-256 hash. The exact bytes matter, so the parsed object keeps them and `create`
 * serialises in the spec's order (type, challenge, origin, crossOrigin, topOrigin, extras).
 * @module
 */
import { FormatError } from "../errors.ts";
import { b64urlEncode, sha256, utf8Decode, utf8Encode } from "../utils.ts";
import {
  asObject,
  b64,
  bytesValue,
  type JsonObject,
  member,
  optBool,
  optString,
  reqBytes,
  reqString,
} from "./jsonread.ts";

/** Arguments of {@linkcode CollectedClientData.create}; extra members are appended. */
export interface CollectedClientDataInit {
  /** "webauthn.create" or "webauthn.get". */
  readonly type: string;
  /** Raw challenge bytes, or their base64url form. */
  readonly challenge: Uint8Array | string;
  /** The caller's origin, e.g. "https://example.com". */
  readonly origin: string;
  /** Whether the caller is a cross-origin iframe. */
  readonly crossOrigin?: boolean;
  /** Top-level origin, set for cross-origin calls. */
  readonly topOrigin?: string;
  /** Extra members, appended after the standard ones. */
  readonly [extra: string]: unknown;
}

const RESERVED = new Set(["type", "challenge", "origin", "crossOrigin", "topOrigin"]);

/** The client data a credential operation signs; keeps its exact serialised bytes. */
export class CollectedClientData {
  /** The two `type` values. */
  static readonly TYPE = { CREATE: "webauthn.create", GET: "webauthn.get" } as const;

  #hash: Uint8Array | undefined;

  private constructor(
    /** The exact bytes (clientDataJSON). */
    readonly raw: Uint8Array,
    readonly type: string,
    readonly challenge: Uint8Array,
    readonly origin: string,
    readonly crossOrigin: boolean,
    readonly topOrigin: string | undefined,
    /** Every member of the JSON object, including ones this class does not model. */
    readonly fields: Readonly<JsonObject>,
  ) {}

  /** Parses clientDataJSON bytes; missing or mistyped members are a `FormatError`. */
  static parse(raw: Uint8Array, path = "clientDataJSON"): CollectedClientData {
    if (!(raw instanceof Uint8Array)) throw new FormatError(`${path}: expected bytes`);
    let json: unknown;
    try {
      json = JSON.parse(utf8Decode(raw));
    } catch (e) {
      throw new FormatError(`${path}: not valid JSON`, { cause: e });
    }
    const o = asObject(json, path);
    const type = reqString(o, "type", path);
    const challenge = reqBytes(o, "challenge", path);
    if (typeof o.challenge !== "string") {
      throw new FormatError(`${member(path, "challenge")}: expected a base64url string`);
    }
    return new CollectedClientData(
      raw.slice(),
      type,
      challenge,
      reqString(o, "origin", path),
      optBool(o, "crossOrigin", path) ?? false,
      optString(o, "topOrigin", path),
      Object.freeze({ ...o }),
    );
  }

  /** Parses the JSON form: the base64url encoding of the bytes. */
  static fromJSON(json: unknown, path = "clientDataJSON"): CollectedClientData {
    if (json instanceof CollectedClientData) return json;
    if (typeof json !== "string") throw new FormatError(`${path}: expected a base64url string`);
    return CollectedClientData.parse(bytesValue(json, path), path);
  }

  /**
   * Serialises new client data compactly, members in the spec's order; `crossOrigin` is
   * always present (false by default), `topOrigin` only when given.
   */
  static create(init: CollectedClientDataInit): CollectedClientData {
    const { type, challenge, origin, crossOrigin = false, topOrigin, ...extra } = init;
    if (typeof type !== "string" || typeof origin !== "string") {
      throw new FormatError("Client data type and origin must be strings");
    }
    const challengeBytes = bytesValue(challenge, "challenge");
    const challengeText = b64(challengeBytes);
    let text = `{"type":${JSON.stringify(type)},"challenge":${JSON.stringify(challengeText)}` +
      `,"origin":${JSON.stringify(origin)},"crossOrigin":${JSON.stringify(!!crossOrigin)}`;
    if (topOrigin !== undefined) text += `,"topOrigin":${JSON.stringify(topOrigin)}`;
    let extras = false;
    for (const [k, v] of Object.entries(extra)) {
      if (RESERVED.has(k) || v === undefined) continue;
      text += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
      extras = true;
    }
    const raw = utf8Encode(text + "}");
    // Extra members (and a topOrigin that is not a string, which parse rejects) are what JSON
    // makes of them: read them back. The standard members are known without re-parsing.
    if (extras || (topOrigin !== undefined && typeof topOrigin !== "string")) {
      return CollectedClientData.parse(raw);
    }
    const fields: JsonObject = {
      type,
      challenge: challengeText,
      origin,
      crossOrigin: !!crossOrigin,
    };
    if (topOrigin !== undefined) fields.topOrigin = topOrigin;
    return new CollectedClientData(
      raw,
      type,
      challengeBytes,
      origin,
      !!crossOrigin,
      topOrigin,
      Object.freeze(fields),
    );
  }

  /** SHA-256 of the exact bytes: what the authenticator signs (clientDataHash). */
  get hash(): Uint8Array {
    this.#hash ??= sha256(this.raw);
    return this.#hash.slice();
  }

  /** The bytes as unpadded base64url. */
  get b64(): string {
    return b64urlEncode(this.raw);
  }

  /** JSON form: base64url of the bytes (the `clientDataJSON` member of a response). */
  toJSON(): string {
    return this.b64;
  }
}
