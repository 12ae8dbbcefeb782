/**
 * HID report descriptor parsing: enough of the HID 1.11 item grammar to tell a FIDO
 * authenticator (usage page 0xF1D0, usage 1) from other devices and to learn its report
 * sizes, for backends whose enumeration reports usage page 0 (hidapi-libusb before 0.12).
 * @module
 */
import { FormatError } from "../errors.ts";

/** The FIDO Alliance HID usage page. */
export const FIDO_USAGE_PAGE = 0xf1d0;
/** The CTAPHID usage within {@linkcode FIDO_USAGE_PAGE}. */
export const FIDO_USAGE = 0x01;

/** What a report descriptor says about a FIDO interface. */
export interface FidoReportInfo {
  /** Input report size in bytes (without report ID). */
  readonly reportSizeIn: number;
  /** Output report size in bytes (without report ID). */
  readonly reportSizeOut: number;
}

interface Item {
  readonly type: number;
  readonly tag: number;
  readonly value: number;
  readonly size: number;
}

function* items(d: Uint8Array): Generator<Item> {
  let i = 0;
  while (i < d.length) {
    const prefix = d[i];
    if (prefix === 0xfe) {
      // Long item: 0xFE, bDataSize, bLongItemTag, data. None are defined; skip them.
      if (i + 3 > d.length) throw new FormatError("Truncated long item in HID report descriptor");
      const n = d[i + 1];
      if (i + 3 + n > d.length) {
        throw new FormatError("Truncated long item in HID report descriptor");
      }
      i += 3 + n;
      continue;
    }
    const size = [0, 1, 2, 4][prefix & 3];
    if (i + 1 + size > d.length) {
      throw new FormatError(`Truncated item 0x${prefix.toString(16)} in HID report descriptor`);
    }
    let value = 0;
    for (let k = size - 1; k >= 0; k--) value = value * 256 + d[i + 1 + k];
    yield { type: (prefix >> 2) & 3, tag: prefix >> 4, value, size };
    i += 1 + size;
  }
}

const MAIN = 0, GLOBAL = 1, LOCAL = 2;

/**
 * Parses a report descriptor and returns the FIDO interface's report sizes; throws
 * `FormatError` for a truncated descriptor or one that is not a FIDO device.
 */
export function parseReportDescriptor(descriptor: Uint8Array): FidoReportInfo {
  let usagePage = 0;
  let reportSize = 0;
  let reportCount = 0;
  let usages: number[] = [];
  let depth = 0;
  // Depth of the FIDO application collection while inside it, else -1.
  let fidoDepth = -1;
  let found = false;
  let inBits = 0;
  let outBits = 0;
  for (const it of items(descriptor)) {
    if (it.type === GLOBAL) {
      if (it.tag === 0) usagePage = it.value;
      else if (it.tag === 7) reportSize = it.value;
      else if (it.tag === 9) reportCount = it.value;
    } else if (it.type === LOCAL) {
      // A 4-byte usage carries its own usage page in the high half.
      if (it.tag === 0) usages.push(it.size === 4 ? it.value : usagePage * 0x10000 + it.value);
    } else if (it.type === MAIN) {
      if (it.tag === 0xa) {
        const usage = usages[0] ?? usagePage * 0x10000;
        if (fidoDepth < 0 && usage === FIDO_USAGE_PAGE * 0x10000 + FIDO_USAGE) {
          fidoDepth = depth;
          found = true;
        }
        depth++;
      } else if (it.tag === 0xc) {
        if (depth === 0) {
          throw new FormatError("Unbalanced End Collection in HID report descriptor");
        }
        depth--;
        if (depth === fidoDepth) fidoDepth = -1;
      } else if (fidoDepth >= 0 && it.tag === 8) {
        inBits += reportSize * reportCount;
      } else if (fidoDepth >= 0 && it.tag === 9) {
        outBits += reportSize * reportCount;
      }
      usages = [];
    }
  }
  if (!found) throw new FormatError("Not a FIDO device");
  if (inBits === 0 || outBits === 0 || inBits % 8 || outBits % 8) {
    throw new FormatError(
      `FIDO report descriptor has unusable report sizes (in ${inBits} bits, out ${outBits} bits)`,
    );
  }
  return { reportSizeIn: inBits / 8, reportSizeOut: outBits / 8 };
}

/** Whether a report descriptor describes a FIDO (CTAPHID) interface. */
export function isFidoDescriptor(descriptor: Uint8Array): boolean {
  try {
    parseReportDescriptor(descriptor);
    return true;
  } catch {
    return false;
  }
}
