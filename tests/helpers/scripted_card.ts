/**
 * A PC/SC card connection that answers APDUs from a script and records what it was sent, so
 * tests can check the exact APDUs of the NFC mapping without a reader.
 * @module
 */
import type { CardConnection, Disposition } from "../../src/pcsc/connection.ts";
import { fromHex, toHex } from "../../src/utils.ts";

/** One scripted answer: hex (data ‖ SW), an error to throw, or a function of the APDU. */
export type CardStep = string | Error | ((apdu: Uint8Array) => string | Promise<string>);

/** Answers each transmit with the next step; a transmit past the end fails the test. */
export class ScriptedCard implements CardConnection {
  /** Every APDU received, as lowercase hex. */
  readonly sent: string[] = [];
  readonly script: CardStep[];
  closed: Disposition | undefined;
  reconnects = 0;
  transactions = 0;

  constructor(
    script: CardStep[] = [],
    readonly atr: Uint8Array = fromHex("3b8080010101"),
    readonly reader = "Scripted Reader 00 00",
  ) {
    this.script = [...script];
  }

  /** Appends answers. */
  push(...steps: CardStep[]): this {
    this.script.push(...steps);
    return this;
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    this.sent.push(toHex(apdu));
    const step = this.script.shift();
    if (step === undefined) throw new Error(`unscripted APDU ${toHex(apdu)}`);
    if (step instanceof Error) throw step;
    const hex = typeof step === "function" ? await step(apdu) : step;
    return fromHex(hex.replaceAll(" ", ""));
  }

  reconnect(_d?: Disposition): Promise<void> {
    this.reconnects++;
    return Promise.resolve();
  }

  beginTransaction(): Promise<void> {
    this.transactions++;
    return Promise.resolve();
  }

  endTransaction(): Promise<void> {
    return Promise.resolve();
  }

  close(d: Disposition = "leave"): void {
    this.closed = d;
  }
}

/** SELECT of the FIDO applet as every client sends it. */
export const SELECT_HEX = "00a4040008a0000006472f000100";
/** getInfo as NFCCTAP_MSG (P1 0x80: GETRESPONSE understood). */
export const GET_INFO_HEX = "80108000010400";
/** A minimal CTAP2 getInfo answer: status 0 ‖ {1: ["FIDO_2_0"], 3: 16 zero bytes} ‖ 9000. */
export const INFO_OK = "00a20181684649444f5f325f300350" + "00".repeat(16) + "9000";
/** "U2F_V2" ‖ 9000. */
export const U2F_V2 = "5532465f56329000";
/** "FIDO_2_0" ‖ 9000. */
export const FIDO_2_0 = "4649444f5f325f309000";
