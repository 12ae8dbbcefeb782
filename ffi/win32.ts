/**
 * The few Win32 calls the clients need besides webauthn.dll: loading a system DLL from
 * System32 only, the window handle webauthn.dll parents its dialogs on (the DLL fails with a
 * NULL HWND, and a handle kept from earlier may belong to another application by now, so
 * callers fetch one per request, libfido2 PR #857), and whether the process runs elevated.
 * kernel32, user32 and advapi32 are KnownDLLs: Windows maps them from System32 whatever the
 * search order, so they are opened by bare name.
 * @module
 */
import {
  LibraryLoadError,
  type NativeLibrary,
  openLibrary,
  platform,
  wideString,
} from "./runtime.ts";

const USER32 = {
  GetForegroundWindow: { parameters: [], result: "ptr" },
  GetDesktopWindow: { parameters: [], result: "ptr" },
} as const;
const KERNEL32 = {
  GetConsoleWindow: { parameters: [], result: "ptr" },
  LoadLibraryExW: { parameters: ["buffer", "ptr", "u32"], result: "ptr" },
  GetModuleFileNameW: { parameters: ["ptr", "buffer", "u32"], result: "u32" },
  FreeLibrary: { parameters: ["ptr"], result: "i32" },
  GetLastError: { parameters: [], result: "u32" },
  GetSystemDirectoryW: { parameters: ["buffer", "u32"], result: "u32" },
  CloseHandle: { parameters: ["ptr"], result: "i32" },
} as const;
const ADVAPI32 = {
  OpenProcessToken: { parameters: ["isize", "u32", "buffer"], result: "i32" },
  GetTokenInformation: { parameters: ["ptr", "u32", "buffer", "u32", "buffer"], result: "i32" },
} as const;

/** `LOAD_LIBRARY_SEARCH_SYSTEM32`: the DLL and its dependencies come from System32 only. */
export const LOAD_LIBRARY_SEARCH_SYSTEM32 = 0x800;

let user32: Promise<NativeLibrary<typeof USER32>> | undefined;
let kernel32: Promise<NativeLibrary<typeof KERNEL32>> | undefined;

/** Opens a library once; a failed open is forgotten so a later call retries. */
async function once<S>(
  get: () => Promise<S> | undefined,
  set: (p: Promise<S> | undefined) => void,
  open: () => Promise<S>,
): Promise<S> {
  let p = get();
  if (!p) {
    p = open();
    set(p);
  }
  try {
    return await p;
  } catch (e) {
    set(undefined);
    throw e;
  }
}

function openKernel32() {
  return once(() => kernel32, (p) => (kernel32 = p), () => openLibrary(["kernel32.dll"], KERNEL32));
}

function openUser32() {
  return once(() => user32, (p) => (user32 = p), () => openLibrary(["user32.dll"], USER32));
}

/** Where the window handle came from, in the order {@linkcode windowHandleChain} tries them. */
export type WindowSource = "foreground" | "console" | "desktop";

/**
 * The first non-NULL handle of `sources` in order, with the source it came from; NULL only
 * when every source is NULL. Split out so the order is testable off Windows.
 */
export function windowHandleChain(
  sources: readonly (readonly [WindowSource, () => number])[],
): { hwnd: number; source: WindowSource | "none" } {
  for (const [source, get] of sources) {
    const hwnd = get();
    if (hwnd) return { hwnd, source };
  }
  return { hwnd: 0, source: "none" };
}

/**
 * The window to centre Windows' security dialog on: the foreground window, else this
 * process's console window, else the desktop window (which always exists, so a service or a
 * process without any window still gets a handle, never NULL). 0 off Windows.
 */
export async function defaultWindowHandle(): Promise<number> {
  if (platform() !== "win32") return 0;
  const [u, k] = await Promise.all([openUser32(), openKernel32()]);
  return windowHandleChain([
    ["foreground", () => u.symbols.GetForegroundWindow()],
    ["console", () => k.symbols.GetConsoleWindow()],
    ["desktop", () => u.symbols.GetDesktopWindow()],
  ]).hwnd;
}

/** A DLL loaded from System32 only, held until {@linkcode SystemLibrary.release}. */
export interface SystemLibrary {
  /** Its full path, as Windows loaded it (`GetModuleFileNameW`). */
  readonly path: string;
  /** Drops this hold on the module (FreeLibrary); other loads of it stay. */
  release(): void;
}

/** Decodes the first `n` UTF-16 code units of `buf`. */
function utf16(buf: Uint8Array, n: number): string {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(dv.getUint16(2 * i, true));
  return s;
}

const MAX_PATH_CHARS = 32768;

/**
 * Loads System32's `name` with `LoadLibraryExW(<GetSystemDirectoryW>\name, NULL,
 * LOAD_LIBRARY_SEARCH_SYSTEM32)`, as python-fido2, libfido2 and Chromium load webauthn.dll:
 * neither the application directory, the current directory, PATH, `%SystemRoot%` nor a
 * same-named DLL loaded earlier from elsewhere can substitute another file, and its
 * dependencies come from System32 too. Opening the returned path while this hold lasts reuses
 * the very module loaded here. Throws `LibraryLoadError` when System32 has no such DLL (or off
 * Windows).
 */
export async function loadSystemLibrary(name: string): Promise<SystemLibrary> {
  if (platform() !== "win32") {
    throw new LibraryLoadError(`${name}: System32 exists only on Windows`);
  }
  const k = (await openKernel32()).symbols;
  const buf = new Uint8Array(new ArrayBuffer(MAX_PATH_CHARS * 2));
  const dirLen = k.GetSystemDirectoryW(buf, MAX_PATH_CHARS) as number;
  if (dirLen === 0 || dirLen >= MAX_PATH_CHARS) {
    throw new LibraryLoadError(`GetSystemDirectoryW failed (${k.GetLastError()})`);
  }
  const full = `${utf16(buf, dirLen)}\\${name}`;
  const handle = k.LoadLibraryExW(
    wideString(full, 2),
    0,
    LOAD_LIBRARY_SEARCH_SYSTEM32,
  ) as number;
  if (!handle) {
    const err = k.GetLastError() as number;
    throw new LibraryLoadError(
      `${full} could not be loaded (LoadLibraryExW error ${err}); webauthn.dll ships with` +
        " Windows 10 1903 and later",
    );
  }
  const n = k.GetModuleFileNameW(handle, buf, MAX_PATH_CHARS) as number;
  if (n === 0 || n >= MAX_PATH_CHARS) {
    k.FreeLibrary(handle);
    throw new LibraryLoadError(`${name}: GetModuleFileNameW failed (${k.GetLastError()})`);
  }
  const path = utf16(buf, n);
  let held = true;
  return {
    path,
    release: () => {
      if (!held) return;
      held = false;
      k.FreeLibrary(handle);
    },
  };
}

let advapi32: Promise<NativeLibrary<typeof ADVAPI32>> | undefined;

const TOKEN_QUERY = 0x0008;
/** `TOKEN_INFORMATION_CLASS.TokenElevation`. */
const TOKEN_ELEVATION = 20;
/** `GetCurrentProcess()`: the pseudo-handle -1. */
const CURRENT_PROCESS = -1;

/**
 * Whether this process runs elevated (its token's `TokenIsElevated`): only then may it open
 * FIDO HID devices directly on Windows 10 1903+, which the CTAP management commands need.
 * An administrator's ordinary prompt is not elevated under UAC. (shell32's `IsUserAnAdmin`
 * asks about group membership instead, and says yes there under Wine.) Always false off
 * Windows. Throws `LibraryLoadError` if advapi32.dll cannot be loaded.
 */
export async function isElevated(): Promise<boolean> {
  if (platform() !== "win32") return false;
  const [a, k] = await Promise.all([
    once(() => advapi32, (p) => (advapi32 = p), () => openLibrary(["advapi32.dll"], ADVAPI32)),
    openKernel32(),
  ]);
  const handle = new Uint8Array(new ArrayBuffer(8));
  if (!a.symbols.OpenProcessToken(CURRENT_PROCESS, TOKEN_QUERY, handle)) {
    throw new LibraryLoadError("OpenProcessToken failed: cannot tell whether this is elevated");
  }
  const token = Number(new DataView(handle.buffer).getBigUint64(0, true));
  try {
    const out = new Uint8Array(new ArrayBuffer(4));
    const len = new Uint8Array(new ArrayBuffer(4));
    if (!a.symbols.GetTokenInformation(token, TOKEN_ELEVATION, out, 4, len)) {
      throw new LibraryLoadError("GetTokenInformation(TokenElevation) failed");
    }
    return new DataView(out.buffer).getUint32(0, true) !== 0;
  } finally {
    k.symbols.CloseHandle(token);
  }
}
