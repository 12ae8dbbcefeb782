/**
 * NFC and contact smart-card FIDO authenticators over PC/SC: `listPcscDevices()` finds the
 * readers holding a FIDO card and opens each as a {@linkcode CtapPcscDevice}. The native
 * library (pcsclite, PCSC.framework, winscard.dll) is loaded on first use, so importing this
 * module needs no permission.
 * @module
 */
import type { PcscBackend } from "./connection.ts";
import { CtapPcscDevice, type CtapPcscDeviceOptions } from "./device.ts";

export { CtapPcscDevice, type CtapPcscDeviceOptions, NotFidoCardError } from "./device.ts";
export type { CallOptions, CtapDevice } from "../ctap.ts";
export { TransportError } from "../errors.ts";
export type { CardConnection, Disposition, PcscBackend, ReaderInfo } from "./connection.ts";
export {
  type ApduLengthMode,
  ApduTransport,
  type ApduTransportOptions,
  atrSupportsExtended,
  type CommandApdu,
  encodeExtended,
  encodeShort,
  parseCommand,
  type ResponseApdu,
  splitResponse,
  SW,
  type Transmit,
} from "./apdu.ts";
export { AID_FIDO, APPLET_VERSION, type NfcCallOptions, NFCCTAP, NfcCtap } from "./nfc.ts";
export {
  CardRemovedError,
  NoCardError,
  PcscError,
  pcscError,
  ReaderGoneError,
  SCARD,
  scardName,
  SharingViolationError,
  TransmitError,
} from "./errors.ts";

/** Options of {@linkcode listPcscDevices} and {@linkcode openPcscBackend}. */
export interface ListPcscDevicesOptions extends CtapPcscDeviceOptions {
  /** The PC/SC stack to use (default: the system's, through `ffi/pcsc.ts`). */
  readonly backend?: PcscBackend;
  /** Library file to load instead of the platform's (`FIDO2_PCSC_LIB` does the same). */
  readonly libraryPath?: string;
  /** Connect exclusively instead of shared (default false: other programs may use the card). */
  readonly exclusive?: boolean;
  /** Told about each reader whose card could not be opened as a FIDO device (then skipped). */
  readonly onSkip?: (reader: string, error: unknown) => void;
}

/**
 * The system's PC/SC stack (loads the native library on first call). Rejects with
 * `LibraryLoadError` when there is none and `PcscError` when the service cannot be reached.
 */
export async function openPcscBackend(
  opts: Pick<ListPcscDevicesOptions, "libraryPath"> = {},
): Promise<PcscBackend> {
  const { loadPcsc } = await import("../../ffi/pcsc.ts");
  return await loadPcsc({ path: opts.libraryPath });
}

/**
 * Opens every reader whose name contains `readerFilter` (case-sensitive, as python-fido2's
 * `CtapPcscDevice.list_devices(name)`) and that holds a card with the FIDO applet, one
 * {@linkcode CtapPcscDevice} at a time. Readers without a card are not touched; cards without
 * the applet are skipped (see `onSkip`). The caller closes each device it keeps.
 */
export async function* listPcscDevices(
  readerFilter = "",
  opts: ListPcscDevicesOptions = {},
): AsyncGenerator<CtapPcscDevice> {
  const backend = opts.backend ?? await openPcscBackend(opts);
  try {
    for (const reader of await backend.listReaders()) {
      if (!reader.name.includes(readerFilter) || !reader.cardPresent) continue;
      let device: CtapPcscDevice;
      try {
        const connection = await backend.connect(reader.name, { exclusive: opts.exclusive });
        device = await CtapPcscDevice.open(connection, opts);
      } catch (e) {
        opts.onSkip?.(reader.name, e);
        continue;
      }
      yield device;
    }
  } finally {
    if (!opts.backend) backend.close?.();
  }
}
