/**
 * A VirtualAuthenticator served as a card in a vpcd reader of the test bed
 * (tests/helpers/pcscd.ts), from a Worker (see vcard_worker.ts for why), with the controls the
 * NFC tests need: wait until pcscd sees the card, pull it out, stop it.
 * @module
 */
import type { CardSpec } from "./vcard_worker.ts";

/** A running card. */
export interface HostedCard {
  /** Touch requests the card has seen (their reasons), in order. */
  readonly touches: string[];
  /** Resolves at the next touch request. */
  nextTouch(): Promise<string>;
  /** Pulls the card out of the reader at once (the APDU in flight gets no answer). */
  remove(): Promise<void>;
  /** Takes the card out and ends the worker. */
  stop(): Promise<void>;
}

/** Starts a card on vpcd port `spec.port`; resolves once the reader has powered it. */
export async function hostCard(spec: CardSpec): Promise<HostedCard> {
  const worker = new Worker(new URL("./vcard_worker.ts", import.meta.url), { type: "module" });
  const touches: string[] = [];
  const waiters = new Map<string, ((v: string) => void)[]>();
  let failure: Error | undefined;
  const wait = (type: string) =>
    new Promise<string>((resolve, reject) => {
      if (failure) return reject(failure);
      waiters.set(type, [...(waiters.get(type) ?? []), resolve]);
    });
  worker.onmessage = (ev: MessageEvent) => {
    const m = ev.data as { type: string; reason?: string; message?: string };
    if (m.type === "touch") touches.push(m.reason!);
    if (m.type === "error") failure = new Error(`card worker: ${m.message}`);
    const list = waiters.get(m.type) ?? [];
    waiters.delete(m.type);
    list.forEach((w) => w(m.reason ?? ""));
  };
  worker.onerror = (e: ErrorEvent) => {
    failure = new Error(`card worker failed: ${e.message}`);
  };
  const ready = wait("ready");
  worker.postMessage({ type: "start", spec });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(failure ?? new Error("the card did not power up in 20 s")), 20_000)
  );
  try {
    await Promise.race([ready, timeout]);
  } catch (e) {
    worker.terminate();
    throw e;
  }
  let stopped = false;
  return {
    touches,
    nextTouch: () => wait("touch"),
    remove: async () => {
      const done = wait("removed");
      worker.postMessage({ type: "remove" });
      await done;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const done = wait("stopped");
      worker.postMessage({ type: "stop" });
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      worker.terminate();
    },
  };
}
