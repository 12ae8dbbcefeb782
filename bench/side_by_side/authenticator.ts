/**
 * The authenticator of the side-by-side benchmark: a VirtualAuthenticator served over UDP
 * CTAPHID in a process of its own, so every client (python-fido2, this library on Deno and on
 * Bun) talks to the same process the same way. Prints the port, serves until stdin closes.
 *   bun bench/side_by_side/authenticator.ts [--pin 1234]
 * @module
 */
import process from "node:process";
import { Ctap2 } from "../../src/ctap2/base.ts";
import { LargeBlobs } from "../../src/ctap2/blob.ts";
import { VirtualAuthenticator } from "../../src/virtual/mod.ts";

const i = process.argv.indexOf("--pin");
const pin = i > 0 ? process.argv[i + 1] : undefined;
const va = new VirtualAuthenticator(pin ? { pin } : {});
if (!pin) {
  // Every client reads the same 4 KB large-blob array (python-fido2 0.9.1 cannot write one).
  const blobs = new LargeBlobs(await Ctap2.create(await va.device()));
  await blobs.writeBlobArray([new Map([[1, new Uint8Array(4000).fill(7)]])]);
}
const server = await va.serveUdp(0);
console.log(server.port);
process.stdin.on("data", () => {});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
