/**
 * The ISO 7816-4 front end of the virtual authenticator: the FIDO applet of an NFC or
 * contact smart card as CTAP 2.1 §11.3 ("ISO7816, ISO14443 and NFC") maps it, over the same
 * `CtapProcessor` the CTAPHID server drives. `vpcd.ts` connects it to a PC/SC reader.
 * @module
 */
import { AbortError } from "../errors.ts";
import { CAPABILITY, CTAP_STATUS, CtapError } from "../ctap.ts";
import { bytesEqual, concat, u16be } from "../utils.ts";
import { AID_FIDO, NFCCTAP } from "../pcsc/nfc.ts";
import type { CtapProcessor, RequestContext } from "./types.ts";
import { type Apdu, ApduStatus, parseApdu } from "./u2f.ts";

/** The FIDO applet AID (CTAP 2.1 §11.3.3); the client's constant, under the card's name. */
export const FIDO_AID: Uint8Array = AID_FIDO;

/** ISO 7816-4 status words the card answers with. */
export const SW = {
  NO_ERROR: 0x9000,
  /** NFCCTAP status update: still processing, the data byte is the keepalive status. */
  CTAP_UPDATE: 0x9100,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  LAST_COMMAND_OF_CHAIN_EXPECTED: 0x6883,
  CHAINING_NOT_SUPPORTED: 0x6884,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  FILE_NOT_FOUND: 0x6a82,
  INCORRECT_P1P2: 0x6a86,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

const INS = {
  SELECT: 0xa4,
  GET_RESPONSE: 0xc0,
  NFCCTAP_MSG: NFCCTAP.MSG,
  NFCCTAP_GETRESPONSE: NFCCTAP.GETRESPONSE,
  U2F_REGISTER: 0x01,
  U2F_AUTHENTICATE: 0x02,
  U2F_VERSION: 0x03,
} as const;

const { P1_GETRESPONSE_SUPPORTED, P1_CANCEL } = NFCCTAP;
/** Keepalive status PROCESSING (CTAP 2.1 §11.2.9.1.4). */
const STATUS_PROCESSING = 1;
/** The largest command a chain may build (an extended APDU's Lc limit). */
const MAX_COMMAND = 0xffff;

/** A parsed command APDU (ISO 7816-4 §5.1). */
export interface CommandApdu {
  /** Class byte as sent (chaining bit included). */
  readonly cla: number;
  /** Instruction byte. */
  readonly ins: number;
  /** Parameter 1. */
  readonly p1: number;
  /** Parameter 2. */
  readonly p2: number;
  /** Command data (empty when Lc is absent). */
  readonly data: Uint8Array;
  /** Ne: the most response bytes the client accepts; 0 when Le is absent. */
  readonly ne: number;
  /** Whether the APDU used the extended length encoding. */
  readonly extended: boolean;
}

/** Thrown by {@linkcode parseCommandApdu} for a malformed APDU; `sw` is the status to answer. */
export class ApduFormatError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "ApduFormatError";
  /** The ISO 7816 status word a card answers this APDU with. */
  readonly sw: number;
  /** `sw` is the status word a card answers with (6700 for a length mismatch). */
  constructor(message: string, sw: number = SW.WRONG_LENGTH) {
    super(message);
    this.sw = sw;
  }
}

/**
 * Parses the four ISO 7816-4 cases in short and extended form (the U2F core's parser, which
 * the CTAPHID path uses too). A length that does not match the APDU's size is
 * `ApduFormatError` (6700), as a card answers it.
 */
export function parseCommandApdu(apdu: Uint8Array): CommandApdu {
  let parsed: Apdu;
  try {
    parsed = parseApdu(apdu);
  } catch (e) {
    if (e instanceof ApduStatus) throw new ApduFormatError(e.message, e.sw);
    throw e;
  }
  const { cla, ins, p1, p2, data, le } = parsed;
  // Extended: a zero byte where a short APDU has its Lc or Le, followed by more.
  return { cla, ins, p1, p2, data, ne: le, extended: apdu.length > 5 && apdu[4] === 0 };
}

/**
 * Builds an ATR the way a PC/SC contactless reader reports an ISO 14443-4 card (PC/SC part 3
 * §3.1.3.2.3: `3B 8n 80 01` ‖ historical bytes ‖ TCK). The historical bytes are a compact-TLV
 * card-capabilities object (command chaining, extended Lc/Le when `extendedLength`) and the
 * issuer data `name`.
 */
export function contactlessAtr(name = "x/fido2", extendedLength = true): Uint8Array {
  const issuer = new TextEncoder().encode(name);
  if (issuer.length > 9) throw new RangeError("ATR issuer name longer than 9 bytes");
  const historical = [
    0x80, // category indicator: compact-TLV objects follow
    0x73,
    0xc0,
    0x21,
    extendedLength ? 0xc0 : 0x80, // card capabilities: chaining (0x80), extended Lc/Le (0x40)
    0x50 | issuer.length,
    ...issuer,
  ];
  const body = [0x80 | historical.length, 0x80, 0x01, ...historical];
  const tck = body.reduce((x, b) => x ^ b, 0);
  return new Uint8Array([0x3b, ...body, tck]);
}

/** Options of a {@linkcode CtapCard}. */
export interface CtapCardOptions {
  /**
   * How long a NFCCTAP_MSG or NFCCTAP_GETRESPONSE waits for the result before the card answers
   * 9100 (still processing) to a client that announced GETRESPONSE support. Default 100 ms.
   */
  readonly statusDelayMs?: number;
  /**
   * Accept extended-length APDUs (default true, as CTAP 2.1 §11.3.5 requires of an
   * authenticator). `false` plays a card that answers them 6700 (wrong length).
   */
  readonly extendedLength?: boolean;
  /** The ATR; default {@linkcode contactlessAtr}. */
  readonly atr?: Uint8Array;
  /** Sees every command APDU and its response (for logging, as `pcscd --apdu` would). */
  readonly trace?: (command: Uint8Array, response: Uint8Array) => void;
  /**
   * The AuthenticatorTransport the card is reached over (default "nfc", matching the
   * contactless ATR); a key whose getInfo `transports` is not set explicitly lists it.
   */
  readonly transport?: "nfc" | "smart-card";
}

interface Running {
  readonly ctl: AbortController;
  status: number;
  result?: Uint8Array;
  readonly done: Promise<Uint8Array>;
}

interface Chain {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly parts: Uint8Array[];
  size: number;
}

/**
 * The FIDO applet of a smart card over a `CtapProcessor`: SELECT, NFCCTAP_MSG,
 * NFCCTAP_GETRESPONSE (with 9100 status updates and cancellation), U2F APDUs, command
 * chaining, response chaining (61xx + GET RESPONSE) and extended length. `transmit` takes
 * one command APDU and resolves with one response APDU (data ‖ SW1 SW2), as a card does.
 */
export class CtapCard {
  /** The command processor (the authenticator core). */
  readonly processor: CtapProcessor;
  /** The Answer To Reset the reader reports. */
  readonly atr: Uint8Array;
  readonly #statusDelayMs: number;
  readonly #extendedLength: boolean;
  readonly #trace?: (command: Uint8Array, response: Uint8Array) => void;
  #powered = true;
  #selected = false;
  #chain?: Chain;
  #remaining?: { data: Uint8Array; sw: number };
  #running?: Running;
  #queue: Promise<unknown> = Promise.resolve();

  /** `processor` is usually `VirtualAuthenticator.authenticator`. */
  constructor(processor: CtapProcessor, options: CtapCardOptions = {}) {
    this.processor = processor;
    this.#statusDelayMs = options.statusDelayMs ?? 100;
    this.#extendedLength = options.extendedLength ?? true;
    this.#trace = options.trace;
    this.atr = options.atr ?? contactlessAtr("x/fido2", this.#extendedLength);
    processor.servedOver?.(options.transport ?? "nfc");
  }

  /** Whether the FIDO applet is selected. */
  get selected(): boolean {
    return this.#selected;
  }

  /** Whether the card is powered (a reader powers it on before the first APDU). */
  get powered(): boolean {
    return this.#powered;
  }

  /** The version string SELECT answers: `U2F_V2` when U2F is served, else `FIDO_2_0`. */
  get version(): string {
    return this.processor.capabilities & CAPABILITY.NMSG ? "FIDO_2_0" : "U2F_V2";
  }

  /**
   * Power on (cold reset): a fresh card with no applet selected. Coming from power off, the
   * authenticator already lost its volatile state then; a card that was on is power-cycled.
   */
  powerOn(): void {
    if (this.#powered) this.#powerLoss();
    this.#clear();
    this.#powered = true;
  }

  /**
   * Power off (the key left the field, or the reader unpowered it): drops the selection,
   * cancels a running command and power-cycles the authenticator, which loses its
   * pinUvAuthTokens, key agreement key, PIN_AUTH_BLOCKED state and getNextAssertion state
   * (CTAP 2.1 §6.5.2.2) while PIN retries and credentials persist. APDUs get 6985 until
   * power on.
   */
  powerOff(): void {
    if (this.#powered) this.#powerLoss();
    this.#clear();
    this.#powered = false;
  }

  /**
   * Reset (warm or cold): an NFC key has no power of its own, so a reset that restarts it is a
   * power cycle of the authenticator as well.
   */
  reset(): void {
    this.#powerLoss();
    this.#clear();
    this.#powered = true;
  }

  #powerLoss(): void {
    this.#abort();
    this.processor.powerCycle?.();
  }

  /** Processes one command APDU; APDUs are handled one at a time, in order. */
  transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const next = this.#queue.then(async () => {
      const response = await this.#transmit(apdu);
      this.#trace?.(apdu, response);
      return response;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  #clear(): void {
    this.#selected = false;
    this.#chain = undefined;
    this.#remaining = undefined;
    this.#abort();
  }

  #abort(): void {
    const r = this.#running;
    this.#running = undefined;
    r?.ctl.abort(new AbortError("The card was reset or a new command arrived"));
  }

  async #transmit(raw: Uint8Array): Promise<Uint8Array> {
    if (!this.#powered) return u16be(SW.CONDITIONS_NOT_SATISFIED);
    let apdu: CommandApdu;
    try {
      apdu = parseCommandApdu(raw);
    } catch (e) {
      this.#chain = undefined;
      return u16be(e instanceof ApduFormatError ? e.sw : SW.UNKNOWN);
    }
    if (apdu.extended && !this.#extendedLength) {
      this.#chain = undefined;
      return u16be(SW.WRONG_LENGTH);
    }
    // GET RESPONSE continues a response chain; anything else ends it.
    if ((apdu.cla & ~0x10) === 0x00 && apdu.ins === INS.GET_RESPONSE) {
      return this.#getResponse(apdu);
    }
    this.#remaining = undefined;
    if (apdu.cla & 0x0c) return u16be(SW.SECURE_MESSAGING_NOT_SUPPORTED);
    if (apdu.cla & 0x03) return u16be(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
    const cls = apdu.cla & ~0x10;
    if (cls !== 0x00 && cls !== 0x80) return u16be(SW.CLA_NOT_SUPPORTED);
    // Before SELECT no application handles FIDO instructions, chained or not (as on a real
    // card, whose default application is not the FIDO applet).
    if (!this.#selected && !(cls === 0x00 && apdu.ins === INS.SELECT)) {
      this.#chain = undefined;
      return u16be(SW.INS_NOT_SUPPORTED);
    }
    const full = this.#chainStep(apdu);
    if (full instanceof Uint8Array) return full;
    return await this.#dispatch(full);
  }

  /** Command chaining (ISO 7816-4 §5.1.1.1): collects links, returns the whole command. */
  #chainStep(apdu: CommandApdu): CommandApdu | Uint8Array {
    const chaining = (apdu.cla & 0x10) !== 0;
    const chain = this.#chain;
    const cla = apdu.cla & ~0x10;
    if (chain) {
      const same = chain.cla === cla && chain.ins === apdu.ins && chain.p1 === apdu.p1 &&
        chain.p2 === apdu.p2;
      if (!same) {
        this.#chain = undefined;
        return u16be(SW.LAST_COMMAND_OF_CHAIN_EXPECTED);
      }
    }
    if (!chaining && !chain) return apdu;
    if (!this.#chainable(cla, apdu.ins)) {
      this.#chain = undefined;
      return u16be(SW.CHAINING_NOT_SUPPORTED);
    }
    const c = chain ?? { cla, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, parts: [], size: 0 };
    c.parts.push(apdu.data);
    c.size += apdu.data.length;
    if (c.size > MAX_COMMAND) {
      this.#chain = undefined;
      return u16be(SW.WRONG_LENGTH);
    }
    if (chaining) {
      this.#chain = c;
      return u16be(SW.NO_ERROR);
    }
    this.#chain = undefined;
    return { ...apdu, cla, data: concat(...c.parts) };
  }

  #chainable(cla: number, ins: number): boolean {
    if (cla === 0x80) return ins === INS.NFCCTAP_MSG;
    return ins === INS.U2F_REGISTER || ins === INS.U2F_AUTHENTICATE ||
      ins === INS.U2F_VERSION;
  }

  #dispatch(apdu: CommandApdu): Promise<Uint8Array> | Uint8Array {
    if (apdu.cla === 0x00 && apdu.ins === INS.SELECT) return this.#select(apdu);
    const caps = this.processor.capabilities;
    if (apdu.cla === 0x80) {
      // A U2F-only applet knows no proprietary class (U2F NFC §: CLA 00 only).
      if (!(caps & CAPABILITY.CBOR)) return u16be(SW.CLA_NOT_SUPPORTED);
      if (apdu.ins === INS.NFCCTAP_MSG) return this.#ctapMsg(apdu);
      if (apdu.ins === INS.NFCCTAP_GETRESPONSE) return this.#ctapGetResponse(apdu);
      return u16be(SW.INS_NOT_SUPPORTED);
    }
    if (
      apdu.ins === INS.U2F_REGISTER || apdu.ins === INS.U2F_AUTHENTICATE ||
      apdu.ins === INS.U2F_VERSION
    ) {
      if (caps & CAPABILITY.NMSG) return u16be(SW.INS_NOT_SUPPORTED);
      return this.#u2f(apdu);
    }
    return u16be(SW.INS_NOT_SUPPORTED);
  }

  #select(apdu: CommandApdu): Uint8Array {
    if (apdu.p1 !== 0x04 || (apdu.p2 !== 0x00 && apdu.p2 !== 0x0c)) {
      return u16be(SW.INCORRECT_P1P2);
    }
    if (!bytesEqual(apdu.data, FIDO_AID)) return u16be(SW.FILE_NOT_FOUND);
    // Re-selecting restarts the applet: a command in progress is dropped.
    this.#abort();
    this.#selected = true;
    const version = new TextEncoder().encode(this.version);
    return this.#respond(version, SW.NO_ERROR, limit(apdu));
  }

  async #u2f(apdu: CommandApdu): Promise<Uint8Array> {
    this.#abort();
    // The U2F core parses extended APDUs: re-encode what may have arrived short or chained.
    const n = apdu.data.length;
    const encoded = concat(
      new Uint8Array([0x00, apdu.ins, apdu.p1, apdu.p2, 0x00]),
      n ? new Uint8Array([n >> 8, n & 0xff]) : new Uint8Array(0),
      apdu.data,
      new Uint8Array([0x00, 0x00]),
    );
    const ctl = new AbortController();
    let response: Uint8Array;
    try {
      response = await this.processor.processMsg(encoded, {
        signal: ctl.signal,
        keepalive() {},
      });
    } catch {
      response = u16be(SW.UNKNOWN);
    }
    if (response.length < 2) return u16be(SW.UNKNOWN);
    const sw = (response[response.length - 2] << 8) | response[response.length - 1];
    return this.#respond(response.subarray(0, response.length - 2), sw, limit(apdu));
  }

  #ctapMsg(apdu: CommandApdu): Promise<Uint8Array> | Uint8Array {
    if ((apdu.p1 & ~P1_GETRESPONSE_SUPPORTED) !== 0 || apdu.p2 !== 0) {
      return u16be(SW.INCORRECT_P1P2);
    }
    if (apdu.data.length === 0) return u16be(SW.WRONG_LENGTH);
    // A new message replaces one whose result was never collected.
    this.#abort();
    const ctl = new AbortController();
    const running: Running = {
      ctl,
      status: STATUS_PROCESSING,
      done: undefined as unknown as Promise<Uint8Array>,
    };
    const ctx: RequestContext = {
      signal: ctl.signal,
      keepalive(status: number) {
        running.status = status;
      },
    };
    (running as { done: Promise<Uint8Array> }).done = this.processor
      .processCbor(apdu.data, ctx)
      .catch((e) => {
        if (e instanceof CtapError) return new Uint8Array([e.code]);
        if (e instanceof AbortError) return new Uint8Array([CTAP_STATUS.KEEPALIVE_CANCEL]);
        return new Uint8Array([CTAP_STATUS.OTHER]);
      })
      .then((r) => (running.result = r));
    this.#running = running;
    const updates = (apdu.p1 & P1_GETRESPONSE_SUPPORTED) !== 0;
    return this.#await(running, updates, limit(apdu));
  }

  #ctapGetResponse(apdu: CommandApdu): Promise<Uint8Array> | Uint8Array {
    if ((apdu.p1 !== 0x00 && apdu.p1 !== P1_CANCEL) || apdu.p2 !== 0) {
      return u16be(SW.INCORRECT_P1P2);
    }
    const running = this.#running;
    if (!running) return u16be(SW.CONDITIONS_NOT_SATISFIED);
    if (apdu.p1 === P1_CANCEL && running.result === undefined) {
      running.ctl.abort(new AbortError("Cancelled with NFCCTAP_GETRESPONSE"));
      return this.#await(running, false, limit(apdu));
    }
    return this.#await(running, true, limit(apdu));
  }

  /**
   * Answers the running command's result, or (when the client polls) 9100 with the current
   * keepalive status once `statusDelayMs` passed without a result.
   */
  async #await(running: Running, updates: boolean, ne: number): Promise<Uint8Array> {
    if (running.result === undefined) {
      if (updates) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const elapsed = new Promise<void>((r) => (timer = setTimeout(r, this.#statusDelayMs)));
        await Promise.race([running.done, elapsed]);
        clearTimeout(timer);
      } else {
        await running.done;
      }
    }
    if (this.#running !== running) {
      // Superseded (SELECT, reset) while waiting: the command no longer exists.
      return u16be(SW.CONDITIONS_NOT_SATISFIED);
    }
    const result = running.result;
    if (result === undefined) {
      return concat(new Uint8Array([running.status]), u16be(SW.CTAP_UPDATE));
    }
    this.#running = undefined;
    return this.#respond(result, SW.NO_ERROR, ne);
  }

  /**
   * Response chaining: at most `ne` bytes now (see {@linkcode limit}), 61xx while more waits
   * for GET RESPONSE.
   */
  #respond(data: Uint8Array, sw: number, ne: number): Uint8Array {
    const max = ne;
    if (data.length <= max) return concat(data, u16be(sw));
    this.#remaining = { data: data.subarray(max), sw };
    return concat(data.subarray(0, max), moreData(data.length - max));
  }

  #getResponse(apdu: CommandApdu): Uint8Array {
    this.#chain = undefined;
    const remaining = this.#remaining;
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return u16be(SW.INCORRECT_P1P2);
    if (!remaining) return u16be(SW.CONDITIONS_NOT_SATISFIED);
    const max = apdu.ne || 256;
    if (remaining.data.length <= max) {
      this.#remaining = undefined;
      return concat(remaining.data, u16be(remaining.sw));
    }
    this.#remaining = { data: remaining.data.subarray(max), sw: remaining.sw };
    return concat(remaining.data.subarray(0, max), moreData(remaining.data.length - max));
  }
}

/**
 * How many response bytes one answer may carry: Ne, or without Le the most the APDU's form
 * allows (clients such as python-fido2's extended mode omit Le and still expect the data).
 */
function limit(apdu: CommandApdu): number {
  return apdu.ne || (apdu.extended ? 65536 : 256);
}

/** SW 61xx: xx more bytes wait (00 meaning 256 or more). */
function moreData(left: number): Uint8Array {
  return new Uint8Array([0x61, left > 255 ? 0x00 : left]);
}
