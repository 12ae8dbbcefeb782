/**
 * The credBlob extension: a few bytes (32 on most keys, `maxCredBlobLength` in getInfo)
 * stored with a discoverable credential at registration and returned at every sign-in where
 * the RP asks with `getCredBlob`. Unlike largeBlob it needs no PIN to read or write.
 *
 *   deno run -A examples/cred_blob.ts [--virtual]     bun examples/cred_blob.ts
 */
import { bytesEqual, utf8Decode, utf8Encode } from "../src/utils.ts";
import { authenticateVerified, exampleClient, registerVerified, runExample } from "./_common.ts";

await runExample({}, async (dev) => {
  const client = exampleClient(dev);
  const info = await client.ready();
  if (!info.extensions.includes("credBlob")) {
    throw new Error("this authenticator does not support credBlob");
  }
  const blob = utf8Encode("theme=dark;lang=en");
  console.log(`  the key stores up to ${info.maxCredBlobLength} bytes per credential`);

  console.log(`\nRegistering a discoverable credential with credBlob "${utf8Decode(blob)}"…`);
  const { credential, response } = await registerVerified(client, {
    userName: "blob-user",
    residentKey: "required",
    extensions: { credBlob: blob },
  });
  console.log(`  credBlob stored: ${response.clientExtensionResults.credBlob}`);
  if (response.clientExtensionResults.credBlob !== true) {
    throw new Error("the key did not store the credBlob");
  }

  console.log("\nSigning in with getCredBlob…");
  const selection = await authenticateVerified(client, credential, {
    extensions: { getCredBlob: true },
  });
  const got = selection.getClientAssertions()[0].clientExtensionResults.getCredBlob;
  if (!(got instanceof Uint8Array)) throw new Error("the key returned no credBlob");
  console.log(`  credBlob read back: "${utf8Decode(got)}"`);
  if (!bytesEqual(got, blob)) throw new Error("the blob read back differs");
  console.log("\nThe credBlob came back unchanged.");
});
