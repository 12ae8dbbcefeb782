/**
 * One dlopen abstraction over `Deno.dlopen` and `bun:ffi`.
 *
 * Pointers cross this boundary as plain `number` addresses (0 = NULL): x86-64 and arm64 user
 * space fits in 2^53, and it keeps every caller (struct marshalling, hidapi) runtime-neutral.
 * Only this file knows which runtime it is on.
 * @module
 */

/** Native types understood by {@linkcode openLibrary}. */
export type NativeType =
  | "void"
  | "bool"
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "i64"
  | "u64"
  | "usize"
  | "isize"
  | "f64"
  /** A pointer passed or returned as a number address. */
  | "ptr"
  /** A JS `Uint8Array` passed by reference (its address is taken for the call only). */
  | "buffer";

/** Signature of one native function. */
export interface NativeFunction {
  readonly parameters: readonly NativeType[];
  readonly result: NativeType;
  /** Missing from the library is not an error: the symbol is `null` then. */
  readonly optional?: boolean;
  /**
   * Deno only: run on a worker thread and return a Promise (for calls that block, such as
   * `hid_read_timeout`). On Bun the call is synchronous and the result is wrapped in a Promise.
   */
  readonly nonblocking?: boolean;
  /**
   * The exported name, when it differs from the table key: binds one native function twice,
   * e.g. a blocking and a `nonblocking` flavour of the same call.
   */
  readonly symbol?: string;
}

/** Symbol table given to {@linkcode openLibrary}. */
export type SymbolTable = Record<string, NativeFunction>;

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => any;

/** An opened library: its functions by name (`null` where an optional symbol is missing). */
export interface NativeLibrary<S extends SymbolTable> {
  readonly symbols: { [K in keyof S]: S[K]["optional"] extends true ? AnyFn | null : AnyFn };
  /** The path that was actually loaded. */
  readonly path: string;
  close(): void;
}

/** Which JS runtime is executing. */
export const runtime: "deno" | "bun" | "other" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "other";

/** `process.platform`-style OS name of the running runtime. */
export function platform(): string {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (runtime === "deno") {
    const os: string = g.Deno.build.os;
    return os === "windows" ? "win32" : os;
  }
  return g.process?.platform ?? "unknown";
}

/** Reads an environment variable without failing when the permission is missing. */
export function getEnv(name: string): string | undefined {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  try {
    if (runtime === "deno") return g.Deno.env.get(name) ?? undefined;
    return g.process?.env?.[name];
  } catch {
    return undefined;
  }
}

/** One library file that could not be loaded, and why (the loader's reason, said once). */
export interface LibraryLoadFailure {
  /** The candidate as given (a path or a bare name for the system loader). */
  readonly path: string;
  /** The loader's reason without the runtime's repeated prefixes. */
  readonly reason: string;
}

/** Error raised when no candidate library could be loaded. */
export class LibraryLoadError extends Error {
  override name = "LibraryLoadError";
  /** Every candidate tried, with its reason (empty when the error is not per candidate). */
  readonly failures: readonly LibraryLoadFailure[];
  constructor(
    message: string,
    options?: { cause?: unknown; failures?: readonly LibraryLoadFailure[] },
  ) {
    super(message, options);
    this.failures = options?.failures ??
      (options?.cause instanceof LibraryLoadError ? options.cause.failures : []);
  }
}

/**
 * Deno refused FFI: the program was started without `--allow-ffi`. Raised at once, before
 * any other candidate is tried, since no library can load without the permission.
 */
export class FfiPermissionError extends LibraryLoadError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "FfiPermissionError";
}

/**
 * The loader's reason for `path`, once: Deno says "Could not open library: Could not open
 * library: <path>: <why>", Bun "Failed to open library \"<path>\": <path>: <why>".
 */
export function loadFailureReason(path: string, message: string): string {
  let m = message.trim();
  for (let prev = ""; prev !== m;) {
    prev = m;
    m = m.replace(/^(Could not open library|Failed to open library(\s+"[^"]*")?):\s*/i, "");
    if (m.startsWith(`${path}: `)) m = m.slice(path.length + 2);
    if (m.startsWith(`"${path}": `)) m = m.slice(path.length + 4);
  }
  return m || message;
}

/** One line per failed candidate, indented under a heading. */
export function formatLoadFailures(failures: readonly LibraryLoadFailure[]): string {
  return failures.map((f) => `  ${f.path}: ${f.reason}`).join("\n");
}

function isDenoPermissionError(e: unknown): boolean {
  // deno-lint-ignore no-explicit-any
  const errors = (globalThis as any).Deno?.errors;
  if (!errors) return false;
  return (errors.NotCapable !== undefined && e instanceof errors.NotCapable) ||
    (errors.PermissionDenied !== undefined && e instanceof errors.PermissionDenied);
}

// deno-lint-ignore no-explicit-any
let bunFfi: any;
async function loadBunFfi() {
  // A computed specifier keeps Deno's type checker and bundlers from resolving bun:ffi.
  const spec = "bun:ffi";
  bunFfi ??= await import(spec);
  return bunFfi;
}

/**
 * Opens the first loadable library among `candidates` (full paths or bare names for the
 * system loader) and binds `symbols`. Throws `LibraryLoadError` listing every failure.
 */
export async function openLibrary<S extends SymbolTable>(
  candidates: readonly string[],
  symbols: S,
): Promise<NativeLibrary<S>> {
  const failures: LibraryLoadFailure[] = [];
  for (const path of candidates) {
    try {
      return runtime === "deno"
        ? openDeno(path, symbols)
        : runtime === "bun"
        ? await openBun(path, symbols)
        : unsupportedRuntime();
    } catch (e) {
      if (e instanceof LibraryLoadError && runtime === "other") throw e;
      if (isDenoPermissionError(e)) {
        throw new FfiPermissionError(
          `Deno denied FFI access while loading ${path}: run with --allow-ffi ` +
            "(e.g. `deno run --allow-ffi --allow-read --allow-env app.ts`, or -A)",
          { cause: e },
        );
      }
      failures.push({ path, reason: loadFailureReason(path, (e as Error).message) });
    }
  }
  const list = failures.length ? formatLoadFailures(failures) : "  (no candidates)";
  throw new LibraryLoadError(`Could not load any of:\n${list}`, { failures });
}

function unsupportedRuntime(): never {
  throw new LibraryLoadError("Native libraries need Deno (--allow-ffi) or Bun");
}

// ---------------------------------------------------------------- Deno

const DENO_TYPES: Record<NativeType, string> = {
  void: "void",
  bool: "bool",
  i8: "i8",
  u8: "u8",
  i16: "i16",
  u16: "u16",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  usize: "usize",
  isize: "isize",
  f64: "f64",
  ptr: "pointer",
  buffer: "buffer",
};

// deno-lint-ignore no-explicit-any
function denoApi(): any {
  // deno-lint-ignore no-explicit-any
  return (globalThis as any).Deno;
}

function openDeno<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S> {
  const D = denoApi();
  // deno-lint-ignore no-explicit-any
  const defs: Record<string, any> = {};
  for (const [name, f] of Object.entries(symbols)) {
    defs[name] = {
      ...(f.symbol ? { name: f.symbol } : {}),
      parameters: f.parameters.map((t) => DENO_TYPES[t]),
      result: DENO_TYPES[f.result],
      optional: f.optional ?? false,
      nonblocking: f.nonblocking ?? false,
    };
  }
  const lib = D.dlopen(path, defs);
  const out: Record<string, AnyFn | null> = {};
  for (const [name, f] of Object.entries(symbols)) {
    const raw = lib.symbols[name] as AnyFn | null;
    if (!raw) {
      out[name] = null;
      continue;
    }
    const ptrParams = f.parameters.map((t) => t === "ptr");
    const anyPtr = ptrParams.some(Boolean);
    const wrapResult = f.result === "ptr"
      ? (v: unknown) => (v === null ? 0 : Number(D.UnsafePointer.value(v)))
      : f.result === "i64" || f.result === "u64" || f.result === "usize" || f.result === "isize"
      ? (v: unknown) => (typeof v === "bigint" ? Number(v) : v)
      : null;
    const call = (...args: unknown[]) => {
      if (anyPtr) {
        for (let i = 0; i < args.length; i++) {
          if (ptrParams[i]) args[i] = toDenoPointer(args[i] as number | null);
        }
      }
      return raw(...args);
    };
    // A non-blocking call whose result needs no conversion hands Deno's own promise over:
    // an async wrapper would add promise hops between the thread's answer and the caller.
    out[name] = f.nonblocking && wrapResult
      ? async (...args: unknown[]) => {
        const v = await call(...args);
        return wrapResult ? wrapResult(v) : v;
      }
      : wrapResult
      ? (...args: unknown[]) => wrapResult(call(...args))
      : call;
  }
  return {
    symbols: out as NativeLibrary<S>["symbols"],
    path,
    close: () => lib.close(),
  };
}

// The last pointer made: calls on one device or context pass the same handle every time,
// and making the BigInt and the pointer object costs more than a fast FFI call itself.
let lastAddress = 0;
let lastPointer: unknown = null;

function toDenoPointer(p: number | null | undefined): unknown {
  if (!p) return null;
  if (p !== lastAddress) {
    lastPointer = denoApi().UnsafePointer.create(BigInt(p));
    lastAddress = p;
  }
  return lastPointer;
}

// ---------------------------------------------------------------- Bun

const BUN_TYPES: Record<NativeType, string> = {
  void: "void",
  bool: "bool",
  i8: "i8",
  u8: "u8",
  i16: "i16",
  u16: "u16",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  usize: "usize",
  isize: "i64",
  f64: "f64",
  ptr: "ptr",
  buffer: "buffer",
};

async function openBun<S extends SymbolTable>(path: string, symbols: S): Promise<NativeLibrary<S>> {
  const ffi = await loadBunFfi();
  const required: Record<string, unknown> = {};
  const optional: string[] = [];
  const aliased: string[] = [];
  for (const [name, f] of Object.entries(symbols)) {
    if (f.optional) optional.push(name);
    else if (f.symbol) aliased.push(name);
    else required[name] = def(f);
  }
  // Bun's dlopen throws on any missing symbol: bind required ones together and probe each
  // optional symbol with a dlopen of its own.
  const libs = [ffi.dlopen(path, required)];
  const out: Record<string, AnyFn | null> = {};
  for (const name of Object.keys(required)) {
    out[name] = wrapBun(libs[0].symbols[name], symbols[name]);
  }
  // Bun keys symbols by their exported name: each alias gets a dlopen of its own.
  for (const name of [...aliased, ...optional]) {
    const f = symbols[name];
    const native = f.symbol ?? name;
    try {
      const l = ffi.dlopen(path, { [native]: def(f) });
      libs.push(l);
      out[name] = wrapBun(l.symbols[native], f);
    } catch (e) {
      if (!f.optional) {
        libs.forEach((l) => l.close());
        throw e;
      }
      out[name] = null;
    }
  }
  return {
    symbols: out as NativeLibrary<S>["symbols"],
    path,
    close: () => libs.forEach((l) => l.close()),
  };

  function def(f: NativeFunction) {
    return { args: f.parameters.map((t) => BUN_TYPES[t]), returns: BUN_TYPES[f.result] };
  }
}

function wrapBun(fn: AnyFn, f: NativeFunction): AnyFn {
  const big = f.result === "i64" || f.result === "u64" || f.result === "usize" ||
    f.result === "isize";
  const ptrParams = f.parameters.map((t) => t === "ptr");
  const anyPtr = ptrParams.some(Boolean);
  const call = (...args: unknown[]) => {
    if (anyPtr) {
      // Bun wants null (not 0) for NULL pointers.
      for (let i = 0; i < args.length; i++) if (ptrParams[i] && !args[i]) args[i] = null;
    }
    const v = fn(...args);
    if (f.result === "ptr") return v ?? 0;
    return big && typeof v === "bigint" ? Number(v) : v;
  };
  return f.nonblocking ? (...args: unknown[]) => Promise.resolve().then(() => call(...args)) : call;
}

// ---------------------------------------------------------------- memory

/**
 * Address of a JS-owned buffer, valid while the buffer is alive and not moved; hold a
 * reference to the buffer for as long as native code may use the address.
 */
export function addressOf(buf: Uint8Array): number {
  if (buf.byteLength === 0) return 0;
  if (runtime === "deno") {
    return Number(denoApi().UnsafePointer.value(denoApi().UnsafePointer.of(buf)));
  }
  if (runtime === "bun") return requireBun().ptr(buf);
  return unsupportedRuntime();
}

function requireBun() {
  if (!bunFfi) throw new LibraryLoadError("bun:ffi is not loaded yet (open a library first)");
  return bunFfi;
}

/** Copies `length` bytes of native memory at `address` into a new `Uint8Array`. */
export function readBytes(address: number, length: number): Uint8Array {
  if (length === 0) return new Uint8Array(0);
  if (!address) throw new RangeError("readBytes: NULL pointer");
  if (runtime === "deno") {
    const D = denoApi();
    const view = new D.UnsafePointerView(D.UnsafePointer.create(BigInt(address)));
    const out = new Uint8Array(length);
    view.copyInto(out);
    return out;
  }
  if (runtime === "bun") {
    return new Uint8Array(requireBun().toArrayBuffer(address, 0, length).slice(0));
  }
  return unsupportedRuntime();
}

/** Reads a pointer-sized (64-bit) value at `address + offset`. */
export function readPointer(address: number, offset = 0): number {
  const b = readBytes(address + offset, 8);
  const dv = new DataView(b.buffer);
  return Number(dv.getBigUint64(0, true));
}

/** Reads a NUL-terminated UTF-8 string (NULL gives `undefined`). */
export function readCString(address: number, maxBytes = 1 << 20): string | undefined {
  if (!address) return undefined;
  const bytes = readUntilZero(address, 1, maxBytes);
  return new TextDecoder().decode(bytes);
}

/**
 * Reads a NUL-terminated wide string: `wcharSize` 4 is UTF-32 (Linux, macOS), 2 is UTF-16
 * (Windows). NULL gives `undefined`.
 */
export function readWideString(
  address: number,
  wcharSize: 2 | 4,
  maxChars = 1 << 16,
): string | undefined {
  if (!address) return undefined;
  const bytes = readUntilZero(address, wcharSize, maxChars * wcharSize);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (wcharSize === 2) {
    let s = "";
    for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(dv.getUint16(i, true));
    return s;
  }
  let s = "";
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const cp = dv.getUint32(i, true);
    s += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
  }
  return s;
}

// Reads units of `unit` bytes until an all-zero unit; reads in chunks so it never touches
// more than a page past the terminator's page.
function readUntilZero(address: number, unit: number, maxBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  let offset = 0;
  while (offset < maxBytes) {
    // Stay within the current 4 KiB page to avoid faulting on an unmapped next page.
    const pageLeft = 4096 - ((address + offset) % 4096);
    const chunkLen = Math.max(unit, pageLeft - (pageLeft % unit));
    const chunk = readBytes(address + offset, chunkLen);
    for (let i = 0; i + unit <= chunk.length; i += unit) {
      let zero = true;
      for (let j = 0; j < unit; j++) if (chunk[i + j] !== 0) zero = false;
      if (zero) {
        parts.push(chunk.subarray(0, i));
        total += i;
        return joinParts(parts, total);
      }
    }
    parts.push(chunk);
    total += chunk.length;
    offset += chunkLen;
  }
  throw new RangeError("String is not terminated within the limit");
}

function joinParts(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** NUL-terminated UTF-8 bytes of `s`, to pass as a `buffer` argument. */
export function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** NUL-terminated wide-string bytes of `s` (UTF-16LE for 2, UTF-32LE for 4). */
export function wideString(s: string, wcharSize: 2 | 4): Uint8Array {
  if (wcharSize === 2) {
    const out = new Uint8Array((s.length + 1) * 2);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < s.length; i++) dv.setUint16(i * 2, s.charCodeAt(i), true);
    return out;
  }
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  const out = new Uint8Array((cps.length + 1) * 4);
  const dv = new DataView(out.buffer);
  cps.forEach((cp, i) => dv.setUint32(i * 4, cp, true));
  return out;
}

/** Size of `wchar_t` on the running OS. */
export function wcharSize(): 2 | 4 {
  return platform() === "win32" ? 2 : 4;
}
