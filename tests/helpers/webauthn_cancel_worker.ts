// Worker for tests/webauthn_ffi.test.ts: makes a MakeCredential call that blocks in the fake
// library until the main thread cancels it (the pattern Bun needs, having no nonblocking FFI).
import { loadWebAuthn, WindowsApiError } from "../../ffi/webauthn.ts";

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;

scope.addEventListener("message", async (ev: MessageEvent) => {
  const { path, guid } = ev.data as { path: string; guid: number[] };
  const api = await loadWebAuthn({ path });
  scope.postMessage({ started: true });
  const t0 = Date.now();
  try {
    await api.makeCredential(
      0,
      { id: "block.example", name: "Blocking" },
      { id: new Uint8Array([1]), name: "u", displayName: "U" },
      [{ type: "public-key", alg: -7 }],
      { json: new TextEncoder().encode("{}") },
      { cancellationId: new Uint8Array(guid) },
    );
    scope.postMessage({ done: true, hresult: 0, ms: Date.now() - t0 });
  } catch (e) {
    const hresult = e instanceof WindowsApiError ? e.hresult : -1;
    scope.postMessage({ done: true, hresult, message: String(e), ms: Date.now() - t0 });
  } finally {
    api.close();
  }
});
