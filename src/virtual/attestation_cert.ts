/**
 * Minimal DER writer and X.509 v3 certificate builder for the virtual authenticator's
 * attestation (U2F registration, packed x5c). ES256 only: that is what U2F mandates and what
 * every verifier accepts, and it keeps the writer to the handful of ASN.1 types certificates use.
 * @module
 */
import { p256 } from "@noble/curves/nist.js";
import { FormatError } from "../errors.ts";
import { concat, randomBytes, utf8Encode } from "../utils.ts";

/** Encodes one DER TLV. */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let len: Uint8Array;
  if (n < 0x80) len = new Uint8Array([n]);
  else if (n < 0x100) len = new Uint8Array([0x81, n]);
  else if (n < 0x10000) len = new Uint8Array([0x82, n >> 8, n & 0xff]);
  else if (n < 0x1000000) len = new Uint8Array([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  else throw new FormatError("DER: content too long");
  return concat(new Uint8Array([tag]), len, content);
}

const seq = (...items: Uint8Array[]) => derTlv(0x30, concat(...items));
const set = (...items: Uint8Array[]) => derTlv(0x31, concat(...items));
const bitString = (bytes: Uint8Array) => derTlv(0x03, concat(new Uint8Array([0]), bytes));
const octetString = (bytes: Uint8Array) => derTlv(0x04, bytes);

/** DER INTEGER from unsigned big-endian magnitude bytes. */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let body = magnitude.subarray(i);
  if (body.length === 0) body = new Uint8Array([0]);
  if (body[0] & 0x80) body = concat(new Uint8Array([0]), body);
  return derTlv(0x02, body);
}

/** DER OBJECT IDENTIFIER from dotted form. */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new FormatError(`Invalid OID ${dotted}`);
    return Number(a);
  });
  if (arcs.length < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39)) {
    throw new FormatError(`Invalid OID ${dotted}`);
  }
  const out: number[] = [];
  const push = (v: number) => {
    const bytes = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return derTlv(0x06, new Uint8Array(out));
}

function derTime(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, "0");
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}` +
    `${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return y >= 1950 && y < 2050
    ? derTlv(0x17, utf8Encode(`${p2(y % 100)}${rest}`))
    : derTlv(0x18, utf8Encode(`${String(y).padStart(4, "0")}${rest}`));
}

/** Subject/issuer name fields (each optional except CN). */
export interface CertificateName {
  readonly C?: string;
  readonly O?: string;
  readonly OU?: string;
  readonly CN: string;
}

function derName(name: CertificateName): Uint8Array {
  const rdn = (oid: string, tag: number, value: string) =>
    set(seq(derOid(oid), derTlv(tag, utf8Encode(value))));
  const parts: Uint8Array[] = [];
  if (name.C !== undefined) {
    if (!/^[A-Z]{2}$/.test(name.C)) throw new FormatError("Country must be two letters");
    parts.push(rdn("2.5.4.6", 0x13, name.C)); // PrintableString
  }
  if (name.O !== undefined) parts.push(rdn("2.5.4.10", 0x0c, name.O));
  if (name.OU !== undefined) parts.push(rdn("2.5.4.11", 0x0c, name.OU));
  parts.push(rdn("2.5.4.3", 0x0c, name.CN));
  return seq(...parts);
}

/** Options of {@linkcode createCertificate}. */
export interface CertificateOptions {
  /** Signer's P-256 private key (32 bytes). */
  readonly signingKey: Uint8Array;
  /** Subject's uncompressed P-256 point; default: the signer's (self-signed). */
  readonly publicKey?: Uint8Array;
  readonly subject: CertificateName;
  /** Default: `subject` (self-signed). */
  readonly issuer?: CertificateName;
  /** Serial number magnitude (default 8 random bytes). */
  readonly serial?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Adds the FIDO AAGUID extension (1.3.6.1.4.1.45724.1.1.4), as packed attestation allows. */
  readonly aaguid?: Uint8Array;
  /** basicConstraints cA (default false: an end-entity attestation certificate). */
  readonly ca?: boolean;
}

/** Builds and signs (ECDSA P-256 with SHA-256) an X.509 v3 certificate; returns DER. */
export function createCertificate(opts: CertificateOptions): Uint8Array {
  if (opts.signingKey.length !== 32) throw new FormatError("signingKey must be 32 bytes");
  const publicKey = opts.publicKey ?? p256.getPublicKey(opts.signingKey, false);
  if (publicKey.length !== 65 || publicKey[0] !== 4) {
    throw new FormatError("publicKey must be an uncompressed P-256 point");
  }
  const serial = opts.serial ?? randomBytes(8);
  const sigAlg = seq(derOid("1.2.840.10045.4.3.2")); // ecdsa-with-SHA256
  const spki = seq(
    seq(derOid("1.2.840.10045.2.1"), derOid("1.2.840.10045.3.1.7")), // id-ecPublicKey, P-256
    bitString(publicKey),
  );
  const extensions: Uint8Array[] = [
    // basicConstraints, critical.
    seq(
      derOid("2.5.29.19"),
      derTlv(0x01, new Uint8Array([0xff])),
      octetString(opts.ca ? seq(derTlv(0x01, new Uint8Array([0xff]))) : seq()),
    ),
  ];
  if (opts.aaguid) {
    if (opts.aaguid.length !== 16) throw new FormatError("aaguid must be 16 bytes");
    extensions.push(seq(derOid("1.3.6.1.4.1.45724.1.1.4"), octetString(octetString(opts.aaguid))));
  }
  const notBefore = opts.notBefore ?? new Date(Date.UTC(2020, 0, 1));
  const notAfter = opts.notAfter ?? new Date(Date.UTC(2070, 0, 1));
  const tbs = seq(
    derTlv(0xa0, derUnsignedInteger(new Uint8Array([2]))), // v3
    derUnsignedInteger(serial),
    sigAlg,
    derName(opts.issuer ?? opts.subject),
    seq(derTime(notBefore), derTime(notAfter)),
    derName(opts.subject),
    spki,
    derTlv(0xa3, seq(...extensions)),
  );
  const signature = p256.sign(tbs, opts.signingKey, { format: "der", lowS: true });
  return seq(tbs, sigAlg, bitString(signature));
}

/**
 * A fresh self-signed ES256 attestation key and certificate for a virtual authenticator,
 * with the subject fields packed attestation requires (C, O, OU "Authenticator Attestation", CN).
 */
export function createAttestation(
  aaguid?: Uint8Array,
): { privateKey: Uint8Array; certificate: Uint8Array } {
  const privateKey = p256.utils.randomSecretKey();
  const certificate = createCertificate({
    signingKey: privateKey,
    subject: {
      C: "US",
      O: "x-fido2 virtual authenticator",
      OU: "Authenticator Attestation",
      CN: "x-fido2 virtual attestation",
    },
    aaguid,
  });
  return { privateKey, certificate };
}
