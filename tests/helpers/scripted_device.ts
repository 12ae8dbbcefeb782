/**
 * A CtapDevice that answers from a script and records every call, so tests can assert the
 * exact request bytes a command layer sends.
 * @module
 */
import type { CallOptions, CtapDevice } from "../../src/ctap.ts";
import { fromHex } from "../../src/utils.ts";

/** One scripted reply: bytes, hex, an error to throw, or a function of the request. */
export type ScriptStep =
  | Uint8Array
  | string
  | Error
  | ((cmd: number, data: Uint8Array) => Uint8Array | Promise<Uint8Array>);

/** A recorded call. */
export interface RecordedCall {
  readonly cmd: number;
  readonly data: Uint8Array;
  readonly opts?: CallOptions;
}

/** Replies to calls in order from `script`; a call past its end fails the test. */
export class ScriptedDevice implements CtapDevice {
  readonly calls: RecordedCall[] = [];
  readonly script: ScriptStep[];
  closed = false;

  constructor(script: ScriptStep[] = [], readonly capabilities = 0x0d) {
    this.script = [...script];
  }

  /** Appends replies to the script. */
  push(...steps: ScriptStep[]): this {
    this.script.push(...steps);
    return this;
  }

  async call(cmd: number, data: Uint8Array = new Uint8Array(0), opts?: CallOptions) {
    this.calls.push({ cmd, data: data.slice(), opts });
    const step = this.script.shift();
    if (step === undefined) {
      throw new Error(
        `ScriptedDevice: unexpected call #${this.calls.length} (cmd 0x${cmd.toString(16)})`,
      );
    }
    if (step instanceof Error) throw step;
    if (typeof step === "string") return fromHex(step);
    if (typeof step === "function") return await step(cmd, data);
    return step.slice();
  }

  /** Requests sent so far, as hex. */
  get requestsHex(): string[] {
    return this.calls.map((c) =>
      Array.from(c.data, (b) => b.toString(16).padStart(2, "0")).join("")
    );
  }

  /** True when every scripted reply was consumed. */
  get done(): boolean {
    return this.script.length === 0;
  }

  close(): void {
    this.closed = true;
  }
}
