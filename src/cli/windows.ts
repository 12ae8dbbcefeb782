/**
 * What the CLI does differently on Windows: WebAuthn ceremonies go through webauthn.dll (via
 * `createClient`), which needs no admin rights; commands that speak raw CTAP to a key (PIN,
 * credentials, blobs, config, bio, reset, wink, info's device part) need an elevated prompt,
 * since Windows 10 1903+ lets only elevated processes open FIDO HID devices. This module says
 * so plainly (exit code {@linkcode EXIT.ELEVATION}) instead of failing inside hidapi.
 * @module
 */
import { platform } from "../../ffi/runtime.ts";
import { CliError, EXIT } from "./errors.ts";

/** The host facts the CLI decides on; tests pass their own. */
export interface CliSystem {
  /** `process.platform`-style OS name. */
  readonly os: string;
  /** Whether the process runs elevated (only asked on Windows). */
  isElevated(): Promise<boolean>;
}

/** The running system: its OS, and `TokenIsElevated` from ffi/win32.ts on Windows. */
export function hostSystem(): CliSystem {
  return {
    os: platform(),
    isElevated: async () => (await import("../../ffi/win32.ts")).isElevated(),
  };
}

/** The message and exit code for a raw-CTAP command in a non-elevated Windows prompt. */
export function elevationRequired(command: string): CliError {
  return new CliError(
    EXIT.ELEVATION,
    `\`fido2 ${command}\` talks to the security key directly, which Windows allows only from` +
      ' an elevated prompt: open a terminal with "Run as administrator" and run it there.' +
      " (`fido2 register`, `authenticate` and `info` work without, through webauthn.dll.)",
  );
}

/**
 * Throws {@linkcode elevationRequired} on Windows when the process is not elevated; does
 * nothing elsewhere. An elevation check that fails counts as not elevated.
 */
export async function requireElevation(system: CliSystem, command: string): Promise<void> {
  if (system.os !== "win32") return;
  if (!(await elevated(system))) throw elevationRequired(command);
}

/** `system.isElevated()`, where a check that fails counts as not elevated. */
export async function elevated(system: CliSystem): Promise<boolean> {
  try {
    return await system.isElevated();
  } catch {
    return false;
  }
}

/** What `fido2 info` reports about webauthn.dll. */
export interface WebAuthnDllInfo {
  /** The library loaded (System32's webauthn.dll, or `FIDO2_WEBAUTHN_LIB`). */
  readonly path: string;
  /** `WebAuthNGetApiVersionNumber` (1 = Windows 10 1903 … 9 = current Windows 11). */
  readonly apiVersion: number;
  /** `WebAuthNIsUserVerifyingPlatformAuthenticatorAvailable`: Windows Hello is set up. */
  readonly platformAuthenticator: boolean;
}

/** webauthn.dll's API version and Windows Hello availability, or why it is unavailable. */
export async function webauthnDllInfo(): Promise<WebAuthnDllInfo | { readonly error: string }> {
  const { loadWebAuthn } = await import("../../ffi/webauthn.ts");
  let api;
  try {
    api = await loadWebAuthn();
  } catch (e) {
    return { error: (e as Error).message };
  }
  try {
    return {
      path: api.path,
      apiVersion: api.apiVersion(),
      platformAuthenticator: api.isUserVerifyingPlatformAuthenticatorAvailable(),
    };
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    await api.close();
  }
}
