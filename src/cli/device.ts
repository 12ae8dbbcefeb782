/**
 * Device selection for every command: a hidapi path, a persisted virtual authenticator, a
 * UDP simulator, a PC/SC reader, or the first USB security key found (then the first FIDO card
 * in a reader).
 * @module
 */
import { CtapHidDevice, listDevices, openDevice, UdpHidConnection } from "../hid/mod.ts";
import { type CtapPcscDevice, listPcscDevices } from "../pcsc/mod.ts";
import { VirtualAuthenticator } from "../virtual/mod.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";

/** The device options of the command line. */
export interface DeviceSelection {
  /** hidapi path (`--device`). */
  readonly device?: string;
  /** `--virtual`: true for an in-memory authenticator, or the state file to persist to. */
  readonly virtual?: string | true;
  /** `--udp HOST:PORT`. */
  readonly udp?: string;
  /** `--virtual-uv`: give the virtual authenticator built-in UV (a simulated fingerprint). */
  readonly virtualUv?: boolean;
  /** `--reader NAME`: the FIDO card in the first PC/SC reader whose name contains NAME. */
  readonly reader?: string;
}

/** An opened device and how to let go of it. */
export interface OpenedDevice {
  readonly device: CtapHidDevice | CtapPcscDevice;
  /** What the user selected, for messages. */
  readonly label: string;
  /** Closes the device (and saves a virtual authenticator's state). */
  close(): Promise<void>;
}

/** Splits `HOST:PORT` (IPv6 hosts in brackets: `[::1]:8111`). */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(
      `--udp expects HOST:PORT (e.g. 127.0.0.1:8111), got ${JSON.stringify(text)}`,
    );
  }
  return { host: m[1] ?? m[2], port };
}

/** Opens the device the options select (at most one option may be given). */
export async function openSelected(sel: DeviceSelection): Promise<OpenedDevice> {
  const given = [sel.device, sel.virtual, sel.udp, sel.reader].filter((v) => v !== undefined)
    .length;
  if (given > 1) throw new UsageError("Use only one of --device, --virtual, --udp and --reader");
  if (sel.virtualUv && sel.virtual === undefined) {
    throw new UsageError("--virtual-uv only applies to --virtual");
  }
  if (sel.virtual !== undefined) {
    const stateFile = sel.virtual === true ? undefined : sel.virtual;
    const uv = sel.virtualUv === true;
    const va = new VirtualAuthenticator({
      stateFile,
      uv,
      // The simulated finger always matches, also for UV tokens (getPinUvAuthTokenUsingUv).
      ...(uv ? { pinOptions: { verifyUser: () => Promise.resolve(true) } } : {}),
    });
    const device = await va.device();
    return {
      device,
      label: stateFile ? `virtual authenticator (${stateFile})` : "virtual authenticator",
      close: async () => {
        await device.close();
        await va.close();
      },
    };
  }
  if (sel.udp !== undefined) {
    const { host, port } = parseHostPort(sel.udp);
    const connection = await UdpHidConnection.open({ host, port, localPort: 0 });
    try {
      const device = await CtapHidDevice.open(connection.descriptor, connection, {
        readTimeout: 1500,
      });
      return { device, label: connection.descriptor.path, close: () => device.close() };
    } catch (e) {
      await connection.close();
      throw new CliError(EXIT.NO_DEVICE, `No authenticator answers at udp://${sel.udp}`, {
        cause: e,
      });
    }
  }
  if (sel.reader !== undefined) return await openReader(sel.reader);
  if (sel.device !== undefined) {
    const device = await openDevice(sel.device);
    return { device, label: sel.device, close: () => device.close() };
  }
  for await (const device of listDevices()) {
    return { device, label: device.descriptor.path, close: () => device.close() };
  }
  const card = await firstCard("").catch(() => undefined); // no PC/SC stack: USB only
  if (card) return card;
  throw new CliError(
    EXIT.NO_DEVICE,
    "No FIDO security key found (plug one in, or use --device, --virtual or --udp)",
  );
}

async function firstCard(filter: string): Promise<OpenedDevice | undefined> {
  for await (const device of listPcscDevices(filter)) {
    return { device, label: device.reader, close: () => device.close() };
  }
  return undefined;
}

/** `--reader NAME`: the first reader whose name contains NAME and holds a FIDO card. */
async function openReader(name: string): Promise<OpenedDevice> {
  const card = await firstCard(name);
  if (card) return card;
  throw new CliError(
    EXIT.NO_DEVICE,
    `No FIDO security key in a reader matching ${JSON.stringify(name)} ` +
      "(see `fido2 list` for the readers with a key on them)",
  );
}
