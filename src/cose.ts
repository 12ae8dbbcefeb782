/**
 * COSE public keys (RFC 9052/9053, RFC 8230) as authenticators return them, with signature
 * verification for every algorithm a WebAuthn relying party meets in practice.
 * @module
 */
import type { ECDSA } from "@noble/curves/abstract/weierstrass.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { sha256 as nobleSha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { type CborMap, type CborValue, encode as encodeCbor } from "./cbor.ts";
import { FormatError, UnsupportedAlgorithmError } from "./errors.ts";
import { b64urlDecode, b64urlEncode, concat } from "./utils.ts";

/** The noble ECDSA curve an {@linkcode EcKey} verifies with. */
export type Curve = ECDSA;

// The curves few keys use are loaded with the first key that needs them: importing them costs
// ~8 ms at start on Deno and Bun (P-256/384/521 stay static: PIN protocols need P-256 anyway).
let secp256k1Curve: Promise<Curve> | undefined;
let ed25519Verify:
  | Promise<(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => boolean>
  | undefined;
let ed448Verify:
  | Promise<(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => boolean>
  | undefined;

function bytesParam(map: CborMap, key: number, what: string, len?: number): Uint8Array {
  const v = map.get(key);
  if (!(v instanceof Uint8Array)) throw new FormatError(`COSE key parameter ${what} missing`);
  if (len !== undefined && v.length !== len) {
    throw new FormatError(`COSE key parameter ${what} must be ${len} bytes, got ${v.length}`);
  }
  return v;
}

/**
 * A COSE key. `CoseKey.parse` picks the subclass for the key's `alg`; unknown algorithms give
 * an {@linkcode UnsupportedKey} that keeps the map but cannot verify.
 */
export abstract class CoseKey {
  /** The COSE algorithm identifier this class handles. */
  static readonly ALGORITHM: number = 0;
  /** The key's COSE map (integer labels). */
  readonly map: CborMap;

  /** Keeps a copy of `map`; prefer `CoseKey.parse`, which checks the algorithm. */
  constructor(map: CborMap) {
    this.map = new Map(map);
  }

  /** The key's algorithm (label 3). */
  get alg(): number {
    return this.map.get(3) as number;
  }

  /** Verifies `signature` over `message`; resolves false on a bad signature. */
  abstract verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;

  /** Parses a COSE map into the subclass for its algorithm. */
  static parse(map: CborValue): CoseKey {
    if (!(map instanceof Map)) throw new FormatError("COSE key must be a CBOR map");
    const alg = map.get(3);
    if (typeof alg !== "number") throw new FormatError("COSE key has no algorithm (label 3)");
    const cls = CoseKey.forAlg(alg);
    return cls === UnsupportedKey
      ? new UnsupportedKey(map)
      : new (cls as unknown as ConcreteKey)(map);
  }

  /** The class for `alg`, or {@linkcode UnsupportedKey}. */
  static forAlg(alg: number): typeof CoseKey {
    return KEY_CLASSES.find((c) => c.ALGORITHM === alg) ?? UnsupportedKey;
  }

  /** The canonical CBOR encoding of the key, as it appears in attested credential data. */
  encode(): Uint8Array {
    return encodeCbor(this.map);
  }

  /**
   * The COSE form of a WebCrypto public key (ECDSA P-256/384/521, Ed25519, RSASSA-PKCS1-v1_5
   * with SHA-256 or SHA-1, RSA-PSS with SHA-256). The key must be extractable.
   */
  static async fromCryptoKey(key: CryptoKey): Promise<CoseKey> {
    if (key.type !== "public") throw new FormatError("fromCryptoKey needs a public key");
    const alg = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
    const jwk = await crypto.subtle.exportKey("jwk", key);
    const b = (v: string | undefined, what: string) => {
      if (!v) throw new FormatError(`Exported key has no ${what}`);
      return b64urlDecode(v);
    };
    const m = new Map<CborValue, CborValue>();
    if (alg.name === "ECDSA") {
      const curves: Record<string, [number, number]> = {
        "P-256": [1, -7],
        "P-384": [2, -35],
        "P-521": [3, -36],
      };
      const c = curves[alg.namedCurve ?? ""];
      if (!c) throw new UnsupportedAlgorithmError(`Unsupported curve ${alg.namedCurve}`);
      m.set(1, 2).set(3, c[1]).set(-1, c[0]).set(-2, b(jwk.x, "x")).set(-3, b(jwk.y, "y"));
    } else if (alg.name === "Ed25519") {
      m.set(1, 1).set(3, -8).set(-1, 6).set(-2, b(jwk.x, "x"));
    } else if (alg.name === "RSASSA-PKCS1-v1_5" || alg.name === "RSA-PSS") {
      const hash = alg.hash?.name;
      const id = alg.name === "RSA-PSS"
        ? (hash === "SHA-256" ? -37 : undefined)
        : hash === "SHA-256"
        ? -257
        : hash === "SHA-1"
        ? -65535
        : undefined;
      if (id === undefined) throw new UnsupportedAlgorithmError(`Unsupported RSA hash ${hash}`);
      m.set(1, 3).set(3, id).set(-1, b(jwk.n, "n")).set(-2, b(jwk.e, "e"));
    } else {
      throw new UnsupportedAlgorithmError(`Unsupported key algorithm ${alg.name}`);
    }
    return CoseKey.parse(m);
  }

  /** The algorithms this library verifies, in the order a client should offer them. */
  static supportedAlgorithms(): number[] {
    return [-7, -8, -35, -36, -37, -257, -47];
  }
}

type ConcreteKey = new (map: CborMap) => CoseKey;

/** A key whose algorithm this library does not know; it cannot verify. */
export class UnsupportedKey extends CoseKey {
  /** Always rejects with UnsupportedAlgorithmError: the algorithm is unknown. */
  verify(): Promise<boolean> {
    return Promise.reject(
      new UnsupportedAlgorithmError(`Unsupported COSE algorithm ${String(this.map.get(3))}`),
    );
  }
}

/** Elliptic-curve ECDSA keys (kty EC2); subclasses fix the curve and hash. */
export abstract class EcKey extends CoseKey {
  /** The noble curve that checks signatures (a promise for curves loaded on first use). */
  protected abstract readonly curve: Curve | Promise<Curve>;
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected abstract readonly crv: number;
  /** Length of one coordinate / public key in bytes. */
  protected abstract readonly size: number;
  /** Digest of the signed message (ECDSA verifies over a prehash). */
  protected abstract hash(m: Uint8Array): Uint8Array;

  /** Resolves false for a bad signature; rejects with FormatError for a malformed key. */
  async verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.map.get(-1) !== this.crv) {
      throw new UnsupportedAlgorithmError(
        `Unsupported elliptic curve ${String(this.map.get(-1))}`,
      );
    }
    const point = this.point(); // FormatError for a malformed key
    const curve = await this.curve;
    try {
      // WebAuthn signatures are DER and may carry a high S: accept both halves.
      return curve.verify(signature, this.hash(message), point, {
        prehash: false,
        format: "der",
        lowS: false,
      });
    } catch {
      return false;
    }
  }

  /** The uncompressed SEC1 point 04 ‖ x ‖ y. */
  point(): Uint8Array {
    return concat(
      new Uint8Array([4]),
      bytesParam(this.map, -2, "x", this.size),
      bytesParam(this.map, -3, "y", this.size),
    );
  }
}

/** ECDSA P-256 with SHA-256 (alg -7). */
export class ES256 extends EcKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -7;
  /** The noble curve that checks signatures. */
  protected readonly curve: Curve = p256;
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected readonly crv = 1;
  /** Length of one coordinate / public key in bytes. */
  protected readonly size = 32;
  /** Digest of the signed message (ECDSA verifies over a prehash). */
  protected hash(m: Uint8Array): Uint8Array {
    return nobleSha256(m);
  }
  /** The COSE key of a U2F public key (a 65-byte uncompressed point). */
  static fromCtap1(point: Uint8Array): ES256 {
    if (point.length !== 65 || point[0] !== 4) {
      throw new FormatError("U2F public key must be a 65-byte uncompressed P-256 point");
    }
    return new ES256(
      new Map<CborValue, CborValue>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, point.slice(1, 33)],
        [-3, point.slice(33)],
      ]),
    );
  }
}

/** ECDSA P-256 with SHA-256, fully specified (alg -9). */
export class ESP256 extends ES256 {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -9;
}

/** ECDSA P-384 with SHA-384 (alg -35). */
export class ES384 extends EcKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -35;
  /** The noble curve that checks signatures. */
  protected readonly curve = p384 as unknown as Curve;
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected readonly crv = 2;
  /** Length of one coordinate / public key in bytes. */
  protected readonly size = 48;
  /** Digest of the signed message (ECDSA verifies over a prehash). */
  protected hash(m: Uint8Array): Uint8Array {
    return sha384(m);
  }
}

/** ECDSA P-384, fully specified (alg -51). */
export class ESP384 extends ES384 {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -51;
}

/** ECDSA P-521 with SHA-512 (alg -36). */
export class ES512 extends EcKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -36;
  /** The noble curve that checks signatures. */
  protected readonly curve = p521 as unknown as Curve;
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected readonly crv = 3;
  /** Length of one coordinate / public key in bytes. */
  protected readonly size = 66;
  /** Digest of the signed message (ECDSA verifies over a prehash). */
  protected hash(m: Uint8Array): Uint8Array {
    return sha512(m);
  }
}

/** ECDSA P-521, fully specified (alg -52). */
export class ESP512 extends ES512 {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -52;
}

/** ECDSA secp256k1 with SHA-256 (alg -47). */
export class ES256K extends EcKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -47;
  /** The noble curve that checks signatures, loaded with the first secp256k1 key verified. */
  protected get curve(): Promise<Curve> {
    return secp256k1Curve ??= import("@noble/curves/secp256k1.js").then((m) =>
      m.secp256k1 as unknown as Curve
    );
  }
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected readonly crv = 8;
  /** Length of one coordinate / public key in bytes. */
  protected readonly size = 32;
  /** Digest of the signed message (ECDSA verifies over a prehash). */
  protected hash(m: Uint8Array): Uint8Array {
    return nobleSha256(m);
  }
}

/** Edwards-curve keys (kty OKP); subclasses fix the curve. */
export abstract class OkpKey extends CoseKey {
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected abstract readonly crv: number;
  /** Length of one coordinate / public key in bytes. */
  protected abstract readonly size: number;
  /** Checks a raw signature `sig` over `msg` with public key `pub`. */
  protected abstract check(
    sig: Uint8Array,
    msg: Uint8Array,
    pub: Uint8Array,
  ): boolean | Promise<boolean>;
  /** Resolves false for a bad signature; rejects with FormatError for a malformed key. */
  async verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.map.get(-1) !== this.crv) {
      throw new UnsupportedAlgorithmError(`Unsupported OKP curve ${String(this.map.get(-1))}`);
    }
    const x = bytesParam(this.map, -2, "x", this.size); // FormatError for a malformed key
    try {
      return await this.check(signature, message, x);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      return false;
    }
  }
}

/** EdDSA over Ed25519 (alg -8). */
export class EdDSA extends OkpKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -8;
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected readonly crv = 6;
  /** Length of one coordinate / public key in bytes. */
  protected readonly size = 32;
  /** Checks a raw signature `sig` over `msg` with public key `pub`. */
  protected async check(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): Promise<boolean> {
    const verify =
      await (ed25519Verify ??= import("@noble/curves/ed25519.js").then((m) => (s, d, p) =>
        m.ed25519.verify(s, d, p)
      ));
    return verify(sig, msg, pub);
  }
}

/** Ed25519, fully specified (alg -19). */
export class Ed25519 extends EdDSA {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -19;
}

/** Ed448 (alg -53). */
export class Ed448 extends OkpKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -53;
  /** The COSE `crv` value (RFC 9053) the key must carry. */
  protected readonly crv = 7;
  /** Length of one coordinate / public key in bytes. */
  protected readonly size = 57;
  /** Checks a raw signature `sig` over `msg` with public key `pub`. */
  protected async check(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): Promise<boolean> {
    const verify =
      await (ed448Verify ??= import("@noble/curves/ed448.js").then((m) => (s, d, p) =>
        m.ed448.verify(s, d, p)
      ));
    return verify(sig, msg, pub);
  }
}

/** RSA keys (kty RSA), verified through WebCrypto; subclasses fix the padding and hash. */
export abstract class RsaKey extends CoseKey {
  /** WebCrypto import parameters (algorithm and hash). */
  protected abstract readonly params: RsaHashedImportParams;
  /** WebCrypto verify parameters for a modulus of `modulusBytes` bytes. */
  protected abstract signParams(modulusBytes: number): AlgorithmIdentifier | RsaPssParams;

  /** Resolves false for a bad signature; rejects with FormatError for a malformed key. */
  async verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const n = bytesParam(this.map, -1, "n");
    const e = bytesParam(this.map, -2, "e");
    let key: CryptoKey;
    try {
      key = await crypto.subtle.importKey(
        "jwk",
        { kty: "RSA", n: b64urlEncode(stripZeros(n)), e: b64urlEncode(stripZeros(e)), ext: true },
        this.params,
        false,
        ["verify"],
      );
    } catch (err) {
      throw new FormatError("Invalid RSA public key", { cause: err });
    }
    const modBytes = stripZeros(n).length;
    try {
      return await crypto.subtle.verify(
        this.signParams(modBytes),
        key,
        signature as BufferSource,
        message as BufferSource,
      );
    } catch (err) {
      // A bad signature resolves false; a throw means the key itself is unusable (a modulus
      // too short for the padding, or one the runtime only rejects at this point).
      throw new FormatError("Invalid RSA public key", { cause: err });
    }
  }
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** RSASSA-PKCS1-v1_5 with SHA-256 (alg -257). */
export class RS256 extends RsaKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -257;
  /** WebCrypto import parameters (algorithm and hash). */
  protected readonly params = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  /** WebCrypto verify parameters for a modulus of `modulusBytes` bytes. */
  protected signParams(): AlgorithmIdentifier {
    return { name: "RSASSA-PKCS1-v1_5" };
  }
}

/** RSASSA-PSS with SHA-256, MGF1-SHA-256 and the maximum salt length (alg -37). */
export class PS256 extends RsaKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -37;
  /** WebCrypto import parameters (algorithm and hash). */
  protected readonly params = { name: "RSA-PSS", hash: "SHA-256" };
  /** WebCrypto verify parameters for a modulus of `modulusBytes` bytes. */
  protected signParams(modulusBytes: number): RsaPssParams {
    return { name: "RSA-PSS", saltLength: modulusBytes - 32 - 2 };
  }
}

/** RSASSA-PKCS1-v1_5 with SHA-1 (alg -65535), still emitted by some TPM attestations. */
export class RS1 extends RsaKey {
  /** Matched against the key's `alg` by `CoseKey.parse`. */
  static override readonly ALGORITHM: number = -65535;
  /** WebCrypto import parameters (algorithm and hash). */
  protected readonly params = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-1" };
  /** WebCrypto verify parameters for a modulus of `modulusBytes` bytes. */
  protected signParams(): AlgorithmIdentifier {
    return { name: "RSASSA-PKCS1-v1_5" };
  }
}

const KEY_CLASSES: (typeof CoseKey)[] = [
  ES256,
  ESP256,
  ES384,
  ESP384,
  ES512,
  ESP512,
  ES256K,
  EdDSA,
  Ed25519,
  Ed448,
  RS256,
  PS256,
  RS1,
];
