/**
 * The few Win32 calls the clients need besides webauthn.dll: the window handle webauthn.dll
 * parents its dialogs on (the DLL fails with a NULL HWND, and a handle kept from earlier may
 * belong to another application by now, so callers fetch one per request, libfido2 PR #857),
 * and whether the process runs elevated (which decides between webauthn.dll and raw HID).
 * @module
 */
import { type NativeLibrary, openLibrary, platform } from "./runtime.ts";

const USER32 = {
  GetForegroundWindow: { parameters: [], result: "ptr" },
  GetTopWindow: { parameters: ["ptr"], result: "ptr" },
} as const;
const KERNEL32 = { GetConsoleWindow: { parameters: [], result: "ptr" } } as const;
const SHELL32 = { IsUserAnAdmin: { parameters: [], result: "i32" } } as const;

let libs: Promise<[NativeLibrary<typeof USER32>, NativeLibrary<typeof KERNEL32>]> | undefined;

/**
 * The foreground window, else the top-level window on top, else this process's console
 * window; 0 when there is none or the platform is not Windows.
 */
export async function defaultWindowHandle(): Promise<number> {
  if (platform() !== "win32") return 0;
  libs ??= Promise.all([
    openLibrary(["user32.dll"], USER32),
    openLibrary(["kernel32.dll"], KERNEL32),
  ]);
  const [user32, kernel32] = await libs;
  return user32.symbols.GetForegroundWindow() || user32.symbols.GetTopWindow(0) ||
    kernel32.symbols.GetConsoleWindow() || 0;
}

let shell32: Promise<NativeLibrary<typeof SHELL32>> | undefined;

/**
 * Whether this process runs elevated (shell32 `IsUserAnAdmin`): only then may it open FIDO
 * HID devices directly on Windows 10 1903+; otherwise webauthn.dll is the way to security keys.
 * Always false off Windows. Throws `LibraryLoadError` if shell32.dll cannot be loaded.
 */
export async function isElevated(): Promise<boolean> {
  if (platform() !== "win32") return false;
  shell32 ??= openLibrary(["shell32.dll"], SHELL32);
  let lib: NativeLibrary<typeof SHELL32>;
  try {
    lib = await shell32;
  } catch (e) {
    shell32 = undefined; // let a later call retry
    throw e;
  }
  return lib.symbols.IsUserAnAdmin() !== 0;
}
