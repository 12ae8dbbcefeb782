/**
 * Commands about the device itself: `list`, `info`, `wink`, `reset`.
 * @module
 */
import { CAPABILITY } from "../ctap.ts";
import type { Ctap2 } from "../ctap2/base.ts";
import { ClientPin } from "../ctap2/pin.ts";
import type { HidDescriptor } from "../hid/connection.ts";
import {
  accessErrorMessage,
  CtapHidDevice,
  listDevices,
  type UnopenableDevice,
} from "../hid/mod.ts";
import { CtapPcscDevice, listPcscDevices } from "../pcsc/mod.ts";
import { toHex } from "../utils.ts";
import { type Command, expectArgs } from "./command.ts";
import type { Context } from "./context.ts";
import { CliError, EXIT, exitCodeFor, messageFor } from "./errors.ts";
import { formatFields, formatTable } from "./output.ts";
import { elevated, webauthnDllInfo } from "./windows.ts";

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

function capabilityNames(caps: number): string[] {
  return Object.entries(CAPABILITY).filter(([, bit]) => caps & bit).map(([name]) => name);
}

function describe(d: HidDescriptor) {
  return {
    path: d.path,
    vendorId: hex4(d.vid),
    productId: hex4(d.pid),
    product: d.productName ?? "",
    serialNumber: d.serialNumber ?? "",
  };
}

/** A key on a PC/SC reader, as `list` and `info` show it. */
function describeCard(d: CtapPcscDevice) {
  return {
    transport: "pcsc" as const,
    reader: d.reader,
    atr: toHex(d.atr),
    applet: d.appletVersion,
    capabilities: capabilityNames(d.capabilities),
    extendedApdus: d.extendedApdus,
  };
}

/** The keys on PC/SC readers; none when there is no PC/SC stack (library or service). */
async function listCards(): Promise<ReturnType<typeof describeCard>[]> {
  const found: ReturnType<typeof describeCard>[] = [];
  try {
    for await (const device of listPcscDevices()) {
      found.push(describeCard(device));
      await device.close();
    }
  } catch {
    // No pcsclite / pcscd not running: USB keys only.
  }
  return found;
}

const list: Command = {
  name: "list",
  summary: "List connected FIDO security keys (USB through hidapi, NFC/smart card through PC/SC)",
  needsDevice: false,
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const found: (ReturnType<typeof describe> & { transport: "usb" })[] = [];
    const unopenable: UnopenableDevice[] = [];
    // Keys found but not openable end the listing with an error naming the fix when none
    // opened; when some did, the others are reported beside the table.
    const onUnopenable = (d: UnopenableDevice) => unopenable.push(d);
    for await (const device of listDevices(undefined, { onUnopenable })) {
      found.push({ transport: "usb", ...describe(device.descriptor) });
      await device.close();
    }
    if (unopenable.length) ctx.out.status(accessErrorMessage(unopenable));
    const cards = await listCards();
    ctx.out.result([...found, ...cards], () => {
      if (found.length === 0 && cards.length === 0) return "No FIDO security keys found.\n";
      const usb = found.length === 0 ? "" : formatTable(
        ["PATH", "VID:PID", "PRODUCT", "SERIAL"],
        found.map((d) => [d.path, `${d.vendorId}:${d.productId}`, d.product, d.serialNumber]),
      );
      const nfc = cards.length === 0 ? "" : formatTable(
        ["READER", "APPLET", "CAPABILITIES", "ATR"],
        cards.map((c) => [c.reader, c.applet, c.capabilities.join(" "), c.atr]),
      );
      return usb && nfc ? `${usb}\n${nfc}` : usb || nfc;
    });
  },
};

/** A section of `fido2 info`: its JSON members and its human lines. */
interface InfoSection {
  readonly json: Record<string, unknown>;
  readonly fields: [string, string][];
}

/** The authenticator's transport and getInfo data. */
async function deviceInfo(ctx: Context): Promise<InfoSection> {
  const device = await ctx.device();
  if (device instanceof CtapPcscDevice) return await cardInfo(ctx, device);
  const transport = {
    ...describe(device.descriptor),
    ctaphidVersion: device.ctaphidVersion,
    deviceVersion: device.deviceVersion.join("."),
    capabilities: capabilityNames(device.capabilities),
  };
  const ctap = await ctx.ctap2IfAny();
  if (!ctap) {
    return {
      json: { device: transport, info: { versions: ["U2F_V2"] } },
      fields: [
        ["Path", transport.path],
        ["Capabilities", transport.capabilities.join(" ")],
        ["Versions", "U2F_V2 (no CTAP2)"],
      ],
    };
  }
  return await getInfoSection(ctx, ctap, transport, [
    ["Path", transport.path],
    ["Product", transport.product || "-"],
    ["VID:PID", `${transport.vendorId}:${transport.productId}`],
    ["Device version", transport.deviceVersion],
    ["Capabilities", transport.capabilities.join(" ")],
  ]);
}

/** `info` over PC/SC: the reader, ATR, applet and APDU form, then the same getInfo fields. */
async function cardInfo(ctx: Context, device: CtapPcscDevice): Promise<InfoSection> {
  const transport = describeCard(device);
  const head: [string, string][] = [
    ["Reader", transport.reader],
    ["ATR", transport.atr],
    ["Applet", transport.applet],
    ["Capabilities", transport.capabilities.join(" ") || "-"],
    ["APDUs", transport.extendedApdus ? "extended length" : "short, chained"],
  ];
  const ctap = await ctx.ctap2IfAny();
  if (!ctap) {
    return {
      json: { device: transport, info: { versions: ["U2F_V2"] } },
      fields: [...head, ["Versions", "U2F_V2 (no CTAP2)"]],
    };
  }
  return await getInfoSection(ctx, ctap, transport, head);
}

/** getInfo (and the PIN retries) after the transport's own `head` fields. */
async function getInfoSection(
  ctx: Context,
  ctap: Ctap2,
  transport: Record<string, unknown>,
  head: [string, string][],
): Promise<InfoSection> {
  const i = ctap.info;
  let pinRetries: number | undefined;
  if (i.options.clientPin === true) {
    pinRetries = (await new ClientPin(ctap).getPinRetries(ctx.call())).retries;
  }
  const opts = Object.entries(i.options).map(([k, v]) => `${k}=${v}`).join(" ");
  const fields: [string, string][] = [
    ...head,
    ["Versions", i.versions.join(" ")],
    ["AAGUID", i.aaguid.toString()],
    ["Extensions", i.extensions.join(" ") || "-"],
    ["Options", opts || "-"],
    ["PIN/UV protocols", i.pinUvProtocols.join(" ") || "-"],
    ["Algorithms", i.algorithms.map((a) => String(a.alg)).join(" ") || "-"],
    ["Transports", i.transports.join(" ") || "-"],
    ["Max message size", String(i.maxMsgSize)],
    ["Max creds in list", String(i.maxCredsInList)],
    ["Max cred ID length", String(i.maxCredIdLength)],
    ["Min PIN length", String(i.minPinLength)],
    ["Force PIN change", String(i.forcePinChange)],
    ["Large blob storage", i.maxLargeBlob ? `${i.maxLargeBlob} bytes` : "-"],
    [
      "Remaining disc. creds",
      i.remainingDiscCreds === undefined ? "-" : String(i.remainingDiscCreds),
    ],
    ["Firmware version", String(i.firmwareVersion)],
  ];
  if (pinRetries !== undefined) fields.push(["PIN retries", String(pinRetries)]);
  return {
    json: {
      device: transport,
      info: i.toJSON(),
      ...(pinRetries === undefined ? {} : { pinRetries }),
    },
    fields,
  };
}

/**
 * Windows without a device option: webauthn.dll's API version and Windows Hello, then the
 * first key's details when the prompt is elevated (Windows allows raw CTAP only there).
 */
async function windowsInfo(ctx: Context): Promise<InfoSection> {
  const dll = await webauthnDllInfo();
  const fields: [string, string][] = "error" in dll
    ? [["webauthn.dll", `unavailable (${dll.error})`]]
    : [
      ["webauthn.dll", dll.path],
      ["API version", String(dll.apiVersion)],
      ["Platform authenticator", dll.platformAuthenticator ? "available" : "not available"],
    ];
  const json: Record<string, unknown> = { webauthn: dll };
  json.elevated = await elevated(ctx.system);
  if (!json.elevated) {
    fields.push(["Security keys", "details need an elevated prompt (Run as administrator)"]);
    return { json, fields };
  }
  try {
    const d = await deviceInfo(ctx);
    return { json: { ...json, ...d.json }, fields: [...fields, ...d.fields] };
  } catch (e) {
    // No key, or no hidapi.dll: webauthn.dll's part still stands.
    if (exitCodeFor(e) !== EXIT.NO_DEVICE) throw e;
    fields.push(["Security keys", `none reachable (${messageFor(e).split("\n")[0]})`]);
    return { json: { ...json, deviceError: messageFor(e) }, fields };
  }
}

const info: Command = {
  name: "info",
  summary: "Show the authenticator's transport and getInfo data (Windows: webauthn.dll too)",
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const section = ctx.system.os === "win32" && !ctx.explicitDevice
      ? await windowsInfo(ctx)
      : await deviceInfo(ctx);
    ctx.out.result(section.json, () => formatFields(section.fields));
  },
};

const wink: Command = {
  name: "wink",
  summary: "Make the key blink, to tell it apart from others",
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const device = await ctx.device();
    if (!(device instanceof CtapHidDevice) || !(device.capabilities & CAPABILITY.WINK)) {
      throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support wink");
    }
    await device.wink(ctx.call());
    ctx.out.result({ winked: true }, () => "Winked.\n");
  },
};

const reset: Command = {
  name: "reset",
  summary: "Factory-reset FIDO: deletes every credential and the PIN",
  options: { yes: { type: "boolean", short: "y", help: "do not ask for confirmation" } },
  async run(ctx: Context) {
    expectArgs(ctx, this, 0);
    const ok = await ctx.prompter.confirm(
      "Reset deletes ALL credentials and the PIN of this key. Continue?",
      ctx.flag("yes"),
    );
    if (!ok) throw new CliError(EXIT.CANCELLED, "Reset not confirmed");
    const ctap = await ctx.ctap2();
    ctx.out.status(
      "Reset must happen within seconds of plugging the key in; touch it when it blinks.",
    );
    await ctap.reset(ctx.call());
    ctx.out.result({ reset: true }, () => "The authenticator was reset.\n");
  },
};

/** Device commands. */
export const deviceCommands: readonly Command[] = [list, info, wink, reset];
