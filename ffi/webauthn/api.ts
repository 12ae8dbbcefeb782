/**
 * Loading webauthn.dll and calling it: the symbol table, where the blocking calls run, and the
 * {@linkcode WebAuthnApi} implementation, which tracks every call so that `close()` releases
 * the request memory and the library only after the DLL has returned.
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
import { HRESULT, MAX_KNOWN_API_VERSION, PLATFORM_CREDENTIALS_API_VERSION } from "./layout.ts";
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
import { Arena, checkBytes, checkGuid, getPtr } from "./marshal.ts";
import {
  type ApiLevel,
  writeGetAssertionRequest,
  writeGetCredentialsOptions,
  writeMakeCredentialRequest,
} from "./request.ts";
import { readAssertion, readAttestation, readCredentialDetailsList } from "./result.ts";

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
  /** The API version and the one struct choices follow (newer DLLs: the newest known). */
  readonly #level: ApiLevel;

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
    this.#level = { api, v: Math.min(api, MAX_KNOWN_API_VERSION) };
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
    const optAddr = writeGetCredentialsOptions(arena, options);
    const out = arena.alloc(8);
    return await this.#track("WebAuthNGetPlatformCredentialList", arena, undefined, async () => {
      const hr = await sym.list(optAddr, out.buf);
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

  async makeCredential(
    hwnd: number | bigint,
    rp: RpEntity,
    user: UserEntity,
    pubKeyCredParams: readonly CoseCredentialParameter[],
    clientData: ClientDataInput,
    options: MakeCredentialOptions = {},
  ): Promise<CredentialAttestation> {
    const fn = "WebAuthNAuthenticatorMakeCredential";
    this.#assertOpen(fn);
    const arena = new Arena();
    const args = writeMakeCredentialRequest(
      this.#level,
      arena,
      hwnd,
      rp,
      user,
      pubKeyCredParams,
      clientData,
      options,
    );
    const free = (p: number) => this.#lib.symbols.WebAuthNFreeCredentialAttestation(p);
    return await this.#result(fn, arena, options.cancellationId, args, readAttestation, free);
  }

  async getAssertion(
    hwnd: number | bigint,
    rpId: string,
    clientData: ClientDataInput,
    options: GetAssertionOptions = {},
  ): Promise<Assertion> {
    const fn = "WebAuthNAuthenticatorGetAssertion";
    this.#assertOpen(fn);
    const arena = new Arena();
    const { args, appIdOut } = writeGetAssertionRequest(
      this.#level,
      arena,
      hwnd,
      rpId,
      clientData,
      options,
    );
    // appIdOut lives in the arena: read it before the call's end releases it.
    const read = (p: number) => {
      const result = readAssertion(p);
      if (appIdOut) result.appIdUsed = appIdOut.getInt32(0, true) !== 0;
      return result;
    };
    const free = (p: number) => this.#lib.symbols.WebAuthNFreeAssertion(p);
    return await this.#result(fn, arena, options.cancellationId, args, read, free);
  }

  /**
   * One tracked blocking call whose last argument receives the DLL's result struct: the
   * HRESULT is checked, the struct read with `read` and always given back with `free`.
   */
  async #result<T>(
    fn: BlockingFunction,
    arena: Arena,
    cancellationId: Uint8Array | undefined,
    args: readonly number[],
    read: (p: number) => T,
    free: (p: number) => void,
  ): Promise<T> {
    const out = arena.alloc(8);
    return await this.#track(fn, arena, cancellationId, async () => {
      const hr = await this.#blocking(fn, [...args, out.addr]);
      const p = getPtr(out.dv, 0);
      try {
        this.#check(fn, hr);
        if (!p) throw new FormatError(`${fn} returned no result`);
        return read(p);
      } finally {
        if (p) free(p);
      }
    });
  }
}
