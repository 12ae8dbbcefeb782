// Virtual authenticator command costs (no transport). Run:
// node_modules/.bin/deno bench -A bench/virtual_authenticator.bench.ts
import { bench } from "./_harness.ts";
import { encode } from "../src/cbor.ts";
import { concat } from "../src/utils.ts";
import { CtapAuthenticator } from "../src/virtual/authenticator.ts";

const ctx = { signal: new AbortController().signal, keepalive: () => {} };
const cdh = new Uint8Array(32).fill(9);

function mc(alg: number, rk: boolean): Uint8Array {
  return concat(
    new Uint8Array([0x01]),
    encode(
      new Map<number, unknown>([
        [1, cdh],
        [2, { id: "example.com" }],
        [3, { id: new Uint8Array([1, 2, 3]), name: "u" }],
        [4, [{ type: "public-key", alg }]],
        [7, { rk }],
      ]),
    ),
  );
}

for (const [name, alg] of [["ES256", -7], ["EdDSA", -8], ["ES384", -35]] as const) {
  const auth = new CtapAuthenticator({ rkCapacity: 1000 });
  const res = await auth.processCbor(mc(alg, false), ctx);
  if (res[0] !== 0) throw new Error(`makeCredential failed: ${res[0]}`);
  // Credential id: offset of authData's attested credential data inside the response is not
  // needed; a discoverable credential lets getAssertion run without an allowList.
  await auth.processCbor(mc(alg, true), ctx);
  const ga = concat(
    new Uint8Array([0x02]),
    encode(new Map<number, unknown>([[1, "example.com"], [2, cdh]])),
  );
  bench(`makeCredential ${name} non-discoverable`, async () => {
    await auth.processCbor(mc(alg, false), ctx);
  }, { group: "mc" });
  bench(`makeCredential ${name} discoverable`, async () => {
    await auth.processCbor(mc(alg, true), ctx);
  }, { group: "mc" });
  bench(`getAssertion ${name} discoverable`, async () => {
    await auth.processCbor(ga, ctx);
  }, { group: "ga" });
}

const info = new Uint8Array([0x04]);
const a = new CtapAuthenticator();
bench("getInfo", async () => {
  await a.processCbor(info, ctx);
});
