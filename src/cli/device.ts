/**
 * Device selection for every command: a hidapi path, a persisted virtual authenticator, a
 * UDP simulator, a PC/SC reader, or the first USB security key found (then the first FIDO card
 * in a reader).
 * @module
 */
import { CtapHidDevice, listDevices, openDevice, UdpHidConnection } from "../hid/mod.ts";
import type { CtapPcscDevice } from "../pcsc/mod.ts";
import type { AuthenticatorProfile, AuthenticatorQuirks } from "../virtual/mod.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";

/** The device options of the command line. */
export interface DeviceSelection {
  /** hidapi path (`--device`). */
  readonly device?: string;
  /** `--virtual`: true for an in-memory authenticator, or the state file to persist to. */
  readonly virtual?: string | true;
  /** `--udp HOST:PORT`. */
  readonly udp?: string;
  /** `--udp-local-port N`: the local port answers come back to (default 7112, 0 = any). */
  readonly udpLocalPort?: string;
  /** `--virtual-uv`: give the virtual authenticator built-in UV (a simulated fingerprint). */
  readonly virtualUv?: boolean;
  /** `--profile`: the generation of key the virtual authenticator behaves as. */
  readonly profile?: string;
  /** `--quirk` (repeatable): firmware quirks of the virtual authenticator. */
  readonly quirks?: readonly string[];
  /** `--reader NAME`: the FIDO card in the first PC/SC reader whose name contains NAME. */
  readonly reader?: string;
}

/** `--quirk` names and the switch each one turns on. */
export const QUIRK_FLAGS: Readonly<Record<string, keyof AuthenticatorQuirks>> = {
  "token-single-use": "tokenSingleUse",
  "rp-name-is-user-name": "rpNameIsUserName",
  "no-algorithms": "noAlgorithms",
  "credmgmt-on-pre": "credMgmtOnPre",
  "u2f-cbor-bit": "cborCapabilityWithoutCtap2",
};

function virtualProfile(sel: DeviceSelection, PROFILES: readonly AuthenticatorProfile[]): {
  profile?: AuthenticatorProfile;
  quirks: AuthenticatorQuirks;
} {
  if (sel.profile !== undefined && !PROFILES.includes(sel.profile as AuthenticatorProfile)) {
    throw new UsageError(
      `--profile must be one of ${PROFILES.join(", ")}, got ${JSON.stringify(sel.profile)}`,
    );
  }
  const quirks: Record<string, boolean> = {};
  for (const q of sel.quirks ?? []) {
    const flag = QUIRK_FLAGS[q];
    if (!flag) {
      throw new UsageError(
        `--quirk must be one of ${Object.keys(QUIRK_FLAGS).join(", ")}, got ${JSON.stringify(q)}`,
      );
    }
    quirks[flag] = true;
  }
  return { profile: sel.profile as AuthenticatorProfile | undefined, quirks };
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

/**
 * The port SoloKeys, Nitrokey and CanoKey firmware simulators send every answer to, whatever
 * port the request came from; `--udp` binds it unless `--udp-local-port` says otherwise (as
 * the library's `UdpHidConnection` does).
 */
export const SIMULATOR_ANSWER_PORT = 7112;

/** Where `--udp` sends to and listens on. */
export interface UdpEndpoints {
  readonly host: string;
  readonly port: number;
  /** Local port to bind; 0 lets the system pick one. */
  readonly localPort: number;
}

/** Resolves `--udp HOST:PORT` and `--udp-local-port N` (validated) into endpoints. */
export function udpEndpoints(sel: DeviceSelection): UdpEndpoints | undefined {
  if (sel.udp === undefined) {
    if (sel.udpLocalPort !== undefined) {
      throw new UsageError("--udp-local-port only applies to --udp HOST:PORT");
    }
    return undefined;
  }
  const { host, port } = parseHostPort(sel.udp);
  let localPort = SIMULATOR_ANSWER_PORT;
  if (sel.udpLocalPort !== undefined) {
    localPort = /^\d{1,5}$/.test(sel.udpLocalPort) ? Number(sel.udpLocalPort) : NaN;
    if (!(localPort <= 65535)) {
      throw new UsageError(
        `--udp-local-port expects a port number 0-65535 (0 = any free port), got ${
          JSON.stringify(sel.udpLocalPort)
        }`,
      );
    }
  }
  return { host, port, localPort };
}

async function openUdp(at: UdpEndpoints): Promise<OpenedDevice> {
  const where = `udp://${at.host.includes(":") ? `[${at.host}]` : at.host}:${at.port}`;
  let connection: UdpHidConnection;
  try {
    connection = await UdpHidConnection.open(at);
  } catch (e) {
    throw new CliError(
      EXIT.NO_DEVICE,
      `Cannot bind local UDP port ${at.localPort} to listen for the answers of ${where}: ${
        (e as Error).message
      }. Another program (a second fido2, another client of the simulator) holds it: close it, ` +
        `or pass --udp-local-port N (0 = any free port, for simulators that answer to the ` +
        `sender's port)`,
      { cause: e },
    );
  }
  try {
    const device = await CtapHidDevice.open(connection.descriptor, connection, {
      readTimeout: 1500,
    });
    return { device, label: connection.descriptor.path, close: () => device.close() };
  } catch (e) {
    const local = connection.localPort;
    await connection.close();
    const hint = local === SIMULATOR_ANSWER_PORT
      ? `, the port SoloKeys, Nitrokey and CanoKey simulators answer to; a simulator that ` +
        `answers elsewhere needs --udp-local-port N`
      : `; SoloKeys, Nitrokey and CanoKey simulators answer to port ${SIMULATOR_ANSWER_PORT} ` +
        `only (the default without --udp-local-port)`;
    throw new CliError(
      EXIT.NO_DEVICE,
      `No authenticator answers at ${where} (sent to port ${at.port}, listened on local UDP ` +
        `port ${local}). Check that the simulator is running and listens on port ${at.port}, ` +
        `and that it sends its answers to port ${local}${hint}`,
      { cause: e },
    );
  }
}

/** Opens the device the options select (at most one option may be given). */
export async function openSelected(sel: DeviceSelection): Promise<OpenedDevice> {
  const given = [sel.device, sel.virtual, sel.udp, sel.reader].filter((v) => v !== undefined)
    .length;
  if (given > 1) throw new UsageError("Use only one of --device, --virtual, --udp and --reader");
  if (sel.virtualUv && sel.virtual === undefined) {
    throw new UsageError("--virtual-uv only applies to --virtual");
  }
  if ((sel.profile !== undefined || sel.quirks?.length) && sel.virtual === undefined) {
    throw new UsageError("--profile and --quirk only apply to --virtual");
  }
  if (sel.virtual !== undefined) {
    const stateFile = sel.virtual === true ? undefined : sel.virtual;
    const uv = sel.virtualUv === true;
    // The virtual authenticator (and node:fs for its state file) only for --virtual.
    const { PROFILES, VirtualAuthenticator } = await import("../virtual/mod.ts");
    const { profile, quirks } = virtualProfile(sel, PROFILES);
    const va = new VirtualAuthenticator({
      stateFile,
      profile,
      quirks,
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
  const udp = udpEndpoints(sel);
  if (udp) return openUdp(udp);
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
  const { listPcscDevices } = await import("../pcsc/mod.ts");
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
