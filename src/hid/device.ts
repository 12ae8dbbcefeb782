/**
 * The CTAPHID client: a `CtapDevice` over any `HidConnection` (hidapi, UDP, in-memory). Owns
 * one channel, runs one transaction at a time, tolerates the noise a shared HID device
 * produces (other channels' traffic, stray keepalives) and cancels properly.
 * @module
 */
import { AbortError, TransportError } from "../errors.ts";
import { type CallOptions, CAPABILITY, type CtapDevice, CtapError, STATUS } from "../ctap.ts";
import { clearTimeout as clearTimer, setTimeout as setTimer } from "node:timers";
import { bytesEqual, randomBytes, sleep } from "../utils.ts";
import type { HidConnection, HidDescriptor } from "./connection.ts";
import {
  BROADCAST_CID,
  CTAPHID,
  fragment,
  hex32,
  HID_ERR,
  HidError,
  packetCid,
  Reassembler,
} from "./framing.ts";

export { HidError };

/** Tuning of a {@linkcode CtapHidDevice}. */
export interface CtapHidDeviceOptions {
  /**
   * Longest silence (ms) tolerated while waiting for the device: between request and first
   * response packet, between packets, and between keepalives. Default 2000.
   */
  readonly readTimeout?: number;
  /** How long (ms) to wait for the answer to CTAPHID_CANCEL before giving up. Default 1500. */
  readonly cancelTimeout?: number;
  /** How long (ms) to keep retrying a request the device answers with CHANNEL_BUSY. Default 3000. */
  readonly busyTimeout?: number;
  /** Aborts the INIT exchange of {@linkcode CtapHidDevice.open}. */
  readonly signal?: AbortSignal;
}

/** Interval (ms) at which an unanswered CTAPHID_INIT is sent again during `open`. */
const INIT_RESEND_MS = 400;

/** What CTAPHID_INIT told us about the device. */
export interface HidInitInfo {
  /** The channel ID the device allocated for us. */
  readonly cid: number;
  /** CTAPHID protocol version (2 for every current device). */
  readonly ctaphidVersion: number;
  /** Major, minor and build version of the device firmware. */
  readonly deviceVersion: readonly [number, number, number];
  /** CAPABILITY bits: WINK, CBOR, NMSG. */
  readonly capabilities: number;
}

const BUSY_RETRY_MS = 100;
const DRAIN_LIMIT = 256;

/**
 * A FIDO authenticator reached over CTAPHID. Obtain one with {@linkcode CtapHidDevice.open},
 * which allocates a channel; `call` then serializes operations so concurrent callers never
 * interleave packets.
 */
export class CtapHidDevice implements CtapDevice {
  /** The channel id the device assigned to us. */
  readonly channelId: number;
  /** CTAPHID protocol version. */
  readonly ctaphidVersion: number;
  /** Device firmware version (major, minor, build). */
  readonly deviceVersion: readonly [number, number, number];
  /** CAPABILITY flags (WINK, LOCK, CBOR, NMSG). */
  readonly capabilities: number;
  /** Whether a call is running; later calls wait in `#waiting`, in order. */
  #busy = false;
  readonly #waiting: (() => void)[] = [];
  #closed = false;
  #needsResync = false;
  readonly #watchdog = new Watchdog();
  readonly #readTimeout: number;
  readonly #cancelTimeout: number;
  readonly #busyTimeout: number;

  /** Prefer {@linkcode CtapHidDevice.open}; this wraps an already-initialized channel. */
  constructor(
    readonly descriptor: HidDescriptor,
    readonly connection: HidConnection,
    info: HidInitInfo,
    opts: CtapHidDeviceOptions = {},
  ) {
    this.channelId = info.cid;
    this.ctaphidVersion = info.ctaphidVersion;
    this.deviceVersion = info.deviceVersion;
    this.capabilities = info.capabilities;
    this.#readTimeout = opts.readTimeout ?? 2000;
    this.#cancelTimeout = opts.cancelTimeout ?? 1500;
    this.#busyTimeout = opts.busyTimeout ?? 3000;
  }

  /**
   * Allocates a channel with CTAPHID_INIT (8-byte random nonce on the broadcast channel;
   * replies to other clients' INITs are skipped) and returns the ready device. On failure
   * the connection is left open for the caller to close.
   */
  static async open(
    descriptor: HidDescriptor,
    connection: HidConnection,
    opts: CtapHidDeviceOptions = {},
  ): Promise<CtapHidDevice> {
    const nonce = randomBytes(8);
    const readTimeout = opts.readTimeout ?? 2000;
    await drain(connection);
    const packets = fragment(BROADCAST_CID, CTAPHID.INIT, nonce, descriptor.reportSizeOut);
    for (const p of packets) await connection.writePacket(p);
    // Some keys drop INITs for a moment after power-up: ask again (same nonce) until the
    // read timeout, so a key that is still booting is found instead of timing out.
    let resending: Promise<void> = Promise.resolve();
    const stopResending = Date.now() + readTimeout;
    const resend = setInterval(() => {
      // Within the first read timeout only: answers to others' INITs extend the wait.
      if (Date.now() >= stopResending) return clearInterval(resend);
      resending = resending.then(async () => {
        for (const p of packets) await connection.writePacket(p);
      }).catch(() => {});
    }, INIT_RESEND_MS);
    const watchdog = new Watchdog();
    const wait = new Waiter(readTimeout, opts.signal, watchdog);
    try {
      return await CtapHidDevice.#awaitInit(descriptor, connection, opts, nonce, wait);
    } finally {
      clearInterval(resend);
      await resending;
      wait.dispose();
      watchdog.dispose();
    }
  }

  static async #awaitInit(
    descriptor: HidDescriptor,
    connection: HidConnection,
    opts: CtapHidDeviceOptions,
    nonce: Uint8Array,
    wait: Waiter,
  ): Promise<CtapHidDevice> {
    const readTimeout = opts.readTimeout ?? 2000;
    const reasm = new Reassembler(BROADCAST_CID, descriptor.reportSizeIn);
    let errorCode: number | undefined;
    while (true) {
      const packet = await wait.read(connection);
      if (packet === undefined) {
        if (opts.signal?.aborted) throw new AbortError(undefined, { cause: opts.signal.reason });
        if (errorCode !== undefined) throw new CtapError(errorCode);
        throw new HidError(
          HID_ERR.MSG_TIMEOUT,
          `No CTAPHID_INIT response within ${readTimeout} ms`,
        );
      }
      if (packet.length < 5 || packetCid(packet) !== BROADCAST_CID) continue;
      let frame;
      try {
        frame = reasm.push(packet);
      } catch (e) {
        if (e instanceof HidError) continue; // Someone else's broken broadcast traffic.
        throw e;
      }
      if (!frame) continue;
      if (frame.cmd === CTAPHID.ERROR) {
        // Possibly meant for another client on a shared device: report it only if nothing
        // better arrives before the deadline.
        errorCode = frame.payload[0] ?? HID_ERR.OTHER;
        continue;
      }
      if (frame.cmd !== CTAPHID.INIT) continue;
      const p = frame.payload;
      if (p.length < 8 || !bytesEqual(p.subarray(0, 8), nonce)) {
        // Another client's INIT on a shared device: not ours, keep waiting.
        wait.extend(readTimeout);
        continue;
      }
      if (p.length < 17) {
        throw new HidError(
          HID_ERR.INVALID_LEN,
          `CTAPHID_INIT response of ${p.length} bytes, expected 17`,
        );
      }
      const cid = new DataView(p.buffer, p.byteOffset + 8, 4).getUint32(0);
      if (cid === BROADCAST_CID || cid === 0) {
        throw new HidError(
          HID_ERR.INVALID_CHANNEL,
          `Device assigned invalid channel ${hex32(cid)}`,
        );
      }
      return new CtapHidDevice(descriptor, connection, {
        cid,
        ctaphidVersion: p[12],
        deviceVersion: [p[13], p[14], p[15]],
        capabilities: p[16],
      }, opts);
    }
  }

  /**
   * Sends one CTAPHID command and resolves with the response payload. Queued behind any
   * running call. Rejects with `CtapError` for a CTAPHID_ERROR, `HidError` for protocol
   * faults and silence, `AbortError` once an aborted request has been cancelled.
   */
  call(
    cmd: number,
    data: Uint8Array = new Uint8Array(0),
    opts: CallOptions = {},
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new TransportError("Device is closed"));
    const signal = opts.signal;
    if (signal?.aborted) {
      return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    }
    // Validate the payload now so a bad request never occupies the queue.
    let packets: Uint8Array[];
    try {
      packets = fragment(this.channelId, cmd, data, this.descriptor.reportSizeOut);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.#busy) {
      // Nothing running: start at once. A promise chain per call (the queue below) costs
      // several microtask turns, and each turn is paid again cold after every wake-up.
      this.#busy = true;
      return this.#run(cmd, packets, opts);
    }
    return new Promise((resolve, reject) => {
      // While queued, an abort rejects at once; once running, it goes through CANCEL.
      const onAbort = () => {
        const i = this.#waiting.indexOf(start);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(new AbortError(undefined, { cause: signal!.reason }));
      };
      const start = () => {
        signal?.removeEventListener("abort", onAbort);
        if (this.#closed) {
          reject(new TransportError("Device is closed"));
          this.#release();
        } else this.#run(cmd, packets, opts).then(resolve, reject);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(start);
    });
  }

  /** Hands the device to the next queued call, or marks it idle. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#busy = false;
  }

  /** One call, retried while the device answers CHANNEL_BUSY; releases the device after. */
  async #run(cmd: number, packets: Uint8Array[], opts: CallOptions): Promise<Uint8Array> {
    try {
      const giveUp = Date.now() + this.#busyTimeout;
      const answered = { value: false };
      while (true) {
        answered.value = false;
        try {
          // More stale reports than drain() takes: resynchronize rather than misread the rest.
          if (this.#needsResync) await this.#resync();
          else {
            let clean = drain(this.connection);
            if (typeof clean !== "boolean") clean = await clean;
            if (!clean) await this.#resync();
          }
          return await this.#exchange(cmd, packets, opts, answered);
        } catch (e) {
          // Unless the device answered cleanly, late packets of this transaction may still
          // come: resynchronize the channel before the next one.
          if (!(e instanceof CtapError)) {
            if (!answered.value) this.#needsResync = true;
            throw e;
          }
          if (e.code !== HID_ERR.CHANNEL_BUSY || Date.now() + BUSY_RETRY_MS > giveUp) throw e;
          if (!(await sleep(BUSY_RETRY_MS, opts.signal))) {
            throw new AbortError(undefined, { cause: opts.signal?.reason });
          }
        }
      }
    } finally {
      this.#release();
    }
  }

  /**
   * CTAPHID_INIT on our own channel: the device aborts whatever it was doing for us and
   * answers with our nonce; everything before that answer is stale and skipped.
   */
  async #resync(): Promise<void> {
    const nonce = randomBytes(8);
    const out = this.descriptor.reportSizeOut;
    await this.connection.writePacket(fragment(this.channelId, CTAPHID.INIT, nonce, out)[0]);
    const wait = new Waiter(this.#readTimeout, undefined, this.#watchdog);
    try {
      while (true) {
        const p = await wait.read(this.connection);
        if (p === undefined) {
          throw new HidError(HID_ERR.MSG_TIMEOUT, "No answer to CTAPHID_INIT resynchronization");
        }
        if (p.length < 15 || packetCid(p) !== this.channelId) continue;
        if (p[4] === (0x80 | CTAPHID.INIT) && bytesEqual(p.subarray(7, 15), nonce)) break;
      }
    } finally {
      wait.dispose();
    }
    this.#needsResync = false;
  }

  async #exchange(
    cmd: number,
    packets: Uint8Array[],
    opts: CallOptions,
    answered: { value: boolean },
  ): Promise<Uint8Array> {
    const { signal, onKeepalive } = opts;
    for (const p of packets) await this.connection.writePacket(p);
    const reasm = new Reassembler(this.channelId, this.descriptor.reportSizeIn);
    let lastStatus = 0;
    let cancelled = false;
    let wait = new Waiter(this.#readTimeout, signal, this.#watchdog);
    try {
      while (true) {
        if (signal?.aborted && !cancelled) {
          cancelled = true;
          wait.dispose();
          await this.connection.writePacket(
            fragment(this.channelId, CTAPHID.CANCEL, undefined, this.descriptor.reportSizeOut)[0],
          );
          wait = new Waiter(this.#cancelTimeout, undefined, this.#watchdog);
        }
        const packet = await wait.read(this.connection);
        if (packet === undefined) {
          if (signal?.aborted) {
            if (!cancelled) continue; // Send CANCEL, then wait for the answer.
            throw new AbortError("The operation was aborted (the device did not answer CANCEL)", {
              cause: signal.reason,
            });
          }
          throw new HidError(
            HID_ERR.MSG_TIMEOUT,
            `No data from the device for ${this.#readTimeout} ms` +
              (reasm.inProgress ? " (response incomplete)" : ""),
          );
        }
        // Traffic for other channels (other processes share hidraw) is not ours to judge.
        if (packet.length < 5 || packetCid(packet) !== this.channelId) continue;
        const b = packet[4];
        if (b === (0x80 | CTAPHID.KEEPALIVE)) {
          // A keepalive never ends the transaction, even one arriving mid-response.
          const status = packet.length > 7 && ((packet[5] << 8) | packet[6]) >= 1 ? packet[7] : 0;
          if (status === STATUS.PROCESSING || status === STATUS.UPNEEDED) {
            if (!cancelled) wait.extend(this.#readTimeout);
            if (status !== lastStatus) {
              lastStatus = status;
              onKeepalive?.(status);
            }
          }
          continue;
        }
        if (b & 0x80) {
          const c = b & 0x7f;
          if (c === CTAPHID.ERROR) {
            answered.value = true;
            if (cancelled) throw new AbortError(undefined, { cause: signal?.reason });
            const code = packet.length > 7 ? packet[7] : HID_ERR.OTHER;
            throw new CtapError(code);
          }
          if (c !== cmd && !reasm.inProgress) {
            throw new HidError(
              HID_ERR.INVALID_CMD,
              `Response for command 0x${c.toString(16)} to request 0x${cmd.toString(16)}`,
            );
          }
        }
        const frame = reasm.push(packet);
        if (!frame) {
          if (!cancelled) wait.extend(this.#readTimeout);
          continue;
        }
        answered.value = true;
        if (cancelled) throw new AbortError(undefined, { cause: signal?.reason });
        return frame.payload;
      }
    } finally {
      wait.dispose();
    }
  }

  /** CTAPHID_PING: echoes `data` (a transport self-test). */
  async ping(data: Uint8Array = new Uint8Array(0), opts: CallOptions = {}): Promise<Uint8Array> {
    const echo = await this.call(CTAPHID.PING, data, opts);
    if (!bytesEqual(echo, data)) throw new HidError(HID_ERR.OTHER, "PING echo differs from data");
    return echo;
  }

  /** CTAPHID_WINK: makes the device blink; only devices with CAPABILITY.WINK support it. */
  async wink(opts: CallOptions = {}): Promise<void> {
    await this.call(CTAPHID.WINK, new Uint8Array(0), opts);
  }

  /** CTAPHID_LOCK: reserves the device for this channel for `seconds` (0 releases, max 10). */
  async lock(seconds = 10, opts: CallOptions = {}): Promise<void> {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 10) {
      throw new RangeError(`Lock time must be 0..10 seconds, got ${seconds}`);
    }
    await this.call(CTAPHID.LOCK, new Uint8Array([seconds]), opts);
  }

  /** Whether the device speaks CTAP2 (CTAPHID_CBOR). */
  get supportsCbor(): boolean {
    return (this.capabilities & CAPABILITY.CBOR) !== 0;
  }

  /** Whether the device still speaks CTAP1 (no NMSG flag). */
  get supportsMsg(): boolean {
    return (this.capabilities & CAPABILITY.NMSG) === 0;
  }

  /** Closes the connection; pending calls reject with `TransportError`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog.dispose();
    await this.connection.close();
  }
}

/** A signal that is already aborted: `readPacket` with it returns only what has arrived. */
let arrivedOnly: AbortSignal | undefined;

/**
 * Discards reports already queued (late replies to an earlier, failed transaction). Resolves
 * false when DRAIN_LIMIT reports were discarded and more may be waiting.
 */
function drain(connection: HidConnection): boolean | Promise<boolean> {
  if (connection.readArrived) {
    // The synchronous form: no promise, no AbortError per transaction.
    for (let i = 0; i < DRAIN_LIMIT; i++) if (!connection.readArrived()) return true;
    return false;
  }
  return drainAsync(connection);
}

async function drainAsync(connection: HidConnection): Promise<boolean> {
  // One shared aborted signal: creating one costs more than the rest of a drain.
  const aborted = arrivedOnly ??= AbortSignal.abort();
  for (let i = 0; i < DRAIN_LIMIT; i++) {
    try {
      await connection.readPacket(aborted);
    } catch (e) {
      if (e instanceof AbortError) return true;
      throw e;
    }
  }
  return false;
}

/**
 * One inactivity timer and one read signal per device, kept across transactions: arming it
 * for the next transaction moves a deadline instead of creating a timer (timer setup costs
 * more than a loopback packet in Deno), and reads keep passing the same signal so the
 * connection's abort listener stays registered. The timer fires at most once per timeout
 * period and re-arms itself when the deadline moved; while disarmed it is unref'd, so an idle
 * device never keeps the process alive. The signal is replaced once it has aborted.
 */
class Watchdog {
  #timer: ReturnType<typeof setTimer> | undefined;
  #due = 0;
  #deadline = 0;
  #onExpire: (() => void) | undefined;
  #ctl = new AbortController();

  /** The signal to read with: aborts when the armed deadline passes or {@linkcode abortReads}. */
  get signal(): AbortSignal {
    if (this.#ctl.signal.aborted) this.#ctl = new AbortController();
    return this.#ctl.signal;
  }

  /** Aborts the reads running with {@linkcode signal}. */
  abortReads(): void {
    this.#ctl.abort();
  }

  /** Calls `onExpire` once `ms` pass without {@linkcode extend} or {@linkcode disarm}. */
  arm(ms: number, onExpire: () => void): void {
    this.#onExpire = onExpire;
    this.extend(ms);
    this.#timer?.ref();
  }

  /** Pushes the deadline to `ms` from now. */
  extend(ms: number): void {
    this.#deadline = Date.now() + ms;
    // An existing timer due no later than the deadline re-arms itself when it fires.
    if (this.#timer && this.#due <= this.#deadline) return;
    this.#schedule(ms);
  }

  disarm(): void {
    this.#onExpire = undefined;
    this.#timer?.unref();
  }

  /** Stops the timer for good (device closed). */
  dispose(): void {
    this.#onExpire = undefined;
    if (this.#timer) clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#timer) clearTimer(this.#timer);
    this.#due = Date.now() + ms;
    this.#timer = setTimer(() => this.#fire(), Math.max(0, ms));
    if (!this.#onExpire) this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    const onExpire = this.#onExpire;
    if (!onExpire) return;
    const left = this.#deadline - Date.now();
    if (left > 0) this.#schedule(left);
    else {
      this.#onExpire = undefined;
      onExpire();
    }
  }
}

/**
 * An inactivity deadline for a run of reads, optionally tied to a caller's signal, timed by a
 * (shared) {@linkcode Watchdog}.
 */
class Waiter {
  readonly #signal: AbortSignal | undefined;
  readonly #watchdog: Watchdog;
  readonly #readSignal: AbortSignal;
  #expired = false;
  readonly #onAbort = () => {
    this.#expired = true;
    this.#watchdog.abortReads();
  };

  constructor(ms: number, signal?: AbortSignal, watchdog: Watchdog = new Watchdog()) {
    this.#signal = signal;
    this.#watchdog = watchdog;
    this.#readSignal = watchdog.signal;
    if (signal?.aborted) this.#expired = true;
    else {
      signal?.addEventListener("abort", this.#onAbort, { once: true });
      watchdog.arm(ms, this.#onAbort);
    }
  }

  /** Pushes the deadline to `ms` from now. */
  extend(ms: number): void {
    this.#watchdog.extend(ms);
  }

  /**
   * Next packet, or `undefined` once the deadline passed or the signal aborted. A report that
   * has already arrived is taken synchronously (no wait, no abort listener).
   */
  async read(connection: HidConnection): Promise<Uint8Array | undefined> {
    if (this.#expired) return undefined;
    const arrived = connection.readArrived?.();
    if (arrived !== undefined) return arrived;
    try {
      return await connection.readPacket(this.#readSignal);
    } catch (e) {
      if (e instanceof AbortError && this.#expired) return undefined;
      throw e;
    }
  }

  dispose(): void {
    this.#watchdog.disarm();
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}
