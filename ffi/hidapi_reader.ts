/**
 * Bun: blocking hidapi calls on a Worker thread, so a read blocks in the kernel and wakes the
 * event loop when a report arrives, instead of polling from the JS thread, and a write to a
 * device that is slow to accept reports does not freeze the event loop (Bun's FFI has no
 * non-blocking calls; Deno's `nonblocking` symbols do the same job there).
 *
 * The Worker's source is inlined and started from a Blob URL: it needs nothing but `bun:ffi`,
 * and an inline Worker keeps working inside `bun build --compile` binaries, where a Worker
 * file next to this module would have to be listed as an extra entry point.
 * @module
 */
import { TransportError } from "../src/errors.ts";

// Runs on the Worker: binds hid_read_timeout and hid_write from the same library (same
// process, so the same hidapi state and device handle) and serves one device. Requests and
// answers are bare numbers (no structured clone of an object): a request >= 0 reads into the
// shared input buffer with that timeout, a request < 0 writes -request bytes from the shared
// output buffer; the answer is the call's result (bytes; 0 = nothing within the timeout;
// negative = error).
const WORKER_SOURCE = `
import { dlopen } from "bun:ffi";
let read, write, dev, input, output;
self.onmessage = (ev) => {
  const m = ev.data;
  if (typeof m === "number") {
    self.postMessage(m >= 0 ? read(dev, input, input.length, m) : write(dev, output, -m));
    return;
  }
  const s = dlopen(m.path, {
    hid_read_timeout: { args: ["ptr", "buffer", "usize", "i32"], returns: "i32" },
    hid_write: { args: ["ptr", "buffer", "usize"], returns: "i32" },
  }).symbols;
  read = s.hid_read_timeout;
  write = s.hid_write;
  dev = m.dev;
  input = new Uint8Array(m.input);
  output = new Uint8Array(m.output);
};
`;

let workerUrl: string | undefined;

/** One Worker that runs `hid_read_timeout` and `hid_write` for one device, one at a time. */
export class WorkerReader {
  // deno-lint-ignore no-explicit-any
  readonly #worker: any;
  /** Where the Worker puts each report (shared memory, so only the length crosses over). */
  readonly #input: Uint8Array;
  /** Where a report to write is put for the Worker. */
  readonly #output: Uint8Array;
  #pending: { resolve(n: number): void; reject(e: Error): void } | undefined;
  #failed: Error | undefined;

  /**
   * Starts the Worker and has it bind hidapi from `libraryPath` for device handle `dev`;
   * reads take up to `inLength` bytes, writes up to `outLength`.
   */
  constructor(libraryPath: string, dev: number, inLength: number, outLength: number) {
    // One Blob URL per process, kept: a Worker loads it asynchronously.
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    this.#worker = new Worker(workerUrl, { type: "module" });
    // An idle reader must not keep the process alive; it is ref'd while a call runs.
    this.#worker.unref?.();
    this.#worker.onmessage = (ev: MessageEvent) => {
      const p = this.#pending;
      this.#pending = undefined;
      this.#worker.unref?.();
      p?.resolve(ev.data as number);
    };
    this.#worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.#fail(new TransportError(`hidapi reader thread failed: ${ev.message}`));
    };
    const input = new SharedArrayBuffer(inLength);
    const output = new SharedArrayBuffer(outLength);
    this.#input = new Uint8Array(input);
    this.#output = new Uint8Array(output);
    this.#worker.postMessage({ path: libraryPath, dev, input, output });
  }

  /**
   * `hid_read_timeout(dev, buf, length, timeoutMs)` on the Worker: the report bytes, or the
   * call's result when it returned no data (0 on timeout, negative on error).
   */
  async read(timeoutMs: number): Promise<Uint8Array | number> {
    const n = await this.#call(Math.max(0, Math.trunc(timeoutMs)));
    return n > 0 ? this.#input.slice(0, n) : n;
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
    this.#worker.terminate();
  }

  #call(request: number): Promise<number> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#pending) return Promise.reject(new Error("WorkerReader: one call at a time"));
    return new Promise<number>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.ref?.();
      this.#worker.postMessage(request);
    });
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(e);
  }
}
