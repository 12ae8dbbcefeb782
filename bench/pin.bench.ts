// PIN/UV auth protocol costs. Run: node scripts/bench.mjs pin   (or: node_modules/.bin/deno bench
// -A bench/pin.bench.ts, node_modules/.bin/bun bench/pin.bench.ts)
import { decapsulate, generateKeyAgreementKey } from "../src/ctap2/key_agreement.ts";
import { PinProtocolV1, PinProtocolV2 } from "../src/ctap2/pin_protocol.ts";
import { bench } from "./_harness.ts";

const authKey = generateKeyAgreementKey();
const v1 = new PinProtocolV1();
const v2 = new PinProtocolV2();
const s1 = (await v1.encapsulate(authKey.publicKey)).sharedSecret;
const s2 = (await v2.encapsulate(authKey.publicKey)).sharedSecret;
const { keyAgreement } = await v2.encapsulate(authKey.publicKey);
const pin64 = new Uint8Array(64).fill(0x31);
const c1 = await v1.encrypt(s1, pin64);
const c2 = await v2.encrypt(s2, pin64);
const token = new Uint8Array(32).fill(7);
const cdh = new Uint8Array(32).fill(9);

for (const [name, p, s, c] of [["v1", v1, s1, c1], ["v2", v2, s2, c2]] as const) {
  bench(`${name} encapsulate (keygen + ECDH + kdf)`, async () => {
    await p.encapsulate(authKey.publicKey);
  }, { group: "encapsulate" });
  bench(`${name} encrypt 64 B`, async () => {
    await p.encrypt(s, pin64);
  }, { group: "encrypt" });
  bench(`${name} decrypt 64 B`, async () => {
    await p.decrypt(s, c);
  }, { group: "decrypt" });
  bench(`${name} authenticate 32 B`, () => {
    p.authenticate(token, cdh);
  }, { group: "authenticate" });
}
bench("authenticator decapsulate v2", () => {
  decapsulate(2, authKey.privateKey, keyAgreement);
}, { group: "encapsulate" });
// For comparison: the same 64 bytes on WebCrypto (encrypt/decrypt use node:crypto, aes_cbc.ts).
// WebCrypto only pads (PKCS#7): encryption drops the padding block, decryption first encrypts
// one to append, as this library did before.
async function p2Key(raw: Uint8Array) {
  return await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-CBC", false, [
    "encrypt",
    "decrypt",
  ]);
}
const IV = new Uint8Array(16);
bench("WebCrypto importKey + encrypt 64 B (reference)", async () => {
  const k = await p2Key(s2.subarray(32));
  await crypto.subtle.encrypt({ name: "AES-CBC", iv: IV }, k, pin64);
}, { group: "encrypt" });
bench("WebCrypto importKey + pad block + decrypt 64 B (reference)", async () => {
  const k = await p2Key(s2.subarray(32));
  const ct = c2.subarray(16) as Uint8Array<ArrayBuffer>;
  const pad = await crypto.subtle.encrypt(
    { name: "AES-CBC", iv: ct.slice(-16) },
    k,
    new Uint8Array(0),
  );
  const full = new Uint8Array(ct.length + 16);
  full.set(ct);
  full.set(new Uint8Array(pad), ct.length);
  await crypto.subtle.decrypt(
    { name: "AES-CBC", iv: c2.subarray(0, 16) as Uint8Array<ArrayBuffer> },
    k,
    full,
  );
}, { group: "decrypt" });

// For comparison: the same keygen + ECDH on WebCrypto (encapsulate uses node:crypto, synchronous).
const peerRaw = new Uint8Array(65);
peerRaw[0] = 4;
peerRaw.set(authKey.publicKey.get(-2) as Uint8Array, 1);
peerRaw.set(authKey.publicKey.get(-3) as Uint8Array, 33);
bench("WebCrypto keygen + ECDH (reference)", async () => {
  const alg = { name: "ECDH", namedCurve: "P-256" } as const;
  const kp = await crypto.subtle.generateKey(alg, true, ["deriveBits"]) as CryptoKeyPair;
  await crypto.subtle.exportKey("raw", kp.publicKey);
  const peer = await crypto.subtle.importKey("raw", peerRaw, alg, false, []);
  await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, kp.privateKey, 256);
}, { group: "encapsulate" });

// Client-side PIN token acquisition end to end (getKeyAgreement + getPinUvAuthToken) against
// the in-memory virtual authenticator, for both protocols.
const { VirtualAuthenticator } = await import("../src/virtual/mod.ts");
const { Ctap2 } = await import("../src/ctap2/base.ts");
const { ClientPin } = await import("../src/ctap2/pin.ts");
for (const [name, proto] of [["v1", v1], ["v2", v2]] as const) {
  const ctap = await Ctap2.create(await new VirtualAuthenticator({ pin: "1234" }).device());
  const pin = new ClientPin(ctap, proto);
  bench(`getPinToken ${name} (2 CTAP round trips, virtual key)`, async () => {
    await pin.getPinToken("1234", ClientPin.PERMISSION.GET_ASSERTION, "example.com");
  }, { group: "token" });
}
