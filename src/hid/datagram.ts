/**
 * One bound UDP socket over whichever datagram API the runtime offers: `Bun.udpSocket` on Bun,
 * `Deno.listenDatagram` on Deno when it is enabled (`--unstable-net`), `node:dgram` elsewhere
 * or on request. The native APIs send without a callback per datagram and cost a fraction of
 * `node:dgram`'s round trip; the CTAPHID UDP transport (`udp.ts`) sits on top.
 * @module
 */
import dgram from "node:dgram";
import { TransportError } from "../errors.ts";

/** Which datagram API to use: the runtime's own (`"native"`) or `node:dgram`. */
export type DatagramApi = "native" | "node:dgram";

/** The API a socket actually runs on. */
export type DatagramBackend = "bun" | "deno" | "node:dgram";

/** Callbacks of a bound socket. */
export interface DatagramHandlers {
  /**
   * One datagram. `owned`: `data` is fresh memory nobody else writes, to keep as it is;
   * otherwise it may be reused after the call returns (copy what you keep).
   */
  message(data: Uint8Array, port: number, address: string, owned: boolean): void;
  /** The socket failed; no more messages follow. */
  error(error: Error): void;
}

/**
 * The one peer a client socket talks to. `node:dgram` connects to it: a send to an address
 * first resolves it, asynchronously even for an IP literal, so the datagram leaves only after
 * whatever the caller runs next (6–10 µs per exchange in Deno); a connected send leaves at
 * once. Sends then go to this peer only.
 */
export interface DatagramPeer {
  readonly address: string;
  readonly port: number;
}

/** A bound UDP socket. */
export interface DatagramSocket {
  /** The local port actually bound. */
  readonly port: number;
  /** The API underneath. */
  readonly backend: DatagramBackend;
  /** Sends one datagram; a promise only where the API makes the caller wait. */
  send(data: Uint8Array, port: number, address: string): Promise<void> | void;
  /** Closes the socket; idempotent. */
  close(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** The runtime's own datagram API, when it is there without extra setup. */
export function nativeDatagramBackend(): DatagramBackend | undefined {
  if (typeof g.Bun?.udpSocket === "function") return "bun";
  if (typeof g.Deno?.listenDatagram === "function") return "deno";
  return undefined;
}

/**
 * Binds `address:port` (port 0 picks a free one) with `api` (default: native where available,
 * else node:dgram). Rejects with `TransportError` when the port is taken or the native API was
 * asked for and is missing.
 */
export async function bindDatagram(
  address: string,
  port: number,
  handlers: DatagramHandlers,
  api?: DatagramApi,
  peer?: DatagramPeer,
): Promise<DatagramSocket> {
  const native = nativeDatagramBackend();
  if (api === "native" && !native) {
    throw new TransportError(
      "No native datagram API in this runtime: Deno needs --unstable-net for " +
        "Deno.listenDatagram; omit the option to use node:dgram",
    );
  }
  const backend = api === "node:dgram" ? "node:dgram" : native ?? "node:dgram";
  try {
    if (backend === "bun") return await bindBun(address, port, handlers);
    if (backend === "deno") return bindDeno(address, port, handlers);
    return await bindNode(address, port, handlers, peer);
  } catch (e) {
    if (e instanceof TransportError) throw e;
    throw new TransportError(
      `Cannot bind UDP ${address}:${port}: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
  }
}

async function bindBun(
  address: string,
  port: number,
  handlers: DatagramHandlers,
): Promise<DatagramSocket> {
  // Sends that would block wait for the socket's drain callback, then go out in order.
  const blocked: { data: Uint8Array; port: number; address: string; done: () => void }[] = [];
  let closed = false;
  const sock = await g.Bun.udpSocket({
    hostname: address,
    port,
    binaryType: "uint8array",
    socket: {
      // Bun hands each datagram over in an array of its own (tests/hid_datagram.test.ts
      // checks it): no copy needed.
      data: (_s: unknown, data: Uint8Array, port: number, address: string) =>
        handlers.message(data, port, address, true),
      drain: () => {
        while (blocked.length && sock.send(blocked[0].data, blocked[0].port, blocked[0].address)) {
          blocked.shift()!.done();
        }
      },
      error: (_s: unknown, e: unknown) => {
        // Bun reports an ICMP "port unreachable" for an earlier datagram (nothing listens
        // there yet) as an error without an Error. node:dgram and Deno never report it: the
        // read times out the same way on every backend.
        if (e instanceof Error) handlers.error(e);
      },
    },
  });
  return {
    port: sock.port,
    backend: "bun",
    send(data, port, address) {
      if (closed) throw new TransportError("Connection is closed");
      if (!blocked.length && sock.send(data, port, address)) return;
      return new Promise((done) => blocked.push({ data, port, address, done }));
    },
    close() {
      if (!closed) {
        closed = true;
        sock.close();
      }
      return Promise.resolve();
    },
  };
}

/**
 * The largest datagram received whole in Deno, by either API (a report is at most 4096 bytes;
 * a longer datagram is cut, and its wrong length rejected by the framing).
 */
const MAX_DATAGRAM = 4097;

/** Microtask turns the Deno receive loop yields after each datagram (see bindDeno). */
const YIELD_TURNS = 16;

function bindDeno(address: string, port: number, handlers: DatagramHandlers): DatagramSocket {
  const sock = g.Deno.listenDatagram({ transport: "udp", hostname: address, port });
  let closed = false;
  // One receive loop, each datagram into a buffer of its own that the handler keeps: the
  // next buffer is made after the reader ran, off its path (an allocation right after a
  // wake-up costs microseconds while caches are cold).
  let buf = new Uint8Array(MAX_DATAGRAM);
  void (async () => {
    while (!closed) {
      let got: [Uint8Array, { hostname: string; port: number }];
      try {
        got = await sock.receive(buf);
      } catch (e) {
        if (!closed) handlers.error(e as Error);
        return;
      }
      handlers.message(got[0], got[1].port, got[1].hostname, true);
      // Let the reader this datagram woke run first: issuing the next receive op costs a few
      // µs, and on the reader's critical path it cost 10 µs per exchange. A datagram arriving
      // meanwhile waits in the kernel; a few microtask turns are all this delays.
      for (let i = 0; i < YIELD_TURNS; i++) await null;
      buf = new Uint8Array(MAX_DATAGRAM);
    }
  })();
  return {
    port: sock.addr.port,
    backend: "deno",
    async send(data, port, address) {
      await sock.send(data, { transport: "udp", hostname: address, port });
    },
    close() {
      if (!closed) {
        closed = true;
        try {
          sock.close();
        } catch { /* already closed */ }
      }
      return Promise.resolve();
    },
  };
}

function bindNode(
  address: string,
  port: number,
  handlers: DatagramHandlers,
  peer: DatagramPeer | undefined,
): Promise<DatagramSocket> {
  return new Promise((resolve, reject) => {
    const type = address.includes(":") ? "udp6" : "udp4";
    // Deno's node:dgram allocates a fresh recvBufferSize buffer (64 KB by default) for every
    // datagram, before the reader runs: 30 µs a round trip here. There the option sizes only
    // that buffer; elsewhere it sets the kernel's SO_RCVBUF, which must stay large.
    const sock = g.Deno
      ? dgram.createSocket({ type, recvBufferSize: MAX_DATAGRAM })
      : dgram.createSocket(type);
    let closed = false;
    const onBindError = (e: Error) => {
      try {
        sock.close();
      } catch { /* never bound */ }
      reject(e);
    };
    sock.once("error", onBindError);
    sock.bind(port, address, () => {
      if (peer) sock.connect(peer.port, peer.address, bound);
      else bound();
    });
    const bound = () => {
      sock.off("error", onBindError);
      sock.on("error", (e: Error) => {
        // A connected socket learns from ICMP that nothing listens at the peer (Bun, Node):
        // not fatal, the authenticator may start later; the read times out as on every
        // other backend.
        if (peer && (e as { code?: unknown }).code === "ECONNREFUSED") return;
        handlers.error(e);
      });
      sock.on(
        "message",
        // A Buffer's slice() is a view: hand out a plain Uint8Array so copies are copies.
        // Every datagram arrives in a Buffer of its own (Node, Deno and Bun alike;
        // tests/hid_datagram.test.ts checks it): no copy needed.
        (msg: Uint8Array, r: dgram.RemoteInfo) =>
          handlers.message(
            new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
            r.port,
            r.address,
            true,
          ),
      );
      resolve({
        port: sock.address().port,
        backend: "node:dgram",
        // No callback: a failed send surfaces as the socket's "error" event.
        send: peer
          ? (data, port, address) => {
            if (port !== peer.port || address !== peer.address) {
              throw new TransportError(
                `This socket sends to ${peer.address}:${peer.port} only, not ${address}:${port}`,
              );
            }
            sock.send(data);
          }
          : (data, port, address) => void sock.send(data, port, address),
        close: () =>
          new Promise<void>((done) => {
            if (closed) return done();
            closed = true;
            try {
              sock.close(() => done());
            } catch {
              done();
            }
          }),
      });
    };
  });
}
