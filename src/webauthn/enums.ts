/**
 * WebAuthn string enumerations (WebAuthn L3 §5.4, §5.8). Each is a `const` object plus a
 * union type of its values. The spec makes these DOMStrings so that relying parties can send
 * values newer than the client: {@linkcode parseEnum} turns an unknown value into `undefined`
 * (and {@linkcode parseEnumList} drops it) instead of failing.
 * @module
 */
import { FormatError } from "../errors.ts";

/** How much attestation the relying party wants (§5.4.7). */
export const AttestationConveyancePreference = {
  NONE: "none",
  INDIRECT: "indirect",
  DIRECT: "direct",
  ENTERPRISE: "enterprise",
} as const;
/** A value of {@linkcode AttestationConveyancePreference}. */
export type AttestationConveyancePreference =
  (typeof AttestationConveyancePreference)[keyof typeof AttestationConveyancePreference];

/** Whether user verification is required, preferred or discouraged (§5.8.6). */
export const UserVerificationRequirement = {
  REQUIRED: "required",
  PREFERRED: "preferred",
  DISCOURAGED: "discouraged",
} as const;
/** A value of {@linkcode UserVerificationRequirement}. */
export type UserVerificationRequirement =
  (typeof UserVerificationRequirement)[keyof typeof UserVerificationRequirement];

/** Whether a discoverable (resident) credential is wanted (§5.4.6). */
export const ResidentKeyRequirement = {
  REQUIRED: "required",
  PREFERRED: "preferred",
  DISCOURAGED: "discouraged",
} as const;
/** A value of {@linkcode ResidentKeyRequirement}. */
export type ResidentKeyRequirement =
  (typeof ResidentKeyRequirement)[keyof typeof ResidentKeyRequirement];

/** Platform (built-in) or cross-platform (roaming) authenticator (§5.4.5). */
export const AuthenticatorAttachment = {
  PLATFORM: "platform",
  CROSS_PLATFORM: "cross-platform",
} as const;
/** A value of {@linkcode AuthenticatorAttachment}. */
export type AuthenticatorAttachment =
  (typeof AuthenticatorAttachment)[keyof typeof AuthenticatorAttachment];

/** How the client may reach an authenticator (§5.8.4). */
export const AuthenticatorTransport = {
  USB: "usb",
  NFC: "nfc",
  BLE: "ble",
  SMART_CARD: "smart-card",
  HYBRID: "hybrid",
  INTERNAL: "internal",
} as const;
/** A value of {@linkcode AuthenticatorTransport}. */
export type AuthenticatorTransport =
  (typeof AuthenticatorTransport)[keyof typeof AuthenticatorTransport];

/** Credential type; WebAuthn defines only "public-key" (§5.8.2). */
export const PublicKeyCredentialType = {
  PUBLIC_KEY: "public-key",
} as const;
/** A value of {@linkcode PublicKeyCredentialType}. */
export type PublicKeyCredentialType =
  (typeof PublicKeyCredentialType)[keyof typeof PublicKeyCredentialType];

/** UI hints from the relying party (§5.8.7). */
export const PublicKeyCredentialHint = {
  SECURITY_KEY: "security-key",
  CLIENT_DEVICE: "client-device",
  HYBRID: "hybrid",
} as const;
/** A value of {@linkcode PublicKeyCredentialHint}. */
export type PublicKeyCredentialHint =
  (typeof PublicKeyCredentialHint)[keyof typeof PublicKeyCredentialHint];

/** True when `value` is one of the values of the enum object `values`. */
export function isEnumValue<T extends Record<string, string>>(
  values: T,
  value: unknown,
): value is T[keyof T] {
  return typeof value === "string" && Object.values(values).includes(value);
}

/**
 * Reads an optional enum member: absent/null → undefined, unknown string → undefined (as
 * the spec requires), anything but a string → `FormatError` naming `path`.
 */
export function parseEnum<T extends Record<string, string>>(
  values: T,
  value: unknown,
  path: string,
): T[keyof T] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new FormatError(`${path}: expected a string`);
  return isEnumValue(values, value) ? value : undefined;
}

/** Reads an optional list of enum values, dropping unknown strings. */
export function parseEnumList<T extends Record<string, string>>(
  values: T,
  value: unknown,
  path: string,
): T[keyof T][] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new FormatError(`${path}: expected an array`);
  const out: T[keyof T][] = [];
  value.forEach((v, i) => {
    const e = parseEnum(values, v, `${path}[${i}]`);
    if (e !== undefined) out.push(e);
  });
  return out;
}
