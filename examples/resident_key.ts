/**
 * Discoverable credentials ("passkeys", resident keys): register two accounts on the key,
 * then sign in without telling the key which credential to use. The key returns every
 * account it holds for the RP; the user picks one from the list.
 *
 * The virtual authenticator gets a PIN, so user verification happens and the key also
 * returns the account names (without UV, keys return only the user handles).
 *
 *   deno run -A examples/resident_key.ts [--virtual]     bun examples/resident_key.ts
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from "@simplewebauthn/server";
import { utf8Decode } from "../src/utils.ts";
import { exampleClient, ORIGIN, RP_ID, runExample } from "./_common.ts";

const ACCOUNTS = ["alice@example.com", "bob@example.com"];

await runExample({ virtual: { pin: "1234" } }, async (dev) => {
  const client = exampleClient(dev);
  const byId = new Map<string, { user: string; credential: WebAuthnCredential }>();

  for (const user of ACCOUNTS) {
    console.log(`\nRegistering a discoverable credential for ${user}…`);
    const options = await generateRegistrationOptions({
      rpName: "Example",
      rpID: RP_ID,
      userName: user,
      userID: new TextEncoder().encode(`id:${user}`),
      attestationType: "none",
      authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      extensions: { credProps: true } as never,
    });
    const response = await client.makeCredential(options as never);
    const reg = await verifyRegistrationResponse({
      response: response.toJSON() as never,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      requireUserVerification: false,
    });
    if (!reg.verified || !reg.registrationInfo) throw new Error("registration did not verify");
    const credential = reg.registrationInfo.credential;
    byId.set(credential.id, { user, credential });
    const props = response.clientExtensionResults.credProps as { rk?: boolean } | undefined;
    console.log(`  verified: credential ${credential.id.slice(0, 24)}…, rk=${props?.rk}`);
  }

  console.log("\nSigning in without a username (empty allowCredentials)…");
  const authOptions = await generateAuthenticationOptions({
    rpID: RP_ID,
    userVerification: "preferred",
  });
  const selection = await client.getAssertion(authOptions as never);
  console.log(`  the key holds ${selection.length} account(s) for ${RP_ID}:`);
  selection.getClientAssertions().forEach((a, i) => {
    const handle = a.userHandle ? utf8Decode(a.userHandle) : "(no user handle)";
    const name = a.user?.name ?? "(name needs user verification)";
    console.log(`   [${i}] ${name}  user handle "${handle}"`);
  });

  // A browser would show this list; here the first account is chosen.
  const response = selection.getResponse(0);
  const known = byId.get(response.id);
  if (!known) throw new Error(`the key returned an unknown credential ${response.id}`);
  const auth = await verifyAuthenticationResponse({
    response: response.toJSON() as never,
    expectedChallenge: authOptions.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: known.credential,
    requireUserVerification: false,
  });
  if (!auth.verified) throw new Error("authentication did not verify");
  console.log(`\nSigned in as ${known.user}: verified by @simplewebauthn/server.`);
});
