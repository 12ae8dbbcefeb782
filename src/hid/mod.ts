/**
 * CTAPHID: USB-HID (and UDP-simulator) transport for CTAP1/CTAP2, client and authenticator
 * sides, plus device discovery over a pluggable native HID backend.
 * @module
 */
import { TransportError } from "../errors.ts";
import type { HidBackend, HidDescriptor, HidDeviceInfo } from "./connection.ts";
import { CtapHidDevice, type CtapHidDeviceOptions } from "./device.ts";
import { FIDO_USAGE, FIDO_USAGE_PAGE, parseReportDescriptor } from "./descriptor.ts";

export { CtapHidDevice, type CtapHidDeviceOptions, HidError, type HidInitInfo } from "./device.ts";
export { CtapHidServer, type CtapHidServerOptions } from "./server.ts";
export { FaultInjector, type HidFaults } from "./faults.ts";
export {
  BROADCAST_CID,
  CTAPHID,
  fragment,
  HID_ERR,
  type HidFrame,
  maxPayload,
  packetCid,
  Reassembler,
} from "./framing.ts";
export {
  FIDO_USAGE,
  FIDO_USAGE_PAGE,
  type FidoReportInfo,
  isFidoDescriptor,
  parseReportDescriptor,
} from "./descriptor.ts";
export {
  createConnectionPair,
  type HidBackend,
  type HidConnection,
  type HidDescriptor,
  type HidDeviceInfo,
} from "./connection.ts";
export type { CtapProcessor, RequestContext } from "../ctap.ts";
export {
  type DatagramApi,
  type DatagramBackend,
  serveUdp,
  UdpHidConnection,
  type UdpHidOptions,
  type UdpServer,
} from "./udp.ts";

const DEFAULT_REPORT_SIZE = 64;

/**
 * Decides whether an enumerated HID interface is a FIDO authenticator and with which report
 * sizes. Backends that report usage page 0 (hidapi-libusb) are asked for the raw report
 * descriptor instead; `undefined` means "not FIDO" or "cannot tell".
 */
export async function fidoDescriptor(
  info: HidDeviceInfo,
  backend: HidBackend,
): Promise<HidDescriptor | undefined> {
  let sizes = { reportSizeIn: DEFAULT_REPORT_SIZE, reportSizeOut: DEFAULT_REPORT_SIZE };
  const claimsFido = info.usagePage === FIDO_USAGE_PAGE && info.usage === FIDO_USAGE;
  if (!claimsFido && info.usagePage !== 0) return undefined;
  let raw: Uint8Array | undefined;
  try {
    raw = await backend.getReportDescriptor?.(info.path);
  } catch {
    raw = undefined;
  }
  if (raw && raw.length > 0) {
    try {
      sizes = parseReportDescriptor(raw);
    } catch {
      if (!claimsFido) return undefined;
    }
  } else if (!claimsFido) {
    return undefined;
  }
  return {
    path: info.path,
    vid: info.vendorId,
    pid: info.productId,
    ...sizes,
    productName: info.productString,
    serialNumber: info.serialNumber,
  };
}

/** A FIDO key that was found but could not be opened, with the reason and the fix. */
export interface UnopenableDevice {
  /** The key as enumerated. */
  readonly descriptor: HidDescriptor;
  /** Why opening it or CTAPHID_INIT failed. */
  readonly error: unknown;
  /** What to do about it on this platform (udev rule, WindowsClient), when known. */
  readonly fix?: string;
}

/**
 * FIDO keys are plugged in but none could be opened (no udev rule on Linux, a non-admin
 * process on Windows, another program holding the key), or hidapi is too old to recognise
 * them. The message lists each key with its reason and the fix.
 */
export class HidAccessError extends TransportError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "HidAccessError";
  /** `devices`: the keys that failed; `message` names them and the fix. */
  constructor(message: string, readonly devices: readonly UnopenableDevice[] = []) {
    super(message, devices.length === 1 ? { cause: devices[0].error } : undefined);
  }
}

function describeDescriptor(d: HidDescriptor): string {
  const id = `${d.vid.toString(16).padStart(4, "0")}:${d.pid.toString(16).padStart(4, "0")}`;
  return `${d.path} (${id}${d.productName ? ` ${d.productName}` : ""})`;
}

/** The library error for keys found but not openable: one line per key, the fix once. */
export function accessErrorMessage(devices: readonly UnopenableDevice[]): string {
  const n = devices.length;
  const lines = devices.map((d) =>
    `  ${describeDescriptor(d.descriptor)}: ${
      d.error instanceof Error ? d.error.message : String(d.error)
    }`
  );
  const fixes = [...new Set(devices.map((d) => d.fix).filter((f) => f !== undefined))];
  return `Found ${n} FIDO security key${n === 1 ? "" : "s"} but could not open ${
    n === 1 ? "it" : "them"
  }:\n${lines.join("\n")}` + fixes.map((f) => `\nFix: ${f}`).join("");
}

/** Options of {@linkcode listDevices}. */
export interface ListDevicesOptions extends CtapHidDeviceOptions {
  /** Told about each FIDO key that was found but could not be opened (it is skipped). */
  readonly onUnopenable?: (device: UnopenableDevice) => void;
}

/**
 * The FIDO authenticators the backend can see, without opening them (python-fido2's
 * `list_descriptors`). Rejects with `HidAccessError` when hidapi is too old to recognise
 * keys and some HID devices could not be classified.
 */
export async function listDescriptors(backend?: HidBackend): Promise<HidDescriptor[]> {
  backend ??= await defaultBackend();
  const seen = new Set<string>();
  const out: HidDescriptor[] = [];
  let unclassified = 0;
  for (const info of await backend.enumerate()) {
    if (seen.has(info.path)) continue;
    const descriptor = await fidoDescriptor(info, backend);
    if (!descriptor) {
      if (info.usagePage === 0) unclassified++;
      continue;
    }
    seen.add(info.path);
    out.push(descriptor);
  }
  if (out.length === 0 && unclassified > 0 && backend.enumerationLimit) {
    throw new HidAccessError(
      `${unclassified} HID device(s) could not be checked for FIDO support: ` +
        backend.enumerationLimit,
    );
  }
  return out;
}

/**
 * The FIDO authenticator at `path`, without opening it (python-fido2's `get_descriptor`).
 * Throws `TransportError` when no such device exists or it is not a FIDO authenticator.
 */
export async function getDescriptor(path: string, backend?: HidBackend): Promise<HidDescriptor> {
  if (typeof path !== "string") {
    throw new TypeError(`getDescriptor(path) expects a string path, got ${typeof path}`);
  }
  backend ??= await defaultBackend();
  const info = (await backend.enumerate()).find((d) => d.path === path);
  if (!info) throw new TransportError(`No HID device at ${path}`);
  const descriptor = await fidoDescriptor(info, backend);
  if (!descriptor) throw new TransportError(`HID device ${path} is not a FIDO authenticator`);
  return descriptor;
}

/**
 * Opens every FIDO authenticator the backend can see, one at a time; the caller closes each
 * device it receives. A key that fails to open or to answer CTAPHID_INIT (no permission,
 * held by another process, unplugged mid-enumeration) is skipped and reported to
 * `opts.onUnopenable`; when keys were found but none could be opened, the iteration ends
 * with `HidAccessError` naming each key, the reason and the fix, instead of looking as if
 * no key were plugged in.
 */
export async function* listDevices(
  backend?: HidBackend,
  opts: ListDevicesOptions = {},
): AsyncIterable<CtapHidDevice> {
  backend ??= await defaultBackend();
  const failed: UnopenableDevice[] = [];
  let opened = 0;
  for (const descriptor of await listDescriptors(backend)) {
    let device: CtapHidDevice;
    try {
      device = await openDescriptor(descriptor, backend, opts);
    } catch (error) {
      const fix = backend.accessHint?.(descriptor, error);
      const entry: UnopenableDevice = { descriptor, error, ...(fix ? { fix } : {}) };
      failed.push(entry);
      opts.onUnopenable?.(entry);
      continue;
    }
    opened++;
    yield device;
  }
  if (opened === 0 && failed.length > 0) {
    throw new HidAccessError(accessErrorMessage(failed), failed);
  }
}

async function openDescriptor(
  descriptor: HidDescriptor,
  backend: HidBackend,
  opts: CtapHidDeviceOptions,
): Promise<CtapHidDevice> {
  const connection = await backend.open(
    descriptor.path,
    descriptor.reportSizeIn,
    descriptor.reportSizeOut,
  );
  try {
    return await CtapHidDevice.open(descriptor, connection, opts);
  } catch (e) {
    await connection.close();
    throw e;
  }
}

/**
 * Opens the FIDO authenticator at `path` (as listed by the backend). Throws
 * `TransportError` when no such FIDO device exists, and the INIT failure otherwise.
 */
export async function openDevice(
  path: string,
  backend?: HidBackend,
  opts: CtapHidDeviceOptions = {},
): Promise<CtapHidDevice> {
  backend ??= await defaultBackend();
  const descriptor = await getDescriptor(path, backend);
  try {
    return await openDescriptor(descriptor, backend, opts);
  } catch (error) {
    const fix = backend.accessHint?.(descriptor, error);
    if (!fix) throw error;
    throw new HidAccessError(accessErrorMessage([{ descriptor, error, fix }]), [
      { descriptor, error, fix },
    ]);
  }
}

/**
 * The system hidapi (ffi/hidapi.ts), loaded on first use only: importing this module must
 * not require FFI permissions or a native library.
 */
async function defaultBackend(): Promise<HidBackend> {
  const { loadHidApi } = await import("../../ffi/hidapi.ts");
  return await loadHidApi();
}
