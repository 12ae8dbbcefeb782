/**
 * The WebAuthnClient interface and the result of an authentication ceremony, from which the
 * caller picks one credential when a discoverable-credential request matched several.
 * @module
 */
import type {
  AuthenticationResponse,
  CollectedClientData,
  RegistrationResponse,
} from "../webauthn.ts";
import {
  AuthenticationResponse as AuthenticationResponseClass,
  AuthenticatorAssertionResponse,
  CredentialCreationOptions,
  CredentialRequestOptions,
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
} from "../webauthn.ts";
import type { CborValue } from "../cbor.ts";
import { AssertionResponse } from "../ctap2/base.ts";
import type { AuthenticatorData } from "../webauthn/authdata.ts";
import { ClientError } from "./errors.ts";

/** Creation options in any accepted form: a class instance, its wrapper or their JSON. */
export type CreationOptionsInput =
  | PublicKeyCredentialCreationOptions
  | CredentialCreationOptions
  | Record<string, unknown>;

/** Request options in any accepted form: a class instance, its wrapper or their JSON. */
export type RequestOptionsInput =
  | PublicKeyCredentialRequestOptions
  | CredentialRequestOptions
  | Record<string, unknown>;

/** A signal given as the `signal` member of a `{ publicKey, signal }` wrapper, if any. */
function wrapperSignal(input: unknown): AbortSignal | undefined {
  if (input instanceof CredentialCreationOptions || input instanceof CredentialRequestOptions) {
    return input.signal;
  }
  if (typeof input !== "object" || input === null) return undefined;
  const s = (input as { signal?: unknown }).signal;
  if (s === undefined || s === null) return undefined;
  if (!(s instanceof AbortSignal)) {
    throw new ClientError(ClientError.ERR.BAD_REQUEST, "signal must be an AbortSignal");
  }
  return s;
}

function invalid(what: string, e: unknown): ClientError {
  return new ClientError(
    ClientError.ERR.BAD_REQUEST,
    `Invalid ${what} options: ${e instanceof Error ? e.message : String(e)}`,
    { cause: e },
  );
}

/**
 * The creation options and the wrapper's signal (`{ publicKey, signal }`, as
 * navigator.credentials.create takes them); bad JSON is a BAD_REQUEST `ClientError`.
 */
export function unwrapCreationOptions(
  input: CreationOptionsInput,
): [PublicKeyCredentialCreationOptions, AbortSignal | undefined] {
  if (input instanceof PublicKeyCredentialCreationOptions) return [input, undefined];
  const signal = wrapperSignal(input);
  if (input instanceof CredentialCreationOptions) return [input.publicKey, signal];
  try {
    return [CredentialCreationOptions.fromJSON(input).publicKey, signal];
  } catch (e) {
    throw invalid("creation", e);
  }
}

/** The request options and the wrapper's signal; see {@linkcode unwrapCreationOptions}. */
export function unwrapRequestOptions(
  input: RequestOptionsInput,
): [PublicKeyCredentialRequestOptions, AbortSignal | undefined] {
  if (input instanceof PublicKeyCredentialRequestOptions) return [input, undefined];
  const signal = wrapperSignal(input);
  if (input instanceof CredentialRequestOptions) return [input.publicKey, signal];
  try {
    return [CredentialRequestOptions.fromJSON(input).publicKey, signal];
  } catch (e) {
    throw invalid("request", e);
  }
}

/** Options of a single client call. */
export interface ClientCallOptions {
  /**
   * Cancels the operation (CTAPHID_CANCEL on USB keys); it then fails with TIMEOUT. A
   * `signal` on the `{ publicKey, signal }` wrapper is honoured too: either one aborts.
   */
  readonly signal?: AbortSignal;
}

/** What `Fido2Client` and `WindowsClient` both implement. */
export interface WebAuthnClient {
  /** Registers a new credential (navigator.credentials.create). */
  makeCredential(
    options: CreationOptionsInput,
    callOptions?: ClientCallOptions,
  ): Promise<RegistrationResponse>;
  /** Gets one or more assertions (navigator.credentials.get). */
  getAssertion(
    options: RequestOptionsInput,
    callOptions?: ClientCallOptions,
  ): Promise<AssertionSelection>;
}

/** One assertion as the client received it, with its client extension outputs. */
export interface ClientAssertion {
  /** The credential that signed. */
  readonly credentialId: Uint8Array;
  /** The authenticator data the signature covers. */
  readonly authenticatorData: AuthenticatorData;
  /** Signature over authenticatorData ‖ SHA-256(clientData). */
  readonly signature: Uint8Array;
  /** The user handle, present for discoverable credentials. */
  readonly userHandle?: Uint8Array;
  /** The user entity the authenticator returned (name/displayName only with UV). */
  readonly user?: {
    readonly id: Uint8Array;
    readonly name?: string;
    readonly displayName?: string;
  };
  /** Client extension outputs for this assertion. */
  readonly clientExtensionResults: Record<string, unknown>;
  /** "platform" for WindowsClient's platform authenticator, else "cross-platform". */
  readonly authenticatorAttachment?: string;
  /** The authenticator's CTAP2 response, when the client received one (Fido2Client). */
  readonly response?: AssertionResponse;
}

/** The CTAP2 response an assertion amounts to, for clients that got none (U2F, webauthn.dll). */
function ctapResponse(a: ClientAssertion): AssertionResponse {
  if (a.response) return a.response;
  const m = new Map<CborValue, CborValue>([
    [1, new Map<CborValue, CborValue>([["type", "public-key"], ["id", a.credentialId]])],
    [2, a.authenticatorData.raw],
    [3, a.signature],
  ]);
  if (a.user) {
    const user = new Map<CborValue, CborValue>([["id", a.user.id]]);
    if (a.user.name !== undefined) user.set("name", a.user.name);
    if (a.user.displayName !== undefined) user.set("displayName", a.user.displayName);
    m.set(4, user);
  } else if (a.userHandle) {
    m.set(4, new Map<CborValue, CborValue>([["id", a.userHandle]]));
  }
  return new AssertionResponse(m);
}

/**
 * The assertions of one getAssertion call. With an empty allowCredentials list the key may
 * return several discoverable credentials: show `getAssertions()` to the user (the `user`
 * member carries names) and answer the RP with `getResponse(chosen)`. As in python-fido2,
 * `getAssertions()` gives the authenticator's CTAP2 responses (user, numberOfCredentials,
 * userSelected, largeBlobKey); `getClientAssertions()` gives them with client extension
 * outputs.
 */
export class AssertionSelection {
  readonly #assertions: readonly ClientAssertion[];
  /** Throws ClientError DEVICE_INELIGIBLE when `assertions` is empty. */
  constructor(
    /** The client data all assertions signed over. */
    readonly clientData: CollectedClientData,
    assertions: readonly ClientAssertion[],
  ) {
    if (assertions.length === 0) {
      throw new ClientError(ClientError.ERR.DEVICE_INELIGIBLE, "No assertion was returned");
    }
    this.#assertions = assertions;
  }

  /**
   * The authenticator's CTAP2 getAssertion/getNextAssertion responses, in its order (most
   * recently created first); python-fido2's `get_assertions()`. For U2F keys and
   * `WindowsClient` they are built from what the key returned (no numberOfCredentials).
   */
  getAssertions(): readonly AssertionResponse[] {
    return this.#assertions.map(ctapResponse);
  }

  /** Every assertion as the client processed it, with its client extension outputs. */
  getClientAssertions(): readonly ClientAssertion[] {
    return this.#assertions;
  }

  /** How many credentials matched. */
  get length(): number {
    return this.#assertions.length;
  }

  /** The `AuthenticationResponse` to send to the relying party for assertion `index`. */
  getResponse(index = 0): AuthenticationResponse {
    const a = this.#assertions[index];
    if (!a) {
      throw new RangeError(`No assertion ${index}; there are ${this.#assertions.length}`);
    }
    return new AuthenticationResponseClass({
      rawId: a.credentialId,
      response: new AuthenticatorAssertionResponse({
        clientDataJSON: this.clientData,
        authenticatorData: a.authenticatorData,
        signature: a.signature,
        userHandle: a.userHandle,
      }),
      authenticatorAttachment: a.authenticatorAttachment ?? "cross-platform",
      clientExtensionResults: a.clientExtensionResults,
    });
  }
}
