/**
 * webauthn.dll's two blocking calls (MakeCredential, GetAssertion) on a Worker thread, for Bun:
 * Bun's FFI has no non-blocking calls, so on the main thread a dialog that waits for the user
 * would freeze the event loop and no AbortSignal could fire WebAuthNCancelCurrentOperation.
 *
 * The main thread does all the marshalling (the binding's arena keeps the request memory
 * alive, and the Worker shares the process's address space); the Worker only makes the call
 * with the addresses it is given. Its whole source is the string below, started from a Blob
 * URL: it imports nothing but `bun:ffi`, so a `bun build --compile` binary needs no extra file
 * (a Worker started from `new URL("./x.ts", import.meta.url)` fails there with ModuleNotFound).
 * @module
 */
import {
  type BlockingCaller,
  type BlockingFunction,
  loadWebAuthn,
  type LoadWebAuthnOptions,
  type WebAuthnApi,
} from "./webauthn.ts";

/**
 * The Worker. It keeps each library it opened successfully (a failed dlopen is reported and
 * retried by the next call, never cached), and converts 0 to NULL as the FFIs want. Messages
 * are handled as they come: the Worker makes one call at a time.
 */
export const WORKER_SOURCE = `
const ARGS = {
  WebAuthNAuthenticatorMakeCredential: 7,
  WebAuthNAuthenticatorGetAssertion: 5,
};
const D = globalThis.Deno;
// Bun is what needs this Worker; Deno (whose FFI can run these calls off-thread by itself)
// runs it too, so the same tests cover both.
const bunFfi = D ? null : import("bun:ffi");
async function open(path) {
  const defs = {};
  if (D) {
    for (const [fn, n] of Object.entries(ARGS)) {
      defs[fn] = { parameters: Array(n).fill("pointer"), result: "i32" };
    }
    const lib = D.dlopen(path, defs);
    const ptr = (a) => (a ? D.UnsafePointer.create(BigInt(a)) : null);
    return (fn, args) => lib.symbols[fn](...args.map(ptr));
  }
  for (const [fn, n] of Object.entries(ARGS)) {
    defs[fn] = { args: Array(n).fill("ptr"), returns: "i32" };
  }
  const lib = (await bunFfi).dlopen(path, defs);
  return (fn, args) => lib.symbols[fn](...args.map((a) => (a ? a : null)));
}
const libs = new Map();
self.onmessage = async (ev) => {
  const { id, path, fn, args } = ev.data;
  try {
    if (!Object.hasOwn(ARGS, fn) || args.length !== ARGS[fn]) {
      throw new Error("bad webauthn call " + fn);
    }
    let call = libs.get(path);
    if (!call) {
      call = await open(path);
      libs.set(path, call);
    }
    self.postMessage({ id, hr: call(fn, args) });
  } catch (e) {
    self.postMessage({ id, error: String(e && e.message ? e.message : e) });
  }
};
`;

type Pending = { resolve: (hr: number) => void; reject: (e: Error) => void };

/**
 * A {@linkcode BlockingCaller} on a Worker started from {@linkcode WORKER_SOURCE}. The Worker
 * starts on the first call and again after it died; an idle Worker does not keep the process
 * alive. `close()` rejects new calls and stops the Worker once the calls still pending have
 * returned: a thread blocked in the DLL cannot be stopped, and it still uses the request memory
 * (the binding waits for them too, see `WebAuthnApi.close`).
 */
export function workerBlockingCaller(): BlockingCaller {
  let worker: Worker | undefined;
  let url: string | undefined;
  let closed = false;
  let next = 1;
  const pending = new Map<number, Pending>();
  // Bun: an idle Worker must not keep the process alive; it is ref'd while a call runs.
  // deno-lint-ignore no-explicit-any
  const refs = (w: Worker) => w as any as { ref?(): void; unref?(): void };

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const stop = () => {
    worker?.terminate();
    worker = undefined;
    if (url) URL.revokeObjectURL(url);
    url = undefined;
  };
  const start = (): Worker => {
    url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    const w = new Worker(url, { type: "module" });
    refs(w).unref?.();
    w.onmessage = (ev: MessageEvent) => {
      const { id, hr, error } = ev.data as { id: number; hr?: number; error?: string };
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (pending.size === 0) refs(w).unref?.();
      if (closed && pending.size === 0) stop();
      if (error !== undefined) p.reject(new Error(`webauthn worker: ${error}`));
      else p.resolve(hr as number);
    };
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      // A dead Worker is replaced on the next call; the calls it had are lost. (Its message
      // handler catches everything, so this is a Worker that failed to start or run JS, not
      // one blocked in the DLL: no native call of it is left running.)
      if (worker === w) worker = undefined;
      w.terminate();
      failAll(new Error(`webauthn worker failed: ${ev.message}`));
    };
    return w;
  };

  return {
    call(path: string, fn: BlockingFunction, args: readonly number[]): Promise<number> {
      if (closed) return Promise.reject(new Error("webauthn worker closed"));
      worker ??= start();
      const w = worker;
      const id = next++;
      return new Promise<number>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        refs(w).ref?.();
        w.postMessage({ id, path, fn, args: [...args] });
      });
    },
    close(): void {
      if (closed) return;
      closed = true;
      if (pending.size === 0) stop();
    },
  };
}

/**
 * Loads webauthn.dll like {@linkcode loadWebAuthn}, with MakeCredential/GetAssertion on a
 * Worker (Bun's way to keep them cancellable). `close()` stops the Worker too.
 */
export async function loadWebAuthnInWorker(
  opts: Omit<LoadWebAuthnOptions, "blockingCaller"> = {},
): Promise<WebAuthnApi> {
  const caller = workerBlockingCaller();
  try {
    return await loadWebAuthn({ ...opts, blockingCaller: caller });
  } catch (e) {
    caller.close();
    throw e;
  }
}
