/**
 * `CtapPcscDevice`: a FIDO authenticator behind a PC/SC reader (NFC, or a contact/CCID
 * interface) as a `CtapDevice`. CTAPHID_CBOR requests travel as NFCCTAP_MSG, CTAPHID_MSG
 * requests as the U2F APDUs they carry; python-fido2's `fido2.pcsc.CtapPcscDevice`.
 * @module
 */
import { type CallOptions, CAPABILITY, type CtapDevice, CtapError } from "../ctap.ts";
import { CTAP_STATUS } from "../ctap.ts";
import { ApduError, TransportError } from "../errors.ts";
import { type ApduLengthMode, ApduTransport } from "./apdu.ts";
import type { CardConnection, Disposition } from "./connection.ts";
import { APPLET_VERSION, DEFAULT_POLL_INTERVAL_MS, NfcCtap } from "./nfc.ts";

/** CTAPHID command bytes `call` accepts (the CtapDevice contract is phrased in CTAPHID terms). */
const CMD_MSG = 0x03;
const CMD_CBOR = 0x10;
/** authenticatorGetInfo, the CTAP2 probe. */
const GET_INFO = new Uint8Array([0x04]);

/** Options of {@linkcode CtapPcscDevice.open}. */
export interface CtapPcscDeviceOptions {
  /** Short APDUs + chaining, extended APDUs, or `"auto"` (default; see `ApduLengthMode`). */
  readonly apduMode?: ApduLengthMode;
  /** Pause (ms) between NFCCTAP_GETRESPONSE polls while the card answers 9100 (default 100). */
  readonly pollIntervalMs?: number;
  /** Hold a PC/SC transaction for each call so other programs cannot interleave (default true). */
  readonly transactions?: boolean;
}

/** The FIDO applet could not be selected: the card is not a FIDO authenticator. */
export class NotFidoCardError extends TransportError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "NotFidoCardError";
}

/**
 * A FIDO authenticator on a smart-card reader. Obtain one with {@linkcode CtapPcscDevice.open}
 * (or `listPcscDevices()`); calls are serialized, so concurrent callers never interleave APDUs.
 */
export class CtapPcscDevice implements CtapDevice {
  #capabilities = 0;
  #version = "";
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #nfc: NfcCtap;
  readonly #transactions: boolean;

  /** Prefer {@linkcode CtapPcscDevice.open}, which selects the applet and probes CTAP2. */
  constructor(readonly connection: CardConnection, opts: CtapPcscDeviceOptions = {}) {
    const apdu = new ApduTransport((a) => connection.transmit(a), {
      mode: opts.apduMode,
      atr: connection.atr,
    });
    this.#nfc = new NfcCtap(apdu, opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.#transactions = opts.transactions ?? true;
  }

  /**
   * Selects the FIDO applet on `connection` and decides the capabilities: `FIDO_2_0` means
   * CTAP2 without U2F (NMSG); `U2F_V2` is probed with getInfo (CBOR when it answers). A card
   * without the applet is a {@linkcode NotFidoCardError}; the connection is closed then.
   */
  static async open(
    connection: CardConnection,
    opts: CtapPcscDeviceOptions = {},
  ): Promise<CtapPcscDevice> {
    const device = new CtapPcscDevice(connection, opts);
    try {
      // In a transaction: another program's SELECT cannot slip between ours and the probe.
      await device.#serialize(() => device.#connect());
      return device;
    } catch (e) {
      await Promise.resolve(connection.close()).catch(() => {});
      throw e;
    }
  }

  /** The reader's name. */
  get reader(): string {
    return this.connection.reader;
  }

  /** The card's ATR (contactless: built by the reader from the ATS). */
  get atr(): Uint8Array {
    return this.connection.atr;
  }

  /** CAPABILITY flags: CBOR when CTAP2 answers, NMSG when the applet has no U2F. */
  get capabilities(): number {
    return this.#capabilities;
  }

  /**
   * "nfc" for a contactless card (the ATR a PC/SC reader builds from the ATS, `3B 8n 80 01`
   * per PC/SC part 3 §3.1.3.2.3), else "smart-card" (ISO 7816 contacts): the transport a
   * registration reports besides getInfo's list.
   */
  get transport(): "nfc" | "smart-card" {
    return isContactlessAtr(this.connection.atr) ? "nfc" : "smart-card";
  }

  /** The applet's SELECT answer: `U2F_V2` or `FIDO_2_0`. */
  get appletVersion(): string {
    return this.#version;
  }

  /** Whether the key answered CTAP2 getInfo (CAPABILITY.CBOR). */
  get supportsCbor(): boolean {
    return (this.#capabilities & CAPABILITY.CBOR) !== 0;
  }

  /** Whether the key speaks U2F too (its applet answered SELECT with `U2F_V2`: no NMSG). */
  get supportsMsg(): boolean {
    return (this.#capabilities & CAPABILITY.NMSG) === 0;
  }

  /** 2 when the key speaks CTAP2, else 1 (python-fido2's `version`). */
  get version(): 1 | 2 {
    return this.#capabilities & CAPABILITY.CBOR ? 2 : 1;
  }

  /** Whether long commands go out as extended APDUs (else short APDUs with chaining). */
  get extendedApdus(): boolean {
    return this.#nfc.apdu.extended;
  }

  /** `CtapPcscDevice(reader)`, as python-fido2 prints it. */
  toString(): string {
    return `CtapPcscDevice(${this.reader})`;
  }

  async #connect(): Promise<void> {
    let version: string;
    try {
      version = await this.#nfc.select();
    } catch (e) {
      if (e instanceof ApduError) {
        throw new NotFidoCardError(
          `The card in "${this.reader}" has no FIDO applet (SELECT answered ${
            e.code.toString(16).padStart(4, "0")
          })`,
          { cause: e },
        );
      }
      throw e;
    }
    this.#version = version;
    let caps = 0;
    if (version === APPLET_VERSION.FIDO2) caps |= CAPABILITY.NMSG;
    try {
      const info = await this.#nfc.cbor(GET_INFO);
      if (info[0] === 0) caps |= CAPABILITY.CBOR;
    } catch (e) {
      if (!(e instanceof CtapError)) throw e;
    }
    if (!(caps & CAPABILITY.CBOR) && version !== APPLET_VERSION.U2F) {
      throw new NotFidoCardError(
        `The FIDO applet in "${this.reader}" answered SELECT with ${
          JSON.stringify(version)
        } and does not answer CTAP2 getInfo`,
      );
    }
    this.#capabilities = caps;
  }

  /**
   * CTAPHID_CBOR (0x10) is sent as NFCCTAP_MSG, CTAPHID_MSG (0x03) as the APDU it carries; any
   * other command is `CtapError` INVALID_COMMAND, as NFC has no PING, WINK or LOCK.
   */
  call(
    cmd: number,
    data: Uint8Array = new Uint8Array(0),
    opts: CallOptions = {},
  ): Promise<Uint8Array> {
    if (cmd !== CMD_CBOR && cmd !== CMD_MSG) {
      return Promise.reject(
        new CtapError(
          CTAP_STATUS.INVALID_COMMAND,
          `CTAPHID command 0x${cmd.toString(16)} has no NFC equivalent (only CBOR and MSG)`,
        ),
      );
    }
    return this.#serialize(async () => {
      if (cmd === CMD_MSG) return await this.#nfc.raw(data, opts.signal);
      try {
        return await this.#nfc.cbor(data, opts);
      } catch (e) {
        // A CTAP2 key that suddenly refuses NFCCTAP_MSG had its applet deselected by another
        // program sharing the card (PIV, OpenPGP on the same key): select FIDO again, once.
        if (!this.#deselected(e)) throw e;
        await this.#nfc.select();
        return await this.#nfc.cbor(data, opts);
      }
    });
  }

  #deselected(e: unknown): boolean {
    return this.supportsCbor && e instanceof CtapError &&
      e.code === CTAP_STATUS.INVALID_COMMAND && e.cause instanceof ApduError &&
      (e.cause.code === 0x6d00 || e.cause.code === 0x6e00);
  }

  /** Sends one raw APDU as is (no chaining) and returns response data ‖ SW1 SW2. */
  apduExchange(apdu: Uint8Array): Promise<Uint8Array> {
    return this.#serialize(() => this.connection.transmit(apdu));
  }

  /**
   * Power-cycles the card (unpower, reconnect) and selects the applet again: what python-fido2's
   * `connect()` does after PIN_AUTH_BLOCKED. The key loses its volatile state (PIN/UV tokens,
   * key agreement key, the count of consecutive wrong PINs); PIN retries persist.
   * `Fido2Client` calls it on PIN_AUTH_BLOCKED.
   */
  async reconnect(disposition: Disposition = "unpower"): Promise<void> {
    const connection = this.connection;
    if (!connection.reconnect) throw new TransportError("This card connection cannot reconnect");
    // The power cycle outside a transaction (it would end it), the new SELECT inside one.
    await this.#serialize(() => connection.reconnect!(disposition), false);
    await this.#serialize(() => this.#connect());
  }

  /** Disconnects from the card (leaving it powered); calling it twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => {});
    await this.connection.close();
  }

  #serialize<T>(fn: () => Promise<T>, transaction = true): Promise<T> {
    if (this.#closed) return Promise.reject(new TransportError("The PC/SC device is closed"));
    const run = async () => {
      const tx = transaction && this.#transactions && this.connection.beginTransaction;
      if (tx) await this.connection.beginTransaction!();
      try {
        return await fn();
      } finally {
        if (tx) await this.connection.endTransaction?.().catch(() => {});
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }
}

/** PC/SC part 3 §3.1.3.2.3: a contactless card's ATR is `3B 8n 80 01` ‖ historical bytes ‖ TCK. */
function isContactlessAtr(atr: Uint8Array): boolean {
  return atr.length >= 4 && atr[0] === 0x3b && (atr[1] & 0xf0) === 0x80 && atr[2] === 0x80 &&
    atr[3] === 0x01;
}
