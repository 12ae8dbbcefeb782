/**
 * Credential management: list the discoverable credentials on a key (per relying party),
 * read the storage counters, and delete a credential. It needs a pinUvAuthToken with the
 * `cm` (credential management) permission, so the key must have a PIN.
 *
 * To be safe on a real key, the example first creates its own discoverable credential and
 * deletes only that one. The virtual authenticator gets the PIN 1234.
 *
 *   deno run -A examples/credential_management.ts [--virtual]
 */
import { Ctap2 } from "../src/ctap2/base.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import { b64urlDecode, bytesEqual, utf8Decode } from "../src/utils.ts";
import {
  exampleClient,
  type ExampleDevice,
  hexPreview,
  registerVerified,
  runExample,
} from "./_common.ts";

async function managementSession(dev: ExampleDevice): Promise<CredentialManagement> {
  const ctap = await Ctap2.create(dev.device);
  if (!CredentialManagement.isSupported(ctap.info)) {
    throw new Error("this authenticator does not support credential management");
  }
  if (ctap.info.options.clientPin !== true) {
    throw new Error("credential management needs a PIN: set one on the key first");
  }
  const pin = await dev.interaction.requestPin(ClientPin.PERMISSION.CREDENTIAL_MGMT);
  if (!pin) throw new Error("no PIN given");
  const clientPin = new ClientPin(ctap);
  const token = await clientPin.getPinToken(pin, ClientPin.PERMISSION.CREDENTIAL_MGMT);
  return new CredentialManagement(ctap, clientPin.protocol, token);
}

async function list(cm: CredentialManagement): Promise<void> {
  const meta = await cm.getMetadata();
  console.log(
    `  ${meta.existingResidentCredentialsCount} discoverable credential(s), room for about ` +
      `${meta.maxPossibleRemainingResidentCredentialsCount} more`,
  );
  for (const { rp, rpIdHash } of await cm.enumerateRps()) {
    console.log(`  RP ${rp.id}${rp.name ? ` (${rp.name})` : ""}`);
    for (const c of await cm.enumerateCreds(rpIdHash)) {
      const who = c.user.name ?? utf8Decode(c.user.id);
      const protect = c.credProtect ? `, credProtect ${c.credProtect}` : "";
      console.log(`    ${who}: credential ${hexPreview(c.credentialId.id)}${protect}`);
    }
  }
}

await runExample({ virtual: { pin: "1234" } }, async (dev) => {
  console.log("\nCreating a discoverable credential to manage…");
  const { credential } = await registerVerified(exampleClient(dev), {
    userName: "cm-example-user",
    residentKey: "required",
  });
  const ourId = b64urlDecode(credential.id);
  console.log(`  created credential ${hexPreview(ourId)}`);

  console.log("\nGetting a token with the credential management permission…");
  const cm = await managementSession(dev);

  console.log("\nCredentials on the key:");
  await list(cm);

  console.log(`\nDeleting credential ${hexPreview(ourId)}`);
  await cm.deleteCred({ type: "public-key", id: ourId });

  console.log("\nCredentials on the key now:");
  await list(cm);
  for (const { rpIdHash } of await cm.enumerateRps()) {
    for (const c of await cm.enumerateCreds(rpIdHash)) {
      if (bytesEqual(c.credentialId.id, ourId)) {
        throw new Error("the deleted credential is still listed");
      }
    }
  }
  console.log("\nThe example's credential was listed and deleted.");
});
