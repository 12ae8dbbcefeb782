// The virtual authenticator as a smart card: one APDU in-process (CtapCard.transmit) vs the
// same APDU through the real pcscd and the vpcd reader driver (tests/helpers/pcscd.ts, a
// libpcsclite C client). Needs pcscd + vsmartcard-vpcd (root: a private pcscd per run).
//
// "127.0.0.1" is the plain path: Debian's vpcd writes length and payload as two TCP segments
// with Nagle on, so each APDU waits for the card side's delayed ACK (~40 ms). "quickack" is
// the bed's loopback address whose route acknowledges at once: the real cost of the stack.
import { afterBenches, bench } from "./_harness.ts";
import { CtapCard, VirtualAuthenticator } from "../src/virtual/mod.ts";
import { fromHex } from "../src/utils.ts";
import { PcscClient, releasePcscd, usePcscd } from "../tests/helpers/pcscd.ts";

const SELECT = "00a4040008a0000006472f000100";
const GET_INFO_EXT = "80108000000001040000";

const memory = new CtapCard(new VirtualAuthenticator().authenticator);
await memory.transmit(fromHex(SELECT));

const bed = await usePcscd();
const fast = await PcscClient.open(bed);
const slow = await PcscClient.open(bed);
const a = new VirtualAuthenticator();
const b = new VirtualAuthenticator();
const links = [
  await a.connectVpcd({ host: bed.host, port: bed.ports[0] }),
  await b.connectVpcd({ host: "127.0.0.1", port: bed.ports[1] }),
];
await fast.waitCard(bed.readers[0], true);
await slow.waitCard(bed.readers[1], true);
await fast.connect(bed.readers[0]);
await slow.connect(bed.readers[1]);
await fast.transmit(SELECT);
await slow.transmit(SELECT);
if (bed.host === "127.0.0.1") console.warn("no quickack route: both pcscd rows take the slow path");

bench("CtapCard.transmit (in-process)", async () => {
  await memory.transmit(fromHex(SELECT));
}, { group: "SELECT round trip", baseline: true });
bench("pcscd + vpcd via the quickack loopback address", async () => {
  await fast.transmit(SELECT);
}, { group: "SELECT round trip" });
bench("pcscd + vpcd via 127.0.0.1 (delayed ACK)", async () => {
  await slow.transmit(SELECT);
}, { group: "SELECT round trip" });
bench("100 × SCardTransmit in the C client (quickack)", async () => {
  await fast.bench(100, SELECT);
}, { group: "SELECT round trip" });

bench("CtapCard.transmit (in-process)", async () => {
  await memory.transmit(fromHex(GET_INFO_EXT));
}, { group: "getInfo, extended APDU", baseline: true });
bench("pcscd + vpcd via the quickack loopback address", async () => {
  await fast.transmit(GET_INFO_EXT);
}, { group: "getInfo, extended APDU" });

afterBenches(async () => {
  for (const l of links) await l.close();
  await fast.close();
  await slow.close();
  await releasePcscd();
});
