/**
 * Typed PC/SC failures. The native binding reports `SCARD_*` codes; each failure a caller can
 * act on (card gone, reader gone, card held by another program, the exchange broke) has its
 * own class so `instanceof` replaces parsing messages.
 * @module
 */
import { TransportError } from "../errors.ts";

/** PC/SC result codes this library tells apart (pcsclite.h / winerror.h values). */
export const SCARD = {
  S_SUCCESS: 0,
  F_INTERNAL_ERROR: 0x80100001,
  E_CANCELLED: 0x80100002,
  E_INVALID_HANDLE: 0x80100003,
  E_INVALID_PARAMETER: 0x80100004,
  E_NO_MEMORY: 0x80100006,
  E_INSUFFICIENT_BUFFER: 0x80100008,
  E_UNKNOWN_READER: 0x80100009,
  E_TIMEOUT: 0x8010000a,
  E_SHARING_VIOLATION: 0x8010000b,
  E_NO_SMARTCARD: 0x8010000c,
  E_PROTO_MISMATCH: 0x8010000f,
  E_NOT_READY: 0x80100010,
  E_INVALID_VALUE: 0x80100011,
  E_SYSTEM_CANCELLED: 0x80100012,
  F_COMM_ERROR: 0x80100013,
  F_UNKNOWN_ERROR: 0x80100014,
  E_NOT_TRANSACTED: 0x80100016,
  E_READER_UNAVAILABLE: 0x80100017,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  E_UNEXPECTED: 0x8010001f,
  E_NO_READERS_AVAILABLE: 0x8010002e,
  E_COMM_DATA_LOST: 0x8010002f,
  W_UNSUPPORTED_CARD: 0x80100065,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
} as const;

const NAMES = new Map<number, string>(
  Object.entries(SCARD).map(([k, v]) => [v, `SCARD_${k}`]),
);

/** `SCARD_W_REMOVED_CARD`-style name of a PC/SC result code (hex for unknown codes). */
export function scardName(code: number): string {
  return NAMES.get(code >>> 0) ?? `0x${(code >>> 0).toString(16).padStart(8, "0")}`;
}

/** A PC/SC call failed; `code` is the `SCARD_*` result (see {@linkcode SCARD}). */
export class PcscError extends TransportError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "PcscError";
  /** The PC/SC result code, unsigned (e.g. 0x80100069). */
  readonly code: number;
  /** `message` says which call failed and how to fix it. */
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code >>> 0;
  }
  /** The code's `SCARD_…` name. */
  get codeName(): string {
    return scardName(this.code);
  }
}

/** The card left the reader (or lost power, or was reset by another program) mid-session. */
export class CardRemovedError extends PcscError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "CardRemovedError";
}

/** The reader was unplugged or the PC/SC service went away. */
export class ReaderGoneError extends PcscError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "ReaderGoneError";
}

/** Another program holds the card exclusively (or holds a transaction on it). */
export class SharingViolationError extends PcscError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "SharingViolationError";
}

/** The APDU exchange itself failed (communication error, unresponsive card). */
export class TransmitError extends PcscError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "TransmitError";
}

/** No reader is connected, or no card is in the reader asked for. */
export class NoCardError extends PcscError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "NoCardError";
}

/**
 * Maps a failed PC/SC call to its typed error. `call` names the function, `reader` the reader
 * involved (if any); the message ends with what the user can do about it.
 */
export function pcscError(code: number, call: string, reader?: string): PcscError {
  const c = code >>> 0;
  const where = `${call}${reader ? ` on reader "${reader}"` : ""} failed: ${scardName(c)}`;
  switch (c) {
    case SCARD.W_REMOVED_CARD:
    case SCARD.W_RESET_CARD:
    case SCARD.W_UNPOWERED_CARD:
      return new CardRemovedError(
        c,
        `${where} (the card was removed or reset; present it again and retry)`,
      );
    case SCARD.E_READER_UNAVAILABLE:
    case SCARD.E_UNKNOWN_READER:
    case SCARD.E_NO_SERVICE:
    case SCARD.E_SERVICE_STOPPED:
    case SCARD.E_INVALID_HANDLE:
      return new ReaderGoneError(
        c,
        `${where} (the reader is gone or the PC/SC service is not running; on Linux install ` +
          "and start pcscd: apt-get install pcscd, systemctl start pcscd.socket)",
      );
    case SCARD.E_SHARING_VIOLATION:
      return new SharingViolationError(
        c,
        `${where} (another program holds the card; close it, e.g. a running gpg-agent/scdaemon ` +
          "or a smart-card tool, and retry)",
      );
    case SCARD.E_NO_SMARTCARD:
    case SCARD.E_NO_READERS_AVAILABLE:
      return new NoCardError(c, `${where} (connect a reader and present a security key)`);
    case SCARD.F_COMM_ERROR:
    case SCARD.E_COMM_DATA_LOST:
    case SCARD.W_UNRESPONSIVE_CARD:
    case SCARD.E_NOT_TRANSACTED:
    case SCARD.E_PROTO_MISMATCH:
    case SCARD.W_UNSUPPORTED_CARD:
      return new TransmitError(
        c,
        `${where} (the exchange with the card broke; hold the key still on the reader and retry)`,
      );
    default:
      return new PcscError(c, where);
  }
}
