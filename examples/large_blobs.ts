/**
 * The largeBlob extension: an RP stores a blob (a certificate, a wrapped key…) on the
 * authenticator for a discoverable credential and reads it back at a later sign-in. The
 * client stores it, encrypted with the credential's largeBlobKey, in the key's large-blob
 * array; writing needs the PIN (a token with the largeBlobWrite permission), reading does not.
 *
 * The virtual authenticator gets the PIN 1234.
 *
 *   deno run -A examples/large_blobs.ts [--virtual]     bun examples/large_blobs.ts
 */
import { bytesEqual, utf8Decode, utf8Encode } from "../src/utils.ts";
import { authenticateVerified, exampleClient, registerVerified, runExample } from "./_common.ts";

type LargeBlobOutput = { supported?: boolean; written?: boolean; blob?: Uint8Array };

await runExample({ virtual: { pin: "1234" } }, async (dev) => {
  const client = exampleClient(dev);
  const info = await client.ready();
  console.log(
    `  largeBlobs: ${info.options.largeBlobs === true}, ` +
      `array size ${info.maxLargeBlob} bytes`,
  );

  console.log("\nRegistering a discoverable credential with largeBlob support required…");
  const { credential, response } = await registerVerified(client, {
    userName: "blob-user",
    residentKey: "required",
    extensions: { largeBlob: { support: "required" } },
  });
  const created = response.clientExtensionResults.largeBlob as LargeBlobOutput | undefined;
  console.log(`  largeBlob supported: ${created?.supported}`);
  if (!created?.supported) throw new Error("the credential has no largeBlob support");

  const blob = utf8Encode(`A certificate, a wrapped key or notes: ${"x".repeat(200)}`);
  console.log(`\nWriting a ${blob.length}-byte blob (the PIN is needed)…`);
  const written = await authenticateVerified(client, credential, {
    extensions: { largeBlob: { write: blob } },
  });
  const w = written.getClientAssertions()[0].clientExtensionResults.largeBlob as LargeBlobOutput;
  console.log(`  written: ${w?.written}`);
  if (w?.written !== true) throw new Error("the blob was not written");

  console.log("\nReading it back at the next sign-in…");
  const read = await authenticateVerified(client, credential, {
    extensions: { largeBlob: { read: true } },
  });
  const r = read.getClientAssertions()[0].clientExtensionResults.largeBlob as LargeBlobOutput;
  if (!r?.blob) throw new Error("the key returned no blob");
  console.log(`  read ${r.blob.length} bytes: "${utf8Decode(r.blob).slice(0, 40)}…"`);
  if (!bytesEqual(r.blob, blob)) throw new Error("the blob read back differs");
  console.log("\nThe large blob came back unchanged.");
});
