/**
 * The P-256 half of the PIN/UV auth protocols: parsing and checking key-agreement COSE keys,
 * ECDH, and the authenticator side (key-agreement key pairs, decapsulate). Kept apart from
 * pin_protocol.ts so that importing `ClientPin` does not load the curve: the platform loads
 * this module with its first key agreement.
 * @module
 */
import { p256 } from "@noble/curves/nist.js";
import type { CborMap, CborValue } from "../cbor.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { concat } from "../utils.ts";
import { PinProtocolV1, PinProtocolV2 } from "./pin_protocol.ts";

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
  // The point at infinity has no uncompressed encoding, so on-curve is the whole check.
  if (!p256.utils.isValidPublicKey(point, false)) {
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

/** ECDH x-coordinate Z. */
export function ecdh(privateKey: Uint8Array, point: Uint8Array): Uint8Array {
  return p256.getSharedSecret(privateKey, point, true).slice(1);
}

/** The uncompressed public point of a P-256 private scalar. */
export function publicPoint(privateKey: Uint8Array): Uint8Array {
  return p256.getPublicKey(privateKey, false);
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
  const privateKey = p256.utils.randomSecretKey();
  return { privateKey, publicKey: coseKeyAgreement(publicPoint(privateKey)) };
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
