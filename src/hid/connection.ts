/**
 * The narrow seam between CTAPHID framing (`src/hid/`) and whatever moves 64-byte reports:
 * hidapi over FFI, UDP to a firmware simulator, or an in-memory pipe to the
 * VirtualAuthenticator.
 * @module
 */
import { AbortError, TransportError } from "../errors.ts";

/** What identifies an HID authenticator. */
export interface HidDescriptor {
  /** Platform path (hidapi path, `udp://host:port`, `virtual:…`). */
  readonly path: string;
  /** USB vendor ID. */
  readonly vid: number;
  /** USB product ID. */
  readonly pid: number;
  /** Input report size without report ID (64 for every FIDO key in the wild). */
  readonly reportSizeIn: number;
  /** Output report size without report ID. */
  readonly reportSizeOut: number;
  /** USB product string, when the OS reports one. */
  readonly productName?: string;
  /** USB serial number, when the OS reports one. */
  readonly serialNumber?: string;
}

/** Moves whole HID reports (no report-ID byte) to and from one device. */
export interface HidConnection {
  /** Writes one report of exactly `reportSizeOut` bytes. */
  writePacket(packet: Uint8Array): Promise<void>;
  /**
   * Resolves with the next input report. Rejects with `AbortError` when `signal` aborts
   * (promptly: callers implement timeouts this way) and with `TransportError` when the device
   * is gone.
   */
  readPacket(signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * The next report that has already arrived, or `undefined`; never waits. The same as
   * `readPacket` with an aborted signal (which every connection must also support: reports
   * that arrived are served, then `AbortError`), minus the promise and the error per call;
   * `CtapHidDevice` drains stale reports with it before each transaction. Throws
   * `TransportError` when the connection is closed.
   */
  readArrived?(): Uint8Array | undefined;
  /** Releases the connection; idempotent. Pending reads reject with `TransportError`. */
  close(): Promise<void> | void;
}

/** One entry of a native HID enumeration (hidapi's `struct hid_device_info`). */
export interface HidDeviceInfo {
  /** Platform path to pass to `open`. */
  readonly path: string;
  /** USB vendor ID. */
  readonly vendorId: number;
  /** USB product ID. */
  readonly productId: number;
  /** USB serial number, when the OS reports one. */
  readonly serialNumber?: string;
  /** Device release number (bcdDevice). */
  readonly releaseNumber: number;
  /** USB manufacturer string. */
  readonly manufacturerString?: string;
  /** USB product string. */
  readonly productString?: string;
  /** 0 on hidapi-libusb before 0.12 (use the report descriptor then). */
  readonly usagePage: number;
  /** HID usage within `usagePage` (0x01 for FIDO CTAPHID). */
  readonly usage: number;
  /** USB interface number (hidapi reports -1 for non-USB devices). */
  readonly interfaceNumber: number;
  /** hidapi ≥ 0.13 only. */
  readonly busType?: number;
}

/** A native HID backend (implemented by `ffi/hidapi.ts`). */
export interface HidBackend {
  /** Every HID device (callers filter for FIDO). */
  enumerate(): Promise<HidDeviceInfo[]>;
  /** Opens a device path; the connection serializes its native calls. */
  open(path: string, reportSizeIn?: number, reportSizeOut?: number): Promise<HidConnection>;
  /** Raw report descriptor, where the backend can read one (hidapi ≥ 0.14). */
  getReportDescriptor?(path: string): Promise<Uint8Array | undefined>;
  /**
   * The fix for a FIDO key that was found but could not be opened, on this platform (a udev
   * rule on Linux, WindowsClient on Windows), or undefined when there is none to suggest.
   */
  accessHint?(descriptor: HidDescriptor, error: unknown): string | undefined;
  /**
   * Why FIDO keys may be missing from `enumerate` even when plugged in (an hidapi too old to
   * report usage pages), or undefined when enumeration is trustworthy.
   */
  readonly enumerationLimit?: string;
}

/**
 * A connected pair of in-memory connections: what one side writes, the other reads. Used to
 * attach the VirtualAuthenticator and by transport tests.
 */
export function createConnectionPair(reportSize = 64): [HidConnection, HidConnection] {
  const a = new MemoryEndpoint(reportSize);
  const b = new MemoryEndpoint(reportSize);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

interface QueueWaiter {
  readonly resolve: (p: Uint8Array) => void;
  readonly reject: (e: Error) => void;
  readonly signal: AbortSignal | undefined;
  /** A listener of its own, when its signal is not the watched one. */
  onAbort?: () => void;
}

/**
 * Reports that arrived before anyone read them, and readers waiting for the next one. Shared
 * by the in-memory, UDP and hidapi connections; `readPacket` wraps it with each one's closed
 * checks.
 *
 * Abort listeners are the dearest part of a wait (EventTarget calls cost microseconds): the
 * signal a reader passes is watched with one listener that stays registered across reads, so a
 * caller reusing one signal for many reads (as `CtapHidDevice` does per device) pays once.
 */
export class PacketQueue {
  readonly #queue: Uint8Array[] = [];
  readonly #waiters: QueueWaiter[] = [];
  #watched: AbortSignal | undefined;
  readonly #onWatchedAbort = () => this.#abortWatched();

  /** `limit`: queued reports kept at most; the oldest is dropped beyond it. */
  constructor(readonly limit: number = Infinity) {}

  /** Readers currently waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Hands `packet` to the first waiting reader, or queues it. */
  push(packet: Uint8Array): void {
    const w = this.#waiters.shift();
    if (w) {
      if (w.onAbort) w.signal!.removeEventListener("abort", w.onAbort);
      w.resolve(packet);
      return;
    }
    this.#queue.push(packet);
    if (this.#queue.length > this.limit) this.#queue.shift();
  }

  /** The oldest queued report, if any (without waiting). */
  take(): Uint8Array | undefined {
    return this.#queue.shift();
  }

  /** Waits for the next report; rejects with `AbortError` as soon as `signal` aborts. */
  wait(signal?: AbortSignal): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const waiter: QueueWaiter = { resolve, reject, signal };
      if (signal && signal !== this.#watched) {
        if (this.#watched && this.#waiters.some((w) => w.signal === this.#watched)) {
          // Another signal is watched for readers still waiting: this one listens alone.
          waiter.onAbort = () => {
            const i = this.#waiters.indexOf(waiter);
            if (i >= 0) this.#waiters.splice(i, 1);
            reject(new AbortError(undefined, { cause: signal.reason }));
          };
          signal.addEventListener("abort", waiter.onAbort, { once: true });
        } else {
          this.#watched?.removeEventListener("abort", this.#onWatchedAbort);
          this.#watched = signal;
          signal.addEventListener("abort", this.#onWatchedAbort, { once: true });
        }
      }
      this.#waiters.push(waiter);
    });
  }

  #abortWatched(): void {
    const signal = this.#watched!;
    this.#watched = undefined;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i];
      if (w.signal !== signal) continue;
      this.#waiters.splice(i, 1);
      w.reject(new AbortError(undefined, { cause: signal.reason }));
    }
  }

  /** Rejects every waiting reader with `error`. */
  fail(error: Error): void {
    for (const w of this.#waiters.splice(0)) {
      if (w.onAbort) w.signal!.removeEventListener("abort", w.onAbort);
      w.reject(error);
    }
  }

  /** Forgets the queued reports (and stops watching a signal). */
  clear(): void {
    this.#queue.length = 0;
    this.#watched?.removeEventListener("abort", this.#onWatchedAbort);
    this.#watched = undefined;
  }
}

class MemoryEndpoint implements HidConnection {
  peer!: MemoryEndpoint;
  closed = false;
  readonly packets: PacketQueue = new PacketQueue();
  constructor(readonly reportSize: number) {}

  writePacket(packet: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError("Connection is closed"));
    if (this.peer.closed) return Promise.reject(new TransportError("Device disconnected"));
    if (packet.length !== this.reportSize) {
      return Promise.reject(
        new TransportError(`Packet must be ${this.reportSize} bytes, got ${packet.length}`),
      );
    }
    this.peer.packets.push(packet.slice());
    return Promise.resolve();
  }

  readArrived(): Uint8Array | undefined {
    if (this.closed) throw new TransportError("Connection is closed");
    return this.packets.take();
  }

  readPacket(signal?: AbortSignal): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new TransportError("Connection is closed"));
    const queued = this.packets.take();
    if (queued) return Promise.resolve(queued);
    if (this.peer.closed) return Promise.reject(new TransportError("Device disconnected"));
    return this.packets.wait(signal);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.packets.clear();
    this.packets.fail(new TransportError("Connection is closed"));
    // The other side sees a vanished device.
    this.peer.packets.fail(new TransportError("Device disconnected"));
  }
}
