/**
 * Marshalling building blocks shared by `request.ts` and `result.ts`: the arena that keeps
 * request memory alive (and wipes it afterwards), pointer/BOOL/enum accessors, the validators
 * of request fields and the writers of the sub-structs both requests use.
 * @module
 */
import { addressOf, wideString } from "../runtime.ts";
import { FormatError } from "../../src/errors.ts";
import { LAYOUT, type Transport, TRANSPORTS } from "./layout.ts";
import type { ClientDataInput, CredentialDescriptor, HmacSalts } from "./types.ts";

/**
 * Keeps every buffer handed to native code referenced until the call has returned, then wipes
 * it (requests carry salts and blobs) and lets it go, once.
 */
export class Arena {
  readonly #keep: Uint8Array[] = [];
  #released = false;

  /** Zeroed, GC-stable memory of `size` bytes (own ArrayBuffer, never an on-heap view). */
  alloc(size: number): { buf: Uint8Array; dv: DataView; addr: number } {
    if (this.#released) throw new Error("webauthn request memory used after its release");
    const buf = new Uint8Array(new ArrayBuffer(Math.max(size, 8)));
    this.#keep.push(buf);
    return { buf, dv: new DataView(buf.buffer), addr: addressOf(buf) };
  }

  /** Copies `data` into stable memory; empty gives NULL. */
  bytes(data: Uint8Array | undefined): number {
    if (!data || data.length === 0) return 0;
    const m = this.alloc(data.length);
    m.buf.set(data);
    return m.addr;
  }

  /**
   * Wipes and drops the memory; call only after the native call has returned (a memory use
   * after that reads zeros, which the fake DLL's tests detect). A second call does nothing.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const b of this.#keep) b.fill(0);
    this.#keep.length = 0;
  }

  /** NUL-terminated UTF-16LE copy of `s` (JS strings are UTF-16: surrogate pairs pass through). */
  wstr(s: string): number {
    const w = wideString(s, 2);
    const m = this.alloc(w.length);
    m.buf.set(w);
    return m.addr;
  }

  /** An array of pointers to `strings`. */
  wstrArray(strings: readonly string[]): number {
    if (strings.length === 0) return 0;
    const m = this.alloc(8 * strings.length);
    strings.forEach((s, i) => setPtr(m.dv, 8 * i, this.wstr(s)));
    return m.addr;
  }
}

export function setPtr(dv: DataView, off: number, addr: number): void {
  dv.setBigUint64(off, BigInt(addr), true);
}

export function getPtr(dv: DataView, off: number): number {
  return Number(dv.getBigUint64(off, true));
}

export function setBool(dv: DataView, off: number, v: boolean | undefined): void {
  dv.setInt32(off, v ? 1 : 0, true);
}

export function enumValue<T extends Record<string, number>>(
  table: T,
  value: string | undefined,
  what: string,
): number {
  if (value === undefined) return 0;
  if (!Object.hasOwn(table, value)) {
    throw new FormatError(`Unknown ${what} "${value}" (expected ${Object.keys(table).join(", ")})`);
  }
  return table[value];
}

export function checkBytes(data: unknown, what: string, opts: { max?: number; min?: number } = {}) {
  if (!(data instanceof Uint8Array)) throw new FormatError(`${what} must be a Uint8Array`);
  if (opts.min !== undefined && data.length < opts.min) {
    throw new FormatError(`${what} must be at least ${opts.min} bytes`);
  }
  if (opts.max !== undefined && data.length > opts.max) {
    throw new FormatError(`${what} must be at most ${opts.max} bytes`);
  }
}

export function checkString(s: unknown, what: string): asserts s is string {
  if (typeof s !== "string") throw new FormatError(`${what} must be a string`);
  if (s.includes("\0")) throw new FormatError(`${what} must not contain NUL`);
  // In a /u regex a surrogate pair is one code point, so this matches lone surrogates only.
  if (/\p{Cs}/u.test(s)) throw new FormatError(`${what} contains an unpaired UTF-16 surrogate`);
}

export function checkU32(n: unknown, what: string): number {
  if (n === undefined) return 0;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new FormatError(`${what} must be an integer in 0..2^32-1`);
  }
  return n;
}

function transportMask(transports: readonly string[] | undefined): number {
  let mask = 0;
  for (const t of transports ?? []) {
    if (Object.hasOwn(TRANSPORTS, t)) mask |= TRANSPORTS[t as Transport];
  }
  return mask;
}

export function transportNames(mask: number): Transport[] {
  return (Object.keys(TRANSPORTS) as Transport[]).filter((t) => (mask & TRANSPORTS[t]) !== 0);
}

export function writeSalt(arena: Arena, salts: HmacSalts, what: string): number {
  checkBytes(salts?.first, `${what}.first`, { min: 1 });
  if (salts.second !== undefined) checkBytes(salts.second, `${what}.second`, { min: 1 });
  const L = LAYOUT.hmacSalt;
  const m = arena.alloc(L.size);
  m.dv.setUint32(L.cbFirst, salts.first.length, true);
  setPtr(m.dv, L.pbFirst, arena.bytes(salts.first));
  if (salts.second) {
    m.dv.setUint32(L.cbSecond, salts.second.length, true);
    setPtr(m.dv, L.pbSecond, arena.bytes(salts.second));
  }
  return m.addr;
}

/** Writes a WEBAUTHN_CREDENTIALS (array of structs) into `dv` at `off`. */
export function writeCredentials(
  arena: Arena,
  dv: DataView,
  off: number,
  creds: readonly CredentialDescriptor[],
): void {
  if (creds.length === 0) return;
  const C = LAYOUT.credential;
  const arr = arena.alloc(C.size * creds.length);
  creds.forEach((c, i) => {
    const o = i * C.size;
    arr.dv.setUint32(o + C.dwVersion, 1, true);
    arr.dv.setUint32(o + C.cbId, c.id.length, true);
    setPtr(arr.dv, o + C.pbId, arena.bytes(c.id));
    setPtr(arr.dv, o + C.pwszCredentialType, arena.wstr(c.type ?? "public-key"));
  });
  dv.setUint32(off + LAYOUT.credentials.cCredentials, creds.length, true);
  setPtr(dv, off + LAYOUT.credentials.pCredentials, arr.addr);
}

/** A WEBAUTHN_CREDENTIAL_LIST (array of pointers to CREDENTIAL_EX). */
export function writeCredentialList(arena: Arena, creds: readonly CredentialDescriptor[]): number {
  const X = LAYOUT.credentialEx;
  const ptrs = arena.alloc(8 * creds.length);
  creds.forEach((c, i) => {
    const m = arena.alloc(X.size);
    m.dv.setUint32(X.dwVersion, 1, true);
    m.dv.setUint32(X.cbId, c.id.length, true);
    setPtr(m.dv, X.pbId, arena.bytes(c.id));
    setPtr(m.dv, X.pwszCredentialType, arena.wstr(c.type ?? "public-key"));
    m.dv.setUint32(X.dwTransports, transportMask(c.transports), true);
    setPtr(ptrs.dv, 8 * i, m.addr);
  });
  const L = LAYOUT.credentialList;
  const list = arena.alloc(L.size);
  list.dv.setUint32(L.cCredentials, creds.length, true);
  setPtr(list.dv, L.ppCredentials, creds.length ? ptrs.addr : 0);
  return list.addr;
}

export function checkCredentials(creds: readonly CredentialDescriptor[] | undefined, what: string) {
  if (creds === undefined) return [];
  if (!Array.isArray(creds)) throw new FormatError(`${what} must be an array`);
  creds.forEach((c, i) => {
    checkBytes(c?.id, `${what}[${i}].id`, { min: 1 });
    if (c.type !== undefined) checkString(c.type, `${what}[${i}].type`);
    if (c.transports !== undefined && !Array.isArray(c.transports)) {
      throw new FormatError(`${what}[${i}].transports must be an array`);
    }
  });
  return creds;
}

/** Writes a WEBAUTHN_EXTENSIONS into `dv` at `off`. */
export function writeExtensions(
  arena: Arena,
  dv: DataView,
  off: number,
  exts: { id: string; payload: Uint8Array }[],
): void {
  if (exts.length === 0) return;
  const E = LAYOUT.extension;
  const arr = arena.alloc(E.size * exts.length);
  exts.forEach((e, i) => {
    const o = i * E.size;
    setPtr(arr.dv, o + E.pwszExtensionIdentifier, arena.wstr(e.id));
    arr.dv.setUint32(o + E.cbExtension, e.payload.length, true);
    setPtr(arr.dv, o + E.pvExtension, arena.bytes(e.payload));
  });
  dv.setUint32(off + LAYOUT.extensions.cExtensions, exts.length, true);
  setPtr(dv, off + LAYOUT.extensions.pExtensions, arr.addr);
}

export function boolPayload(): Uint8Array {
  return new Uint8Array([1, 0, 0, 0]);
}

export function writeClientData(arena: Arena, cd: ClientDataInput): number {
  if (!cd || typeof cd !== "object") throw new FormatError("clientData must be an object");
  checkBytes(cd.json, "clientData.json", { min: 1 });
  const alg = cd.hashAlg ?? "SHA-256";
  if (alg !== "SHA-256" && alg !== "SHA-384" && alg !== "SHA-512") {
    throw new FormatError(`clientData.hashAlg must be SHA-256, SHA-384 or SHA-512, not ${alg}`);
  }
  const L = LAYOUT.clientData;
  const m = arena.alloc(L.size);
  m.dv.setUint32(L.dwVersion, 1, true);
  m.dv.setUint32(L.cbClientDataJSON, cd.json.length, true);
  setPtr(m.dv, L.pbClientDataJSON, arena.bytes(cd.json));
  setPtr(m.dv, L.pwszHashAlgId, arena.wstr(alg));
  return m.addr;
}

export function checkGuid(id: Uint8Array | undefined, what: string): void {
  if (id !== undefined) checkBytes(id, what, { min: 16, max: 16 });
}

export function hwndAddress(hwnd: number | bigint): number {
  const n = typeof hwnd === "bigint" ? Number(hwnd) : hwnd;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FormatError("hwnd must be a non-negative window handle");
  }
  return n;
}
