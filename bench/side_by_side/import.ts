/**
 * Cold start of importing the library with no device: what `import "@x/fido2"` costs a
 * program before it does anything (python-fido2's equivalent imports fido2.client, fido2.ctap2
 * and fido2.hid).  deno run -A import.ts  /  bun import.ts
 * @module
 */
import * as fido2 from "../../mod.ts";

console.log(typeof fido2.Fido2Client);
