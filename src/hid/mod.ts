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
export type { CtapProcessor, RequestContext } from "../virtual/types.ts";
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

/**
 * Opens every FIDO authenticator the backend can see, one at a time. Devices that fail to
 * open or to answer CTAPHID_INIT (held by another process, unplugged mid-enumeration) are
 * skipped. The caller closes each device it receives.
 */
export async function* listDevices(
  backend?: HidBackend,
  opts: CtapHidDeviceOptions = {},
): AsyncIterable<CtapHidDevice> {
  backend ??= await defaultBackend();
  const seen = new Set<string>();
  for (const info of await backend.enumerate()) {
    if (seen.has(info.path)) continue;
    const descriptor = await fidoDescriptor(info, backend);
    if (!descriptor) continue;
    seen.add(info.path);
    const device = await tryOpen(descriptor, backend, opts);
    if (device) yield device;
  }
}

async function tryOpen(
  descriptor: HidDescriptor,
  backend: HidBackend,
  opts: CtapHidDeviceOptions,
): Promise<CtapHidDevice | undefined> {
  try {
    return await openDescriptor(descriptor, backend, opts);
  } catch {
    return undefined;
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
  const info = (await backend.enumerate()).find((d) => d.path === path);
  if (!info) throw new TransportError(`No HID device at ${path}`);
  const descriptor = await fidoDescriptor(info, backend);
  if (!descriptor) throw new TransportError(`HID device ${path} is not a FIDO authenticator`);
  return await openDescriptor(descriptor, backend, opts);
}

/**
 * The system hidapi (ffi/hidapi.ts), loaded on first use only: importing this module must
 * not require FFI permissions or a native library.
 */
async function defaultBackend(): Promise<HidBackend> {
  const { loadHidApi } = await import("../../ffi/hidapi.ts");
  return await loadHidApi();
}
