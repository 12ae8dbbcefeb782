/**
 * Fault injection for the authenticator side of CTAPHID: the misbehaviours of real USB
 * stacks and shared devices (lost, repeated and reordered reports, other channels' traffic,
 * stray keepalives, slow links), reproducible so tests can prove the client survives them.
 * @module
 */
import { CTAPHID, fragment, packetCid } from "./framing.ts";

/**
 * Faults applied to outgoing packets. Indices count the packets the server sends (0-based,
 * from the moment the faults are installed), not the injected extras.
 */
export interface HidFaults {
  /** Packets that are silently lost. */
  readonly drop?: readonly number[];
  /** Packets sent twice. */
  readonly duplicate?: readonly number[];
  /** Packets sent after their successor (N and N+1 swap). */
  readonly reorder?: readonly number[];
  /** Before these packets, a copy addressed to a foreign channel is sent. */
  readonly foreignBefore?: readonly number[];
  /** Before these packets, an unsolicited KEEPALIVE(PROCESSING) on the same channel is sent. */
  readonly keepaliveBefore?: readonly number[];
  /** Delay (ms) before every outgoing packet. */
  readonly delayMs?: number;
  /**
   * Lies: these packets are altered before they go out. `seq` bumps a continuation packet's
   * sequence number; `length` makes an initialization packet claim 8000 bytes (more than
   * CTAPHID allows); `truncate` makes it claim 8 bytes less than it carries (the response
   * CBOR ends early); `nonce` changes the nonce of an INIT response.
   */
  readonly lie?: Readonly<Record<number, "seq" | "length" | "truncate" | "nonce">>;
}

/** How long a packet held back for reordering waits for its successor before going out. */
const REORDER_FLUSH_MS = 50;

const f = (list?: readonly number[]) => list !== undefined && list.length > 0;

/** Applies {@linkcode HidFaults} to a packet writer. */
export class FaultInjector {
  #index = 0;
  #held: Uint8Array | undefined;
  #heldTimer: ReturnType<typeof setTimeout> | undefined;

  readonly #none: boolean;

  /** Wraps `write`, which sends one report of `reportSize` bytes. */
  constructor(
    readonly faults: HidFaults,
    readonly reportSize: number,
    readonly write: (packet: Uint8Array) => Promise<void>,
  ) {
    this.#none = !f(faults.drop) && !f(faults.duplicate) && !f(faults.reorder) &&
      !f(faults.foreignBefore) && !f(faults.keepaliveBefore) && !faults.delayMs &&
      Object.keys(faults.lie ?? {}).length === 0;
  }

  /** Number of packets seen so far. */
  get count(): number {
    return this.#index;
  }

  /** Sends `packet` through the fault model. */
  send(packet: Uint8Array): Promise<void> {
    if (this.#none) {
      this.#index++;
      return this.write(packet);
    }
    return this.#faulty(packet);
  }

  async #faulty(packet: Uint8Array): Promise<void> {
    const f = this.faults;
    const i = this.#index++;
    if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    const cid = packetCid(packet);
    if (f.keepaliveBefore?.includes(i)) {
      await this.write(fragment(cid, CTAPHID.KEEPALIVE, new Uint8Array([1]), this.reportSize)[0]);
    }
    if (f.foreignBefore?.includes(i)) {
      const foreign = packet.slice();
      const other = (cid ^ 0x5a5a5a5a) >>> 0;
      foreign[0] = other >>> 24;
      foreign[1] = (other >>> 16) & 0xff;
      foreign[2] = (other >>> 8) & 0xff;
      foreign[3] = other & 0xff;
      await this.write(foreign);
    }
    if (f.drop?.includes(i)) return;
    const lie = f.lie?.[i];
    if (lie) packet = lieAbout(packet, lie);
    if (f.reorder?.includes(i) && this.#held === undefined) {
      this.#held = packet;
      this.#heldTimer = setTimeout(() => void this.flush().catch(() => {}), REORDER_FLUSH_MS);
      return;
    }
    await this.write(packet);
    await this.flush();
    if (f.duplicate?.includes(i)) await this.write(packet);
  }

  /** Sends a packet held back for reordering, if any. */
  async flush(): Promise<void> {
    clearTimeout(this.#heldTimer);
    const held = this.#held;
    this.#held = undefined;
    if (held) await this.write(held);
  }
}

/** Applies one of {@linkcode HidFaults.lie}'s alterations to a copy of `packet`. */
function lieAbout(packet: Uint8Array, lie: "seq" | "length" | "truncate" | "nonce"): Uint8Array {
  const p = packet.slice();
  const init = (p[4] & 0x80) !== 0;
  const len = (p[5] << 8) | p[6];
  if (lie === "seq" && !init) p[4] = (p[4] + 1) & 0x7f;
  else if (lie === "length" && init) {
    p[5] = 8000 >> 8;
    p[6] = 8000 & 0xff;
  } else if (lie === "truncate" && init && len > 8) {
    p[5] = (len - 8) >> 8;
    p[6] = (len - 8) & 0xff;
  } else if (lie === "nonce" && init && p[4] === (0x80 | CTAPHID.INIT)) p[7] ^= 0xff;
  return p;
}
