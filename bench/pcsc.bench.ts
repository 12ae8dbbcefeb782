// APDU round trips through the real PC/SC stack: this library's binding → libpcsclite → a
// private pcscd (tests/helpers/pcscd.ts) → the vsmartcard-vpcd reader driver → the virtual
// authenticator as a card (served from a Worker). "raw SCardTransmit" is the floor: one bare
// binding call; the other rows add what CtapPcscDevice does on top (serialization, the PC/SC
// transaction per call, NFCCTAP framing, chaining). Needs pcscd + vsmartcard-vpcd (root).
import { afterBenches, bench } from "./_harness.ts";
import { CtapPcscDevice } from "../src/pcsc/mod.ts";
import { loadPcsc } from "../ffi/pcsc.ts";
import { fromHex } from "../src/utils.ts";
import { releasePcscd, usePcscd } from "../tests/helpers/pcscd.ts";
import { hostCard } from "../tests/helpers/vcard_host.ts";

const SELECT = fromHex("00a4040008a0000006472f000100");
const GET_INFO = fromHex("80108000010400");
const CBOR = 0x10;

const bed = await usePcscd();
// bed.host: the quick-ACK loopback address when the bed has one (see tests/helpers/pcscd.ts).
const card = await hostCard({ port: bed.ports[0], host: bed.host });
const pcsc = await loadPcsc();
for (let i = 0; i < 100 && !(await pcsc.listReaders())[0]?.cardPresent; i++) {
  await new Promise((r) => setTimeout(r, 100));
}
const raw = await pcsc.connect(bed.readers[0]);
const open = (opts: ConstructorParameters<typeof CtapPcscDevice>[1]) =>
  pcsc.connect(bed.readers[0]).then((c) => CtapPcscDevice.open(c, opts));
const device = await open({});
const noTx = await open({ transactions: false });
const chained = await open({ apduMode: "short", transactions: false });
const extended = await open({ apduMode: "extended", transactions: false });
await raw.transmit(SELECT);
const kb1 = new Uint8Array(1024);
kb1[0] = 0x04; // getInfo with 1023 bytes of trailing garbage: the card answers an error status

bench("raw SCardTransmit (binding)", async () => {
  await raw.transmit(SELECT);
}, { group: "SELECT round trip", baseline: true });
bench("CtapPcscDevice.apduExchange", async () => {
  await device.apduExchange(SELECT);
}, { group: "SELECT round trip" });

bench("raw SCardTransmit of NFCCTAP_MSG getInfo", async () => {
  await raw.transmit(GET_INFO);
}, { group: "getInfo", baseline: true });
bench("CtapPcscDevice.call(CBOR), PC/SC transaction per call", async () => {
  await device.call(CBOR, GET_INFO.subarray(5, 6));
}, { group: "getInfo" });
bench("CtapPcscDevice.call(CBOR), no transaction", async () => {
  await noTx.call(CBOR, GET_INFO.subarray(5, 6));
}, { group: "getInfo" });

bench("1 KB request, 5 chained short APDUs", async () => {
  await chained.call(CBOR, kb1);
}, { group: "1 KB request", baseline: true });
bench("1 KB request, 1 extended APDU", async () => {
  await extended.call(CBOR, kb1);
}, { group: "1 KB request" });

// Release the card, the connections and the daemon after the last case (Bun; under
// `deno bench` the runner exits by itself).
afterBenches(async () => {
  for (const d of [device, noTx, chained, extended]) await d.close();
  await raw.close();
  pcsc.close();
  await card.stop();
  await releasePcscd();
});
