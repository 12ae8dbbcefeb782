/**
 * Loading webauthn.dll and calling it: the symbol table, where the blocking calls run, and the
 * {@linkcode WebAuthnApi} implementation that builds each request, makes the call and reads
 * the result.
 * @module
 */
import {
  getEnv,
  LibraryLoadError,
  type NativeLibrary,
  openLibrary,
  platform,
  readWideString,
} from "../runtime.ts";
import { FormatError } from "../../src/errors.ts";
import { loadSystemLibrary } from "../win32.ts";
import {
  ATTACHMENT,
  CONVEYANCE,
  ENTERPRISE,
  HMAC_SECRET_VALUES_FLAG,
  HRESULT,
  LARGE_BLOB_OPERATION,
  LARGE_BLOB_SUPPORT,
  LAYOUT,
  MAX_KNOWN_API_VERSION,
  PLATFORM_CREDENTIALS_API_VERSION,
  STRUCT_VERSIONS,
  USER_VERIFICATION,
} from "./layout.ts";
import {
  WebAuthnClosedError,
  WebAuthnCloseTimeoutError,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "./errors.ts";
import type {
  Assertion,
  ClientDataInput,
  CoseCredentialParameter,
  CredentialAttestation,
  GetAssertionOptions,
  MakeCredentialOptions,
  PlatformCredential,
  PlatformCredentialListOptions,
  RpEntity,
  UserEntity,
  WebAuthnApi,
} from "./types.ts";
import {
  Arena,
  boolPayload,
  checkBytes,
  checkCredentials,
  checkGuid,
  checkString,
  checkU32,
  enumValue,
  getPtr,
  hwndAddress,
  readAssertion,
  readAttestation,
  readCredentialDetailsList,
  setBool,
  setPtr,
  writeClientData,
  writeCredentialList,
  writeCredentials,
  writeExtensions,
  writeSalt,
} from "./marshal.ts";

// ---------------------------------------------------------------- loading

const SYMBOLS = {
  WebAuthNGetApiVersionNumber: { parameters: [], result: "u32", optional: true },
  WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable: { parameters: ["buffer"], result: "i32" },
  WebAuthNAuthenticatorMakeCredential: {
    parameters: ["ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"],
    result: "i32",
    nonblocking: true,
  },
  WebAuthNAuthenticatorGetAssertion: {
    parameters: ["ptr", "ptr", "ptr", "ptr", "ptr"],
    result: "i32",
    nonblocking: true,
  },
  WebAuthNFreeCredentialAttestation: { parameters: ["ptr"], result: "void" },
  WebAuthNFreeAssertion: { parameters: ["ptr"], result: "void" },
  WebAuthNGetCancellationId: { parameters: ["buffer"], result: "i32" },
  WebAuthNCancelCurrentOperation: { parameters: ["buffer"], result: "i32" },
  WebAuthNGetErrorName: { parameters: ["i32"], result: "ptr" },
  // API 4+: absent from older DLLs.
  WebAuthNGetPlatformCredentialList: {
    parameters: ["ptr", "buffer"],
    result: "i32",
    optional: true,
    nonblocking: true,
  },
  WebAuthNFreePlatformCredentialList: { parameters: ["ptr"], result: "void", optional: true },
  WebAuthNDeletePlatformCredential: {
    parameters: ["u32", "ptr"],
    result: "i32",
    optional: true,
    nonblocking: true,
  },
} as const;

type Lib = NativeLibrary<typeof SYMBOLS>;

/** The two webauthn.dll functions that block until the user has answered Windows' dialog. */
export type BlockingFunction =
  | "WebAuthNAuthenticatorMakeCredential"
  | "WebAuthNAuthenticatorGetAssertion";

/**
 * Runs the blocking calls somewhere other than the calling thread. Every argument is a native
 * address (0 = NULL) of memory the binding owns and keeps alive until the promise settles, so
 * the runner only makes the call: it needs no marshalling code, only the library's path.
 */
export interface BlockingCaller {
  /** Calls `fn` of the library at `path` with these addresses; resolves with its HRESULT. */
  call(path: string, fn: BlockingFunction, args: readonly number[]): Promise<number>;
  /**
   * Stops the runner once its pending calls have returned (a native call cannot be
   * interrupted, and its memory must outlive it); new calls reject at once.
   */
  close(): void;
}

/** Options of {@linkcode loadWebAuthn}. */
export interface LoadWebAuthnOptions {
  /** The library to load instead of webauthn.dll (else `FIDO2_WEBAUTHN_LIB`, else System32). */
  readonly path?: string;
  /**
   * Where MakeCredential/GetAssertion run (default: Deno's nonblocking FFI thread; on Bun the
   * calling thread, which blocks). The binding closes it on `close()`.
   */
  readonly blockingCaller?: BlockingCaller;
  /**
   * How long `close()` waits for blocked calls to return after cancelling them before it
   * rejects with `WebAuthnCloseTimeoutError` (default {@linkcode CLOSE_TIMEOUT_MS}).
   */
  readonly closeTimeoutMs?: number;
}

/** Default of `LoadWebAuthnOptions.closeTimeoutMs`: webauthn.dll returns soon after a cancel. */
export const CLOSE_TIMEOUT_MS = 10_000;

/** How often `close()` repeats its cancel: the DLL ignores one for an operation not yet begun. */
const CLOSE_CANCEL_RETRY_MS = 50;

/**
 * Environment variables naming the library to load instead of System32's webauthn.dll, in
 * order: `FIDO2_WEBAUTHN_LIB` (the documented name), then `FIDO2_WEBAUTHN_PATH` (an alias kept
 * for earlier users). Tests point them at the fake library; an empty value counts as unset.
 */
export const LIBRARY_ENV = ["FIDO2_WEBAUTHN_LIB", "FIDO2_WEBAUTHN_PATH"] as const;

/** The override: an explicit path, else the first of {@linkcode LIBRARY_ENV} that is set. */
function override(path?: string): string | undefined {
  if (path) return path;
  for (const name of LIBRARY_ENV) {
    const env = getEnv(name);
    if (env) return env;
  }
  return undefined;
}

/**
 * Loads webauthn.dll (or the library named by `opts.path` / `FIDO2_WEBAUTHN_LIB` /
 * `FIDO2_WEBAUTHN_PATH`) and reads its API version. webauthn.dll itself comes from System32
 * only (`LoadLibraryExW` with `LOAD_LIBRARY_SEARCH_SYSTEM32`): a DLL planted in the
 * application or current directory, or a changed `%SystemRoot%`, cannot stand in for it.
 * Throws `LibraryLoadError` when it cannot be loaded or lacks a required symbol.
 */
export async function loadWebAuthn(opts: LoadWebAuthnOptions = {}): Promise<WebAuthnApi> {
  const closeTimeoutMs = opts.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
  if (typeof closeTimeoutMs !== "number" || !(closeTimeoutMs >= 0) || closeTimeoutMs > 2 ** 31) {
    throw new FormatError("closeTimeoutMs must be a number of milliseconds in 0..2^31");
  }
  const explicit = override(opts.path);
  let lib: Lib;
  if (explicit) {
    lib = await openLibrary([explicit], SYMBOLS);
  } else {
    if (platform() !== "win32") {
      throw new LibraryLoadError(
        "webauthn.dll exists only on Windows (set FIDO2_WEBAUTHN_LIB to load another library)",
      );
    }
    const system = await loadSystemLibrary("webauthn.dll");
    try {
      // The module is loaded already: opening its full path takes another reference to it.
      lib = await openLibrary([system.path], SYMBOLS);
    } finally {
      system.release();
    }
  }
  const getVersion = lib.symbols.WebAuthNGetApiVersionNumber;
  const api = getVersion ? Number(getVersion()) >>> 0 : 0;
  return new Binding(lib, api, opts.blockingCaller, closeTimeoutMs);
}

/** A call in flight: what `close()` cancels, waits for, and releases after it. */
interface Running {
  readonly operation: string;
  readonly cancellationId?: Uint8Array;
  readonly arena: Arena;
  readonly done: Promise<void>;
}

/**
 * Calls whose binding stopped waiting for them (close() timed out): referenced from here, so
 * their request memory stays alive even if the binding itself is dropped, until they return.
 */
const ABANDONED = new Set<Running>();

// ---------------------------------------------------------------- the binding

class Binding implements WebAuthnApi {
  readonly path: string;
  readonly #lib: Lib;
  readonly #api: number;
  /** The API version struct choices are made for (newer DLLs are driven as the newest known). */
  readonly #v: number;

  readonly #caller?: BlockingCaller;
  readonly #closeTimeoutMs: number;
  /** The calls in flight; close() waits for them before it releases anything. */
  readonly #running = new Set<Running>();
  /** Set by close(): no new call starts. */
  #closing?: Promise<void>;
  /** close() gave up waiting: the last running call to return unloads the library. */
  #abandoned = false;
  /** The library (and the caller) are closed: no symbol may be called any more. */
  #unloaded = false;

  constructor(lib: Lib, api: number, caller: BlockingCaller | undefined, closeTimeoutMs: number) {
    this.#lib = lib;
    this.path = lib.path;
    this.#api = api;
    this.#v = Math.min(api, MAX_KNOWN_API_VERSION);
    this.#caller = caller;
    this.#closeTimeoutMs = closeTimeoutMs;
  }

  /** Throws WebAuthnClosedError once close() was called. */
  #assertOpen(operation: string): void {
    if (this.#closing) throw new WebAuthnClosedError(operation);
  }

  /** The library's symbols, while it is loaded. */
  #symbols(operation: string): Lib["symbols"] {
    if (this.#unloaded) throw new WebAuthnClosedError(operation);
    return this.#lib.symbols;
  }

  /** One blocking call, on the caller's runner when there is one. */
  async #blocking(fn: BlockingFunction, args: number[]): Promise<number> {
    if (this.#caller) return await this.#caller.call(this.path, fn, args);
    return await this.#lib.symbols[fn](...args);
  }

  /**
   * Runs `body` (the DLL call and the reading of its result) as one tracked call: `arena` is
   * wiped and released when it ends, never earlier, and close() waits for it. A call that
   * fails after close() began fails with WebAuthnClosedError (the cause is the DLL's error).
   */
  async #track<T>(
    operation: string,
    arena: Arena,
    cancellationId: Uint8Array | undefined,
    body: () => Promise<T>,
  ): Promise<T> {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const id = cancellationId ? Uint8Array.from(cancellationId) : undefined;
    const entry: Running = { operation, cancellationId: id, arena, done };
    this.#running.add(entry);
    try {
      return await body();
    } catch (e) {
      if (this.#closing) throw new WebAuthnClosedError(operation, { cause: e });
      throw e;
    } finally {
      arena.release();
      this.#running.delete(entry);
      ABANDONED.delete(entry);
      finish();
      if (this.#abandoned && this.#running.size === 0) this.#unload();
    }
  }

  apiVersion(): number {
    return this.#api;
  }

  isUserVerifyingPlatformAuthenticatorAvailable(): boolean {
    this.#assertOpen("WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable");
    const out = new Uint8Array(new ArrayBuffer(8));
    const hr = this.#lib.symbols.WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable(out);
    this.#check("WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable", hr);
    return new DataView(out.buffer).getInt32(0, true) !== 0;
  }

  getCancellationId(): Uint8Array {
    this.#assertOpen("WebAuthNGetCancellationId");
    const out = new Uint8Array(new ArrayBuffer(16));
    this.#check("WebAuthNGetCancellationId", this.#lib.symbols.WebAuthNGetCancellationId(out));
    return out;
  }

  cancelCurrentOperation(cancellationId: Uint8Array): void {
    checkGuid(cancellationId, "cancellationId");
    const guid = new Uint8Array(new ArrayBuffer(16));
    guid.set(cancellationId);
    // Allowed while close() waits: a cancel of a call in flight is what close() wants too.
    const sym = this.#symbols("WebAuthNCancelCurrentOperation");
    const hr = sym.WebAuthNCancelCurrentOperation(guid);
    this.#check("WebAuthNCancelCurrentOperation", hr);
  }

  getErrorName(hresult: number): string {
    const p = this.#symbols("WebAuthNGetErrorName").WebAuthNGetErrorName(hresult | 0) as number;
    return p ? readWideString(p, 2, 256)! : "UnknownError";
  }

  async getPlatformCredentialList(
    options: PlatformCredentialListOptions = {},
  ): Promise<PlatformCredential[]> {
    if (!options || typeof options !== "object") {
      throw new FormatError("options must be an object");
    }
    this.#assertOpen("WebAuthNGetPlatformCredentialList");
    const sym = this.#platformSymbols("platform credential list");
    const arena = new Arena();
    const L = LAYOUT.getCredentialsOptions;
    const m = arena.alloc(L.size);
    m.dv.setUint32(L.dwVersion, 1, true);
    if (options.rpId !== undefined) {
      checkString(options.rpId, "rpId");
      if (!options.rpId) throw new FormatError("rpId must not be empty");
      setPtr(m.dv, L.pwszRpId, arena.wstr(options.rpId));
    }
    setBool(m.dv, L.bBrowserInPrivateMode, options.browserInPrivateMode);
    const out = arena.alloc(8);
    return await this.#track("WebAuthNGetPlatformCredentialList", arena, undefined, async () => {
      const hr = await sym.list(m.addr, out.buf);
      const p = getPtr(out.dv, 0);
      try {
        if ((hr >>> 0) === HRESULT.NTE_NOT_FOUND) return [];
        this.#check("WebAuthNGetPlatformCredentialList", hr);
        if (!p) throw new FormatError("WebAuthNGetPlatformCredentialList returned no result");
        return readCredentialDetailsList(p);
      } finally {
        if (p) sym.free(p);
      }
    });
  }

  async deletePlatformCredential(credentialId: Uint8Array): Promise<void> {
    this.#assertOpen("WebAuthNDeletePlatformCredential");
    const sym = this.#platformSymbols("deleting platform credentials");
    checkBytes(credentialId, "credentialId", { min: 1, max: 1024 });
    const arena = new Arena();
    const id = arena.bytes(credentialId);
    await this.#track("WebAuthNDeletePlatformCredential", arena, undefined, async () => {
      const hr = await sym.delete(credentialId.length, id);
      this.#check("WebAuthNDeletePlatformCredential", hr);
    });
  }

  /** The API 4 platform-credential functions, or WebAuthnUnsupportedError. */
  #platformSymbols(feature: string) {
    const s = this.#lib.symbols;
    const list = s.WebAuthNGetPlatformCredentialList;
    const free = s.WebAuthNFreePlatformCredentialList;
    const del = s.WebAuthNDeletePlatformCredential;
    if (this.#api < PLATFORM_CREDENTIALS_API_VERSION || !list || !free || !del) {
      throw new WebAuthnUnsupportedError(feature, PLATFORM_CREDENTIALS_API_VERSION, this.#api);
    }
    return { list, free, delete: del };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Cancels the calls in flight, waits (bounded) for them to return, then unloads. */
  async #close(): Promise<void> {
    if (this.#running.size === 0) return this.#unload(); // synchronously: nothing runs
    const cancelAll = () => {
      for (const r of this.#running) {
        if (!r.cancellationId) continue;
        try {
          this.cancelCurrentOperation(r.cancellationId);
        } catch {
          // It finished meanwhile, or the DLL refused: waiting is all that is left.
        }
      }
    };
    cancelAll();
    const retry = setInterval(cancelAll, CLOSE_CANCEL_RETRY_MS);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      Promise.all([...this.#running].map((r) => r.done)).then(() => false),
      new Promise<boolean>((
        resolve,
      ) => (timer = setTimeout(() => resolve(true), this.#closeTimeoutMs))),
    ]);
    clearInterval(retry);
    clearTimeout(timer);
    if (timedOut && this.#running.size > 0) {
      const left = [...this.#running];
      for (const r of left) ABANDONED.add(r);
      this.#abandoned = true;
      throw new WebAuthnCloseTimeoutError(
        left.map((r) => r.operation),
        this.#closeTimeoutMs,
        left.some((r) => !r.cancellationId),
      );
    }
    this.#unload();
  }

  /** Closes the caller and the library, once, when no call uses them any more. */
  #unload(): void {
    if (this.#unloaded) return;
    this.#unloaded = true;
    this.#caller?.close();
    this.#lib.close();
  }

  #check(operation: string, hr: number): void {
    if (hr === 0) return;
    const name = this.#unloaded ? "UnknownError" : this.getErrorName(hr);
    throw new WindowsApiError(operation, hr, name);
  }

  #need(feature: string, structVersion: number, table: readonly number[]): void {
    const have = table[this.#v];
    if (have >= structVersion) return;
    const api = table.findIndex((v) => v >= structVersion);
    throw new WebAuthnUnsupportedError(feature, api, this.#api);
  }

  /**
   * The members both options structs gained in the same versions (jsonExt v7, hints v8,
   * remoteWebOrigin, the options JSON and authenticatorId v9); only their offsets differ.
   */
  #writeSharedTail(
    dv: DataView,
    arena: Arena,
    table: readonly number[],
    o: Pick<
      MakeCredentialOptions,
      "jsonExt" | "hints" | "remoteWebOrigin" | "optionsJson" | "authenticatorId"
    >,
    L: {
      readonly cbJsonExt: number;
      readonly pbJsonExt: number;
      readonly cCredentialHints: number;
      readonly ppwszCredentialHints: number;
      readonly pwszRemoteWebOrigin: number;
      readonly cbOptionsJson: number;
      readonly pbOptionsJson: number;
      readonly cbAuthenticatorId: number;
      readonly pbAuthenticatorId: number;
    },
  ): void {
    const blob = (data: Uint8Array, what: string, version: number, cb: number, pb: number) => {
      this.#need(what, version, table);
      checkBytes(data, what);
      dv.setUint32(cb, data.length, true);
      setPtr(dv, pb, arena.bytes(data));
    };
    if (o.jsonExt !== undefined) blob(o.jsonExt, "jsonExt", 7, L.cbJsonExt, L.pbJsonExt);
    if (o.hints?.length) {
      this.#need("hints", 8, table);
      o.hints.forEach((h, i) => checkString(h, `hints[${i}]`));
      dv.setUint32(L.cCredentialHints, o.hints.length, true);
      setPtr(dv, L.ppwszCredentialHints, arena.wstrArray(o.hints));
    }
    if (o.remoteWebOrigin !== undefined) {
      this.#need("remoteWebOrigin", 9, table);
      checkString(o.remoteWebOrigin, "remoteWebOrigin");
      setPtr(dv, L.pwszRemoteWebOrigin, arena.wstr(o.remoteWebOrigin));
    }
    if (o.optionsJson !== undefined) {
      blob(o.optionsJson, "optionsJson", 9, L.cbOptionsJson, L.pbOptionsJson);
    }
    if (o.authenticatorId !== undefined) {
      blob(o.authenticatorId, "authenticatorId", 9, L.cbAuthenticatorId, L.pbAuthenticatorId);
    }
  }

  #needApi(feature: string, api: number): void {
    if (this.#api < api) throw new WebAuthnUnsupportedError(feature, api, this.#api);
  }

  async makeCredential(
    hwnd: number | bigint,
    rp: RpEntity,
    user: UserEntity,
    pubKeyCredParams: readonly CoseCredentialParameter[],
    clientData: ClientDataInput,
    options: MakeCredentialOptions = {},
  ): Promise<CredentialAttestation> {
    this.#assertOpen("WebAuthNAuthenticatorMakeCredential");
    const arena = new Arena();
    const hwndAddr = hwndAddress(hwnd);
    // rp
    if (!rp || typeof rp !== "object") throw new FormatError("rp must be an object");
    checkString(rp.id, "rp.id");
    checkString(rp.name, "rp.name");
    if (rp.icon !== undefined) checkString(rp.icon, "rp.icon");
    const R = LAYOUT.rp;
    const rpM = arena.alloc(R.size);
    rpM.dv.setUint32(R.dwVersion, 1, true);
    setPtr(rpM.dv, R.pwszId, arena.wstr(rp.id));
    setPtr(rpM.dv, R.pwszName, arena.wstr(rp.name));
    if (rp.icon !== undefined) setPtr(rpM.dv, R.pwszIcon, arena.wstr(rp.icon));
    // user
    if (!user || typeof user !== "object") throw new FormatError("user must be an object");
    checkBytes(user.id, "user.id", { min: 1, max: 64 });
    checkString(user.name, "user.name");
    checkString(user.displayName, "user.displayName");
    if (user.icon !== undefined) checkString(user.icon, "user.icon");
    const U = LAYOUT.user;
    const userM = arena.alloc(U.size);
    userM.dv.setUint32(U.dwVersion, 1, true);
    userM.dv.setUint32(U.cbId, user.id.length, true);
    setPtr(userM.dv, U.pbId, arena.bytes(user.id));
    setPtr(userM.dv, U.pwszName, arena.wstr(user.name));
    if (user.icon !== undefined) setPtr(userM.dv, U.pwszIcon, arena.wstr(user.icon));
    setPtr(userM.dv, U.pwszDisplayName, arena.wstr(user.displayName));
    // algorithms
    if (!Array.isArray(pubKeyCredParams) || pubKeyCredParams.length === 0) {
      throw new FormatError("pubKeyCredParams must be a non-empty array");
    }
    const P = LAYOUT.coseParameter;
    const params = arena.alloc(P.size * pubKeyCredParams.length);
    pubKeyCredParams.forEach((p, i) => {
      checkString(p?.type, `pubKeyCredParams[${i}].type`);
      if (!Number.isInteger(p.alg) || p.alg < -0x80000000 || p.alg > 0x7fffffff) {
        throw new FormatError(`pubKeyCredParams[${i}].alg must be a 32-bit integer`);
      }
      params.dv.setUint32(i * P.size + P.dwVersion, 1, true);
      setPtr(params.dv, i * P.size + P.pwszCredentialType, arena.wstr(p.type));
      params.dv.setInt32(i * P.size + P.lAlg, p.alg, true);
    });
    const PS = LAYOUT.coseParameters;
    const paramsM = arena.alloc(PS.size);
    paramsM.dv.setUint32(PS.cCredentialParameters, pubKeyCredParams.length, true);
    setPtr(paramsM.dv, PS.pCredentialParameters, params.addr);
    const cdAddr = writeClientData(arena, clientData);
    const optAddr = this.#makeCredentialOptions(arena, options);

    const out = arena.alloc(8);
    const fn = "WebAuthNAuthenticatorMakeCredential";
    return await this.#track(fn, arena, options.cancellationId, async () => {
      const args = [hwndAddr, rpM.addr, userM.addr, paramsM.addr, cdAddr, optAddr, out.addr];
      const hr = await this.#blocking(fn, args);
      const p = getPtr(out.dv, 0);
      try {
        this.#check(fn, hr);
        if (!p) throw new FormatError(`${fn} returned no result`);
        return readAttestation(p);
      } finally {
        if (p) this.#lib.symbols.WebAuthNFreeCredentialAttestation(p);
      }
    });
  }

  #makeCredentialOptions(arena: Arena, o: MakeCredentialOptions): number {
    if (!o || typeof o !== "object") throw new FormatError("options must be an object");
    const table = STRUCT_VERSIONS.makeCredentialOptions;
    const v = table[this.#v];
    const L = LAYOUT.makeCredentialOptions;
    const m = arena.alloc(L.size);
    const dv = m.dv;
    dv.setUint32(L.dwVersion, v, true);
    dv.setUint32(L.dwTimeoutMilliseconds, checkU32(o.timeoutMs, "timeoutMs"), true);
    const exclude = checkCredentials(o.excludeCredentials, "excludeCredentials");
    // Legacy list too (Chromium does this for CTAP1 keys); the DLL prefers the EX list.
    writeCredentials(arena, dv, L.CredentialList, exclude);
    if (exclude.length) setPtr(dv, L.pExcludeCredentialList, writeCredentialList(arena, exclude));

    const x = o.extensions ?? {};
    const exts: { id: string; payload: Uint8Array }[] = [];
    if (x.hmacSecret || x.prf) exts.push({ id: "hmac-secret", payload: boolPayload() });
    if (x.credProtect !== undefined) {
      this.#needApi("credProtect", 2);
      const level = x.credProtect.level;
      if (![0, 1, 2, 3].includes(level)) throw new FormatError("credProtect.level must be 0..3");
      const p = new Uint8Array(LAYOUT.credProtectIn.size);
      const pdv = new DataView(p.buffer);
      pdv.setUint32(LAYOUT.credProtectIn.dwCredProtect, level, true);
      setBool(pdv, LAYOUT.credProtectIn.bRequireCredProtect, x.credProtect.enforce);
      exts.push({ id: "credProtect", payload: p });
    }
    if (x.credBlob !== undefined) {
      this.#needApi("credBlob", 3);
      checkBytes(x.credBlob, "extensions.credBlob", { min: 1 });
      const p = new Uint8Array(LAYOUT.credBlob.size);
      const pdv = new DataView(p.buffer);
      pdv.setUint32(LAYOUT.credBlob.cbCredBlob, x.credBlob.length, true);
      setPtr(pdv, LAYOUT.credBlob.pbCredBlob, arena.bytes(x.credBlob));
      exts.push({ id: "credBlob", payload: p });
    }
    if (x.minPinLength) {
      this.#needApi("minPinLength", 3);
      exts.push({ id: "minPinLength", payload: boolPayload() });
    }
    writeExtensions(arena, dv, L.Extensions, exts);

    dv.setUint32(
      L.dwAuthenticatorAttachment,
      enumValue(ATTACHMENT, o.attachment, "attachment"),
      true,
    );
    const rkRequired = o.requireResidentKey === true || o.residentKey === "required";
    if (
      o.residentKey !== undefined &&
      !["required", "preferred", "discouraged"].includes(o.residentKey)
    ) {
      throw new FormatError(`Unknown residentKey "${o.residentKey}"`);
    }
    setBool(dv, L.bRequireResidentKey, rkRequired);
    dv.setUint32(
      L.dwUserVerificationRequirement,
      enumValue(USER_VERIFICATION, o.userVerification, "userVerification"),
      true,
    );
    dv.setUint32(
      L.dwAttestationConveyancePreference,
      enumValue(CONVEYANCE, o.attestationConveyance, "attestationConveyance"),
      true,
    );
    // v2
    checkGuid(o.cancellationId, "cancellationId");
    setPtr(dv, L.pCancellationId, arena.bytes(o.cancellationId));
    // v4
    const ep = enumValue(ENTERPRISE, o.enterpriseAttestation, "enterpriseAttestation");
    const lb = enumValue(LARGE_BLOB_SUPPORT, x.largeBlob, "largeBlob support");
    const preferRk = o.residentKey === "preferred";
    if (ep) this.#need("enterpriseAttestation", 4, table);
    if (lb) this.#need("largeBlob", 4, table);
    if (preferRk) this.#need('residentKey "preferred"', 4, table);
    if (v >= 4) {
      dv.setUint32(L.dwEnterpriseAttestation, ep, true);
      dv.setUint32(L.dwLargeBlobSupport, lb, true);
      setBool(dv, L.bPreferResidentKey, preferRk);
    }
    // v5
    if (o.browserInPrivateMode) this.#need("browserInPrivateMode", 5, table);
    if (v >= 5) setBool(dv, L.bBrowserInPrivateMode, o.browserInPrivateMode);
    // v6
    if (x.prf) this.#need("prf", 6, table);
    if (v >= 6) setBool(dv, L.bEnablePrf, x.prf !== undefined);
    // v7
    // v8
    if (x.prf?.eval && x.hmacSecretMc) {
      throw new FormatError("prf.eval and hmacSecretMc both use pPRFGlobalEval: give one");
    }
    if (x.prf?.eval) {
      this.#need("prf.eval", 8, table);
      setPtr(dv, L.pPRFGlobalEval, writeSalt(arena, x.prf.eval, "prf.eval"));
    }
    if (x.hmacSecretMc) {
      this.#need("hmacSecretMc", 8, table);
      const s = x.hmacSecretMc;
      checkBytes(s?.first, "hmacSecretMc.first", { min: 32, max: 32 });
      if (s.second !== undefined) checkBytes(s.second, "hmacSecretMc.second", { min: 32, max: 32 });
      setPtr(dv, L.pPRFGlobalEval, writeSalt(arena, s, "hmacSecretMc"));
      dv.setUint32(L.dwFlags, HMAC_SECRET_VALUES_FLAG, true);
    }
    if (o.thirdPartyPayment) this.#need("thirdPartyPayment", 8, table);
    if (v >= 8) setBool(dv, L.bThirdPartyPayment, o.thirdPartyPayment);
    this.#writeSharedTail(dv, arena, table, o, {
      ...L,
      cbOptionsJson: L.cbPublicKeyCredentialCreationOptionsJSON,
      pbOptionsJson: L.pbPublicKeyCredentialCreationOptionsJSON,
    });
    return m.addr;
  }

  async getAssertion(
    hwnd: number | bigint,
    rpId: string,
    clientData: ClientDataInput,
    options: GetAssertionOptions = {},
  ): Promise<Assertion> {
    this.#assertOpen("WebAuthNAuthenticatorGetAssertion");
    const arena = new Arena();
    const hwndAddr = hwndAddress(hwnd);
    checkString(rpId, "rpId");
    const rpAddr = arena.wstr(rpId);
    const cdAddr = writeClientData(arena, clientData);
    const { addr: optAddr, appIdOut } = this.#getAssertionOptions(arena, options);

    const out = arena.alloc(8);
    const fn = "WebAuthNAuthenticatorGetAssertion";
    return await this.#track(fn, arena, options.cancellationId, async () => {
      const hr = await this.#blocking(fn, [hwndAddr, rpAddr, cdAddr, optAddr, out.addr]);
      const p = getPtr(out.dv, 0);
      try {
        this.#check(fn, hr);
        if (!p) throw new FormatError(`${fn} returned no result`);
        const result = readAssertion(p);
        if (appIdOut) result.appIdUsed = appIdOut.getInt32(0, true) !== 0;
        return result;
      } finally {
        if (p) this.#lib.symbols.WebAuthNFreeAssertion(p);
      }
    });
  }

  #getAssertionOptions(
    arena: Arena,
    o: GetAssertionOptions,
  ): { addr: number; appIdOut?: DataView } {
    if (!o || typeof o !== "object") throw new FormatError("options must be an object");
    const table = STRUCT_VERSIONS.getAssertionOptions;
    const v = table[this.#v];
    const L = LAYOUT.getAssertionOptions;
    const m = arena.alloc(L.size);
    const dv = m.dv;
    dv.setUint32(L.dwVersion, v, true);
    dv.setUint32(L.dwTimeoutMilliseconds, checkU32(o.timeoutMs, "timeoutMs"), true);
    const allow = checkCredentials(o.allowCredentials, "allowCredentials");
    writeCredentials(arena, dv, L.CredentialList, allow);
    if (allow.length) setPtr(dv, L.pAllowCredentialList, writeCredentialList(arena, allow));

    const x = o.extensions ?? {};
    const exts: { id: string; payload: Uint8Array }[] = [];
    if (x.credBlob) {
      this.#needApi("credBlob", 3);
      exts.push({ id: "credBlob", payload: boolPayload() });
    }
    writeExtensions(arena, dv, L.Extensions, exts);
    dv.setUint32(
      L.dwAuthenticatorAttachment,
      enumValue(ATTACHMENT, o.attachment, "attachment"),
      true,
    );
    dv.setUint32(
      L.dwUserVerificationRequirement,
      enumValue(USER_VERIFICATION, o.userVerification, "userVerification"),
      true,
    );
    // v2: appid, with the BOOL the DLL writes back.
    let appIdOut: DataView | undefined;
    if (o.appId !== undefined) {
      checkString(o.appId, "appId");
      setPtr(dv, L.pwszU2fAppId, arena.wstr(o.appId));
      const b = arena.alloc(4);
      appIdOut = b.dv;
      setPtr(dv, L.pbU2fAppId, b.addr);
    }
    // v3
    checkGuid(o.cancellationId, "cancellationId");
    setPtr(dv, L.pCancellationId, arena.bytes(o.cancellationId));
    // v5
    if (x.largeBlob !== undefined) {
      const op = enumValue(LARGE_BLOB_OPERATION, x.largeBlob.operation, "largeBlob operation");
      if (op) this.#need("largeBlob", 5, table);
      if (op === LARGE_BLOB_OPERATION.set) {
        checkBytes(x.largeBlob.data, "largeBlob.data", { min: 1 });
        dv.setUint32(L.cbCredLargeBlob, x.largeBlob.data!.length, true);
        setPtr(dv, L.pbCredLargeBlob, arena.bytes(x.largeBlob.data));
      } else if (x.largeBlob.data !== undefined) {
        throw new FormatError('largeBlob.data is only valid with operation "set"');
      }
      if (v >= 5) dv.setUint32(L.dwCredLargeBlobOperation, op, true);
    }
    // v6
    if (x.hmacSecret) {
      this.#need("hmacSecret salts", 6, table);
      const h = x.hmacSecret;
      const S = LAYOUT.hmacSaltValues;
      const sv = arena.alloc(S.size);
      if (h.global) {
        setPtr(sv.dv, S.pGlobalHmacSalt, writeSalt(arena, h.global, "hmacSecret.global"));
      }
      const list = h.byCredential ?? [];
      if (!h.global && list.length === 0) {
        throw new FormatError("hmacSecret needs global or per-credential salts");
      }
      if (h.raw) {
        for (const s of [h.global, ...list.map((c) => c.salts)]) {
          if (!s) continue;
          if (s.first?.length !== 32 || (s.second !== undefined && s.second.length !== 32)) {
            throw new FormatError("raw hmac-secret salts must be 32 bytes");
          }
        }
        dv.setUint32(L.dwFlags, HMAC_SECRET_VALUES_FLAG, true);
      }
      if (list.length) {
        const C = LAYOUT.credWithHmacSalt;
        const arr = arena.alloc(C.size * list.length);
        list.forEach((c, i) => {
          checkBytes(c?.id, `hmacSecret.byCredential[${i}].id`, { min: 1 });
          arr.dv.setUint32(i * C.size + C.cbCredID, c.id.length, true);
          setPtr(arr.dv, i * C.size + C.pbCredID, arena.bytes(c.id));
          setPtr(
            arr.dv,
            i * C.size + C.pHmacSecretSalt,
            writeSalt(arena, c.salts, `hmacSecret.byCredential[${i}].salts`),
          );
        });
        sv.dv.setUint32(S.cCredWithHmacSecretSaltList, list.length, true);
        setPtr(sv.dv, S.pCredWithHmacSecretSaltList, arr.addr);
      }
      setPtr(dv, L.pHmacSecretSaltValues, sv.addr);
    }
    if (o.browserInPrivateMode) this.#need("browserInPrivateMode", 6, table);
    if (v >= 6) setBool(dv, L.bBrowserInPrivateMode, o.browserInPrivateMode);
    // v7
    if (o.autoFill) this.#need("autoFill", 7, table);
    if (v >= 7) setBool(dv, L.bAutoFill, o.autoFill);
    this.#writeSharedTail(dv, arena, table, o, {
      ...L,
      cbOptionsJson: L.cbPublicKeyCredentialRequestOptionsJSON,
      pbOptionsJson: L.pbPublicKeyCredentialRequestOptionsJSON,
    });
    return { addr: m.addr, appIdOut };
  }
}
