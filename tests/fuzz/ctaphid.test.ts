// Fuzz targets for CTAPHID (src/hid/framing.ts, src/hid/device.ts): the Reassembler over
// arbitrary packet streams, and CtapHidDevice.open / call over an in-memory connection whose
// device side answers with arbitrary and mutated packet streams (foreign channels, stray
// commands, wrong lengths and sequence numbers, keepalives, errors, silence). Invariant: a
// result or a typed error (HidError, CtapError, FormatError, TransportError) within the read
// timeout, and the channel works again for the next call.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CtapError } from "../../src/ctap.ts";
import { FormatError, TransportError } from "../../src/errors.ts";
import { createConnectionPair, type HidConnection } from "../../src/hid/connection.ts";
import { CtapHidDevice } from "../../src/hid/device.ts";
import {
  BROADCAST_CID,
  CTAPHID,
  fragment,
  HidError,
  maxPayload,
  Reassembler,
} from "../../src/hid/framing.ts";
import { bytesEqual } from "../../src/utils.ts";
import { byte, fuzz, fuzzAsync, hex, only, onlyAsync } from "./_fuzz.ts";

const CID = 0x01020304;
const OTHER = 0x0a0b0c0d;
const TYPED = [HidError, CtapError, FormatError, TransportError];
const DESC = { path: "fuzz:", vid: 0x1050, pid: 0x0407, reportSizeIn: 64, reportSizeOut: 64 };
/** Read/cancel timeout of the device under test: silence ends a call this fast. */
const READ_MS = 5;

/** A 64-byte report from a header and body (zero padded, cut at 64). */
function packet(header: number[], body: Uint8Array | number[] = []): Uint8Array {
  const p = new Uint8Array(64);
  p.set(header.slice(0, 64));
  if (header.length < 64) p.set(Array.from(body).slice(0, 64 - header.length), header.length);
  return p;
}

const be32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const cid = fc.oneof(
  { weight: 6, arbitrary: fc.constant(CID) },
  { weight: 1, arbitrary: fc.constantFrom(OTHER, BROADCAST_CID, 0) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc.integer({ min: 0, max: maxPayload(64) }).map((n) => new Uint8Array(n).fill(0x5a)),
);

/** Packet generators; each yields a run of reports, as the device side would write them. */
function packets(cmd: number): fc.Arbitrary<Uint8Array[]> {
  const cmdByte = fc.oneof(
    { weight: 4, arbitrary: fc.constant(cmd) },
    { weight: 1, arbitrary: fc.constantFrom(...Object.values(CTAPHID)) },
    { weight: 1, arbitrary: byte },
  );
  return fc.oneof(
    // A whole response (maybe on the wrong channel or for another command).
    {
      weight: 3,
      arbitrary: fc.tuple(cid, cmdByte, payload).map(([c, k, p]) => fragment(c, k & 0x7f, p, 64)),
    },
    // A response with one packet edited, dropped, repeated or swapped.
    fc.tuple(cmdByte, payload, fc.nat(), fc.nat({ max: 63 }), byte, fc.nat({ max: 3 })).map(
      ([k, p, at, off, v, how]) => {
        const ps = fragment(CID, k & 0x7f, p, 64);
        const i = at % ps.length;
        if (how === 0) ps[i][off] = v;
        else if (how === 1) ps.splice(i, 1);
        else if (how === 2) ps.splice(i, 0, ps[i]);
        else if (ps.length > 1) ps.splice(i, 2, ps[(i + 1) % ps.length], ps[i]);
        return ps;
      },
    ),
    // KEEPALIVE with any status (and any declared length).
    fc.tuple(cid, byte, byte).map(([c, s, n]) => [
      packet([...be32(c), 0x80 | CTAPHID.KEEPALIVE, 0, n & 3, s]),
    ]),
    // CTAPHID_ERROR with any code.
    fc.tuple(cid, byte).map((
      [c, code],
    ) => [packet([...be32(c), 0x80 | CTAPHID.ERROR, 0, 1, code])]),
    // An init header with any command and length.
    fc.tuple(cid, byte, fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 57 })).map(
      ([c, k, n, body]) => [packet([...be32(c), k | 0x80, n >> 8, n & 0xff], body)],
    ),
    // A continuation with any sequence number.
    fc.tuple(cid, fc.integer({ min: 0, max: 0x7f }), fc.uint8Array({ maxLength: 59 })).map(
      ([c, s, body]) => [packet([...be32(c), s], body)],
    ),
    // Anything.
    fc.uint8Array({ minLength: 64, maxLength: 64 }).map((p) => [p]),
  );
}

/** A device-side stream: fuzzed runs of packets, then how it ends. */
function stream(cmd: number) {
  return fc.record({
    runs: fc.array(packets(cmd), { minLength: 1, maxLength: 5 }),
    end: fc.constantFrom("silence", "error", "answer"),
  }).map(({ runs, end }) => {
    const out = runs.flat();
    if (end === "error") out.push(packet([...be32(CID), 0x80 | CTAPHID.ERROR, 0, 1, 0x7f]));
    if (end === "answer") out.push(...fragment(CID, cmd, new Uint8Array([0, 0xa0]), 64));
    return out;
  });
}

/**
 * The device side: answers the first request with `script`, then behaves: CTAPHID_INIT on
 * our channel (resync) echoes the nonce, PING echoes its data.
 */
async function serve(conn: HidConnection, script: Uint8Array[]): Promise<void> {
  let scripted = false;
  try {
    while (true) {
      const req = await conn.readPacket();
      const c = (req[0] << 24 | req[1] << 16 | req[2] << 8 | req[3]) >>> 0;
      const cmd = req[4] & 0x7f;
      const len = (req[5] << 8) | req[6];
      if (!(req[4] & 0x80) || c !== CID) continue;
      if (cmd === CTAPHID.CANCEL) continue;
      if (!scripted) {
        scripted = true;
        // All at once, as if already queued in the OS: the host sees the whole stream.
        await Promise.all(script.map((p) => conn.writePacket(p)));
        continue;
      }
      if (cmd === CTAPHID.INIT) {
        const body = [...req.subarray(7, 15), ...be32(CID), 2, 1, 0, 0, 0x0d];
        await conn.writePacket(fragment(CID, CTAPHID.INIT, Uint8Array.from(body), 64)[0]);
      } else if (cmd === CTAPHID.PING) {
        await conn.writePacket(fragment(CID, CTAPHID.PING, req.subarray(7, 7 + len), 64)[0]);
      }
    }
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
  }
}

/** The device's INIT answer for `nonce`, possibly corrupted by one edit. */
function initAnswer(nonce: Uint8Array, edit: [number, number] | undefined): Uint8Array[] {
  const body = Uint8Array.from([...nonce, ...be32(CID), 2, 5, 4, 3, 0x0d]);
  const ps = fragment(BROADCAST_CID, CTAPHID.INIT, body, 64);
  if (edit) ps[0][edit[0] % 24] = edit[1];
  return ps;
}

describe("fuzz: CTAPHID", () => {
  it("Reassembler over arbitrary packet streams: frames or HidError, then reusable", () => {
    fuzz(
      "hid Reassembler",
      fc.tuple(
        fc.array(
          fc.oneof(packets(0x10), fc.uint8Array({ maxLength: 70 }).map((p) => [p])),
          { maxLength: 8 },
        ),
        payload,
      ),
      ([runs, good]) => {
        const r = new Reassembler(CID);
        for (const p of runs.flat()) {
          const out = only([HidError], () => r.push(p));
          if (out.ok && out.value) {
            assert.equal(out.value.cid, CID);
            assert.ok(out.value.payload.length <= maxPayload(64));
            assert.equal(out.value.cmd, p[4] & 0x80 ? p[4] & 0x7f : out.value.cmd);
          }
        }
        r.reset();
        let frame;
        for (const p of fragment(CID, 0x10, good, 64)) frame = r.push(p);
        assert.ok(frame, "a valid message after the noise did not reassemble");
        assert.equal(hex(frame.payload), hex(good));
      },
      { scale: 0.25 },
    );
  });

  it("CtapHidDevice.call over fuzzed device streams: typed end, then the channel works", async () => {
    await fuzzAsync(
      "hid call",
      fc.tuple(fc.constantFrom(CTAPHID.CBOR, CTAPHID.MSG, CTAPHID.PING), fc.nat()).chain((
        [cmd],
      ) => fc.tuple(fc.constant(cmd), stream(cmd))),
      async ([cmd, script]) => {
        const [host, dev] = createConnectionPair(64);
        const server = serve(dev, script);
        const info = {
          cid: CID,
          ctaphidVersion: 2,
          deviceVersion: [1, 0, 0] as const,
          capabilities: 0x0d,
        };
        const d = new CtapHidDevice(DESC, host, info, {
          readTimeout: READ_MS,
          cancelTimeout: READ_MS,
          busyTimeout: 0,
        });
        const t0 = performance.now();
        const r = await onlyAsync(TYPED, () => d.call(cmd, new Uint8Array([0x04])));
        assert.ok(performance.now() - t0 < 500, "the call outlived its read timeout by far");
        if (r.ok) assert.ok(r.value.length <= maxPayload(64));
        const echo = await d.call(CTAPHID.PING, new Uint8Array([1, 2, 3]));
        assert.equal(hex(echo), "010203", "the next call after the fuzzed one failed");
        await d.close();
        dev.close();
        await server;
      },
      { scale: 0.25 },
    );
  });

  it("CtapHidDevice.open over fuzzed INIT answers: a device or a typed error", async () => {
    await fuzzAsync(
      "hid open",
      fc.record({
        before: fc.array(packets(CTAPHID.INIT), { maxLength: 3 }),
        answer: fc.option(fc.tuple(fc.nat(), byte), { nil: undefined, freq: 2 }),
        give: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
      }),
      async ({ before, answer, give }) => {
        const [host, dev] = createConnectionPair(64);
        const server = (async () => {
          try {
            const req = await dev.readPacket();
            const nonce = req.subarray(7, 15);
            // Broadcast-channel noise (retargeted from CID), then maybe our answer.
            for (const p of before.flat()) {
              const q = p.slice();
              if (bytesEqual(q.subarray(0, 4), Uint8Array.from(be32(CID)))) q.fill(0xff, 0, 4);
              await dev.writePacket(q);
            }
            if (give) { for (const p of initAnswer(nonce, answer)) await dev.writePacket(p); }
          } catch (e) {
            if (!(e instanceof TransportError)) throw e;
          }
        })();
        const r = await onlyAsync(
          TYPED,
          () => CtapHidDevice.open(DESC, host, { readTimeout: READ_MS }),
        );
        if (r.ok) {
          assert.ok(r.value.channelId !== BROADCAST_CID && r.value.channelId !== 0);
          await r.value.close();
        }
        host.close();
        dev.close();
        await server;
      },
      { scale: 0.05 },
    );
  });
});
