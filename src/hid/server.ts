/**
 * The authenticator side of CTAPHID: turns reports from a `HidConnection` into calls on a
 * `CtapProcessor` (an authenticator's command layer, e.g. the VirtualAuthenticator's) with the channel, busy, cancel,
 * keepalive and timeout behaviour of CTAP 2.3 §11.2, so clients are tested against the real
 * protocol rather than a shortcut.
 * @module
 */
import { AbortError } from "../errors.ts";
import {
  CAPABILITY,
  CTAP_STATUS,
  CtapError,
  type CtapProcessor,
  type RequestContext,
  STATUS,
} from "../ctap.ts";
import type { HidConnection } from "./connection.ts";
import {
  BROADCAST_CID,
  CTAPHID,
  fragment,
  HID_ERR,
  HidError,
  type HidFrame,
  packetCid,
  Reassembler,
} from "./framing.ts";
import { FaultInjector, type HidFaults } from "./faults.ts";

export type { HidFaults };

/** Tuning of a {@linkcode CtapHidServer}. */
export interface CtapHidServerOptions {
  /** Report size in bytes (64). */
  readonly reportSize?: number;
  /** Longest gap (ms) between packets of one request before ERR_MSG_TIMEOUT. Default 500. */
  readonly msgTimeout?: number;
  /** Keepalive period (ms) while a CBOR request runs. Default 100. */
  readonly keepaliveInterval?: number;
  /** Faults applied to outgoing packets (tests). */
  readonly faults?: HidFaults;
  /**
   * While this returns true, CTAPHID_INIT gets no answer at all: firmware that is still
   * booting after power-up (seen on real keys for the first seconds).
   */
  readonly ignoreInit?: () => boolean;
}

interface Assembly {
  readonly cid: number;
  readonly reasm: Reassembler;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Running {
  readonly cid: number;
  readonly ctl: AbortController;
  status: number;
}

/** U2F status word for an internal failure. */
const SW_UNKNOWN = new Uint8Array([0x6f, 0x00]);

/**
 * Serves CTAPHID on one connection: allocates channels on INIT, answers PING/WINK/LOCK,
 * forwards MSG and CBOR to the processor one request at a time, and reports protocol faults
 * with the CTAPHID_ERROR codes the spec prescribes.
 */
export class CtapHidServer {
  readonly #reportSize: number;
  readonly #msgTimeout: number;
  readonly #keepaliveInterval: number;
  readonly #channels = new Set<number>();
  #nextCid = 1;
  #assembly: Assembly | undefined;
  #running: Running | undefined;
  #lock: { cid: number; until: number } | undefined;
  #writes: Promise<void> = Promise.resolve();
  #injector: FaultInjector;
  readonly #ignoreInit?: () => boolean;
  #loop: Promise<void> | undefined;
  #stop: AbortController | undefined;

  /** Serves `processor` over `connection`; call `start()` to begin reading. */
  constructor(
    readonly connection: HidConnection,
    readonly processor: CtapProcessor,
    opts: CtapHidServerOptions = {},
  ) {
    this.#reportSize = opts.reportSize ?? 64;
    this.#msgTimeout = opts.msgTimeout ?? 500;
    this.#keepaliveInterval = opts.keepaliveInterval ?? 100;
    this.#injector = this.#makeInjector(opts.faults ?? {});
    this.#ignoreInit = opts.ignoreInit;
  }

  #makeInjector(faults: HidFaults): FaultInjector {
    return new FaultInjector(faults, this.#reportSize, (p) => this.connection.writePacket(p));
  }

  /** Installs new faults; packet indices count from now. */
  set faults(faults: HidFaults) {
    this.#injector = this.#makeInjector(faults);
  }

  /** Packets sent since the current faults were installed. */
  get sentPackets(): number {
    return this.#injector.count;
  }

  /** Number of channels allocated so far. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Whether the read loop is running. */
  get running(): boolean {
    return this.#loop !== undefined;
  }

  /** Starts the read loop (no-op when running). It ends on `stop()` or a closed connection. */
  start(): void {
    if (this.#loop) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#loop = (async () => {
      while (!stop.signal.aborted) {
        let packet: Uint8Array;
        try {
          packet = await this.connection.readPacket(stop.signal);
        } catch {
          // Stopped, or the connection is gone: either way nobody is left to serve.
          break;
        }
        try {
          this.#handle(packet);
        } catch {
          // A processor hook (wink) threw: report a generic failure, keep serving.
          this.#error(packetCid(packet), HID_ERR.OTHER);
        }
      }
      this.#reset();
    })().finally(() => {
      this.#loop = undefined;
    });
  }

  /** Stops the read loop and aborts a running request. Does not close the connection. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    this.#reset();
    await this.#loop;
    await this.#writes;
  }

  #reset(): void {
    if (this.#assembly) clearTimeout(this.#assembly.timer);
    this.#assembly = undefined;
    this.#running?.ctl.abort();
    this.#running = undefined;
  }

  #handle(packet: Uint8Array): void {
    // A report of the wrong size has no trustworthy header to answer.
    if (packet.length !== this.#reportSize) return;
    const cid = packetCid(packet);
    const b = packet[4];
    if (!(b & 0x80)) {
      // Continuation packets nobody is waiting for are ignored (CTAP 2.3 §11.2.4).
      if (this.#assembly?.cid === cid) this.#feed(this.#assembly, packet);
      return;
    }
    const cmd = b & 0x7f;
    if (cmd === CTAPHID.INIT) return this.#init(cid, packet);
    if (cid === 0 || cid === BROADCAST_CID || !this.#channels.has(cid)) {
      return this.#error(cid, HID_ERR.INVALID_CHANNEL);
    }
    if (cmd === CTAPHID.CANCEL) {
      // Only a running request on the same channel can be cancelled; CANCEL gets no reply.
      if (this.#running?.cid === cid) this.#running.ctl.abort();
      return;
    }
    if (this.#lock && this.#lock.until > Date.now() && this.#lock.cid !== cid) {
      return this.#error(cid, HID_ERR.CHANNEL_BUSY);
    }
    if (this.#assembly) {
      if (this.#assembly.cid !== cid) return this.#error(cid, HID_ERR.CHANNEL_BUSY);
      clearTimeout(this.#assembly.timer);
      this.#assembly = undefined;
      return this.#error(cid, HID_ERR.INVALID_SEQ);
    }
    if (this.#running) return this.#error(cid, HID_ERR.CHANNEL_BUSY);
    const assembly: Assembly = {
      cid,
      reasm: new Reassembler(cid, this.#reportSize),
      timer: undefined,
    };
    this.#assembly = assembly;
    this.#feed(assembly, packet);
  }

  #feed(assembly: Assembly, packet: Uint8Array): void {
    clearTimeout(assembly.timer);
    let frame: HidFrame | undefined;
    try {
      frame = assembly.reasm.push(packet);
    } catch (e) {
      this.#assembly = undefined;
      if (e instanceof HidError) return this.#error(assembly.cid, e.code);
      throw e;
    }
    if (!frame) {
      assembly.timer = setTimeout(() => {
        if (this.#assembly !== assembly) return;
        this.#assembly = undefined;
        this.#error(assembly.cid, HID_ERR.MSG_TIMEOUT);
      }, this.#msgTimeout);
      return;
    }
    this.#assembly = undefined;
    this.#dispatch(frame);
  }

  #init(cid: number, packet: Uint8Array): void {
    if (this.#ignoreInit?.()) return;
    const bcnt = (packet[5] << 8) | packet[6];
    if (bcnt !== 8) return this.#error(cid, HID_ERR.INVALID_LEN);
    let newCid: number;
    if (cid === BROADCAST_CID) {
      newCid = this.#allocate();
    } else if (cid !== 0 && this.#channels.has(cid)) {
      // INIT on an owned channel resynchronizes it: drop whatever it had in flight.
      newCid = cid;
      if (this.#assembly?.cid === cid) {
        clearTimeout(this.#assembly.timer);
        this.#assembly = undefined;
      }
      if (this.#running?.cid === cid) {
        this.#running.ctl.abort();
        this.#running = undefined;
      }
    } else {
      return this.#error(cid, HID_ERR.INVALID_CHANNEL);
    }
    const p = this.processor;
    const resp = new Uint8Array(17);
    resp.set(packet.subarray(7, 15));
    resp[8] = newCid >>> 24;
    resp[9] = (newCid >>> 16) & 0xff;
    resp[10] = (newCid >>> 8) & 0xff;
    resp[11] = newCid & 0xff;
    resp[12] = 2;
    resp.set(p.deviceVersion, 13);
    resp[16] = p.capabilities;
    void this.#send(cid, CTAPHID.INIT, resp);
  }

  #allocate(): number {
    // Channel ids are never 0 or broadcast; skip any still in use after wrap-around.
    while (true) {
      const cid = this.#nextCid;
      this.#nextCid = cid >= 0xfffffffe ? 1 : cid + 1;
      if (!this.#channels.has(cid)) {
        this.#channels.add(cid);
        return cid;
      }
    }
  }

  #dispatch(frame: HidFrame): void {
    const { cid, cmd, payload } = frame;
    const caps = this.processor.capabilities;
    switch (cmd) {
      case CTAPHID.PING:
        void this.#send(cid, CTAPHID.PING, payload);
        return;
      case CTAPHID.WINK:
        if (!(caps & CAPABILITY.WINK)) return this.#error(cid, HID_ERR.INVALID_CMD);
        if (payload.length !== 0) return this.#error(cid, HID_ERR.INVALID_LEN);
        this.processor.wink?.();
        void this.#send(cid, CTAPHID.WINK, new Uint8Array(0));
        return;
      case CTAPHID.LOCK: {
        if (!(caps & CAPABILITY.LOCK)) return this.#error(cid, HID_ERR.INVALID_CMD);
        if (payload.length !== 1) return this.#error(cid, HID_ERR.INVALID_LEN);
        if (payload[0] > 10) return this.#error(cid, HID_ERR.INVALID_PAR);
        this.#lock = payload[0] === 0 ? undefined : { cid, until: Date.now() + payload[0] * 1000 };
        void this.#send(cid, CTAPHID.LOCK, new Uint8Array(0));
        return;
      }
      case CTAPHID.MSG:
        if (caps & CAPABILITY.NMSG) return this.#error(cid, HID_ERR.INVALID_CMD);
        void this.#run(cid, CTAPHID.MSG, false, (ctx) => this.processor.processMsg(payload, ctx));
        return;
      case CTAPHID.CBOR:
        if (!(this.processor.cbor ?? (caps & CAPABILITY.CBOR) !== 0)) {
          return this.#error(cid, HID_ERR.INVALID_CMD);
        }
        if (payload.length === 0) return this.#error(cid, HID_ERR.INVALID_LEN);
        void this.#run(cid, CTAPHID.CBOR, true, (ctx) => this.processor.processCbor(payload, ctx));
        return;
      default:
        return this.#error(cid, HID_ERR.INVALID_CMD);
    }
  }

  async #run(
    cid: number,
    cmd: number,
    keepalives: boolean,
    fn: (ctx: RequestContext) => Promise<Uint8Array>,
  ): Promise<void> {
    const running: Running = { cid, ctl: new AbortController(), status: STATUS.PROCESSING };
    this.#running = running;
    const keepalive = () => {
      if (this.#running !== running) return;
      void this.#send(cid, CTAPHID.KEEPALIVE, new Uint8Array([running.status]));
    };
    const ctx: RequestContext = {
      signal: running.ctl.signal,
      keepalive(status: number) {
        running.status = status;
        keepalive();
      },
    };
    const timer = keepalives ? setInterval(keepalive, this.#keepaliveInterval) : undefined;
    let response: Uint8Array;
    try {
      response = await fn(ctx);
    } catch (e) {
      if (cmd === CTAPHID.MSG) response = SW_UNKNOWN;
      else if (e instanceof CtapError) response = new Uint8Array([e.code]);
      else if (e instanceof AbortError) response = new Uint8Array([CTAP_STATUS.KEEPALIVE_CANCEL]);
      else response = new Uint8Array([CTAP_STATUS.OTHER]);
    } finally {
      clearInterval(timer);
    }
    // Resynchronized (INIT) or stopped meanwhile: the answer has nobody to go to.
    if (this.#running !== running) return;
    this.#running = undefined;
    await this.#send(cid, cmd, response);
  }

  #error(cid: number, code: number): void {
    void this.#send(cid, CTAPHID.ERROR, new Uint8Array([code]));
  }

  /** Queues a whole message so packets of different messages never interleave. */
  #send(cid: number, cmd: number, payload: Uint8Array): Promise<void> {
    let packets: Uint8Array[];
    try {
      packets = fragment(cid, cmd, payload, this.#reportSize);
    } catch {
      // A processor answer too large for CTAPHID.
      packets = fragment(cid, CTAPHID.ERROR, new Uint8Array([HID_ERR.OTHER]), this.#reportSize);
    }
    const injector = this.#injector;
    this.#writes = this.#writes.then(async () => {
      for (const p of packets) await injector.send(p);
    }).catch(() => {
      // The client went away; the read loop notices and ends.
    });
    return this.#writes;
  }
}
