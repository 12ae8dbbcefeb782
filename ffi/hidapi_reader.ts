/**
 * Bun: `hid_read_timeout` on a Worker thread, so a read blocks in the kernel and wakes the
 * event loop when a report arrives, instead of polling from the JS thread (Bun's FFI has no
 * non-blocking calls; Deno's `nonblocking` symbols do the same job there).
 *
 * The Worker's source is inlined and started from a Blob URL: it needs nothing but `bun:ffi`,
 * and an inline Worker keeps working inside `bun build --compile` binaries, where a Worker
 * file next to this module would have to be listed as an extra entry point.
 * @module
 */
import { TransportError } from "../src/errors.ts";

// Runs on the Worker: binds hid_read_timeout from the same library (same process, so the same
// hidapi state and device handles), reads into the shared buffer it was given and answers
// each request with the hid_read_timeout result (bytes read; 0 = nothing within the timeout,
// negative = error). Posting a number instead of the bytes spares a structured clone.
const WORKER_SOURCE = `
import { dlopen } from "bun:ffi";
let read;
let buf;
self.onmessage = (ev) => {
  const m = ev.data;
  if (m.path !== undefined) {
    read = dlopen(m.path, {
      hid_read_timeout: { args: ["ptr", "buffer", "usize", "i32"], returns: "i32" },
    }).symbols.hid_read_timeout;
    buf = new Uint8Array(m.shared);
    return;
  }
  self.postMessage(read(m.dev, buf, buf.length, m.timeout));
};
`;

let workerUrl: string | undefined;

/** One Worker that runs `hid_read_timeout` calls for one device, one at a time. */
export class WorkerReader {
  // deno-lint-ignore no-explicit-any
  readonly #worker: any;
  /** Where the Worker puts each report (shared memory, so only the length crosses over). */
  readonly #shared: Uint8Array;
  #pending: { resolve(n: number): void; reject(e: Error): void } | undefined;
  #failed: Error | undefined;

  /** Starts the Worker and has it bind `hid_read_timeout` from `libraryPath`. */
  constructor(libraryPath: string, length: number) {
    // One Blob URL per process, kept: a Worker loads it asynchronously.
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    this.#worker = new Worker(workerUrl, { type: "module" });
    // An idle reader must not keep the process alive; it is ref'd while a read runs.
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
    const shared = new SharedArrayBuffer(length);
    this.#shared = new Uint8Array(shared);
    this.#worker.postMessage({ path: libraryPath, shared });
  }

  /**
   * `hid_read_timeout(dev, buf, length, timeoutMs)` on the Worker: the report bytes, or the
   * call's result when it returned no data (0 on timeout, negative on error).
   */
  async read(dev: number, timeoutMs: number): Promise<Uint8Array | number> {
    if (this.#failed) throw this.#failed;
    if (this.#pending) throw new Error("WorkerReader: one read at a time");
    const n = await new Promise<number>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.ref?.();
      this.#worker.postMessage({ dev, timeout: timeoutMs });
    });
    return n > 0 ? this.#shared.slice(0, n) : n;
  }

  /** Stops the Worker (call it only when no read is running). */
  close(): void {
    this.#fail(new TransportError("Connection is closed"));
    this.#worker.terminate();
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(e);
  }
}
