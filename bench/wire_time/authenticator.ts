/**
 * The authenticator of the large-blob wire-time benchmark: a VirtualAuthenticator served over
 * UDP CTAPHID in a process of its own (as a key's firmware runs apart from the host), timing
 * its own command processing. Prints the port, then answers each `stats` line on stdin with
 * `{"ms": …, "commands": …}`: the time spent inside processCbor (the authenticator's work per
 * CTAP command, CTAPHID framing excluded) since the previous `stats`. Serves until stdin closes.
 *   bun bench/wire_time/authenticator.ts [--pin 1234]
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import type { CtapProcessor } from "../../src/ctap.ts";
import { serveUdp } from "../../src/hid/udp.ts";
import { VirtualAuthenticator } from "../../src/virtual/mod.ts";

const i = process.argv.indexOf("--pin");
const pin = i > 0 ? process.argv[i + 1] : undefined;
const va = new VirtualAuthenticator(pin ? { pin } : {});
let ms = 0;
let commands = 0;
const core = va.authenticator;
const timed: CtapProcessor = {
  capabilities: core.capabilities,
  deviceVersion: core.deviceVersion,
  cbor: core.cbor,
  async processCbor(request, ctx) {
    const t0 = performance.now();
    try {
      return await core.processCbor(request, ctx);
    } finally {
      ms += performance.now() - t0;
      commands++;
    }
  },
  processMsg: (apdu, ctx) => core.processMsg(apdu, ctx),
};
const server = await serveUdp(timed, { port: 0 });
console.log(server.port);
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() !== "stats") return;
  console.log(JSON.stringify({ ms, commands }));
  ms = 0;
  commands = 0;
});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
