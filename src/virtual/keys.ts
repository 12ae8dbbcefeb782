/**
 * Credential key pairs of the virtual authenticator: generation, COSE public keys and
 * signatures in the formats WebAuthn verifiers expect (DER, low-S ECDSA; raw Ed25519).
 * @module
 */
import { p256, p384 } from "@noble/curves/nist.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import type { CborMap } from "../cbor.ts";
import { CtapError } from "../ctap.ts";

/** COSE algorithm identifiers the virtual authenticator can create credentials for. */
export const COSE_ALG = { ES256: -7, EdDSA: -8, ES384: -35 } as const;

/** A generated credential key pair. */
export interface KeyPair {
  readonly alg: number;
  /** P-256/P-384 scalar or Ed25519 seed. */
  readonly privateKey: Uint8Array;
  /** COSE_Key map as it goes into the attested credential data. */
  readonly publicKey: CborMap;
}

/** Whether `alg` is one this module can generate and sign with. */
export function isSupportedAlgorithm(alg: number): boolean {
  return alg === COSE_ALG.ES256 || alg === COSE_ALG.EdDSA || alg === COSE_ALG.ES384;
}

/** Creates a fresh key pair for `alg`. */
export function generateKeyPair(alg: number): KeyPair {
  const privateKey = alg === COSE_ALG.ES256
    ? p256.utils.randomSecretKey()
    : alg === COSE_ALG.ES384
    ? p384.utils.randomSecretKey()
    : alg === COSE_ALG.EdDSA
    ? ed25519.utils.randomSecretKey()
    : unsupported(alg);
  return { alg, privateKey, publicKey: cosePublicKey(alg, privateKey) };
}

/** The COSE public key of a stored private key (used when restoring wrapped credentials). */
export function cosePublicKey(alg: number, privateKey: Uint8Array): CborMap {
  if (alg === COSE_ALG.EdDSA) {
    // OKP: kty 1, alg -8, crv 6 (Ed25519), x.
    return new Map<number, number | Uint8Array>([
      [1, 1],
      [3, alg],
      [-1, 6],
      [-2, ed25519.getPublicKey(privateKey)],
    ]);
  }
  const [curve, crv, size] = alg === COSE_ALG.ES256
    ? [p256, 1, 32]
    : alg === COSE_ALG.ES384
    ? [p384, 2, 48]
    : unsupported(alg);
  const point = curve.getPublicKey(privateKey, false);
  // EC2: kty 2, alg, crv, x, y.
  return new Map<number, number | Uint8Array>([
    [1, 2],
    [3, alg],
    [-1, crv],
    [-2, point.slice(1, 1 + size)],
    [-3, point.slice(1 + size)],
  ]);
}

/** Uncompressed SEC1 point (0x04 ‖ x ‖ y) of a P-256 private key, as U2F reports it. */
export function p256RawPublicKey(privateKey: Uint8Array): Uint8Array {
  return p256.getPublicKey(privateKey, false);
}

/**
 * Signs `message` with the credential key: ECDSA over SHA-256/SHA-384 as a DER
 * Ecdsa-Sig-Value with low S, or pure Ed25519.
 */
export function sign(alg: number, privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  switch (alg) {
    case COSE_ALG.ES256:
      return p256.sign(message, privateKey, { format: "der", lowS: true });
    case COSE_ALG.ES384:
      return p384.sign(message, privateKey, { format: "der", lowS: true });
    case COSE_ALG.EdDSA:
      return ed25519.sign(message, privateKey);
    default:
      return unsupported(alg);
  }
}

function unsupported(alg: number): never {
  throw new CtapError(CtapError.ERR.UNSUPPORTED_ALGORITHM, `Unsupported COSE algorithm ${alg}`);
}
