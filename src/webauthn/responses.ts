/**
 * What a client returns: the attestation and assertion responses and the
 * `RegistrationResponse` / `AuthenticationResponse` credentials around them, with the W3C
 * WebAuthn L3 JSON forms (RegistrationResponseJSON, AuthenticationResponseJSON) that servers
 * such as @simplewebauthn/server verify.
 * @module
 */
import { FormatError } from "../errors.ts";
import { b64urlEncode, bytesEqual } from "../utils.ts";
import { AttestationObject, AuthenticatorData } from "./authdata.ts";
import { CollectedClientData } from "./clientdata.ts";
import {
  AuthenticatorAttachment,
  AuthenticatorTransport,
  parseEnum,
  parseEnumList,
  PublicKeyCredentialType,
} from "./enums.ts";
import { AuthenticationExtensionsClientOutputs } from "./extensions.ts";
import {
  asObject,
  b64,
  bytesValue,
  compact,
  type JsonObject,
  member,
  optBytes,
  optInt,
  reqBytes,
  reqString,
  reqValue,
} from "./jsonread.ts";
import { coseKeyToSpki } from "./spki.ts";

function parseAttestationObject(bytes: Uint8Array, path: string): AttestationObject {
  try {
    return AttestationObject.parse(bytes);
  } catch (e) {
    throw new FormatError(`${path}: ${(e as Error).message}`, { cause: e });
  }
}

function parseAuthData(bytes: Uint8Array, path: string): AuthenticatorData {
  try {
    return AuthenticatorData.parse(bytes);
  } catch (e) {
    throw new FormatError(`${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The authenticator's answer to a registration (§5.2.1). */
export class AuthenticatorAttestationResponse {
  /** The client data (the W3C member name; its bytes are `clientDataJSON.raw`). */
  readonly clientDataJSON: CollectedClientData;
  /** The attestation object (authenticator data and statement). */
  readonly attestationObject: AttestationObject;
  /** Transports the authenticator is reachable over (may be empty). */
  readonly transports: readonly AuthenticatorTransport[];

  /** Throws FormatError when the attestation has no credential; unknown transports are dropped. */
  constructor(init: {
    readonly clientDataJSON: CollectedClientData;
    readonly attestationObject: AttestationObject;
    readonly transports?: readonly string[];
  }) {
    if (!init.attestationObject.authData.credentialData) {
      throw new FormatError("attestationObject: authenticator data has no attested credential");
    }
    this.clientDataJSON = init.clientDataJSON;
    this.attestationObject = init.attestationObject;
    this.transports = parseEnumList(AuthenticatorTransport, init.transports ?? [], "") ?? [];
  }

  /** Alias of {@linkcode clientDataJSON}. */
  get clientData(): CollectedClientData {
    return this.clientDataJSON;
  }

  /** The authenticator data inside the attestation object. */
  get authenticatorData(): AuthenticatorData {
    return this.attestationObject.authData;
  }

  /** COSE algorithm of the new credential's public key. */
  get publicKeyAlgorithm(): number {
    return this.authenticatorData.credentialData!.publicKey.get(3) as number;
  }

  /** The new credential's public key as DER SubjectPublicKeyInfo, when it has that form. */
  getPublicKey(): Uint8Array | undefined {
    return coseKeyToSpki(this.authenticatorData.credentialData!.publicKey);
  }

  /**
   * Parses AuthenticatorAttestationResponseJSON. The derived members (authenticatorData,
   * publicKeyAlgorithm) must agree with the attestation object when present.
   */
  static fromJSON(json: unknown, path = ""): AuthenticatorAttestationResponse {
    if (json instanceof AuthenticatorAttestationResponse) return json;
    const o = asObject(json, path);
    const clientDataJSON = CollectedClientData.fromJSON(
      reqValue(o, "clientDataJSON", path),
      member(path, "clientDataJSON"),
    );
    const attPath = member(path, "attestationObject");
    const attestationObject = parseAttestationObject(
      reqBytes(o, "attestationObject", path),
      attPath,
    );
    if (!attestationObject.authData.credentialData) {
      throw new FormatError(`${attPath}: authenticator data has no attested credential`);
    }
    const authData = optBytes(o, "authenticatorData", path);
    if (authData && !bytesEqual(authData, attestationObject.authData.raw)) {
      throw new FormatError(
        `${member(path, "authenticatorData")}: does not match the attestation object`,
      );
    }
    const alg = optInt(o, "publicKeyAlgorithm", path);
    if (alg !== undefined && alg !== attestationObject.authData.credentialData.publicKey.get(3)) {
      throw new FormatError(
        `${member(path, "publicKeyAlgorithm")}: does not match the credential public key`,
      );
    }
    optBytes(o, "publicKey", path);
    return new AuthenticatorAttestationResponse({
      clientDataJSON,
      attestationObject,
      transports: parseEnumList(AuthenticatorTransport, o.transports, member(path, "transports")),
    });
  }

  /** AuthenticatorAttestationResponseJSON; `publicKey` only when the key has an SPKI form. */
  toJSON(): JsonObject {
    const spki = this.getPublicKey();
    return compact({
      clientDataJSON: this.clientDataJSON.b64,
      authenticatorData: b64(this.authenticatorData.raw),
      transports: [...this.transports],
      publicKey: spki ? b64(spki) : undefined,
      publicKeyAlgorithm: this.publicKeyAlgorithm,
      attestationObject: b64(this.attestationObject.raw),
    });
  }
}

/** The authenticator's answer to an authentication (§5.2.2). */
export class AuthenticatorAssertionResponse {
  /** The client data (the W3C member name; its bytes are `clientDataJSON.raw`). */
  readonly clientDataJSON: CollectedClientData;
  /** The authenticator data the signature covers. */
  readonly authenticatorData: AuthenticatorData;
  /** Signature over authenticatorData ‖ SHA-256(clientDataJSON). */
  readonly signature: Uint8Array;
  /** The user handle of a discoverable credential (absent for non-discoverable ones). */
  readonly userHandle?: Uint8Array;

  /** Copies the byte members. */
  constructor(init: {
    readonly clientDataJSON: CollectedClientData;
    readonly authenticatorData: AuthenticatorData;
    readonly signature: Uint8Array;
    readonly userHandle?: Uint8Array;
  }) {
    this.clientDataJSON = init.clientDataJSON;
    this.authenticatorData = init.authenticatorData;
    this.signature = init.signature.slice();
    if (init.userHandle !== undefined) this.userHandle = init.userHandle.slice();
  }

  /** Alias of {@linkcode clientDataJSON}. */
  get clientData(): CollectedClientData {
    return this.clientDataJSON;
  }

  /** Parses AuthenticatorAssertionResponseJSON. */
  static fromJSON(json: unknown, path = ""): AuthenticatorAssertionResponse {
    if (json instanceof AuthenticatorAssertionResponse) return json;
    const o = asObject(json, path);
    return new AuthenticatorAssertionResponse({
      clientDataJSON: CollectedClientData.fromJSON(
        reqValue(o, "clientDataJSON", path),
        member(path, "clientDataJSON"),
      ),
      authenticatorData: parseAuthData(
        reqBytes(o, "authenticatorData", path),
        member(path, "authenticatorData"),
      ),
      signature: reqBytes(o, "signature", path),
      userHandle: optBytes(o, "userHandle", path),
    });
  }

  /** AuthenticatorAssertionResponseJSON. */
  toJSON(): JsonObject {
    return compact({
      clientDataJSON: this.clientDataJSON.b64,
      authenticatorData: b64(this.authenticatorData.raw),
      signature: b64(this.signature),
      userHandle: this.userHandle ? b64(this.userHandle) : undefined,
    });
  }
}

interface CredentialInit<R> {
  readonly rawId: Uint8Array;
  readonly response: R;
  readonly authenticatorAttachment?: string;
  readonly clientExtensionResults?:
    | AuthenticationExtensionsClientOutputs
    | Readonly<Record<string, unknown>>;
}

interface CredentialParts<R> {
  rawId: Uint8Array;
  response: R;
  authenticatorAttachment?: AuthenticatorAttachment;
  clientExtensionResults: AuthenticationExtensionsClientOutputs;
}

function credentialFromJSON<R>(
  json: unknown,
  path: string,
  parseResponse: (v: unknown, p: string) => R,
): CredentialParts<R> {
  const o = asObject(json, path);
  const id = reqString(o, "id", path);
  const rawId = reqBytes(o, "rawId", path);
  if (!bytesEqual(bytesValue(id, member(path, "id")), rawId)) {
    throw new FormatError(`${member(path, "id")}: does not match rawId`);
  }
  const type = reqString(o, "type", path);
  if (type !== PublicKeyCredentialType.PUBLIC_KEY) {
    throw new FormatError(`${member(path, "type")}: expected "public-key", got ${type}`);
  }
  return {
    rawId,
    response: parseResponse(reqValue(o, "response", path), member(path, "response")),
    authenticatorAttachment: parseEnum(
      AuthenticatorAttachment,
      o.authenticatorAttachment,
      member(path, "authenticatorAttachment"),
    ),
    clientExtensionResults: AuthenticationExtensionsClientOutputs.fromJSON(
      reqValue(o, "clientExtensionResults", path),
      member(path, "clientExtensionResults"),
    ),
  };
}

/** What registration and authentication credentials share (§5.1). */
export abstract class PublicKeyCredentialBase<R extends { toJSON(): JsonObject }> {
  /** The credential ID. */
  readonly rawId: Uint8Array;
  /** The authenticator's response. */
  readonly response: R;
  /** "platform" or "cross-platform", when the client knows it. */
  readonly authenticatorAttachment?: AuthenticatorAttachment;
  /** Client extension outputs. */
  readonly clientExtensionResults: AuthenticationExtensionsClientOutputs;
  /** Always "public-key". */
  readonly type: PublicKeyCredentialType = PublicKeyCredentialType.PUBLIC_KEY;

  /** Copies `rawId`; throws FormatError when it is not bytes. */
  constructor(init: CredentialInit<R>) {
    if (!(init.rawId instanceof Uint8Array)) throw new FormatError("rawId must be bytes");
    this.rawId = init.rawId.slice();
    this.response = init.response;
    const att = parseEnum(AuthenticatorAttachment, init.authenticatorAttachment, "");
    if (att !== undefined) this.authenticatorAttachment = att;
    this.clientExtensionResults =
      (init.clientExtensionResults ?? {}) as AuthenticationExtensionsClientOutputs;
  }

  /** The credential ID as base64url (the `id` member). */
  get id(): string {
    return b64urlEncode(this.rawId);
  }

  /** The JSON form a server verifies. */
  toJSON(): JsonObject {
    return compact({
      id: this.id,
      rawId: this.id,
      response: this.response.toJSON(),
      authenticatorAttachment: this.authenticatorAttachment,
      clientExtensionResults: AuthenticationExtensionsClientOutputs.toJSON(
        this.clientExtensionResults,
      ),
      type: this.type,
    });
  }
}

/** The result of creating a credential (RegistrationResponseJSON in JSON). */
export class RegistrationResponse
  extends PublicKeyCredentialBase<AuthenticatorAttestationResponse> {
  /** Parses RegistrationResponseJSON; `id` must encode the same bytes as `rawId`. */
  static fromJSON(json: unknown, path = ""): RegistrationResponse {
    if (json instanceof RegistrationResponse) return json;
    return new RegistrationResponse(
      credentialFromJSON(json, path, AuthenticatorAttestationResponse.fromJSON),
    );
  }
}

/** The result of an authentication (AuthenticationResponseJSON in JSON). */
export class AuthenticationResponse
  extends PublicKeyCredentialBase<AuthenticatorAssertionResponse> {
  /** Parses AuthenticationResponseJSON; `id` must encode the same bytes as `rawId`. */
  static fromJSON(json: unknown, path = ""): AuthenticationResponse {
    if (json instanceof AuthenticationResponse) return json;
    return new AuthenticationResponse(
      credentialFromJSON(json, path, AuthenticatorAssertionResponse.fromJSON),
    );
  }
}
