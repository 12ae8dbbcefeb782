/**
 * CTAPHID over UDP: one 64-byte report per datagram, the framing firmware simulators use
 * (authenticator on 127.0.0.1:8111, client on 7112). Client connection and server side.
 * @module
 */
import dgram from "node:dgram";
import { TransportError } from "../errors.ts";
import type { CtapProcessor } from "../ctap.ts";
import { type HidConnection, type HidDescriptor, PacketQueue } from "./connection.ts";
import { CtapHidServer, type CtapHidServerOptions } from "./server.ts";

/** Where the UDP client talks to and listens on. */
export interface UdpHidOptions {
  /** Authenticator host (default 127.0.0.1). */
  readonly host?: string;
  /** Authenticator port (default 8111). */
  readonly port?: number;
  /** Local port to bind (default 7112; 0 picks a free one). */
  readonly localPort?: number;
  /** Report size (default 64). */
  readonly reportSize?: number;
}

/** Incoming datagrams kept while nobody reads; older ones are dropped beyond this. */
const QUEUE_LIMIT = 1024;

interface Remote {
  address: string;
  port: number;
}

/** A datagram socket as a `HidConnection`; `remote` fixed (client) or learned (server). */
class DatagramConnection implements HidConnection {
  readonly #packets = new PacketQueue(QUEUE_LIMIT);
  #closed = false;
  #error: Error | undefined;

  constructor(
    readonly socket: dgram.Socket,
    public remote: Remote | undefined,
    readonly reportSize: number,
    readonly acceptFrom: ((r: dgram.RemoteInfo) => boolean) | undefined,
  ) {
    socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      if (this.acceptFrom && !this.acceptFrom(rinfo)) return;
      if (!this.acceptFrom) this.remote = { address: rinfo.address, port: rinfo.port };
      this.#packets.push(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength).slice());
    });
    socket.on(
      "error",
      (e: Error) => this.#fail(new TransportError(`UDP socket error: ${e.message}`, { cause: e })),
    );
    socket.on("close", () => this.#fail(new TransportError("Connection is closed")));
  }

  #fail(e: Error): void {
    this.#error ??= e;
    this.#packets.fail(e);
  }

  writePacket(packet: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError("Connection is closed"));
    if (packet.length !== this.reportSize) {
      return Promise.reject(
        new TransportError(`Packet must be ${this.reportSize} bytes, got ${packet.length}`),
      );
    }
    const remote = this.remote;
    if (!remote) return Promise.reject(new TransportError("No UDP peer to send to yet"));
    return new Promise((resolve, reject) => {
      this.socket.send(packet, remote.port, remote.address, (err) => {
        if (err) reject(new TransportError(`UDP send failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  readPacket(signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new TransportError("Connection is closed"));
    const queued = this.#packets.take();
    if (queued) return Promise.resolve(queued);
    if (this.#error) return Promise.reject(this.#error);
    return this.#packets.wait(signal);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#packets.clear();
    this.#fail(new TransportError("Connection is closed"));
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

function bind(port: number, address: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
    const onError = (e: Error) => {
      try {
        socket.close();
      } catch { /* never bound */ }
      reject(new TransportError(`Cannot bind UDP ${address}:${port}: ${e.message}`, { cause: e }));
    };
    socket.once("error", onError);
    socket.bind(port, address, () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}

/**
 * The client side: reports to a simulator at `host:port` from a socket bound to `localPort`.
 * Datagrams from any other sender are ignored.
 */
export class UdpHidConnection implements HidConnection {
  /** The descriptor to hand to `CtapHidDevice.open` (`udp://host:port`). */
  readonly descriptor: HidDescriptor;
  /** The local port actually bound. */
  readonly localPort: number;
  readonly #conn: DatagramConnection;

  private constructor(conn: DatagramConnection, host: string, port: number, localPort: number) {
    this.#conn = conn;
    this.localPort = localPort;
    this.descriptor = {
      path: `udp://${host}:${port}`,
      vid: 0,
      pid: 0,
      reportSizeIn: conn.reportSize,
      reportSizeOut: conn.reportSize,
      productName: "UDP CTAPHID",
    };
  }

  /** Binds the local socket; throws `TransportError` when the port is taken. */
  static async open(opts: UdpHidOptions = {}): Promise<UdpHidConnection> {
    const host = opts.host ?? "127.0.0.1";
    const port = opts.port ?? 8111;
    const local = host.includes(":") ? "::1" : "127.0.0.1";
    const socket = await bind(opts.localPort ?? 7112, local);
    const conn = new DatagramConnection(
      socket,
      { address: host, port },
      opts.reportSize ?? 64,
      (r) => r.port === port,
    );
    return new UdpHidConnection(conn, host, port, socket.address().port);
  }

  /** Sends one report as one datagram. */
  writePacket(packet: Uint8Array): Promise<void> {
    return this.#conn.writePacket(packet);
  }

  /** Next datagram from the authenticator. */
  readPacket(signal?: AbortSignal): Promise<Uint8Array> {
    return this.#conn.readPacket(signal);
  }

  /** Closes the socket; idempotent. */
  close(): Promise<void> {
    return this.#conn.close();
  }
}

/** A running UDP authenticator endpoint. */
export interface UdpServer {
  /** The port actually bound. */
  readonly port: number;
  /** The CTAPHID server (for fault injection). */
  readonly server: CtapHidServer;
  /** Stops serving and closes the socket. */
  close(): Promise<void>;
}

/**
 * Serves `processor` over UDP CTAPHID on `host:port` (default 127.0.0.1:8111; port 0 picks
 * one). Answers go to whoever sent the last datagram, as simulators do.
 */
export async function serveUdp(
  processor: CtapProcessor,
  opts: CtapHidServerOptions & { readonly port?: number; readonly host?: string } = {},
): Promise<UdpServer> {
  const socket = await bind(opts.port ?? 8111, opts.host ?? "127.0.0.1");
  const conn = new DatagramConnection(socket, undefined, opts.reportSize ?? 64, undefined);
  const server = new CtapHidServer(conn, processor, opts);
  server.start();
  return {
    port: socket.address().port,
    server,
    async close() {
      await server.stop();
      await conn.close();
    },
  };
}
