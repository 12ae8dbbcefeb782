/**
 * Error types shared by every layer. Each failure mode has its own class so callers can
 * branch with `instanceof` instead of parsing messages.
 * @module
 */

/** Malformed or non-conforming data: bad CBOR, truncated structures, bad JSON, bad base64url. */
export class FormatError extends Error {
  override name = "FormatError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A transport failed: the device vanished, a read timed out, a frame was malformed or the
 * native library reported an error. `HidError` (in `src/hid/`) extends it.
 */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The operation was aborted through its `AbortSignal` (or the user cancelled on the key). */
export class AbortError extends Error {
  override name = "AbortError";
  constructor(message = "The operation was aborted", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A COSE key or algorithm this library cannot use. */
export class UnsupportedAlgorithmError extends Error {
  override name = "UnsupportedAlgorithmError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Throws `AbortError` (carrying the signal's reason) when `signal` is already aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}
