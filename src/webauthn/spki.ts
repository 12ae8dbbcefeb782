/**
 * COSE public key → DER SubjectPublicKeyInfo, for the `publicKey` member of a registration
 * response's JSON (WebAuthn L3 §5.2.1.1 getPublicKey()). Servers that cannot parse COSE
 * use it directly. Keys without a standard SPKI form give `undefined`: never a guess.
 * @module
 */
import type { CborMap } from "../cbor.ts";
import { concat } from "../utils.ts";

function derLength(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  return concat(new Uint8Array([tag]), derLength(body.length), body);
}

function derUint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return tlv(0x02, v.length && v[0] & 0x80 ? new Uint8Array([0]) : new Uint8Array(0), v);
}

const OID = {
  ecPublicKey: [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
  p256: [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
  p384: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
  p521: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
  secp256k1: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
  ed25519: [0x06, 0x03, 0x2b, 0x65, 0x70],
  ed448: [0x06, 0x03, 0x2b, 0x65, 0x71],
  rsaEncryption: [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
};
const NULL = new Uint8Array([0x05, 0x00]);

/** COSE EC2 curve id → [named-curve OID, coordinate length]. */
const EC_CURVES: Record<number, [number[], number]> = {
  1: [OID.p256, 32],
  2: [OID.p384, 48],
  3: [OID.p521, 66],
  8: [OID.secp256k1, 32],
};
/** COSE OKP curve id → [OID, key length] (signature curves only). */
const OKP_CURVES: Record<number, [number[], number]> = {
  6: [OID.ed25519, 32],
  7: [OID.ed448, 57],
};

function spki(algorithm: Uint8Array, key: Uint8Array): Uint8Array {
  return tlv(0x30, tlv(0x30, algorithm), tlv(0x03, new Uint8Array([0]), key));
}

function bytesAt(map: CborMap, label: number, len?: number): Uint8Array | undefined {
  const v = map.get(label);
  if (!(v instanceof Uint8Array)) return undefined;
  if (len !== undefined && v.length !== len) return undefined;
  return v;
}

/**
 * DER SubjectPublicKeyInfo for an EC2 (P-256/384/521, secp256k1), OKP (Ed25519, Ed448) or
 * RSA COSE key; `undefined` for any other key type or a malformed key.
 */
export function coseKeyToSpki(map: CborMap): Uint8Array | undefined {
  const kty = map.get(1);
  if (kty === 2) {
    const curve = EC_CURVES[map.get(-1) as number];
    if (!curve) return undefined;
    const [oid, len] = curve;
    const x = bytesAt(map, -2, len);
    const y = bytesAt(map, -3, len);
    if (!x || !y) return undefined;
    return spki(
      concat(new Uint8Array(OID.ecPublicKey), new Uint8Array(oid)),
      concat(new Uint8Array([4]), x, y),
    );
  }
  if (kty === 1) {
    const curve = OKP_CURVES[map.get(-1) as number];
    if (!curve) return undefined;
    const x = bytesAt(map, -2, curve[1]);
    return x ? spki(new Uint8Array(curve[0]), x) : undefined;
  }
  if (kty === 3) {
    const n = bytesAt(map, -1);
    const e = bytesAt(map, -2);
    if (!n?.length || !e?.length) return undefined;
    return spki(
      concat(new Uint8Array(OID.rsaEncryption), NULL),
      tlv(0x30, derUint(n), derUint(e)),
    );
  }
  return undefined;
}
