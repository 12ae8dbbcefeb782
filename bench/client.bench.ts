// Fido2Client end to end against the in-memory VirtualAuthenticator (real CTAPHID framing):
// time per ceremony, and how many CTAP round trips each ceremony costs. python-fido2 spends
// 4 on a getAssertion with an allow list (2 getInfo, a pre-flight, the assertion).
import { bench } from "./_harness.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import { UserInteraction } from "../src/client/interaction.ts";
import type { CtapDevice } from "../src/ctap.ts";
import { b64urlEncode, randomBytes } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

const ORIGIN = "https://example.com";

/** Counts CTAP commands sent (CTAPHID CBOR and MSG calls). */
class Counting implements CtapDevice {
  calls = 0;
  constructor(readonly inner: CtapDevice) {}
  get capabilities() {
    return this.inner.capabilities;
  }
  call(...args: Parameters<CtapDevice["call"]>) {
    this.calls++;
    return this.inner.call(...args);
  }
  close() {
    return this.inner.close();
  }
}

async function setup(opts: ConstructorParameters<typeof VirtualAuthenticator>[0], pin?: string) {
  const device = new Counting(await new VirtualAuthenticator(opts).device());
  const ui = new (class extends UserInteraction {
    override requestPin() {
      return pin;
    }
  })();
  const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
  await client.ready();
  return { device, client };
}

const creation = () => ({
  rp: { id: "example.com", name: "Example" },
  user: { id: b64urlEncode(randomBytes(16)), name: "alice" },
  challenge: b64urlEncode(randomBytes(32)),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  authenticatorSelection: { userVerification: "discouraged" },
});
const request = (ids: string[]) => ({
  challenge: b64urlEncode(randomBytes(32)),
  rpId: "example.com",
  allowCredentials: ids.map((id) => ({ type: "public-key", id })),
  userVerification: "discouraged",
});

const plain = await setup({});
const withPin = await setup({ pin: "1234" }, "1234");
const reg = await plain.client.makeCredential(creation());
const id = reg.id;
const pinReg = await withPin.client.makeCredential({
  ...creation(),
  authenticatorSelection: { userVerification: "required" },
});
const longList = [...Array.from({ length: 19 }, () => b64urlEncode(randomBytes(32))), id];

/** Round trips of one call, measured once and printed next to the timings. */
async function roundTrips(label: string, s: { device: Counting }, op: () => Promise<unknown>) {
  const before = s.device.calls;
  await op();
  console.error(`round trips: ${label}: ${s.device.calls - before}`);
}
await roundTrips("makeCredential", plain, () => plain.client.makeCredential(creation()));
await roundTrips("getAssertion (1 allowed)", plain, () => plain.client.getAssertion(request([id])));
await roundTrips(
  "getAssertion (20 allowed, maxCredsInList 8)",
  plain,
  () => plain.client.getAssertion(request(longList)),
);
await roundTrips("makeCredential with PIN", withPin, () =>
  withPin.client.makeCredential({
    ...creation(),
    authenticatorSelection: { userVerification: "required" },
  }));
await roundTrips(
  "getAssertion with PIN",
  withPin,
  () => withPin.client.getAssertion({ ...request([pinReg.id]), userVerification: "required" }),
);

bench("makeCredential (no UV)", async () => {
  await plain.client.makeCredential(creation());
}, { group: "client" });
bench("getAssertion, 1 allowed credential", async () => {
  await plain.client.getAssertion(request([id]));
}, { group: "client" });
bench("getAssertion, 20 allowed credentials (pre-flight)", async () => {
  await plain.client.getAssertion(request(longList));
}, { group: "client" });
bench("makeCredential with PIN (token + ECDH)", async () => {
  await withPin.client.makeCredential({
    ...creation(),
    authenticatorSelection: { userVerification: "required" },
  });
}, { group: "client" });
bench("cold start: new VirtualAuthenticator, CTAPHID INIT, getInfo", async () => {
  const device = await new VirtualAuthenticator({}).device();
  await new Fido2Client(device, new DefaultClientDataCollector(ORIGIN)).ready();
  await device.close();
}, { group: "startup" });
