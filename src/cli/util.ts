/**
 * Small conversions shared by the commands: credential IDs on the command line, flag names.
 * @module
 */
import { b64urlDecode, b64urlEncode } from "../utils.ts";
import { UsageError } from "./errors.ts";

/** Parses a base64url credential ID given on the command line. */
export function parseCredentialId(text: string, what = "credential ID"): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = b64urlDecode(text);
  } catch {
    throw new UsageError(`Invalid ${what} ${JSON.stringify(text)}: expected base64url`);
  }
  if (bytes.length === 0) throw new UsageError(`Empty ${what}`);
  return bytes;
}

/** base64url, as WebAuthn JSON spells credential IDs. */
export const b64 = (bytes: Uint8Array): string => b64urlEncode(bytes);

/** Parses a non-negative integer argument. */
export function parseUint(text: string, what: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${what} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
