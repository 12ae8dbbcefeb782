// CTAPHID round trips over the in-memory connection pair: client framing + server framing +
// scheduling, without any authenticator work (the processor echoes).
import { bench } from "./_harness.ts";
import { createConnectionPair, CTAPHID, CtapHidDevice, CtapHidServer } from "../src/hid/mod.ts";
import type { CtapProcessor } from "../src/virtual/types.ts";
import { CAPABILITY } from "../src/ctap.ts";

const echo: CtapProcessor = {
  capabilities: CAPABILITY.CBOR,
  deviceVersion: [1, 0, 0],
  processCbor: (request) => Promise.resolve(request),
  processMsg: (apdu) => Promise.resolve(apdu),
};

const [client, auth] = createConnectionPair();
new CtapHidServer(auth, echo).start();
const device = await CtapHidDevice.open({
  path: "virtual:bench",
  vid: 0,
  pid: 0,
  reportSizeIn: 64,
  reportSizeOut: 64,
}, client);

const kb1 = new Uint8Array(1024).fill(0xa5);
const kb7 = new Uint8Array(7 * 1024).fill(0x5a);

bench("CTAPHID CBOR round trip 1 KB (in-memory)", async () => {
  await device.call(CTAPHID.CBOR, kb1);
});

bench("CTAPHID CBOR round trip 7 KB (in-memory)", async () => {
  await device.call(CTAPHID.CBOR, kb7);
});

bench("CTAPHID PING 0 bytes (in-memory)", async () => {
  await device.call(CTAPHID.PING);
});
