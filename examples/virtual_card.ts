/**
 * Serves the VirtualAuthenticator as a smart card (NFC CTAP, CTAP 2.1 §11.3) in the
 * vsmartcard-vpcd reader of the running pcscd until Ctrl-C, so any PC/SC program can use it:
 * `pcsc_scan` shows the card in "Virtual PCD 00 00", `scriptor -r "Virtual PCD 00 00"` sends
 * APDUs, and NFC clients (python-fido2's CtapPcscDevice, libfido2 with PC/SC) see a FIDO key.
 *
 *   apt-get install pcscd vsmartcard-vpcd pcsc-tools     (vpcd listens on 127.0.0.1:35963)
 *   deno run -A examples/virtual_card.ts [--port 35963] [--host 127.0.0.1] [--pin PIN]
 *       [--state FILE] [--profile fido2|fido2-only|u2f-only] [--no-extended] [--trace]
 *
 * The second slot of the driver ("Virtual PCD 00 01") is port 35964.
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { toHex } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "35963" },
    pin: { type: "string" },
    state: { type: "string" },
    profile: { type: "string", default: "fido2" },
    "no-extended": { type: "boolean" },
    trace: { type: "boolean" },
    // Accepted like every other example's flag; this one always serves the virtual key.
    virtual: { type: "boolean" },
  },
});
const profiles = {
  "fido2": {},
  "fido2-only": { u2f: false },
  "u2f-only": { u2fOnly: true },
} as const;
const profile = profiles[values.profile as keyof typeof profiles];
if (!profile) {
  console.error(`Unknown --profile ${values.profile}: use ${Object.keys(profiles).join(", ")}`);
  process.exit(2);
}

const key = new VirtualAuthenticator({
  ...profile,
  pin: values.pin,
  stateFile: values.state,
  userPresence: ({ reason, rpId }) => {
    console.log(`  (virtual card: tapped for ${reason}${rpId ? ` on ${rpId}` : ""})`);
    return "approve";
  },
});
const link = await key.connectVpcd({
  host: values.host,
  port: Number(values.port),
  card: {
    extendedLength: !values["no-extended"],
    trace: values.trace ? (c, r) => console.log(`  > ${toHex(c)}\n  < ${toHex(r)}`) : undefined,
  },
});
console.log(
  `Virtual authenticator inserted into the vpcd reader at ${link.host}:${link.port} ` +
    `(SELECT answers ${link.card.version}); Ctrl-C removes it.`,
);
void link.ready.then(() => console.log("The reader powered the card on: it is present."));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void key.close().then(() => {
    console.log("Card removed.");
    process.exit(0);
  });
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
void link.closed.then(() => {
  if (stopping) return;
  console.log("The reader went away (pcscd stopped?).");
  process.exit(1);
});
