/**
 * Reading webauthn.dll's results: attestations, assertions and platform credential lists,
 * copied out of the DLL's memory before it is freed. Nothing the DLL returns is trusted: every
 * count, pointer, length and struct version is checked, and a bad one is a `FormatError` that
 * says "webauthn.dll returned ...".
 * @module
 */
import { readBytes, readWideString } from "../runtime.ts";
import { FormatError } from "../../src/errors.ts";
import { LARGE_BLOB_STATUS, LAYOUT } from "./layout.ts";
import type {
  Assertion,
  CredentialAttestation,
  ExtensionOutputs,
  HmacSalts,
  PlatformCredential,
} from "./types.ts";
import { getPtr, transportNames } from "./marshal.ts";

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
