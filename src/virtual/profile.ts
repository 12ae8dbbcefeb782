/**
 * Generation profiles of the VirtualAuthenticator: which commands, subcommands, getInfo
 * members, options and extensions a deployed key of each CTAP generation has, and how it
 * answers what it does not have. The test bed must refuse what real keys refuse, or it only
 * proves that the client agrees with itself (issue 12).
 * @module
 */
import { CLIENT_PIN_SUB, CMD } from "../ctap2/constants.ts";
import { CTAP_STATUS } from "../ctap.ts";
import { FormatError } from "../errors.ts";

/** A generation of security key the virtual authenticator imitates. */
export type AuthenticatorProfile =
  /** A U2F (CTAP1) key without CTAPHID_CBOR, e.g. a YubiKey NEO / Security Key (2013-2018). */
  | "u2f-only"
  /** CTAP 2.0 (FIDO_2_0): clientPin subcommands 0x01-0x05, no permissions (YubiKey 5 fw 5.1). */
  | "ctap2.0"
  /** CTAP 2.1 review draft (FIDO_2_1_PRE): prototype commands 0x40/0x41, no permissions. */
  | "ctap2.1-pre"
  /** CTAP 2.1 (FIDO_2_1): permissions, credMgmt, bioEnroll, largeBlobs, authenticatorConfig. */
  | "ctap2.1"
  /** CTAP 2.2 (FIDO_2_2): adds hmac-secret-mc, thirdPartyPayment and persistent tokens. */
  | "ctap2.2";

/** Every profile, oldest first. */
export const PROFILES: readonly AuthenticatorProfile[] = [
  "u2f-only",
  "ctap2.0",
  "ctap2.1-pre",
  "ctap2.1",
  "ctap2.2",
];

/**
 * Behaviour seen in shipped firmware that the spec does not prescribe (or forbids), switched
 * on one by one so the client can be tested against each.
 */
export interface AuthenticatorQuirks {
  /**
   * A pinUvAuthToken loses every permission, lbw included, once a makeCredential or
   * getAssertion used it (CTAP 2.1 keeps lbw), so a largeBlob write after the assertion
   * fails with PIN_AUTH_INVALID.
   */
  readonly tokenSingleUse?: boolean;
  /** credentialManagement enumerateRPs reports the user's name as the RP's name. */
  readonly rpNameIsUserName?: boolean;
  /** getInfo leaves out `algorithms` (0x0A) although the key is CTAP 2.1-PRE or later. */
  readonly noAlgorithms?: boolean;
  /** CTAPHID_INIT gets no answer at all for this many ms after power-up. */
  readonly initSilenceMs?: number;
  /**
   * A 2.1-PRE key that reports the final `credMgmt` option (not `credentialMgmtPreview`) and
   * answers both 0x0A and 0x41, still without updateUserInformation: Solo 1 and Nitrokey
   * FIDO2 firmware, the key of issue 12.
   */
  readonly credMgmtOnPre?: boolean;
  /**
   * A U2F-only key whose CTAPHID_INIT answer sets the CBOR capability bit (0x04, unassigned in
   * U2FHID) although CTAPHID_CBOR gets ERR_INVALID_CMD: YubiKey 4 firmware 4.4.5 (libfido2
   * issues #195 and #342), which clients must fall back to U2F on. Profile "u2f-only" only.
   */
  readonly cborCapabilityWithoutCtap2?: boolean;
}

/** What a profile has; derived once from the profile name. */
export interface ProfileFeatures {
  /** The profile this describes. */
  readonly name: AuthenticatorProfile;
  /** CTAPHID_CBOR capability. */
  readonly cbor: boolean;
  /** getInfo versions after U2F_V2. */
  readonly versions: readonly string[];
  /** clientPin subcommands the key knows. */
  readonly pinSubcommands: readonly number[];
  /**
   * Status for a clientPin subcommand the key does not know. CTAP 2.0 has no
   * CTAP2_ERR_INVALID_SUBCOMMAND (0x3E arrived with 2.1); the public 2.0-era firmware (Solo 1,
   * Nitrokey FIDO2, fido2/ctap.c `ctap_client_pin`) answers CTAP1_ERR_OTHER, 0x7F, which is
   * also what the trace shows.
   */
  readonly unknownPinSubcommand: number;
  /** Status for a credentialManagement subcommand the key does not know. */
  readonly unknownCredMgmtSubcommand: number;
  /** getPinUvAuthTokenUsing{Pin,Uv}WithPermissions and the `pinUvAuthToken` option. */
  readonly permissions: boolean;
  /** Credential management: none, the prototype 0x41 only, or 0x0A (and 0x41). */
  readonly credMgmt: "none" | "preview" | "final";
  /** Bio enrollment: none, the prototype 0x40 only, or 0x09 (and 0x40). */
  readonly bio: "none" | "preview" | "final";
  /** authenticatorLargeBlobs, authenticatorConfig, authenticatorSelection, 2.1 options. */
  readonly ctap21: boolean;
  /** maxCredentialCountInList / maxCredentialIdLength (0x07, 0x08) in getInfo. */
  readonly listLimits: boolean;
  /**
   * getInfo `algorithms` (0x0A), which arrived with the 2.1 review draft: both recorded
   * 2.1-PRE keys (Yubico 5.2.1, YubiKey 5 NFC) list it, no 2.0 key does.
   */
  readonly algorithms: boolean;
  /** The credProtect extension (2.1-PRE on). */
  readonly credProtect: boolean;
  /** CTAP 2.2 additions: hmac-secret-mc, thirdPartyPayment, perCredMgmtRO. */
  readonly ctap22: boolean;
  /** pinUvAuthProtocols when not configured. */
  readonly defaultProtocols: readonly number[];
}

const LEGACY_PIN_SUBS = [
  CLIENT_PIN_SUB.GET_PIN_RETRIES,
  CLIENT_PIN_SUB.GET_KEY_AGREEMENT,
  CLIENT_PIN_SUB.SET_PIN,
  CLIENT_PIN_SUB.CHANGE_PIN,
  CLIENT_PIN_SUB.GET_PIN_TOKEN,
];
const ALL_PIN_SUBS = [
  ...LEGACY_PIN_SUBS,
  CLIENT_PIN_SUB.GET_TOKEN_USING_UV,
  CLIENT_PIN_SUB.GET_UV_RETRIES,
  CLIENT_PIN_SUB.GET_TOKEN_USING_PIN,
];

/** The features of `profile`; throws FormatError for an unknown name. */
export function profileFeatures(profile: AuthenticatorProfile): ProfileFeatures {
  const level = PROFILES.indexOf(profile);
  if (level < 0) {
    throw new FormatError(
      `Unknown authenticator profile ${JSON.stringify(profile)} (use one of ${
        PROFILES.join(", ")
      })`,
    );
  }
  const pre = level >= 2;
  const v21 = level >= 3;
  const v22 = level >= 4;
  return {
    name: profile,
    cbor: level >= 1,
    versions: [
      "FIDO_2_0",
      ...(pre ? ["FIDO_2_1_PRE"] : []),
      ...(v21 ? ["FIDO_2_1"] : []),
      ...(v22 ? ["FIDO_2_2"] : []),
    ],
    pinSubcommands: v21 ? ALL_PIN_SUBS : LEGACY_PIN_SUBS,
    unknownPinSubcommand: v21 ? CTAP_STATUS.INVALID_SUBCOMMAND : CTAP_STATUS.OTHER,
    // Solo 1's ctap_cred_mgmt answers an unknown subcommand with CTAP1_ERR_INVALID_COMMAND.
    unknownCredMgmtSubcommand: v21 ? CTAP_STATUS.INVALID_SUBCOMMAND : CTAP_STATUS.INVALID_COMMAND,
    permissions: v21,
    credMgmt: v21 ? "final" : pre ? "preview" : "none",
    bio: v21 ? "final" : pre ? "preview" : "none",
    ctap21: v21,
    listLimits: pre,
    algorithms: pre,
    credProtect: pre,
    ctap22: v22,
    defaultProtocols: v21 ? [2, 1] : [1],
  };
}

/** Commands a profile never has, whatever handlers are registered. */
export function isCommandInProfile(
  features: ProfileFeatures,
  cmd: number,
  quirks: AuthenticatorQuirks = {},
): boolean {
  switch (cmd) {
    case CMD.CREDENTIAL_MGMT:
      return features.credMgmt === "final" ||
        (features.credMgmt === "preview" && quirks.credMgmtOnPre === true);
    case CMD.CREDENTIAL_MGMT_PRE:
      return features.credMgmt !== "none";
    case CMD.BIO_ENROLLMENT:
      return features.bio === "final";
    case CMD.BIO_ENROLLMENT_PRE:
      return features.bio !== "none";
    case CMD.LARGE_BLOBS:
    case CMD.CONFIG:
    case CMD.SELECTION:
      return features.ctap21;
    default:
      return true;
  }
}

/** The options that pick a profile (the newer `profile` and the older booleans). */
export interface ProfileSelection {
  /** The profile by name. */
  readonly profile?: AuthenticatorProfile;
  /** false: "ctap2.0". */
  readonly ctap21?: boolean;
  /** true: "u2f-only". */
  readonly u2fOnly?: boolean;
}

/** The profile `options` ask for: `profile`, else the `ctap21`/`u2fOnly` aliases. */
export function resolveProfile(o: ProfileSelection): AuthenticatorProfile {
  const alias: AuthenticatorProfile | undefined = o.u2fOnly
    ? "u2f-only"
    : o.ctap21 === false
    ? "ctap2.0"
    : undefined;
  if (o.profile !== undefined && alias !== undefined && o.profile !== alias) {
    throw new FormatError(
      `profile ${JSON.stringify(o.profile)} contradicts ${o.u2fOnly ? "u2fOnly" : "ctap21: false"}`,
    );
  }
  if (o.profile === "u2f-only" || o.u2fOnly) return "u2f-only";
  if (o.profile !== undefined && o.ctap21 === true && profileFeatures(o.profile).ctap21 === false) {
    throw new FormatError(`profile ${JSON.stringify(o.profile)} contradicts ctap21: true`);
  }
  return o.profile ?? alias ?? "ctap2.2";
}
