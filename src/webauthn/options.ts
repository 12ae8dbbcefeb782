/**
 * The options a relying party sends: entities, credential parameters and descriptors,
 * authenticator selection, and the creation / request options with their
 * `CredentialCreationOptions` / `CredentialRequestOptions` wrappers (WebAuthn L3 §5.4, §5.5,
 * §5.8). `fromJSON` reads the W3C JSON forms (what @simplewebauthn/server and other servers
 * emit) and `toJSON` writes them back.
 * @module
 */
import { FormatError } from "../errors.ts";
import { sha256 } from "../utils.ts";
import {
  AttestationConveyancePreference,
  AuthenticatorAttachment,
  AuthenticatorTransport,
  isEnumValue,
  parseEnum,
  parseEnumList,
  PublicKeyCredentialHint,
  PublicKeyCredentialType,
  ResidentKeyRequirement,
  UserVerificationRequirement,
} from "./enums.ts";
import { AuthenticationExtensionsClientInputs } from "./extensions.ts";
import {
  asObject,
  b64,
  compact,
  type JsonObject,
  member,
  optArray,
  optBool,
  optInt,
  optObject,
  optString,
  optStringList,
  reqArray,
  reqBytes,
  reqInt,
  reqString,
  reqValue,
} from "./jsonread.ts";

/** The relying party: its display name and RP ID (defaults to the origin's domain). */
export class PublicKeyCredentialRpEntity {
  /** Shown to the user while they approve. */
  readonly name: string;
  /** The RP ID; the client uses the origin's effective domain when absent. */
  readonly id?: string;

  /** Takes `init` as given; {@linkcode PublicKeyCredentialRpEntity.fromJSON} validates. */
  constructor(init: { readonly name: string; readonly id?: string }) {
    this.name = init.name;
    if (init.id !== undefined) this.id = init.id;
  }

  /** SHA-256 of the RP ID (the rpIdHash in authenticator data), when an id is set. */
  get idHash(): Uint8Array | undefined {
    return this.id === undefined ? undefined : sha256(new TextEncoder().encode(this.id));
  }

  /** Parses the JSON form. */
  static fromJSON(json: unknown, path = ""): PublicKeyCredentialRpEntity {
    if (json instanceof PublicKeyCredentialRpEntity) return json;
    const o = asObject(json, path);
    return new PublicKeyCredentialRpEntity({
      name: reqString(o, "name", path),
      id: optString(o, "id", path),
    });
  }

  /** The JSON form. */
  toJSON(): JsonObject {
    return compact({ name: this.name, id: this.id });
  }
}

/** The user account; `id` is the opaque user handle (bytes). */
export class PublicKeyCredentialUserEntity {
  /** The user handle (1..64 bytes); never shown to the user. */
  readonly id: Uint8Array;
  /** Account name (e.g. an email address). */
  readonly name?: string;
  /** Name shown to the user. */
  readonly displayName?: string;

  /** Copies `id`; throws FormatError when it is not bytes. */
  constructor(
    init: { readonly id: Uint8Array; readonly name?: string; readonly displayName?: string },
  ) {
    if (!(init.id instanceof Uint8Array)) throw new FormatError("user.id must be bytes");
    this.id = init.id.slice();
    if (init.name !== undefined) this.name = init.name;
    if (init.displayName !== undefined) this.displayName = init.displayName;
  }

  /** Parses the JSON form (`id` base64url; `name`/`displayName` optional as in CTAP). */
  static fromJSON(json: unknown, path = ""): PublicKeyCredentialUserEntity {
    if (json instanceof PublicKeyCredentialUserEntity) return json;
    const o = asObject(json, path);
    return new PublicKeyCredentialUserEntity({
      id: reqBytes(o, "id", path),
      name: optString(o, "name", path),
      displayName: optString(o, "displayName", path),
    });
  }

  /** The JSON form. */
  toJSON(): JsonObject {
    return compact({ name: this.name, id: b64(this.id), displayName: this.displayName });
  }
}

/**
 * One acceptable credential algorithm. `type` is a DOMString in the spec: an unknown value is
 * kept here, and lists of parameters drop such entries.
 */
export class PublicKeyCredentialParameters {
  /** Kept as given so unknown types can be skipped rather than rejected. */
  readonly type: PublicKeyCredentialType | (string & Record<never, never>);
  /** COSE algorithm identifier (-7 = ES256, -8 = EdDSA, -257 = RS256, ...). */
  readonly alg: number;

  /** Takes `init` as given; {@linkcode PublicKeyCredentialParameters.fromJSON} validates. */
  constructor(init: { readonly type: string; readonly alg: number }) {
    this.type = init.type;
    this.alg = init.alg;
  }

  /** Whether `type` is one this library knows ("public-key"). */
  get isKnownType(): boolean {
    return isEnumValue(PublicKeyCredentialType, this.type);
  }

  /** Parses the JSON form. */
  static fromJSON(json: unknown, path = ""): PublicKeyCredentialParameters {
    if (json instanceof PublicKeyCredentialParameters) return json;
    const o = asObject(json, path);
    return new PublicKeyCredentialParameters({
      type: reqString(o, "type", path),
      alg: reqInt(o, "alg", path),
    });
  }

  /** The JSON form. */
  toJSON(): JsonObject {
    return { type: this.type, alg: this.alg };
  }
}

/**
 * A reference to an existing credential (allow/exclude lists). `type` is kept as given (see
 * {@linkcode PublicKeyCredentialParameters}); unknown transports are dropped.
 */
export class PublicKeyCredentialDescriptor {
  /** Kept as given so unknown types can be skipped rather than rejected. */
  readonly type: PublicKeyCredentialType | (string & Record<never, never>);
  /** The credential ID. */
  readonly id: Uint8Array;
  /** Transport hints, known values only. */
  readonly transports?: readonly AuthenticatorTransport[];

  /** `type` defaults to "public-key"; `id` is copied. */
  constructor(
    init: {
      readonly type?: string;
      readonly id: Uint8Array;
      readonly transports?: readonly string[];
    },
  ) {
    if (!(init.id instanceof Uint8Array)) throw new FormatError("Credential id must be bytes");
    this.type = init.type ?? PublicKeyCredentialType.PUBLIC_KEY;
    this.id = init.id.slice();
    if (init.transports !== undefined) {
      this.transports = init.transports.filter((t): t is AuthenticatorTransport =>
        isEnumValue(AuthenticatorTransport, t)
      );
    }
  }

  /** Whether `type` is one this library knows ("public-key"). */
  get isKnownType(): boolean {
    return isEnumValue(PublicKeyCredentialType, this.type);
  }

  /** Parses the JSON form. */
  static fromJSON(json: unknown, path = ""): PublicKeyCredentialDescriptor {
    if (json instanceof PublicKeyCredentialDescriptor) return json;
    const o = asObject(json, path);
    return new PublicKeyCredentialDescriptor({
      type: reqString(o, "type", path),
      id: reqBytes(o, "id", path),
      transports: parseEnumList(AuthenticatorTransport, o.transports, member(path, "transports")),
    });
  }

  /** The JSON form. */
  toJSON(): JsonObject {
    return compact({
      type: this.type,
      id: b64(this.id),
      transports: this.transports ? [...this.transports] : undefined,
    });
  }
}

/** Init form of {@linkcode AuthenticatorSelectionCriteria}; unknown strings become undefined. */
export interface AuthenticatorSelectionCriteriaInit {
  /** "platform" or "cross-platform". */
  readonly authenticatorAttachment?: string;
  /** "discouraged", "preferred" or "required". */
  readonly residentKey?: string;
  /** Legacy form of `residentKey: "required"`. */
  readonly requireResidentKey?: boolean;
  /** "required", "preferred" or "discouraged". */
  readonly userVerification?: string;
}

/**
 * Authenticator requirements. `residentKey` wins over the legacy `requireResidentKey`; when
 * it is absent or unknown it is derived from `requireResidentKey` (required/discouraged),
 * and `requireResidentKey` is then recomputed as `residentKey === "required"` (§5.4.4).
 */
export class AuthenticatorSelectionCriteria {
  /** Which kind of authenticator may answer; any when absent. */
  readonly authenticatorAttachment?: AuthenticatorAttachment;
  /** Whether a discoverable credential is wanted. */
  readonly residentKey: ResidentKeyRequirement;
  /** `residentKey === "required"`, kept for Level 1 consumers. */
  readonly requireResidentKey: boolean;
  /** How strongly user verification is wanted; "preferred" when absent. */
  readonly userVerification?: UserVerificationRequirement;

  /** Normalises `init` as described above. */
  constructor(init: AuthenticatorSelectionCriteriaInit = {}) {
    const att = parseEnum(AuthenticatorAttachment, init.authenticatorAttachment, "");
    if (att !== undefined) this.authenticatorAttachment = att;
    this.residentKey = parseEnum(ResidentKeyRequirement, init.residentKey, "") ??
      (init.requireResidentKey
        ? ResidentKeyRequirement.REQUIRED
        : ResidentKeyRequirement.DISCOURAGED);
    this.requireResidentKey = this.residentKey === ResidentKeyRequirement.REQUIRED;
    const uv = parseEnum(UserVerificationRequirement, init.userVerification, "");
    if (uv !== undefined) this.userVerification = uv;
  }

  /** Parses the JSON form. */
  static fromJSON(json: unknown, path = ""): AuthenticatorSelectionCriteria {
    if (json instanceof AuthenticatorSelectionCriteria) return json;
    const o = asObject(json, path);
    return new AuthenticatorSelectionCriteria({
      authenticatorAttachment: optString(o, "authenticatorAttachment", path),
      residentKey: optString(o, "residentKey", path),
      requireResidentKey: optBool(o, "requireResidentKey", path),
      userVerification: optString(o, "userVerification", path),
    });
  }

  /** The JSON form; both `residentKey` and `requireResidentKey` are always present. */
  toJSON(): JsonObject {
    return compact({
      authenticatorAttachment: this.authenticatorAttachment,
      residentKey: this.residentKey,
      userVerification: this.userVerification,
      requireResidentKey: this.requireResidentKey,
    });
  }
}

/** An RP entity or its init object. */
export type RpInit =
  | PublicKeyCredentialRpEntity
  | ConstructorParameters<
    typeof PublicKeyCredentialRpEntity
  >[0];
/** A user entity or its init object. */
export type UserInit =
  | PublicKeyCredentialUserEntity
  | ConstructorParameters<
    typeof PublicKeyCredentialUserEntity
  >[0];
/** Credential parameters or their init object. */
export type ParamsInit =
  | PublicKeyCredentialParameters
  | ConstructorParameters<
    typeof PublicKeyCredentialParameters
  >[0];
/** A credential descriptor or its init object. */
export type DescriptorInit =
  | PublicKeyCredentialDescriptor
  | ConstructorParameters<
    typeof PublicKeyCredentialDescriptor
  >[0];

function knownType<T extends { readonly isKnownType: boolean }>(list?: T[]): T[] | undefined {
  return list?.filter((x) => x.isKnownType);
}

function asDescriptors(
  list?: readonly DescriptorInit[],
): PublicKeyCredentialDescriptor[] | undefined {
  return knownType(
    list?.map((d) =>
      d instanceof PublicKeyCredentialDescriptor ? d : new PublicKeyCredentialDescriptor(d)
    ),
  );
}

function parseHints(list?: readonly string[]): PublicKeyCredentialHint[] | undefined {
  return list?.filter((h): h is PublicKeyCredentialHint => isEnumValue(PublicKeyCredentialHint, h));
}

/** Init form of {@linkcode PublicKeyCredentialCreationOptions} (nested plain objects allowed). */
export interface PublicKeyCredentialCreationOptionsInit {
  /** The relying party. */
  readonly rp: RpInit;
  /** The account the credential is for. */
  readonly user: UserInit;
  /** RP-generated random bytes the signature covers. */
  readonly challenge: Uint8Array;
  /** Accepted algorithms, most preferred first. */
  readonly pubKeyCredParams: readonly ParamsInit[];
  /** Time the user has to respond, in milliseconds. */
  readonly timeout?: number;
  /** Credentials the authenticator must not already hold. */
  readonly excludeCredentials?: readonly DescriptorInit[];
  /** Requirements on the authenticator. */
  readonly authenticatorSelection?:
    | AuthenticatorSelectionCriteria
    | AuthenticatorSelectionCriteriaInit;
  /** Credential hints ("security-key", "client-device", "hybrid"); unknown ones are dropped. */
  readonly hints?: readonly string[];
  /** "none", "indirect", "direct" or "enterprise". */
  readonly attestation?: string;
  /** Attestation formats the RP prefers, most preferred first. */
  readonly attestationFormats?: readonly string[];
  /** Client extension inputs. */
  readonly extensions?: AuthenticationExtensionsClientInputs;
}

/**
 * Options for creating a credential. Parameters and descriptors of unknown `type`, unknown
 * hints and an unknown attestation preference are dropped, as the spec requires.
 */
export class PublicKeyCredentialCreationOptions {
  /** The relying party. */
  readonly rp: PublicKeyCredentialRpEntity;
  /** The account the credential is for. */
  readonly user: PublicKeyCredentialUserEntity;
  /** RP-generated random bytes the signature covers. */
  readonly challenge: Uint8Array;
  /** Accepted algorithms of known type, most preferred first. */
  readonly pubKeyCredParams: readonly PublicKeyCredentialParameters[];
  /** Time the user has to respond, in milliseconds. */
  readonly timeout?: number;
  /** Credentials the authenticator must not already hold. */
  readonly excludeCredentials?: readonly PublicKeyCredentialDescriptor[];
  /** Requirements on the authenticator. */
  readonly authenticatorSelection?: AuthenticatorSelectionCriteria;
  /** Credential hints, most preferred first. */
  readonly hints?: readonly PublicKeyCredentialHint[];
  /** Attestation the RP asks for ("none" when absent). */
  readonly attestation?: AttestationConveyancePreference;
  /** Attestation formats the RP prefers, most preferred first. */
  readonly attestationFormats?: readonly string[];
  /** Client extension inputs. */
  readonly extensions?: AuthenticationExtensionsClientInputs;

  /** Builds the options from `init`; throws FormatError on bad members. */
  constructor(init: PublicKeyCredentialCreationOptionsInit) {
    this.rp = init.rp instanceof PublicKeyCredentialRpEntity
      ? init.rp
      : new PublicKeyCredentialRpEntity(init.rp);
    this.user = init.user instanceof PublicKeyCredentialUserEntity
      ? init.user
      : new PublicKeyCredentialUserEntity(init.user);
    if (!(init.challenge instanceof Uint8Array)) throw new FormatError("challenge must be bytes");
    this.challenge = init.challenge.slice();
    this.pubKeyCredParams = knownType(
      init.pubKeyCredParams.map((p) =>
        p instanceof PublicKeyCredentialParameters ? p : new PublicKeyCredentialParameters(p)
      ),
    )!;
    if (init.timeout !== undefined) this.timeout = init.timeout;
    const exclude = asDescriptors(init.excludeCredentials);
    if (exclude) this.excludeCredentials = exclude;
    const sel = init.authenticatorSelection;
    if (sel !== undefined) {
      this.authenticatorSelection = sel instanceof AuthenticatorSelectionCriteria
        ? sel
        : new AuthenticatorSelectionCriteria(sel);
    }
    const hints = parseHints(init.hints);
    if (hints) this.hints = hints;
    const att = parseEnum(AttestationConveyancePreference, init.attestation, "attestation");
    if (att !== undefined) this.attestation = att;
    if (init.attestationFormats !== undefined) {
      this.attestationFormats = [...init.attestationFormats];
    }
    if (init.extensions !== undefined) this.extensions = init.extensions;
  }

  /** Parses the JSON form (PublicKeyCredentialCreationOptionsJSON). */
  static fromJSON(json: unknown, path = ""): PublicKeyCredentialCreationOptions {
    if (json instanceof PublicKeyCredentialCreationOptions) return json;
    const o = asObject(json, path);
    const sel = optObject(o, "authenticatorSelection", path);
    const ext = o.extensions;
    return new PublicKeyCredentialCreationOptions({
      rp: PublicKeyCredentialRpEntity.fromJSON(reqValue(o, "rp", path), member(path, "rp")),
      user: PublicKeyCredentialUserEntity.fromJSON(
        reqValue(o, "user", path),
        member(path, "user"),
      ),
      challenge: reqBytes(o, "challenge", path),
      pubKeyCredParams: reqArray(
        o,
        "pubKeyCredParams",
        path,
        PublicKeyCredentialParameters.fromJSON,
      ),
      timeout: optInt(o, "timeout", path, 0),
      excludeCredentials: optArray(
        o,
        "excludeCredentials",
        path,
        PublicKeyCredentialDescriptor.fromJSON,
      ),
      authenticatorSelection: sel
        ? AuthenticatorSelectionCriteria.fromJSON(sel, member(path, "authenticatorSelection"))
        : undefined,
      hints: parseEnumList(PublicKeyCredentialHint, o.hints, member(path, "hints")),
      attestation: parseEnum(
        AttestationConveyancePreference,
        o.attestation,
        member(path, "attestation"),
      ),
      attestationFormats: optStringList(o, "attestationFormats", path),
      extensions: ext === undefined || ext === null
        ? undefined
        : AuthenticationExtensionsClientInputs.fromJSON(ext, member(path, "extensions")),
    });
  }

  /** The JSON form (PublicKeyCredentialCreationOptionsJSON). */
  toJSON(): JsonObject {
    return compact({
      rp: this.rp.toJSON(),
      user: this.user.toJSON(),
      challenge: b64(this.challenge),
      pubKeyCredParams: this.pubKeyCredParams.map((p) => p.toJSON()),
      timeout: this.timeout,
      excludeCredentials: this.excludeCredentials?.map((d) => d.toJSON()),
      authenticatorSelection: this.authenticatorSelection?.toJSON(),
      hints: this.hints ? [...this.hints] : undefined,
      attestation: this.attestation,
      attestationFormats: this.attestationFormats ? [...this.attestationFormats] : undefined,
      extensions: this.extensions
        ? AuthenticationExtensionsClientInputs.toJSON(this.extensions)
        : undefined,
    });
  }
}

/** Init form of {@linkcode PublicKeyCredentialRequestOptions}. */
export interface PublicKeyCredentialRequestOptionsInit {
  /** RP-generated random bytes the signature covers. */
  readonly challenge: Uint8Array;
  /** Time the user has to respond, in milliseconds. */
  readonly timeout?: number;
  /** The RP ID; the client uses the origin's effective domain when absent. */
  readonly rpId?: string;
  /** Credentials the RP accepts; empty or absent for discoverable credentials. */
  readonly allowCredentials?: readonly DescriptorInit[];
  /** "required", "preferred" or "discouraged". */
  readonly userVerification?: string;
  /** Credential hints ("security-key", "client-device", "hybrid"); unknown ones are dropped. */
  readonly hints?: readonly string[];
  /** Client extension inputs. */
  readonly extensions?: AuthenticationExtensionsClientInputs;
}

/** Options for getting an assertion; unknown descriptor types / hints / UV values dropped. */
export class PublicKeyCredentialRequestOptions {
  /** RP-generated random bytes the signature covers. */
  readonly challenge: Uint8Array;
  /** Time the user has to respond, in milliseconds. */
  readonly timeout?: number;
  /** The RP ID; the client uses the origin's effective domain when absent. */
  readonly rpId?: string;
  /** Credentials of known type the RP accepts; empty for discoverable credentials. */
  readonly allowCredentials?: readonly PublicKeyCredentialDescriptor[];
  /** How strongly user verification is wanted; "preferred" when absent. */
  readonly userVerification?: UserVerificationRequirement;
  /** Credential hints, most preferred first. */
  readonly hints?: readonly PublicKeyCredentialHint[];
  /** Client extension inputs. */
  readonly extensions?: AuthenticationExtensionsClientInputs;

  /** Builds the options from `init`; throws FormatError on bad members. */
  constructor(init: PublicKeyCredentialRequestOptionsInit) {
    if (!(init.challenge instanceof Uint8Array)) throw new FormatError("challenge must be bytes");
    this.challenge = init.challenge.slice();
    if (init.timeout !== undefined) this.timeout = init.timeout;
    if (init.rpId !== undefined) this.rpId = init.rpId;
    const allow = asDescriptors(init.allowCredentials);
    if (allow) this.allowCredentials = allow;
    const uv = parseEnum(UserVerificationRequirement, init.userVerification, "userVerification");
    if (uv !== undefined) this.userVerification = uv;
    const hints = parseHints(init.hints);
    if (hints) this.hints = hints;
    if (init.extensions !== undefined) this.extensions = init.extensions;
  }

  /** Parses the JSON form (PublicKeyCredentialRequestOptionsJSON). */
  static fromJSON(json: unknown, path = ""): PublicKeyCredentialRequestOptions {
    if (json instanceof PublicKeyCredentialRequestOptions) return json;
    const o = asObject(json, path);
    const ext = o.extensions;
    return new PublicKeyCredentialRequestOptions({
      challenge: reqBytes(o, "challenge", path),
      timeout: optInt(o, "timeout", path, 0),
      rpId: optString(o, "rpId", path),
      allowCredentials: optArray(
        o,
        "allowCredentials",
        path,
        PublicKeyCredentialDescriptor.fromJSON,
      ),
      userVerification: parseEnum(
        UserVerificationRequirement,
        o.userVerification,
        member(path, "userVerification"),
      ),
      hints: parseEnumList(PublicKeyCredentialHint, o.hints, member(path, "hints")),
      extensions: ext === undefined || ext === null
        ? undefined
        : AuthenticationExtensionsClientInputs.fromJSON(ext, member(path, "extensions")),
    });
  }

  /** The JSON form (PublicKeyCredentialRequestOptionsJSON). */
  toJSON(): JsonObject {
    return compact({
      challenge: b64(this.challenge),
      timeout: this.timeout,
      rpId: this.rpId,
      allowCredentials: this.allowCredentials?.map((d) => d.toJSON()),
      userVerification: this.userVerification,
      hints: this.hints ? [...this.hints] : undefined,
      extensions: this.extensions
        ? AuthenticationExtensionsClientInputs.toJSON(this.extensions)
        : undefined,
    });
  }
}

function unwrap(json: unknown): [unknown, string] {
  const o = asObject(json, "");
  return "publicKey" in o ? [o.publicKey, "publicKey"] : [o, ""];
}

/** `navigator.credentials.create()` argument: `{ publicKey }` (plus an optional signal). */
export class CredentialCreationOptions {
  /** `signal` aborts the ceremony; it is not part of the JSON form. */
  constructor(
    readonly publicKey: PublicKeyCredentialCreationOptions,
    readonly signal?: AbortSignal,
  ) {}

  /** Parses `{ publicKey: {...} }` or the bare creation options. */
  static fromJSON(json: unknown): CredentialCreationOptions {
    if (json instanceof CredentialCreationOptions) return json;
    const [inner, path] = unwrap(json);
    if (inner === undefined || inner === null) {
      throw new FormatError("publicKey: required member is missing");
    }
    return new CredentialCreationOptions(PublicKeyCredentialCreationOptions.fromJSON(inner, path));
  }

  /** The JSON form `{ publicKey }`. */
  toJSON(): JsonObject {
    return { publicKey: this.publicKey.toJSON() };
  }
}

/** `navigator.credentials.get()` argument: `{ publicKey }` (plus an optional signal). */
export class CredentialRequestOptions {
  /** `signal` aborts the ceremony; it is not part of the JSON form. */
  constructor(
    readonly publicKey: PublicKeyCredentialRequestOptions,
    readonly signal?: AbortSignal,
  ) {}

  /** Parses `{ publicKey: {...} }` or the bare request options. */
  static fromJSON(json: unknown): CredentialRequestOptions {
    if (json instanceof CredentialRequestOptions) return json;
    const [inner, path] = unwrap(json);
    if (inner === undefined || inner === null) {
      throw new FormatError("publicKey: required member is missing");
    }
    return new CredentialRequestOptions(PublicKeyCredentialRequestOptions.fromJSON(inner, path));
  }

  /** The JSON form `{ publicKey }`. */
  toJSON(): JsonObject {
    return { publicKey: this.publicKey.toJSON() };
  }
}
