/**
 * PC/SC through FFI: pcsclite (`libpcsclite.so.1`, Linux/BSD), the PCSC framework (macOS) and
 * `winscard.dll` (Windows). Lists readers, connects to cards and moves raw APDUs; the CTAP NFC
 * mapping lives in `src/pcsc/`.
 *
 * The three share an API but not an ABI:
 * - pcsclite: `DWORD`/`LONG` are `unsigned long`/`long` (8 bytes on 64-bit Linux), and so are
 *   `SCARDCONTEXT`/`SCARDHANDLE`; `SCARD_IO_REQUEST` is 16 bytes, `SCARD_READERSTATE` 80.
 * - macOS: 4-byte `DWORD`/`LONG`/handles and `#pragma pack(1)` structs (`SCARD_READERSTATE`
 *   61 bytes).
 * - Windows: 4-byte `DWORD`/`LONG`, pointer-sized handles, UTF-16 `…W` entry points, a 36-byte
 *   ATR buffer (`SCARD_READERSTATEW` 64 bytes), `SCARD_PROTOCOL_RAW` 0x10000.
 * @module
 */
import { FormatError } from "../src/errors.ts";
import type {
  CardConnection,
  Disposition,
  PcscBackend,
  ReaderInfo,
} from "../src/pcsc/connection.ts";
import { pcscError, SCARD } from "../src/pcsc/errors.ts";
import { addressOf, getEnv, LibraryLoadError, openLibrary, platform } from "./runtime.ts";
import {
  abiFor,
  type AnyFn,
  CONST as C,
  Marshal,
  type PcscAbi,
  type PcscLib,
  rc,
  symbolTable,
} from "./pcsc_abi.ts";

export { ABI, abiFor, type PcscAbi } from "./pcsc_abi.ts";

/** Libraries tried in order when no path is given, per `process.platform` value. */
export function defaultLibraryCandidates(os: string = platform()): string[] {
  switch (os) {
    case "win32":
      return ["winscard.dll"];
    case "darwin":
      return ["/System/Library/Frameworks/PCSC.framework/PCSC"];
    default:
      return ["libpcsclite.so.1", "libpcsclite.so", "/usr/local/lib/libpcsclite.so.1"];
  }
}

const INSTALL_HINT = "install pcsc-lite (Debian/Ubuntu: apt-get install pcscd libpcsclite1; " +
  "Fedora: dnf install pcsc-lite) or set FIDO2_PCSC_LIB to the library file";

/** pcsclite's `MAX_BUFFER_SIZE_EXTENDED`: header, 3-byte Lc, 64 KiB data, Le, SW. */
const RECV_BUFFER_SIZE = 4 + 3 + (1 << 16) + 3 + 2;
/** How long a failed exchange waits for pcscd to confirm that the card was removed. */
const REMOVAL_SETTLE_MS = 1500;
/** Readers whose names mean "notify me of new readers", not a reader. */
const PNP_NOTIFICATION = "\\\\?PnP?\\Notification";

/** Options of {@linkcode loadPcsc}. */
export interface LoadPcscOptions {
  /** Library to load instead of the platform's (`FIDO2_PCSC_LIB` does the same). */
  readonly path?: string;
  /** The ABI to assume (default: the running OS's); tests load other layouts through it. */
  readonly abi?: PcscAbi;
}

/**
 * Loads the PC/SC library and establishes a context. Rejects with `LibraryLoadError` when no
 * library loads and a typed `PcscError` (e.g. `ReaderGoneError` for SCARD_E_NO_SERVICE) when
 * the service cannot be reached.
 */
export async function loadPcsc(opts: LoadPcscOptions = {}): Promise<Pcsc> {
  const abi = opts.abi ?? abiFor();
  const explicit = opts.path ?? getEnv("FIDO2_PCSC_LIB");
  const candidates = explicit ? [explicit] : defaultLibraryCandidates();
  let lib: PcscLib;
  try {
    lib = await openLibrary(candidates, symbolTable(abi)) as unknown as PcscLib;
  } catch (e) {
    if (!(e instanceof LibraryLoadError)) throw e;
    if (/--allow-ffi/.test(e.message)) {
      throw new LibraryLoadError(
        "Deno needs --allow-ffi (and --allow-env, --allow-read) to reach PC/SC readers: run " +
          "with those flags or -A",
        { cause: e },
      );
    }
    throw new LibraryLoadError(`No PC/SC library: ${INSTALL_HINT}. ${e.message}`, { cause: e });
  }
  const pcsc = new Pcsc(lib, abi);
  try {
    await pcsc.establish();
  } catch (e) {
    lib.close();
    throw e;
  }
  return pcsc;
}

/**
 * A loaded PC/SC library with one context: lists readers and opens {@linkcode PcscCard}s. The
 * context is released by `close()` once every card connection opened through it is closed.
 */
export class Pcsc implements PcscBackend {
  /** The library file that was loaded. */
  readonly libraryPath: string;
  /** The ABI in use. */
  readonly abi: PcscAbi;
  #ctx: number | bigint = 0;
  #open = new Set<PcscCard>();
  #closing = false;
  #released = false;
  readonly #lib: PcscLib;
  readonly #m: Marshal;
  readonly #fn: Record<string, AnyFn>;

  /** Use {@linkcode loadPcsc}. */
  constructor(lib: PcscLib, abi: PcscAbi) {
    this.#lib = lib;
    this.abi = abi;
    this.libraryPath = lib.path;
    this.#m = new Marshal(abi);
    const w = abi.wide ? "W" : "";
    const s = lib.symbols as Record<string, AnyFn>;
    this.#fn = {
      establish: s.SCardEstablishContext,
      release: s.SCardReleaseContext,
      listReaders: s[`SCardListReaders${w}`],
      getStatusChange: s[`SCardGetStatusChange${w}`],
      connect: s[`SCardConnect${w}`],
      reconnect: s.SCardReconnect,
      disconnect: s.SCardDisconnect,
      begin: s.SCardBeginTransaction,
      end: s.SCardEndTransaction,
      status: s[`SCardStatus${w}`],
      transmit: s.SCardTransmit,
    };
  }

  /** The raw functions, for `PcscCard` (internal). */
  get fn(): Record<string, AnyFn> {
    return this.#fn;
  }

  /** Marshalling helpers, for `PcscCard` (internal). */
  get marshal(): Marshal {
    return this.#m;
  }

  /** (Re-)establishes the context (internal; {@linkcode loadPcsc} calls it). */
  async establish(): Promise<void> {
    const out = new Uint8Array(this.abi.handle);
    const r = rc(await this.#fn.establish(this.#m.dw(C.SCOPE_USER), 0, 0, out));
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardEstablishContext");
    this.#ctx = this.#m.getHandle(out);
  }

  /** Every reader (the PnP pseudo-reader excluded) with its card state. */
  async listReaders(): Promise<ReaderInfo[]> {
    this.#checkOpen();
    let names: string[];
    try {
      names = await this.#readerNames();
    } catch (e) {
      // A context from before a pcscd restart is stale: retry once with a new one.
      const code = (e as { code?: number }).code;
      if (
        code !== SCARD.E_INVALID_HANDLE && code !== SCARD.E_NO_SERVICE &&
        code !== SCARD.E_SERVICE_STOPPED
      ) throw e;
      await this.establish();
      names = await this.#readerNames();
    }
    names = names.filter((n) => n !== PNP_NOTIFICATION);
    if (names.length === 0) return [];
    return await this.#states(names);
  }

  async #readerNames(): Promise<string[]> {
    const unit = this.abi.wide ? 2 : 1;
    for (let attempt = 0; attempt < 4; attempt++) {
      const len = this.#m.dwordBuf(0);
      let r = rc(await this.#fn.listReaders(this.#ctx, 0, 0, len));
      if (r === SCARD.E_NO_READERS_AVAILABLE) return [];
      if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardListReaders");
      const chars = this.#m.getDword(len);
      if (chars === 0) return [];
      const buf = new Uint8Array(chars * unit);
      r = rc(await this.#fn.listReaders(this.#ctx, 0, addressOf(buf), len));
      keep(buf);
      if (r === SCARD.E_INSUFFICIENT_BUFFER) continue; // a reader appeared in between
      if (r === SCARD.E_NO_READERS_AVAILABLE) return [];
      if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardListReaders");
      return this.#m.multiString(buf, this.#m.getDword(len));
    }
    throw pcscError(SCARD.E_INSUFFICIENT_BUFFER, "SCardListReaders");
  }

  async #states(names: string[]): Promise<ReaderInfo[]> {
    const L = this.abi.readerState;
    const strings = names.map((n) => this.#m.str(n));
    const states = new Uint8Array(L.size * names.length);
    const dv = new DataView(states.buffer);
    strings.forEach((s, i) => {
      dv.setBigUint64(i * L.size, BigInt(addressOf(s)), true);
      this.#m.setDword(states, i * L.size + L.currentState, C.STATE_UNAWARE);
    });
    const r = rc(
      await this.#fn.getStatusChange(this.#ctx, this.#m.dw(0), states, this.#m.dw(names.length)),
    );
    keep(strings);
    if (r !== SCARD.S_SUCCESS && r !== SCARD.E_TIMEOUT) throw pcscError(r, "SCardGetStatusChange");
    return names.map((name, i) => {
      const base = i * L.size;
      const event = this.#m.getDword(states, base + L.eventState);
      const atrLen = Math.min(this.#m.getDword(states, base + L.cbAtr), L.atrMax);
      const present = (event & C.STATE_PRESENT) !== 0 && (event & C.STATE_MUTE) === 0;
      return {
        name,
        cardPresent: present,
        atr: present ? states.slice(base + L.rgbAtr, base + L.rgbAtr + atrLen) : undefined,
        exclusive: (event & C.STATE_EXCLUSIVE) !== 0,
      };
    });
  }

  /** Connects to the card in `reader` (T=0 or T=1, shared unless `exclusive`). */
  async connect(reader: string, opts: { readonly exclusive?: boolean } = {}): Promise<PcscCard> {
    this.#checkOpen();
    const name = this.#m.str(reader);
    const handle = new Uint8Array(this.abi.handle);
    const proto = this.#m.dwordBuf(0);
    const share = opts.exclusive ? C.SHARE_EXCLUSIVE : C.SHARE_SHARED;
    const r = rc(
      await this.#fn.connect(
        this.#ctx,
        name,
        this.#m.dw(share),
        this.#m.dw(C.PROTOCOL_T0 | C.PROTOCOL_T1),
        handle,
        proto,
      ),
    );
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardConnect", reader);
    const card = new PcscCard(
      this,
      reader,
      this.#m.getHandle(handle),
      this.#m.getDword(proto),
      share,
    );
    this.#open.add(card);
    try {
      card.refreshAtr();
    } catch (e) {
      await card.close();
      throw e;
    }
    return card;
  }

  /** Called by a card when it disconnects (internal). */
  forget(card: PcscCard): void {
    this.#open.delete(card);
    if (this.#closing && this.#open.size === 0) this.#release();
  }

  /** Releases the context now, or once the last open card closes. */
  close(): void {
    this.#closing = true;
    if (this.#open.size === 0) this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#fn.release(this.#ctx);
  }

  #checkOpen(): void {
    if (this.#closing) throw pcscError(SCARD.E_INVALID_HANDLE, "PC/SC context (closed)");
  }
}

const DISPOSITION: Record<Disposition, number> = {
  leave: C.LEAVE_CARD,
  reset: C.RESET_CARD,
  unpower: C.UNPOWER_CARD,
};

/** One card connection: raw APDUs through `SCardTransmit`. */
export class PcscCard implements CardConnection {
  #atr: Uint8Array = new Uint8Array(0);
  #closed = false;
  #protocol: number;
  readonly #pcsc: Pcsc;
  readonly #handle: number | bigint;
  readonly #share: number;
  readonly #recv = new Uint8Array(RECV_BUFFER_SIZE);

  /** Use {@linkcode Pcsc.connect}. */
  constructor(
    pcsc: Pcsc,
    readonly reader: string,
    handle: number | bigint,
    protocol: number,
    share: number,
  ) {
    this.#pcsc = pcsc;
    this.#handle = handle;
    this.#protocol = protocol;
    this.#share = share;
  }

  /** The card's ATR as of the last connect or reconnect. */
  get atr(): Uint8Array {
    return this.#atr;
  }

  /** The active protocol (`SCARD_PROTOCOL_T0` 1 or `SCARD_PROTOCOL_T1` 2). */
  get protocol(): number {
    return this.#protocol;
  }

  /** Reads the ATR with `SCardStatus` (internal). */
  refreshAtr(): void {
    const m = this.#pcsc.marshal;
    const atrMax = this.#pcsc.abi.readerState.atrMax;
    const nameLen = m.dwordBuf(0);
    const state = m.dwordBuf(0);
    const proto = m.dwordBuf(0);
    const atr = new Uint8Array(atrMax);
    const atrLen = m.dwordBuf(atrMax);
    const r = rc(this.#pcsc.fn.status(this.#handle, 0, nameLen, state, proto, atr, atrLen));
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardStatus", this.reader);
    this.#atr = atr.slice(0, Math.min(m.getDword(atrLen), atrMax));
  }

  /** Sends one APDU; resolves with response data ‖ SW1 SW2. */
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    if (apdu.length < 4 || apdu.length > RECV_BUFFER_SIZE) {
      throw new FormatError(`APDU of ${apdu.length} bytes cannot be sent`);
    }
    const m = this.#pcsc.marshal;
    const pci = m.ioRequest(this.#protocol);
    const len = m.dwordBuf(this.#recv.length);
    const r = rc(
      await this.#pcsc.fn.transmit(this.#handle, pci, apdu, m.dw(apdu.length), 0, this.#recv, len),
    );
    const n = r === SCARD.S_SUCCESS ? m.getDword(len) : 0;
    if (r === SCARD.S_SUCCESS && n >= 2 && n <= this.#recv.length) return this.#recv.slice(0, n);
    // A failed or empty exchange: if the card has left, say so (pcscd may report the removal
    // only once its next poll of the reader notices it).
    await this.#throwIfRemoved();
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardTransmit", this.reader);
    throw pcscError(SCARD.F_COMM_ERROR, `SCardTransmit (${n}-byte response)`, this.reader);
  }

  /** Polls SCardStatus for up to `REMOVAL_SETTLE_MS`; throws its error when the card is gone. */
  async #throwIfRemoved(): Promise<void> {
    const deadline = Date.now() + REMOVAL_SETTLE_MS;
    while (true) {
      try {
        this.refreshAtr();
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (
          code === SCARD.W_REMOVED_CARD || code === SCARD.W_RESET_CARD ||
          code === SCARD.W_UNPOWERED_CARD || code === SCARD.E_NO_SMARTCARD ||
          code === SCARD.E_READER_UNAVAILABLE
        ) {
          throw pcscError(
            code === SCARD.E_NO_SMARTCARD ? SCARD.W_REMOVED_CARD : code,
            "SCardTransmit",
            this.reader,
          );
        }
        return;
      }
      if (Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resets or power-cycles the card and reconnects (refreshing the ATR). */
  async reconnect(disposition: Disposition = "reset"): Promise<void> {
    this.#checkOpen();
    const m = this.#pcsc.marshal;
    const proto = m.dwordBuf(0);
    const r = rc(
      await this.#pcsc.fn.reconnect(
        this.#handle,
        m.dw(this.#share),
        m.dw(C.PROTOCOL_T0 | C.PROTOCOL_T1),
        m.dw(DISPOSITION[disposition]),
        proto,
      ),
    );
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardReconnect", this.reader);
    this.#protocol = m.getDword(proto);
    this.refreshAtr();
  }

  /** `SCardBeginTransaction`: other connections wait until the transaction ends. */
  async beginTransaction(): Promise<void> {
    this.#checkOpen();
    const r = rc(await this.#pcsc.fn.begin(this.#handle));
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardBeginTransaction", this.reader);
  }

  /** `SCardEndTransaction`, leaving the card as it is. */
  async endTransaction(): Promise<void> {
    if (this.#closed) return;
    const r = rc(await this.#pcsc.fn.end(this.#handle, this.#pcsc.marshal.dw(C.LEAVE_CARD)));
    if (r !== SCARD.S_SUCCESS) throw pcscError(r, "SCardEndTransaction", this.reader);
  }

  /** Disconnects (default: leave the card powered); calling it twice is harmless. */
  async close(disposition: Disposition = "leave"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pcsc.fn.disconnect(this.#handle, this.#pcsc.marshal.dw(DISPOSITION[disposition]));
    } finally {
      this.#pcsc.forget(this);
    }
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw pcscError(SCARD.E_INVALID_HANDLE, "PC/SC card connection (closed)", this.reader);
    }
  }
}

// Keeps buffers whose addresses were handed to native code reachable until this point.
function keep(_: unknown): void {}
