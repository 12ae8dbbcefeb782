/**
 * CTAP2 command layer: the `Ctap2` command set, getInfo, and the credential management,
 * bio enrollment, large blob and authenticator config helpers built on it.
 * @module
 */
export * from "./base.ts";
export * from "./info.ts";
export * from "./credman.ts";
export * from "./bio.ts";
export * from "./blob.ts";
export * from "./config.ts";
export { ClientPin, type ClientPinCtap, encodePin, PinPolicyError } from "./pin.ts";
export { decapsulate, generateKeyAgreementKey, type KeyAgreementKey } from "./key_agreement.ts";
export { PinProtocolV1, PinProtocolV2, type PinUvAuthProtocol } from "./pin_protocol.ts";
