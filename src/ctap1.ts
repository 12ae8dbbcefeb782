/**
 * CTAP1 / U2F raw messages (FIDO U2F Raw Message Formats v1.2) sent as extended-length
 * ISO 7816-4 APDUs over CTAPHID_MSG. Used for U2F-only keys and the CTAP1 fallback.
 * @module
 */
import { assertCtapDevice, type CallOptions, type CtapDevice } from "./ctap.ts";
import { ES256 } from "./cose.ts";
import { ApduError, FormatError, UnsupportedAlgorithmError } from "./errors.ts";

export { ApduError };
import { ByteReader, bytesEqual, concat, u16be } from "./utils.ts";

const CTAPHID_MSG = 0x03;

/** ISO 7816 status words a U2F authenticator answers with. */
export const APDU = {
  OK: 0x9000,
  USE_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  WRONG_LENGTH: 0x6700,
  CLA_NOT_SUPPORTED: 0x6e00,
  INS_NOT_SUPPORTED: 0x6d00,
} as const;

function checkParam(value: Uint8Array, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== 32) {
    throw new FormatError(`${what} must be 32 bytes`);
  }
}

/** Reads a DER TLV header at `pos`; returns [tag, content start, content end]. */
function derHeader(data: Uint8Array, pos: number, what: string): [number, number, number] {
  if (pos + 2 > data.length) throw new FormatError(`Truncated DER ${what}`);
  const tag = data[pos];
  let len = data[pos + 1];
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3) throw new FormatError(`Unsupported DER length form in ${what}`);
    if (start + n > data.length) throw new FormatError(`Truncated DER ${what}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + data[start + i];
    start += n;
  }
  if (start + len > data.length) throw new FormatError(`Truncated DER ${what}`);
  return [tag, start, start + len];
}

// OIDs id-ecPublicKey (1.2.840.10045.2.1) and prime256v1 (1.2.840.10045.3.1.7), DER-encoded.
const OID_EC_PUBLIC_KEY = new Uint8Array([0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
const OID_P256 = new Uint8Array([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);

/**
 * The uncompressed P-256 point in an X.509 certificate's SubjectPublicKeyInfo. A minimal
 * DER walk (Certificate → TBSCertificate → 7th field) so attestation can be checked without an
 * ASN.1 library; any other key type is an `UnsupportedAlgorithmError`.
 */
export function certificatePublicKey(cert: Uint8Array): Uint8Array {
  const [t0, c0, e0] = derHeader(cert, 0, "certificate");
  if (t0 !== 0x30) throw new FormatError("Certificate is not a DER SEQUENCE");
  const [t1, c1, e1] = derHeader(cert, c0, "TBSCertificate");
  if (t1 !== 0x30 || e1 > e0) throw new FormatError("Certificate has no TBSCertificate");
  let pos = c1;
  let [tag, , end] = derHeader(cert, pos, "TBSCertificate field");
  if (tag === 0xa0) { // explicit version
    pos = end;
    [tag, , end] = derHeader(cert, pos, "TBSCertificate field");
  }
  // serialNumber, signature, issuer, validity, subject
  for (let i = 0; i < 5; i++) {
    if (end > e1) throw new FormatError("Malformed TBSCertificate");
    pos = end;
    [tag, , end] = derHeader(cert, pos, "TBSCertificate field");
  }
  const [spkiTag, spkiStart, spkiEnd] = derHeader(cert, pos, "SubjectPublicKeyInfo");
  if (spkiTag !== 0x30 || spkiEnd > e1) throw new FormatError("Malformed SubjectPublicKeyInfo");
  const [algTag, algStart, algEnd] = derHeader(cert, spkiStart, "AlgorithmIdentifier");
  if (algTag !== 0x30) throw new FormatError("Malformed AlgorithmIdentifier");
  const alg = cert.subarray(algStart, algEnd);
  if (
    !bytesEqual(alg.subarray(0, OID_EC_PUBLIC_KEY.length), OID_EC_PUBLIC_KEY) ||
    !bytesEqual(alg.subarray(OID_EC_PUBLIC_KEY.length), OID_P256)
  ) {
    throw new UnsupportedAlgorithmError("Attestation certificate key is not EC P-256");
  }
  const [bsTag, bsStart, bsEnd] = derHeader(cert, algEnd, "subjectPublicKey");
  if (bsTag !== 0x03 || bsEnd !== spkiEnd) throw new FormatError("Malformed subjectPublicKey");
  const point = cert.slice(bsStart + 1, bsEnd);
  if (cert[bsStart] !== 0 || point.length !== 65 || point[0] !== 0x04) {
    throw new FormatError("subjectPublicKey is not an uncompressed P-256 point");
  }
  return point;
}

/** A U2F registration response: `05 ‖ publicKey(65) ‖ L ‖ keyHandle(L) ‖ cert ‖ signature`. */
export class RegistrationData {
  /** The response bytes (without the status word). */
  readonly raw: Uint8Array;
  /** The credential's uncompressed P-256 point (65 bytes). */
  readonly publicKey: Uint8Array;
  /** The opaque key handle (becomes the credential ID). */
  readonly keyHandle: Uint8Array;
  /** The DER attestation certificate (its length read from the DER header). */
  readonly certificate: Uint8Array;
  /** The DER ECDSA attestation signature. */
  readonly signature: Uint8Array;

  /** Parses raw U2F registration response data; throws FormatError when it is malformed. */
  constructor(data: Uint8Array) {
    if (!(data instanceof Uint8Array)) throw new FormatError("Registration data must be bytes");
    const r = new ByteReader(data);
    if (r.u8("reserved byte") !== 0x05) {
      throw new FormatError("Registration data must start with the reserved byte 0x05");
    }
    this.publicKey = r.bytes(65, "public key");
    if (this.publicKey[0] !== 0x04) {
      throw new FormatError("U2F public key must be an uncompressed point");
    }
    this.keyHandle = r.bytes(r.u8("key handle length"), "key handle");
    const certStart = r.offset;
    const [tag, , end] = derHeader(data, certStart, "attestation certificate");
    if (tag !== 0x30) throw new FormatError("Attestation certificate is not a DER SEQUENCE");
    this.certificate = r.bytes(end - certStart, "attestation certificate");
    this.signature = r.rest();
    if (this.signature.length === 0) throw new FormatError("Registration data has no signature");
    this.raw = data.slice();
  }

  /**
   * Checks the attestation signature (ES256 over `00 ‖ app ‖ client ‖ keyHandle ‖ publicKey`)
   * with the certificate's key. Resolves false on a bad signature.
   */
  verify(appParam: Uint8Array, clientParam: Uint8Array): Promise<boolean> {
    checkParam(appParam, "appParam");
    checkParam(clientParam, "clientParam");
    const key = ES256.fromCtap1(certificatePublicKey(this.certificate));
    return key.verify(
      concat(new Uint8Array([0]), appParam, clientParam, this.keyHandle, this.publicKey),
      this.signature,
    );
  }
}

/** A U2F authentication response: `userPresence(1) ‖ counter(4, BE) ‖ signature`. */
export class SignatureData {
  /** The response bytes (without the status word). */
  readonly raw: Uint8Array;
  /** User presence byte (bit 0 set when the user touched the key). */
  readonly userPresence: number;
  /** Signature counter. */
  readonly counter: number;
  /** The DER ECDSA signature. */
  readonly signature: Uint8Array;

  /** Parses raw U2F authentication response data; throws FormatError when it is malformed. */
  constructor(data: Uint8Array) {
    if (!(data instanceof Uint8Array)) throw new FormatError("Signature data must be bytes");
    const r = new ByteReader(data);
    this.userPresence = r.u8("user presence");
    this.counter = r.u32("counter");
    this.signature = r.rest();
    if (this.signature.length === 0) throw new FormatError("Signature data has no signature");
    this.raw = data.slice();
  }

  /** Checks the signature (ES256 over `app ‖ presence ‖ counter ‖ client`) with the credential key. */
  verify(appParam: Uint8Array, clientParam: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    checkParam(appParam, "appParam");
    checkParam(clientParam, "clientParam");
    return ES256.fromCtap1(publicKey).verify(
      concat(appParam, this.raw.subarray(0, 5), clientParam),
      this.signature,
    );
  }
}

/** Options for {@linkcode Ctap1.sendApdu}. */
export type ApduOptions = CallOptions;

/** The U2F command set over any {@linkcode CtapDevice}. */
export class Ctap1 {
  /** U2F instruction bytes. */
  static readonly INS = { REGISTER: 0x01, AUTHENTICATE: 0x02, VERSION: 0x03 } as const;

  /**
   * Speaks U2F over `device`, which stays owned by the caller; throws `TypeError` when
   * `device` is not a `CtapDevice` (e.g. a Promise of one).
   */
  constructor(readonly device: CtapDevice) {
    assertCtapDevice(device, "new Ctap1(device)");
  }

  /**
   * Sends one extended-length APDU (`CLA INS P1 P2 00 Lc(2) data 00 00`, Le always present)
   * and returns the response data; a status word other than 0x9000 is an {@linkcode ApduError}.
   */
  async sendApdu(
    cla = 0,
    ins = 0,
    p1 = 0,
    p2 = 0,
    data: Uint8Array = new Uint8Array(0),
    opts?: ApduOptions,
  ): Promise<Uint8Array> {
    for (const [v, what] of [[cla, "CLA"], [ins, "INS"], [p1, "P1"], [p2, "P2"]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xff) {
        throw new FormatError(`${what} must be a byte`);
      }
    }
    if (data.length > 0xffff) throw new FormatError("APDU data longer than 65535 bytes");
    const apdu = concat(
      new Uint8Array([cla, ins, p1, p2, 0]),
      u16be(data.length),
      data,
      new Uint8Array([0, 0]),
    );
    const response = await this.device.call(CTAPHID_MSG, apdu, opts);
    if (response.length < 2) throw new FormatError("APDU response shorter than a status word");
    const body = response.slice(0, -2);
    const sw = (response[response.length - 2] << 8) | response[response.length - 1];
    if (sw !== APDU.OK) throw new ApduError(sw, body);
    return body;
  }

  /** The U2F protocol version string, e.g. `U2F_V2`. */
  async getVersion(opts?: ApduOptions): Promise<string> {
    const data = await this.sendApdu(0, Ctap1.INS.VERSION, 0, 0, undefined, opts);
    return new TextDecoder().decode(data);
  }

  /**
   * Registers a new key pair. Throws `ApduError(0x6985)` until the user touches the key.
   */
  async register(
    clientParam: Uint8Array,
    appParam: Uint8Array,
    opts?: ApduOptions,
  ): Promise<RegistrationData> {
    checkParam(clientParam, "clientParam");
    checkParam(appParam, "appParam");
    const data = concat(clientParam, appParam);
    return new RegistrationData(await this.sendApdu(0, Ctap1.INS.REGISTER, 0, 0, data, opts));
  }

  /**
   * Signs with an existing key handle. `checkOnly` asks whether the handle belongs to this
   * key (answered with `ApduError(0x6985)` if so) without user presence.
   */
  async authenticate(
    clientParam: Uint8Array,
    appParam: Uint8Array,
    keyHandle: Uint8Array,
    checkOnly = false,
    opts?: ApduOptions,
  ): Promise<SignatureData> {
    checkParam(clientParam, "clientParam");
    checkParam(appParam, "appParam");
    if (!(keyHandle instanceof Uint8Array) || keyHandle.length > 255) {
      throw new FormatError("Key handle must be at most 255 bytes");
    }
    const data = concat(clientParam, appParam, new Uint8Array([keyHandle.length]), keyHandle);
    const p1 = checkOnly ? 0x07 : 0x03;
    return new SignatureData(await this.sendApdu(0, Ctap1.INS.AUTHENTICATE, p1, 0, data, opts));
  }
}
