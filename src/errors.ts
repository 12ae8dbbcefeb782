/**
 * Error types shared by every layer. Each failure mode has its own class so callers can
 * branch with `instanceof` instead of parsing messages.
 * @module
 */

/** Malformed or non-conforming data: bad CBOR, truncated structures, bad JSON, bad base64url. */
export class FormatError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "FormatError";
  /** `cause` carries the lower-level error, when there is one. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A transport failed: the device vanished, a read timed out, a frame was malformed or the
 * native library reported an error. `HidError` (in `src/hid/`) extends it.
 */
export class TransportError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "TransportError";
  /** `cause` carries the lower-level error, when there is one. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A status word other than 0x9000. `USE_NOT_SATISFIED` (0x6985) means "touch needed":
 * callers poll until the user is present.
 */
export class ApduError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "ApduError";
  /** The status word, e.g. 0x6985. */
  readonly code: number;
  /** Response data that came with the status word (usually empty). */
  readonly data: Uint8Array;
  /** `data` is whatever response data came before the status word. */
  constructor(code: number, data: Uint8Array = new Uint8Array(0)) {
    super(`APDU error: 0x${code.toString(16).padStart(4, "0")}`);
    this.code = code;
    this.data = data;
  }
}

/** The operation was aborted through its `AbortSignal` (or the user cancelled on the key). */
export class AbortError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "AbortError";
  /** `message` defaults to the DOM AbortError wording; `cause` is usually `signal.reason`. */
  constructor(message = "The operation was aborted", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A COSE key or algorithm this library cannot use. */
export class UnsupportedAlgorithmError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "UnsupportedAlgorithmError";
  /** `cause` carries the lower-level error, when there is one. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Throws `AbortError` (carrying the signal's reason) when `signal` is already aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}
