/**
 * webauthn.dll with its two blocking calls (MakeCredential, GetAssertion) on a Worker thread.
 * Bun's FFI has no non-blocking calls, so on the main thread a dialog that waits for the user
 * would freeze the event loop and no AbortSignal could fire WebAuthNCancelCurrentOperation.
 * The Worker loads the same library (same process, so the same DLL state); everything else,
 * cancellation included, runs on the calling thread.
 * @module
 */
import { FormatError } from "../src/errors.ts";
import {
  type Assertion,
  type ClientDataInput,
  type CoseCredentialParameter,
  type CredentialAttestation,
  type GetAssertionOptions,
  loadWebAuthn,
  type MakeCredentialOptions,
  type PlatformCredentialListOptions,
  type RpEntity,
  type UserEntity,
  type WebAuthnApi,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "./webauthn.ts";

/** An error as it crosses the thread boundary. */
export type SerializedError =
  | { kind: "WindowsApiError"; operation: string; hresult: number; errorName: string }
  | { kind: "WebAuthnUnsupportedError"; feature: string; required: number; api: number }
  | { kind: "FormatError" | "Error"; message: string };

/** Turns an error thrown in the Worker into structured-clone data. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof WindowsApiError) {
    return {
      kind: "WindowsApiError",
      operation: e.operation,
      hresult: e.hresult,
      errorName: e.errorName,
    };
  }
  if (e instanceof WebAuthnUnsupportedError) {
    return {
      kind: "WebAuthnUnsupportedError",
      feature: e.feature,
      required: e.requiredApiVersion,
      api: e.apiVersion,
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { kind: e instanceof FormatError ? "FormatError" : "Error", message };
}

function deserializeError(e: SerializedError): Error {
  switch (e.kind) {
    case "WindowsApiError":
      return new WindowsApiError(e.operation, e.hresult, e.errorName);
    case "WebAuthnUnsupportedError":
      return new WebAuthnUnsupportedError(e.feature, e.required, e.api);
    case "FormatError":
      return new FormatError(e.message);
    default:
      return new Error(e.message);
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/**
 * Loads webauthn.dll like {@linkcode loadWebAuthn} and starts a Worker for its blocking calls.
 * `close()` stops the Worker; calls still running then fail.
 */
export async function loadWebAuthnInWorker(opts: { path?: string } = {}): Promise<WebAuthnApi> {
  const local = await loadWebAuthn(opts);
  const worker = new Worker(new URL("./webauthn_worker_main.ts", import.meta.url), {
    type: "module",
  });
  // Bun: an idle Worker must not keep the process alive; it is ref'd while a call runs.
  // deno-lint-ignore no-explicit-any
  const refs = worker as any;
  refs.unref?.();
  const pending = new Map<number, Pending>();
  let next = 1;
  let failed: Error | undefined;
  let closed = false;
  const failAll = (err: Error) => {
    failed = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.onmessage = (ev: MessageEvent) => {
    const { id, result, error } = ev.data as {
      id: number;
      result?: unknown;
      error?: SerializedError;
    };
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (pending.size === 0) refs.unref?.();
    if (error) p.reject(deserializeError(error));
    else p.resolve(result);
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault?.();
    failAll(new Error(`webauthn worker failed: ${ev.message}`));
  };
  const call = (op: string, args: unknown[]): Promise<unknown> => {
    if (failed) return Promise.reject(failed);
    const id = next++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      refs.ref?.();
      worker.postMessage({ id, op, path: local.path, args });
    });
  };
  return {
    path: local.path,
    apiVersion: () => local.apiVersion(),
    isUserVerifyingPlatformAuthenticatorAvailable: () =>
      local.isUserVerifyingPlatformAuthenticatorAvailable(),
    makeCredential: (
      hwnd: number | bigint,
      rp: RpEntity,
      user: UserEntity,
      params: readonly CoseCredentialParameter[],
      clientData: ClientDataInput,
      options?: MakeCredentialOptions,
    ) =>
      call("makeCredential", [hwnd, rp, user, params, clientData, options]) as Promise<
        CredentialAttestation
      >,
    getAssertion: (
      hwnd: number | bigint,
      rpId: string,
      clientData: ClientDataInput,
      options?: GetAssertionOptions,
    ) => call("getAssertion", [hwnd, rpId, clientData, options]) as Promise<Assertion>,
    getCancellationId: () => local.getCancellationId(),
    cancelCurrentOperation: (id: Uint8Array) => local.cancelCurrentOperation(id),
    getErrorName: (hr: number) => local.getErrorName(hr),
    // No UI: these run on the calling thread.
    getPlatformCredentialList: (o?: PlatformCredentialListOptions) =>
      local.getPlatformCredentialList(o),
    deletePlatformCredential: (id: Uint8Array) => local.deletePlatformCredential(id),
    close: () => {
      if (closed) return;
      closed = true;
      failAll(new Error("webauthn worker closed"));
      worker.terminate();
      local.close();
    },
  };
}
