/**
 * The binary WebAuthn structures an authenticator produces: AAGUID, attested credential
 * data, authenticator data and the attestation object (WebAuthn L3 §6.1, §6.5).
 * @module
 */
import { type CborMap, type CborValue, decode, decodeFrom, encode, getField, is } from "../cbor.ts";
import { FormatError } from "../errors.ts";
import { ByteReader, bytesEqual, concat, fromHex, toHex, u16be, u32be } from "../utils.ts";

/** An authenticator model identifier (16 bytes); all-zero means "not disclosed". */
export class Aaguid {
  /** The all-zero AAGUID that U2F keys and anonymised attestation carry. */
  static readonly NONE: Aaguid = new Aaguid(new Uint8Array(16));
  /** The 16 raw bytes. */
  readonly bytes: Uint8Array;

  /** Throws FormatError unless `bytes` is 16 bytes long. */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
      throw new FormatError(`AAGUID must be 16 bytes, got ${bytes?.length}`);
    }
    this.bytes = bytes.slice();
  }

  /** Parses the 8-4-4-4-12 hex form (case-insensitive). */
  static parse(text: string): Aaguid {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) {
      throw new FormatError(`Invalid AAGUID string: ${JSON.stringify(text)}`);
    }
    return new Aaguid(fromHex(text.replaceAll("-", "")));
  }

  /** True unless every byte is zero. */
  get isSet(): boolean {
    return this.bytes.some((b) => b !== 0);
  }

  /** Byte equality. */
  equals(other: Aaguid): boolean {
    return bytesEqual(this.bytes, other.bytes);
  }

  /** 8-4-4-4-12 lower-case hex. */
  toString(): string {
    const h = toHex(this.bytes);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
      h.slice(20)
    }`;
  }

  /** JSON form: the string form. */
  toJSON(): string {
    return this.toString();
  }
}

/** aaguid ‖ credentialIdLength ‖ credentialId ‖ COSE public key, as inside authenticator data. */
export class AttestedCredentialData {
  private constructor(
    /** The encoded structure. */
    readonly raw: Uint8Array,
    readonly aaguid: Aaguid,
    readonly credentialId: Uint8Array,
    /** The credential public key as a COSE map (see `CoseKey.parse` in cose.ts). */
    readonly publicKey: CborMap,
  ) {}

  /** Parses one structure from the start of `data`; returns it with the bytes after it. */
  static unpackFrom(data: Uint8Array): [AttestedCredentialData, Uint8Array] {
    const r = new ByteReader(data);
    const aaguid = new Aaguid(r.bytes(16, "AAGUID"));
    const idLen = r.u16("credential ID length");
    const credentialId = r.bytes(idLen, "credential ID");
    const [key, rest] = decodeFrom(r.rest());
    if (!(key instanceof Map)) throw new FormatError("Credential public key must be a CBOR map");
    if (typeof key.get(3) !== "number") {
      throw new FormatError("Credential public key has no algorithm (COSE key 3)");
    }
    const end = data.length - rest.length;
    return [new AttestedCredentialData(data.slice(0, end), aaguid, credentialId, key), rest];
  }

  /** Parses exactly one structure; trailing bytes are a `FormatError`. */
  static parse(data: Uint8Array): AttestedCredentialData {
    const [acd, rest] = AttestedCredentialData.unpackFrom(data);
    if (rest.length) throw new FormatError("Wrong length: trailing data after credential key");
    return acd;
  }

  /** Builds the structure from its parts. */
  static create(
    aaguid: Aaguid,
    credentialId: Uint8Array,
    publicKey: CborMap,
  ): AttestedCredentialData {
    if (credentialId.length > 0xffff) throw new FormatError("Credential ID too long");
    return AttestedCredentialData.parse(
      concat(aaguid.bytes, u16be(credentialId.length), credentialId, encode(publicKey)),
    );
  }

  /** What a U2F registration yields: zero AAGUID and the 65-byte P-256 point as ES256. */
  static fromCtap1(keyHandle: Uint8Array, publicKey65: Uint8Array): AttestedCredentialData {
    if (publicKey65.length !== 65 || publicKey65[0] !== 0x04) {
      throw new FormatError("U2F public key must be a 65-byte uncompressed P-256 point");
    }
    const key: CborMap = new Map<CborValue, CborValue>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, publicKey65.slice(1, 33)],
      [-3, publicKey65.slice(33, 65)],
    ]);
    return AttestedCredentialData.create(Aaguid.NONE, keyHandle, key);
  }
}

/** Flag bits of authenticator data. */
export const FLAG = {
  UP: 0x01,
  UV: 0x04,
  BE: 0x08,
  BS: 0x10,
  AT: 0x40,
  ED: 0x80,
} as const;

/** rpIdHash ‖ flags ‖ signCount ‖ [attested credential data] ‖ [extensions]. */
export class AuthenticatorData {
  /** Flag bits (also exported as {@linkcode FLAG}). */
  static readonly FLAG: typeof FLAG = FLAG;

  private constructor(
    /** The exact bytes signed by the authenticator. */
    readonly raw: Uint8Array,
    readonly rpIdHash: Uint8Array,
    readonly flags: number,
    readonly counter: number,
    readonly credentialData: AttestedCredentialData | undefined,
    /** Authenticator extension outputs (string keys). */
    readonly extensions: CborMap | undefined,
  ) {}

  /**
   * Parses authenticator data. The AT and ED flags decide what follows the counter;
   * leftover bytes are a `FormatError` (a lying authenticator must not go unnoticed).
   */
  static parse(data: Uint8Array): AuthenticatorData {
    if (!(data instanceof Uint8Array)) throw new FormatError("Authenticator data must be bytes");
    const r = new ByteReader(data);
    const rpIdHash = r.bytes(32, "rpIdHash");
    const flags = r.u8("flags");
    const counter = r.u32("signCount");
    let rest = r.rest();
    let credentialData: AttestedCredentialData | undefined;
    let extensions: CborMap | undefined;
    if (flags & FLAG.AT) [credentialData, rest] = AttestedCredentialData.unpackFrom(rest);
    if (flags & FLAG.ED) {
      const [ext, after] = decodeFrom(rest);
      if (!(ext instanceof Map)) throw new FormatError("Extension data must be a CBOR map");
      extensions = ext;
      rest = after;
    }
    if (rest.length) throw new FormatError("Wrong length: trailing data in authenticator data");
    return new AuthenticatorData(
      data.slice(),
      rpIdHash,
      flags,
      counter,
      credentialData,
      extensions,
    );
  }

  /** Builds authenticator data; AT/ED flags are set from the parts given. */
  static create(
    rpIdHash: Uint8Array,
    flags: number,
    counter: number,
    credentialData?: AttestedCredentialData,
    extensions?: CborMap,
  ): AuthenticatorData {
    if (rpIdHash.length !== 32) throw new FormatError("rpIdHash must be 32 bytes");
    let f = flags & ~(FLAG.AT | FLAG.ED);
    if (credentialData) f |= FLAG.AT;
    if (extensions) f |= FLAG.ED;
    return AuthenticatorData.parse(
      concat(
        rpIdHash,
        new Uint8Array([f]),
        u32be(counter >>> 0),
        credentialData?.raw ?? new Uint8Array(0),
        extensions ? encode(extensions) : new Uint8Array(0),
      ),
    );
  }

  /** UP flag. */
  get userPresent(): boolean {
    return (this.flags & FLAG.UP) !== 0;
  }
  /** UV flag. */
  get userVerified(): boolean {
    return (this.flags & FLAG.UV) !== 0;
  }
  /** BE flag (backup eligible). */
  get backupEligible(): boolean {
    return (this.flags & FLAG.BE) !== 0;
  }
  /** BS flag (backed up). */
  get backedUp(): boolean {
    return (this.flags & FLAG.BS) !== 0;
  }
  /** AT flag. */
  get attested(): boolean {
    return (this.flags & FLAG.AT) !== 0;
  }
  /** ED flag. */
  get hasExtensionData(): boolean {
    return (this.flags & FLAG.ED) !== 0;
  }
}

/** The CBOR attestation object `{fmt, attStmt, authData}` returned by registration. */
export class AttestationObject {
  private constructor(
    /** The canonical encoding. */
    readonly raw: Uint8Array,
    readonly fmt: string,
    readonly authData: AuthenticatorData,
    readonly attStmt: CborMap,
  ) {}

  /** Parses an encoded attestation object. */
  static parse(data: Uint8Array): AttestationObject {
    const m = decode(data);
    if (!(m instanceof Map)) throw new FormatError("Attestation object must be a CBOR map");
    const fmt = getField(m, "fmt", is.text, "fmt");
    const authData = getField(m, "authData", is.bytes, "authData");
    const attStmt = getField(m, "attStmt", is.map, "attStmt");
    if (fmt === undefined || authData === undefined || attStmt === undefined) {
      throw new FormatError("Attestation object needs fmt, authData and attStmt");
    }
    return new AttestationObject(data.slice(), fmt, AuthenticatorData.parse(authData), attStmt);
  }

  /** Builds the canonical encoding from its parts. */
  static create(fmt: string, authData: AuthenticatorData, attStmt: CborMap): AttestationObject {
    return new AttestationObject(
      encode({ fmt, attStmt, authData: authData.raw }),
      fmt,
      authData,
      attStmt,
    );
  }

  /**
   * The `fido-u2f` attestation object for a U2F registration (WebAuthn §8.6): the app
   * parameter becomes the rpIdHash, the key handle the credential ID.
   */
  static fromCtap1(
    appParam: Uint8Array,
    registration: {
      readonly publicKey: Uint8Array;
      readonly keyHandle: Uint8Array;
      readonly certificate: Uint8Array;
      readonly signature: Uint8Array;
    },
  ): AttestationObject {
    const acd = AttestedCredentialData.fromCtap1(registration.keyHandle, registration.publicKey);
    const authData = AuthenticatorData.create(appParam, FLAG.UP | FLAG.AT, 0, acd);
    const attStmt: CborMap = new Map<CborValue, CborValue>([
      ["sig", registration.signature],
      ["x5c", [registration.certificate]],
    ]);
    return AttestationObject.create("fido-u2f", authData, attStmt);
  }

  /** The same attestation object with `fmt: "none"` and an empty statement. */
  withoutAttestation(): AttestationObject {
    return AttestationObject.create("none", this.authData, new Map());
  }
}
