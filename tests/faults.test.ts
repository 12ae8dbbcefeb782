// Fault scenarios (issue 8): a Fido2Client ceremony over CTAPHID while the virtual key's
// transport drops, repeats, reorders and interleaves packets, stalls, disappears, or the
// caller aborts. Each scenario must end in a success or a typed ClientError within its
// timeout, and the next ceremony on the same device must work.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import type { CtapDevice } from "../src/ctap.ts";
import { TransportError } from "../src/errors.ts";
import type { HidFaults } from "../src/hid/faults.ts";
import { b64urlEncode, randomBytes } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

const ORIGIN = "https://example.com";
const TIMEOUT_MS = 4000;
const open: CtapDevice[] = [];
after(async () => {
  for (const d of open) await d.close();
});

const creation = () => ({
  rp: { id: "example.com", name: "Example" },
  user: { id: b64urlEncode(randomBytes(16)), name: "alice" },
  challenge: b64urlEncode(randomBytes(32)),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  timeout: TIMEOUT_MS,
});

async function setup(opts: ConstructorParameters<typeof VirtualAuthenticator>[0] = {}) {
  const va = new VirtualAuthenticator(opts);
  const device = await va.device({ client: { readTimeout: 1000 } });
  open.push(device);
  const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN));
  await client.ready();
  return { va, device, client };
}

/** Runs one ceremony; returns "ok" or the error, and how long it took. */
async function attempt(client: Fido2Client) {
  const t0 = Date.now();
  try {
    const r = await client.makeCredential(creation());
    assert.ok(r.rawId.length > 0);
    return { outcome: "ok" as const, ms: Date.now() - t0 };
  } catch (e) {
    return { outcome: e, ms: Date.now() - t0 };
  }
}

function assertTyped(outcome: unknown, label: string) {
  if (outcome === "ok") return;
  assert.ok(outcome instanceof ClientError, `${label}: untyped ${outcome}`);
  const cause = (outcome as ClientError).cause;
  assert.ok(cause instanceof Error, `${label}: no cause`);
}

// A makeCredential response with packed attestation spans ~12 packets, preceded by keepalives.
const SCENARIOS: [string, HidFaults][] = [
  ["drop the first response packet", { drop: [0] }],
  ["drop a middle packet", { drop: [3] }],
  ["drop the tail of the response", { drop: [4, 5, 6, 7, 8, 9] }],
  ["duplicate a packet", { duplicate: [2] }],
  ["duplicate every early packet", { duplicate: [0, 1, 2, 3, 4, 5] }],
  ["reorder two packets", { reorder: [2] }],
  ["foreign-channel packets interleaved", { foreignBefore: [0, 1, 2, 3, 4, 5, 6] }],
  ["keepalive storm", { keepaliveBefore: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }],
  ["slow link (5 ms per packet)", { delayMs: 5 }],
  ["lie: a wrong sequence number", { lie: { 2: "seq" } }],
  ["lie: a length over the CTAPHID maximum", { lie: { 1: "length" } }],
  ["lie: a response cut short (truncated CBOR)", { lie: { 1: "truncate" } }],
];

describe("fault scenarios", () => {
  for (const [label, faults] of SCENARIOS) {
    it(`${label}: typed result in time, next call works`, async () => {
      const { va, client } = await setup();
      va.faults = faults;
      const { outcome, ms } = await attempt(client);
      assertTyped(outcome, label);
      const cause = outcome === "ok" ? "" : ` (${((outcome as ClientError).cause as Error).name})`;
      console.log(
        `  ${label}: ${
          outcome === "ok" ? "ok" : (outcome as ClientError).codeName
        }${cause}, ${ms} ms`,
      );
      assert.ok(ms < TIMEOUT_MS + 2000, `${label}: took ${ms} ms`);
      va.faults = {};
      const next = await attempt(client);
      assert.equal(next.outcome, "ok", `${label}: next call failed: ${next.outcome}`);
    });
  }

  it("harmless faults do not fail the ceremony", async () => {
    for (const faults of [{ foreignBefore: [0, 1, 2, 3] }, { keepaliveBefore: [0, 1, 2] }]) {
      const { va, client } = await setup();
      va.faults = faults;
      assert.equal((await attempt(client)).outcome, "ok", JSON.stringify(faults));
    }
  });

  it("lie: an INIT answer with the wrong nonce is ignored; open fails typed, in time", async () => {
    const va = new VirtualAuthenticator({});
    const t0 = Date.now();
    await assert.rejects(
      // Every answer lies: open re-sends INIT while it waits, and an honest answer would do.
      va.device({
        faults: { lie: { 0: "nonce", 1: "nonce", 2: "nonce", 3: "nonce" } },
        client: { readTimeout: 500 },
      }),
      (e) => e instanceof TransportError,
    );
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    const device = await va.device();
    open.push(device);
    await new Fido2Client(device, new DefaultClientDataCollector(ORIGIN)).ready();
  });

  it("device removed mid-operation: TransportError cause, promptly", async () => {
    const ref: { unplug?: () => void } = {};
    const { va, client } = await setup({
      userPresence: () => new Promise(() => ref.unplug?.()),
    });
    ref.unplug = () => setTimeout(() => void va.unplug(), 50);
    const { outcome, ms } = await attempt(client);
    assert.ok(outcome instanceof ClientError, String(outcome));
    assert.ok((outcome as ClientError).cause instanceof TransportError);
    assert.ok(ms < 2000, `took ${ms} ms`);
    // Later calls fail the same way instead of hanging.
    const again = await attempt(client);
    assert.ok((again.outcome as ClientError).cause instanceof TransportError);
  });

  it("abort at every stage: before, during the touch, right after sending", async () => {
    let block = true;
    const { client } = await setup({
      userPresence: async () => {
        while (block) await new Promise((r) => setTimeout(r, 10));
        return "approve" as const;
      },
    });
    for (const delay of [0, 1, 5, 20, 60, 150]) {
      const ac = new AbortController();
      if (delay === 0) ac.abort();
      else setTimeout(() => ac.abort(), delay);
      const t0 = Date.now();
      await assert.rejects(client.makeCredential(creation(), { signal: ac.signal }), (e) => {
        assert.ok(e instanceof ClientError && e.code === ClientError.ERR.TIMEOUT, String(e));
        return true;
      });
      assert.ok(Date.now() - t0 < 2500, `abort after ${delay} ms took ${Date.now() - t0} ms`);
    }
    block = false;
    assert.equal((await attempt(client)).outcome, "ok");
  });
});
