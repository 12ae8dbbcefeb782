/**
 * Register a credential and authenticate with it (`npm run demo`).
 *
 * Uses the first USB security key hidapi finds; with none plugged in (or no hidapi), it uses
 * the built-in VirtualAuthenticator and says so. A real relying-party library
 * (@simplewebauthn/server) creates the options and verifies both responses, so a success
 * here is a verified one.
 *
 *   deno run -A examples/credential.ts        bun examples/credential.ts
 *   FIDO2_PIN=1234 ...                        (PIN for keys that have one)
 *   FIDO2_VIRTUAL=1 ...                       (skip USB, use the virtual authenticator)
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import {
  ClientError,
  type CtapDevice,
  DefaultClientDataCollector,
  Fido2Client,
  listDevices,
  UserInteraction,
} from "../mod.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";
import { getEnv } from "../ffi/runtime.ts";

const ORIGIN = "https://example.com";
const RP_ID = "example.com";

class ConsoleInteraction extends UserInteraction {
  override promptUp(): void {
    console.log("  Touch your security key…");
  }
  override requestPin(): string | undefined {
    const pin = getEnv("FIDO2_PIN") ?? prompt("  Enter the key's PIN:") ?? undefined;
    return pin || undefined;
  }
}

async function findDevice(): Promise<{ device: CtapDevice; label: string }> {
  if (getEnv("FIDO2_VIRTUAL") !== "1") {
    try {
      for await (const device of listDevices()) {
        return {
          device,
          label: `USB key ${device.descriptor.productName ?? device.descriptor.path}`,
        };
      }
      console.log("No USB security key found.");
    } catch (e) {
      console.log(`USB keys unavailable (${(e as Error).message.split("\n")[0]}).`);
    }
  }
  const virtual = new VirtualAuthenticator({
    // Let the client's "touch your key" prompt show before the simulated touch.
    userPresence: async () => {
      await new Promise((r) => setTimeout(r, 300));
      console.log("  (virtual authenticator: touched)");
      return "approve" as const;
    },
  });
  return { device: await virtual.device(), label: "the built-in virtual authenticator" };
}

const { device, label } = await findDevice();
console.log(`Using ${label}.`);
const client = new Fido2Client(
  device,
  new DefaultClientDataCollector(ORIGIN),
  new ConsoleInteraction(),
);
try {
  const info = await client.ready();
  console.log(`  versions ${info.versions.join(", ")}; AAGUID ${info.aaguid}`);

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
} catch (e) {
  if (e instanceof ClientError) {
    console.error(
      `Failed: ${e.message}${e.cause ? ` (cause: ${(e.cause as Error).message})` : ""}`,
    );
  } else console.error("Failed:", e);
  process.exitCode = 1;
} finally {
  await device.close();
}
