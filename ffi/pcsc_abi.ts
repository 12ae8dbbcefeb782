/**
 * The three PC/SC ABIs `ffi/pcsc.ts` binds: their type sizes, struct layouts and entry-point
 * names, the symbol table built from them, and the marshalling of integers, strings and structs.
 * @module
 */
import { type NativeLibrary, type NativeType, platform, type SymbolTable } from "./runtime.ts";

/** One PC/SC ABI: sizes, offsets and naming of a platform's library. */
export interface PcscAbi {
  /** Which library family. */
  readonly name: "pcsclite" | "macos" | "windows";
  /** Size of `DWORD` and `LONG`. */
  readonly dword: 4 | 8;
  /** Size of `SCARDCONTEXT` / `SCARDHANDLE`. */
  readonly handle: 4 | 8;
  /** Whether handles are signed (`LONG`-typed in pcsclite and macOS). */
  readonly handleSigned: boolean;
  /** `…W` entry points and UTF-16LE strings (Windows); otherwise UTF-8 and no suffix. */
  readonly wide: boolean;
  /** `sizeof(SCARD_IO_REQUEST)`. */
  readonly ioRequestSize: number;
  /** `SCARD_READERSTATE` layout. */
  readonly readerState: {
    readonly size: number;
    readonly currentState: number;
    readonly eventState: number;
    readonly cbAtr: number;
    readonly rgbAtr: number;
    readonly atrMax: number;
  };
}

/** The three ABIs, by family. */
export const ABI: { readonly [K in PcscAbi["name"]]: PcscAbi } = {
  pcsclite: {
    name: "pcsclite",
    dword: 8,
    handle: 8,
    handleSigned: true,
    wide: false,
    ioRequestSize: 16,
    readerState: { size: 80, currentState: 16, eventState: 24, cbAtr: 32, rgbAtr: 40, atrMax: 33 },
  },
  macos: {
    name: "macos",
    dword: 4,
    handle: 4,
    handleSigned: true,
    wide: false,
    ioRequestSize: 8,
    readerState: { size: 61, currentState: 16, eventState: 20, cbAtr: 24, rgbAtr: 28, atrMax: 33 },
  },
  windows: {
    name: "windows",
    dword: 4,
    handle: 8,
    handleSigned: false,
    wide: true,
    ioRequestSize: 8,
    readerState: { size: 64, currentState: 16, eventState: 20, cbAtr: 24, rgbAtr: 28, atrMax: 36 },
  },
};

/**
 * The PC/SC constants the binding passes and reads; the same numbers in pcsc-lite, the PCSC
 * framework and winscard.h (checked against the headers by tests/fixtures/pcsc_layout.c).
 */
export const CONST = {
  SCOPE_USER: 0,
  SHARE_EXCLUSIVE: 1,
  SHARE_SHARED: 2,
  PROTOCOL_T0: 1,
  PROTOCOL_T1: 2,
  LEAVE_CARD: 0,
  RESET_CARD: 1,
  UNPOWER_CARD: 2,
  STATE_UNAWARE: 0,
  STATE_PRESENT: 0x20,
  STATE_EXCLUSIVE: 0x80,
  STATE_MUTE: 0x200,
} as const;

/** The ABI of the running OS. */
export function abiFor(os: string = platform()): PcscAbi {
  return os === "win32" ? ABI.windows : os === "darwin" ? ABI.macos : ABI.pcsclite;
}

/** The symbol table of `abi` (…W names on Windows; DWORD/LONG/handle types per ABI). */
export function symbolTable(abi: PcscAbi) {
  const dw: NativeType = abi.dword === 8 ? "u64" : "u32";
  const h: NativeType = abi.handle === 4 ? "i32" : abi.handleSigned ? "i64" : "u64";
  const rv: NativeType = abi.dword === 8 ? "i64" : "i32";
  const w = abi.wide ? "W" : "";
  return {
    SCardEstablishContext: {
      parameters: [dw, "ptr", "ptr", "buffer"],
      result: rv,
      nonblocking: true,
    },
    SCardReleaseContext: { parameters: [h], result: rv },
    [`SCardListReaders${w}`]: {
      parameters: [h, "ptr", "ptr", "buffer"],
      result: rv,
      nonblocking: true,
    },
    [`SCardGetStatusChange${w}`]: {
      parameters: [h, dw, "buffer", dw],
      result: rv,
      nonblocking: true,
    },
    [`SCardConnect${w}`]: {
      parameters: [h, "buffer", dw, dw, "buffer", "buffer"],
      result: rv,
      nonblocking: true,
    },
    SCardReconnect: { parameters: [h, dw, dw, dw, "buffer"], result: rv, nonblocking: true },
    SCardDisconnect: { parameters: [h, dw], result: rv, nonblocking: true },
    SCardBeginTransaction: { parameters: [h], result: rv, nonblocking: true },
    SCardEndTransaction: { parameters: [h, dw], result: rv, nonblocking: true },
    [`SCardStatus${w}`]: {
      parameters: [h, "ptr", "buffer", "buffer", "buffer", "buffer", "buffer"],
      result: rv,
    },
    SCardTransmit: {
      parameters: [h, "buffer", "buffer", dw, "ptr", "buffer", "buffer"],
      result: rv,
      nonblocking: true,
    },
  } satisfies SymbolTable;
}

// deno-lint-ignore no-explicit-any
export type AnyFn = (...args: any[]) => any;
/** A library bound with {@linkcode symbolTable}. */
export type PcscLib = NativeLibrary<
  Record<string, { parameters: NativeType[]; result: NativeType }>
>;

/** Native integer, string and struct helpers for one ABI. */
export class Marshal {
  constructor(readonly abi: PcscAbi) {}

  dwordBuf(value = 0): Uint8Array {
    const b = new Uint8Array(this.abi.dword);
    this.setDword(b, 0, value);
    return b;
  }

  setDword(b: Uint8Array, off: number, value: number): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (this.abi.dword === 8) dv.setBigUint64(off, BigInt(value), true);
    else dv.setUint32(off, value >>> 0, true);
  }

  getDword(b: Uint8Array, off = 0): number {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return this.abi.dword === 8 ? Number(dv.getBigUint64(off, true)) : dv.getUint32(off, true);
  }

  /** A handle read from an out-parameter, in the JS type the FFI expects for it. */
  getHandle(b: Uint8Array): number | bigint {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (this.abi.handle === 4) return dv.getInt32(0, true);
    return this.abi.handleSigned ? dv.getBigInt64(0, true) : dv.getBigUint64(0, true);
  }

  /** The `dword` argument value (bigint for 8-byte DWORDs). */
  dw(value: number): number | bigint {
    return this.abi.dword === 8 ? BigInt(value) : value;
  }

  str(s: string): Uint8Array {
    if (!this.abi.wide) {
      const b = new TextEncoder().encode(s);
      const out = new Uint8Array(b.length + 1);
      out.set(b);
      return out;
    }
    const out = new Uint8Array((s.length + 1) * 2);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < s.length; i++) dv.setUint16(i * 2, s.charCodeAt(i), true);
    return out;
  }

  /** Splits a `msz` multi-string (NUL-separated, double-NUL terminated) of `chars` units. */
  multiString(b: Uint8Array, chars: number): string[] {
    let text: string;
    if (this.abi.wide) {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      text = "";
      for (let i = 0; i < chars && i * 2 + 1 < b.length; i++) {
        text += String.fromCharCode(dv.getUint16(i * 2, true));
      }
    } else {
      text = new TextDecoder().decode(b.subarray(0, Math.min(chars, b.length)));
    }
    return text.split("\0").filter((s) => s.length > 0);
  }

  ioRequest(protocol: number): Uint8Array {
    const b = new Uint8Array(this.abi.ioRequestSize);
    const half = this.abi.ioRequestSize / 2;
    if (half === 8) {
      this.setDword(b, 0, protocol);
      this.setDword(b, 8, this.abi.ioRequestSize);
    } else {
      const dv = new DataView(b.buffer);
      dv.setUint32(0, protocol, true);
      dv.setUint32(4, this.abi.ioRequestSize, true);
    }
    return b;
  }
}

/** A `LONG` result as an unsigned 32-bit code (Windows returns it negative). */
export function rc(v: number | bigint): number {
  return Number(v) >>> 0;
}
