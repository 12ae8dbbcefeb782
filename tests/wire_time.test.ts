// Large-blob transfers at USB full-speed pacing (issue 15 goal 4): the gcc-built fake
// libhidapi forwards reports to a VirtualAuthenticator served over UDP and paces them like an
// interrupt pipe (one report per 1 ms frame each way), counting the frames used. A whole 4 KB
// array read and write through loadHidApi + CtapHidDevice + LargeBlobs must take exactly the
// frames tests/helpers/large_blob_wire.ts computes from the spec: a round trip more, an
// under-filled fragment or a report more fails. Counts, not times: the machine is shared.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { loadHidApi } from "../ffi/hidapi.ts";
import { cString, openLibrary } from "../ffi/runtime.ts";
import type { CborValue } from "../src/cbor.ts";
import { Ctap2 } from "../src/ctap2/base.ts";
import { LargeBlobs } from "../src/ctap2/blob.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { openDevice } from "../src/hid/mod.ts";
import { serveUdp } from "../src/hid/udp.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";
import { buildFixture } from "./helpers/build_fixture.ts";
import {
  arrayOfSize,
  readRoundTrips,
  type RoundTrip,
  type WireCount,
  wireCount,
  writeRoundTrips,
} from "./helpers/large_blob_wire.ts";

const FAKE = buildFixture("fake_hidapi");
const PATH = "/dev/hidraw0";
const DEVICE = [PATH, "0x1050", "0x0407", "SN", "0x0512", "Yubico", "YubiKey"]
  .concat(["0xf1d0", "0x01", "0", "1"]).join("\t");

async function control() {
  const lib = await openLibrary([FAKE], {
    fake_hidapi_configure: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_set_udp_port: { parameters: ["i32"], result: "void" },
    fake_hidapi_fault: { parameters: ["buffer", "i32"], result: "i32" },
    fake_hidapi_stat: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_reset: { parameters: [], result: "void" },
    fake_hidapi_reset_frames: { parameters: [], result: "void" },
    fake_hidapi_clock_ns: { parameters: [], result: "i64" },
    fake_hidapi_last_read_ns: { parameters: [], result: "i64" },
  });
  const s = lib.symbols;
  const stat = (name: string) => {
    const v = s.fake_hidapi_stat(cString(name)) as number;
    assert.notEqual(v, -1, `unknown stat ${name}`);
    return v;
  };
  return {
    setup(port: number): void {
      s.fake_hidapi_reset();
      assert.equal(s.fake_hidapi_configure(cString(DEVICE)), 1);
      s.fake_hidapi_set_udp_port(port);
    },
    pace(us: number): void {
      assert.equal(s.fake_hidapi_fault(cString("pace_us"), us), 0);
    },
    resetFrames: () => s.fake_hidapi_reset_frames(),
    stat,
    clockNs: () => Number(s.fake_hidapi_clock_ns()),
    lastReadNs: () => Number(s.fake_hidapi_last_read_ns()),
    /** What the pipe carried since resetFrames, in the shape of a WireCount. */
    used(roundTrips: number): WireCount & { readonly dropped: number } {
      return {
        roundTrips,
        reportsOut: stat("paced_out"),
        reportsIn: stat("paced_in"),
        frames: stat("paced_frames"),
        dropped: stat("paced_dropped"),
      };
    },
  };
}

/**
 * A VirtualAuthenticator on UDP (keepalives off: a slow turn on this shared machine must not
 * add an IN report) behind the fake at 1 ms frames, opened the way a user opens a key.
 */
async function pacedKey(pin?: string, maxMsgSize?: number) {
  const ctl = await control();
  const va = new VirtualAuthenticator({
    ...(pin ? { pin } : {}),
    ...(maxMsgSize ? { maxMsgSize } : {}),
  });
  const udp = await serveUdp(va.authenticator, { port: 0, keepaliveInterval: 60_000 });
  ctl.setup(udp.port);
  const api = await loadHidApi({ path: FAKE });
  const device = await openDevice(PATH, api);
  const ctap = await Ctap2.create(device);
  ctl.pace(1000);
  return {
    ctl,
    ctap,
    async close() {
      ctl.pace(0);
      await device.close();
      await udp.close();
    },
  };
}

/** Runs `op` and asserts the pipe carried exactly the spec's minimum for `trips`. */
async function assertMinimal(
  ctl: Awaited<ReturnType<typeof control>>,
  trips: readonly RoundTrip[],
  op: () => Promise<unknown>,
): Promise<void> {
  ctl.resetFrames();
  await op();
  const expected = wireCount(trips);
  assert.deepEqual(ctl.used(trips.length), { ...expected, dropped: 0 });
}

describe("the fake libhidapi's USB full-speed pipe (forwarding, pace_us 1000)", () => {
  it("moves one OUT report per frame, then a burst of IN reports one per frame", async () => {
    const ctl = await control();
    // After the third request, the peer answers with a burst of 15 reports at once.
    const peer = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => peer.bind(0, "127.0.0.1", () => resolve()));
    let requests = 0;
    peer.on("message", (_msg, from) => {
      if (++requests < 3) return;
      for (let i = 0; i < 15; i++) {
        peer.send(new Uint8Array(64).fill(i), from.port, from.address);
      }
    });
    ctl.setup((peer.address() as { port: number }).port);
    const api = await loadHidApi({ path: FAKE });
    const conn = await api.open(PATH);
    try {
      ctl.pace(1000);
      ctl.resetFrames();
      const t0 = ctl.clockNs();
      for (let i = 0; i < 3; i++) await conn.writePacket(new Uint8Array(64).fill(0x80 + i));
      const written = ctl.clockNs();
      // Each write ends on a frame boundary after t0, a different one each: 3 boundaries.
      assert.ok(written - t0 >= 2_000_000, `3 OUT reports in ${(written - t0) / 1e6} ms`);
      for (let i = 0; i < 15; i++) {
        assert.deepEqual(
          await conn.readPacket(AbortSignal.timeout(5000)),
          new Uint8Array(64).fill(i),
        );
      }
      // The burst left the peer after the third OUT frame: 15 IN frames follow it.
      const last = ctl.lastReadNs();
      assert.ok(last - t0 >= 17_000_000, `3 OUT + 15 IN reports in ${(last - t0) / 1e6} ms`);
      assert.equal(ctl.stat("paced_out"), 3);
      assert.equal(ctl.stat("paced_in"), 15);
      assert.equal(ctl.stat("paced_frames"), 18);
      assert.ok(ctl.stat("paced_span") >= 18, `span ${ctl.stat("paced_span")}`);
      assert.equal(ctl.stat("paced_dropped"), 0);
      // Latency counters: two writes followed a write, none a read; one answer to time.
      assert.equal(ctl.stat("paced_out_out_gaps"), 2);
      assert.equal(ctl.stat("paced_in_out_gaps"), 0);
      assert.equal(ctl.stat("paced_reply_gaps"), 1);
    } finally {
      ctl.pace(0);
      await conn.close();
      await new Promise<void>((resolve) => peer.close(() => resolve()));
    }
  });
});

describe("large-blob wire time at USB full-speed pacing", () => {
  it("writes and reads a 4 KB array in the fewest frames the spec allows", async () => {
    const key = await pacedKey();
    try {
      const { ctap, ctl } = key;
      assert.equal(ctap.info.maxMsgSize, 1200);
      const blobs = new LargeBlobs(ctap);
      const array = arrayOfSize(4096);
      const write = writeRoundTrips(4096, 1200);
      // 1136-byte fragments: 3 full ones and the rest, 20 reports out and one in each.
      assert.deepEqual(wireCount(write), {
        roundTrips: 4,
        reportsOut: 3 * 20 + 12,
        reportsIn: 4,
        frames: 76,
      });
      await assertMinimal(ctl, write, () => blobs.writeBlobArray(array));
      const read = readRoundTrips(4096, 1200);
      assert.deepEqual(wireCount(read), {
        roundTrips: 4,
        reportsOut: 4,
        reportsIn: 3 * 20 + 12,
        frames: 76,
      });
      let back: CborValue[] = [];
      await assertMinimal(ctl, read, async () => back = await blobs.readBlobArray());
      assert.deepEqual(back, array);
    } finally {
      await key.close();
    }
  });

  for (const maxMsgSize of [1024, 2048]) {
    it(`follows a maxMsgSize of ${maxMsgSize}: fragments of ${maxMsgSize - 64} bytes`, async () => {
      const key = await pacedKey(undefined, maxMsgSize);
      try {
        const { ctap, ctl } = key;
        assert.equal(ctap.info.maxMsgSize, maxMsgSize);
        const blobs = new LargeBlobs(ctap);
        const array = arrayOfSize(4096);
        const write = writeRoundTrips(4096, maxMsgSize);
        assert.equal(write.length, Math.ceil(4096 / (maxMsgSize - 64)));
        await assertMinimal(ctl, write, () => blobs.writeBlobArray(array));
        let back: CborValue[] = [];
        const read = readRoundTrips(4096, maxMsgSize);
        await assertMinimal(ctl, read, async () => back = await blobs.readBlobArray());
        assert.deepEqual(back, array);
      } finally {
        await key.close();
      }
    });
  }

  it("reads an array of whole fragments with one empty fragment at the end, no more", async () => {
    const key = await pacedKey();
    try {
      const { ctap, ctl } = key;
      const blobs = new LargeBlobs(ctap);
      const array = arrayOfSize(3 * 1136);
      await blobs.writeBlobArray(array);
      const read = readRoundTrips(3 * 1136, 1200);
      assert.equal(read.length, 4);
      let back: CborValue[] = [];
      await assertMinimal(ctl, read, async () => back = await blobs.readBlobArray());
      assert.deepEqual(back, array);
    } finally {
      await key.close();
    }
  });

  it("with a PIN: a write with an lbw token adds only the pinUvAuthParam to each fragment", async () => {
    const key = await pacedKey("1234");
    try {
      const { ctap, ctl } = key;
      const pin = new ClientPin(ctap);
      assert.equal(pin.protocol.version, 2);
      const token = await pin.getPinToken("1234", ClientPin.PERMISSION.LARGE_BLOB_WRITE);
      const blobs = new LargeBlobs(ctap, pin.protocol, token);
      const array = arrayOfSize(4096);
      await assertMinimal(ctl, writeRoundTrips(4096, 1200, 32), () => blobs.writeBlobArray(array));
      assert.deepEqual(await new LargeBlobs(ctap).readBlobArray(), array);
    } finally {
      await key.close();
    }
  });
});
