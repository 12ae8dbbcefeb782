/**
 * The CTAP hmac-secret extension through its legacy WebAuthn names (`hmacCreateSecret`,
 * `hmacGetSecret`), as python-fido2's example does: the key derives a secret from a salt and
 * a per-credential key, e.g. to unlock a disk. Same credential + same salt = same secret.
 *
 * The legacy names are off by default (web RPs use `prf`, see prf.ts); passing
 * `new HmacSecretExtension(true)` turns them on.
 *
 *   deno run -A examples/hmac_secret.ts [--virtual]     bun examples/hmac_secret.ts
 */
import { defaultExtensions, HmacSecretExtension } from "../mod.ts";
import { bytesEqual, randomBytes } from "../src/utils.ts";
import {
  authenticateVerified,
  exampleClient,
  hexPreview,
  registerVerified,
  runExample,
} from "./_common.ts";

await runExample({}, async (dev) => {
  const client = exampleClient(dev, [
    new HmacSecretExtension(true),
    ...defaultExtensions().filter((e) => !(e instanceof HmacSecretExtension)),
  ]);
  const info = await client.ready();
  if (!info.extensions.includes("hmac-secret")) {
    throw new Error("this authenticator does not support hmac-secret");
  }

  console.log("\nRegistering a credential with hmacCreateSecret…");
  const { credential, response } = await registerVerified(client, {
    userName: "hmac-user",
    extensions: { hmacCreateSecret: true },
  });
  console.log(`  hmacCreateSecret: ${response.clientExtensionResults.hmacCreateSecret}`);

  // Two salts: a key can answer both in one touch (e.g. current and next disk key).
  const salt1 = randomBytes(32);
  const salt2 = randomBytes(32);
  console.log(`\nSalts: salt1 ${hexPreview(salt1)}, salt2 ${hexPreview(salt2)}`);
  const outputs: { output1: Uint8Array; output2?: Uint8Array }[] = [];
  for (const round of [1, 2]) {
    console.log(`\nGetting the secrets (round ${round})…`);
    const selection = await authenticateVerified(client, credential, {
      extensions: { hmacGetSecret: { salt1, salt2 } },
    });
    const out = selection.getClientAssertions()[0].clientExtensionResults.hmacGetSecret as
      | { output1: Uint8Array; output2?: Uint8Array }
      | undefined;
    if (!out?.output2) throw new Error("the key returned no hmac-secret output");
    console.log(`  output1 ${hexPreview(out.output1, 16)}`);
    console.log(`  output2 ${hexPreview(out.output2, 16)}`);
    outputs.push(out);
  }
  const [a, b] = outputs;
  if (!bytesEqual(a.output1, b.output1) || !bytesEqual(a.output2!, b.output2!)) {
    throw new Error("the secrets differ between the two rounds");
  }
  if (bytesEqual(a.output1, a.output2!)) throw new Error("different salts gave one secret");
  console.log("\nSame secrets both times (and a different one per salt).");
});
