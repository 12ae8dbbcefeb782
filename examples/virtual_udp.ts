/**
 * Serves the VirtualAuthenticator over UDP, as firmware simulators (SoloKeys, Nitrokey,
 * OpenSK) do: one 64-byte CTAPHID report per datagram, authenticator on 127.0.0.1:8111.
 * Any client speaking that framing can use it, including this library's `UdpHidConnection`
 * and `fido2 --udp 127.0.0.1:8111`.
 *
 *   deno run -A examples/virtual_udp.ts [PORT] [--state FILE] [--pin PIN]
 *   bun examples/virtual_udp.ts --self-test      (serve, register once through UDP, exit)
 */
import { parseArgs } from "node:util";
import {
  CtapHidDevice,
  DefaultClientDataCollector,
  Fido2Client,
  UdpHidConnection,
} from "../mod.ts";
import { b64urlEncode, randomBytes } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    state: { type: "string" },
    pin: { type: "string" },
    "self-test": { type: "boolean" },
    // Accepted like every other example's flag; this one always serves the virtual key.
    virtual: { type: "boolean" },
  },
  allowPositionals: true,
});
const selfTest = values["self-test"] ?? false;
// The self-test picks free ports so it never collides with a simulator already running.
const port = positionals[0] ? Number(positionals[0]) : selfTest ? 0 : 8111;

const key = new VirtualAuthenticator({
  pin: values.pin,
  stateFile: values.state,
  userPresence: () => {
    console.log("  (virtual authenticator: touched)");
    return "approve";
  },
});
const server = await key.serveUdp(port);
console.log(`Virtual authenticator listening on udp://127.0.0.1:${server.port}`);

if (selfTest) {
  const connection = await UdpHidConnection.open({ port: server.port, localPort: 0 });
  const device = await CtapHidDevice.open(connection.descriptor, connection);
  const client = new Fido2Client(device, new DefaultClientDataCollector("https://example.com"));
  const registration = await client.makeCredential({
    rp: { id: "example.com", name: "Example" },
    user: { id: b64urlEncode(randomBytes(16)), name: "udp-user" },
    challenge: b64urlEncode(randomBytes(32)),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  });
  console.log(`Registered ${registration.id.slice(0, 16)}… over UDP`);
  await device.close();
  await key.close();
} else {
  console.log("Ctrl-C stops it.");
  process.on("SIGINT", () => {
    void key.close().then(() => process.exit(0));
  });
}
