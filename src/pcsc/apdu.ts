/**
 * ISO/IEC 7816-4 APDUs: short and extended encoding, command chaining (CLA bit 0x10), response
 * chaining (`61xx` + GET RESPONSE) and the fallback between short and extended length. Knows
 * nothing about FIDO; `nfc.ts` builds the CTAP mapping on top.
 * @module
 */
import { AbortError, ApduError, FormatError, TransportError } from "../errors.ts";
import { concat } from "../utils.ts";

/** Status words used by the FIDO mappings (ISO 7816-4 §5.6 and CTAP 2.1 §11.3). */
export const SW = {
  OK: 0x9000,
  /** CTAP NFC: "still processing", poll with NFCCTAP_GETRESPONSE (CTAP 2.1 §11.3.7). */
  STATUS_UPDATE: 0x9100,
  WRONG_LENGTH: 0x6700,
  LAST_COMMAND_EXPECTED: 0x6883,
  CHAINING_NOT_SUPPORTED: 0x6884,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  INCORRECT_P1P2: 0x6a86,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
} as const;

/** SW1 of "more response bytes available: GET RESPONSE with Le = SW2". */
export const SW1_MORE_DATA = 0x61;
/** SW1 of "wrong Le: resend with Le = SW2". */
export const SW1_WRONG_LE = 0x6c;
/** CLA bit marking a command chain's non-final APDU. */
export const CLA_CHAINING = 0x10;
/** INS of GET RESPONSE. */
export const INS_GET_RESPONSE = 0xc0;

/** A command APDU, decoded. */
export interface CommandApdu {
  /** Class byte (0x80 for NFCCTAP; bit 0x10 marks a chained piece). */
  readonly cla: number;
  /** Instruction byte. */
  readonly ins: number;
  /** Parameter 1. */
  readonly p1: number;
  /** Parameter 2. */
  readonly p2: number;
  /** Command data (Lc bytes). */
  readonly data: Uint8Array;
  /** Expected response length Ne (absent: no response data expected). 256 / 65536 = max. */
  readonly le?: number;
}

/** A response APDU split into data and status word. */
export interface ResponseApdu {
  /** Response data (all of it, after GET RESPONSE chaining). */
  readonly data: Uint8Array;
  /** The final status word, SW1 << 8 | SW2. */
  readonly sw: number;
}

function checkHeader(cla: number, ins: number, p1: number, p2: number): void {
  for (const [v, what] of [[cla, "CLA"], [ins, "INS"], [p1, "P1"], [p2, "P2"]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new FormatError(`${what} must be a byte`);
  }
}

/** Encodes a short APDU (Lc ≤ 255, Ne ≤ 256; Ne 256 is written as 00). */
export function encodeShort(c: CommandApdu): Uint8Array {
  checkHeader(c.cla, c.ins, c.p1, c.p2);
  if (c.data.length > 255) throw new FormatError("short APDU data longer than 255 bytes");
  if (c.le !== undefined && !(Number.isInteger(c.le) && c.le >= 1 && c.le <= 256)) {
    throw new FormatError("short APDU Le must be 1..256");
  }
  const parts = [c.cla, c.ins, c.p1, c.p2];
  if (c.data.length) parts.push(c.data.length);
  const head = new Uint8Array(parts);
  const tail = c.le === undefined ? new Uint8Array(0) : new Uint8Array([c.le & 0xff]);
  return concat(head, c.data, tail);
}

/** Encodes an extended-length APDU (Lc ≤ 65535, Ne ≤ 65536; Ne 65536 is written as 0000). */
export function encodeExtended(c: CommandApdu): Uint8Array {
  checkHeader(c.cla, c.ins, c.p1, c.p2);
  if (c.data.length > 0xffff) throw new FormatError("APDU data longer than 65535 bytes");
  if (c.le !== undefined && !(Number.isInteger(c.le) && c.le >= 1 && c.le <= 65536)) {
    throw new FormatError("extended APDU Le must be 1..65536");
  }
  const head = [c.cla, c.ins, c.p1, c.p2];
  const lc = c.data.length ? [0, c.data.length >> 8, c.data.length & 0xff] : [];
  const le = c.le === undefined
    ? []
    : [...(c.data.length ? [] : [0]), (c.le >> 8) & 0xff, c.le & 0xff];
  return concat(new Uint8Array([...head, ...lc]), c.data, new Uint8Array(le));
}

/**
 * Decodes a command APDU in any of the ISO 7816-4 cases, short or extended (what
 * `Ctap1.sendApdu` hands a device as CTAPHID_MSG). Malformed input is a `FormatError`.
 */
export function parseCommand(apdu: Uint8Array): CommandApdu {
  if (apdu.length < 4) throw new FormatError(`APDU of ${apdu.length} bytes has no header`);
  const [cla, ins, p1, p2] = apdu;
  const body = apdu.subarray(4);
  const n = body.length;
  const empty = new Uint8Array(0);
  if (n === 0) return { cla, ins, p1, p2, data: empty }; // case 1
  if (n === 1) return { cla, ins, p1, p2, data: empty, le: body[0] || 256 }; // case 2S
  if (body[0] !== 0) {
    const lc = body[0];
    if (n === 1 + lc) return { cla, ins, p1, p2, data: body.slice(1) }; // case 3S
    if (n === 2 + lc) {
      return { cla, ins, p1, p2, data: body.slice(1, 1 + lc), le: body[1 + lc] || 256 }; // 4S
    }
    throw new FormatError(`short APDU: Lc ${lc} does not match ${n - 1} body bytes`);
  }
  if (n === 3) return { cla, ins, p1, p2, data: empty, le: ((body[1] << 8) | body[2]) || 65536 }; // 2E
  if (n < 3) throw new FormatError("extended APDU: truncated length field");
  const lc = (body[1] << 8) | body[2];
  if (lc === 0) {
    // `00 0000 Le(2)`: what Ctap1/python-fido2 send for a command without data (U2F VERSION).
    if (n === 5) return { cla, ins, p1, p2, data: empty, le: ((body[3] << 8) | body[4]) || 65536 };
    throw new FormatError("extended APDU: Lc of 0");
  }
  if (n === 3 + lc) return { cla, ins, p1, p2, data: body.slice(3) }; // case 3E
  if (n === 5 + lc) {
    const le = (body[3 + lc] << 8) | body[4 + lc];
    return { cla, ins, p1, p2, data: body.slice(3, 3 + lc), le: le || 65536 }; // case 4E
  }
  throw new FormatError(`extended APDU: Lc ${lc} does not match ${n - 3} body bytes`);
}

/** Splits a response into data and SW; fewer than two bytes is a `FormatError`. */
export function splitResponse(resp: Uint8Array): ResponseApdu {
  if (resp.length < 2) {
    throw new FormatError(`response APDU of ${resp.length} bytes has no status word`);
  }
  return {
    data: resp.slice(0, -2),
    sw: (resp[resp.length - 2] << 8) | resp[resp.length - 1],
  };
}

/** Sends one raw APDU and returns the raw response (data ‖ SW1 SW2). */
export type Transmit = (apdu: Uint8Array) => Promise<Uint8Array>;

/**
 * How commands longer than a short APDU are sent: `"auto"` picks from the card's ATR (extended
 * when it advertises extended Lc/Le, otherwise short + chaining) and switches once when the card
 * refuses the other form; `"short"` / `"extended"` force one form.
 */
export type ApduLengthMode = "auto" | "short" | "extended";

/** Options of {@linkcode ApduTransport}. */
export interface ApduTransportOptions {
  /** Default `"auto"`. */
  readonly mode?: ApduLengthMode;
  /** The card's ATR, consulted in `"auto"` mode. */
  readonly atr?: Uint8Array;
  /** Data bytes per chained short APDU (default 250, as python-fido2; at most 255). */
  readonly chunkSize?: number;
}

/** Upper bound on GET RESPONSE rounds: 64 KiB in 1-byte pieces is a card gone wrong. */
const MAX_GET_RESPONSE = 1024;

/**
 * Whether an ATR's historical bytes advertise extended Lc/Le (ISO 7816-4 §8.1.1.2.7: compact-TLV
 * "card capabilities", tag 7, third software-function byte bit 0x40). Contactless ATRs that
 * PC/SC readers build from an ATS carry whatever the card put there.
 */
export function atrSupportsExtended(atr: Uint8Array | undefined): boolean {
  const hist = historicalBytes(atr);
  if (!hist || hist[0] !== 0x80) return false;
  for (let i = 1; i < hist.length;) {
    const tag = hist[i] >> 4;
    const len = hist[i] & 0x0f;
    if (tag === 0x7 && len >= 3 && i + 3 < hist.length) return (hist[i + 3] & 0x40) !== 0;
    i += 1 + len;
  }
  return false;
}

/** The historical bytes of an ATR (ISO 7816-3 §8.2), or undefined when it is malformed. */
export function historicalBytes(atr: Uint8Array | undefined): Uint8Array | undefined {
  if (!atr || atr.length < 2) return undefined;
  const k = atr[1] & 0x0f;
  let y = atr[1] >> 4;
  let i = 2;
  while (true) {
    for (let bit = 0; bit < 4; bit++) if (y & (1 << bit)) i++;
    if (!(y & 0x8)) break;
    if (i - 1 >= atr.length) return undefined;
    y = atr[i - 1] >> 4;
  }
  if (i + k > atr.length) return undefined;
  return atr.slice(i, i + k);
}

/**
 * Exchanges logical commands with a card over raw APDUs: splits long data into a command chain
 * or an extended APDU, follows `61xx` with GET RESPONSE and `6Cxx` with a corrected Le, and in
 * `"auto"` mode switches form once when the card refuses the one tried.
 */
export class ApduTransport {
  #extended: boolean;
  #switched = false;
  readonly #mode: ApduLengthMode;
  readonly #chunk: number;

  /** Wraps `transmit` (one raw APDU in, one raw response out). */
  constructor(readonly transmit: Transmit, opts: ApduTransportOptions = {}) {
    this.#mode = opts.mode ?? "auto";
    this.#chunk = opts.chunkSize ?? 250;
    if (!(Number.isInteger(this.#chunk) && this.#chunk >= 1 && this.#chunk <= 255)) {
      throw new RangeError("chunkSize must be 1..255");
    }
    this.#extended = this.#mode === "extended" ||
      (this.#mode === "auto" && atrSupportsExtended(opts.atr));
  }

  /** Whether long commands currently go out as extended APDUs (else short + chaining). */
  get extended(): boolean {
    return this.#extended;
  }

  /**
   * Sends one logical command (data of any length up to 65535 bytes, response of any length)
   * and returns its final data and status word. Never throws on a status word.
   */
  async exchange(cmd: CommandApdu, signal?: AbortSignal): Promise<ResponseApdu> {
    if (cmd.data.length > 0xffff) throw new FormatError("APDU data longer than 65535 bytes");
    const r = this.#extended
      ? await this.#sendExtended(cmd, signal)
      : await this.#sendShort(cmd, signal);
    if (this.#mode === "auto" && !this.#switched && this.#refused(r)) {
      // The card refused this form before executing anything: remember and resend once.
      this.#switched = true;
      this.#extended = !this.#extended;
      return this.exchange(cmd, signal);
    }
    return r;
  }

  #refused(r: ResponseApdu & { chained?: boolean; extendedSent?: boolean }): boolean {
    if (this.#extended) return !!r.extendedSent && r.sw === SW.WRONG_LENGTH;
    return !!r.chained &&
      (r.sw === SW.CHAINING_NOT_SUPPORTED || r.sw === SW.LAST_COMMAND_EXPECTED ||
        r.sw === SW.CLA_NOT_SUPPORTED);
  }

  async #sendShort(cmd: CommandApdu, signal?: AbortSignal) {
    let data = cmd.data;
    let chained = false;
    while (data.length > 255) {
      checkAborted(signal);
      const piece = data.subarray(0, this.#chunk);
      data = data.subarray(this.#chunk);
      const r = splitResponse(
        await this.transmit(
          encodeShort({ ...cmd, cla: cmd.cla | CLA_CHAINING, data: piece, le: undefined }),
        ),
      );
      chained = true;
      if (r.sw !== SW.OK) return { ...r, chained };
    }
    checkAborted(signal);
    const r = await this.#collect(encodeShort(shortLe({ ...cmd, data })), signal);
    return { ...r, chained };
  }

  async #sendExtended(cmd: CommandApdu, signal?: AbortSignal) {
    checkAborted(signal);
    // The short form when it carries everything (SELECT, small commands with small answers):
    // a reader that cannot transport extended APDUs still gets those through.
    const fitsShort = cmd.data.length <= 255 && (cmd.le === undefined || cmd.le <= 256);
    const apdu = fitsShort ? encodeShort(cmd) : encodeExtended(cmd);
    return { ...await this.#collect(apdu, signal), extendedSent: !fitsShort };
  }

  /** Sends `apdu`, then follows 6Cxx and 61xx until the final status word. */
  async #collect(apdu: Uint8Array, signal?: AbortSignal): Promise<ResponseApdu> {
    let r = splitResponse(await this.transmit(apdu));
    if ((r.sw >> 8) === SW1_WRONG_LE && apdu.length >= 5) {
      const fixed = apdu.slice();
      fixed[fixed.length - 1] = r.sw & 0xff;
      r = splitResponse(await this.transmit(fixed));
    }
    const parts = [r.data];
    let rounds = 0;
    while ((r.sw >> 8) === SW1_MORE_DATA) {
      if (++rounds > MAX_GET_RESPONSE) {
        throw new TransportError(
          `card kept answering 61xx after ${MAX_GET_RESPONSE} GET RESPONSEs`,
        );
      }
      checkAborted(signal);
      r = splitResponse(
        await this.transmit(new Uint8Array([0x00, INS_GET_RESPONSE, 0x00, 0x00, r.sw & 0xff])),
      );
      parts.push(r.data);
    }
    return { data: parts.length === 1 ? parts[0] : concat(...parts), sw: r.sw };
  }
}

/** `cmd` with Le capped to what a short APDU can ask for. */
function shortLe(cmd: CommandApdu): CommandApdu {
  return cmd.le === undefined || cmd.le <= 256 ? cmd : { ...cmd, le: 256 };
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/** Throws `ApduError` unless `r.sw` is 9000; returns the data. */
export function expectOk(r: ResponseApdu): Uint8Array {
  if (r.sw !== SW.OK) throw new ApduError(r.sw, r.data);
  return r.data;
}
