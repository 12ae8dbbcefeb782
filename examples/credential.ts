/**
 * Register a credential and authenticate with it (`npm run demo`).
 *
 * Uses the first USB security key hidapi finds; with none plugged in (or no hidapi), it uses
 * the built-in VirtualAuthenticator and says so. On Windows it goes through webauthn.dll
 * (createClient): Windows' own dialogs, security keys and Windows Hello, no admin rights. A real relying-party library
 * (@simplewebauthn/server) creates the options and verifies both responses, so a success
 * here is a verified one.
 *
 *   deno run -A examples/credential.ts        bun examples/credential.ts
 *   FIDO2_PIN=1234 ...                        (PIN for keys that have one)
 *   --virtual or FIDO2_VIRTUAL=1              (skip USB, use the virtual authenticator)
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { Fido2Client } from "../mod.ts";
import { ORIGIN, RP_ID, runClientExample } from "./_common.ts";

await runClientExample({}, async (client) => {
  if (client instanceof Fido2Client) {
    const info = await client.ready();
    console.log(`  versions ${info.versions.join(", ")}; AAGUID ${info.aaguid}`);
  }

  console.log("\nRegistering a credential for example.com…");
  const regOptions = await generateRegistrationOptions({
    rpName: "Example",
    rpID: RP_ID,
    userName: "demo-user",
    attestationType: "direct",
    authenticatorSelection: { userVerification: "discouraged" },
  });
  const registration = await client.makeCredential(regOptions as never);
  const reg = await verifyRegistrationResponse({
    response: registration.toJSON() as never,
    expectedChallenge: regOptions.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: false,
  });
  if (!reg.verified || !reg.registrationInfo) throw new Error("registration did not verify");
  const cred = reg.registrationInfo.credential;
  console.log(
    `  verified: credential ${cred.id.slice(0, 24)}…, attestation ${reg.registrationInfo.fmt}`,
  );

  console.log("\nAuthenticating…");
  const authOptions = await generateAuthenticationOptions({
    rpID: RP_ID,
    allowCredentials: [{ id: cred.id }],
    userVerification: "discouraged",
  });
  const selection = await client.getAssertion(authOptions as never);
  const auth = await verifyAuthenticationResponse({
    response: selection.getResponse(0).toJSON() as never,
    expectedChallenge: authOptions.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: cred,
    requireUserVerification: false,
  });
  if (!auth.verified) throw new Error("authentication did not verify");
  console.log(`  verified: signature counter ${auth.authenticationInfo.newCounter}`);
  console.log("\nDone: registration and authentication verified by @simplewebauthn/server.");
});
