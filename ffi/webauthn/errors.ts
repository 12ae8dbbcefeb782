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

/**
 * A call on a binding that was closed, or a blocked call that `close()` cancelled. Load the
 * library again (or create a new `WindowsClient`) to go on.
 */
export class WebAuthnClosedError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "WebAuthnClosedError";
  /** Builds the error for `operation` (a webauthn.dll function name). */
  constructor(
    /** The webauthn.dll function that was called or cancelled. */
    readonly operation: string,
    options?: ErrorOptions,
  ) {
    super(
      `${operation}: the webauthn.dll binding was closed (load it again, or create a new ` +
        "WindowsClient)",
      options,
    );
  }
}

/**
 * `close()` stopped waiting for blocked calls that had not returned. The library stays loaded
 * and their request memory stays allocated until they return; both are released then.
 */
export class WebAuthnCloseTimeoutError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "WebAuthnCloseTimeoutError";
  /** Builds the error for the `operations` still running after `waitedMs`. */
  constructor(
    /** The webauthn.dll functions still running. */
    readonly operations: readonly string[],
    /** How long `close()` waited after cancelling them. */
    readonly waitedMs: number,
    /** Whether one of them had no cancellation id, so it could not be cancelled. */
    readonly uncancellable: boolean,
  ) {
    super(
      `close(): ${operations.join(", ")} did not return within ${waitedMs} ms` +
        (uncancellable
          ? " (it was started without a cancellationId, so close() could not cancel it: give " +
            "the call an AbortSignal or a timeout)"
          : " of being cancelled") +
        "; webauthn.dll stays loaded and the request memory allocated until it returns",
    );
  }
}
