// Worker half of tests/helpers/vcard_host.ts: serves a VirtualAuthenticator as a card in a
// vpcd reader from its own thread. Bun's FFI calls block the calling thread, so a card served
// on the test's own event loop could never answer the SCardTransmit the test is blocked in.
import { VirtualAuthenticator, type VirtualAuthenticatorOptions } from "../../src/virtual/mod.ts";
import type { VpcdConnection } from "../../src/virtual/vpcd.ts";
import type { UserDecision } from "../../src/virtual/types.ts";

/** What the host asks for. */
export interface CardSpec {
  readonly port: number;
  /** The vpcd driver's address (default 127.0.0.1). */
  readonly host?: string;
  readonly pin?: string;
  readonly u2fOnly?: boolean;
  /** "approve" (default): touches are granted at once; "never": a touch waits until cancelled. */
  readonly touch?: "approve" | "never";
  readonly extendedLength?: boolean;
  readonly pinProtocols?: readonly number[];
  readonly aaguid?: readonly number[];
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
let va: VirtualAuthenticator | undefined;
let link: VpcdConnection | undefined;

function touch(spec: CardSpec) {
  return ({ reason, signal }: { reason: string; signal: AbortSignal }) => {
    scope.postMessage({ type: "touch", reason });
    if (spec.touch !== "never") return "approve" as UserDecision;
    return new Promise<UserDecision>((resolve) => {
      signal.addEventListener("abort", () => resolve("timeout"), { once: true });
    });
  };
}

scope.addEventListener("message", async (ev: MessageEvent) => {
  const msg = ev.data as { type: string; spec?: CardSpec };
  try {
    if (msg.type === "start") {
      const spec = msg.spec!;
      const opts: VirtualAuthenticatorOptions = {
        ...(spec.pin ? { pin: spec.pin } : {}),
        ...(spec.u2fOnly ? { u2fOnly: true, clientPin: false } : {}),
        ...(spec.pinProtocols ? { pinOptions: { protocols: spec.pinProtocols } } : {}),
        ...(spec.aaguid ? { aaguid: new Uint8Array(spec.aaguid) } : {}),
        userPresence: touch(spec),
      };
      va = new VirtualAuthenticator(opts);
      // vpcd listens again only once pcscd has noticed the previous card leave: retry a
      // refused connection for a while (a loaded machine can take seconds).
      const deadline = Date.now() + 15_000;
      while (true) {
        try {
          link = await va.connectVpcd({
            port: spec.port,
            ...(spec.host ? { host: spec.host } : {}),
            card: { extendedLength: spec.extendedLength ?? true },
          });
          break;
        } catch (e) {
          if (!/ECONNREFUSED/.test(String(e)) || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await link.ready;
      scope.postMessage({ type: "ready" });
    } else if (msg.type === "remove") {
      link?.remove();
      scope.postMessage({ type: "removed" });
    } else if (msg.type === "stop") {
      await va?.close();
      scope.postMessage({ type: "stopped" });
    }
  } catch (e) {
    scope.postMessage({ type: "error", message: String((e as Error)?.stack ?? e) });
  }
});
