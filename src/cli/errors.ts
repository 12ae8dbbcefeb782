/**
 * Exit codes of the `fido2` command and the mapping from library errors to them, so scripts
 * can branch on why a command failed without parsing messages.
 * @module
 */
import { ClientError, PinRequiredError } from "../client/errors.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { PinPolicyError } from "../ctap2/pin.ts";
import { AbortError, FormatError, TransportError, UnsupportedAlgorithmError } from "../errors.ts";

/** Process exit codes (documented in `fido2 --help`). */
export const EXIT = {
  OK: 0,
  /** Any other failure (authenticator error, malformed response…). */
  ERROR: 1,
  /** Bad command line: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** No authenticator found, or it could not be opened or stopped answering. */
  NO_DEVICE: 3,
  /** PIN missing, wrong, blocked, not set, or rejected by the PIN policy. */
  PIN: 4,
  /** Timed out waiting for the user, or cancelled (Ctrl-C, or on the key). */
  CANCELLED: 5,
  /** The authenticator does not support the requested feature. */
  UNSUPPORTED: 6,
  /** No matching credential, or the credential already exists (excluded). */
  NOT_FOUND: 7,
  /** Windows: the command talks to the key directly, which needs an elevated prompt. */
  ELEVATION: 8,
} as const;

/** Help text lines describing {@linkcode EXIT}. */
export const EXIT_HELP = `Exit codes:
  0  success
  1  other error (authenticator error, malformed response)
  2  usage error (unknown command or option, bad argument)
  3  no device (none found, cannot open, stopped answering)
  4  PIN problem (missing, wrong, blocked, not set, too short)
  5  timeout or cancelled (Ctrl-C, declined or no touch)
  6  not supported by the authenticator
  7  credential not found, or already registered (excluded)
  8  Windows: the command needs an elevated prompt ("Run as administrator")`;

/** A failure the CLI itself detects, with the exit code to use. */
export class CliError extends Error {
  override name = "CliError";
  constructor(readonly exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A command-line mistake (exit code 2). */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string) {
    super(EXIT.USAGE, message);
  }
}

const S = CTAP_STATUS;
const PIN_STATUSES: ReadonlySet<number> = new Set([
  S.PIN_INVALID,
  S.PIN_BLOCKED,
  S.PIN_AUTH_INVALID,
  S.PIN_AUTH_BLOCKED,
  S.PIN_NOT_SET,
  S.PIN_POLICY_VIOLATION,
  S.PIN_TOKEN_EXPIRED,
  S.PUAT_REQUIRED,
  S.UV_BLOCKED,
  S.UV_INVALID,
]);
const CANCEL_STATUSES: ReadonlySet<number> = new Set([
  S.KEEPALIVE_CANCEL,
  S.ACTION_TIMEOUT,
  S.USER_ACTION_TIMEOUT,
  S.OPERATION_DENIED,
  S.NOT_ALLOWED,
]);
const UNSUPPORTED_STATUSES: ReadonlySet<number> = new Set([
  S.INVALID_COMMAND,
  S.UNSUPPORTED_OPTION,
  S.UNSUPPORTED_EXTENSION,
  S.UNSUPPORTED_ALGORITHM,
  S.INVALID_SUBCOMMAND,
]);
const NOT_FOUND_STATUSES: ReadonlySet<number> = new Set([
  S.NO_CREDENTIALS,
  S.CREDENTIAL_EXCLUDED,
]);

function ctapExit(code: number): number {
  if (PIN_STATUSES.has(code)) return EXIT.PIN;
  if (CANCEL_STATUSES.has(code)) return EXIT.CANCELLED;
  if (UNSUPPORTED_STATUSES.has(code)) return EXIT.UNSUPPORTED;
  if (NOT_FOUND_STATUSES.has(code)) return EXIT.NOT_FOUND;
  return EXIT.ERROR;
}

/** The exit code for any error a command may throw (the cause chain is consulted). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof PinRequiredError || err instanceof PinPolicyError) return EXIT.PIN;
  if (err instanceof AbortError) return EXIT.CANCELLED;
  if (err instanceof CtapError) return ctapExit(err.code);
  if (err instanceof ClientError) {
    const inner = err.cause instanceof Error ? exitCodeFor(err.cause) : EXIT.ERROR;
    if (inner !== EXIT.ERROR) return inner;
    if (err.code === ClientError.ERR.TIMEOUT) return EXIT.CANCELLED;
    if (err.code === ClientError.ERR.CONFIGURATION_UNSUPPORTED) return EXIT.UNSUPPORTED;
    if (err.code === ClientError.ERR.DEVICE_INELIGIBLE) return EXIT.NOT_FOUND;
    return EXIT.ERROR;
  }
  if (err instanceof UnsupportedAlgorithmError) return EXIT.UNSUPPORTED;
  if (err instanceof TransportError) return EXIT.NO_DEVICE;
  if (err instanceof Error && /^(LibraryLoadError|FfiPermissionError)$/.test(err.name)) {
    return EXIT.NO_DEVICE;
  }
  if (err instanceof FormatError) return EXIT.ERROR;
  return EXIT.ERROR;
}

/** A one-line, human message for an error (no stack traces for expected failures). */
export function messageFor(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof ClientError && err.cause instanceof CtapError) {
    return `${err.message}${hintFor(err.cause.code)}`;
  }
  if (err instanceof CtapError) return `Authenticator error ${err.message}${hintFor(err.code)}`;
  return err.message;
}

function hintFor(code: number): string {
  switch (code) {
    case S.PIN_INVALID:
      return " (wrong PIN; check the retries with `fido2 pin retries`)";
    case S.PIN_BLOCKED:
      return " (PIN blocked: the authenticator must be reset)";
    case S.PIN_AUTH_BLOCKED:
      return " (three wrong PINs in a row: unplug and replug the key, or take it off the NFC reader)";
    case S.PIN_NOT_SET:
      return " (set one with `fido2 pin set`)";
    case S.PIN_POLICY_VIOLATION:
      return " (the PIN is too short or otherwise refused by the authenticator's policy, or a" +
        " PIN change is pending: `fido2 pin change`)";
    case S.NOT_ALLOWED:
    case S.OPERATION_DENIED:
      return " (the request was refused; a reset must follow power-up within seconds)";
    default:
      return "";
  }
}
