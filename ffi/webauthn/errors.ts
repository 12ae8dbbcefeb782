/**
 * The errors the webauthn.dll binding throws besides `FormatError` and `LibraryLoadError`.
 * @module
 */
import { HRESULT } from "./layout.ts";

// ---------------------------------------------------------------- errors

/**
 * A webauthn.dll function returned a failing HRESULT. `hresult` is the unsigned code (compare
 * with {@linkcode HRESULT}), `errorName` the DLL's W3C name ("NotAllowedError", ...) so
 * callers can map both the exact cause and its WebAuthn class.
 */
export class WindowsApiError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "WindowsApiError";
  /** The HRESULT as an unsigned 32-bit number. */
  readonly hresult: number;
  /** `WebAuthNGetErrorName(hresult)`: "InvalidStateError", "NotAllowedError", ... */
  readonly errorName: string;
  /** Symbolic name of a well-known HRESULT ("NTE_USER_CANCELLED"), else undefined. */
  readonly code: keyof typeof HRESULT | undefined;
  /** The webauthn.dll function that failed. */
  readonly operation: string;
  /** Builds the error for `operation`'s failing `hresult` and the DLL's W3C `errorName`. */
  constructor(operation: string, hresult: number, errorName: string) {
    const hr = hresult >>> 0;
    const code = (Object.keys(HRESULT) as (keyof typeof HRESULT)[]).find((k) => HRESULT[k] === hr);
    super(
      `${operation} failed: ${errorName} (HRESULT 0x${hr.toString(16).padStart(8, "0")}` +
        `${code ? ` ${code}` : ""})`,
    );
    this.hresult = hr;
    this.errorName = errorName;
    this.code = code;
    this.operation = operation;
  }
}

/** The request needs a struct field that the loaded DLL's API version does not have. */
export class WebAuthnUnsupportedError extends Error {
  override name = "WebAuthnUnsupportedError";
  constructor(
    /** What was asked for, e.g. "prf" or "hints". */
    readonly feature: string,
    /** Lowest webauthn API version that supports it. */
    readonly requiredApiVersion: number,
    /** API version of the loaded DLL. */
    readonly apiVersion: number,
  ) {
    super(
      `${feature} needs webauthn.dll API version ${requiredApiVersion}; ` +
        `this one has API version ${apiVersion}`,
    );
  }
}
