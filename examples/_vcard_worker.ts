/**
 * Worker for `examples/nfc.ts --virtual`: serves a VirtualAuthenticator as a card in a
 * vsmartcard-vpcd reader. It runs on its own thread because Bun's FFI calls (SCardTransmit)
 * block the thread that makes them: a card on that same thread could never answer.
 * @module
 */
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;

scope.addEventListener("message", async (ev: MessageEvent) => {
  const { port, pin } = ev.data as { port: number; pin: string };
  try {
    const va = new VirtualAuthenticator({ pin });
    const link = await va.connectVpcd({ port });
    await link.ready;
    scope.postMessage({ ready: true });
  } catch (e) {
    scope.postMessage({ error: (e as Error).message });
  }
});
