/**
 * authenticatorLargeBlobs (CTAP 2.1 §6.10) for the VirtualAuthenticator: the serialized
 * large-blob array, read in fragments by anyone and replaced through the fragmented write
 * protocol (authorized with the `lbw` permission when the key is protected by a PIN or UV),
 * committed only when its trailing truncated SHA-256 checks out.
 * @module
 */
import type { CborMap, CborValue } from "../cbor.ts";
import { CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { bytesEqual, concat, fromHex, sha256, toHex } from "../utils.ts";
import type { CommandHandler } from "./authenticator.ts";
import { checkAuthParam } from "./auth_param.ts";
import { optional } from "./params.ts";
import { PERMISSION, type PinUvAuthApi, type RequestContext } from "./types.ts";

/** The initial array: CBOR `[]` (0x80) followed by LEFT(SHA-256(0x80), 16). */
export const EMPTY_LARGE_BLOB_ARRAY: Uint8Array = withChecksum(new Uint8Array([0x80]));

function withChecksum(data: Uint8Array): Uint8Array {
  return concat(data, sha256(data).subarray(0, 16));
}

/** Construction options of {@linkcode LargeBlobsHandler}. */
export interface LargeBlobsOptions {
  /** The PIN/UV state that verifies pinUvAuthParams (absent: writes are never authorized). */
  readonly pinUvAuth?: PinUvAuthApi;
  /** Whether writes need a token: a PIN is set or built-in UV is configured. */
  readonly protectedByUv: () => boolean;
  /** getInfo maxMsgSize; fragments are at most maxMsgSize − 64 bytes. */
  readonly maxMsgSize: number;
  /** getInfo maxSerializedLargeBlobArray (at least 1024 per spec). */
  readonly maxSerializedLargeBlobArray: number;
  /** The stored serialized array (hex), from a previous {@linkcode LargeBlobsHandler.exportState}. */
  readonly state?: string;
}

/** The large-blob command handler (register for 0x0C). */
export class LargeBlobsHandler implements CommandHandler {
  /** Adds `largeBlobs: true` to getInfo (the core then reports maxSerializedLargeBlobArray). */
  readonly infoOptions: Readonly<Record<string, boolean>> = { largeBlobs: true };
  readonly #pin?: PinUvAuthApi;
  readonly #protectedByUv: () => boolean;
  readonly #maxFragment: number;
  readonly #maxArray: number;
  #array: Uint8Array;
  #pending?: { buffer: Uint8Array; expectedNextOffset: number };

  /** Starts with the empty large-blob array unless the options restore one. */
  constructor(options: LargeBlobsOptions) {
    this.#pin = options.pinUvAuth;
    this.#protectedByUv = options.protectedByUv;
    this.#maxFragment = options.maxMsgSize - 64;
    if (this.#maxFragment < 1) throw new FormatError("maxMsgSize too small for large blobs");
    this.#maxArray = options.maxSerializedLargeBlobArray;
    if (!Number.isSafeInteger(this.#maxArray) || this.#maxArray < 1024) {
      throw new FormatError("maxSerializedLargeBlobArray must be an integer >= 1024");
    }
    this.#array = options.state === undefined ? EMPTY_LARGE_BLOB_ARRAY : parseState(options.state);
    if (this.#array.length > this.#maxArray) {
      throw new FormatError("Stored large-blob array exceeds maxSerializedLargeBlobArray");
    }
  }

  /** The committed serialized array (array ‖ checksum). */
  get serializedArray(): Uint8Array {
    return this.#array.slice();
  }

  /** The committed array as hex, for persistence. */
  exportState(): string {
    return toHex(this.#array);
  }

  /** authenticatorReset restores the empty array. */
  reset(): void {
    this.#array = EMPTY_LARGE_BLOB_ARRAY;
    this.#pending = undefined;
  }

  // deno-lint-ignore require-await
  async handle(params: CborMap | undefined, _ctx: RequestContext): Promise<CborMap | undefined> {
    if (!params) throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "Missing parameters");
    const get = optional(params, 1, "uint");
    const set = optional(params, 2, "bytes");
    const offset = optional(params, 3, "uint");
    const length = optional(params, 4, "uint");
    const param = optional(params, 5, "bytes");
    const protocol = optional(params, 6, "uint");
    if (offset === undefined) throw invalid("offset missing");
    if ((get === undefined) === (set === undefined)) throw invalid("exactly one of get and set");
    if (get !== undefined) {
      if (length !== undefined) throw invalid("length is only for set");
      if (param !== undefined || protocol !== undefined) throw invalid("get takes no auth");
      if (get > this.#maxFragment) {
        throw new CtapError(CtapError.ERR.INVALID_LENGTH, "get exceeds maxFragmentLength");
      }
      if (offset > this.#array.length) throw invalid("offset beyond the array");
      return new Map<number, CborValue>([[1, this.#array.slice(offset, offset + get)]]);
    }
    const fragment = set!;
    if (fragment.length > this.#maxFragment) {
      throw new CtapError(CtapError.ERR.INVALID_LENGTH, "set exceeds maxFragmentLength");
    }
    if (offset === 0) {
      if (length === undefined) throw invalid("length is required at offset 0");
      if (length > this.#maxArray) throw new CtapError(CtapError.ERR.LARGE_BLOB_STORAGE_FULL);
      if (length < 17) throw invalid("length must be at least 17");
      this.#pending = { buffer: new Uint8Array(length), expectedNextOffset: 0 };
    } else {
      if (length !== undefined) throw invalid("length only at offset 0");
      if (!this.#pending) throw new CtapError(CtapError.ERR.INVALID_SEQ, "No write in progress");
    }
    const pending = this.#pending!;
    if (offset !== pending.expectedNextOffset) {
      throw new CtapError(CtapError.ERR.INVALID_SEQ, "Unexpected offset");
    }
    if (this.#protectedByUv()) {
      // 32×0xff ‖ 0x0c 0x00 ‖ uint32LittleEndian(offset) ‖ SHA-256(set)
      const u32 = new Uint8Array(4);
      new DataView(u32.buffer).setUint32(0, offset, true);
      const message = concat(
        new Uint8Array(32).fill(0xff),
        new Uint8Array([0x0c, 0]),
        u32,
        sha256(fragment),
      );
      checkAuthParam(this.#pin, { protocol, param, message, permission: PERMISSION.LBW });
    }
    if (offset + fragment.length > pending.buffer.length) {
      throw invalid("Fragment runs past the announced length");
    }
    pending.buffer.set(fragment, offset);
    pending.expectedNextOffset += fragment.length;
    if (pending.expectedNextOffset === pending.buffer.length) {
      this.#pending = undefined;
      const data = pending.buffer.subarray(0, -16);
      if (!bytesEqual(sha256(data).subarray(0, 16), pending.buffer.subarray(-16))) {
        throw new CtapError(CtapError.ERR.INTEGRITY_FAILURE, "Large-blob checksum mismatch");
      }
      this.#array = pending.buffer;
    }
    return undefined;
  }
}

function invalid(message: string): CtapError {
  return new CtapError(CtapError.ERR.INVALID_PARAMETER, message);
}

function parseState(hex: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromHex(hex);
  } catch (e) {
    throw new FormatError("Invalid large-blob state", { cause: e });
  }
  if (bytes.length < 17) throw new FormatError("Invalid large-blob state: too short");
  return bytes;
}
