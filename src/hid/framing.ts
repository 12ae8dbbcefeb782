/**
 * CTAPHID message framing (CTAP 2.3 §11.2.4), shared by the client (`device.ts`) and the
 * authenticator side (`server.ts`): splitting a message into reports and putting it back
 * together with every length and sequence check the protocol allows.
 * @module
 */
import { FormatError, TransportError } from "../errors.ts";

/** CTAPHID command codes (without the 0x80 init-packet bit). */
export const CTAPHID = {
  PING: 0x01,
  MSG: 0x03,
  LOCK: 0x04,
  INIT: 0x06,
  WINK: 0x08,
  CBOR: 0x10,
  CANCEL: 0x11,
  KEEPALIVE: 0x3b,
  ERROR: 0x3f,
} as const;

/** CTAPHID_ERROR payload codes (CTAP 2.3 §11.2.9.1.6). */
export const HID_ERR = {
  INVALID_CMD: 0x01,
  INVALID_PAR: 0x02,
  INVALID_LEN: 0x03,
  INVALID_SEQ: 0x04,
  MSG_TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  LOCK_REQUIRED: 0x0a,
  INVALID_CHANNEL: 0x0b,
  OTHER: 0x7f,
} as const;

/** The channel every client uses for CTAPHID_INIT before it owns one. */
export const BROADCAST_CID = 0xffffffff;

/** Bytes of an initialization packet header: CID(4) ‖ CMD(1) ‖ BCNT(2). */
export const INIT_HEADER = 7;
/** Bytes of a continuation packet header: CID(4) ‖ SEQ(1). */
export const CONT_HEADER = 5;

/**
 * A CTAPHID protocol fault on the wire: bad sequence number, impossible length, a response
 * to the wrong command, a timed-out read. `code` is the matching CTAPHID_ERROR code
 * ({@linkcode HID_ERR}) so the authenticator side can answer with it directly.
 */
export class HidError extends TransportError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "HidError";
  /** The CTAPHID error code describing the fault (INVALID_SEQ, INVALID_LEN, MSG_TIMEOUT…). */
  readonly code: number;
  /** `code` is one of {@linkcode HID_ERR}. */
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A complete CTAPHID message. */
export interface HidFrame {
  /** Channel ID the message travels on. */
  readonly cid: number;
  /** Command without the 0x80 bit. */
  readonly cmd: number;
  /** Message body, at most 7609 bytes with 64-byte reports. */
  readonly payload: Uint8Array;
}

/** Largest message payload that fits 128 continuation packets (7609 for 64-byte reports). */
export function maxPayload(reportSize = 64): number {
  return reportSize - INIT_HEADER + 128 * (reportSize - CONT_HEADER);
}

function checkReportSize(reportSize: number): void {
  if (!Number.isInteger(reportSize) || reportSize < 8 || reportSize > 4096) {
    throw new FormatError(`Invalid HID report size ${reportSize}`);
  }
}

/** Reads the channel id of a packet (big-endian, unsigned). */
export function packetCid(packet: Uint8Array): number {
  if (packet.length < CONT_HEADER) {
    throw new HidError(HID_ERR.INVALID_LEN, `HID packet too short: ${packet.length} bytes`);
  }
  return ((packet[0] << 24) >>> 0) + ((packet[1] << 16) | (packet[2] << 8) | packet[3]);
}

/**
 * Splits a message into zero-padded reports: one init packet (57 payload bytes for 64-byte
 * reports) then continuation packets with SEQ 0..127 (59 bytes each). An empty payload still
 * yields one init packet. Throws `FormatError` when the payload exceeds {@linkcode maxPayload}.
 */
export function fragment(
  cid: number,
  cmd: number,
  payload: Uint8Array = new Uint8Array(0),
  reportSize = 64,
): Uint8Array[] {
  checkReportSize(reportSize);
  if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff) {
    throw new FormatError(`Invalid CTAPHID channel id ${cid}`);
  }
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) {
    throw new FormatError(`Invalid CTAPHID command 0x${cmd.toString(16)}`);
  }
  const max = maxPayload(reportSize);
  if (payload.length > max) {
    throw new FormatError(
      `CTAPHID payload of ${payload.length} bytes exceeds the ${max}-byte maximum`,
    );
  }
  const packets: Uint8Array[] = [];
  const first = new Uint8Array(reportSize);
  writeCid(first, cid);
  first[4] = 0x80 | cmd;
  first[5] = payload.length >>> 8;
  first[6] = payload.length & 0xff;
  let offset = Math.min(payload.length, reportSize - INIT_HEADER);
  copyInto(first, INIT_HEADER, payload, 0, offset);
  packets.push(first);
  for (let seq = 0; offset < payload.length; seq++) {
    const p = new Uint8Array(reportSize);
    writeCid(p, cid);
    p[4] = seq;
    const n = Math.min(payload.length - offset, reportSize - CONT_HEADER);
    copyInto(p, CONT_HEADER, payload, offset, n);
    offset += n;
    packets.push(p);
  }
  return packets;
}

/**
 * `dst[at..] = src[from..from+n]` for report-sized runs: a plain loop, because a `subarray`
 * view per packet costs more than copying 64 bytes (notably on Bun).
 */
function copyInto(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
}

function writeCid(p: Uint8Array, cid: number): void {
  p[0] = cid >>> 24;
  p[1] = (cid >>> 16) & 0xff;
  p[2] = (cid >>> 8) & 0xff;
  p[3] = cid & 0xff;
}

const EMPTY = new Uint8Array(0);

/**
 * Puts one channel's message back together, packet by packet. `push` returns the frame when
 * the last byte has arrived and throws `HidError` on anything the protocol forbids, after
 * which the reassembler is reset and ready for a new init packet.
 */
export class Reassembler {
  #cmd = -1;
  #buf: Uint8Array = EMPTY;
  #have = 0;
  #seq = 0;

  /** Accepts packets for channel `cid` only; `reportSize` excludes the report ID. */
  constructor(readonly cid: number, readonly reportSize = 64) {
    checkReportSize(reportSize);
  }

  /** Whether an init packet has arrived and continuation packets are awaited. */
  get inProgress(): boolean {
    return this.#cmd >= 0;
  }

  /** Command of the message being assembled (-1 when idle). */
  get cmd(): number {
    return this.#cmd;
  }

  /** Forgets a partial message. */
  reset(): void {
    this.#cmd = -1;
    this.#buf = EMPTY;
    this.#have = 0;
    this.#seq = 0;
  }

  /** Consumes one report; resolves the frame once complete. */
  push(packet: Uint8Array): HidFrame | undefined {
    try {
      return this.#push(packet);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  #push(packet: Uint8Array): HidFrame | undefined {
    if (packet.length !== this.reportSize) {
      throw new HidError(
        HID_ERR.INVALID_LEN,
        `HID packet of ${packet.length} bytes, expected ${this.reportSize}`,
      );
    }
    const cid = packetCid(packet);
    if (cid !== this.cid) {
      throw new HidError(
        HID_ERR.INVALID_CHANNEL,
        `Packet for channel ${hex32(cid)} given to the reassembler of ${hex32(this.cid)}`,
      );
    }
    const b = packet[4];
    if (b & 0x80) {
      if (this.inProgress) {
        throw new HidError(
          HID_ERR.INVALID_SEQ,
          `Init packet (cmd 0x${b.toString(16)}) while continuation packets were expected`,
        );
      }
      const bcnt = (packet[5] << 8) | packet[6];
      const max = maxPayload(this.reportSize);
      if (bcnt > max) {
        throw new HidError(
          HID_ERR.INVALID_LEN,
          `Message length ${bcnt} exceeds the ${max}-byte CTAPHID maximum`,
        );
      }
      const n = Math.min(bcnt, this.reportSize - INIT_HEADER);
      if (n === bcnt) {
        return { cid, cmd: b & 0x7f, payload: packet.slice(INIT_HEADER, INIT_HEADER + n) };
      }
      this.#cmd = b & 0x7f;
      this.#buf = new Uint8Array(bcnt);
      copyInto(this.#buf, 0, packet, INIT_HEADER, n);
      this.#have = n;
      this.#seq = 0;
      return undefined;
    }
    if (!this.inProgress) {
      throw new HidError(
        HID_ERR.INVALID_SEQ,
        `Continuation packet (seq ${b}) before an init packet`,
      );
    }
    if (b !== this.#seq) {
      throw new HidError(
        HID_ERR.INVALID_SEQ,
        `Wrong sequence number: got ${b}, expected ${this.#seq}`,
      );
    }
    this.#seq++;
    const n = Math.min(this.#buf.length - this.#have, this.reportSize - CONT_HEADER);
    copyInto(this.#buf, this.#have, packet, CONT_HEADER, n);
    this.#have += n;
    if (this.#have < this.#buf.length) return undefined;
    const frame = { cid, cmd: this.#cmd, payload: this.#buf };
    this.reset();
    return frame;
  }
}

/** Formats a channel id as 8 hex digits for messages. */
export function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
