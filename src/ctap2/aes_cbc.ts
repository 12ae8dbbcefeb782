/**
 * AES-CBC without padding, as CTAP uses it: whole blocks in and out, any AES key size (256 for
 * the PIN/UV auth protocols, 128 for CTAP 2.2's encIdentifier and encCredStoreState).
 *
 * It runs on `node:crypto`, which does unpadded CBC directly and synchronously. WebCrypto only
 * offers PKCS#7, so every decryption first needed a padding block encrypted, and its key import
 * and async calls cost 10-70× more per PIN message (`npm run bench -- pin`, 64 bytes): on Deno
 * 114 µs to encrypt and 303 µs to decrypt against 8 µs here, on Bun 103 and 151 µs against 2.
 * @module
 */
import { FormatError } from "../errors.ts";

type NodeCrypto = typeof import("node:crypto");
let nodeCrypto: Promise<NodeCrypto> | undefined;

/**
 * node:crypto, loaded with the first AES call: the import costs 5-7 ms after the library's, which
 * commands that never run a PIN protocol (`fido2 info`) do not need.
 */
function load(): Promise<NodeCrypto> {
  return nodeCrypto ??= import("node:crypto");
}

async function cbc(
  decrypt: boolean,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new FormatError(`An AES key is 16, 24 or 32 bytes, got ${key.length}`);
  }
  if (iv.length !== 16) throw new FormatError(`An AES-CBC IV is 16 bytes, got ${iv.length}`);
  if (data.length % 16 !== 0) {
    throw new FormatError(
      `AES-CBC ${
        decrypt ? "ciphertext" : "plaintext"
      } length ${data.length} is not a multiple of 16`,
    );
  }
  const { createCipheriv, createDecipheriv } = await load();
  const algorithm = `aes-${key.length * 8}-cbc`;
  const cipher = decrypt
    ? createDecipheriv(algorithm, key, iv)
    : createCipheriv(algorithm, key, iv);
  cipher.setAutoPadding(false);
  // Whole blocks without padding: update() should return them all and final() nothing, but
  // take what each gives rather than rely on how a runtime splits them.
  const head = cipher.update(data);
  const tail = cipher.final();
  if (head.length + tail.length !== data.length) {
    throw new Error(`AES-CBC returned ${head.length + tail.length} bytes for ${data.length}`);
  }
  const out = new Uint8Array(data.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/** Encrypts whole blocks with AES-CBC, no padding. */
export function aesCbcEncryptNoPad(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  return cbc(false, key, iv, plaintext);
}

/** Decrypts whole blocks with AES-CBC, no padding (a wrong key yields garbage, not an error). */
export function aesCbcDecryptNoPad(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  return cbc(true, key, iv, ciphertext);
}
