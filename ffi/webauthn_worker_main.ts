// The Worker behind ffi/webauthn_worker.ts: runs MakeCredential/GetAssertion, one at a time,
// on its own thread so the caller's event loop stays free to cancel them.
import { loadWebAuthn, type WebAuthnApi } from "./webauthn.ts";
import { serializeError } from "./webauthn_worker.ts";

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
let api: Promise<WebAuthnApi> | undefined;

scope.onmessage = async (ev: MessageEvent) => {
  const { id, op, path, args } = ev.data as { id: number; op: string; path: string; args: [] };
  try {
    api ??= loadWebAuthn({ path });
    const a = await api;
    // deno-lint-ignore no-explicit-any
    const fn = (a as any)[op];
    if (op !== "makeCredential" && op !== "getAssertion") throw new Error(`Unknown op ${op}`);
    scope.postMessage({ id, result: await fn.apply(a, args) });
  } catch (e) {
    scope.postMessage({ id, error: serializeError(e) });
  }
};
