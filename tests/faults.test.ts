// Fault scenarios (issue 8): a Fido2Client ceremony over CTAPHID while the virtual key's
// transport drops, repeats, reorders and interleaves packets, stalls, disappears, or the
// caller aborts. Each scenario states its one expected outcome (success, or the exact
// ClientError code, cause type and CTAPHID error code) and must reach it within its
// timeout; the next ceremony on the same device must work (issue 13).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import type { CtapDevice } from "../src/ctap.ts";
import { TransportError } from "../src/errors.ts";
import type { HidFaults } from "../src/hid/faults.ts";
import { HID_ERR, HidError } from "../src/hid/framing.ts";
import { FormatError } from "../src/errors.ts";
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

/** The one outcome a scenario must end in. */
type Expected =
  | "ok"
  | {
    /** The cause's class: a CTAPHID framing error or malformed CBOR. */
    readonly cause: typeof HidError | typeof FormatError;
    /** For HidError: its CTAPHID error code. */
    readonly hidCode?: number;
  };

function assertOutcome(outcome: unknown, expected: Expected, label: string) {
  if (expected === "ok") {
    assert.equal(outcome, "ok", `${label}: expected success, got ${outcome}`);
    return;
  }
  assert.ok(outcome instanceof ClientError, `${label}: expected a ClientError, got ${outcome}`);
  // Transport and format failures are not the authenticator's verdict: OTHER_ERROR.
  assert.equal(outcome.code, ClientError.ERR.OTHER_ERROR, `${label}: ${outcome.message}`);
  const cause = outcome.cause;
  assert.ok(
    cause instanceof expected.cause,
    `${label}: cause ${cause} is not a ${expected.cause.name}`,
  );
  if (expected.hidCode !== undefined) {
    assert.equal(
      (cause as HidError).code,
      expected.hidCode,
      `${label}: ${(cause as Error).message}`,
    );
  }
}

// The makeCredential exchange after getInfo, packet by packet (indices of HidFaults): 0 is
// the KEEPALIVE(UPNEEDED), 1 the response's initialization packet (~300 bytes of packed
// attestation), 2..6 its continuation packets with sequence numbers 0..4.
const seqError = { cause: HidError, hidCode: HID_ERR.INVALID_SEQ } as const;
const SCENARIOS: [string, HidFaults, Expected][] = [
  // A lost keepalive costs nothing: the response still arrives whole.
  ["drop the keepalive before the response", { drop: [0] }, "ok"],
  // A continuation packet on our channel with no message in progress: fail at once, as
  // python-fido2 does, rather than wait out the timeout.
  ["drop the response's initialization packet", { drop: [1] }, seqError],
  // Continuation packet seq 1 lost: seq 2 follows seq 0.
  ["drop a middle packet", { drop: [3] }, seqError],
  // The message never completes: the per-packet read timeout (1 s here) ends the wait.
  [
    "drop the tail of the response",
    { drop: [4, 5, 6, 7, 8, 9] },
    { cause: HidError, hidCode: HID_ERR.MSG_TIMEOUT },
  ],
  // Continuation seq 0 repeated: the second copy is out of sequence.
  ["duplicate a packet", { duplicate: [2] }, seqError],
  // The repeated initialization packet is ignored mid-message; the repeated seq 0 is not.
  ["duplicate every early packet", { duplicate: [0, 1, 2, 3, 4, 5] }, seqError],
  ["reorder two packets", { reorder: [2] }, seqError],
  // Other channels' traffic and stray keepalives are ignored (CTAP 2.1 §11.2.4).
  ["foreign-channel packets interleaved", { foreignBefore: [0, 1, 2, 3, 4, 5, 6] }, "ok"],
  ["keepalive storm", { keepaliveBefore: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }, "ok"],
  ["slow link (5 ms per packet)", { delayMs: 5 }, "ok"],
  ["lie: a wrong sequence number", { lie: { 2: "seq" } }, seqError],
  [
    "lie: a length over the CTAPHID maximum",
    { lie: { 1: "length" } },
    { cause: HidError, hidCode: HID_ERR.INVALID_LEN },
  ],
  // The frame is complete by its (lying) length, but the CBOR inside ends early.
  ["lie: a response cut short (truncated CBOR)", { lie: { 1: "truncate" } }, {
    cause: FormatError,
  }],
];

describe("fault scenarios", () => {
  for (const [label, faults, expected] of SCENARIOS) {
    it(`${label}: ${expected === "ok" ? "succeeds" : expected.cause.name} in time, next call works`, async () => {
      const { va, client } = await setup();
      va.faults = faults;
      const { outcome, ms } = await attempt(client);
      const cause = outcome === "ok" ? "" : ` (${((outcome as ClientError).cause as Error).name})`;
      console.log(
        `  ${label}: ${
          outcome === "ok" ? "ok" : (outcome as ClientError).codeName
        }${cause}, ${ms} ms`,
      );
      assertOutcome(outcome, expected, label);
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
