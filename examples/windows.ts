/**
 * Windows: register and authenticate through the Windows WebAuthn API (webauthn.dll), which
 * owns the security keys, Windows Hello and the PIN / touch dialogs. `WindowsClient` has the
 * same two methods as `Fido2Client`, so a program can pick whichever is available:
 * non-administrator processes on Windows 10 1903+ cannot open FIDO keys over HID directly.
 *
 * On any other system this prints that it needs Windows and exits 0. `--virtual` is accepted
 * and ignored: webauthn.dll talks to its own authenticators.
 *
 *   deno run -A examples/windows.ts        bun examples/windows.ts
 */
import { DefaultClientDataCollector, WindowsClient } from "../mod.ts";
import { args, authenticateVerified, ORIGIN, registerVerified, reportFailure } from "./_common.ts";

if (!await WindowsClient.isAvailable()) {
  console.log("WindowsClient needs Windows with webauthn.dll (Windows 10 1903 or later).");
  console.log("Nothing to do here: see credential.ts for the same flow over USB HID.");
} else {
  if (args.includes("--virtual")) {
    console.log("(--virtual ignored: Windows shows its own authenticator dialog.)");
  }
  const client = new WindowsClient(new DefaultClientDataCollector(ORIGIN));
  try {
    console.log("Registering a credential through Windows (follow the dialog)…");
    const { credential, fmt } = await registerVerified(client, {
      userName: "windows-user",
      attestation: "direct",
    });
    console.log(`  verified: credential ${credential.id.slice(0, 24)}…, attestation ${fmt}`);

    console.log("\nAuthenticating through Windows…");
    const selection = await authenticateVerified(client, credential);
    const a = selection.getClientAssertions()[0];
    console.log(
      `  verified: signature counter ${a.authenticatorData.counter}, ${a.authenticatorAttachment}`,
    );
    console.log("\nDone: registration and authentication through webauthn.dll verified.");
  } catch (e) {
    reportFailure(e);
  } finally {
    await client.close();
  }
}
