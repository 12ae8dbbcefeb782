/**
 * Marshalling between the binding's plain objects and webauthn.h's x64 structs: the arena that
 * keeps request memory alive, the writers and validators of request fields, and the readers of
 * the DLL's results (which never trust a count, pointer or version they are given).
 * @module
 */
import { addressOf, readBytes, readWideString, wideString } from "../runtime.ts";
import { FormatError } from "../../src/errors.ts";
import { LARGE_BLOB_STATUS, LAYOUT, type Transport, TRANSPORTS } from "./layout.ts";
import type {
  Assertion,
  ClientDataInput,
  CredentialAttestation,
  CredentialDescriptor,
  ExtensionOutputs,
  HmacSalts,
  PlatformCredential,
} from "./types.ts";

// ---------------------------------------------------------------- marshalling helpers

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

function transportNames(mask: number): Transport[] {
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

// ---------------------------------------------------------------- reading outputs

const MAX_BLOB = 1 << 24;

/** A view of the first `length` bytes of a native struct, copied out. */
function readStruct(addr: number, length: number): DataView {
  const b = readBytes(addr, length);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readBlob(dv: DataView, cbOff: number, pbOff: number, what: string): Uint8Array {
  const cb = dv.getUint32(cbOff, true);
  const pb = getPtr(dv, pbOff);
  if (cb === 0) return new Uint8Array(0);
  if (!pb) throw new FormatError(`webauthn.dll returned ${what} of ${cb} bytes at NULL`);
  if (cb > MAX_BLOB) throw new FormatError(`webauthn.dll returned ${what} of ${cb} bytes`);
  return readBytes(pb, cb);
}

function readString(addr: number, what: string): string {
  if (!addr) throw new FormatError(`webauthn.dll returned a NULL ${what}`);
  try {
    return readWideString(addr, 2, 4096)!;
  } catch (e) {
    throw new FormatError(`webauthn.dll returned an unterminated ${what}`, { cause: e });
  }
}

function readSalt(addr: number): HmacSalts | undefined {
  if (!addr) return undefined;
  const L = LAYOUT.hmacSalt;
  const dv = readStruct(addr, L.size);
  const first = readBlob(dv, L.cbFirst, L.pbFirst, "hmac secret");
  const second = readBlob(dv, L.cbSecond, L.pbSecond, "hmac secret");
  return second.length ? { first, second } : { first };
}

function readExtensions(dv: DataView, off: number): ExtensionOutputs {
  const L = LAYOUT.extensions;
  const n = dv.getUint32(off + L.cExtensions, true);
  const arr = getPtr(dv, off + L.pExtensions);
  const out: ExtensionOutputs = { raw: [] };
  if (n === 0) return out;
  if (!arr || n > 64) throw new FormatError(`webauthn.dll returned ${n} extensions at ${arr}`);
  const E = LAYOUT.extension;
  const all = readStruct(arr, n * E.size);
  for (let i = 0; i < n; i++) {
    const o = i * E.size;
    const id = readString(getPtr(all, o + E.pwszExtensionIdentifier), "extension identifier");
    const data = readBlob(all, o + E.cbExtension, o + E.pvExtension, `extension ${id}`);
    out.raw.push({ id, data });
    const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (id === "hmac-secret" && data.length >= 4) out.hmacSecret = d.getInt32(0, true) !== 0;
    else if (id === "credProtect" && data.length >= 4) out.credProtect = d.getUint32(0, true);
    else if (id === "minPinLength" && data.length >= 4) out.minPinLength = d.getUint32(0, true);
    else if (id === "credBlob" && data.length >= LAYOUT.credBlob.size) {
      // GetAssertion: WEBAUTHN_CRED_BLOB_EXTENSION pointing at the blob.
      out.credBlob = readBlob(
        d,
        LAYOUT.credBlob.cbCredBlob,
        LAYOUT.credBlob.pbCredBlob,
        "credBlob",
      );
    } else if (id === "credBlob" && data.length >= 4) {
      out.credBlobStored = d.getInt32(0, true) !== 0;
    }
  }
  return out;
}

function outputVersion(addr: number, max: number, what: string): number {
  const v = readStruct(addr, 4).getUint32(0, true);
  if (v < 1) throw new FormatError(`webauthn.dll returned ${what} version ${v}`);
  return Math.min(v, max);
}

export function readAttestation(addr: number): CredentialAttestation {
  const L = LAYOUT.credentialAttestation;
  const version = readStruct(addr, 4).getUint32(0, true);
  const v = outputVersion(addr, L.end.length - 1, "WEBAUTHN_CREDENTIAL_ATTESTATION");
  const dv = readStruct(addr, L.end[v]);
  const r: CredentialAttestation = {
    version,
    formatType: readString(getPtr(dv, L.pwszFormatType), "attestation format"),
    authenticatorData: readBlob(dv, L.cbAuthenticatorData, L.pbAuthenticatorData, "authData"),
    attestation: readBlob(dv, L.cbAttestation, L.pbAttestation, "attestation statement"),
    attestationObject: readBlob(
      dv,
      L.cbAttestationObject,
      L.pbAttestationObject,
      "attestation object",
    ),
    credentialId: readBlob(dv, L.cbCredentialId, L.pbCredentialId, "credential id"),
  };
  if (v >= 2) r.extensions = readExtensions(dv, L.Extensions);
  if (v >= 3) r.usedTransports = transportNames(dv.getUint32(L.dwUsedTransport, true));
  if (v >= 4) {
    r.epAtt = dv.getInt32(L.bEpAtt, true) !== 0;
    r.largeBlobSupported = dv.getInt32(L.bLargeBlobSupported, true) !== 0;
    r.residentKey = dv.getInt32(L.bResidentKey, true) !== 0;
  }
  if (v >= 5) r.prfEnabled = dv.getInt32(L.bPrfEnabled, true) !== 0;
  if (v >= 6) {
    r.unsignedExtensionOutputs = readBlob(
      dv,
      L.cbUnsignedExtensionOutputs,
      L.pbUnsignedExtensionOutputs,
      "unsigned extension outputs",
    );
  }
  if (v >= 7) {
    r.hmacSecret = readSalt(getPtr(dv, L.pHmacSecret));
    r.thirdPartyPayment = dv.getInt32(L.bThirdPartyPayment, true) !== 0;
  }
  if (v >= 8) {
    r.transports = transportNames(dv.getUint32(L.dwTransports, true));
    r.clientDataJson = readBlob(dv, L.cbClientDataJSON, L.pbClientDataJSON, "clientDataJSON");
    r.registrationResponseJson = readBlob(
      dv,
      L.cbRegistrationResponseJSON,
      L.pbRegistrationResponseJSON,
      "registration response JSON",
    );
  }
  return r;
}

export function readAssertion(addr: number): Assertion {
  const L = LAYOUT.assertion;
  const version = readStruct(addr, 4).getUint32(0, true);
  const v = outputVersion(addr, L.end.length - 1, "WEBAUTHN_ASSERTION");
  const dv = readStruct(addr, L.end[v]);
  const C = LAYOUT.credential;
  const r: Assertion = {
    version,
    authenticatorData: readBlob(dv, L.cbAuthenticatorData, L.pbAuthenticatorData, "authData"),
    signature: readBlob(dv, L.cbSignature, L.pbSignature, "signature"),
    credential: {
      type: readString(getPtr(dv, L.Credential + C.pwszCredentialType), "credential type"),
      id: readBlob(dv, L.Credential + C.cbId, L.Credential + C.pbId, "credential id"),
    },
    userId: readBlob(dv, L.cbUserId, L.pbUserId, "user id"),
  };
  if (v >= 2) {
    r.extensions = readExtensions(dv, L.Extensions);
    const status = dv.getUint32(L.dwCredLargeBlobStatus, true);
    if (status !== 0) {
      r.largeBlob = {
        status: LARGE_BLOB_STATUS[status] ?? status,
        data: readBlob(dv, L.cbCredLargeBlob, L.pbCredLargeBlob, "large blob"),
      };
    }
  }
  if (v >= 3) r.hmacSecret = readSalt(getPtr(dv, L.pHmacSecret));
  if (v >= 4) r.usedTransports = transportNames(dv.getUint32(L.dwUsedTransport, true));
  if (v >= 5) {
    r.unsignedExtensionOutputs = readBlob(
      dv,
      L.cbUnsignedExtensionOutputs,
      L.pbUnsignedExtensionOutputs,
      "unsigned extension outputs",
    );
  }
  if (v >= 6) {
    r.clientDataJson = readBlob(dv, L.cbClientDataJSON, L.pbClientDataJSON, "clientDataJSON");
    r.authenticationResponseJson = readBlob(
      dv,
      L.cbAuthenticationResponseJSON,
      L.pbAuthenticationResponseJSON,
      "authentication response JSON",
    );
  }
  return r;
}

/** Strings the DLL may leave NULL (names, icons): NULL reads as undefined. */
function readOptString(addr: number, what: string): string | undefined {
  return addr ? readString(addr, what) : undefined;
}

export function readCredentialDetailsList(addr: number): PlatformCredential[] {
  const L = LAYOUT.credentialDetailsList;
  const dv = readStruct(addr, L.size);
  const n = dv.getUint32(L.cCredentialDetails, true);
  const arr = getPtr(dv, L.ppCredentialDetails);
  if (n === 0) return [];
  if (!arr || n > 4096) {
    throw new FormatError(`webauthn.dll returned ${n} platform credentials at ${arr}`);
  }
  const ptrs = readStruct(arr, 8 * n);
  const out: PlatformCredential[] = [];
  for (let i = 0; i < n; i++) {
    const p = getPtr(ptrs, 8 * i);
    if (!p) throw new FormatError(`webauthn.dll returned a NULL platform credential ${i}`);
    out.push(readCredentialDetails(p));
  }
  return out;
}

function readCredentialDetails(addr: number): PlatformCredential {
  const D = LAYOUT.credentialDetails;
  const version = readStruct(addr, 4).getUint32(0, true);
  const v = outputVersion(addr, D.end.length - 1, "WEBAUTHN_CREDENTIAL_DETAILS");
  const dv = readStruct(addr, D.end[v]);
  const rpAddr = getPtr(dv, D.pRpInformation);
  const userAddr = getPtr(dv, D.pUserInformation);
  if (!rpAddr || !userAddr) {
    throw new FormatError("webauthn.dll returned a platform credential without RP or user");
  }
  const R = LAYOUT.rp;
  const rp = readStruct(rpAddr, R.size);
  const U = LAYOUT.user;
  const user = readStruct(userAddr, U.size);
  const rpIcon = readOptString(getPtr(rp, R.pwszIcon), "RP icon");
  const userIcon = readOptString(getPtr(user, U.pwszIcon), "user icon");
  const r: PlatformCredential = {
    version,
    credentialId: readBlob(dv, D.cbCredentialID, D.pbCredentialID, "credential id"),
    rp: {
      id: readString(getPtr(rp, R.pwszId), "RP id"),
      name: readOptString(getPtr(rp, R.pwszName), "RP name") ?? "",
      ...(rpIcon !== undefined ? { icon: rpIcon } : {}),
    },
    user: {
      id: readBlob(user, U.cbId, U.pbId, "user id"),
      name: readOptString(getPtr(user, U.pwszName), "user name") ?? "",
      displayName: readOptString(getPtr(user, U.pwszDisplayName), "user display name") ?? "",
      ...(userIcon !== undefined ? { icon: userIcon } : {}),
    },
    removable: dv.getInt32(D.bRemovable, true) !== 0,
  };
  if (r.credentialId.length === 0) {
    throw new FormatError("webauthn.dll returned a platform credential with an empty id");
  }
  if (v >= 2) r.backedUp = dv.getInt32(D.bBackedUp, true) !== 0;
  if (v >= 3) {
    r.authenticatorName = readOptString(getPtr(dv, D.pwszAuthenticatorName), "authenticator");
    r.authenticatorLogo = readBlob(
      dv,
      D.cbAuthenticatorLogo,
      D.pbAuthenticatorLogo,
      "authenticator logo",
    );
    r.thirdPartyPayment = dv.getInt32(D.bThirdPartyPayment, true) !== 0;
  }
  if (v >= 4) r.transports = transportNames(dv.getUint32(D.dwTransports, true));
  return r;
}
