/**
 * The P-256 half of the PIN/UV auth protocols: parsing and checking key-agreement COSE keys,
 * ECDH, and the authenticator side (key-agreement key pairs, decapsulate). Kept apart from
 * pin_protocol.ts so that importing `ClientPin` does not load it: the platform loads this
 * module with its first key agreement.
 *
 * The curve work runs on `node:crypto` key objects, the fastest P-256 either runtime offers
 * (`npm run bench -- crypto`, group "P-256 ECDH"): on Deno 0.71 ms per ephemeral keygen + ECDH
 * against 1.19 ms for WebCrypto and 2.14 ms for @noble/curves, on Bun (BoringSSL) 0.075 ms
 * against 0.17 and 1.61.
 * Keys cross into it as fixed DER: an uncompressed point behind the P-256 SubjectPublicKeyInfo
 * header, a scalar behind the PKCS#8 one.
 * @module
 */
import { Buffer } from "node:buffer";
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import type { CborMap, CborValue } from "../cbor.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { b64urlDecode, concat, fromHex } from "../utils.ts";
import { PinProtocolV1, PinProtocolV2 } from "./pin_protocol.ts";

/** DER AlgorithmIdentifier of an EC key on P-256 (id-ecPublicKey, prime256v1). */
const EC_P256 = "301306072a8648ce3d020106082a8648ce3d030107";
/** DER SubjectPublicKeyInfo of a P-256 key up to its 65-byte uncompressed point. */
const SPKI_P256 = fromHex(`3059${EC_P256}034200`);
/** DER PKCS#8 of a P-256 key (RFC 5915 ECPrivateKey, no public key) up to its 32-byte scalar. */
const PKCS8_P256 = fromHex(`3041020100${EC_P256}042730250201010420`);

/** The key object of an uncompressed point; throws when the point is not on P-256. */
function publicKeyObject(point: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_P256, point]), format: "der", type: "spki" });
}

/** The key object of a private scalar. */
function privateKeyObject(privateKey: Uint8Array): KeyObject {
  if (privateKey.length !== 32) {
    throw new RangeError(`A P-256 private key is 32 bytes, got ${privateKey.length}`);
  }
  return createPrivateKey({
    key: Buffer.concat([PKCS8_P256, privateKey]),
    format: "der",
    type: "pkcs8",
  });
}

/** The uncompressed point of a public key object. */
function pointOf(key: KeyObject): Uint8Array {
  const spki = key.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.buffer, spki.byteOffset + SPKI_P256.length, 65).slice();
}

// COSE key labels and values (RFC 9053) used by the key-agreement key.
const COSE_KTY = 1;
const COSE_ALG = 3;
const COSE_CRV = -1;
const COSE_X = -2;
const COSE_Y = -3;
const KTY_EC2 = 2;
const CRV_P256 = 1;
/** ECDH-ES+HKDF-256: what the spec says to put in `alg`, although it is not what is used. */
const ALG_ECDH_ES_HKDF_256 = -25;

/**
 * Parses a P-256 key-agreement COSE key into an uncompressed SEC1 point, checking that it
 * lies on the curve. `fail` builds the error: a `FormatError` when a client reads an
 * authenticator's response, a `CtapError` when the virtual authenticator reads a request.
 */
export function parsePeerKey(peer: CborMap, fail: (msg: string) => Error): Uint8Array {
  if (!(peer instanceof Map)) throw fail("keyAgreement must be a COSE key map");
  const kty = peer.get(COSE_KTY);
  if (kty !== undefined && kty !== KTY_EC2) throw fail(`keyAgreement kty ${String(kty)} != 2`);
  const crv = peer.get(COSE_CRV);
  if (crv !== undefined && crv !== CRV_P256) throw fail(`keyAgreement crv ${String(crv)} != 1`);
  const x: CborValue = peer.get(COSE_X);
  const y: CborValue = peer.get(COSE_Y);
  if (!(x instanceof Uint8Array) || x.length !== 32) {
    throw fail("keyAgreement x must be 32 bytes");
  }
  if (!(y instanceof Uint8Array) || y.length !== 32) {
    throw fail("keyAgreement y must be 32 bytes");
  }
  const point = concat(new Uint8Array([4]), x, y);
  // The point at infinity has no uncompressed encoding, so on-curve (coordinates below p
  // included) is the whole check, and importing the key makes it.
  try {
    publicKeyObject(point);
  } catch {
    throw fail("keyAgreement point is not on P-256");
  }
  return point;
}

/** COSE key map of an uncompressed P-256 public key, as CTAP's keyAgreement. */
export function coseKeyAgreement(publicKey: Uint8Array): CborMap {
  return new Map<CborValue, CborValue>([
    [COSE_KTY, KTY_EC2],
    [COSE_ALG, ALG_ECDH_ES_HKDF_256],
    [COSE_CRV, CRV_P256],
    [COSE_X, publicKey.slice(1, 33)],
    [COSE_Y, publicKey.slice(33, 65)],
  ]);
}

/** ECDH x-coordinate Z of a private scalar and a point already checked by `parsePeerKey`. */
export function ecdh(privateKey: Uint8Array, point: Uint8Array): Uint8Array {
  return zOf(privateKeyObject(privateKey), point);
}

function zOf(privateKey: KeyObject, point: Uint8Array): Uint8Array {
  const z = diffieHellman({ privateKey, publicKey: publicKeyObject(point) });
  return new Uint8Array(z.buffer, z.byteOffset, z.length).slice();
}

/**
 * The platform's side of a key agreement: a fresh key pair, used once, and its ECDH with
 * `point` (already checked by `parsePeerKey`).
 */
export function ephemeralEcdh(point: Uint8Array): { publicKey: Uint8Array; z: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { publicKey: pointOf(publicKey), z: zOf(privateKey, point) };
}

/** The uncompressed public point of a P-256 private scalar. */
export function publicPoint(privateKey: Uint8Array): Uint8Array {
  return pointOf(createPublicKey(privateKeyObject(privateKey)));
}

/** An authenticator's key-agreement key pair (regenerated at power-up and after PIN errors). */
export interface KeyAgreementKey {
  /** P-256 private scalar. */
  readonly privateKey: Uint8Array;
  /** The COSE key returned by getKeyAgreement. */
  readonly publicKey: CborMap;
}

/** Authenticator side: a fresh key-agreement key pair. */
export function generateKeyAgreementKey(): KeyAgreementKey {
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const d = pair.privateKey.export({ format: "jwk" }).d;
  if (d === undefined) throw new Error("node:crypto exported a P-256 key without its scalar");
  return { privateKey: b64urlDecode(d), publicKey: coseKeyAgreement(pointOf(pair.publicKey)) };
}

/**
 * Authenticator side: the shared secret for the platform's `keyAgreement`. A malformed or
 * off-curve key is `CtapError(INVALID_PARAMETER)`, as the spec's decapsulate prescribes.
 */
export function decapsulate(
  version: number,
  privateKey: Uint8Array,
  peerCoseKey: CborMap,
): Uint8Array {
  const kdf = version === 1 ? PinProtocolV1.kdf : version === 2 ? PinProtocolV2.kdf : undefined;
  if (!kdf) throw new CtapError(CTAP_STATUS.INVALID_PARAMETER, `Unknown PIN protocol ${version}`);
  const point = parsePeerKey(
    peerCoseKey,
    (m) => new CtapError(CTAP_STATUS.INVALID_PARAMETER, m),
  );
  return kdf(ecdh(privateKey, point));
}
