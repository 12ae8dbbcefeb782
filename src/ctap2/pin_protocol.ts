/**
 * PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6 and §6.5.7), shared by the client
 * (`ClientPin`, hmac-secret, credential management…) and the virtual authenticator. The P-256
 * side (key-agreement keys, decapsulate) is in key_agreement.ts, loaded with the first key
 * agreement, which `fido2 info` does not need.
 *
 * ECDH (node:crypto, in key_agreement.ts) and HMAC (@noble/hashes) are synchronous;
 * AES-256-CBC without padding is in aes_cbc.ts.
 * @module
 */
import type { CborMap } from "../cbor.ts";
import { FormatError } from "../errors.ts";
import { aesCbcDecryptNoPad, aesCbcEncryptNoPad } from "./aes_cbc.ts";
import {
  concat,
  constantTimeEqual,
  hkdfSha256,
  hmacSha256,
  randomBytes,
  sha256,
} from "../utils.ts";

/** A PIN/UV auth protocol as the platform uses it (CTAP 2.1 §6.5.4). */
export interface PinUvAuthProtocol {
  /** The protocol number sent as `pinUvAuthProtocol`. */
  readonly version: 1 | 2;
  /**
   * Runs ECDH against the authenticator's key-agreement key: returns the platform's
   * ephemeral COSE key (to send as `keyAgreement`) and the derived shared secret.
   */
  encapsulate(peerCoseKey: CborMap): Promise<{ keyAgreement: CborMap; sharedSecret: Uint8Array }>;
  /** Encrypts `plaintext` (a multiple of 16 bytes) under a shared secret. */
  encrypt(key: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Decrypts `ciphertext` under a shared secret; a `FormatError` for impossible lengths. */
  decrypt(key: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
  /** Computes a pinUvAuthParam over `message` with a shared secret or a pinUvAuthToken. */
  authenticate(key: Uint8Array, message: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Checks a decrypted pinUvAuthToken's length; returns it or throws `FormatError`. */
  validateToken(token: Uint8Array): Uint8Array;
}

/** Options for the protocol classes. */
export interface PinProtocolOptions {
  /** Source of IVs (protocol 2) — injectable only so tests can replay published vectors. */
  readonly random?: (length: number) => Uint8Array;
}

const ZERO_IV = new Uint8Array(16);
const HKDF_SALT = new Uint8Array(32);
const HKDF_INFO_HMAC = new TextEncoder().encode("CTAP2 HMAC key");
const HKDF_INFO_AES = new TextEncoder().encode("CTAP2 AES key");

function checkAesKey(key: Uint8Array): void {
  if (key.length !== 32) throw new FormatError(`AES-256 key must be 32 bytes, got ${key.length}`);
}

function checkBlocks(data: Uint8Array, what: string): void {
  if (data.length % 16 !== 0) {
    throw new FormatError(`${what} length ${data.length} is not a multiple of 16`);
  }
}

/** AES-256-CBC without padding (whole blocks, 32-byte key). */
async function aesCbcEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  checkBlocks(plaintext, "Plaintext");
  checkAesKey(key);
  return await aesCbcEncryptNoPad(key, iv, plaintext);
}

/** AES-256-CBC decryption without padding (whole blocks, 32-byte key). */
async function aesCbcDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  checkBlocks(ciphertext, "Ciphertext");
  checkAesKey(key);
  return await aesCbcDecryptNoPad(key, iv, ciphertext);
}

/** Protocol 1: SHA-256(Z) key, AES-256-CBC with a zero IV, HMAC truncated to 16 bytes. */
export class PinProtocolV1 implements PinUvAuthProtocol {
  readonly version: 1 | 2 = 1;
  /** Secret-derivation function of this protocol applied to Z. */
  static kdf(z: Uint8Array): Uint8Array {
    return sha256(z);
  }

  /**
   * `ephemeralKey` fixes the platform's private scalar; only for reproducing test vectors,
   * a reused key would weaken every exchange.
   */
  encapsulate(
    peerCoseKey: CborMap,
    ephemeralKey?: Uint8Array,
  ): Promise<{ keyAgreement: CborMap; sharedSecret: Uint8Array }> {
    const kdf = (this.constructor as typeof PinProtocolV1).kdf;
    // The P-256 side is loaded with the first key agreement.
    return import("./key_agreement.ts").then(
      ({ coseKeyAgreement, ecdh, ephemeralEcdh, parsePeerKey, publicPoint }) => {
        const point = parsePeerKey(peerCoseKey, (m) => new FormatError(m));
        const { publicKey, z } = ephemeralKey === undefined
          ? ephemeralEcdh(point)
          : { publicKey: publicPoint(ephemeralKey), z: ecdh(ephemeralKey, point) };
        return { keyAgreement: coseKeyAgreement(publicKey), sharedSecret: kdf(z) };
      },
    );
  }

  encrypt(key: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    return aesCbcEncrypt(key, ZERO_IV, plaintext);
  }

  decrypt(key: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    return aesCbcDecrypt(key, ZERO_IV, ciphertext);
  }

  authenticate(key: Uint8Array, message: Uint8Array): Uint8Array {
    return hmacSha256(key, message).slice(0, 16);
  }

  validateToken(token: Uint8Array): Uint8Array {
    if (token.length !== 16 && token.length !== 32) {
      throw new FormatError(`PIN protocol 1 token must be 16 or 32 bytes, got ${token.length}`);
    }
    return token;
  }

  /** Authenticator side: checks a pinUvAuthParam in constant time. */
  static verify(key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return constantTimeEqual(hmacSha256(key, message).subarray(0, 16), signature);
  }
}

/** Protocol 2: HKDF-derived HMAC and AES keys, random IVs, untruncated HMAC. */
export class PinProtocolV2 extends PinProtocolV1 {
  /** Protocol number sent as pinUvAuthProtocol. */
  override readonly version: 1 | 2 = 2;
  readonly #random: (length: number) => Uint8Array;

  /** `options.random` replaces the IV source (for test vectors only). */
  constructor(options: PinProtocolOptions = {}) {
    super();
    this.#random = options.random ?? randomBytes;
  }

  /** hmacKey ‖ aesKey, 64 bytes. */
  static override kdf(z: Uint8Array): Uint8Array {
    return concat(
      hkdfSha256(z, HKDF_SALT, HKDF_INFO_HMAC, 32),
      hkdfSha256(z, HKDF_SALT, HKDF_INFO_AES, 32),
    );
  }

  /** AES-256-CBC with a random IV, which is prepended to the ciphertext. */
  override encrypt(key: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    try {
      const iv = this.#random(16);
      if (iv.length !== 16) throw new FormatError("IV source must return 16 bytes");
      return aesCbcEncrypt(aesKeyOf(key), iv, plaintext).then((ct) => concat(iv, ct));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Splits off the leading IV; rejects with FormatError when it is missing. */
  override decrypt(key: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    try {
      if (ciphertext.length < 16) {
        throw new FormatError(`PIN protocol 2 ciphertext too short (${ciphertext.length} bytes)`);
      }
      return aesCbcDecrypt(aesKeyOf(key), ciphertext.subarray(0, 16), ciphertext.subarray(16));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Full 32-byte HMAC-SHA-256 with the HMAC half of `key`. */
  override authenticate(key: Uint8Array, message: Uint8Array): Uint8Array {
    return hmacSha256(hmacKeyOf(key), message);
  }

  /** Tokens are 32 bytes; throws FormatError otherwise. */
  override validateToken(token: Uint8Array): Uint8Array {
    if (token.length !== 32) {
      throw new FormatError(`PIN protocol 2 token must be 32 bytes, got ${token.length}`);
    }
    return token;
  }

  /** Authenticator side: checks a pinUvAuthParam in constant time. */
  static override verify(key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return constantTimeEqual(hmacSha256(hmacKeyOf(key), message), signature);
  }
}

/** Protocol 2 keys: a 64-byte shared secret (hmacKey ‖ aesKey) or a 32-byte token. */
function hmacKeyOf(key: Uint8Array): Uint8Array {
  if (key.length !== 32 && key.length !== 64) {
    throw new FormatError(`PIN protocol 2 key must be 32 or 64 bytes, got ${key.length}`);
  }
  return key.subarray(0, 32);
}

function aesKeyOf(key: Uint8Array): Uint8Array {
  if (key.length !== 64) {
    throw new FormatError(`PIN protocol 2 shared secret must be 64 bytes, got ${key.length}`);
  }
  return key.subarray(32);
}

/** The protocol implementation for a version number; `undefined` for unknown versions. */
export function pinProtocol(version: number): PinProtocolV1 | undefined {
  if (version === 1) return new PinProtocolV1();
  if (version === 2) return new PinProtocolV2();
  return undefined;
}

/** Authenticator side: constant-time pinUvAuthParam check for `version`. */
export function verify(
  version: number,
  key: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (version === 1) return PinProtocolV1.verify(key, message, signature);
  if (version === 2) return PinProtocolV2.verify(key, message, signature);
  return false;
}
