/**
 * The WebAuthn `prf` extension (what browsers expose of hmac-secret): the RP enables PRF at
 * registration, then at sign-in asks for pseudo-random values for one or two inputs, e.g. to
 * derive an end-to-end encryption key that only this credential can reproduce.
 *
 * Shows `eval` with `first` and `second`, and `evalByCredential` (per-credential inputs,
 * which win over `eval` for the credential they name). The client hashes each input as
 * SHA-256("WebAuthn PRF" || 0x00 || input) before the key sees it.
 *
 *   deno run -A examples/prf.ts [--virtual]     bun examples/prf.ts
 */
import { bytesEqual, utf8Encode } from "../src/utils.ts";
import {
  authenticateVerified,
  exampleClient,
  hexPreview,
  registerVerified,
  runExample,
} from "./_common.ts";

type PrfOutput = { enabled?: boolean; results?: { first: Uint8Array; second?: Uint8Array } };

await runExample({}, async (dev) => {
  const client = exampleClient(dev);
  const first = utf8Encode("encryption key, epoch 1");
  const second = utf8Encode("encryption key, epoch 2");

  console.log("\nRegistering a credential with prf…");
  const { credential, response } = await registerVerified(client, {
    userName: "prf-user",
    // eval at registration needs hmac-secret-mc (CTAP 2.2); other keys just enable PRF.
    extensions: { prf: { eval: { first } } },
  });
  const created = response.clientExtensionResults.prf as PrfOutput | undefined;
  console.log(`  prf enabled: ${created?.enabled}`);
  if (!created?.enabled) throw new Error("this authenticator cannot evaluate PRFs");
  const atCreation = created.results?.first;
  console.log(
    atCreation
      ? `  first  ${hexPreview(atCreation, 16)} (evaluated at registration)`
      : "  (no evaluation at registration: the key lacks hmac-secret-mc)",
  );

  console.log("\nEvaluating two inputs (eval.first, eval.second)…");
  const s1 = await authenticateVerified(client, credential, {
    extensions: { prf: { eval: { first, second } } },
  });
  const r1 = (s1.getClientAssertions()[0].clientExtensionResults.prf as PrfOutput).results!;
  console.log(`  first  ${hexPreview(r1.first, 16)}`);
  console.log(`  second ${hexPreview(r1.second!, 16)}`);
  if (atCreation && !bytesEqual(atCreation, r1.first)) {
    throw new Error("the registration-time output differs from the sign-in one");
  }

  console.log("\nevalByCredential: this credential gets input 2 as its first input…");
  const s2 = await authenticateVerified(client, credential, {
    extensions: {
      prf: { eval: { first }, evalByCredential: { [credential.id]: { first: second } } },
    },
  });
  const r2 = (s2.getClientAssertions()[0].clientExtensionResults.prf as PrfOutput).results!;
  console.log(`  first  ${hexPreview(r2.first, 16)}`);
  if (!bytesEqual(r2.first, r1.second!)) {
    throw new Error("evalByCredential did not win over eval");
  }
  if (bytesEqual(r1.first, r1.second!)) throw new Error("two inputs gave one output");
  console.log("\nPRF outputs are stable per input, and evalByCredential chose the input.");
});
