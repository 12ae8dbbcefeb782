// The primitives behind the PIN/UV protocols: P-256 ECDH, SHA-256 and HMAC-SHA-256 on
// 32–1024 bytes, WebCrypto (async) vs node:crypto key objects (sync, ECDH only) vs
// @noble/curves and @noble/hashes (sync).
// Run: node scripts/bench.mjs crypto   (or: node_modules/.bin/deno bench -A bench/crypto.bench.ts,
// node_modules/.bin/bun bench/crypto.bench.ts)
import { p256 } from "@noble/curves/nist.js";
import { ephemeralEcdh } from "../src/ctap2/key_agreement.ts";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { filler } from "../tests/fixtures/ctap_messages.ts";
import { bench } from "./_harness.ts";

const subtle = crypto.subtle;
const ECDH = { name: "ECDH", namedCurve: "P-256" } as const;
type Buf = Uint8Array<ArrayBuffer>;

// The authenticator's key-agreement key, as the platform receives it (uncompressed point).
const peerSk = p256.utils.randomSecretKey();
const peerPub = p256.getPublicKey(peerSk, false) as Buf;
const peerCrypto = await subtle.importKey("raw", peerPub, ECDH, false, []);
const mine = await subtle.generateKey(ECDH, true, ["deriveBits"]);
const mySk = p256.utils.randomSecretKey();

// Sanity: both implementations agree on the shared x-coordinate.
{
  const myPub = new Uint8Array(await subtle.exportKey("raw", mine.publicKey));
  const web = new Uint8Array(
    await subtle.deriveBits({ name: "ECDH", public: peerCrypto }, mine.privateKey, 256),
  );
  const nob = p256.getSharedSecret(peerSk, myPub, true).slice(1);
  if (web.join() !== nob.join()) throw new Error("WebCrypto and noble ECDH disagree");
  const node = ephemeralEcdh(peerPub);
  const check = p256.getSharedSecret(peerSk, node.publicKey, true).slice(1);
  if (node.z.join() !== check.join()) throw new Error("node:crypto and noble ECDH disagree");
}

const G_ECDH = "P-256 ECDH";
bench("WebCrypto generateKey + import peer + deriveBits + export", async () => {
  const kp = await subtle.generateKey(ECDH, true, ["deriveBits"]);
  const peer = await subtle.importKey("raw", peerPub, ECDH, false, []);
  await subtle.deriveBits({ name: "ECDH", public: peer }, kp.privateKey, 256);
  await subtle.exportKey("raw", kp.publicKey);
}, { group: G_ECDH, baseline: true });
// What encapsulate uses (src/ctap2/key_agreement.ts).
bench("node:crypto generateKeyPairSync + diffieHellman + export", () => {
  ephemeralEcdh(peerPub);
}, { group: G_ECDH });
bench("noble keygen + getPublicKey + getSharedSecret", () => {
  const sk = p256.utils.randomSecretKey();
  p256.getPublicKey(sk, false);
  p256.getSharedSecret(sk, peerPub, true);
}, { group: G_ECDH });
bench("WebCrypto deriveBits only", async () => {
  await subtle.deriveBits({ name: "ECDH", public: peerCrypto }, mine.privateKey, 256);
}, { group: G_ECDH });
bench("noble getSharedSecret only", () => {
  p256.getSharedSecret(mySk, peerPub, true);
}, { group: G_ECDH });

const hmacKey = filler(32, 99) as Buf;
const webHmacKey = await subtle.importKey(
  "raw",
  hmacKey,
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["sign"],
);

for (const size of [32, 64, 256, 1024]) {
  const data = filler(size, size) as Buf;
  const gs = `SHA-256 ${size} B`;
  bench(`WebCrypto digest ${size} B`, async () => {
    await subtle.digest("SHA-256", data);
  }, { group: gs, baseline: true });
  bench(`noble sha256 ${size} B`, () => {
    sha256(data);
  }, { group: gs });

  const gh = `HMAC-SHA-256 ${size} B`;
  bench(`WebCrypto sign ${size} B (key imported once)`, async () => {
    await subtle.sign("HMAC", webHmacKey, data);
  }, { group: gh, baseline: true });
  bench(`WebCrypto importKey + sign ${size} B`, async () => {
    const k = await subtle.importKey("raw", hmacKey, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    await subtle.sign("HMAC", k, data);
  }, { group: gh });
  bench(`noble hmac ${size} B`, () => {
    hmac(sha256, hmacKey, data);
  }, { group: gh });
}
