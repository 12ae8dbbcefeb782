/**
 * authenticatorLargeBlobs (CTAP 2.3 §6.10): the serialized large-blob array, read and written
 * in fragments, and per-credential blobs encrypted under each credential's largeBlobKey.
 * @module
 */
import { type CborMap, type CborValue, decode, encode } from "../cbor.ts";
import { assertCtap2, type CallOptions, CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { bytesEqual, concat, randomBytes, sha256 } from "../utils.ts";
import type { Ctap2, PinAuth } from "./base.ts";
import type { Info } from "./info.ts";

/** Fallback ceiling on what a read may return when getInfo reports no maxLargeBlob. */
const MAX_READ = 16 * 1024 * 1024;

function u32le(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
}

function u64le(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** The 16-byte truncated SHA-256 that ends a serialized large-blob array. */
function checksum(data: Uint8Array): Uint8Array {
  return sha256(data).subarray(0, 16);
}

/** cbor(array) ‖ LEFT(SHA-256(cbor(array)), 16): the form stored on the authenticator. */
export function serializeBlobArray(array: readonly CborValue[]): Uint8Array {
  if (!Array.isArray(array)) throw new FormatError("Large-blob array must be an array");
  const data = encode(array);
  return concat(data, checksum(data));
}

/**
 * Parses a serialized large-blob array. A bad checksum or undecodable content means a
 * corrupt store, which the spec says to treat as empty.
 */
export function parseBlobArray(serialized: Uint8Array): CborValue[] {
  if (serialized.length < 17) return [];
  const data = serialized.subarray(0, -16);
  if (!bytesEqual(checksum(data), serialized.subarray(-16))) return [];
  try {
    const v = decode(data);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

async function pump(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) throw new FormatError(`Inflated data exceeds ${limit} bytes`);
      parts.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return concat(...parts);
}

async function transform(
  data: Uint8Array,
  stream: CompressionStream | DecompressionStream,
  limit: number,
): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const written = writer.write(data as Uint8Array<ArrayBuffer>).then(() => writer.close());
  written.catch(() => {});
  const [out] = await Promise.all([pump(stream.readable, limit), written]);
  return out;
}

/** Raw DEFLATE (RFC 1951), as large-blob entries store data. */
export function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  return transform(data, new CompressionStream("deflate-raw"), Number.MAX_SAFE_INTEGER);
}

/**
 * Raw INFLATE of data that must expand to exactly `expectedLength` bytes (large-blob entries
 * declare their size). Invalid input or any other output size is a `FormatError`; output is
 * cut off as soon as it exceeds the expected size, so a deflate bomb costs nothing.
 */
export async function inflateRaw(data: Uint8Array, expectedLength: number): Promise<Uint8Array> {
  let out: Uint8Array;
  try {
    out = await transform(data, new DecompressionStream("deflate-raw"), expectedLength);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError("Invalid raw DEFLATE data", { cause: e });
  }
  if (out.length !== expectedLength) {
    throw new FormatError(`Inflated ${out.length} bytes, expected ${expectedLength}`);
  }
  return out;
}

async function gcmKey(key: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new FormatError("largeBlobKey must be 32 bytes");
  }
  return await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, [
    usage,
  ]);
}

function aad(origSize: number): Uint8Array<ArrayBuffer> {
  return concat(new TextEncoder().encode("blob"), u64le(origSize)) as Uint8Array<ArrayBuffer>;
}

/**
 * One large-blob array entry `{1: ciphertext, 2: nonce, 3: origSize}` for already-compressed
 * data (AES-256-GCM, AAD `"blob" ‖ u64le(origSize)`). Exposed for tests with a fixed nonce.
 */
export async function encryptBlobEntry(
  largeBlobKey: Uint8Array,
  compressed: Uint8Array,
  origSize: number,
  nonce: Uint8Array = randomBytes(12),
): Promise<CborMap> {
  if (nonce.length !== 12) throw new FormatError("Large-blob nonce must be 12 bytes");
  const key = await gcmKey(largeBlobKey, "encrypt");
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce as Uint8Array<ArrayBuffer>, additionalData: aad(origSize) },
      key,
      compressed as Uint8Array<ArrayBuffer>,
    ),
  );
  return new Map<CborValue, CborValue>([[1, ct], [2, nonce.slice()], [3, origSize]]);
}

/** Decrypts and inflates an entry; undefined when it is not for this key or malformed. */
async function openEntry(key: CryptoKey, entry: CborValue): Promise<Uint8Array | undefined> {
  if (!(entry instanceof Map)) return undefined;
  const ct = entry.get(1);
  const nonce = entry.get(2);
  const origSize = entry.get(3);
  if (
    !(ct instanceof Uint8Array) || ct.length < 16 || !(nonce instanceof Uint8Array) ||
    nonce.length !== 12 || typeof origSize !== "number" || !Number.isSafeInteger(origSize) ||
    origSize < 0
  ) {
    return undefined;
  }
  let compressed: Uint8Array;
  try {
    compressed = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonce as Uint8Array<ArrayBuffer>, additionalData: aad(origSize) },
        key,
        ct as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    return undefined;
  }
  try {
    return await inflateRaw(compressed, origSize);
  } catch {
    return undefined;
  }
}

/**
 * Large-blob storage. Reading needs no token; writing on an authenticator with a PIN needs a
 * pinUvAuthToken with the `lbw` permission.
 */
export class LargeBlobs {
  /** Writes need `protocol` and a `pinUvToken` with the `lbw` permission when a PIN is set. */
  constructor(
    readonly ctap: Ctap2,
    readonly protocol?: PinAuth,
    readonly pinUvToken?: Uint8Array,
  ) {
    assertCtap2(ctap, "new LargeBlobs(ctap)");
  }

  /** The authenticator supports large blobs. */
  static isSupported(info: Info): boolean {
    return info.options.largeBlobs === true;
  }

  /** Fragment size for reads and writes: maxMsgSize − 64. */
  get maxFragmentLength(): number {
    return this.ctap.info.maxMsgSize - 64;
  }

  /** Reads the whole serialized array, fragment by fragment. */
  async readSerialized(opts?: CallOptions): Promise<Uint8Array> {
    const max = this.maxFragmentLength;
    if (max <= 0) throw new FormatError("maxMsgSize too small for large-blob fragments");
    const limit = this.ctap.info.maxLargeBlob > 0 ? this.ctap.info.maxLargeBlob : MAX_READ;
    const parts: Uint8Array[] = [];
    let offset = 0;
    while (true) {
      const r = await this.ctap.largeBlobs(
        offset,
        max,
        undefined,
        undefined,
        undefined,
        undefined,
        opts,
      );
      const fragment = r.get(1);
      if (!(fragment instanceof Uint8Array)) {
        throw new FormatError("largeBlobs: response config (0x01) must be a byte string");
      }
      if (fragment.length > max) {
        throw new FormatError(`largeBlobs: fragment of ${fragment.length} bytes exceeds ${max}`);
      }
      parts.push(fragment);
      offset += fragment.length;
      if (offset > limit) {
        throw new FormatError(`largeBlobs: array larger than the ${limit} bytes allowed`);
      }
      if (fragment.length < max) break;
    }
    return concat(...parts);
  }

  /** The large-blob array (a corrupt store reads as empty). */
  async readBlobArray(opts?: CallOptions): Promise<CborValue[]> {
    return parseBlobArray(await this.readSerialized(opts));
  }

  /** Replaces the whole large-blob array. */
  async writeBlobArray(array: readonly CborValue[], opts?: CallOptions): Promise<void> {
    const data = serializeBlobArray(array);
    const maxSize = this.ctap.info.maxLargeBlob;
    if (maxSize > 0 && data.length > maxSize) {
      throw new CtapError(
        CTAP_STATUS.LARGE_BLOB_STORAGE_FULL,
        `Large-blob array of ${data.length} bytes exceeds maxSerializedLargeBlobArray ${maxSize}`,
      );
    }
    const max = this.maxFragmentLength;
    if (max <= 0) throw new FormatError("maxMsgSize too small for large-blob fragments");
    for (let offset = 0; offset < data.length; offset += max) {
      const fragment = data.subarray(offset, offset + max);
      let pinUvAuthParam: Uint8Array | undefined;
      if (this.protocol && this.pinUvToken) {
        // 32×0xff ‖ 0x0c 0x00 ‖ u32le(offset) ‖ SHA-256(fragment)
        const message = concat(
          new Uint8Array(32).fill(0xff),
          new Uint8Array([0x0c, 0x00]),
          u32le(offset),
          sha256(fragment),
        );
        pinUvAuthParam = await this.protocol.authenticate(this.pinUvToken, message);
      }
      await this.ctap.largeBlobs(
        offset,
        undefined,
        fragment,
        offset === 0 ? data.length : undefined,
        pinUvAuthParam,
        pinUvAuthParam ? this.protocol?.version : undefined,
        opts,
      );
    }
  }

  /** The blob stored under `largeBlobKey`, or undefined. */
  async getBlob(largeBlobKey: Uint8Array, opts?: CallOptions): Promise<Uint8Array | undefined> {
    const key = await gcmKey(largeBlobKey, "decrypt");
    for (const entry of await this.readBlobArray(opts)) {
      const data = await openEntry(key, entry);
      if (data !== undefined) return data;
    }
    return undefined;
  }

  /**
   * Stores `data` under `largeBlobKey`, replacing any earlier blob for that key; `undefined`
   * deletes it. Entries of other keys are kept. Nothing is written if nothing changed.
   */
  async putBlob(
    largeBlobKey: Uint8Array,
    data: Uint8Array | undefined,
    opts?: CallOptions,
  ): Promise<void> {
    const key = await gcmKey(largeBlobKey, "decrypt");
    const array = await this.readBlobArray(opts);
    const kept: CborValue[] = [];
    for (const entry of array) {
      if ((await openEntry(key, entry)) === undefined) kept.push(entry);
    }
    let changed = kept.length !== array.length;
    if (data !== undefined) {
      if (!(data instanceof Uint8Array)) throw new FormatError("Blob data must be bytes");
      kept.push(await encryptBlobEntry(largeBlobKey, await deflateRaw(data), data.length));
      changed = true;
    }
    if (changed) await this.writeBlobArray(kept, opts);
  }

  /** Removes the blob stored under `largeBlobKey` (no write if there is none). */
  async deleteBlob(largeBlobKey: Uint8Array, opts?: CallOptions): Promise<void> {
    await this.putBlob(largeBlobKey, undefined, opts);
  }
}
