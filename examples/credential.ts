/**
 * Register a credential and authenticate with it (the `npm run demo`).
 *
 * The WebAuthn client lands with the Fido2Client issue; until then this prints the library
 * version only, so nobody mistakes it for a working ceremony.
 */
import denoJson from "../deno.json" with { type: "json" };

console.log(`@x/fido2 ${denoJson.version}: the register/authenticate demo is not available yet.`);
