// Shared fixtures for the CTAPHID tests: a tiny CtapProcessor and a "hub" that lets several
// clients share one authenticator the way hidraw file descriptors do.
import { CAPABILITY, CTAP_STATUS, CtapError, STATUS } from "../src/ctap.ts";
import { AbortError } from "../src/errors.ts";
import type { CtapProcessor, RequestContext } from "../src/ctap.ts";
import { createConnectionPair, type HidConnection } from "../src/hid/connection.ts";
import type { HidDescriptor } from "../src/hid/connection.ts";
import { CtapHidServer, type CtapHidServerOptions } from "../src/hid/server.ts";
import { CtapHidDevice, type CtapHidDeviceOptions } from "../src/hid/device.ts";
import { concat } from "../src/utils.ts";

/** Test CBOR commands understood by {@linkcode TestProcessor}. */
export const CMD = {
  ECHO: 0x40, // status 0 ‖ request body
  SLOW: 0x41, // waits body[0] * 10 ms (cancellable), then 0
  UP: 0x42, // keepalive(UPNEEDED) and waits for cancel or body[0] * 10 ms
  FAIL: 0x43, // throws CtapError(PIN_INVALID)
  STUBBORN: 0x44, // ignores cancel: waits body[0] * 10 ms then 0
  CRASH: 0x45, // throws a plain Error
  PHASES: 0x46, // PROCESSING for body[0]*10 ms, then UPNEEDED for body[0]*10 ms
} as const;

const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError());
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Minimal authenticator logic: just enough behaviour to exercise the transport. */
export class TestProcessor implements CtapProcessor {
  winks = 0;
  cborRequests = 0;
  cancelled = 0;
  constructor(
    readonly capabilities = CAPABILITY.WINK | CAPABILITY.CBOR | CAPABILITY.LOCK,
    readonly deviceVersion: readonly [number, number, number] = [5, 4, 3],
  ) {}

  async processCbor(request: Uint8Array, ctx: RequestContext): Promise<Uint8Array> {
    this.cborRequests++;
    const body = request.subarray(1);
    try {
      switch (request[0]) {
        case CMD.ECHO:
          return concat(new Uint8Array([0]), body);
        case CMD.SLOW:
          await wait(body[0] * 10, ctx.signal);
          return new Uint8Array([0]);
        case CMD.UP:
          ctx.keepalive(STATUS.UPNEEDED);
          await wait(body[0] * 10, ctx.signal);
          return new Uint8Array([0]);
        case CMD.FAIL:
          throw new CtapError(CTAP_STATUS.PIN_INVALID);
        case CMD.STUBBORN:
          await wait(body[0] * 10);
          return new Uint8Array([0]);
        case CMD.CRASH:
          throw new Error("boom");
        case CMD.PHASES:
          await wait(body[0] * 10, ctx.signal);
          ctx.keepalive(STATUS.UPNEEDED);
          await wait(body[0] * 10, ctx.signal);
          return new Uint8Array([0]);
        default:
          throw new CtapError(CTAP_STATUS.INVALID_COMMAND);
      }
    } catch (e) {
      if (e instanceof AbortError) {
        this.cancelled++;
        throw new CtapError(CTAP_STATUS.KEEPALIVE_CANCEL);
      }
      throw e;
    }
  }

  processMsg(apdu: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(concat(apdu, new Uint8Array([0x90, 0x00])));
  }

  wink(): void {
    this.winks++;
  }
}

export const DESC: HidDescriptor = {
  path: "virtual:test",
  vid: 0x1050,
  pid: 0x0407,
  reportSizeIn: 64,
  reportSizeOut: 64,
};

/** A client connected to a running server over an in-memory pair. */
export async function setup(
  opts: {
    processor?: TestProcessor;
    server?: CtapHidServerOptions;
    device?: CtapHidDeviceOptions;
  } = {},
) {
  const processor = opts.processor ?? new TestProcessor();
  const [client, auth] = createConnectionPair();
  const server = new CtapHidServer(auth, processor, opts.server);
  server.start();
  const device = await CtapHidDevice.open(DESC, client, opts.device);
  return {
    processor,
    server,
    device,
    client,
    async close() {
      await device.close();
      await server.stop();
      auth.close();
    },
  };
}

/**
 * One authenticator connection shared by `n` clients: every client's reports reach the
 * server, every server report reaches every client (hidraw semantics).
 */
export function createHub(n: number): { server: HidConnection; clients: HidConnection[] } {
  const pairs = Array.from({ length: n }, () => createConnectionPair());
  const clients = pairs.map(([c]) => c);
  const sides = pairs.map(([, s]) => s);
  const queue: Uint8Array[] = [];
  const waiters: ((p: Uint8Array | Error) => void)[] = [];
  let closed = false;
  const deliver = (p: Uint8Array | Error) => {
    const w = waiters.shift();
    if (w) w(p);
    else if (p instanceof Uint8Array) queue.push(p);
  };
  for (const s of sides) {
    (async () => {
      while (!closed) {
        try {
          deliver(await s.readPacket());
        } catch {
          return;
        }
      }
    })();
  }
  const server: HidConnection = {
    async writePacket(p) {
      for (const s of sides) await s.writePacket(p).catch(() => {});
    },
    readPacket(signal) {
      const q = queue.shift();
      if (q) return Promise.resolve(q);
      if (closed) return Promise.reject(new Error("closed"));
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new AbortError());
        };
        const w = (p: Uint8Array | Error) => {
          signal?.removeEventListener("abort", onAbort);
          if (p instanceof Error) reject(p);
          else resolve(p);
        };
        if (signal?.aborted) return reject(new AbortError());
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.push(w);
      });
    },
    close() {
      closed = true;
      for (const s of sides) s.close();
    },
  };
  return { server, clients };
}

export { wait };
