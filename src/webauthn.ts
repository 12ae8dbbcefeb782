/**
 * Public entry of the WebAuthn data model: the binary structures (authenticator data,
 * attestation object) and the JSON-capable classes a relying party exchanges with a client.
 * @module
 */
export * from "./webauthn/authdata.ts";
export * from "./webauthn/json.ts";
