/**
 * The WebAuthn data model in its W3C WebAuthn Level 3 JSON forms: enums, options, client
 * data, responses and client extensions.
 * @module
 */
export * from "./enums.ts";
export * from "./extensions.ts";
export * from "./clientdata.ts";
export * from "./options.ts";
export * from "./responses.ts";
export type { JsonObject } from "./jsonread.ts";
export { coseKeyToSpki } from "./spki.ts";
