/**
 * CTAPHID over UDP: one 64-byte report per datagram, the framing firmware simulators use
 * (authenticator on 127.0.0.1:8111, client on 7112). Client connection and server side.
 * @module
 */
import { TransportError } from "../errors.ts";
import type { CtapProcessor } from "../ctap.ts";
import { type HidConnection, type HidDescriptor, PacketQueue } from "./connection.ts";
import { CtapHidServer, type CtapHidServerOptions } from "./server.ts";
import {
  bindDatagram,
  type DatagramApi,
  type DatagramBackend,
  type DatagramSocket,
} from "./datagram.ts";

export type { DatagramApi, DatagramBackend };

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
  /**
   * Datagram API: the runtime's own where available (default: `Bun.udpSocket`, or
   * `Deno.listenDatagram` under `--unstable-net`), or `"node:dgram"`.
   */
  readonly api?: DatagramApi;
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
  #socket!: DatagramSocket;
  #closed = false;
  #error: Error | undefined;

  private constructor(
    public remote: Remote | undefined,
    readonly reportSize: number,
    readonly acceptFrom: ((port: number, address: string) => boolean) | undefined,
  ) {}

  /** Binds `address:port` and serves it as a connection. */
  static async bind(
    address: string,
    port: number,
    remote: Remote | undefined,
    reportSize: number,
    acceptFrom: ((port: number, address: string) => boolean) | undefined,
    api: DatagramApi | undefined,
  ): Promise<DatagramConnection> {
    const conn = new DatagramConnection(remote, reportSize, acceptFrom);
    conn.#socket = await bindDatagram(
      address,
      port,
      {
        message: (data, port, address, owned) => conn.#receive(data, port, address, owned),
        error: (e) => conn.#fail(socketError(e)),
      },
      api,
      acceptFrom ? remote : undefined,
    );
    return conn;
  }

  /** The local port actually bound. */
  get localPort(): number {
    return this.#socket.port;
  }

  /** The datagram API underneath. */
  get backend(): DatagramBackend {
    return this.#socket.backend;
  }

  #receive(data: Uint8Array, port: number, address: string, owned: boolean): void {
    if (this.#closed) return;
    if (this.acceptFrom && !this.acceptFrom(port, address)) return;
    if (!this.acceptFrom && (this.remote?.port !== port || this.remote.address !== address)) {
      this.remote = { address, port };
    }
    // A copy only where the API reuses its buffer: an allocation right after a wake-up
    // costs microseconds while the caches are cold.
    this.#packets.push(owned ? data : data.slice());
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
    if (this.#error) return Promise.reject(this.#error);
    const remote = this.remote;
    if (!remote) return Promise.reject(new TransportError("No UDP peer to send to yet"));
    try {
      const sent = this.#socket.send(packet, remote.port, remote.address);
      return sent ? sent.catch((e) => Promise.reject(sendError(e))) : Promise.resolve();
    } catch (e) {
      return Promise.reject(sendError(e));
    }
  }

  readArrived(): Uint8Array | undefined {
    if (this.#closed) throw new TransportError("Connection is closed");
    return this.#packets.take();
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
    return this.#socket.close();
  }
}

function socketError(e: Error): TransportError {
  return new TransportError(`UDP socket error: ${e.message}`, { cause: e });
}

function sendError(e: unknown): TransportError {
  if (e instanceof TransportError) return e;
  return new TransportError(`UDP send failed: ${(e as Error)?.message ?? e}`, { cause: e });
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
    const conn = await DatagramConnection.bind(
      local,
      opts.localPort ?? 7112,
      { address: host, port },
      opts.reportSize ?? 64,
      (p) => p === port,
      opts.api,
    );
    return new UdpHidConnection(conn, host, port, conn.localPort);
  }

  /** The datagram API underneath. */
  get backend(): DatagramBackend {
    return this.#conn.backend;
  }

  /** Sends one report as one datagram. */
  writePacket(packet: Uint8Array): Promise<void> {
    return this.#conn.writePacket(packet);
  }

  /** Next datagram from the authenticator. */
  readPacket(signal?: AbortSignal): Promise<Uint8Array> {
    return this.#conn.readPacket(signal);
  }

  /** A datagram that has already arrived, or `undefined` (never waits). */
  readArrived(): Uint8Array | undefined {
    return this.#conn.readArrived();
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
  opts: CtapHidServerOptions & {
    readonly port?: number;
    readonly host?: string;
    /** Datagram API (default: the runtime's own where available). */
    readonly api?: DatagramApi;
  } = {},
): Promise<UdpServer> {
  const conn = await DatagramConnection.bind(
    opts.host ?? "127.0.0.1",
    opts.port ?? 8111,
    undefined,
    opts.reportSize ?? 64,
    undefined,
    opts.api,
  );
  const server = new CtapHidServer(conn, processor, opts);
  server.start();
  return {
    port: conn.localPort,
    server,
    async close() {
      await server.stop();
      await conn.close();
    },
  };
}
