/**
 * A `HidConnection` that answers each CTAPHID request with recorded reports of a real key, so
 * `CtapHidDevice` and everything above it parse the bytes exactly as they came off the wire.
 * Two rewrites make recordings from different sessions replayable: the INIT answer gets the
 * client's nonce, and every other report gets the client's channel ID. Nothing else changes.
 * @module
 */
import type { HidConnection, HidDescriptor } from "../../src/hid/connection.ts";
import { PacketQueue } from "../../src/hid/connection.ts";
import { fromHex } from "../../src/utils.ts";

/** One exchange: what the client must send, and the recorded reports that answer it. */
export interface ReplayStep {
  /** Expected CTAPHID command (0x06 INIT, 0x10 CBOR, 0x03 MSG…). */
  readonly cmd: number;
  /** For CBOR: the expected CTAP command byte; for MSG: the expected INS byte. */
  readonly sub?: number;
  /** Recorded 64-byte reports, hex, one per entry. */
  readonly reply: readonly string[];
}

/** A request the client sent, reassembled. */
export interface ReplayedRequest {
  readonly cid: number;
  readonly cmd: number;
  readonly data: Uint8Array;
}

const REPORT = 64;

/** Replays `steps` in order; a request that does not match the next step fails the read. */
export class WireReplay implements HidConnection {
  readonly descriptor: HidDescriptor = {
    path: "replay://recorded",
    vid: 0x1050,
    pid: 0x0407,
    reportSizeIn: REPORT,
    reportSizeOut: REPORT,
    productName: "recorded key",
  };
  /** Every complete request, in order. */
  readonly requests: ReplayedRequest[] = [];
  readonly #steps: ReplayStep[];
  readonly #out = new PacketQueue();
  #error: Error | undefined;
  #pending: { cid: number; cmd: number; len: number; data: number[]; seq: number } | undefined;

  constructor(steps: readonly ReplayStep[]) {
    this.#steps = [...steps];
  }

  /** True when every recorded answer was asked for. */
  get done(): boolean {
    return this.#steps.length === 0;
  }

  writePacket(packet: Uint8Array): Promise<void> {
    if (packet.length !== REPORT) throw new Error(`report of ${packet.length} bytes`);
    const cid = new DataView(packet.buffer, packet.byteOffset).getUint32(0);
    if (packet[4] & 0x80) {
      const len = (packet[5] << 8) | packet[6];
      this.#pending = { cid, cmd: packet[4] & 0x7f, len, data: [], seq: 0 };
      this.#pending.data.push(...packet.subarray(7, 7 + Math.min(len, REPORT - 7)));
    } else if (this.#pending && cid === this.#pending.cid && packet[4] === this.#pending.seq) {
      this.#pending.seq++;
      const need = this.#pending.len - this.#pending.data.length;
      this.#pending.data.push(...packet.subarray(5, 5 + Math.min(need, REPORT - 5)));
    } else {
      this.#fail(new Error(`replay: unexpected continuation report ${packet[4]}`));
      return Promise.resolve();
    }
    const p = this.#pending;
    if (p.data.length === p.len) {
      this.#pending = undefined;
      this.#answer({ cid: p.cid, cmd: p.cmd, data: Uint8Array.from(p.data) });
    }
    return Promise.resolve();
  }

  #answer(req: ReplayedRequest): void {
    this.requests.push(req);
    const step = this.#steps.shift();
    const sub = req.cmd === 0x03 ? req.data[1] : req.data[0];
    if (!step || step.cmd !== req.cmd || (step.sub !== undefined && step.sub !== sub)) {
      const want = step ? `0x${step.cmd.toString(16)}/${step.sub?.toString(16)}` : "nothing";
      this.#fail(
        new Error(
          `replay: got CTAPHID 0x${req.cmd.toString(16)}/${sub?.toString(16)}, want ${want}`,
        ),
      );
      return;
    }
    for (const hex of step.reply) {
      const report = fromHex(hex);
      if (report.length !== REPORT) throw new Error(`recorded report of ${report.length} bytes`);
      const view = new DataView(report.buffer);
      if (req.cmd === 0x06) {
        report.set(req.data.subarray(0, 8), 7); // the client's nonce
      } else {
        view.setUint32(0, req.cid); // the client's channel
      }
      this.#out.push(report);
    }
  }

  #fail(e: Error): void {
    this.#error ??= e;
    this.#out.fail(e);
  }

  readPacket(signal?: AbortSignal): Promise<Uint8Array> {
    const queued = this.#out.take();
    if (queued) return Promise.resolve(queued);
    if (this.#error) return Promise.reject(this.#error);
    return this.#out.wait(signal);
  }

  close(): void {
    this.#fail(new Error("replay: closed"));
  }
}

/** Splits recorded reports into messages (an initialization report starts each one). */
export function messages(reports: readonly string[]): string[][] {
  const out: string[][] = [];
  for (const r of reports) {
    if (parseInt(r.slice(8, 10), 16) & 0x80) out.push([r]);
    else out[out.length - 1].push(r);
  }
  return out;
}

/** The payload of one recorded message (its reports' headers and padding removed). */
export function payload(reports: readonly string[]): Uint8Array {
  const first = fromHex(reports[0]);
  const len = (first[5] << 8) | first[6];
  const out = [...first.subarray(7)];
  for (const r of reports.slice(1)) out.push(...fromHex(r).subarray(5));
  return Uint8Array.from(out.slice(0, len));
}
