/**
 * WindowsClient: WebAuthn through Windows' own webauthn.dll, which is the only way a
 * non-elevated process reaches security keys (and Windows Hello) on Windows 10 1903 and later.
 * It maps WebAuthn options onto the DLL's request structs and its results back onto the same
 * response classes `Fido2Client` returns, so callers can switch clients freely.
 *
 * Differences from python-fido2's WindowsClient, on purpose: the RP ID always comes from the
 * client data collector; user verification defaults to "preferred" (the WebAuthn default);
 * every HRESULT maps onto a `ClientError` code; `authenticatorAttachment` reports the transport
 * the DLL actually used; the caller's AbortSignal is only listened to, never fired.
 *
 * Extensions the loaded DLL's API version cannot carry are left out (no output), except that
 * an enforced credProtect or a required largeBlob fails with CONFIGURATION_UNSUPPORTED.
 * webauthn.dll has no input for `appidExclude`, so it is not processed (no output either).
 * @module
 */
import {
  type GetAssertionExtensions,
  type GetAssertionOptions,
  type HmacSalts,
  HRESULT,
  loadWebAuthn,
  type MakeCredentialExtensions,
  type MakeCredentialOptions,
  type WebAuthnApi,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "../../ffi/webauthn.ts";
import type { PlatformCredential, Transport } from "../../ffi/webauthn.ts";
import { platform, runtime } from "../../ffi/runtime.ts";
import { loadWebAuthnInWorker } from "../../ffi/webauthn_worker.ts";
import { defaultWindowHandle } from "../../ffi/win32.ts";
import { FormatError } from "../errors.ts";
import { b64urlDecode, bytesEqual, concat, sha256, utf8Encode } from "../utils.ts";
import { AttestationObject, AuthenticatorData } from "../webauthn/authdata.ts";
import type { CollectedClientData } from "../webauthn/clientdata.ts";
import type {
  AuthenticationExtensionsClientInputs,
  AuthenticationExtensionsPRFValues,
  HMACGetSecretOutput,
} from "../webauthn/extensions.ts";
import { isPaymentRequested } from "../webauthn/extensions.ts";
import type {
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialDescriptor,
  PublicKeyCredentialRequestOptions,
} from "../webauthn/options.ts";
import { AuthenticatorAttestationResponse, RegistrationResponse } from "../webauthn/responses.ts";
import type { ClientDataCollector } from "./collector.ts";
import { CTAP_STATUS } from "../ctap.ts";
import { clientErrorCode } from "./error_map.ts";
import { ClientError } from "./errors.ts";
import {
  AssertionSelection,
  type ClientAssertion,
  type ClientCallOptions,
  type CreationOptionsInput,
  type RequestOptionsInput,
  unwrapCreationOptions,
  unwrapRequestOptions,
  type WebAuthnClient,
} from "./selection.ts";

const E = ClientError.ERR;

export type {
  Assertion,
  Attachment,
  AttestationConveyance,
  ClientDataInput,
  CoseCredentialParameter,
  CredentialAttestation,
  CredentialDescriptor as WindowsCredentialDescriptor,
  EnterpriseAttestation,
  ExtensionOutputs,
  GetAssertionExtensions,
  GetAssertionOptions,
  HmacSalts,
  LargeBlobOperation,
  LargeBlobStatus,
  LargeBlobSupport,
  MakeCredentialExtensions,
  MakeCredentialOptions,
  PlatformCredential,
  PlatformCredentialListOptions,
  RpEntity,
  Transport,
  UserEntity,
  UserVerification,
  WebAuthnApi,
} from "../../ffi/webauthn.ts";
export {
  HRESULT,
  TRANSPORTS,
  WebAuthnClosedError,
  WebAuthnCloseTimeoutError,
  WindowsApiError,
} from "../../ffi/webauthn.ts";

/** Options of {@linkcode WindowsClient}. */
export interface WindowsClientOptions {
  /**
   * The window the Windows security dialog is centred on. A number/bigint, or a function
   * called per request. By default, and whenever this gives 0 (webauthn.dll fails with a NULL
   * window), each request takes the foreground window, else the console window, else the
   * desktop window.
   */
  readonly hwnd?: number | bigint | (() => number | bigint | Promise<number | bigint>);
  /** A loaded webauthn API (tests pass a fake library); by default webauthn.dll is loaded. */
  readonly api?: WebAuthnApi | Promise<WebAuthnApi>;
  /** Accept the raw `hmacCreateSecret` / `hmacGetSecret` extensions (python-fido2's flag). */
  readonly allowHmacSecret?: boolean;
}

const PRF_LABEL = utf8Encode("WebAuthn PRF");

/** The WebAuthn L3 PRF salt: SHA-256("WebAuthn PRF" || 0x00 || input). */
function prfSalt(input: Uint8Array): Uint8Array {
  return sha256(concat(PRF_LABEL, new Uint8Array(1), input));
}

const CRED_PROTECT: Record<string, 1 | 2 | 3> = {
  userVerificationOptional: 1,
  userVerificationOptionalWithCredentialIDList: 2,
  userVerificationRequired: 3,
};

/**
 * API versions from which each feature is used (webauthn.h struct versions per API). largeBlob:
 * the MC v4 / GA v5 structs carry it from API 3, but it is used only from API 5, as issue 14
 * asks (not checked here against a real DLL of API 3 or 4).
 */
const API = {
  credProtect: 2,
  credBlob: 3,
  minPinLength: 3,
  largeBlob: 5,
  preferResidentKey: 3,
  enterprise: 3,
  hmacSalts: 4,
  nativePrf: 6,
  prfEvalAtCreate: 8,
  hmacSecretMc: 8,
  hints: 8,
  thirdPartyPayment: 8,
} as const;

/**
 * A WebAuthn client over webauthn.dll. Construct it only where
 * {@linkcode WindowsClient.isAvailable} is true (or with an `api` for tests).
 */
export class WindowsClient implements WebAuthnClient {
  readonly #collector: ClientDataCollector;
  readonly #options: WindowsClientOptions;
  #api?: Promise<WebAuthnApi>;
  /** Whether this client loaded the API itself (and so closes it). */
  #ownsApi = false;

  /** `options.api` replaces the loaded webauthn.dll (tests, or an API loaded elsewhere). */
  constructor(clientDataCollector: ClientDataCollector, options: WindowsClientOptions = {}) {
    this.#collector = clientDataCollector;
    this.#options = options;
    if (options.api) {
      this.#api = Promise.resolve(options.api);
      this.#api.catch(() => {}); // a failed load is reported by the first call
    }
  }

  /**
   * True on Windows when webauthn.dll (or the library `FIDO2_WEBAUTHN_LIB`, alias
   * `FIDO2_WEBAUTHN_PATH`, names) loads and
   * reports an API version of at least 1 (Windows 10 1903). It does not check for admin
   * rights: elevated processes may prefer `Fido2Client`, which talks to keys directly.
   */
  static async isAvailable(): Promise<boolean> {
    if (platform() !== "win32") return false;
    return await webauthnLibraryUsable();
  }

  /**
   * The loaded API, loading webauthn.dll on first use. On Bun its blocking calls run on a
   * Worker (Bun's FFI cannot run them off the event loop), so AbortSignals still work.
   */
  api(): Promise<WebAuthnApi> {
    if (!this.#api) {
      this.#ownsApi = true;
      this.#api = runtime === "bun" ? loadWebAuthnInWorker() : loadWebAuthn();
    }
    return this.#api;
  }

  /**
   * Unloads webauthn.dll (and stops the Worker) if this client loaded it. A call still blocked
   * in the DLL is cancelled (it fails with OTHER_ERROR, "closed") and waited for, since the DLL
   * uses its request memory until it returns: close() resolves after that. A call the DLL does
   * not give back within 10 s (one made without a signal or timeout cannot be cancelled)
   * rejects with `WebAuthnCloseTimeoutError`; its memory and the DLL are released when it
   * returns.
   */
  async close(): Promise<void> {
    const api = this.#api;
    if (!api || !this.#ownsApi) return;
    this.#api = undefined;
    let loaded: WebAuthnApi;
    try {
      loaded = await api;
    } catch {
      return; // It never loaded: nothing to close.
    }
    await loaded.close();
  }

  /**
   * The credentials the platform authenticator (Windows Hello) holds, all of them or those of
   * `rpId`; `[]` when there are none. Needs webauthn.dll API 4 (Windows 11 22H2); older DLLs
   * fail with CONFIGURATION_UNSUPPORTED. Every failure is a `ClientError`.
   */
  async listPlatformCredentials(rpId?: string): Promise<PlatformCredential[]> {
    try {
      if (rpId !== undefined && (typeof rpId !== "string" || rpId === "")) {
        throw new ClientError(E.BAD_REQUEST, "rpId must be a non-empty string");
      }
      const api = await this.#loadApi();
      return await api.getPlatformCredentialList(rpId === undefined ? {} : { rpId });
    } catch (e) {
      throw toClientError(e);
    }
  }

  /**
   * Deletes one platform credential by id (API 4+). An unknown id is DEVICE_INELIGIBLE
   * (NTE_NOT_FOUND); every failure is a `ClientError`.
   */
  async deletePlatformCredential(credentialId: Uint8Array): Promise<void> {
    try {
      if (!(credentialId instanceof Uint8Array) || credentialId.length === 0) {
        throw new ClientError(E.BAD_REQUEST, "credentialId must be non-empty bytes");
      }
      const api = await this.#loadApi();
      await api.deletePlatformCredential(credentialId);
    } catch (e) {
      throw toClientError(e);
    }
  }

  /** Creates a credential; every failure is a `ClientError`. */
  async makeCredential(
    options: CreationOptionsInput,
    callOptions: ClientCallOptions = {},
  ): Promise<RegistrationResponse> {
    try {
      const [opts, wrapperSignal] = unwrapCreationOptions(options);
      const { clientData, rpId } = await this.#collector.collectClientData(opts);
      const api = await this.#loadApi();
      const v = api.apiVersion();
      const ext = opts.extensions ?? {};
      const sel = opts.authenticatorSelection;
      const request = this.#makeCredentialRequest(opts, v, ext);
      const rkRequired = sel?.residentKey === "required";
      const hwnd = await this.#hwnd();
      const user = opts.user;
      const params = opts.pubKeyCredParams.length
        ? opts.pubKeyCredParams.map((p) => ({ type: p.type, alg: p.alg }))
        : [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }]; // §5.1.3 step 10
      const att = await this.#call(
        api,
        request,
        [callOptions.signal, wrapperSignal],
        opts.timeout,
        () =>
          api.makeCredential(
            hwnd,
            { id: rpId, name: opts.rp.name },
            { id: user.id, name: user.name ?? "", displayName: user.displayName ?? "" },
            params,
            { json: clientData.raw },
            request,
          ),
      );

      let attObj: AttestationObject;
      try {
        attObj = AttestationObject.parse(att.attestationObject);
      } catch (e) {
        throw new ClientError(E.OTHER_ERROR, "webauthn.dll returned a malformed attestation", {
          cause: e,
        });
      }
      if ((opts.attestation ?? "none") === "none" && attObj.fmt !== "none") {
        attObj = attObj.withoutAttestation();
      }
      const results: Record<string, unknown> = {};
      // Outputs the DLL's Extensions array lacks are read from the signed authData.
      const signed = attObj.authData.extensions;
      const x = {
        credBlobStored: att.extensions?.credBlobStored ?? boolOf(signed?.get("credBlob")),
        hmacSecret: att.extensions?.hmacSecret ?? boolOf(signed?.get("hmac-secret")),
      };
      if (ext.credProps === true) {
        const rk = att.residentKey ?? (rkRequired ? true : undefined);
        results.credProps = rk === undefined ? {} : { rk };
      }
      if (ext.credBlob !== undefined && x.credBlobStored !== undefined) {
        results.credBlob = x.credBlobStored;
      }
      if (ext.largeBlob !== undefined && request.extensions?.largeBlob) {
        results.largeBlob = { supported: att.largeBlobSupported === true };
      }
      if (ext.prf !== undefined) {
        const enabled = att.prfEnabled ?? x.hmacSecret === true;
        results.prf = att.hmacSecret && enabled
          ? { enabled, results: prfResults(att.hmacSecret) }
          : { enabled };
      } else if (ext.hmacCreateSecret === true && this.#options.allowHmacSecret) {
        results.hmacCreateSecret = x.hmacSecret === true;
        if (request.extensions?.hmacSecretMc && att.hmacSecret) {
          results.hmacGetSecret = hmacGetSecretResults(att.hmacSecret);
        }
      }
      if (isPaymentRequested(ext) && att.thirdPartyPayment !== undefined) {
        results.thirdPartyPayment = att.thirdPartyPayment;
      }
      const transports = att.transports ?? att.usedTransports ?? [];
      return new RegistrationResponse({
        rawId: att.credentialId,
        response: new AuthenticatorAttestationResponse({
          clientDataJSON: clientData,
          attestationObject: attObj,
          transports: transports.filter((t) => t !== "test"),
        }),
        authenticatorAttachment: attachmentOf(att.usedTransports, request.attachment),
        clientExtensionResults: results,
      });
    } catch (e) {
      throw toClientError(e);
    }
  }

  /** Gets an assertion; every failure is a `ClientError`. */
  async getAssertion(
    options: RequestOptionsInput,
    callOptions: ClientCallOptions = {},
  ): Promise<AssertionSelection> {
    try {
      const [opts, wrapperSignal] = unwrapRequestOptions(options);
      const { clientData, rpId } = await this.#collector.collectClientData(opts);
      const api = await this.#loadApi();
      const v = api.apiVersion();
      const ext = opts.extensions ?? {};
      const request = this.#getAssertionRequest(opts, v, ext);
      const hwnd = await this.#hwnd();
      const a = await this.#call(
        api,
        request,
        [callOptions.signal, wrapperSignal],
        opts.timeout,
        () => api.getAssertion(hwnd, rpId, { json: clientData.raw }, request),
      );

      let authData: AuthenticatorData;
      try {
        authData = AuthenticatorData.parse(a.authenticatorData);
      } catch (e) {
        throw new ClientError(E.OTHER_ERROR, "webauthn.dll returned malformed authenticator data", {
          cause: e,
        });
      }
      const results: Record<string, unknown> = {};
      if (ext.appid !== undefined) results.appid = a.appIdUsed === true;
      if (ext.getCredBlob === true && a.extensions?.credBlob !== undefined) {
        results.getCredBlob = a.extensions.credBlob;
      }
      const op = request.extensions?.largeBlob?.operation;
      if (op === "get") {
        results.largeBlob = a.largeBlob?.status === "success" ? { blob: a.largeBlob.data } : {};
      } else if (op === "set") {
        results.largeBlob = { written: a.largeBlob?.status === "success" };
      }
      if (request.extensions?.hmacSecret && a.hmacSecret) {
        if (ext.prf !== undefined) {
          results.prf = { results: prfResults(a.hmacSecret) };
        } else {
          results.hmacGetSecret = hmacGetSecretResults(a.hmacSecret);
        }
      }
      const assertion: ClientAssertion = {
        credentialId: a.credential.id,
        authenticatorData: authData,
        signature: a.signature,
        userHandle: a.userId.length ? a.userId : undefined,
        clientExtensionResults: results,
        authenticatorAttachment: attachmentOf(a.usedTransports, request.attachment),
      };
      return new AssertionSelection(clientData as CollectedClientData, [assertion]);
    } catch (e) {
      throw toClientError(e);
    }
  }

  async #loadApi(): Promise<WebAuthnApi> {
    try {
      return await this.api();
    } catch (e) {
      this.#api = undefined; // let a later call retry the load
      throw new ClientError(E.OTHER_ERROR, "webauthn.dll could not be loaded", { cause: e });
    }
  }

  async #hwnd(): Promise<number | bigint> {
    const h = this.#options.hwnd;
    const given = h === undefined ? 0 : typeof h === "function" ? await h() : h;
    // 0 would fail in the DLL: fall back as if none was given.
    if (given !== 0 && given !== 0n) return given;
    return await defaultWindowHandle();
  }

  /**
   * Runs one DLL call with a fresh cancellation id: the caller's signals and the options'
   * timeout cancel it through WebAuthNCancelCurrentOperation, and then it fails with TIMEOUT.
   * webauthn.dll ignores a cancel for an operation it has not started yet, and on a Worker (or
   * Deno's FFI thread) the call may start after the abort: so the cancel is repeated every
   * {@linkcode CANCEL_RETRY_MS} until the call returns.
   */
  async #call<T>(
    api: WebAuthnApi,
    request: { cancellationId?: Uint8Array; timeoutMs?: number },
    signals: (AbortSignal | undefined)[],
    timeout: number | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    const all = signals.filter((s): s is AbortSignal => s !== undefined);
    if (timeout !== undefined && timeout > 0) all.push(AbortSignal.timeout(timeout));
    const signal = all.length ? AbortSignal.any(all) : undefined;
    if (signal?.aborted) throw aborted(signal);
    if (!signal) return await run();
    const id = api.getCancellationId();
    request.cancellationId = id;
    let cancelled = false;
    let retry: ReturnType<typeof setInterval> | undefined;
    const cancel = () => {
      try {
        api.cancelCurrentOperation(id);
      } catch {
        // The operation may have finished between the abort and the cancel: nothing to stop.
      }
    };
    const onAbort = () => {
      cancelled = true;
      cancel();
      retry = setInterval(cancel, CANCEL_RETRY_MS);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await run();
    } catch (e) {
      if (cancelled) throw aborted(signal, e);
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (retry !== undefined) clearInterval(retry);
    }
  }

  #makeCredentialRequest(
    opts: PublicKeyCredentialCreationOptions,
    v: number,
    ext: AuthenticationExtensionsClientInputs,
  ): MakeCredentialOptions {
    const sel = opts.authenticatorSelection;
    const request: MakeCredentialOptions = {
      userVerification: sel?.userVerification ?? "preferred",
      attachment: sel?.authenticatorAttachment ?? hintAttachment(opts.hints),
    };
    if (opts.timeout !== undefined) request.timeoutMs = timeoutMs(opts.timeout);
    const rk = sel?.residentKey ?? "discouraged";
    if (rk === "required") request.requireResidentKey = true;
    else if (rk === "preferred" && v >= API.preferResidentKey) request.residentKey = "preferred";
    const attestation = opts.attestation ?? "none";
    if (attestation === "enterprise") {
      request.attestationConveyance = "direct";
      if (v >= API.enterprise) request.enterpriseAttestation = "vendor-facilitated";
    } else {
      request.attestationConveyance = attestation;
    }
    request.excludeCredentials = descriptors(opts.excludeCredentials);
    if (opts.hints?.length && v >= API.hints) request.hints = [...opts.hints];

    const x: MakeCredentialExtensions = {};
    if (ext.credentialProtectionPolicy !== undefined) {
      const level = CRED_PROTECT[ext.credentialProtectionPolicy];
      const enforce = ext.enforceCredentialProtectionPolicy === true;
      if (level === undefined) {
        throw new ClientError(
          E.BAD_REQUEST,
          `Unknown credentialProtectionPolicy ${ext.credentialProtectionPolicy}`,
        );
      }
      if (v >= API.credProtect) x.credProtect = { level, enforce };
      else if (enforce && level > 1) throw unsupported("credProtect", API.credProtect, v);
    }
    if (ext.credBlob !== undefined) {
      if (!(ext.credBlob instanceof Uint8Array) || ext.credBlob.length === 0) {
        throw new ClientError(E.BAD_REQUEST, "credBlob must be non-empty bytes");
      }
      if (v >= API.credBlob) x.credBlob = ext.credBlob;
    }
    if (ext.minPinLength === true && v >= API.minPinLength) x.minPinLength = true;
    if (ext.largeBlob !== undefined) {
      const lb = ext.largeBlob;
      if (lb.read !== undefined || lb.write !== undefined) {
        throw new ClientError(E.BAD_REQUEST, "largeBlob read/write are not valid at registration");
      }
      const support = lb.support ?? "preferred";
      if (v >= API.largeBlob) x.largeBlob = support;
      else if (support === "required") throw unsupported("largeBlob", API.largeBlob, v);
    }
    if (ext.prf !== undefined) {
      const evalIn = checkPrfValues(ext.prf.eval, "prf.eval");
      if (ext.prf.evalByCredential !== undefined) {
        throw new ClientError(E.BAD_REQUEST, "prf.evalByCredential is not valid at registration");
      }
      if (v >= API.nativePrf) {
        x.prf = evalIn && v >= API.prfEvalAtCreate ? { eval: evalIn } : {};
      } else {
        x.hmacSecret = true; // PRF over plain hmac-secret: evaluated at authentication only
      }
    } else if (ext.hmacCreateSecret === true && this.#options.allowHmacSecret) {
      x.hmacSecret = true;
      if (ext.hmacGetSecret !== undefined) {
        // hmac-secret-mc: evaluated at registration where the API can carry raw salts.
        const salts = hmacGetSecretSalts(ext.hmacGetSecret);
        if (v >= API.hmacSecretMc) x.hmacSecretMc = salts;
      }
    }
    if (isPaymentRequested(ext) && v >= API.thirdPartyPayment) {
      request.thirdPartyPayment = true;
    }
    request.extensions = x;
    return request;
  }

  #getAssertionRequest(
    opts: PublicKeyCredentialRequestOptions,
    v: number,
    ext: AuthenticationExtensionsClientInputs,
  ): GetAssertionOptions {
    const request: GetAssertionOptions = {
      userVerification: opts.userVerification ?? "preferred",
      attachment: hintAttachment(opts.hints),
      allowCredentials: descriptors(opts.allowCredentials),
    };
    if (opts.timeout !== undefined) request.timeoutMs = timeoutMs(opts.timeout);
    if (opts.hints?.length && v >= API.hints) request.hints = [...opts.hints];
    if (ext.appid !== undefined) {
      if (typeof ext.appid !== "string") {
        throw new ClientError(E.BAD_REQUEST, "appid must be a string");
      }
      request.appId = ext.appid;
    }
    const x: GetAssertionExtensions = {};
    if (ext.getCredBlob === true && v >= API.credBlob) x.credBlob = true;
    if (ext.largeBlob !== undefined) {
      const lb = ext.largeBlob;
      if (lb.support !== undefined) {
        throw new ClientError(E.BAD_REQUEST, "largeBlob.support is only valid at registration");
      }
      if (lb.read === true && lb.write !== undefined) {
        throw new ClientError(E.BAD_REQUEST, "largeBlob read and write are exclusive");
      }
      if ((lb.read === true || lb.write !== undefined) && v >= API.largeBlob) {
        if (lb.write !== undefined) {
          if (!(lb.write instanceof Uint8Array) || lb.write.length === 0) {
            throw new ClientError(E.BAD_REQUEST, "largeBlob.write must be non-empty bytes");
          }
          if (request.allowCredentials!.length !== 1) {
            throw new ClientError(
              E.BAD_REQUEST,
              "largeBlob.write needs exactly one credential in allowCredentials",
            );
          }
          x.largeBlob = { operation: "set", data: lb.write };
        } else {
          x.largeBlob = { operation: "get" };
        }
      }
    }
    if (ext.prf !== undefined) {
      const salts = prfSalts(ext.prf, request.allowCredentials!, v >= API.nativePrf);
      if (salts && v >= API.hmacSalts) x.hmacSecret = salts;
    } else if (ext.hmacGetSecret !== undefined && this.#options.allowHmacSecret) {
      const global = hmacGetSecretSalts(ext.hmacGetSecret);
      if (v >= API.hmacSalts) x.hmacSecret = { global, raw: true };
    }
    request.extensions = x;
    return request;
  }
}

// ---------------------------------------------------------------- helpers

/**
 * Whether webauthn.dll (or the library `FIDO2_WEBAUTHN_LIB` names) loads and reports API
 * version 1 or later, whatever the OS: {@linkcode WindowsClient.isAvailable} without its
 * platform check, so the client factory can be tested against a fake library off Windows.
 */
export async function webauthnLibraryUsable(): Promise<boolean> {
  try {
    const api = await loadWebAuthn();
    try {
      return api.apiVersion() >= 1;
    } finally {
      await api.close();
    }
  } catch {
    return false;
  }
}

/**
 * How much longer than `options.timeout` webauthn.dll's own `dwTimeoutMilliseconds` is. The
 * local timer enforces the timeout (and cancels the call); were both equal, which of them
 * fired first would decide the outcome (our cancel or the DLL's own ERROR_TIMEOUT).
 */
export const DLL_TIMEOUT_HEADROOM_MS = 10_000;

/** How often an abort repeats WebAuthNCancelCurrentOperation until the call has returned. */
export const CANCEL_RETRY_MS = 100;

/** The DLL's DWORD timeout for a WebAuthn timeout `t`: `t` plus the headroom. */
function timeoutMs(t: number): number {
  if (!Number.isFinite(t) || t < 0) throw new ClientError(E.BAD_REQUEST, `Invalid timeout ${t}`);
  if (t === 0) return 0; // the DLL's default; no local timer either
  return Math.min(Math.round(t) + DLL_TIMEOUT_HEADROOM_MS, 0xffffffff);
}

function descriptors(list: readonly PublicKeyCredentialDescriptor[] | undefined) {
  return (list ?? []).filter((d) => d.type === "public-key").map((d) => ({
    id: d.id,
    type: "public-key",
    transports: d.transports ? [...d.transports] : undefined,
  }));
}

/** The attachment the first recognised hint implies ("any" without one). */
function hintAttachment(
  hints: readonly string[] | undefined,
): "any" | "platform" | "cross-platform" {
  for (const h of hints ?? []) {
    if (h === "security-key") return "cross-platform";
    if (h === "client-device") return "platform";
  }
  return "any";
}

/** "platform" when the DLL used its internal authenticator, else "cross-platform". */
function attachmentOf(
  used: readonly Transport[] | undefined,
  requested: string | undefined,
): "platform" | "cross-platform" {
  if (used && used.length) return used.includes("internal") ? "platform" : "cross-platform";
  return requested === "platform" ? "platform" : "cross-platform";
}

function checkPrfValues(
  v: AuthenticationExtensionsPRFValues | undefined,
  what: string,
): HmacSalts | undefined {
  if (v === undefined) return undefined;
  if (
    !(v.first instanceof Uint8Array) ||
    (v.second !== undefined && !(v.second instanceof Uint8Array))
  ) {
    throw new ClientError(E.BAD_REQUEST, `${what} must hold bytes`);
  }
  return v.second ? { first: v.first, second: v.second } : { first: v.first };
}

/**
 * PRF inputs as webauthn.dll salts: passed as-is (the DLL hashes them) when the API has
 * native PRF, else hashed here per WebAuthn L3 and sent as raw hmac-secret salts.
 */
function prfSalts(
  prf: NonNullable<AuthenticationExtensionsClientInputs["prf"]>,
  allow: readonly { id: Uint8Array }[],
  native: boolean,
): GetAssertionExtensions["hmacSecret"] | undefined {
  const conv = (s: HmacSalts): HmacSalts => {
    if (native) return s;
    return s.second
      ? { first: prfSalt(s.first), second: prfSalt(s.second) }
      : { first: prfSalt(s.first) };
  };
  const global = checkPrfValues(prf.eval, "prf.eval");
  const byCredential: { id: Uint8Array; salts: HmacSalts }[] = [];
  if (prf.evalByCredential !== undefined) {
    const entries = Object.entries(prf.evalByCredential);
    if (entries.length && allow.length === 0) {
      throw new ClientError(E.BAD_REQUEST, "prf.evalByCredential needs allowCredentials");
    }
    for (const [key, values] of entries) {
      let id: Uint8Array;
      try {
        id = b64urlDecode(key);
      } catch (e) {
        throw new ClientError(E.BAD_REQUEST, `prf.evalByCredential key ${key} is not base64url`, {
          cause: e,
        });
      }
      if (!allow.some((c) => bytesEqual(c.id, id))) {
        throw new ClientError(
          E.BAD_REQUEST,
          `prf.evalByCredential key ${key} is not in allowCredentials`,
        );
      }
      const salts = checkPrfValues(values, `prf.evalByCredential.${key}`)!;
      byCredential.push({ id, salts: conv(salts) });
    }
  }
  if (!global && byCredential.length === 0) return undefined;
  return {
    global: global ? conv(global) : undefined,
    byCredential: byCredential.length ? byCredential : undefined,
    raw: !native,
  };
}

/** The raw hmac-secret salts of `hmacGetSecret` (32 bytes each), or BAD_REQUEST. */
function hmacGetSecretSalts(h: { salt1?: unknown; salt2?: unknown }): HmacSalts {
  const s1 = h?.salt1, s2 = h?.salt2;
  if (
    !(s1 instanceof Uint8Array) || s1.length !== 32 ||
    (s2 !== undefined && (!(s2 instanceof Uint8Array) || s2.length !== 32))
  ) {
    throw new ClientError(E.BAD_REQUEST, "hmacGetSecret salts must be 32 bytes");
  }
  return s2 ? { first: s1, second: s2 as Uint8Array } : { first: s1 };
}

/** A CBOR boolean, else undefined. */
function boolOf(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}

function prfResults(s: HmacSalts): AuthenticationExtensionsPRFValues {
  return s.second ? { first: s.first, second: s.second } : { first: s.first };
}

/** The DLL's hmac-secret outputs as the legacy `hmacGetSecret` client output. */
function hmacGetSecretResults(s: HmacSalts): HMACGetSecretOutput {
  return s.second ? { output1: s.first, output2: s.second } : { output1: s.first };
}

function unsupported(feature: string, need: number, have: number): ClientError {
  return new ClientError(
    E.CONFIGURATION_UNSUPPORTED,
    `${feature} needs webauthn.dll API version ${need}; this one has ${have}`,
  );
}

function aborted(signal: AbortSignal, cause?: unknown): ClientError {
  const reason = signal.reason instanceof Error ? signal.reason.message : "aborted";
  return new ClientError(E.TIMEOUT, `The operation was cancelled or timed out (${reason})`, {
    cause: cause ?? signal.reason,
  });
}

/**
 * HRESULT class (the DLL's W3C error name, `WebAuthNGetErrorName`) → ClientError code, for
 * HRESULTs {@linkcode BY_HRESULT} does not list (research §1.6). "UnknownError" and anything
 * else is OTHER_ERROR.
 */
const BY_NAME: Record<string, number> = {
  InvalidStateError: E.DEVICE_INELIGIBLE,
  NotSupportedError: E.BAD_REQUEST,
  ConstraintError: E.CONFIGURATION_UNSUPPORTED,
  NotAllowedError: E.DEVICE_INELIGIBLE,
};

/**
 * The user closed or declined Windows' dialog: the code a CTAP key's OPERATION_DENIED (the
 * user declined on the key) gets in `Fido2Client`, so both clients report it alike.
 */
const USER_DECLINED = clientErrorCode(CTAP_STATUS.OPERATION_DENIED);

/**
 * Every HRESULT webauthn.dll documents, mapped on its own whatever name the DLL gives it:
 *
 * | HRESULT | name | ClientError |
 * |---|---|---|
 * | NTE_EXISTS (excluded credential present) | InvalidStateError | DEVICE_INELIGIBLE |
 * | NTE_NOT_FOUND, NTE_DEVICE_NOT_FOUND (no matching credential / key) | NotAllowedError | DEVICE_INELIGIBLE |
 * | NTE_INVALID_PARAMETER, E_INVALIDARG | NotSupportedError / - | BAD_REQUEST |
 * | NTE_NOT_SUPPORTED, ERROR_NOT_SUPPORTED, NTE_TOKEN_KEYSET_STORAGE_FULL | ConstraintError | CONFIGURATION_UNSUPPORTED |
 * | E_NOTIMPL (API not implemented in this build) | UnknownError | CONFIGURATION_UNSUPPORTED |
 * | ERROR_TIMEOUT (the DLL's own timeout) | NotAllowedError | TIMEOUT |
 * | NTE_USER_CANCELLED, ERROR_CANCELLED (dialog closed or declined) | NotAllowedError | TIMEOUT (as OPERATION_DENIED) |
 * | RPC_S_CALL_FAILED and anything else | UnknownError | OTHER_ERROR |
 *
 * A call our own AbortSignal or `options.timeout` cancelled is TIMEOUT whatever it returns.
 */
const BY_HRESULT = new Map<number, number>([
  [HRESULT.NTE_EXISTS, E.DEVICE_INELIGIBLE],
  [HRESULT.NTE_NOT_FOUND, E.DEVICE_INELIGIBLE],
  [HRESULT.NTE_DEVICE_NOT_FOUND, E.DEVICE_INELIGIBLE],
  [HRESULT.NTE_INVALID_PARAMETER, E.BAD_REQUEST],
  [HRESULT.E_INVALIDARG, E.BAD_REQUEST],
  [HRESULT.NTE_NOT_SUPPORTED, E.CONFIGURATION_UNSUPPORTED],
  [HRESULT.ERROR_NOT_SUPPORTED, E.CONFIGURATION_UNSUPPORTED],
  [HRESULT.NTE_TOKEN_KEYSET_STORAGE_FULL, E.CONFIGURATION_UNSUPPORTED],
  [HRESULT.E_NOTIMPL, E.CONFIGURATION_UNSUPPORTED],
  [HRESULT.ERROR_TIMEOUT, E.TIMEOUT],
  [HRESULT.NTE_USER_CANCELLED, USER_DECLINED],
  [HRESULT.ERROR_CANCELLED, USER_DECLINED],
]);

/** The ClientError code for a failed webauthn.dll call. */
export function windowsErrorCode(err: WindowsApiError): number {
  return BY_HRESULT.get(err.hresult) ?? BY_NAME[err.errorName] ?? E.OTHER_ERROR;
}

function toClientError(e: unknown): ClientError {
  if (e instanceof ClientError) return e;
  if (e instanceof WindowsApiError) {
    return new ClientError(windowsErrorCode(e), e.message, { cause: e });
  }
  if (e instanceof WebAuthnUnsupportedError) {
    return new ClientError(E.CONFIGURATION_UNSUPPORTED, e.message, { cause: e });
  }
  if (e instanceof FormatError) {
    // The binding checks every request field before calling the DLL; its output checks say
    // "webauthn.dll returned ...".
    const fromDll = /returned/.test(e.message);
    return new ClientError(fromDll ? E.OTHER_ERROR : E.BAD_REQUEST, e.message, { cause: e });
  }
  return new ClientError(E.OTHER_ERROR, e instanceof Error ? e.message : String(e), { cause: e });
}
