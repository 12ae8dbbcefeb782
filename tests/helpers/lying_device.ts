/**
 * A `CtapDevice` that forwards to a real one (usually a `VirtualAuthenticator`) and rewrites
 * chosen answers: a lying authenticator whose every other byte is genuine.
 * @module
 */
import { type CborMap, type CborValue, decode, encode } from "../../src/cbor.ts";
import type { CallOptions, CtapDevice } from "../../src/ctap.ts";
import { concat } from "../../src/utils.ts";
import { AttestedCredentialData, AuthenticatorData } from "../../src/webauthn/authdata.ts";

/** Rewrites a successful CTAP2 answer (status 0) to `command`; `request` is its parameters. */
export type Ctap2Lie = (
  command: number,
  response: Map<CborValue, CborValue>,
  request: CborMap | undefined,
) => Map<CborValue, CborValue> | undefined;

/** Rewrites a U2F answer (data ‖ SW) to the APDU `apdu`. */
export type U2fLie = (apdu: Uint8Array, response: Uint8Array) => Uint8Array | undefined;

const CTAPHID_MSG = 0x03;
const CTAPHID_CBOR = 0x10;

/** `device` with its CTAP2 (CTAPHID_CBOR) and U2F (CTAPHID_MSG) answers passed through lies. */
export function lyingDevice(
  device: CtapDevice,
  lies: {
    readonly ctap2?: Ctap2Lie;
    readonly u2f?: U2fLie;
    /** Replaces any CTAP2 answer (status ‖ body), errors included. */
    readonly ctap2Raw?: (
      command: number,
      answer: Uint8Array,
      request: CborMap | undefined,
    ) => Uint8Array | undefined;
  },
): CtapDevice {
  return {
    get capabilities() {
      return device.capabilities;
    },
    async call(cmd: number, data?: Uint8Array, opts?: CallOptions) {
      let out = await device.call(cmd, data, opts);
      if (cmd === CTAPHID_CBOR && lies.ctap2Raw && data?.length) {
        const request = data.length > 1 ? decode(data.subarray(1)) as CborMap : undefined;
        out = lies.ctap2Raw(data[0], out, request) ?? out;
      }
      if (cmd === CTAPHID_CBOR && lies.ctap2 && data?.length && out[0] === 0 && out.length > 1) {
        const request = data.length > 1 ? decode(data.subarray(1)) as CborMap : undefined;
        const changed = lies.ctap2(
          data[0],
          decode(out.subarray(1)) as Map<CborValue, CborValue>,
          request,
        );
        if (changed) return concat(new Uint8Array([0]), encode(changed));
      }
      if (cmd === CTAPHID_MSG && lies.u2f && data) return lies.u2f(data, out) ?? out;
      return out;
    },
    close: () => device.close(),
  };
}

/** What to change in authenticator data; absent parts stay as they were. */
export interface AuthDataEdit {
  readonly rpIdHash?: Uint8Array;
  /** New flags from the old ones (AT and ED follow the parts present). */
  readonly flags?: (old: number) => number;
  readonly credentialId?: Uint8Array;
  readonly publicKey?: CborMap;
  /** Replaces the extension outputs (null removes them). */
  readonly extensions?: CborMap | null;
  /** Adds attested credential data (to an assertion, say). */
  readonly credentialData?: AttestedCredentialData;
}

/** Re-encodes authenticator data with `edit` applied. */
export function editAuthData(raw: Uint8Array, edit: AuthDataEdit): Uint8Array {
  const a = AuthenticatorData.parse(raw);
  let acd = edit.credentialData ?? a.credentialData;
  if (acd && (edit.credentialId || edit.publicKey)) {
    acd = AttestedCredentialData.create(
      acd.aaguid,
      edit.credentialId ?? acd.credentialId,
      edit.publicKey ?? acd.publicKey,
    );
  }
  const extensions = edit.extensions === null ? undefined : edit.extensions ?? a.extensions;
  const built = AuthenticatorData.create(
    edit.rpIdHash ?? a.rpIdHash,
    a.flags,
    a.counter,
    acd,
    extensions,
  );
  if (!edit.flags) return built.raw;
  const bytes = built.raw.slice();
  const keep = bytes[32] & 0xc0; // AT and ED describe the layout: keep them consistent.
  bytes[32] = (edit.flags(a.flags) & ~0xc0) | keep;
  return bytes;
}

/** The response map with authenticator data (key 2) edited. */
export function withAuthData(
  response: Map<CborValue, CborValue>,
  edit: AuthDataEdit,
): Map<CborValue, CborValue> {
  return new Map(response).set(2, editAuthData(response.get(2) as Uint8Array, edit));
}
