/**
 * `VirtualAuthenticator`: a software CTAP 2.1 + U2F security key reachable over real CTAPHID
 * framing, in memory or over UDP. For tests, demos and CI, where no key is plugged in.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { CtapHidDevice, type CtapHidDeviceOptions } from "../hid/device.ts";
import { createConnectionPair, type HidConnection } from "../hid/connection.ts";
import type { HidFaults } from "../hid/faults.ts";
import { CtapHidServer, type CtapHidServerOptions } from "../hid/server.ts";
import { serveUdp, type UdpServer } from "../hid/udp.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import {
  CtapAuthenticator,
  type CtapAuthenticatorState,
  type VirtualAuthenticatorOptions as CoreOptions,
} from "./authenticator.ts";
import { PinUvAuthState } from "./pin.ts";
import {
  PERMISSION,
  type PinUvAuthOptions,
  type PinUvPersistentState,
  type RequestContext,
} from "./types.ts";
import { CTAP_CMD } from "./authenticator.ts";
import { CredentialManagementHandler } from "./credman.ts";
import { LargeBlobsHandler } from "./large_blobs.ts";
import { ConfigHandler } from "./config.ts";
import { BioEnrollmentHandler, type BioEnrollmentOptions, type BioTemplateJson } from "./bio.ts";
import { CtapCard, type CtapCardOptions } from "./card.ts";
import { connectVpcd, type VpcdConnection, type VpcdOptions } from "./vpcd.ts";
import { type AuthenticatorProfile, profileFeatures, resolveProfile } from "./profile.ts";

export {
  type AttestationMode,
  type CommandHandler,
  CtapAuthenticator,
  type CtapAuthenticatorState,
  DEFAULT_AAGUID,
  type SignCountStrategy,
  type VirtualAuthenticatorOptions as CtapAuthenticatorOptions,
} from "./authenticator.ts";
export type {
  CredentialStore,
  CredentialStoreState,
  StoredCredentialJson,
  WrappedFields,
} from "./credential_store.ts";
export { PinUvAuthState } from "./pin.ts";
export {
  type AuthenticatorProfile,
  type AuthenticatorQuirks,
  type ProfileFeatures,
  profileFeatures,
  PROFILES,
} from "./profile.ts";
export { CredentialManagementHandler } from "./credman.ts";
export { EMPTY_LARGE_BLOB_ARRAY, LargeBlobsHandler } from "./large_blobs.ts";
export { ConfigHandler } from "./config.ts";
export {
  BioEnrollmentHandler,
  type BioEnrollmentOptions,
  type BioTemplateJson,
  type CaptureSampleHook,
  SAMPLE_STATUS,
} from "./bio.ts";
export {
  ApduFormatError,
  type CommandApdu,
  contactlessAtr,
  CtapCard,
  type CtapCardOptions,
  FIDO_AID,
  parseCommandApdu,
  SW as CARD_SW,
} from "./card.ts";
export { connectVpcd, VPCD_PORT, type VpcdConnection, type VpcdOptions } from "./vpcd.ts";
export type {
  CtapProcessor,
  PinUvAuthApi,
  PinUvAuthOptions,
  PinUvPersistentState,
  RequestContext,
  StoredCredential,
  UserActionHook,
  UserActionReason,
  UserDecision,
} from "./types.ts";

/** Options of a {@linkcode VirtualAuthenticator}. */
export interface VirtualAuthenticatorOptions extends Omit<CoreOptions, "pinUvAuth" | "state"> {
  /** Support clientPin (default true). A key without a PIN set reports clientPin: false. */
  readonly clientPin?: boolean;
  /** PIN set at start. */
  readonly pin?: string;
  /** PIN/UV state options (protocols, retries, min length, token lifetime). */
  readonly pinOptions?: Omit<PinUvAuthOptions, "pin" | "state">;
  /** Restored state from {@linkcode VirtualAuthenticator.exportState}. */
  readonly state?: VirtualAuthenticatorState;
  /** File to load the state from at start (when it exists) and save it to after changes. */
  readonly stateFile?: string;
  /** authenticatorCredentialManagement (default true; needs clientPin). */
  readonly credMgmt?: boolean;
  /** authenticatorLargeBlobs and the largeBlobKey extension (default true, CTAP 2.1 only). */
  readonly largeBlobs?: boolean;
  /** authenticatorConfig (default true, CTAP 2.1 only). */
  readonly authenticatorConfig?: boolean;
  /** Offer enterprise attestation through authenticatorConfig (default true). */
  readonly enterpriseAttestation?: boolean;
  /**
   * authenticatorBioEnrollment for the simulated fingerprint sensor (only with `uv`; default
   * on). `templates` defaults to one enrolled finger, which is what `uv: true` promises.
   */
  readonly bioEnrollment?: false | Omit<BioEnrollmentOptions, "pinUvAuth">;
}

/** Everything a persisted virtual authenticator keeps: credentials and PIN state. */
export interface VirtualAuthenticatorState {
  /** The generation it was created as (absent in files written before profiles existed). */
  readonly profile?: AuthenticatorProfile;
  /** Credentials, counters and attestation keys. */
  readonly authenticator: CtapAuthenticatorState;
  /** PIN, retry counters and minimum PIN length; absent without clientPin. */
  readonly pin?: PinUvPersistentState;
  /** The serialized large-blob array (hex). */
  readonly largeBlobs?: string;
  /** Enrolled fingerprint templates. */
  readonly bio?: readonly BioTemplateJson[];
  /** authenticatorConfig settings. */
  readonly config?: {
    readonly alwaysUv: boolean;
    readonly enterpriseAttestation: boolean;
    readonly minPinLengthRpIds: readonly string[];
  };
}

/**
 * The profile: what the options ask for, else the one the state was saved with. A state
 * made by one generation is not silently reopened as another.
 */
function profileOf(
  options: VirtualAuthenticatorOptions,
  state: VirtualAuthenticatorState | undefined,
): AuthenticatorProfile {
  // ctap21: true and u2fOnly: false only say "not an older kind": they pick no generation.
  const asked = options.profile !== undefined || options.ctap21 === false ||
    options.u2fOnly === true;
  const saved = state?.profile;
  if (saved !== undefined) profileFeatures(saved); // FormatError for an unknown name
  if (!asked) return saved ?? resolveProfile(options);
  const profile = resolveProfile(options);
  if (saved !== undefined && saved !== profile) {
    throw new FormatError(
      `The saved state belongs to a ${saved} authenticator, not ${profile}: ` +
        `use profile ${JSON.stringify(saved)} (CLI: --profile ${saved}) or a new state file`,
    );
  }
  return profile;
}

function readState(file: string): VirtualAuthenticatorState | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text);
    if (typeof state !== "object" || state === null || !state.authenticator) {
      throw new FormatError("not a virtual authenticator state");
    }
    return state as VirtualAuthenticatorState;
  } catch (e) {
    throw new FormatError(`Invalid state file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A software security key. `device()` gives a `CtapDevice` that talks to it through real
 * CTAPHID packets (so the transport code under test is the one used with USB keys);
 * `serveUdp()` exposes it to other processes the way firmware simulators do.
 */
export class VirtualAuthenticator {
  /** The command processor (credentials, getInfo, U2F). */
  readonly authenticator: CtapAuthenticator;
  /** The PIN/UV state, when clientPin is supported. */
  readonly pinState?: PinUvAuthState;
  /** The large-blob store, when enabled. */
  readonly largeBlobs?: LargeBlobsHandler;
  /** The simulated fingerprint sensor's enrollments, when enabled. */
  readonly bio?: BioEnrollmentHandler;
  readonly #stateFile?: string;
  readonly #servers = new Set<{ stop(): void | Promise<void> }>();
  readonly #links = new Set<{ server: CtapHidServer; connection: HidConnection }>();

  /** Restores `options.state`, else the `stateFile` when it exists; else starts fresh. */
  constructor(options: VirtualAuthenticatorOptions = {}) {
    const state = options.state ??
      (options.stateFile ? readState(options.stateFile) : undefined);
    // The profile decides which of the optional features can exist at all.
    const profile = profileOf(options, state);
    const features = profileFeatures(profile);
    const ctap21 = features.ctap21;
    const uv = options.uv ?? false;
    const clientPin = options.clientPin !== false && features.cbor;
    const credMgmt = clientPin && features.credMgmt !== "none" && options.credMgmt !== false;
    const largeBlobs = ctap21 && options.largeBlobs !== false;
    const config = ctap21 && options.authenticatorConfig !== false;
    const bio = features.bio !== "none" && uv && options.bioEnrollment !== false;
    const quirks = options.quirks ?? {};
    // A token can only carry permissions for features the key has.
    const permissions = PERMISSION.MC | PERMISSION.GA |
      (credMgmt ? PERMISSION.CM : 0) | (credMgmt && features.ctap22 ? PERMISSION.PCMR : 0) |
      (bio ? PERMISSION.BE : 0) | (largeBlobs ? PERMISSION.LBW : 0) |
      (config ? PERMISSION.ACFG : 0);
    // The sensor exists before the core so getInfo `uv` can follow its enrollments.
    let bioHandler: BioEnrollmentHandler | undefined;
    // Built-in UV also issues pinUvAuthTokens (getPinUvAuthTokenUsingUvWithPermissions): the
    // `userVerification` hook plays the finger on the sensor.
    const uvHook = options.userVerification ?? (() => "approve" as const);
    const verifyUser = async (ctx: RequestContext, rpId?: string): Promise<boolean> => {
      if (bioHandler && !bioHandler.enrolled) return false;
      const decision = await uvHook({
        reason: "getPinUvAuthTokenUsingUv",
        rpId,
        signal: ctx.signal,
      });
      if (decision === "timeout") throw new CtapError(CTAP_STATUS.USER_ACTION_TIMEOUT);
      return decision === "approve";
    };
    if (clientPin) {
      this.pinState = new PinUvAuthState({
        supportedPermissions: permissions,
        protocols: features.defaultProtocols,
        tokenModel: features.permissions ? "ctap2.1" : "ctap2.0",
        subcommands: features.pinSubcommands,
        unknownSubcommandStatus: features.unknownPinSubcommand,
        tokenSingleUse: quirks.tokenSingleUse,
        // Built-in UV issues tokens only where getPinUvAuthTokenUsingUv exists (2.1 on).
        ...(uv && features.permissions ? { verifyUser } : {}),
        ...options.pinOptions,
        pin: options.pin,
        state: state?.pin,
      });
    }
    const cfg = state?.config;
    if (bio) {
      const bioOptions = options.bioEnrollment || {};
      bioHandler = new BioEnrollmentHandler({
        preview: features.bio === "preview",
        ...bioOptions,
        pinUvAuth: this.pinState,
        templates: state?.bio ?? bioOptions.templates ??
          [{ id: "0000000000000001", name: "finger 1" }],
      });
    }
    this.authenticator = new CtapAuthenticator({
      ...options,
      profile,
      alwaysUv: cfg?.alwaysUv ?? options.alwaysUv,
      uvEnrolled: bioHandler ? () => bioHandler.enrolled : options.uvEnrolled,
      minPinLengthRpIds: cfg?.minPinLengthRpIds ?? options.minPinLengthRpIds,
      pinUvAuth: this.pinState,
      state: state?.authenticator,
    });
    if (cfg?.enterpriseAttestation) this.authenticator.setEnterpriseAttestation(true);
    const core = this.authenticator;
    const pinState = this.pinState;
    const protectedByUv = () =>
      (uv && (bioHandler?.enrolled ?? true)) || (pinState?.isPinSet ?? false);
    if (credMgmt) {
      const handler = new CredentialManagementHandler({
        store: core.credentials,
        pinUvAuth: pinState!,
        rkCapacity: options.rkCapacity ?? 25,
        now: options.now,
        mode: features.credMgmt === "preview" ? "preview" : "final",
        unknownSubcommandStatus: features.unknownCredMgmtSubcommand,
        readOnlyPermission: features.ctap22,
        rpNameIsUserName: quirks.rpNameIsUserName,
        finalOptionName: quirks.credMgmtOnPre,
      });
      // The dispatcher refuses whichever of the two the profile lacks.
      core.registerCommand(CTAP_CMD.CREDENTIAL_MGMT, handler);
      core.registerCommand(CTAP_CMD.CREDENTIAL_MGMT_PRE, handler);
    }
    if (largeBlobs) {
      this.largeBlobs = new LargeBlobsHandler({
        pinUvAuth: pinState,
        protectedByUv,
        maxMsgSize: options.maxMsgSize ?? 1200,
        maxSerializedLargeBlobArray: options.maxSerializedLargeBlobArray ?? 4096,
        state: state?.largeBlobs,
      });
      core.registerCommand(CTAP_CMD.LARGE_BLOBS, this.largeBlobs);
    }
    if (config) {
      core.registerCommand(
        CTAP_CMD.CONFIG,
        new ConfigHandler({
          authenticator: core,
          pinUvAuth: pinState,
          protectedByUv,
          enterpriseAttestation: options.enterpriseAttestation,
        }),
      );
    }
    if (bioHandler) {
      this.bio = bioHandler;
      core.registerCommand(CTAP_CMD.BIO_ENROLLMENT, this.bio);
      core.registerCommand(CTAP_CMD.BIO_ENROLLMENT_PRE, this.bio);
    }
    this.#stateFile = options.stateFile;
  }

  /** Credentials and PIN state as JSON-safe data. */
  exportState(): VirtualAuthenticatorState {
    return {
      profile: this.authenticator.features.name,
      authenticator: this.authenticator.exportState(),
      ...(this.pinState ? { pin: this.pinState.exportState() } : {}),
      ...(this.largeBlobs ? { largeBlobs: this.largeBlobs.exportState() } : {}),
      ...(this.bio ? { bio: this.bio.exportState() } : {}),
      config: {
        alwaysUv: this.authenticator.alwaysUv,
        enterpriseAttestation: this.authenticator.enterpriseAttestation,
        minPinLengthRpIds: [...this.authenticator.minPinLengthRpIds],
      },
    };
  }

  /** Writes the state to `file` (default: the `stateFile` option). */
  save(file: string | undefined = this.#stateFile): void {
    if (!file) throw new Error("No state file given");
    writeFileSync(file, JSON.stringify(this.exportState(), null, 2));
  }

  /** Simulates unplugging and re-plugging the key (PIN retry block, tokens, reset window). */
  powerCycle(): void {
    this.authenticator.powerCycle();
    this.pinState?.powerCycle();
  }

  /**
   * A connected `CtapHidDevice` over an in-memory 64-byte report pipe. `faults` injects
   * transport faults on the authenticator's side (dropped, duplicated, reordered packets…).
   */
  async device(
    options: {
      readonly faults?: HidFaults;
      readonly server?: Omit<CtapHidServerOptions, "faults">;
      readonly client?: CtapHidDeviceOptions;
    } = {},
  ): Promise<CtapHidDevice> {
    const [clientSide, deviceSide] = createConnectionPair(64);
    const server = new CtapHidServer(deviceSide, this.authenticator, {
      ignoreInit: () => this.authenticator.initSilenced(),
      ...options.server,
      faults: options.faults,
    });
    server.start();
    this.#servers.add(server);
    const link = { server, connection: deviceSide };
    this.#links.add(link);
    try {
      const device = await CtapHidDevice.open(
        {
          path: "virtual:memory",
          vid: 0xf1d0,
          pid: 0x0001,
          reportSizeIn: 64,
          reportSizeOut: 64,
          productName: "@x/fido2 virtual authenticator",
        },
        clientSide,
        options.client,
      );
      const close = device.close.bind(device);
      device.close = async () => {
        await close();
        await server.stop();
        this.#servers.delete(server);
        this.#links.delete(link);
        if (this.#stateFile) this.save();
      };
      return device;
    } catch (e) {
      await server.stop();
      this.#servers.delete(server);
      this.#links.delete(link);
      throw e;
    }
  }

  /**
   * Injects transport faults into every in-memory device from now on (packet indices count
   * from this call); `{}` clears them.
   */
  set faults(faults: HidFaults) {
    for (const l of this.#links) l.server.faults = faults;
  }

  /** Simulates pulling the key out: pending and later calls fail with `TransportError`. */
  async unplug(): Promise<void> {
    for (const l of [...this.#links]) {
      this.#servers.delete(l.server);
      await l.server.stop();
      await l.connection.close();
    }
    this.#links.clear();
  }

  /** Serves the authenticator over UDP (64-byte datagrams), default port 8111. */
  async serveUdp(port = 8111, host = "127.0.0.1"): Promise<UdpServer> {
    const udp = await serveUdp(this.authenticator, {
      port,
      host,
      ignoreInit: () => this.authenticator.initSilenced(),
    });
    const entry = { stop: () => udp.close() };
    this.#servers.add(entry);
    return udp;
  }

  /**
   * Inserts the authenticator as a smart card (NFC CTAP, CTAP 2.1 §11.3) into the
   * vsmartcard-vpcd reader at `options.host:port` (default 127.0.0.1:35963, which the real
   * pcscd shows as reader "Virtual PCD 00 00"). `close()` on the result, or on this instance,
   * takes the card out; `remove()` pulls it out mid-command.
   */
  async connectVpcd(options: VpcdOptions & { readonly card?: CtapCardOptions } = {}): Promise<
    VpcdConnection
  > {
    const link = await connectVpcd(new CtapCard(this.authenticator, options.card), options);
    const entry = { stop: () => link.close() };
    this.#servers.add(entry);
    void link.closed.then(() => this.#servers.delete(entry));
    return link;
  }

  /** Stops every transport started by this instance and saves the state file, if any. */
  async close(): Promise<void> {
    for (const s of [...this.#servers]) await s.stop();
    this.#servers.clear();
    if (this.#stateFile) this.save();
  }
}
