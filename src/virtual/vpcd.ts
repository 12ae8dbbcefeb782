/**
 * Puts a {@linkcode CtapCard} into the `vsmartcard-vpcd` virtual reader, so the real pcscd
 * (and every PC/SC program) sees it as a card in reader "Virtual PCD 00 00". The vpcd driver
 * listens on TCP (127.0.0.1:35963 for the first slot by default); the card connects to it.
 * Each message is a 2-byte big-endian length and a payload: a 1-byte payload is a control
 * code (0 power off, 1 power on, 2 reset, 4 ATR request), anything longer a command APDU
 * answered by one response APDU.
 * @module
 */
import { createConnection, type Socket } from "node:net";
import { TransportError } from "../errors.ts";
import type { CtapCard } from "./card.ts";

/** Where the vpcd reader listens (its reader.conf.d entry: `DEVICENAME /dev/null:PORT`). */
export interface VpcdOptions {
  /** Host of the vpcd driver; default 127.0.0.1. */
  readonly host?: string;
  /** TCP port of the reader slot; default 35963 (slot 0; slot 1 is 35964). */
  readonly port?: number;
  /** Gives up connecting after this long (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /**
   * Disable Nagle's algorithm (default true). `false` exists to measure what it costs
   * (bench/vcard.bench.ts).
   */
  readonly noDelay?: boolean;
}

/** The default port of the first vpcd reader slot ("Virtual PCD 00 00"). */
export const VPCD_PORT = 35963;

const CTRL = { OFF: 0, ON: 1, RESET: 2, ATR: 4 } as const;

/** A card sitting in a vpcd reader. */
export interface VpcdConnection {
  /** The reader's host. */
  readonly host: string;
  /** The reader slot's port. */
  readonly port: number;
  /** The card being served. */
  readonly card: CtapCard;
  /**
   * Resolves when the reader first powers the card on: from then on pcscd reports the card
   * present. (vpcd polls the card about every 400 ms, so this takes up to half a second.)
   */
  readonly ready: Promise<void>;
  /** Resolves when the link ends, from either side. */
  readonly closed: Promise<void>;
  /**
   * Pulls the card out of the field at once: the link drops, an APDU in flight gets no
   * answer, and the reader reports the card removed.
   */
  remove(): void;
  /** Takes the card out after answering the APDU in flight. */
  close(): Promise<void>;
}

/**
 * Connects `card` to the vpcd reader at `host:port`. Each response goes out as one write with
 * Nagle disabled, so nothing on this side waits for an ACK. (Debian 12's driver writes its
 * own messages in two segments with Nagle on, which costs ~40 ms per APDU against a delayed
 * ACK; a `quickack 1` route to the reader's address avoids it: see the README.)
 * Throws `TransportError` naming the fix when no reader listens there.
 */
export async function connectVpcd(
  card: CtapCard,
  options: VpcdOptions = {},
): Promise<VpcdConnection> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? VPCD_PORT;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new RangeError(`Invalid vpcd port ${port}: expected 1..65535`);
  }
  const socket = await open(host, port, options.connectTimeoutMs ?? 5000);
  socket.setNoDelay(options.noDelay ?? true);
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  let buffered = new Uint8Array(0);
  let work: Promise<void> = Promise.resolve();
  let ended = false;

  const send = (payload: Uint8Array) => {
    if (ended || socket.destroyed) return;
    if (payload.length > 0xffff) payload = new Uint8Array([0x6f, 0x00]);
    const frame = new Uint8Array(2 + payload.length);
    frame[0] = payload.length >> 8;
    frame[1] = payload.length & 0xff;
    frame.set(payload, 2);
    socket.write(frame);
  };
  const handle = async (payload: Uint8Array) => {
    if (payload.length === 1) {
      switch (payload[0]) {
        case CTRL.OFF:
          card.powerOff();
          return;
        case CTRL.ON:
          card.powerOn();
          readyResolve();
          return;
        case CTRL.RESET:
          card.reset();
          return;
        case CTRL.ATR:
          send(card.atr);
          return;
        default:
          return; // Unknown control codes have no answer in the protocol.
      }
    }
    if (payload.length === 0) return;
    const response = await card.transmit(payload);
    send(response);
  };
  socket.on("data", (chunk: Uint8Array) => {
    const joined = new Uint8Array(buffered.length + chunk.length);
    joined.set(buffered);
    joined.set(chunk, buffered.length);
    let at = 0;
    while (joined.length - at >= 2) {
      const n = (joined[at] << 8) | joined[at + 1];
      if (joined.length - at - 2 < n) break;
      const payload = joined.slice(at + 2, at + 2 + n);
      at += 2 + n;
      work = work.then(() => handle(payload)).catch(() => {});
    }
    buffered = joined.slice(at);
  });
  const finish = () => {
    if (ended) return;
    ended = true;
    card.powerOff();
    closedResolve();
  };
  socket.on("close", finish);
  socket.on("error", () => {}); // `close` follows; the reader simply lost the card.

  return {
    host,
    port,
    card,
    ready,
    closed,
    remove() {
      finish();
      socket.destroy();
    },
    async close() {
      await work;
      finish();
      socket.end();
      if (socket.destroyed) return;
      // end() half-closes; the driver closes its side when it next polls the card.
      await new Promise<void>((r) => {
        const timer = setTimeout(() => socket.destroy(), 1000);
        socket.once("close", () => {
          clearTimeout(timer);
          r();
        });
      });
    },
  };
}

function open(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new TransportError(
          `No answer from a vpcd reader at ${host}:${port} within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (e: Error & { code?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new TransportError(
          `No vpcd reader listening on ${host}:${port} (${e.code ?? e.message}): start pcscd ` +
            "with the vsmartcard-vpcd driver (apt-get install pcscd vsmartcard-vpcd); its " +
            "/etc/reader.conf.d/vpcd entry sets the port (DEVICENAME /dev/null:PORT)",
          { cause: e },
        ),
      );
    });
  });
}
