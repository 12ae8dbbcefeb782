// PIN/UV auth protocol costs. Run: node_modules/.bin/deno bench -A bench/pin.bench.ts
import {
  decapsulate,
  generateKeyAgreementKey,
  PinProtocolV1,
  PinProtocolV2,
} from "../src/ctap2/pin_protocol.ts";

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
  Deno.bench(`${name} encapsulate (keygen + ECDH + kdf)`, { group: "encapsulate" }, async () => {
    await p.encapsulate(authKey.publicKey);
  });
  Deno.bench(`${name} encrypt 64 B`, { group: "encrypt" }, async () => {
    await p.encrypt(s, pin64);
  });
  Deno.bench(`${name} decrypt 64 B`, { group: "decrypt" }, async () => {
    await p.decrypt(s, c);
  });
  Deno.bench(`${name} authenticate 32 B`, { group: "authenticate" }, () => {
    p.authenticate(token, cdh);
  });
}
Deno.bench("authenticator decapsulate v2", { group: "encapsulate" }, () => {
  decapsulate(2, authKey.privateKey, keyAgreement);
});
// The fixed cost inside encrypt/decrypt: importing the raw AES key into WebCrypto.
Deno.bench("WebCrypto importKey AES-256", { group: "encrypt" }, async () => {
  await crypto.subtle.importKey("raw", s1 as Uint8Array<ArrayBuffer>, "AES-CBC", false, [
    "encrypt",
  ]);
});
