/**
 * What every command receives: the parsed options, the output channel, the PIN prompter,
 * the opened device, the Ctrl-C signal, and helpers for CTAP2 sessions and PIN tokens.
 * @module
 */
import { type CallOptions, CTAP_STATUS, CtapError, STATUS } from "../ctap.ts";
import { Ctap2, type PinAuth } from "../ctap2/base.ts";
import { ClientPin } from "../ctap2/pin.ts";
import type { CtapHidDevice } from "../hid/mod.ts";
import type { CtapPcscDevice } from "../pcsc/mod.ts";
import { CliError, EXIT } from "./errors.ts";
import type { Output } from "./output.ts";
import type { Prompter } from "./prompt.ts";
import type { OpenedDevice } from "./device.ts";
import { type CliSystem, hostSystem } from "./windows.ts";

/** Option values after parsing (strings, booleans, repeated strings). */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** A PIN/UV token with the protocol that produced it. */
export interface Token {
  readonly protocol: PinAuth;
  readonly token: Uint8Array;
}

/** The authenticator refuses PIN tokens until the PIN is changed (exit code 4). */
export function forcePinChange(): CliError {
  return new CliError(
    EXIT.PIN,
    "The authenticator requires a new PIN before it can be used: run `fido2 pin change`",
  );
}

/** The state of one CLI invocation. */
export class Context {
  #ctap?: Ctap2;
  #noCtap2 = false;
  #opened?: OpenedDevice;
  #touchPrompted = false;

  constructor(
    readonly out: Output,
    readonly prompter: Prompter,
    /** Positional arguments after the sub-command. */
    readonly args: readonly string[],
    readonly options: OptionValues,
    /** Aborted on Ctrl-C. */
    readonly signal: AbortSignal,
    readonly openDevice: () => Promise<OpenedDevice>,
    /** The OS and elevation the command decides on. */
    readonly system: CliSystem = hostSystem(),
    /** Whether --device, --virtual or --udp chose the authenticator (else: the default). */
    readonly explicitDevice: boolean = false,
  ) {}

  readonly #closers: (() => Promise<void>)[] = [];

  /** Runs `close` when the command ends (e.g. a client's DLL or device). */
  onClose(close: () => Promise<void>): void {
    this.#closers.push(close);
  }

  /** A string option, or undefined. */
  str(name: string): string | undefined {
    const v = this.options[name];
    return typeof v === "string" ? v : undefined;
  }

  /** A boolean flag. */
  flag(name: string): boolean {
    return this.options[name] === true;
  }

  /** The opened device (opened on first use). */
  async device(): Promise<CtapHidDevice | CtapPcscDevice> {
    this.#opened ??= await this.openDevice();
    return this.#opened.device;
  }

  /** Closes the device if one was opened, and whatever {@linkcode onClose} registered. */
  async close(): Promise<void> {
    const closers = this.#closers.splice(0).reverse();
    const opened = this.#opened;
    this.#opened = undefined;
    let failure: unknown;
    for (const c of closers) await c().catch((e) => (failure ??= e));
    await opened?.close();
    if (failure !== undefined) throw failure;
  }

  /** Prints the touch prompt once per operation when the key asks for user presence. */
  onKeepalive = (status: number): void => {
    if (status === STATUS.UPNEEDED && !this.#touchPrompted) {
      this.#touchPrompted = true;
      this.promptTouch();
    }
  };

  /** "Touch your security key…" on stderr. */
  promptTouch(): void {
    this.out.status("Touch your security key…");
  }

  /** Call options for one device operation (re-arms the touch prompt). */
  call(): CallOptions {
    this.#touchPrompted = false;
    return { signal: this.signal, onKeepalive: this.onKeepalive };
  }

  /** A CTAP2 session; keys without CTAP2 are refused with exit code 6. */
  async ctap2(): Promise<Ctap2> {
    const ctap = await this.ctap2IfAny();
    if (!ctap) throw new CliError(EXIT.UNSUPPORTED, "This authenticator is U2F-only (no CTAP2)");
    return ctap;
  }

  /**
   * A CTAP2 session, or undefined for a U2F-only key. A key that sets the CBOR capability bit
   * but refuses getInfo with INVALID_COMMAND while still speaking U2F (YubiKey 4) is U2F-only,
   * as libfido2 and `Fido2Client` treat it.
   */
  async ctap2IfAny(): Promise<Ctap2 | undefined> {
    if (this.#ctap) return this.#ctap;
    const device = await this.device();
    if (!device.supportsCbor || this.#noCtap2) return undefined;
    try {
      this.#ctap = await Ctap2.create(device, { signal: this.signal });
    } catch (e) {
      if (
        !(e instanceof CtapError && e.code === CTAP_STATUS.INVALID_COMMAND) || !device.supportsMsg
      ) {
        throw e;
      }
      this.#noCtap2 = true;
      return undefined;
    }
    return this.#ctap;
  }

  /**
   * A pinUvAuthToken for `permissions`: from the PIN when one is set, else from built-in UV.
   * Without either, commands that need one fail with exit code 4.
   */
  async token(permissions: number, rpId?: string): Promise<Token> {
    const ctap = await this.ctap2();
    const o = ctap.info.options;
    if (o.clientPin === true) {
      if (ctap.info.forcePinChange) throw forcePinChange();
      const client = new ClientPin(ctap);
      const pin = await this.prompter.pin();
      const token = await client.getPinToken(pin, permissions, rpId, this.call());
      return { protocol: client.protocol, token };
    }
    if (o.uv === true && o.pinUvAuthToken === true) {
      const client = new ClientPin(ctap);
      this.out.status("Verify with your fingerprint…");
      const token = await client.getUvToken(permissions, rpId, this.call());
      return { protocol: client.protocol, token };
    }
    throw new CliError(
      EXIT.PIN,
      "This operation needs a PIN, and none is set (set one with `fido2 pin set`)",
    );
  }

  /** Like {@linkcode token}, but undefined on a key with neither PIN nor UV configured. */
  async optionalToken(permissions: number, rpId?: string): Promise<Token | undefined> {
    const o = (await this.ctap2()).info.options;
    if (o.clientPin !== true && !(o.uv === true && o.pinUvAuthToken === true)) return undefined;
    return await this.token(permissions, rpId);
  }
}
