/**
 * Bun: blocking hidapi calls on a Worker thread, so a read blocks in the kernel and wakes the
 * event loop when a report arrives, instead of polling from the JS thread, and a write to a
 * device that is slow to accept reports does not freeze the event loop (Bun's FFI has no
 * non-blocking calls; Deno's `nonblocking` symbols do the same job there).
 *
 * Requests and answers cross through shared memory, not messages: the Worker sleeps in
 * `Atomics.wait` (a futex: no CPU while idle) and the JS thread awaits `Atomics.waitAsync`.
 * In Bun 1.4 that wakes the JS thread 3-5 µs sooner than a `postMessage` answer (no
 * MessageEvent, no structured clone), which `bench/transport.ts` measures as its floor.
 *
 * The Worker's source is inlined and started from a Blob URL: it needs nothing but `bun:ffi`,
 * and an inline Worker keeps working inside `bun build --compile` binaries, where a Worker
 * file next to this module would have to be listed as an extra entry point.
 * @module
 */
import { TransportError } from "../src/errors.ts";

// Control words in the shared Int32Array.
const REQUEST = 0; // 0: idle, 1: a call is requested, 2: quit
const ARGUMENT = 1; // >= 0: read with this timeout (ms); < 0: write -ARGUMENT bytes
const DONE = 2; // set to 1 (and notified) when the call has returned
const RESULT = 3; // the call's result: bytes; 0 = nothing within the timeout; < 0 = error

// Runs on the Worker: binds hid_read_timeout and hid_write from the same library (same
// process, so the same hidapi state and device handle) and serves one device, one call at a
// time, reading into the shared input buffer and writing from the shared output buffer.
const WORKER_SOURCE = `
import { dlopen } from "bun:ffi";
self.onmessage = (ev) => {
  const m = ev.data;
  const s = dlopen(m.path, {
    hid_read_timeout: { args: ["ptr", "buffer", "usize", "i32"], returns: "i32" },
    hid_write: { args: ["ptr", "buffer", "usize"], returns: "i32" },
  }).symbols;
  const read = s.hid_read_timeout, write = s.hid_write, dev = m.dev;
  const input = new Uint8Array(m.input), output = new Uint8Array(m.output);
  const c = new Int32Array(m.control);
  for (;;) {
    Atomics.wait(c, ${REQUEST}, 0);
    if (Atomics.load(c, ${REQUEST}) === 2) break;
    const a = c[${ARGUMENT}];
    c[${RESULT}] = a >= 0 ? read(dev, input, input.length, a) : write(dev, output, -a);
    Atomics.store(c, ${REQUEST}, 0);
    Atomics.store(c, ${DONE}, 1);
    Atomics.notify(c, ${DONE});
  }
  self.close();
};
`;

let workerUrl: string | undefined;

/** Takes the `n` bytes a read left in `input` (`head`: its first `headLength` bytes). */
export type OnReport = (n: number, input: Uint8Array, head: Uint8Array) => void;

interface Pending {
  resolve(n: number): void;
  reject(e: Error): void;
  onReport?: OnReport;
}

/** One Worker that runs `hid_read_timeout` and `hid_write` for one device, one at a time. */
export class WorkerReader {
  // deno-lint-ignore no-explicit-any
  readonly #worker: any;
  readonly #control: Int32Array;
  /** Where the Worker puts each report (shared memory, so only the length crosses over). */
  readonly #input: Uint8Array;
  readonly #head: Uint8Array;
  /** Where a report to write is put for the Worker. */
  readonly #output: Uint8Array;
  #pending: Pending | undefined;
  #settling: Pending | undefined;
  #settlingResult = 0;
  #failed: Error | undefined;
  readonly #onDone = () => this.#answer();

  /**
   * Starts the Worker and has it bind hidapi from `libraryPath` for device handle `dev`;
   * reads take up to `inLength` bytes, writes up to `outLength`; `headLength` is the usual
   * report size (the `head` view given to `onReport`).
   */
  constructor(
    libraryPath: string,
    dev: number,
    inLength: number,
    outLength: number,
    headLength: number = inLength,
  ) {
    if (typeof (Atomics as { waitAsync?: unknown }).waitAsync !== "function") {
      throw new TransportError(
        "This runtime lacks Atomics.waitAsync, which the hidapi reader thread needs: " +
          "upgrade Bun to 1.2 or later",
      );
    }
    // One Blob URL per process, kept: a Worker loads it asynchronously.
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    this.#worker = new Worker(workerUrl, { type: "module" });
    // An idle reader must not keep the process alive; it is ref'd while a call runs (a pending
    // Atomics.waitAsync alone does not keep Bun alive).
    this.#worker.unref?.();
    this.#worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.#fail(new TransportError(`hidapi reader thread failed: ${ev.message}`));
    };
    const control = new SharedArrayBuffer(16);
    const input = new SharedArrayBuffer(inLength);
    const output = new SharedArrayBuffer(outLength);
    this.#control = new Int32Array(control);
    this.#input = new Uint8Array(input);
    this.#head = this.#input.subarray(0, headLength);
    this.#output = new Uint8Array(output);
    this.#worker.postMessage({ path: libraryPath, dev, control, input, output });
  }

  /**
   * `hid_read_timeout(dev, buf, length, timeoutMs)` on the Worker: resolves with its result
   * (bytes read; 0 on timeout, negative on error) after `onReport` has taken a report read
   * (synchronously, as soon as the answer arrives, from shared memory the next call
   * overwrites; what it throws rejects the read).
   */
  read(timeoutMs: number, onReport: OnReport): Promise<number> {
    return this.#call(Math.max(0, Math.trunc(timeoutMs)), onReport);
  }

  /** `hid_write(dev, data, data.length)` on the Worker; resolves with its result. */
  write(data: Uint8Array): Promise<number> {
    if (data.length < 1 || data.length > this.#output.length) {
      return Promise.reject(
        new RangeError(
          `WorkerReader: write of ${data.length} bytes, room for ${this.#output.length}`,
        ),
      );
    }
    this.#output.set(data);
    return this.#call(-data.length);
  }

  /** Stops the Worker (call it only when no call is running). */
  close(): void {
    this.#fail(new TransportError("Connection is closed"));
    Atomics.store(this.#control, REQUEST, 2);
    Atomics.notify(this.#control, REQUEST);
    this.#worker.terminate();
  }

  #call(request: number, onReport?: OnReport): Promise<number> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#pending) return Promise.reject(new Error("WorkerReader: one call at a time"));
    const c = this.#control;
    const p = new Promise<number>((resolve, reject) => {
      this.#pending = { resolve, reject, onReport };
    });
    c[ARGUMENT] = request;
    Atomics.store(c, DONE, 0);
    Atomics.store(c, REQUEST, 1);
    Atomics.notify(c, REQUEST);
    this.#worker.ref?.();
    this.#waitDone();
    return p;
  }

  #waitDone(): void {
    // deno-lint-ignore no-explicit-any
    const w = (Atomics as any).waitAsync(this.#control, DONE, 0);
    if (w.async) w.value.then(this.#onDone);
    else this.#answer();
  }

  // The Worker finished the call. Right after a wake-up every instruction is slow (cold
  // caches: ~1 µs for a copy that takes 40 ns warm), so the report is handed over first and
  // the bookkeeping waits for a microtask queued behind the reader's continuation.
  #answer(): void {
    const p = this.#pending;
    if (!p) return; // failed or closed meanwhile
    // The DONE word decides, the wake-up is only a hint: Bun 1.4's waitAsync now and then
    // resolves while the word still holds 0 (seen ~16 times in 3 000 calls), and acting on
    // such a wake-up would read the previous call's result.
    if (Atomics.load(this.#control, DONE) !== 1) return this.#waitDone();
    this.#pending = undefined;
    const n = this.#control[RESULT];
    if (p.onReport && n > 0) {
      try {
        p.onReport(n, this.#input, this.#head);
      } catch (e) {
        p.reject(e instanceof Error ? e : new TransportError(String(e)));
        this.#worker.unref?.();
        return;
      }
    }
    this.#settling = p;
    this.#settlingResult = n;
    queueMicrotask(this.#settle); // no closure made after the wake-up
  }

  // The call answered in #answer: its promise resolves, and the Worker may idle unref'd.
  readonly #settle = () => {
    const p = this.#settling;
    this.#settling = undefined;
    this.#worker.unref?.();
    p?.resolve(this.#settlingResult);
  };

  #fail(e: Error): void {
    this.#failed ??= e;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(e);
    this.#worker.unref?.();
  }
}
