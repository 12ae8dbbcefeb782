/**
 * USB HID through libhidapi over FFI: enumeration and report I/O for one device at a time.
 * Moves raw 64-byte reports only; CTAPHID framing lives in `src/hid/`.
 *
 * Works with hidapi 0.9 and later: symbols added later (`hid_version` 0.10,
 * `hid_get_report_descriptor` 0.14, `hid_read_error` 0.15) are bound as optional, and the
 * `bus_type` field of `struct hid_device_info` is read only from 0.13 on.
 * @module
 */
import { FormatError, TransportError } from "../src/errors.ts";
import { readFile } from "node:fs/promises";
import {
  type HidBackend,
  type HidConnection,
  type HidDescriptor,
  type HidDeviceInfo,
  PacketQueue,
} from "../src/hid/connection.ts";
import {
  cString,
  FfiPermissionError,
  formatLoadFailures,
  getEnv,
  LibraryLoadError,
  type NativeLibrary,
  openLibrary,
  platform,
  readBytes,
  readCString,
  readWideString,
  runtime,
  type SymbolTable,
  wcharSize,
} from "./runtime.ts";
import { WorkerReader } from "./hidapi_reader.ts";
import { clearTimeout as clearTimer, setTimeout as setTimer } from "node:timers";

const SYMBOLS = {
  hid_init: { parameters: [], result: "i32" },
  hid_enumerate: { parameters: ["u16", "u16"], result: "ptr" },
  hid_free_enumeration: { parameters: ["ptr"], result: "void" },
  hid_open_path: { parameters: ["buffer"], result: "ptr" },
  hid_close: { parameters: ["ptr"], result: "void" },
  // Device I/O may block (Windows writes wait up to 1 s): off the JS thread in Deno.
  hid_write: { parameters: ["ptr", "buffer", "usize"], result: "i32", nonblocking: true },
  hid_read_timeout: {
    parameters: ["ptr", "buffer", "usize", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // The same write on the JS thread, while the device takes reports fast (see writePacket).
  hid_write_now: { symbol: "hid_write", parameters: ["ptr", "buffer", "usize"], result: "i32" },
  // The same call on the JS thread, for zero-timeout reads of reports that already arrived.
  hid_read_poll: {
    symbol: "hid_read_timeout",
    parameters: ["ptr", "buffer", "usize", "i32"],
    result: "i32",
  },
  hid_error: { parameters: ["ptr"], result: "ptr" },
  hid_version: { parameters: [], result: "ptr", optional: true },
  hid_version_str: { parameters: [], result: "ptr", optional: true },
  hid_get_report_descriptor: {
    parameters: ["ptr", "buffer", "usize"],
    result: "i32",
    optional: true,
  },
  hid_read_error: { parameters: ["ptr"], result: "ptr", optional: true },
} as const satisfies SymbolTable;

/** The bound libhidapi symbol table (internal to this module and its tests). */
export type HidLib = NativeLibrary<typeof SYMBOLS>;

/** Names of hidapi symbols that older libraries may lack. */
export type OptionalHidSymbol =
  | "hid_version"
  | "hid_version_str"
  | "hid_get_report_descriptor"
  | "hid_read_error";

/** hidapi's runtime version (`hid_version()`). */
export interface HidApiVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** Options for {@linkcode loadHidApi}. */
export interface LoadHidApiOptions {
  /**
   * Library to load instead of the platform candidates (`FIDO2_HIDAPI_LIB`, or its alias `FIDO2_HIDAPI_PATH`, in the
   * environment does the same). Given explicitly, nothing else is tried.
   */
  readonly path?: string;
  /**
   * Length of each blocking `hid_read_timeout` slice (default 50 ms), run off the JS thread
   * (Deno: a non-blocking FFI call; Bun: a Worker). A read wakes as soon as a report arrives;
   * the slice bounds how long a write or `close` queued behind an idle read waits. Slices that
   * end empty double, up to 8 times this, until a report arrives.
   */
  readonly readSliceMs?: number;
  /**
   * Writes run synchronously on the JS thread (no thread hop) until one of them takes longer
   * than this many milliseconds (default 2); then that connection writes off the JS thread
   * (Deno: a non-blocking FFI call; Bun: a Worker), so a device slow to accept reports blocks
   * the event loop once, not on every report, until 16 writes in a row take less than a
   * quarter of this. 0: always off the JS thread; Infinity: always on it.
   */
  readonly syncWriteLimitMs?: number;
  /**
   * Linux: the directory of hidraw devices' sysfs entries (default `/sys/class/hidraw`),
   * read for report descriptors when hidapi is older than 0.10.1 and reports no usage page.
   */
  readonly sysfsRoot?: string;
}

/** Size of the report descriptor buffer (`HID_API_MAX_REPORT_DESCRIPTOR_SIZE`). */
const MAX_REPORT_DESCRIPTOR_SIZE = 4096;
/** Enumeration entries beyond this mean a corrupt list, not a real machine. */
const MAX_ENUMERATION = 4096;
/**
 * Empty read slices double up to this factor (50 ms → 400 ms by default): a device silent for
 * a while costs a few wake-ups a second, and a write queued behind such a slice waits at most
 * that long. Keys send keepalives every 100 ms while they wait for a touch, which keeps the
 * slices short then.
 */
const MAX_SLICE_GROWTH = 8;
/** Bun: the reader Worker stops after this long without a blocking call. */
const READER_IDLE_MS = 2000;
/**
 * Default of {@linkcode LoadHidApiOptions.syncWriteLimitMs}. hidapi's write is synchronous on
 * every platform: on Linux `hid_write` is a `write()` on hidraw, which for USB sends the report
 * with `usb_interrupt_msg` and waits for the interrupt-OUT transfer (the next bInterval frame,
 * 1-5 ms on FIDO keys, up to USB_CTRL_SET_TIMEOUT, 5 s; drivers/hid/usbhid/hid-core.c,
 * usbhid_output_report); macOS (IOHIDDeviceSetReport) and Windows (an overlapped WriteFile
 * waited for up to 1 s) also return only once the report is out. A thread hop costs 20-100 µs
 * (Deno's non-blocking FFI, a round trip to Bun's reader Worker): a few % of a write that takes
 * 2 ms, while a device that takes reports at once (uhid, simulators, the fake) would pay it
 * 5-20x over. So:
 * synchronous while writes are fast, off the thread after the first slow one.
 */
const SYNC_WRITE_LIMIT_MS = 2;
/**
 * Off-thread writes in a row, each done within a quarter of the limit (hop included), after
 * which writes return to the JS thread. A busy machine preempts a 5 µs write for 2-5 ms now and
 * then (4 runs in 6 of bench/transport.ts on the shared 2-core machine switched a fake device
 * that way), which must not cost a fast device its fast path for good; a device that stalls
 * again freezes the loop once more only after this many fast writes.
 */
const SYNC_WRITE_RETRY = 16;
/** Reports received after their reader aborted are kept (up to this many) for the next read. */
const MAX_BUFFERED_REPORTS = 256;

/**
 * Directories a Windows application loads its own DLLs from: the main script's and the
 * executable's (a compiled binary's) directory. Never the DLL search path: a bare
 * "hidapi.dll" would also be looked up in the current directory and PATH (DLL planting).
 */
export function applicationDirectories(): string[] {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const dirs: string[] = [];
  const add = (file: string | undefined) => {
    if (!file) return;
    const i = Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\"));
    if (i > 0 && !dirs.includes(file.slice(0, i))) dirs.push(file.slice(0, i));
  };
  try {
    const main: string | undefined = runtime === "deno" ? g.Deno.mainModule : g.Bun?.main;
    if (main?.startsWith("file:")) {
      const path = decodeURIComponent(new URL(main).pathname);
      add(/^\/[A-Za-z]:/.test(path) ? path.slice(1).replaceAll("/", "\\") : path);
    } else add(main);
  } catch { /* no permission to read the main module's path */ }
  try {
    add(runtime === "deno" ? g.Deno.execPath() : g.process?.execPath);
  } catch { /* Deno without --allow-read */ }
  return dirs;
}

/**
 * Library names tried in order when no path is given, per `process.platform` value. On
 * Windows only `hidapi.dll` in the application directories (`appDirs`) is tried.
 */
export function defaultLibraryCandidates(
  os: string = platform(),
  appDirs: readonly string[] = os === "win32" ? applicationDirectories() : [],
): string[] {
  switch (os) {
    case "linux":
      // hidraw first: it sees Bluetooth too, keeps kernel drivers attached and fills usage.
      return [
        "libhidapi-hidraw.so.0",
        "libhidapi-hidraw.so",
        "libhidapi-libusb.so.0",
        "libhidapi-libusb.so",
        "libhidapi.so.0",
        "libhidapi.so",
      ];
    case "darwin":
      return [
        "libhidapi.0.dylib",
        "libhidapi.dylib",
        "/opt/homebrew/lib/libhidapi.0.dylib",
        "/opt/homebrew/lib/libhidapi.dylib",
        "/usr/local/lib/libhidapi.0.dylib",
        "/usr/local/lib/libhidapi.dylib",
      ];
    case "win32":
      return appDirs.map((d) => `${d.replace(/[\\/]+$/, "")}\\hidapi.dll`);
    default:
      return [
        "libhidapi.so.0",
        "libhidapi.so",
        "libhidapi-hidraw.so.0",
        "libhidapi-libusb.so.0",
        "/usr/local/lib/libhidapi.so",
      ];
  }
}

function installHint(os: string): string {
  if (os === "win32") {
    return "put hidapi.dll in the application directory (next to the main script or the " +
      "executable) or set FIDO2_HIDAPI_LIB to its full path; on Windows WindowsClient " +
      "(or createClient()) needs no hidapi at all";
  }
  return "install hidapi (Debian/Ubuntu: apt-get install libhidapi-hidraw0; Fedora: dnf " +
    "install hidapi; macOS: brew install hidapi) or set FIDO2_HIDAPI_LIB to the library file";
}

// One loaded and initialised library per candidate list: hid_init runs once per library.
const loaded = new Map<string, Promise<LoadedLibrary>>();

/** An initialised library shared by every {@linkcode HidApi} over it. */
export interface LoadedLibrary {
  readonly lib: HidLib;
  readonly version?: HidApiVersion;
}

/**
 * Loads libhidapi (once per library; later calls share it) and calls `hid_init`. Rejects
 * with `LibraryLoadError` when no candidate loads and `TransportError` when `hid_init`
 * fails.
 */
export async function loadHidApi(opts: LoadHidApiOptions = {}): Promise<HidApi> {
  const explicit = opts.path ?? getEnv("FIDO2_HIDAPI_LIB") ?? getEnv("FIDO2_HIDAPI_PATH");
  const candidates = explicit ? [explicit] : defaultLibraryCandidates();
  const key = candidates.join("\n");
  let entry = loaded.get(key);
  if (!entry) {
    entry = initLibrary(candidates);
    loaded.set(key, entry);
    entry.catch(() => loaded.delete(key));
  }
  return new HidApi(await entry, opts);
}

async function initLibrary(candidates: string[]): Promise<LoadedLibrary> {
  let lib: HidLib;
  try {
    lib = await openLibrary(candidates, SYMBOLS);
  } catch (e) {
    // Without --allow-ffi no candidate can load, installed or not: name the flag only.
    if (e instanceof FfiPermissionError || !(e instanceof LibraryLoadError)) throw e;
    const tried = e.failures.length
      ? `Tried:\n${formatLoadFailures(e.failures)}`
      : "No library to try on this platform.";
    throw new LibraryLoadError(
      `libhidapi is not available. ${tried}\nFix: ${installHint(platform())}.`,
      { cause: e },
    );
  }
  const version = readVersion(lib);
  if (lib.symbols.hid_init() !== 0) {
    const why = wideText(lib.symbols.hid_error(0)) ?? "unknown error";
    lib.close();
    throw new TransportError(`hid_init failed (${lib.path}): ${why}`);
  }
  return { lib, version };
}

function readVersion(lib: HidLib): HidApiVersion | undefined {
  const s = lib.symbols;
  if (s.hid_version) {
    const p = s.hid_version() as number;
    if (p) {
      const b = readBytes(p, 12);
      const dv = new DataView(b.buffer, b.byteOffset, 12);
      return {
        major: dv.getInt32(0, true),
        minor: dv.getInt32(4, true),
        patch: dv.getInt32(8, true),
      };
    }
  }
  if (s.hid_version_str) {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(readCString(s.hid_version_str() as number) ?? "");
    if (m) return { major: +m[1], minor: +m[2], patch: +m[3] };
  }
  // Before 0.10 there is no version API at all.
  return undefined;
}

function wideText(address: number): string | undefined {
  if (!address) return undefined;
  try {
    return readWideString(address, wcharSize(), 4096);
  } catch {
    return undefined;
  }
}

function atLeast(v: HidApiVersion | undefined, major: number, minor: number, patch = 0): boolean {
  if (!v) return false;
  if (v.major !== major) return v.major > major;
  return v.minor !== minor ? v.minor > minor : v.patch >= patch;
}

function versionText(v: HidApiVersion | undefined): string {
  return v ? `${v.major}.${v.minor}.${v.patch}` : "older than 0.10";
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/** The udev rule that lets the logged-in user open one key's hidraw node. */
export function udevRule(vid: number, pid: number): string {
  return `KERNEL=="hidraw*", SUBSYSTEM=="hidraw", ATTRS{idVendor}=="${hex4(vid)}", ` +
    `ATTRS{idProduct}=="${hex4(pid)}", TAG+="uaccess", GROUP="plugdev", MODE="0660"`;
}

/**
 * How to fix a FIDO key that was found but could not be opened, for `os`; undefined when
 * the error does not point to a known cause.
 */
export function accessHint(
  os: string,
  descriptor: Pick<HidDescriptor, "vid" | "pid">,
  error: unknown,
): string | undefined {
  const why = error instanceof Error ? error.message : String(error);
  if (os === "win32") {
    return "Windows reserves security keys to webauthn.dll unless the process runs as " +
      "administrator: use WindowsClient (or createClient(), which picks it), or run elevated";
  }
  if (os === "linux" && /permission denied|EACCES|not permitted/i.test(why)) {
    return "your user may not open the key's hidraw node. Add a udev rule: put\n" +
      `    ${udevRule(descriptor.vid, descriptor.pid)}\n` +
      "  into /etc/udev/rules.d/70-fido.rules, run `sudo udevadm control --reload-rules && " +
      "sudo udevadm trigger` and replug the key (or install your distribution's " +
      "libfido2/libu2f-udev package, which ships such rules)";
  }
  if (/busy|in use|exclusive/i.test(why)) {
    return "another program holds the key (a browser, gpg-agent/scdaemon, ssh-agent): " +
      "close it and try again";
  }
  return undefined;
}

/**
 * A loaded libhidapi: enumerates HID devices and opens them as {@linkcode HidConnection}s.
 * Obtain one with {@linkcode loadHidApi}.
 */
export class HidApi implements HidBackend {
  /** The library file that was loaded. */
  readonly libraryPath: string;
  /** hidapi's version, or `undefined` for libraries older than 0.10. */
  readonly version?: HidApiVersion;
  /**
   * Reads a device's raw report descriptor by opening it briefly. Present only when the
   * library has `hid_get_report_descriptor` (hidapi ≥ 0.14).
   */
  declare readonly getReportDescriptor?: (path: string) => Promise<Uint8Array | undefined>;
  readonly #lib: HidLib;
  readonly #opts: LoadHidApiOptions;
  readonly #structSize: number;

  /** Use {@linkcode loadHidApi}; this wraps an initialised library. */
  constructor(loadedLib: LoadedLibrary, opts: LoadHidApiOptions = {}) {
    this.#lib = loadedLib.lib;
    this.#opts = opts;
    this.libraryPath = loadedLib.lib.path;
    this.version = loadedLib.version;
    // bus_type was appended in 0.13; an older library allocates 64-byte entries.
    this.#structSize = atLeast(this.version, 0, 13) ? 72 : 64;
    const limit = opts.syncWriteLimitMs;
    if (limit !== undefined && (typeof limit !== "number" || !(limit >= 0))) {
      throw new RangeError(
        "syncWriteLimitMs must be a number of milliseconds >= 0 (0: never write on the JS " +
          `thread; Infinity: always), got ${String(limit)}`,
      );
    }
    if (this.#lib.symbols.hid_get_report_descriptor) {
      this.getReportDescriptor = (path) => this.#readDescriptor(path);
    } else if (!atLeast(this.version, 0, 10, 1) && platform() === "linux") {
      // hidraw before 0.10.1 reports usage page 0: read the descriptor the kernel exports.
      const root = opts.sysfsRoot ?? "/sys/class/hidraw";
      this.getReportDescriptor = (path) => sysfsDescriptor(root, path);
    }
    if (!atLeast(this.version, 0, 10, 1)) {
      this.enumerationLimit = `hidapi ${versionText(this.version)} (${this.libraryPath}) ` +
        "reports no HID usage page, so FIDO keys are recognised only by their report " +
        "descriptor, which it cannot read here: install hidapi 0.10.1 or later, or set " +
        "FIDO2_HIDAPI_LIB to a newer library";
    }
  }

  /** Set when this hidapi cannot tell FIDO keys apart by usage page (older than 0.10.1). */
  readonly enumerationLimit?: string;

  /** The fix for a key found but not openable on this platform (udev rule, WindowsClient). */
  accessHint(descriptor: HidDescriptor, error: unknown): string | undefined {
    return accessHint(platform(), descriptor, error);
  }

  /** Whether the loaded library exports an optional symbol. */
  hasSymbol(name: OptionalHidSymbol): boolean {
    return this.#lib.symbols[name] !== null;
  }

  /** Every HID device hidapi sees (one entry per top-level usage; paths may repeat). */
  enumerate(): Promise<HidDeviceInfo[]> {
    // Kept on the JS thread: hidapi wants init/enumerate/open on one thread.
    const s = this.#lib.symbols;
    const head = s.hid_enumerate(0, 0) as number;
    // NULL means "no devices" or an error; hidapi gives no reliable way to tell them apart.
    if (!head) return Promise.resolve([]);
    try {
      const out: HidDeviceInfo[] = [];
      for (let node = head; node;) {
        if (out.length >= MAX_ENUMERATION) {
          throw new FormatError(
            `hid_enumerate returned more than ${MAX_ENUMERATION} entries (corrupt list?)`,
          );
        }
        const [info, next] = this.#readInfo(node);
        out.push(info);
        node = next;
      }
      return Promise.resolve(out);
    } catch (e) {
      return Promise.reject(e);
    } finally {
      s.hid_free_enumeration(head);
    }
  }

  #readInfo(node: number): [HidDeviceInfo, number] {
    const b = readBytes(node, this.#structSize);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const ptr = (off: number) => Number(dv.getBigUint64(off, true));
    const w = wcharSize();
    const path = readCString(ptr(0));
    if (path === undefined) throw new FormatError("hid_enumerate entry without a path");
    const info: HidDeviceInfo = {
      path,
      vendorId: dv.getUint16(8, true),
      productId: dv.getUint16(10, true),
      serialNumber: readWideString(ptr(16), w),
      releaseNumber: dv.getUint16(24, true),
      manufacturerString: readWideString(ptr(32), w),
      productString: readWideString(ptr(40), w),
      usagePage: dv.getUint16(48, true),
      usage: dv.getUint16(50, true),
      interfaceNumber: dv.getInt32(52, true),
      ...(this.#structSize >= 72 ? { busType: dv.getInt32(64, true) } : {}),
    };
    return [info, ptr(56)];
  }

  /**
   * Opens `path` for report I/O. Reports are `reportSizeIn`/`reportSizeOut` bytes without
   * the report ID (64 for FIDO). Rejects with `TransportError` carrying hidapi's reason.
   */
  open(path: string, reportSizeIn = 64, reportSizeOut = 64): Promise<HidApiConnection> {
    for (const [name, n] of [["reportSizeIn", reportSizeIn], ["reportSizeOut", reportSizeOut]]) {
      if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 4096) {
        return Promise.reject(new RangeError(`${name} must be an integer in 1..4096, got ${n}`));
      }
    }
    try {
      const dev = this.#openRaw(path);
      return Promise.resolve(
        new HidApiConnection(this.#lib, dev, path, reportSizeIn, reportSizeOut, this.#opts),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #openRaw(path: string): number {
    const dev = this.#lib.symbols.hid_open_path(cString(path)) as number;
    if (!dev) {
      const why = wideText(this.#lib.symbols.hid_error(0) as number) ?? "unknown error";
      throw new TransportError(`Could not open HID device ${path}: ${why}`);
    }
    return dev;
  }

  #readDescriptor(path: string): Promise<Uint8Array | undefined> {
    try {
      const dev = this.#openRaw(path);
      try {
        return Promise.resolve(readDescriptor(this.#lib, dev));
      } finally {
        this.#lib.symbols.hid_close(dev);
      }
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** The report descriptor Linux exports for `/dev/hidrawN` (what HIDIOCGRDESC returns). */
async function sysfsDescriptor(root: string, path: string): Promise<Uint8Array | undefined> {
  const m = /^\/dev\/(hidraw\d+)$/.exec(path);
  if (!m) return undefined;
  try {
    return new Uint8Array(await readFile(`${root}/${m[1]}/device/report_descriptor`));
  } catch {
    return undefined;
  }
}

function readDescriptor(lib: HidLib, dev: number): Uint8Array | undefined {
  const fn = lib.symbols.hid_get_report_descriptor;
  if (!fn) return undefined;
  const buf = new Uint8Array(MAX_REPORT_DESCRIPTOR_SIZE);
  const n = fn(dev, buf, buf.length) as number;
  if (n < 0) {
    const why = wideText(lib.symbols.hid_error(dev) as number) ?? "unknown error";
    throw new TransportError(`hid_get_report_descriptor failed: ${why}`);
  }
  return buf.slice(0, n);
}

/**
 * One open hidapi device. Every native call on it runs under one FIFO lock (hidapi is not
 * safe for concurrent calls on a device, and `hid_close` must never overlap a read).
 *
 * Reads: a report the OS already holds is taken with a zero-timeout `hid_read_timeout` on the
 * JS thread (no thread hop); otherwise one blocking read at a time runs off the JS thread
 * (Deno: a non-blocking FFI call; Bun: a Worker) and wakes the reader when a report arrives.
 * Nothing polls: an idle connection costs one wake-up per read slice while someone waits, and
 * nothing at all otherwise.
 *
 * Writes: on the JS thread while nothing else is in flight and writes take at most
 * `syncWriteLimitMs`; after a slower one, off the JS thread like blocking reads, until the
 * device has taken 16 reports in a row fast.
 */
export class HidApiConnection implements HidConnection {
  /** The hidapi path this connection was opened with. */
  readonly path: string;
  readonly reportSizeIn: number;
  readonly reportSizeOut: number;
  readonly #lib: HidLib;
  #dev: number;
  #closed = false;
  #written = false;
  #closing?: Promise<void>;
  #lock: Promise<unknown> = Promise.resolve();
  // Reports received after their reader aborted wait here for the next one.
  readonly #packets = new PacketQueue(MAX_BUFFERED_REPORTS);
  #pumping = false;
  // Native calls queued or running under the lock.
  #busy = 0;
  // Set when the blocking read holding the lock has returned and handed its report over: its
  // lock is released a few promise hops later, but the device is already free.
  #readReturned = false;
  // One extra byte so an over-long report is detected rather than silently truncated.
  readonly #readBuf: Uint8Array;
  // Its first reportSizeIn bytes (a view made once), and the array the next report goes into.
  readonly #readHead: Uint8Array;
  #spare: Uint8Array | undefined;
  // Report ID 0 and the report, for writes on the JS thread.
  readonly #writeBuf: Uint8Array;
  readonly #sliceMs: number;
  // The next slice: #sliceMs, doubled after each empty one up to MAX_SLICE_GROWTH times it.
  #slice: number;
  // Bun: the Worker that runs blocking calls; stopped after READER_IDLE_MS without one (an
  // idle Bun Worker still costs ~0.3 ms of CPU per second) and started again on demand.
  #reader: WorkerReader | undefined;
  #readerIdle: ReturnType<typeof setTimer> | undefined;
  #lastBlockingCall = 0;
  // Whether the current blocking read delivered a report.
  #delivered = false;
  // Writes longer than this switch #offThreadWrites on (see SYNC_WRITE_LIMIT_MS).
  readonly #syncWriteLimitMs: number;
  #offThreadWrites: boolean;
  // Off-thread writes in a row that were fast (see SYNC_WRITE_RETRY).
  #fastWrites = 0;

  /** Use {@linkcode HidApi.open}. */
  constructor(
    lib: HidLib,
    dev: number,
    path: string,
    reportSizeIn: number,
    reportSizeOut: number,
    opts: LoadHidApiOptions,
  ) {
    this.#lib = lib;
    this.#dev = dev;
    this.path = path;
    this.reportSizeIn = reportSizeIn;
    this.reportSizeOut = reportSizeOut;
    this.#readBuf = new Uint8Array(reportSizeIn + 1);
    this.#readHead = this.#readBuf.subarray(0, reportSizeIn);
    this.#writeBuf = new Uint8Array(reportSizeOut + 1);
    this.#sliceMs = Math.max(1, Math.trunc(opts.readSliceMs ?? 50));
    this.#slice = this.#sliceMs;
    const limit = opts.syncWriteLimitMs ?? SYNC_WRITE_LIMIT_MS;
    this.#syncWriteLimitMs = limit;
    this.#offThreadWrites = limit === 0;
    // Started now so the first blocking read does not wait for the thread to boot.
    if (runtime === "bun") {
      this.#reader = this.#newWorker();
      this.#stopReaderWhenIdle();
    }
  }

  /** Whether {@linkcode close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether writes run off the JS thread now (after a slow one; see `syncWriteLimitMs`). */
  get offThreadWrites(): boolean {
    return this.#offThreadWrites;
  }

  /**
   * Writes one report, prefixed with report ID 0 (so `reportSizeOut + 1` bytes). With nothing
   * in flight and writes fast so far, the write happens before this returns.
   */
  async writePacket(packet: Uint8Array): Promise<void> {
    if (!(packet instanceof Uint8Array) || packet.length !== this.reportSizeOut) {
      throw new TransportError(
        `Packet must be ${this.reportSizeOut} bytes, got ${packet?.length ?? typeof packet}`,
      );
    }
    if (this.#closed) throw new TransportError("Connection is closed");
    // One policy for both runtimes: on the JS thread while writes are fast, else off it.
    if (!this.#offThreadWrites && this.#idle()) {
      // Done before this returns: one buffer serves every such write.
      const out = this.#writeBuf;
      out.set(packet, 1);
      return this.#writeNow(out);
    }
    const buf = new Uint8Array(packet.length + 1);
    buf.set(packet, 1);
    await this.#exclusive(() =>
      this.#offThreadWrites ? this.#writeOffThread(buf) : this.#writeNow(buf)
    );
  }

  // hid_write on the JS thread; a write slower than the limit sends the next ones off it.
  #writeNow(buf: Uint8Array): void {
    const t0 = performance.now();
    const n = this.#lib.symbols.hid_write_now(this.#dev, buf, buf.length) as number;
    if (performance.now() - t0 > this.#syncWriteLimitMs) this.#offThreadWrites = true;
    this.#wrote(n, buf.length);
  }

  async #writeOffThread(buf: Uint8Array): Promise<void> {
    const t0 = performance.now();
    let n: number;
    if (runtime === "bun") {
      this.#reader ??= this.#newWorker();
      try {
        n = await this.#reader.write(buf);
      } finally {
        this.#stopReaderWhenIdle();
      }
    } else {
      n = await this.#lib.symbols.hid_write(this.#dev, buf, buf.length) as number;
    }
    if (performance.now() - t0 >= this.#syncWriteLimitMs / 4) this.#fastWrites = 0;
    else if (++this.#fastWrites >= SYNC_WRITE_RETRY) {
      this.#offThreadWrites = false;
      this.#fastWrites = 0;
    }
    this.#wrote(n, buf.length);
  }

  // Checks hid_write's result `n` for a report of `length` bytes (report ID included).
  #wrote(n: number, length: number): void {
    if (n < 0 && !this.#written && platform() === "win32") {
      // Windows lets anyone open a FIDO key but only administrators write to it.
      throw new TransportError(
        `hid_write failed: ${this.#errorText(false)}. On Windows, security keys are reserved ` +
          "to webauthn.dll unless the process runs as administrator: use WindowsClient.",
      );
    }
    if (n < 0) throw new TransportError(`hid_write failed: ${this.#errorText(false)}`);
    this.#written = true;
    if (n < length) throw new TransportError(`hid_write wrote ${n} of ${length} bytes`);
  }

  /**
   * Resolves with the next input report (without report ID). Reports that have already
   * arrived are served even when `signal` is aborted (what `drain` relies on).
   */
  readPacket(signal?: AbortSignal): Promise<Uint8Array> {
    try {
      const report = this.readArrived();
      if (report) return Promise.resolve(report);
    } catch (e) {
      return Promise.reject(e);
    }
    const read = this.#packets.wait(signal);
    void this.#pump();
    return read;
  }

  /**
   * A report that has already arrived, or `undefined` (never waits): one kept for an aborted
   * reader, else, when no native call is in flight, a zero-timeout read on this thread.
   */
  readArrived(): Uint8Array | undefined {
    if (this.#closed) throw new TransportError("Connection is closed");
    const queued = this.#packets.take();
    if (queued || !this.#idle()) return queued;
    const buf = this.#readBuf;
    return this.#take(this.#lib.symbols.hid_read_poll(this.#dev, buf, buf.length, 0) as number);
  }

  /** Raw report descriptor of this device, or `undefined` before hidapi 0.14. */
  getReportDescriptor(): Promise<Uint8Array | undefined> {
    if (!this.#lib.symbols.hid_get_report_descriptor) return Promise.resolve(undefined);
    return this.#exclusive(() => readDescriptor(this.#lib, this.#dev));
  }

  /**
   * Closes the device once; later calls return the same promise. Pending reads reject with
   * `TransportError` at once; `hid_close` runs after any native call in flight.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#packets.clear();
    this.#packets.fail(new TransportError("Connection is closed"));
    const run = this.#lock.then(() => {
      const dev = this.#dev;
      this.#dev = 0;
      this.#stopReader();
      if (dev) this.#lib.symbols.hid_close(dev);
    });
    this.#lock = run.catch(() => {});
    this.#closing = run;
    return run;
  }

  // No native call runs or waits on this device: the only holder of the lock, if any, is a read
  // that has returned (its reader may already write the next report and take the answer).
  #idle(): boolean {
    return this.#busy === 0 || (this.#busy === 1 && this.#readReturned);
  }

  // Runs `fn` after every earlier native call on this device has finished.
  #exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#busy++;
    const run = this.#lock.then(() => {
      if (this.#closed || !this.#dev) throw new TransportError("Connection is closed");
      return fn();
    }).finally(() => {
      this.#busy--;
      this.#readReturned = false;
    });
    this.#lock = run.catch(() => {});
    return run;
  }

  // Reads while anyone waits: one blocking native read per turn, never overlapping other calls.
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#packets.waiting > 0) {
        try {
          await this.#exclusive(() => this.#readBlocking());
        } catch (e) {
          if (this.#closed) break;
          const err = e instanceof Error ? e : new TransportError(String(e));
          this.#packets.fail(err);
          break;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  // One hid_read_timeout slice off the JS thread. A report goes to the waiting reader as soon
  // as the runtime hands it over (Bun: inside the Worker's answer), before the lock and the
  // pump loop catch up: the reader resumes a few promise hops earlier. A silent device gets
  // longer slices (fewer wake-ups while nothing comes); a report resets them.
  async #readBlocking(): Promise<void> {
    const slice = this.#slice;
    this.#delivered = false;
    // Made now, while waiting: allocating right after the wake-up costs ~4 µs in Deno 2.9
    // (1-2 µs in Bun 1.4), copying into a ready array ~1 µs.
    this.#spare ??= new Uint8Array(this.reportSizeIn);
    if (runtime === "bun") {
      this.#reader ??= this.#newWorker();
      let n: number;
      try {
        n = await this.#reader.read(slice, this.#deliverShared);
      } finally {
        this.#stopReaderWhenIdle();
      }
      if (n <= 0) this.#take(n);
    } else {
      const buf = this.#readBuf;
      const n = await this.#lib.symbols.hid_read_timeout(this.#dev, buf, buf.length, slice);
      if ((n as number) > 0) this.#deliver(n as number, buf, this.#readHead);
      else this.#take(n as number);
    }
    this.#slice = this.#delivered
      ? this.#sliceMs
      : Math.min(slice * 2, this.#sliceMs * MAX_SLICE_GROWTH);
  }

  // The report of `n` bytes a blocking read left in `buf` (`head`: its first reportSizeIn
  // bytes), to the first waiting reader; kept for the next one if its reader aborted meanwhile.
  #deliver(n: number, buf: Uint8Array, head: Uint8Array): void {
    this.#delivered = true;
    this.#readReturned = true;
    let report = this.#spare;
    if (n === this.reportSizeIn && report) {
      this.#spare = undefined;
      report.set(head);
    } else report = this.#check(buf.slice(0, n));
    if (!this.#closed) this.#packets.push(report);
  }

  // Bun: called inside the Worker's answer, with the report in the Worker's shared buffer.
  readonly #deliverShared = (n: number, shared: Uint8Array, head: Uint8Array): void =>
    this.#deliver(n, shared, head);

  #newWorker(): WorkerReader {
    return new WorkerReader(
      this.#lib.path,
      this.#dev,
      this.#readBuf.length,
      this.reportSizeOut + 1,
      this.reportSizeIn,
    );
  }

  // Stops the reader READER_IDLE_MS after the last blocking call. One timer, re-armed only when
  // it fires early: no timer work per call.
  #stopReaderWhenIdle(): void {
    this.#lastBlockingCall = performance.now();
    if (!this.#readerIdle) this.#armReaderIdle(READER_IDLE_MS);
  }

  #armReaderIdle(ms: number): void {
    this.#readerIdle = setTimer(() => {
      this.#readerIdle = undefined;
      const left = this.#lastBlockingCall + READER_IDLE_MS - performance.now();
      // Calls run under the lock: with nothing in flight, no call is using the Worker.
      if (left > 0) this.#armReaderIdle(left);
      else if (this.#busy !== 0) this.#armReaderIdle(READER_IDLE_MS); // a call is running
      else this.#stopReader();
    }, ms);
    this.#readerIdle.unref();
  }

  #stopReader(): void {
    if (this.#readerIdle) clearTimer(this.#readerIdle);
    this.#readerIdle = undefined;
    this.#reader?.close();
    this.#reader = undefined;
  }

  // The report hid_read_timeout left in #readBuf, given its result `n`.
  #take(n: number): Uint8Array | undefined {
    if (n === 0) return undefined;
    if (n < 0) throw new TransportError(`hid_read_timeout failed: ${this.#errorText(true)}`);
    return this.#check(this.#readBuf.slice(0, n));
  }

  #check(report: Uint8Array): Uint8Array {
    if (report.length !== this.reportSizeIn) {
      throw new TransportError(
        `HID input report has ${report.length} bytes, expected ${this.reportSizeIn}`,
      );
    }
    return report;
  }

  // hidapi's message for the last failure on this device (hid_read_error for reads, ≥ 0.15).
  #errorText(read: boolean): string {
    const s = this.#lib.symbols;
    const p = read && s.hid_read_error ? s.hid_read_error(this.#dev) : s.hid_error(this.#dev);
    return wideText(p as number) ?? "unknown error";
  }
}
