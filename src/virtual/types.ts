/**
 * Internal contracts of the VirtualAuthenticator: between the command dispatcher
 * (`authenticator.ts`) and the command handlers (`pin.ts`, `credman.ts`, `bio.ts`, `large_blobs.ts`, `config.ts`).
 * @module
 */
import type { CborMap } from "../cbor.ts";
import type { RequestContext } from "../ctap.ts";

// The command-layer seam lives at the CTAP level (src/ctap.ts) so the transports that serve it
// (CTAPHID, UDP, a smart card front end) never depend on the virtual key; re-exported here for
// the handlers and existing imports.
export type { CtapProcessor, RequestContext } from "../ctap.ts";

/** Why the authenticator asks for user presence or verification. */
export type UserActionReason =
  | "makeCredential"
  | "getAssertion"
  | "reset"
  | "selection"
  | "u2fRegister"
  | "u2fAuthenticate"
  | "getPinUvAuthTokenUsingUv"
  | "bioEnrollment"
  | "config";

/** A decision of the user-presence/verification hooks. */
export type UserDecision = "approve" | "deny" | "timeout";

/** Decides a touch (or a fingerprint for UV): the test's or the demo's stand-in for a human. */
export type UserActionHook = (request: {
  readonly reason: UserActionReason;
  readonly rpId?: string;
  readonly signal: AbortSignal;
}) => UserDecision | Promise<UserDecision>;

/** One credential held by the virtual authenticator. */
export interface StoredCredential {
  /** The credential ID (random for discoverable ones, a sealed blob otherwise). */
  readonly id: Uint8Array;
  /** The RP ID the credential is bound to. */
  readonly rpId: string;
  /** RP name given at registration (updatable through credentialManagement). */
  rpName?: string;
  /** The account; name and displayName are updatable through credentialManagement. */
  user: { readonly id: Uint8Array; name?: string; displayName?: string };
  /** COSE algorithm (-7 ES256, -8 EdDSA, -35 ES384). */
  readonly alg: number;
  /** Raw private key: P-256/P-384 scalar or Ed25519 seed. */
  readonly privateKey: Uint8Array;
  /** COSE public key map. */
  readonly publicKey: CborMap;
  /** Whether it is stored (resident) rather than sealed into its ID. */
  readonly discoverable: boolean;
  /** Per-credential signature counter. */
  signCount: number;
  /** credProtect level 1..3. */
  readonly credProtect: number;
  /** hmac-secret CredRandomWithUV ‖ CredRandomWithoutUV (64 bytes), when requested. */
  readonly credRandom?: Uint8Array;
  /** Stored credBlob. */
  readonly credBlob?: Uint8Array;
  /** largeBlobKey, when the largeBlobKey extension was requested. */
  readonly largeBlobKey?: Uint8Array;
  /** Whether it was registered for payments. */
  readonly thirdPartyPayment?: boolean;
  /** Creation order, for credentialManagement enumeration. */
  readonly created: number;
}

/** pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7). */
export const PERMISSION = {
  MC: 0x01,
  GA: 0x02,
  CM: 0x04,
  BE: 0x08,
  LBW: 0x10,
  ACFG: 0x20,
  PCMR: 0x40,
} as const;

/**
 * PIN/UV state and token checks (implemented in `pin.ts`); the dispatcher and the other
 * handlers verify pinUvAuthParams only through this.
 */
export interface PinUvAuthApi {
  /** Whether a PIN has been set. */
  readonly isPinSet: boolean;
  /** getInfo `forcePINChange`. */
  readonly forcePinChange: boolean;
  /** Current minimum PIN length in code points. */
  readonly minPinLength: number;
  /** Supported pinUvAuthProtocols, preferred first. */
  readonly protocols: readonly number[];
  /**
   * Verifies `param` = authenticate(pinUvAuthToken, message) for `protocol`, then that the
   * current token has `permission` and, when given, is bound to (or binds to) `rpId`.
   * Throws `CtapError` with the CTAP status the spec prescribes (PIN_AUTH_INVALID,
   * PIN_TOKEN_EXPIRED…). Returns the token's flags.
   */
  verifyToken(args: {
    protocol: number;
    param: Uint8Array;
    message: Uint8Array;
    permission: number;
    rpId?: string;
  }): { userPresent: boolean; userVerified: boolean };
  /**
   * decapsulate(keyAgreement) with the current key-agreement key (CTAP 2.1 §6.5.6): the
   * shared secret the hmac-secret extension uses. Optional: without it the authenticator
   * does not offer hmac-secret. Throws `CtapError(INVALID_PARAMETER)` for a bad key.
   */
  decapsulate?(protocol: number, keyAgreement: CborMap): Uint8Array;
  /**
   * The persistentPinUvAuthToken (CTAP 2.2: a token whose only permission is pcmr; it
   * survives power cycles and does not expire), for the protocol it was issued under, or
   * undefined. getInfo encrypts `encIdentifier` under it.
   */
  persistentToken?(): Uint8Array | undefined;
  /** After a UP-consuming mc/ga: clears the token's UP/UV flags and non-LBW permissions. */
  consumeToken(): void;
  /** Handles authenticatorClientPin (0x06). */
  handleClientPin(params: CborMap, ctx: RequestContext): Promise<CborMap | undefined>;
  /** authenticatorConfig setMinPINLength: raises the minimum, may force a PIN change. */
  setMinPinLength(length: number, forceChange: boolean): void;
  /** Remaining PIN retries (getInfo / getPinRetries). */
  readonly pinRetries: number;
  /** Remaining built-in UV retries. */
  readonly uvRetries: number;
  /** Forgets PIN, tokens and retries (authenticatorReset). */
  reset(): void;
  /** Simulates a power cycle (clears the per-boot PIN retry block and the token). */
  powerCycle(): void;
  /** Persistent part of the state (PIN hash, retries, min length…) as JSON-safe data. */
  exportState(): PinUvPersistentState;
}

/** What survives a restart of a persisted virtual authenticator's PIN/UV state. */
export interface PinUvPersistentState {
  /** LEFT(SHA-256(PIN), 16) as hex, absent when no PIN is set. */
  readonly pinHash?: string;
  /** PIN code point length (to enforce minPinLength changes). */
  readonly pinLength?: number;
  /** PIN attempts left before the PIN is blocked. */
  readonly pinRetries: number;
  /** Built-in UV attempts left before UV falls back to the PIN. */
  readonly uvRetries: number;
  /** Minimum PIN length in code points. */
  readonly minPinLength: number;
  /** Whether the next PIN use must be a changePin. */
  readonly forcePinChange: boolean;
}

/** Construction options of the PIN/UV state (`new PinUvAuthState(options)` in `pin.ts`). */
export interface PinUvAuthOptions {
  /** pinUvAuthProtocols to offer, preferred first (default [2, 1]). */
  readonly protocols?: readonly number[];
  /** Initial PIN (set at start), if any. */
  readonly pin?: string;
  /** Minimum PIN length in code points (default 4). */
  readonly minPinLength?: number;
  /** Maximum PIN retries (default 8). */
  readonly maxPinRetries?: number;
  /** Maximum built-in UV retries (default 5). */
  readonly maxUvRetries?: number;
  /** Token usage window in ms after which a token expires (default 30 000 as CTAP 2.1). */
  readonly tokenLifetimeMs?: number;
  /**
   * Built-in user verification (fingerprint) for getPinUvAuthTokenUsingUvWithPermissions;
   * absent when the authenticator has no built-in UV. Resolves true on a match, false on a
   * mismatch (which costs a UV retry); throws CtapError for denial/timeout/cancel.
   */
  readonly verifyUser?: (ctx: RequestContext, rpId?: string) => Promise<boolean>;
  /** Restored persistent state (overrides `pin`). */
  readonly state?: PinUvPersistentState;
  /** Clock, for tests of token expiry. */
  readonly now?: () => number;
  /**
   * PERMISSION bits the authenticator can grant (features it has); asking for others is
   * UNAUTHORIZED_PERMISSION. Default: every bit, except `be` without `verifyUser`.
   */
  readonly supportedPermissions?: number;
  /**
   * The token model. "ctap2.1" (default): permission-scoped tokens bound to an RP and
   * consumed by a UP-checked mc/ga (all but lbw). "ctap2.0" (also 2.1-PRE): one pinToken per
   * power cycle with every right the key has, no permissions, no RP binding, never consumed.
   */
  readonly tokenModel?: "ctap2.0" | "ctap2.1";
  /** clientPin subcommands the key knows (default: all of CTAP 2.1). */
  readonly subcommands?: readonly number[];
  /** Status for any other subcommand (default CTAP2_ERR_INVALID_SUBCOMMAND). */
  readonly unknownSubcommandStatus?: number;
  /** Quirk: a consumed token loses every permission, lbw included. */
  readonly tokenSingleUse?: boolean;
}
