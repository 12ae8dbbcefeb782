/**
 * The window handle webauthn.dll parents its dialogs on. The DLL fails with a NULL HWND, and a
 * handle kept from earlier may belong to another application by now, so callers fetch one per
 * request (libfido2 PR #857).
 * @module
 */
import { type NativeLibrary, openLibrary, platform } from "./runtime.ts";

const USER32 = {
  GetForegroundWindow: { parameters: [], result: "ptr" },
  GetTopWindow: { parameters: ["ptr"], result: "ptr" },
} as const;
const KERNEL32 = { GetConsoleWindow: { parameters: [], result: "ptr" } } as const;

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
