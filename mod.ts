/**
 * @x/fido2: a FIDO2 / WebAuthn client for Deno and Bun.
 * @module
 */
export * from "./src/errors.ts";
export {
  type CallOptions,
  CAPABILITY,
  CTAP_STATUS,
  type CtapDevice,
  CtapError,
  STATUS,
} from "./src/ctap.ts";
