/**
 * Errors of the WebAuthn client layer. Every failure of `makeCredential` / `getAssertion`
 * surfaces as a `ClientError` whose `code` maps onto the DOMException a browser would throw
 * (BAD_REQUEST ≈ SecurityError/NotAllowedError for bad options, DEVICE_INELIGIBLE ≈
 * InvalidStateError, ...); the underlying error is kept as `cause`.
 * @module
 */

/** Error codes of {@linkcode ClientError} (python-fido2's `ClientError.ERR`). */
export const CLIENT_ERR = {
  OTHER_ERROR: 1,
  BAD_REQUEST: 2,
  CONFIGURATION_UNSUPPORTED: 3,
  DEVICE_INELIGIBLE: 4,
  TIMEOUT: 5,
} as const;

/** A WebAuthn-level failure with a coarse, stable code. */
export class ClientError extends Error {
  /** The codes. */
  static readonly ERR: typeof CLIENT_ERR = CLIENT_ERR;
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "ClientError";
  /** One of {@linkcode ClientError.ERR}. */
  readonly code: number;

  /** `message` defaults to the code's name; `cause` keeps the underlying error. */
  constructor(code: number, message?: string, options?: { cause?: unknown }) {
    const name = codeName(code);
    super(message ? `${name}: ${message}` : name, options);
    this.code = code;
  }

  /** The code's name, e.g. "BAD_REQUEST" ("UNKNOWN_<n>" for a code outside the table). */
  get codeName(): string {
    return codeName(this.code);
  }
}

function codeName(code: number): string {
  const entry = Object.entries(CLIENT_ERR).find(([, v]) => v === code);
  return entry ? entry[0] : `UNKNOWN_${code}`;
}

/**
 * The operation needs a PIN and none was available (no PIN callback, or it declined):
 * a BAD_REQUEST whose cause says "PIN required".
 */
export class PinRequiredError extends ClientError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "PinRequiredError";

  /** Always BAD_REQUEST; `cause` keeps the underlying error. */
  constructor(message = "PIN required", options?: { cause?: unknown }) {
    super(ClientError.ERR.BAD_REQUEST, message, { cause: options?.cause ?? new Error(message) });
  }
}
