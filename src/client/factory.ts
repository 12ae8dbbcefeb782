/**
 * `createClient`: the one call a script needs to get a working WebAuthn client on any OS. On
 * Windows 10 1903+ webauthn.dll (`WindowsClient`) is the way to security keys and Windows
 * Hello: a non-elevated process cannot open FIDO HID devices at all, and an elevated one
 * (which could) would still miss Windows Hello and fail without hidapi.dll or a plugged-in
 * key. So it is used whenever it is usable, elevated or not, unless the caller asks for raw
 * CTAP (`preferWindows: false`); everywhere else it is `Fido2Client` over the first USB
 * security key hidapi finds, or else the first key on a PC/SC (NFC or smart-card) reader.
 *
 * Native code is reached only through lazy imports (webauthn.dll, shell32, hidapi, PC/SC), so
 * importing this module needs no FFI permission and loads no library.
 * @module
 */
import type { CtapDevice } from "../ctap.ts";
import type { ClientDataCollector } from "./collector.ts";
import { ClientError } from "./errors.ts";
import { Fido2Client, type Fido2ClientOptions } from "./fido2.ts";
import type { UserInteraction } from "./interaction.ts";
import type { WebAuthnClient } from "./selection.ts";
import type { WindowsClientOptions } from "./windows.ts";

/** A client from {@linkcode createClient}; `close()` releases its DLL or device. */
export type ClosableClient = WebAuthnClient & { close(): Promise<void> };

/** Options of {@linkcode createClient}. */
export interface CreateClientOptions {
  /** PIN and touch prompts for `Fido2Client` (webauthn.dll shows its own dialogs). */
  readonly userInteraction?: UserInteraction;
  /**
   * Use webauthn.dll wherever it is available, elevated or not (default true). false always
   * gives a `Fido2Client` (e.g. for an elevated tool that must speak CTAP to the key itself).
   */
  readonly preferWindows?: boolean;
  /** Options of the `WindowsClient` (window handle, raw hmac-secret); `api` is ignored. */
  readonly windows?: Omit<WindowsClientOptions, "api">;
  /** Options of the `Fido2Client`. */
  readonly fido2?: Fido2ClientOptions;
  /**
   * The OS to decide for (default: the running one). Tests pass "win32" to reach the
   * webauthn.dll branch with a fake library named by `FIDO2_WEBAUTHN_LIB`.
   */
  readonly platform?: string;
  /**
   * The authenticators to pick from, opened one at a time (default: hidapi's `listDevices()`,
   * then the FIDO cards in PC/SC readers). Devices after the one chosen are never opened.
   */
  readonly listDevices?: () => AsyncIterable<CtapDevice>;
  /**
   * Consider keys on PC/SC (NFC and contact smart-card) readers after the USB keys (default
   * true); a string picks only readers whose name contains it. No PC/SC stack means USB only.
   */
  readonly pcsc?: boolean | string;
}

/** A Fido2Client that owns its device and closes it. */
class DeviceClient extends Fido2Client {
  readonly #device: CtapDevice;

  constructor(
    device: CtapDevice,
    collector: ClientDataCollector,
    ui: UserInteraction | undefined,
    options: Fido2ClientOptions | undefined,
  ) {
    super(device, collector, ui, undefined, options);
    this.#device = device;
  }

  /** Closes the security key's connection. */
  async close(): Promise<void> {
    await this.#device.close();
  }
}

/**
 * A `WindowsClient` when webauthn.dll (API 1+) is available and `preferWindows` is not false
 * (whether or not the process is elevated); otherwise a `Fido2Client` over the first authenticator that
 * answers getInfo (or the U2F fallback): USB keys first, then keys on PC/SC (NFC) readers. Throws `ClientError` DEVICE_INELIGIBLE when no
 * authenticator is connected (or none answers), OTHER_ERROR when hidapi cannot be loaded.
 */
export async function createClient(
  collector: ClientDataCollector,
  options: CreateClientOptions = {},
): Promise<ClosableClient> {
  if (options.preferWindows !== false && await windowsUsable(options)) {
    const { WindowsClient } = await import("./windows.ts");
    const { api: _ignored, ...windowsOptions } = (options.windows ?? {}) as WindowsClientOptions;
    return new WindowsClient(collector, windowsOptions);
  }
  return await firstDeviceClient(collector, options);
}

async function windowsUsable(options: CreateClientOptions): Promise<boolean> {
  const os = options.platform ?? (await import("../../ffi/runtime.ts")).platform();
  if (os !== "win32") return false;
  const { webauthnLibraryUsable } = await import("./windows.ts");
  return await webauthnLibraryUsable();
}

async function firstDeviceClient(
  collector: ClientDataCollector,
  options: CreateClientOptions,
): Promise<ClosableClient> {
  let devices: AsyncIterable<CtapDevice>;
  if (options.listDevices) {
    devices = options.listDevices();
  } else {
    devices = usbThenPcsc(options.pcsc ?? true);
  }
  const failures: unknown[] = [];
  const it = devices[Symbol.asyncIterator]();
  try {
    while (true) {
      let next: IteratorResult<CtapDevice>;
      try {
        next = await it.next();
      } catch (e) {
        throw new ClientError(
          ClientError.ERR.OTHER_ERROR,
          `Cannot list security keys: ${(e as Error).message}`,
          { cause: e },
        );
      }
      if (next.done) break;
      const device = next.value;
      const client = new DeviceClient(device, collector, options.userInteraction, options.fido2);
      try {
        await client.ready();
        return client;
      } catch (e) {
        failures.push(e);
        await Promise.resolve(device.close()).catch(() => {});
      }
    }
  } finally {
    await it.return?.();
  }
  throw new ClientError(
    ClientError.ERR.DEVICE_INELIGIBLE,
    failures.length
      ? `No connected security key answered (${failures.length} tried)`
      : "No FIDO security key is connected",
    failures.length ? { cause: failures.length === 1 ? failures[0] : failures } : undefined,
  );
}

/**
 * USB keys (hidapi), then keys on PC/SC readers. A missing PC/SC stack is not an error; a
 * hidapi failure is reported only when no reader offers a key either.
 */
async function* usbThenPcsc(pcsc: boolean | string): AsyncGenerator<CtapDevice> {
  const hid = await import("../hid/mod.ts");
  let hidFailure: unknown;
  try {
    yield* hid.listDevices();
  } catch (e) {
    hidFailure = e;
  }
  if (pcsc !== false) {
    const { listPcscDevices } = await import("../pcsc/mod.ts");
    let cards: AsyncGenerator<CtapDevice> | undefined;
    try {
      cards = listPcscDevices(typeof pcsc === "string" ? pcsc : "");
      // The first step loads the library and lists readers: failures there mean "no PC/SC".
      const first = await cards.next();
      if (!first.done) {
        yield first.value;
        yield* cards;
      }
    } catch {
      await cards?.return(undefined).catch(() => {});
    }
  }
  if (hidFailure) throw hidFailure;
}
