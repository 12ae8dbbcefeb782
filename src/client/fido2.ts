/**
 * `Fido2Client`: WebAuthn registration and authentication over any `CtapDevice`, speaking
 * CTAP2 where the key can and U2F (CTAP1) where it cannot.
 * @module
 */
import type { CborValue } from "../cbor.ts";
import {
  assertCtapDevice,
  CTAP_STATUS,
  type CtapDevice,
  CtapError,
  describeValue,
  STATUS,
} from "../ctap.ts";
import { ApduError, Ctap1 } from "../ctap1.ts";
import { AssertionResponse, type AttestationResponse, Ctap2 } from "../ctap2/base.ts";
import { Info } from "../ctap2/info.ts";
import { ClientPin } from "../ctap2/pin.ts";
import { PinProtocolV1, PinProtocolV2, type PinUvAuthProtocol } from "../ctap2/pin_protocol.ts";
import { AbortError, FormatError } from "../errors.ts";
import { sha256, sleep, utf8Encode } from "../utils.ts";
import { rpIdToAscii } from "../rpid.ts";
import {
  AuthenticatorAttestationResponse,
  type CollectedClientData,
  type PublicKeyCredentialCreationOptions,
  type PublicKeyCredentialRequestOptions,
  RegistrationResponse,
} from "../webauthn.ts";
import { AttestationObject } from "../webauthn/authdata.ts";
import {
  type ClientDataCollector,
  type CollectedData,
  DefaultClientDataCollector,
} from "./collector.ts";
import { toClientError } from "./error_map.ts";
import { ClientError, PinRequiredError } from "./errors.ts";
import {
  type AuthenticationProcessing,
  type CredentialDescriptor,
  defaultExtensions,
  type ExtensionContext,
  type Fido2Extension,
  type RegistrationProcessing,
  type TokenRenewer,
} from "./extensions.ts";
import { UserInteraction } from "./interaction.ts";
import {
  assertedCredential,
  checkAssertion,
  checkRegistration,
  collectAssertions,
} from "./validate.ts";
import {
  type AssertionSelection,
  AssertionSelection as Selection,
  type ClientAssertion,
  type ClientCallOptions,
  type CreationOptionsInput,
  type RequestOptionsInput,
  unwrapCreationOptions,
  unwrapRequestOptions,
  type WebAuthnClient,
} from "./selection.ts";

const PERM_MC = 0x01;
const PERM_GA = 0x02;
const ZERO_HASH = new Uint8Array(32);
const DEFAULT_PARAMS = [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }];

/** Options of a {@linkcode Fido2Client}. */
export interface Fido2ClientOptions {
  /**
   * Reject non-canonical CBOR from the authenticator (default true). Some old keys emit
   * unsorted maps; set false to talk to them instead of failing with `FormatError`.
   */
  readonly strictCbor?: boolean;
  /** RP IDs allowed platform-managed enterprise attestation (value 2); others get 1. */
  readonly enterpriseRpIds?: readonly string[];
}

function abortSignal(
  user: readonly (AbortSignal | undefined)[],
  timeoutMs: number | undefined,
) {
  const signals = user.filter((s): s is AbortSignal => s !== undefined);
  if (timeoutMs !== undefined && timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
  if (signals.length === 0) return undefined;
  return signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

/** The collector to use: the given one, or a default collector for an origin string. */
function collectorOf(c: ClientDataCollector | string): ClientDataCollector {
  if (typeof c === "string") return new DefaultClientDataCollector(c);
  if (typeof c === "object" && c !== null && typeof c.collectClientData === "function") return c;
  const got = describeValue(c);
  throw new TypeError(
    "Fido2Client expects a ClientDataCollector (e.g. new DefaultClientDataCollector(origin)) " +
      `or an origin string such as "https://example.com", got ${got}.` +
      (got === "a Promise" ? " Did you forget `await`?" : ""),
  );
}

/** Calls `onUp` once per wait for a touch, not on every keepalive packet. */
function keepaliveHandler(ui: UserInteraction): (status: number) => void {
  let prompted = false;
  return (status) => {
    if (status === STATUS.UPNEEDED && !prompted) {
      prompted = true;
      ui.promptUp();
    }
  };
}

function descriptors(
  list: readonly { type: string; id: Uint8Array; transports?: readonly string[] }[] | undefined,
): CredentialDescriptor[] {
  return (list ?? []).filter((d) => d.type === "public-key").map((d) => ({
    type: "public-key",
    id: d.id,
    ...(d.transports?.length ? { transports: [...d.transports] } : {}),
  }));
}

/** The result of one registration ceremony, before the client data is attached. */
interface Registration {
  readonly attestationObject: AttestationObject;
  readonly credentialId: Uint8Array;
  readonly extensionResults: Record<string, unknown>;
  readonly transports?: string[];
}

interface Backend {
  readonly info: Info;
  makeCredential(
    options: PublicKeyCredentialCreationOptions,
    clientData: CollectedClientData,
    rpId: string,
    signal: AbortSignal | undefined,
  ): Promise<Registration>;
  getAssertion(
    options: PublicKeyCredentialRequestOptions,
    clientData: CollectedClientData,
    rpId: string,
    signal: AbortSignal | undefined,
  ): Promise<ClientAssertion[]>;
  selection(signal: AbortSignal | undefined): Promise<void>;
}

/**
 * A WebAuthn client for roaming authenticators: USB keys through `CtapHidDevice`, the
 * `VirtualAuthenticator`, or anything else implementing `CtapDevice`.
 *
 * Differences from python-fido2 worth knowing: UV "preferred" on a key without a PIN simply
 * proceeds without UV; the RP ID computed by the collector is always sent; attestation
 * "none" returns an anonymised `fmt: "none"` object; large allow/exclude lists are sent
 * directly when they fit and only pre-flighted when they do not; `appid`/`appidExclude`
 * work on CTAP2 and U2F keys.
 */
export class Fido2Client implements WebAuthnClient {
  readonly #device: CtapDevice;
  readonly #collector: ClientDataCollector;
  readonly #ui: UserInteraction;
  readonly #extensions: readonly Fido2Extension[];
  readonly #options: Fido2ClientOptions;
  #backend?: Promise<Backend>;
  #ready?: Backend;

  /**
   * The device stays owned by the caller; `extensions` replaces the default set. As a
   * convenience (python-fido2 1.x's form) `clientDataCollector` may be an origin string such
   * as "https://example.com", which makes a {@linkcode DefaultClientDataCollector}. Wrong
   * arguments (e.g. a Promise of a device: a forgotten `await`) throw a `TypeError`.
   */
  constructor(
    device: CtapDevice,
    clientDataCollector: ClientDataCollector | string,
    userInteraction: UserInteraction = new UserInteraction(),
    extensions: readonly Fido2Extension[] = defaultExtensions(),
    options: Fido2ClientOptions = {},
  ) {
    assertCtapDevice(device, "new Fido2Client(device, clientDataCollector)");
    this.#device = device;
    this.#collector = collectorOf(clientDataCollector);
    if (typeof userInteraction !== "object" || userInteraction === null) {
      throw new TypeError(
        `Fido2Client: userInteraction must be a UserInteraction, got ${
          describeValue(userInteraction)
        }`,
      );
    }
    if (!Array.isArray(extensions)) {
      throw new TypeError(
        `Fido2Client: extensions must be an array of Fido2Extension (e.g. defaultExtensions()), got ${
          describeValue(extensions)
        }`,
      );
    }
    this.#ui = userInteraction;
    this.#extensions = extensions;
    this.#options = options;
  }

  /** Creates a client and reads the authenticator's info before returning. */
  static async create(
    device: CtapDevice,
    clientDataCollector: ClientDataCollector | string,
    userInteraction?: UserInteraction,
    extensions?: readonly Fido2Extension[],
    options?: Fido2ClientOptions,
  ): Promise<Fido2Client> {
    const client = new Fido2Client(
      device,
      clientDataCollector,
      userInteraction,
      extensions,
      options,
    );
    await client.ready();
    return client;
  }

  /** Connects (getInfo, or U2F fallback) once; later calls reuse the result. */
  async ready(): Promise<Info> {
    this.#backend ??= this.#connect().then((b) => (this.#ready = b));
    try {
      return (await this.#backend).info;
    } catch (e) {
      this.#backend = undefined;
      throw toClientError(e);
    }
  }

  /** The authenticator's getInfo (a U2F-only key shows versions ["U2F_V2"]). */
  get info(): Info {
    if (!this.#ready) {
      throw new ClientError(
        ClientError.ERR.BAD_REQUEST,
        "Fido2Client.info is read from the key first: create the client with " +
          "`await Fido2Client.create(...)` or call `await client.ready()` before reading info",
      );
    }
    return this.#ready.info;
  }

  async #connect(): Promise<Backend> {
    const strict = this.#options.strictCbor ?? true;
    if (this.#device.capabilities & 0x04 /* CBOR */) {
      try {
        const ctap = await Ctap2.create(this.#device, { strictCbor: strict });
        return new Ctap2Backend(ctap, this.#ui, this.#extensions, this.#options);
      } catch (e) {
        // Keys that advertise CBOR but fail getInfo may still speak U2F, unless NMSG says
        // they do not; transport failures and aborts are not a reason to downgrade.
        if (!(e instanceof CtapError) || this.#device.capabilities & 0x08 /* NMSG */) throw e;
      }
    }
    return new Ctap1Backend(new Ctap1(this.#device), this.#ui);
  }

  /** The collector's client data, with the RP ID in the ASCII form keys hash (once, here). */
  async #collect(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
  ): Promise<CollectedData> {
    const { clientData, rpId } = await this.#collector.collectClientData(options);
    return { clientData, rpId: rpIdToAscii(rpId) };
  }

  /** Registers a credential; every failure is a `ClientError` (its `cause` has details). */
  async makeCredential(
    options: CreationOptionsInput,
    callOptions: ClientCallOptions = {},
  ): Promise<RegistrationResponse> {
    try {
      const [opts, wrapped] = unwrapCreationOptions(options);
      const { clientData, rpId } = await this.#collect(opts);
      const signal = abortSignal([callOptions.signal, wrapped], opts.timeout);
      if (!this.#ready) await this.ready(); // connected: no promise hops
      const backend = this.#ready!;
      const reg = await backend.makeCredential(opts, clientData, rpId, signal);
      const attestation = opts.attestation ?? "none";
      const attObj = attestation === "none" && reg.attestationObject.fmt !== "none"
        ? reg.attestationObject.withoutAttestation()
        : reg.attestationObject;
      return new RegistrationResponse({
        rawId: reg.credentialId,
        response: new AuthenticatorAttestationResponse({
          clientDataJSON: clientData,
          attestationObject: attObj,
          transports: reg.transports,
        }),
        authenticatorAttachment: "cross-platform",
        clientExtensionResults: reg.extensionResults,
      });
    } catch (e) {
      throw toClientError(e);
    }
  }

  /** Gets assertions; every failure is a `ClientError`. */
  async getAssertion(
    options: RequestOptionsInput,
    callOptions: ClientCallOptions = {},
  ): Promise<AssertionSelection> {
    try {
      const [opts, wrapped] = unwrapRequestOptions(options);
      const { clientData, rpId } = await this.#collect(opts);
      const signal = abortSignal([callOptions.signal, wrapped], opts.timeout);
      if (!this.#ready) await this.ready(); // connected: no promise hops
      const assertions = await this.#ready!.getAssertion(opts, clientData, rpId, signal);
      return new Selection(clientData, assertions);
    } catch (e) {
      throw toClientError(e);
    }
  }

  /** Waits for the user to touch this key (to pick one of several connected keys). */
  async selection(callOptions: ClientCallOptions = {}): Promise<void> {
    try {
      if (!this.#ready) await this.ready(); // connected: no promise hops
      await this.#ready!.selection(callOptions.signal);
    } catch (e) {
      throw toClientError(e);
    }
  }
}

// ---------------------------------------------------------------------------------------
// CTAP2

interface Token {
  readonly token?: Uint8Array;
  readonly protocol?: PinUvAuthProtocol;
  /** Built-in UV without a token (CTAP 2.0 keys): send option uv=true. */
  readonly internalUv?: boolean;
  /** The PIN the user gave for this ceremony, so a consumed token can be renewed silently. */
  readonly pin?: string;
}

/**
 * `response.transports` of a registration: what getInfo lists, plus the transport the key
 * was just used over (a 2.0 key over NFC lists none, yet is evidently reachable by NFC), then
 * sorted as WebAuthn's [[transports]] slot is ("lexicographical order"). Without a known
 * transport, getInfo's list as the key gave it.
 */
function transportsOf(
  listed: readonly string[],
  used: string | undefined,
): string[] | undefined {
  if (used === undefined) return listed.length ? [...listed] : undefined;
  return [...new Set([...listed, used])].sort();
}

class Ctap2Backend implements Backend {
  constructor(
    readonly ctap: Ctap2,
    readonly ui: UserInteraction,
    readonly extensions: readonly Fido2Extension[],
    readonly options: Fido2ClientOptions,
  ) {}

  get info(): Info {
    return this.ctap.info;
  }

  #protocol(): PinUvAuthProtocol | undefined {
    const versions = this.info.pinUvProtocols;
    if (versions.includes(2)) return new PinProtocolV2();
    if (versions.includes(1)) return new PinProtocolV1();
    return undefined;
  }

  /**
   * Whether to obtain UV (a PIN/UV token or built-in UV) for this request. Unlike
   * python-fido2, "preferred" on a key whose UV is not configured proceeds without UV.
   */
  #shouldUseUv(requirement: string | undefined, permissions: number, mc: boolean): boolean {
    const o = this.info.options;
    const configured = o.uv === true || o.clientPin === true || o.bioEnroll === true;
    if (requirement === "required" || o.alwaysUv === true) {
      if (!configured) {
        throw new ClientError(
          ClientError.ERR.CONFIGURATION_UNSUPPORTED,
          "User verification is required but the authenticator has no PIN or UV configured",
        );
      }
      return true;
    }
    if (!configured) return false;
    if (requirement === "preferred" || requirement === undefined) return true;
    // "discouraged": CTAP 2.0 keys with a PIN refuse makeCredential without one.
    if (mc && o.makeCredUvNotRqd !== true) return true;
    return (permissions & ~(PERM_MC | PERM_GA)) !== 0;
  }

  async #getToken(
    permissions: number,
    rpId: string,
    allowUv: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Token> {
    const o = this.info.options;
    const protocol = this.#protocol();
    const onKeepalive = keepaliveHandler(this.ui);
    if (allowUv && o.uv === true) {
      if (o.pinUvAuthToken === true && protocol) {
        if (await this.ui.requestUv(permissions, rpId)) {
          const token = await new ClientPin(this.ctap, protocol).getUvToken(permissions, rpId, {
            signal,
            onKeepalive,
          });
          return { token, protocol };
        }
      } else if ((permissions & ~(PERM_MC | PERM_GA)) === 0) {
        if (await this.ui.requestUv(permissions, rpId)) return { internalUv: true };
      }
    }
    if (o.clientPin === true && protocol) {
      if (this.info.forcePinChange) {
        throw new ClientError(
          ClientError.ERR.BAD_REQUEST,
          "The authenticator requires a PIN change before it can be used (forcePINChange)",
        );
      }
      const pin = await this.ui.requestPin(permissions, rpId);
      if (!pin) throw new PinRequiredError();
      try {
        const token = await new ClientPin(this.ctap, protocol).getPinToken(
          pin,
          permissions,
          rpId,
          { signal },
        );
        return { token, protocol, pin };
      } catch (e) {
        // A PIN change may have been forced since getInfo was cached (authenticatorConfig).
        if (e instanceof CtapError && e.code === CTAP_STATUS.PIN_POLICY_VIOLATION) {
          this.ctap.info = await this.ctap.getInfo({ signal });
          if (this.info.forcePinChange) {
            throw new ClientError(
              ClientError.ERR.BAD_REQUEST,
              "The authenticator requires a PIN change before it can be used (forcePINChange)",
              { cause: e },
            );
          }
        }
        throw e;
      }
    }
    throw new ClientError(
      ClientError.ERR.CONFIGURATION_UNSUPPORTED,
      "User verification is needed but neither a PIN nor built-in UV is available",
    );
  }

  /**
   * Finds which credentials of `list` the key holds for `rpId` without a touch (a
   * "silent" getAssertion with up=false), chunked by maxCredsInList and shrunk on
   * REQUEST_TOO_LARGE. Returns the first match.
   */
  async #preflight(
    rpId: string,
    list: readonly CredentialDescriptor[],
    auth: Token,
    signal: AbortSignal | undefined,
  ): Promise<CredentialDescriptor | undefined> {
    let max = Math.max(1, this.info.maxCredsInList ?? 1);
    let i = 0;
    const param = auth.token ? await auth.protocol!.authenticate(auth.token, ZERO_HASH) : undefined;
    while (i < list.length) {
      const chunk = list.slice(i, i + max);
      try {
        const a = await this.ctap.getAssertion({
          rpId,
          clientDataHash: ZERO_HASH,
          allowList: chunk,
          options: { up: false },
          pinUvAuthParam: param,
          pinUvAuthProtocol: param ? auth.protocol!.version : undefined,
        }, { signal });
        return assertedCredential(a, chunk);
      } catch (e) {
        if (e instanceof CtapError && e.code === CTAP_STATUS.NO_CREDENTIALS) {
          i += chunk.length;
        } else if (e instanceof CtapError && e.code === CTAP_STATUS.REQUEST_TOO_LARGE && max > 1) {
          max = Math.max(1, Math.floor(max / 2));
        } else throw e;
      }
    }
    return undefined;
  }

  /** Credential IDs longer than the key accepts cannot be its own: drop them up front. */
  #usable(list: readonly CredentialDescriptor[]): CredentialDescriptor[] {
    const max = this.info.maxCredIdLength;
    return max ? list.filter((c) => c.id.length <= max) : [...list];
  }

  #fits(list: readonly CredentialDescriptor[]): boolean {
    return list.length <= Math.max(1, this.info.maxCredsInList ?? 1);
  }

  #context(rpId: string, signal: AbortSignal | undefined): ExtensionContext {
    return { ctap: this.ctap, info: this.info, protocol: this.#protocol(), rpId, signal };
  }

  /**
   * A fresh token with only `permissions`, from the PIN already given for this ceremony (the
   * user is not asked again); undefined when the ceremony's token did not come from a PIN.
   */
  #renewer(auth: Token, signal: AbortSignal | undefined): TokenRenewer | undefined {
    const { pin, protocol } = auth;
    if (pin === undefined || protocol === undefined) return undefined;
    return (permissions) =>
      new ClientPin(this.ctap, protocol).getPinToken(pin, permissions, undefined, { signal });
  }

  /**
   * Runs `attempt` again on the errors CTAP 2.1 says a platform should recover from, each at
   * most once. The cached getInfo is refreshed first: PUAT_REQUIRED usually means a PIN was
   * set since. PIN_AUTH_BLOCKED (three wrong PINs in a row since power-up) on a device that
   * can power-cycle the key (NFC: `CtapPcscDevice.reconnect`) reconnects and asks again, as
   * python-fido2 does (`dev.close(); connect()` in its make/get loops): the user need not
   * take the key off the reader. Elsewhere it stays a PIN_AUTH_BLOCKED error (a USB key has
   * to be unplugged).
   */
  async #withRetry<T>(
    attempt: (forceUv: boolean, allowUv: boolean) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    let forceUv = false;
    let allowUv = true;
    let reconnected = false;
    const device = this.ctap.device;
    while (true) {
      try {
        return await attempt(forceUv, allowUv);
      } catch (e) {
        if (!(e instanceof CtapError)) throw e;
        if (e.code === CTAP_STATUS.PUAT_REQUIRED && !forceUv) forceUv = true;
        else if (e.code === CTAP_STATUS.UV_BLOCKED && allowUv) allowUv = false;
        else if (
          e.code === CTAP_STATUS.PIN_AUTH_BLOCKED && !reconnected &&
          typeof device.reconnect === "function"
        ) {
          reconnected = true;
          await device.reconnect();
        } else throw e;
        this.ctap.info = await this.ctap.getInfo({ signal });
      }
    }
  }

  makeCredential(
    options: PublicKeyCredentialCreationOptions,
    clientData: CollectedClientData,
    rpId: string,
    signal: AbortSignal | undefined,
  ): Promise<Registration> {
    const info = this.info;
    const sel = options.authenticatorSelection;
    const rkReq = sel?.residentKey ?? (sel?.requireResidentKey ? "required" : "discouraged");
    if (rkReq === "required" && info.options.rk !== true) {
      throw new ClientError(
        ClientError.ERR.CONFIGURATION_UNSUPPORTED,
        "The authenticator cannot store discoverable credentials",
      );
    }
    const rk = rkReq === "required" || (rkReq === "preferred" && info.options.rk === true);
    const inputs = (options.extensions ?? {}) as Record<string, unknown>;
    const ctx = this.#context(rpId, signal);
    const processing = this.extensions
      .map((e) => e.makeCredential?.(ctx, inputs, { rk }))
      .filter((p): p is RegistrationProcessing => p !== undefined);
    const exclude = this.#usable(descriptors(options.excludeCredentials));
    let permissions = processing.reduce((p, x) => p | (x.permissions ?? 0), PERM_MC);
    if (exclude.length) permissions |= PERM_GA;
    const params = options.pubKeyCredParams.length
      ? options.pubKeyCredParams.map((p) => ({ type: p.type, alg: p.alg }))
      : DEFAULT_PARAMS;
    const appidExclude = typeof inputs.appidExclude === "string" ? inputs.appidExclude : undefined;
    let ep: number | undefined;
    if (options.attestation === "enterprise" && info.options.ep === true) {
      ep = this.options.enterpriseRpIds?.includes(rpId) ? 2 : 1;
    }
    const onKeepalive = keepaliveHandler(this.ui);

    return this.#withRetry(async (forceUv, allowUv) => {
      const useUv = forceUv || this.#shouldUseUv(sel?.userVerification, permissions, true);
      const auth: Token = useUv ? await this.#getToken(permissions, rpId, allowUv, signal) : {};
      if (appidExclude && exclude.length) {
        // A U2F credential registered under the AppID counts as already registered.
        // The token is bound to the RP ID, and U2F credentials need no UV to be found.
        if (await this.#preflight(appidExclude, exclude, {}, signal)) {
          throw new CtapError(CTAP_STATUS.CREDENTIAL_EXCLUDED);
        }
      }
      let extInputs: Record<string, CborValue> = {};
      const send = async (excludeList: CredentialDescriptor[] | undefined) => {
        extInputs = {};
        for (const p of processing) Object.assign(extInputs, await p.prepareInputs?.(auth.token));
        const opts: Record<string, boolean> = {};
        if (rk) opts.rk = true;
        if (auth.internalUv) opts.uv = true;
        const param = auth.token
          ? await auth.protocol!.authenticate(auth.token, clientData.hash)
          : undefined;
        return await this.ctap.makeCredential({
          clientDataHash: clientData.hash,
          rp: { id: rpId, ...(options.rp.name !== undefined ? { name: options.rp.name } : {}) },
          user: {
            id: options.user.id,
            ...(options.user.name !== undefined ? { name: options.user.name } : {}),
            ...(options.user.displayName !== undefined
              ? { displayName: options.user.displayName }
              : {}),
          },
          pubKeyCredParams: params,
          excludeList: excludeList?.length ? excludeList : undefined,
          extensions: Object.keys(extInputs).length ? extInputs : undefined,
          options: Object.keys(opts).length ? opts : undefined,
          pinUvAuthParam: param,
          pinUvAuthProtocol: param ? auth.protocol!.version : undefined,
          enterpriseAttestation: ep,
        }, { signal, onKeepalive });
      };
      let response: AttestationResponse;
      if (exclude.length === 0 || this.#fits(exclude)) {
        try {
          response = await send(exclude);
        } catch (e) {
          if (!(e instanceof CtapError && e.code === CTAP_STATUS.REQUEST_TOO_LARGE)) throw e;
          const match = await this.#preflight(rpId, exclude, auth, signal);
          response = await send(match ? [match] : undefined);
        }
      } else {
        // Keep the single match in the list so the key still waits for a touch before it
        // answers CREDENTIAL_EXCLUDED: registering must not reveal credentials silently.
        const match = await this.#preflight(rpId, exclude, auth, signal);
        response = await send(match ? [match] : undefined);
      }
      checkRegistration(response, {
        rpId,
        algorithms: params.filter((p) => p.type === "public-key").map((p) => p.alg),
        uv: auth.token !== undefined || auth.internalUv === true,
        enterpriseAttestation: ep !== undefined,
        extensions: extInputs,
      });
      const results: Record<string, unknown> = {};
      for (const p of processing) {
        Object.assign(results, await p.prepareOutputs?.(response, auth.token));
      }
      const credentialData = response.authData.credentialData;
      if (!credentialData) {
        throw new FormatError("makeCredential returned no attested credential data");
      }
      return {
        attestationObject: AttestationObject.create(
          response.fmt,
          response.authData,
          response.attStmt,
        ),
        credentialId: credentialData.credentialId,
        extensionResults: results,
        transports: transportsOf(info.transports, this.ctap.device.transport),
      };
    }, signal);
  }

  getAssertion(
    options: PublicKeyCredentialRequestOptions,
    clientData: CollectedClientData,
    rpId: string,
    signal: AbortSignal | undefined,
  ): Promise<ClientAssertion[]> {
    const inputs = (options.extensions ?? {}) as Record<string, unknown>;
    const given = descriptors(options.allowCredentials);
    const allow = this.#usable(given);
    const appid = typeof inputs.appid === "string" ? inputs.appid : undefined;
    const processing = (id: string) => {
      // One context for every extension: it is read-only.
      const ctx = this.#context(id, signal);
      return this.extensions
        .map((e) => e.getAssertion?.(ctx, inputs, given))
        .filter((p): p is AuthenticationProcessing => p !== undefined);
    };
    const permissions = processing(rpId).reduce((p, x) => p | (x.permissions ?? 0), PERM_GA);
    // PRF inputs per credential need to know which credential will answer before sending.
    const prf = inputs.prf as { evalByCredential?: unknown } | undefined;
    const needsSelection = allow.length > 1 && prf?.evalByCredential !== undefined;
    const onKeepalive = keepaliveHandler(this.ui);

    return this.#withRetry(async (forceUv, allowUv) => {
      const useUv = forceUv ||
        this.#shouldUseUv(options.userVerification, permissions, false);
      let auth: Token = useUv ? await this.#getToken(permissions, rpId, allowUv, signal) : {};
      let targetRp = rpId;
      let usedAppid = false;
      let list: CredentialDescriptor[] | undefined;
      let selected: CredentialDescriptor | undefined;
      if (given.length > 0) {
        if (allow.length && !appid && !needsSelection && this.#fits(allow)) {
          list = allow;
          if (allow.length === 1) selected = allow[0];
        } else {
          let match = allow.length ? await this.#preflight(rpId, allow, auth, signal) : undefined;
          if (!match && appid && allow.length) {
            // A token is bound to the RP ID, and U2F credentials need no UV to be found.
            match = await this.#preflight(appid, allow, {}, signal);
            if (match) {
              targetRp = appid;
              usedAppid = true;
              if (auth.token) auth = await this.#getToken(permissions, appid, allowUv, signal);
            }
          }
          // No match: still ask for a touch with an ID no key holds, so the user learns
          // nothing without consenting and the RP gets NO_CREDENTIALS after the touch.
          list = match ? [match] : [{ type: "public-key", id: new Uint8Array(1) }];
          selected = match;
        }
      }
      const procs = processing(targetRp);
      const run = async (allowList: CredentialDescriptor[] | undefined) => {
        const extInputs: Record<string, CborValue> = {};
        for (const p of procs) {
          Object.assign(extInputs, await p.prepareInputs?.(selected, auth.token));
        }
        const param = auth.token
          ? await auth.protocol!.authenticate(auth.token, clientData.hash)
          : undefined;
        const first = await this.ctap.getAssertion({
          rpId: targetRp,
          clientDataHash: clientData.hash,
          allowList,
          extensions: Object.keys(extInputs).length ? extInputs : undefined,
          options: auth.internalUv ? { uv: true } : undefined,
          pinUvAuthParam: param,
          pinUvAuthProtocol: param ? auth.protocol!.version : undefined,
        }, { signal, onKeepalive });
        return await collectAssertions(first, () => this.ctap.getNextAssertion({ signal }), {
          rpId: targetRp,
          allowList,
          rpAllowList: given,
          uv: param !== undefined || auth.internalUv === true,
        });
      };
      let assertions: AssertionResponse[];
      try {
        assertions = await run(list);
      } catch (e) {
        if (!(e instanceof CtapError && e.code === CTAP_STATUS.REQUEST_TOO_LARGE && list)) throw e;
        const match = await this.#preflight(targetRp, allow, auth, signal);
        selected = match;
        assertions = await run(match ? [match] : [{ type: "public-key", id: new Uint8Array(1) }]);
      }
      const out: ClientAssertion[] = [];
      for (const a of assertions) {
        const results: Record<string, unknown> = {};
        const renew = this.#renewer(auth, signal);
        for (const p of procs) {
          Object.assign(results, await p.prepareOutputs?.(a, auth.token, renew));
        }
        if (appid) results.appid = usedAppid;
        // Checked answers name their credential (filled in for a one-entry allow list).
        out.push({
          credentialId: a.credential!.id,
          authenticatorData: a.authData,
          signature: a.signature,
          userHandle: a.user?.id,
          user: a.user,
          clientExtensionResults: results,
          response: a,
        });
      }
      return out;
    }, signal);
  }

  async selection(signal: AbortSignal | undefined): Promise<void> {
    const onKeepalive = keepaliveHandler(this.ui);
    if (this.info.versions.includes("FIDO_2_1") || this.info.versions.includes("FIDO_2_2")) {
      await this.ctap.selection({ signal, onKeepalive });
      return;
    }
    // CTAP 2.0: a makeCredential with a zero-length pinUvAuthParam waits for a touch and
    // then fails with a PIN error, which is the touch we wanted.
    try {
      await this.ctap.makeCredential({
        clientDataHash: ZERO_HASH,
        rp: { id: "example.com", name: "example.com" },
        user: { id: utf8Encode("dummy"), name: "dummy" },
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        pinUvAuthParam: new Uint8Array(0),
      }, { signal, onKeepalive });
    } catch (e) {
      const touched: number[] = [
        CTAP_STATUS.PIN_NOT_SET,
        CTAP_STATUS.PIN_INVALID,
        CTAP_STATUS.PIN_AUTH_INVALID,
      ];
      if (!(e instanceof CtapError && touched.includes(e.code))) throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------
// CTAP1 / U2F

const SW_CONDITIONS_NOT_SATISFIED = 0x6985;
/** U2F key handles have a one-byte length (FIDO U2F raw message formats §5.1). */
const MAX_KEY_HANDLE = 255;

/** A U2F key cannot hold a longer credential ID: skip it, as CTAP2 skips > maxCredIdLength. */
function u2fUsable(list: readonly CredentialDescriptor[]): CredentialDescriptor[] {
  return list.filter((c) => c.id.length <= MAX_KEY_HANDLE);
}
const POLL_MS = 250;

class Ctap1Backend implements Backend {
  readonly info: Info;
  constructor(readonly ctap: Ctap1, readonly ui: UserInteraction) {
    this.info = new Info(
      new Map<CborValue, CborValue>([[1, ["U2F_V2"]], [3, new Uint8Array(16)]]),
    );
  }

  /** U2F signals "touch me" with SW 6985: repeat the command until the user touches. */
  async #poll<T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const onKeepalive = keepaliveHandler(this.ui);
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof ApduError && e.code === SW_CONDITIONS_NOT_SATISFIED)) throw e;
        onKeepalive(STATUS.UPNEEDED);
        if (!(await sleep(POLL_MS, signal))) {
          throw new AbortError(undefined, { cause: signal?.reason });
        }
      }
    }
  }

  /** Whether the key holds `keyHandle` for `appParam` (check-only authenticate). */
  async #known(appParam: Uint8Array, keyHandle: Uint8Array, signal?: AbortSignal) {
    try {
      await this.ctap.authenticate(ZERO_HASH, appParam, keyHandle, true, { signal });
      return true; // Not per spec (check-only never succeeds), but a match all the same.
    } catch (e) {
      if (e instanceof ApduError) return e.code === SW_CONDITIONS_NOT_SATISFIED;
      throw e;
    }
  }

  /** Waits for a touch with a throwaway registration, then fails with `code`. */
  async #touchThenFail(status: number, signal: AbortSignal | undefined): Promise<never> {
    await this.#poll(() => this.ctap.register(ZERO_HASH, ZERO_HASH, { signal }), signal);
    throw new CtapError(status);
  }

  async makeCredential(
    options: PublicKeyCredentialCreationOptions,
    clientData: CollectedClientData,
    rpId: string,
    signal: AbortSignal | undefined,
  ): Promise<Registration> {
    const sel = options.authenticatorSelection;
    const unsupported = (why: string) =>
      new ClientError(ClientError.ERR.CONFIGURATION_UNSUPPORTED, `U2F key: ${why}`);
    if (sel?.residentKey === "required" || sel?.requireResidentKey) {
      throw unsupported("cannot store discoverable credentials");
    }
    if (sel?.userVerification === "required") throw unsupported("cannot verify the user");
    if (options.pubKeyCredParams.length && !options.pubKeyCredParams.some((p) => p.alg === -7)) {
      throw unsupported("only supports ES256 (-7)");
    }
    if (options.attestation === "enterprise") throw unsupported("no enterprise attestation");
    const appParam = sha256(utf8Encode(rpId));
    const inputs = (options.extensions ?? {}) as Record<string, unknown>;
    // What the RP insists on and U2F cannot give (the CTAP2 extensions refuse the same).
    const lb = inputs.largeBlob as { support?: unknown } | undefined;
    if (lb?.support === "required") throw unsupported("no largeBlob");
    const policy = inputs.credentialProtectionPolicy;
    if (
      inputs.enforceCredentialProtectionPolicy === true && policy !== undefined &&
      policy !== "userVerificationOptional"
    ) {
      throw unsupported("cannot protect credentials (credProtect)");
    }
    const apps = [appParam];
    if (typeof inputs.appidExclude === "string") apps.push(sha256(utf8Encode(inputs.appidExclude)));
    for (const cred of u2fUsable(descriptors(options.excludeCredentials))) {
      for (const app of apps) {
        if (await this.#known(app, cred.id, signal)) {
          await this.#touchThenFail(CTAP_STATUS.CREDENTIAL_EXCLUDED, signal);
        }
      }
    }
    const reg = await this.#poll(
      () => this.ctap.register(clientData.hash, appParam, { signal }),
      signal,
    );
    const attestationObject = AttestationObject.fromCtap1(appParam, reg);
    checkRegistration(attestationObject, { rpId, algorithms: [-7], uv: false }, "U2F register");
    const results: Record<string, unknown> = {};
    if (inputs.credProps === true) results.credProps = { rk: false };
    // No extension reaches a U2F key: say so where WebAuthn has an output for "no".
    if (inputs.prf !== undefined) results.prf = { enabled: false };
    if (inputs.largeBlob !== undefined) results.largeBlob = { supported: false };
    return {
      attestationObject,
      credentialId: reg.keyHandle,
      extensionResults: results,
      transports: [this.ctap.device.transport ?? "usb"],
    };
  }

  async getAssertion(
    options: PublicKeyCredentialRequestOptions,
    clientData: CollectedClientData,
    rpId: string,
    signal: AbortSignal | undefined,
  ): Promise<ClientAssertion[]> {
    if (options.userVerification === "required") {
      throw new ClientError(
        ClientError.ERR.CONFIGURATION_UNSUPPORTED,
        "U2F key: cannot verify the user",
      );
    }
    const allow = descriptors(options.allowCredentials);
    if (allow.length === 0) {
      throw new ClientError(
        ClientError.ERR.CONFIGURATION_UNSUPPORTED,
        "U2F key: discoverable credentials need allowCredentials",
      );
    }
    const inputs = (options.extensions ?? {}) as Record<string, unknown>;
    const apps: [Uint8Array, boolean][] = [[sha256(utf8Encode(rpId)), false]];
    if (typeof inputs.appid === "string") apps.push([sha256(utf8Encode(inputs.appid)), true]);
    for (const cred of u2fUsable(allow)) {
      for (const [app, isAppid] of apps) {
        if (!(await this.#known(app, cred.id, signal))) continue;
        const sig = await this.#poll(
          () => this.ctap.authenticate(clientData.hash, app, cred.id, false, { signal }),
          signal,
        );
        const response = checkAssertion(
          AssertionResponse.fromCtap1(app, cred, sig),
          { rpId: isAppid ? inputs.appid as string : rpId, allowList: [cred], uv: false },
          0,
          "U2F authenticate",
        );
        const results: Record<string, unknown> = {};
        if (typeof inputs.appid === "string") results.appid = isAppid;
        return [{
          credentialId: cred.id,
          authenticatorData: response.authData,
          signature: sig.signature,
          clientExtensionResults: results,
          response,
        }];
      }
    }
    return await this.#touchThenFail(CTAP_STATUS.NO_CREDENTIALS, signal);
  }

  async selection(signal: AbortSignal | undefined): Promise<void> {
    await this.#poll(() => this.ctap.register(ZERO_HASH, ZERO_HASH, { signal }), signal);
  }
}
