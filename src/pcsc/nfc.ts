/**
 * The CTAP NFC / ISO 7816 mapping (CTAP 2.1 §11.3): SELECT of the FIDO applet, CTAP2 messages
 * as NFCCTAP_MSG, the `9100` status updates polled with NFCCTAP_GETRESPONSE, cancellation, and
 * U2F APDUs passed through. The APDU framing below it lives in `apdu.ts`.
 * @module
 */
import { AbortError, ApduError, FormatError } from "../errors.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { concat, sleep } from "../utils.ts";
import {
  type ApduTransport,
  type CommandApdu,
  parseCommand,
  type ResponseApdu,
  SW,
} from "./apdu.ts";

/** The FIDO applet's AID (RID A000000647, PIX 2F0001). */
export const AID_FIDO: Uint8Array = new Uint8Array([
  0xa0,
  0x00,
  0x00,
  0x06,
  0x47,
  0x2f,
  0x00,
  0x01,
]);

/** NFC CTAP instruction bytes (CLA 0x80). */
export const NFCCTAP = {
  CLA: 0x80,
  /** A CTAP2 request: command byte ‖ CBOR. */
  MSG: 0x10,
  /** Poll for the response of a request answered with `9100`. */
  GETRESPONSE: 0x11,
  /** NFCCTAP_MSG P1 bit: the client understands `9100` + NFCCTAP_GETRESPONSE. */
  P1_GETRESPONSE_SUPPORTED: 0x80,
  /** NFCCTAP_GETRESPONSE P1 asking the authenticator to cancel (answered with KEEPALIVE_CANCEL). */
  P1_CANCEL: 0x11,
} as const;

/** Ne asking for as much as the card has: 256 in a short APDU, 65536 in an extended one. */
const MAX_LE = 65536;

/** The version strings SELECT answers with. */
export const APPLET_VERSION = { U2F: "U2F_V2", FIDO2: "FIDO_2_0" } as const;

/** Options of {@linkcode NfcCtap.cbor}. */
export interface NfcCallOptions {
  /** Aborting sends NFCCTAP_GETRESPONSE with P1 0x11 (cancel). */
  readonly signal?: AbortSignal;
  /** Called with each new status byte of a `9100` answer (1 PROCESSING, 2 UP_NEEDED). */
  readonly onKeepalive?: (status: number) => void;
}

/** Pause between NFCCTAP_GETRESPONSE polls while the card answers `9100` (python-fido2: 100 ms). */
export const DEFAULT_POLL_INTERVAL_MS = 100;
/** Polls after a cancel before giving up on the card acknowledging it. */
const MAX_CANCEL_POLLS = 50;

/** CTAP over ISO 7816 APDUs on one card. */
export class NfcCtap {
  #getResponse = true;

  /** `pollIntervalMs`: pause between NFCCTAP_GETRESPONSE polls. */
  constructor(
    readonly apdu: ApduTransport,
    readonly pollIntervalMs: number = DEFAULT_POLL_INTERVAL_MS,
  ) {}

  /** Whether NFCCTAP_MSG announces status polling (P1 0x80); off once a key refused it. */
  get statusUpdates(): boolean {
    return this.#getResponse;
  }

  /**
   * Selects the FIDO applet and returns its version string (`U2F_V2` when the key speaks U2F,
   * possibly CTAP2 too; `FIDO_2_0` for CTAP2-only keys). A card without the applet answers
   * 6A82, raised as `ApduError`.
   */
  async select(): Promise<string> {
    const r = await this.apdu.exchange({
      cla: 0x00,
      ins: 0xa4,
      p1: 0x04,
      p2: 0x00,
      data: AID_FIDO,
      le: 256, // always a short APDU: the answer is a version string
    });
    if (r.sw !== SW.OK) throw new ApduError(r.sw, r.data);
    return new TextDecoder().decode(r.data);
  }

  /**
   * Sends a CTAP2 request (command byte ‖ CBOR) as NFCCTAP_MSG and returns the response
   * (status byte ‖ CBOR), polling while the card reports `9100`. Aborting `signal` sends
   * NFCCTAP_GETRESPONSE with P1 = 0x11 and rejects with `AbortError` once the card answers.
   */
  async cbor(data: Uint8Array, opts: NfcCallOptions = {}): Promise<Uint8Array> {
    const { signal, onKeepalive } = opts;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const msg = (p1: number) =>
      this.apdu.exchange({ cla: NFCCTAP.CLA, ins: NFCCTAP.MSG, p1, p2: 0, data, le: MAX_LE });
    let r = await msg(this.#getResponse ? NFCCTAP.P1_GETRESPONSE_SUPPORTED : 0x00);
    if (this.#getResponse && (r.sw === SW.INCORRECT_P1P2 || r.sw === SW.WRONG_P1P2)) {
      // A CTAP 2.0-era key that rejects P1 0x80 (python-fido2's use_nfcctap_getresponse=False):
      // send without it from now on; such a key answers only when done, never 9100.
      this.#getResponse = false;
      r = await msg(0x00);
    }
    let last = -1;
    let cancelled = false;
    let cancelPolls = 0;
    while (r.sw === SW.STATUS_UPDATE) {
      const status = r.data[0] ?? 0;
      if (status !== last && !cancelled) {
        last = status;
        onKeepalive?.(status);
      }
      if (!cancelled) {
        const waited = await sleep(this.pollIntervalMs, signal);
        cancelled = !waited || !!signal?.aborted;
      } else if (++cancelPolls > MAX_CANCEL_POLLS) {
        throw new AbortError("The card did not acknowledge the cancellation", {
          cause: signal?.reason,
        });
      } else {
        await sleep(this.pollIntervalMs);
      }
      r = await this.apdu.exchange(getResponse(cancelled));
    }
    if (cancelled) {
      // Whatever the card answered last (normally KEEPALIVE_CANCEL), the caller asked to stop.
      throw new AbortError(undefined, { cause: signal?.reason });
    }
    return ctapResponse(r);
  }

  /**
   * Passes a U2F/ISO 7816 command APDU (short or extended, as `Ctap1` builds it) to the card in
   * the form the transport chose and returns response data ‖ SW1 SW2.
   */
  async raw(apdu: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const cmd = parseCommand(apdu);
    const r = await this.apdu.exchange(cmd, signal);
    return concat(r.data, new Uint8Array([r.sw >> 8, r.sw & 0xff]));
  }
}

function getResponse(cancel: boolean): CommandApdu {
  return {
    cla: NFCCTAP.CLA,
    ins: NFCCTAP.GETRESPONSE,
    p1: cancel ? NFCCTAP.P1_CANCEL : 0x00,
    p2: 0x00,
    data: new Uint8Array(0),
    le: MAX_LE,
  };
}

/**
 * The CTAP response of a final NFCCTAP exchange. A status word other than 9000 means the card
 * did not process the request as CTAP2: 6D00/6E00 (no NFCCTAP_MSG: a U2F-only key) become
 * INVALID_COMMAND so the client falls back to U2F; the status word stays in `cause`.
 */
function ctapResponse(r: ResponseApdu): Uint8Array {
  if (r.sw === SW.OK) {
    if (r.data.length === 0) throw new FormatError("NFCCTAP response without a CTAP status byte");
    return r.data;
  }
  const sw = `SW ${r.sw.toString(16).padStart(4, "0")}`;
  const cause = new ApduError(r.sw, r.data);
  switch (r.sw) {
    case SW.INS_NOT_SUPPORTED:
    case SW.CLA_NOT_SUPPORTED:
      throw new CtapError(
        CTAP_STATUS.INVALID_COMMAND,
        `The card does not take CTAP2 messages (${sw}): a U2F-only key`,
        { cause },
      );
    case SW.WRONG_LENGTH:
      throw new CtapError(CTAP_STATUS.INVALID_LENGTH, `The card refused the length (${sw})`, {
        cause,
      });
    default:
      throw new CtapError(CTAP_STATUS.OTHER, `The card answered ${sw} to a CTAP2 message`, {
        cause,
      });
  }
}
