/**
 * `VirtualAuthenticator`: a software CTAP 2.1 + U2F security key reachable over real CTAPHID
 * framing, in memory or over UDP. For tests, demos and CI, where no key is plugged in.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { CtapHidDevice, type CtapHidDeviceOptions } from "../hid/device.ts";
import { createConnectionPair } from "../hid/connection.ts";
import type { HidFaults } from "../hid/faults.ts";
import { CtapHidServer, type CtapHidServerOptions } from "../hid/server.ts";
import { serveUdp, type UdpServer } from "../hid/udp.ts";
import { FormatError } from "../errors.ts";
import {
  CtapAuthenticator,
  type CtapAuthenticatorState,
  type VirtualAuthenticatorOptions as CoreOptions,
} from "./authenticator.ts";
import { PinUvAuthState } from "./pin.ts";
import type { PinUvAuthOptions, PinUvPersistentState } from "./types.ts";

export { CtapAuthenticator, DEFAULT_AAGUID } from "./authenticator.ts";
export { PinUvAuthState } from "./pin.ts";
export type { UserActionHook, UserActionReason, UserDecision } from "./types.ts";

/** Options of a {@linkcode VirtualAuthenticator}. */
export interface VirtualAuthenticatorOptions extends Omit<CoreOptions, "pinUvAuth" | "state"> {
  /** Support clientPin (default true). A key without a PIN set reports clientPin: false. */
  readonly clientPin?: boolean;
  /** PIN set at start. */
  readonly pin?: string;
  /** PIN/UV state options (protocols, retries, min length, token lifetime). */
  readonly pinOptions?: Omit<PinUvAuthOptions, "pin" | "state">;
  /** Restored state from {@linkcode VirtualAuthenticator.exportState}. */
  readonly state?: VirtualAuthenticatorState;
  /** File to load the state from at start (when it exists) and save it to after changes. */
  readonly stateFile?: string;
}

/** Everything a persisted virtual authenticator keeps: credentials and PIN state. */
export interface VirtualAuthenticatorState {
  readonly authenticator: CtapAuthenticatorState;
  readonly pin?: PinUvPersistentState;
}

function readState(file: string): VirtualAuthenticatorState | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text);
    if (typeof state !== "object" || state === null || !state.authenticator) {
      throw new FormatError("not a virtual authenticator state");
    }
    return state as VirtualAuthenticatorState;
  } catch (e) {
    throw new FormatError(`Invalid state file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A software security key. `device()` gives a `CtapDevice` that talks to it through real
 * CTAPHID packets (so the transport code under test is the one used with USB keys);
 * `serveUdp()` exposes it to other processes the way firmware simulators do.
 */
export class VirtualAuthenticator {
  /** The command processor (credentials, getInfo, U2F). */
  readonly authenticator: CtapAuthenticator;
  /** The PIN/UV state, when clientPin is supported. */
  readonly pinState?: PinUvAuthState;
  readonly #stateFile?: string;
  readonly #servers = new Set<{ stop(): void | Promise<void> }>();

  constructor(options: VirtualAuthenticatorOptions = {}) {
    const state = options.state ??
      (options.stateFile ? readState(options.stateFile) : undefined);
    if (options.clientPin !== false) {
      this.pinState = new PinUvAuthState({
        ...options.pinOptions,
        pin: options.pin,
        state: state?.pin,
      });
    }
    this.authenticator = new CtapAuthenticator({
      ...options,
      pinUvAuth: this.pinState,
      state: state?.authenticator,
    });
    this.#stateFile = options.stateFile;
  }

  /** Credentials and PIN state as JSON-safe data. */
  exportState(): VirtualAuthenticatorState {
    return {
      authenticator: this.authenticator.exportState(),
      ...(this.pinState ? { pin: this.pinState.exportState() } : {}),
    };
  }

  /** Writes the state to `file` (default: the `stateFile` option). */
  save(file: string | undefined = this.#stateFile): void {
    if (!file) throw new Error("No state file given");
    writeFileSync(file, JSON.stringify(this.exportState(), null, 2));
  }

  /** Simulates unplugging and re-plugging the key (PIN retry block, tokens, reset window). */
  powerCycle(): void {
    this.authenticator.powerCycle();
    this.pinState?.powerCycle();
  }

  /**
   * A connected `CtapHidDevice` over an in-memory 64-byte report pipe. `faults` injects
   * transport faults on the authenticator's side (dropped, duplicated, reordered packets…).
   */
  async device(
    options: {
      readonly faults?: HidFaults;
      readonly server?: Omit<CtapHidServerOptions, "faults">;
      readonly client?: CtapHidDeviceOptions;
    } = {},
  ): Promise<CtapHidDevice> {
    const [clientSide, deviceSide] = createConnectionPair(64);
    const server = new CtapHidServer(deviceSide, this.authenticator, {
      ...options.server,
      faults: options.faults,
    });
    server.start();
    this.#servers.add(server);
    try {
      const device = await CtapHidDevice.open(
        {
          path: "virtual:memory",
          vid: 0xf1d0,
          pid: 0x0001,
          reportSizeIn: 64,
          reportSizeOut: 64,
          productName: "@x/fido2 virtual authenticator",
        },
        clientSide,
        options.client,
      );
      const close = device.close.bind(device);
      device.close = async () => {
        await close();
        await server.stop();
        this.#servers.delete(server);
        if (this.#stateFile) this.save();
      };
      return device;
    } catch (e) {
      await server.stop();
      this.#servers.delete(server);
      throw e;
    }
  }

  /** Serves the authenticator over UDP (64-byte datagrams), default port 8111. */
  async serveUdp(port = 8111, host = "127.0.0.1"): Promise<UdpServer> {
    const udp = await serveUdp(this.authenticator, { port, host });
    const entry = { stop: () => udp.close() };
    this.#servers.add(entry);
    return udp;
  }

  /** Stops every transport started by this instance and saves the state file, if any. */
  async close(): Promise<void> {
    for (const s of [...this.#servers]) await s.stop();
    this.#servers.clear();
    if (this.#stateFile) this.save();
  }
}
