/**
 * The narrow interface between the CTAP NFC mapping and a PC/SC implementation: the FFI binding
 * in `ffi/pcsc.ts` implements it, and tests can implement it with a scripted card.
 * @module
 */

/** A reader as PC/SC lists it. */
export interface ReaderInfo {
  /** The reader's name, e.g. `"Virtual PCD 00 00"` or `"ACS ACR122U PICC Interface 00 00"`. */
  readonly name: string;
  /** Whether a card is present (powered or not) and responding. */
  readonly cardPresent: boolean;
  /** The card's ATR when one is present. */
  readonly atr?: Uint8Array;
  /** Another program holds the card exclusively. */
  readonly exclusive?: boolean;
}

/** How a connection is released (`SCARD_LEAVE_CARD`, `SCARD_RESET_CARD`, `SCARD_UNPOWER_CARD`). */
export type Disposition = "leave" | "reset" | "unpower";

/** An open connection to the card in one reader. */
export interface CardConnection {
  /** The reader's name. */
  readonly reader: string;
  /** The card's ATR (for contactless cards the reader builds it from the ATS). */
  readonly atr: Uint8Array;
  /** Sends one command APDU; resolves with the response data followed by SW1 SW2. */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /**
   * Resets (or powers off and on) the card and reconnects; an NFC key clears its count of
   * consecutive wrong PINs then (what python-fido2 does on PIN_AUTH_BLOCKED).
   */
  reconnect?(disposition?: Disposition): Promise<void>;
  /** Holds the card for this connection until {@linkcode CardConnection.endTransaction}. */
  beginTransaction?(): Promise<void>;
  /** Ends a transaction begun with {@linkcode CardConnection.beginTransaction}. */
  endTransaction?(): Promise<void>;
  /** Disconnects (default disposition `"leave"`); calling it twice is harmless. */
  close(disposition?: Disposition): Promise<void> | void;
}

/** A PC/SC stack: lists readers and connects to cards. */
export interface PcscBackend {
  /** Every reader with its card state; none connected gives `[]`. */
  listReaders(): Promise<ReaderInfo[]>;
  /** Connects to the card in `reader` (shared mode unless `exclusive`). */
  connect(reader: string, opts?: { readonly exclusive?: boolean }): Promise<CardConnection>;
  /** Releases the PC/SC context. */
  close?(): void;
}
