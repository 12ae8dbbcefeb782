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
