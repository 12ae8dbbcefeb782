/**
 * How CTAP and transport failures surface at the WebAuthn level: every failure of a client
 * operation is a `ClientError` whose `cause` keeps the original error.
 * @module
 */
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { AbortError, FormatError, TransportError, UnsupportedAlgorithmError } from "../errors.ts";
import { ClientError } from "./errors.ts";
import { AuthenticatorResponseError } from "./validate.ts";

const S = CTAP_STATUS;
const E = ClientError.ERR;

const BY_STATUS = new Map<number, number>([
  [S.CREDENTIAL_EXCLUDED, E.DEVICE_INELIGIBLE],
  [S.NO_CREDENTIALS, E.DEVICE_INELIGIBLE],
  [S.KEEPALIVE_CANCEL, E.TIMEOUT],
  [S.ACTION_TIMEOUT, E.TIMEOUT],
  [S.USER_ACTION_TIMEOUT, E.TIMEOUT],
  [S.UNSUPPORTED_ALGORITHM, E.CONFIGURATION_UNSUPPORTED],
  [S.UNSUPPORTED_OPTION, E.CONFIGURATION_UNSUPPORTED],
  [S.UNSUPPORTED_EXTENSION, E.CONFIGURATION_UNSUPPORTED],
  [S.KEY_STORE_FULL, E.CONFIGURATION_UNSUPPORTED],
  [S.LARGE_BLOB_STORAGE_FULL, E.CONFIGURATION_UNSUPPORTED],
  [S.INVALID_COMMAND, E.BAD_REQUEST],
  [S.CBOR_UNEXPECTED_TYPE, E.BAD_REQUEST],
  [S.INVALID_CBOR, E.BAD_REQUEST],
  [S.MISSING_PARAMETER, E.BAD_REQUEST],
  [S.INVALID_PARAMETER, E.BAD_REQUEST],
  [S.INVALID_LENGTH, E.BAD_REQUEST],
  [S.INVALID_OPTION, E.BAD_REQUEST],
  [S.PUAT_REQUIRED, E.BAD_REQUEST],
  [S.PIN_INVALID, E.BAD_REQUEST],
  [S.PIN_BLOCKED, E.BAD_REQUEST],
  [S.PIN_NOT_SET, E.BAD_REQUEST],
  [S.PIN_POLICY_VIOLATION, E.BAD_REQUEST],
  [S.PIN_TOKEN_EXPIRED, E.BAD_REQUEST],
  [S.PIN_AUTH_INVALID, E.BAD_REQUEST],
  [S.PIN_AUTH_BLOCKED, E.BAD_REQUEST],
  [S.UV_BLOCKED, E.BAD_REQUEST],
  [S.UV_INVALID, E.BAD_REQUEST],
  [S.REQUEST_TOO_LARGE, E.BAD_REQUEST],
  // The user declined (CTAP 2.1 §6.1.2 step 14, §6.2.2): NotAllowedError in a browser,
  // which is TIMEOUT here ("timed out or cancelled"); python-fido2 says BAD_REQUEST, which
  // reads as malformed input. WindowsClient maps a closed Windows dialog onto the same code.
  [S.OPERATION_DENIED, E.TIMEOUT],
  [S.UNAUTHORIZED_PERMISSION, E.BAD_REQUEST],
]);

/** The `ClientError` code for a CTAP status (python-fido2's table, extended for CTAP 2.1). */
export function clientErrorCode(status: number): number {
  return BY_STATUS.get(status) ?? E.OTHER_ERROR;
}

/**
 * Wraps any failure as a `ClientError`. `timedOut` tells an expired `options.timeout` apart
 * from the caller's own abort: both are TIMEOUT, as a browser reports them.
 */
export function toClientError(err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  if (err instanceof CtapError) {
    return new ClientError(clientErrorCode(err.code), `Authenticator error ${err.message}`, {
      cause: err,
    });
  }
  if (err instanceof AbortError) {
    return new ClientError(E.TIMEOUT, "The operation timed out or was cancelled", { cause: err });
  }
  if (err instanceof UnsupportedAlgorithmError) {
    return new ClientError(E.CONFIGURATION_UNSUPPORTED, err.message, { cause: err });
  }
  if (err instanceof AuthenticatorResponseError) {
    // Chromium: kAuthenticatorResponseInvalid, reported to the page as NotAllowedError.
    return new ClientError(E.OTHER_ERROR, `Invalid authenticator response: ${err.message}`, {
      cause: err,
    });
  }
  if (err instanceof FormatError) {
    return new ClientError(E.OTHER_ERROR, `Malformed data: ${err.message}`, { cause: err });
  }
  if (err instanceof TransportError) {
    return new ClientError(E.OTHER_ERROR, `Transport failure: ${err.message}`, { cause: err });
  }
  return new ClientError(E.OTHER_ERROR, err instanceof Error ? err.message : String(err), {
    cause: err,
  });
}
