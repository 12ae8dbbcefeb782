/**
 * The WebAuthnClient interface and the result of an authentication ceremony, from which the
 * caller picks one credential when a discoverable-credential request matched several.
 * @module
 */
import type {
  AuthenticationResponse,
  CollectedClientData,
  CredentialCreationOptions,
  CredentialRequestOptions,
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
  RegistrationResponse,
} from "../webauthn.ts";
import {
  AuthenticationResponse as AuthenticationResponseClass,
  AuthenticatorAssertionResponse,
} from "../webauthn.ts";
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

/** Options of a single client call. */
export interface ClientCallOptions {
  /** Cancels the operation (CTAPHID_CANCEL on USB keys); it then fails with TIMEOUT. */
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
}

/**
 * The assertions of one getAssertion call. With an empty allowCredentials list the key may
 * return several discoverable credentials: show `getAssertions()` to the user (the `user`
 * member carries names) and answer the RP with `getResponse(chosen)`.
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

  /** Every assertion, in the authenticator's order (most recently created first). */
  getAssertions(): readonly ClientAssertion[] {
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
