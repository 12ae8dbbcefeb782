import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CAPABILITY, CTAP_STATUS, CtapError, STATUS } from "../src/ctap.ts";
import { AbortError, FormatError, TransportError } from "../src/errors.ts";
import { createConnectionPair, type HidConnection } from "../src/hid/connection.ts";
import { CtapHidDevice, HidError } from "../src/hid/device.ts";
import { CtapHidServer } from "../src/hid/server.ts";
import { BROADCAST_CID, CTAPHID, fragment, HID_ERR, Reassembler } from "../src/hid/framing.ts";
import { concat, fromHex, toHex } from "../src/utils.ts";
import { CMD, createHub, DESC, setup, TestProcessor, wait } from "./hid_helpers.ts";

const cbor = (cmd: number, ...body: number[]) => new Uint8Array([cmd, ...body]);
const range = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
const isHid = (code: number) => (e: unknown) => e instanceof HidError && e.code === code;
const isCtap = (code: number) => (e: unknown) => e instanceof CtapError && e.code === code;

describe("CtapHidDevice against CtapHidServer", () => {
  it("INIT allocates a channel and reports versions and capabilities", async () => {
    const t = await setup();
    try {
      assert.equal(t.device.channelId, 1);
      assert.equal(t.device.ctaphidVersion, 2);
      assert.deepEqual(t.device.deviceVersion, [5, 4, 3]);
      assert.equal(t.device.capabilities, CAPABILITY.WINK | CAPABILITY.CBOR | CAPABILITY.LOCK);
      assert.equal(t.device.supportsCbor, true);
      assert.equal(t.device.supportsMsg, true);
      assert.equal(t.server.channelCount, 1);
    } finally {
      await t.close();
    }
  });

  it("CBOR echo of 1, 1024 and 7608 bytes (the 7609-byte maximum)", async () => {
    const t = await setup();
    try {
      for (const n of [1, 1024, 7608]) {
        const body = range(n);
        const r = await t.device.call(CTAPHID.CBOR, concat(new Uint8Array([CMD.ECHO]), body));
        assert.deepEqual(r, concat(new Uint8Array([0]), body));
      }
      await assert.rejects(t.device.call(CTAPHID.CBOR, new Uint8Array(7610)), FormatError);
    } finally {
      await t.close();
    }
  });

  it("PING, WINK, LOCK and MSG", async () => {
    const t = await setup();
    try {
      assert.deepEqual(await t.device.ping(range(300)), range(300));
      assert.deepEqual(await t.device.ping(), new Uint8Array(0));
      await t.device.wink();
      assert.equal(t.processor.winks, 1);
      await t.device.lock(1);
      await t.device.lock(0);
      await assert.rejects(t.device.lock(11), RangeError);
      const apdu = fromHex("00010300");
      assert.equal(toHex(await t.device.call(CTAPHID.MSG, apdu)), "000103009000");
    } finally {
      await t.close();
    }
  });

  it("CTAPHID_ERROR becomes CtapError; CBOR status bytes pass through", async () => {
    const t = await setup({ processor: new TestProcessor(CAPABILITY.CBOR | CAPABILITY.NMSG) });
    try {
      await assert.rejects(t.device.wink(), isCtap(HID_ERR.INVALID_CMD));
      await assert.rejects(t.device.lock(2), isCtap(HID_ERR.INVALID_CMD));
      await assert.rejects(t.device.call(CTAPHID.MSG, new Uint8Array(4)), isCtap(1));
      await assert.rejects(t.device.call(0x7e), isCtap(HID_ERR.INVALID_CMD));
      await assert.rejects(t.device.call(CTAPHID.CBOR), isCtap(HID_ERR.INVALID_LEN));
      assert.deepEqual(await t.device.call(CTAPHID.CBOR, cbor(CMD.FAIL)), new Uint8Array([0x31]));
      assert.deepEqual(await t.device.call(CTAPHID.CBOR, cbor(CMD.CRASH)), new Uint8Array([0x7f]));
      assert.equal(t.device.supportsMsg, false);
    } finally {
      await t.close();
    }
  });

  it("a throwing processor hook yields ERR_OTHER and the server keeps serving", async () => {
    const processor = new TestProcessor();
    processor.wink = () => {
      throw new Error("LED broken");
    };
    const t = await setup({ processor });
    try {
      await assert.rejects(t.device.wink(), isCtap(HID_ERR.OTHER));
      assert.deepEqual(await t.device.ping(range(3)), range(3));
    } finally {
      await t.close();
    }
  });

  it("keepalives: one callback per status change", async () => {
    const t = await setup({ server: { keepaliveInterval: 20 } });
    try {
      const seen: number[] = [];
      const r = await t.device.call(CTAPHID.CBOR, cbor(CMD.PHASES, 10), {
        onKeepalive: (s) => seen.push(s),
      });
      assert.deepEqual(r, new Uint8Array([0]));
      assert.deepEqual(seen, [STATUS.PROCESSING, STATUS.UPNEEDED]);
      const up: number[] = [];
      await t.device.call(CTAPHID.CBOR, cbor(CMD.UP, 10), { onKeepalive: (s) => up.push(s) });
      assert.deepEqual(up, [STATUS.UPNEEDED]);
    } finally {
      await t.close();
    }
  });

  it("keepalives keep a long request alive past the read timeout", async () => {
    const t = await setup({ server: { keepaliveInterval: 30 }, device: { readTimeout: 120 } });
    try {
      const r = await t.device.call(CTAPHID.CBOR, cbor(CMD.SLOW, 40));
      assert.deepEqual(r, new Uint8Array([0]));
    } finally {
      await t.close();
    }
  });

  it("silence beyond the read timeout is a HidError (MSG_TIMEOUT)", async () => {
    // No keepalives: the authenticator looks dead.
    const t = await setup({ server: { keepaliveInterval: 10_000 }, device: { readTimeout: 100 } });
    try {
      const t0 = Date.now();
      await assert.rejects(
        t.device.call(CTAPHID.CBOR, cbor(CMD.SLOW, 50)),
        (e) => isHid(HID_ERR.MSG_TIMEOUT)(e) && e instanceof TransportError,
      );
      assert.ok(Date.now() - t0 < 1500);
    } finally {
      await t.close();
    }
  });

  it("abort sends CANCEL and rejects with AbortError once the device answers", async () => {
    const t = await setup({ server: { keepaliveInterval: 20 } });
    try {
      const ctl = new AbortController();
      const seen: number[] = [];
      const p = t.device.call(CTAPHID.CBOR, cbor(CMD.UP, 200), {
        signal: ctl.signal,
        onKeepalive: (s) => {
          seen.push(s);
          ctl.abort(new Error("user gave up"));
        },
      });
      await assert.rejects(
        p,
        (e) => e instanceof AbortError && (e.cause as Error)?.message === "user gave up",
      );
      assert.equal(t.processor.cancelled, 1);
      assert.deepEqual(seen, [STATUS.UPNEEDED]);
      // The channel is clean afterwards.
      assert.deepEqual(await t.device.ping(range(80)), range(80));
    } finally {
      await t.close();
    }
  });

  it("abort waits for a device that finishes anyway, within the cancel timeout", async () => {
    const t = await setup({ server: { keepaliveInterval: 20 } });
    try {
      const t0 = Date.now();
      await assert.rejects(
        t.device.call(CTAPHID.CBOR, cbor(CMD.STUBBORN, 15), { signal: AbortSignal.timeout(30) }),
        AbortError,
      );
      assert.ok(Date.now() - t0 >= 140, "waited for the answer");
      assert.deepEqual(await t.device.ping(range(3)), range(3));
    } finally {
      await t.close();
    }
  });

  it("abort gives up on a device that never answers the CANCEL", async () => {
    const t = await setup({ server: { keepaliveInterval: 20 }, device: { cancelTimeout: 100 } });
    try {
      const t0 = Date.now();
      await assert.rejects(
        t.device.call(CTAPHID.CBOR, cbor(CMD.STUBBORN, 60), { signal: AbortSignal.timeout(30) }),
        (e) => e instanceof AbortError && /did not answer/.test(e.message),
      );
      const dt = Date.now() - t0;
      assert.ok(dt >= 120 && dt < 1500, `gave up after ${dt} ms`);
      // The next call resynchronizes (INIT on our channel) and skips the late answer.
      assert.deepEqual(await t.device.ping(range(5)), range(5));
    } finally {
      await t.close();
    }
  });

  it("an already aborted signal sends nothing", async () => {
    const t = await setup();
    try {
      const before = t.processor.cborRequests;
      await assert.rejects(
        t.device.call(CTAPHID.CBOR, cbor(CMD.ECHO), { signal: AbortSignal.abort() }),
        AbortError,
      );
      await wait(20);
      assert.equal(t.processor.cborRequests, before);
    } finally {
      await t.close();
    }
  });

  it("concurrent calls are serialized, never interleaved (no CHANNEL_BUSY)", async () => {
    const t = await setup({ server: { keepaliveInterval: 20 }, device: { busyTimeout: 0 } });
    try {
      const order: string[] = [];
      const slow = t.device.call(CTAPHID.CBOR, cbor(CMD.SLOW, 10)).then(() => order.push("slow"));
      const pings = Array.from(
        { length: 5 },
        (_, i) =>
          t.device.ping(range(100 + i)).then((r) => {
            assert.deepEqual(r, range(100 + i));
            order.push(`ping${i}`);
          }),
      );
      const ctl = new AbortController();
      const queued = t.device.call(CTAPHID.PING, range(4), { signal: ctl.signal });
      await wait(5);
      ctl.abort();
      // Rejected while still queued, before the calls ahead of it finish.
      await assert.rejects(queued, AbortError);
      assert.deepEqual(order, []);
      await Promise.all([slow, ...pings]);
      assert.deepEqual(order, ["slow", "ping0", "ping1", "ping2", "ping3", "ping4"]);
    } finally {
      await t.close();
    }
  });

  it("close is idempotent and later calls fail with TransportError", async () => {
    const t = await setup();
    await t.device.close();
    await t.device.close();
    await assert.rejects(t.device.ping(), TransportError);
    await t.server.stop();
  });

  it("a vanished device fails a pending call with TransportError, not a hang", async () => {
    const t = await setup({ server: { keepaliveInterval: 20 } });
    const p = t.device.call(CTAPHID.CBOR, cbor(CMD.SLOW, 50));
    await wait(30);
    await t.server.stop();
    t.server.connection.close();
    await assert.rejects(p, TransportError);
    await t.device.close();
  });
});

describe("fault injection (server side) and client robustness", () => {
  const big = concat(new Uint8Array([CMD.ECHO]), range(150)); // 152-byte response: 3 packets
  const ok = concat(new Uint8Array([0]), range(150));

  const withFaults = async (
    faults: ConstructorParameters<typeof CtapHidServer>[2] extends infer O
      ? O extends { faults?: infer F } ? F : never
      : never,
    fn: (t: Awaited<ReturnType<typeof setup>>) => Promise<void>,
    readTimeout = 150,
  ) => {
    const t = await setup({ device: { readTimeout } });
    t.server.faults = faults;
    try {
      await fn(t);
    } finally {
      await t.close();
    }
  };

  it("dropped init packet: HidError INVALID_SEQ (continuation before init)", () =>
    withFaults({ drop: [0] }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.INVALID_SEQ));
    }));

  it("dropped middle packet: HidError INVALID_SEQ (gap in the sequence)", () =>
    withFaults({ drop: [1] }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.INVALID_SEQ));
    }));

  it("dropped last packet: HidError timeout naming the incomplete response", () =>
    withFaults({ drop: [2] }, async (t) => {
      await assert.rejects(
        t.device.call(CTAPHID.CBOR, big),
        (e) => isHid(HID_ERR.MSG_TIMEOUT)(e) && /incomplete/.test((e as Error).message),
      );
    }));

  it("duplicated continuation packet: HidError INVALID_SEQ", () =>
    withFaults({ duplicate: [1] }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.INVALID_SEQ));
    }));

  it("duplicated single-packet response: call succeeds, the copy is drained", () =>
    withFaults({ duplicate: [0] }, async (t) => {
      assert.deepEqual(await t.device.ping(range(10)), range(10));
      assert.deepEqual(await t.device.ping(range(11)), range(11));
      assert.equal(t.server.sentPackets, 2);
    }));

  it("after a protocol fault the next call resynchronizes the channel", () =>
    withFaults({ duplicate: [1], delayMs: 30 }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.INVALID_SEQ));
      // The response's last packet is still on its way; INIT on our channel skips it.
      assert.deepEqual(await t.device.ping(range(20)), range(20));
      assert.deepEqual(await t.device.call(CTAPHID.CBOR, big), ok);
    }, 300));

  it("reordered continuation packets: HidError INVALID_SEQ", () =>
    withFaults({ reorder: [1] }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.INVALID_SEQ));
    }));

  it("continuation before its init packet: HidError INVALID_SEQ", () =>
    withFaults({ reorder: [0] }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.INVALID_SEQ));
    }));

  it("packets for a foreign channel are ignored", () =>
    withFaults({ foreignBefore: [0, 1, 2] }, async (t) => {
      assert.deepEqual(await t.device.call(CTAPHID.CBOR, big), ok);
    }));

  it("a stray keepalive in the middle of a response is ignored", () =>
    withFaults({ keepaliveBefore: [1, 2] }, async (t) => {
      const seen: number[] = [];
      const r = await t.device.call(CTAPHID.CBOR, big, { onKeepalive: (s) => seen.push(s) });
      assert.deepEqual(r, ok);
      assert.deepEqual(seen, [STATUS.PROCESSING]);
      assert.deepEqual(await t.device.ping(range(2)), range(2));
    }));

  it("slow packets within the read timeout succeed", () =>
    withFaults({ delayMs: 40 }, async (t) => {
      const t0 = Date.now();
      assert.deepEqual(await t.device.call(CTAPHID.CBOR, big), ok);
      assert.ok(Date.now() - t0 >= 110);
    }));

  it("slow packets beyond the read timeout fail with HidError", () =>
    withFaults({ delayMs: 120 }, async (t) => {
      await assert.rejects(t.device.call(CTAPHID.CBOR, big), isHid(HID_ERR.MSG_TIMEOUT));
    }, 80));
});

/** A scripted authenticator: answers each request with the packets `script` returns. */
function scripted(script: (req: { cid: number; cmd: number; payload: Uint8Array }) => string[]) {
  const [client, auth] = createConnectionPair();
  const run = (async () => {
    const r = new Map<number, Reassembler>();
    while (true) {
      let p: Uint8Array;
      try {
        p = await auth.readPacket();
      } catch {
        return;
      }
      const cid = new DataView(p.buffer, p.byteOffset).getUint32(0);
      if (!r.has(cid)) r.set(cid, new Reassembler(cid));
      const f = r.get(cid)!.push(p);
      if (!f) continue;
      for (const hex of script(f)) {
        const bytes = fromHex(hex.padEnd(128, "0"));
        await auth.writePacket(bytes).catch(() => {});
      }
    }
  })();
  return {
    client,
    auth,
    async close() {
      client.close();
      auth.close();
      await run;
    },
  };
}

/** INIT reply (python-fido2 §9.2 vector) with the nonce echoed. */
const initReply = (nonce: Uint8Array, caps = "05") =>
  `ffffffff860011${toHex(nonce)}a1b2c3d402050403${caps}`;

describe("client against scripted authenticators (python-fido2 §9.2 vectors)", () => {
  const open = async (
    answer: (cmd: number, payload: Uint8Array) => string[],
    opts = { readTimeout: 150 },
  ) => {
    const s = scripted((f) =>
      f.cmd === CTAPHID.INIT ? [initReply(f.payload)] : answer(f.cmd, f.payload)
    );
    const device = await CtapHidDevice.open(DESC, s.client, opts);
    return { device, s };
  };

  it("keepalive dedup and a 70-byte two-packet response", async () => {
    const { device, s } = await open(() => [
      "a1b2c3d4bb000101",
      "a1b2c3d4bb000101",
      "a1b2c3d4bb000102",
      "a1b2c3d490004600000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223" +
      "2425262728292a2b2c2d2e2f3031323334353637",
      "a1b2c3d40038393a3b3c3d3e3f4041424344",
    ]);
    try {
      assert.equal(device.channelId, 0xa1b2c3d4);
      assert.deepEqual(device.deviceVersion, [5, 4, 3]);
      assert.equal(device.capabilities, 0x05);
      const seen: number[] = [];
      const r = await device.call(CTAPHID.CBOR, range(150), { onKeepalive: (x) => seen.push(x) });
      assert.deepEqual(seen, [1, 2]);
      assert.equal(r.length, 70);
      assert.deepEqual(r, Uint8Array.from({ length: 70 }, (_, i) => Math.max(0, i - 1)));
    } finally {
      await s.close();
    }
  });

  it("ERROR INVALID_CHANNEL -> CtapError", async () => {
    const { device, s } = await open(() => ["a1b2c3d4bf00010b"]);
    try {
      await assert.rejects(
        device.ping(),
        (e) => isCtap(0x0b)(e) && /INVALID_CHANNEL/.test(String(e)),
      );
    } finally {
      await s.close();
    }
  });

  it("other channels' responses are skipped, not fatal", async () => {
    const { device, s } = await open(() => ["01020304810001ff", "a1b2c3d4810001aa"]);
    try {
      assert.deepEqual(
        await device.call(CTAPHID.PING, new Uint8Array([0xaa])),
        new Uint8Array([0xaa]),
      );
    } finally {
      await s.close();
    }
  });

  it("wrong SEQ, continuation before init, oversize BCNT, wrong command -> HidError", async () => {
    const cases: [string[], number][] = [
      [["a1b2c3d4810046" + "00".repeat(57), "a1b2c3d405"], HID_ERR.INVALID_SEQ],
      [["a1b2c3d400"], HID_ERR.INVALID_SEQ],
      [["a1b2c3d481ffff"], HID_ERR.INVALID_LEN],
      [["a1b2c3d4830002abcd"], HID_ERR.INVALID_CMD],
    ];
    for (const [answer, code] of cases) {
      const { device, s } = await open(() => answer);
      try {
        await assert.rejects(device.ping(new Uint8Array(2)), isHid(code), answer.join());
      } finally {
        await s.close();
      }
    }
  });

  it("truncated response: HidError, not a hang", async () => {
    const { device, s } = await open(() => ["a1b2c3d4810064" + "11".repeat(57)]);
    try {
      await assert.rejects(device.ping(new Uint8Array(100)), isHid(HID_ERR.MSG_TIMEOUT));
    } finally {
      await s.close();
    }
  });

  it("garbage keepalive status is ignored", async () => {
    const { device, s } = await open(
      () => ["a1b2c3d4bb000107", "a1b2c3d4bb0000", "a1b2c3d4810001aa"],
    );
    try {
      const seen: number[] = [];
      const r = await device.call(CTAPHID.PING, new Uint8Array([0xaa]), {
        onKeepalive: (x) => seen.push(x),
      });
      assert.deepEqual(r, new Uint8Array([0xaa]));
      assert.deepEqual(seen, []);
    } finally {
      await s.close();
    }
  });

  it("CHANNEL_BUSY is retried every 100 ms until it clears", async () => {
    let n = 0;
    const { device, s } = await open(() =>
      n++ < 2 ? ["a1b2c3d4bf000106"] : ["a1b2c3d4810002" + "6869"]
    );
    try {
      const t0 = Date.now();
      assert.equal(toHex(await device.ping(fromHex("6869"))), "6869");
      assert.equal(n, 3);
      assert.ok(Date.now() - t0 >= 190);
    } finally {
      await s.close();
    }
    const busy = await open(() => ["a1b2c3d4bf000106"]);
    try {
      await assert.rejects(
        new CtapHidDevice(DESC, busy.s.client, {
          cid: 0xa1b2c3d4,
          ctaphidVersion: 2,
          deviceVersion: [0, 0, 0],
          capabilities: 0,
        }, { busyTimeout: 250 }).ping(),
        isCtap(HID_ERR.CHANNEL_BUSY),
      );
    } finally {
      await busy.s.close();
    }
  });

  it("wink and lock packets match the vectors", async () => {
    const sent: string[] = [];
    const s = scripted((f) => {
      if (f.cmd === CTAPHID.INIT) return [initReply(f.payload)];
      sent.push(toHex(fragment(0xa1b2c3d4, f.cmd, f.payload)[0]));
      return [`a1b2c3d4${(0x80 | f.cmd).toString(16)}0000`];
    });
    try {
      const device = await CtapHidDevice.open(DESC, s.client);
      await device.wink();
      await device.lock(10);
      assert.deepEqual(sent, [
        "a1b2c3d4880000".padEnd(128, "0"),
        "a1b2c3d48400010a".padEnd(128, "0"),
      ]);
    } finally {
      await s.close();
    }
  });
});

describe("CtapHidDevice.open", () => {
  it("skips INIT replies carrying another client's nonce", async () => {
    const s = scripted((f) => [
      initReply(new Uint8Array(8).fill(9)),
      "ffffffff00aabb", // stray continuation on broadcast
      initReply(f.payload),
    ]);
    try {
      const d = await CtapHidDevice.open(DESC, s.client);
      assert.equal(d.channelId, 0xa1b2c3d4);
    } finally {
      await s.close();
    }
  });

  it("short INIT reply, silent device, broadcast ERROR", async () => {
    const short = scripted((f) => [`ffffffff86000a${toHex(f.payload)}0102`]);
    await assert.rejects(CtapHidDevice.open(DESC, short.client), isHid(HID_ERR.INVALID_LEN));
    await short.close();
    const silent = scripted(() => []);
    await assert.rejects(
      CtapHidDevice.open(DESC, silent.client, { readTimeout: 80 }),
      isHid(HID_ERR.MSG_TIMEOUT),
    );
    await silent.close();
    const err = scripted(() => ["ffffffffbf000106"]);
    await assert.rejects(
      CtapHidDevice.open(DESC, err.client, { readTimeout: 80 }),
      isCtap(HID_ERR.CHANNEL_BUSY),
    );
    await err.close();
    const abort = scripted(() => []);
    await assert.rejects(
      CtapHidDevice.open(DESC, abort.client, { signal: AbortSignal.timeout(30) }),
      AbortError,
    );
    await abort.close();
  });
});

/** Raw CTAPHID client for testing the server's error answers. */
class Raw {
  reasm = new Map<number, Reassembler>();
  constructor(readonly conn: HidConnection) {}
  send(cid: number, cmd: number, payload: Uint8Array = new Uint8Array(0)) {
    return Promise.all(fragment(cid, cmd, payload).map((p) => this.conn.writePacket(p)));
  }
  sendHex(hex: string) {
    return this.conn.writePacket(fromHex(hex.padEnd(128, "0")));
  }
  async recv(timeout = 1000, skipKeepalive = true) {
    while (true) {
      const p = await this.conn.readPacket(AbortSignal.timeout(timeout));
      const cid = new DataView(p.buffer, p.byteOffset).getUint32(0);
      if (skipKeepalive && p[4] === 0xbb) continue;
      if (!this.reasm.has(cid)) this.reasm.set(cid, new Reassembler(cid));
      const f = this.reasm.get(cid)!.push(p);
      if (f) return f;
    }
  }
  async init(cid = BROADCAST_CID) {
    await this.send(cid, CTAPHID.INIT, fromHex("0001020304050607"));
    const f = await this.recv();
    assert.equal(f.cmd, CTAPHID.INIT);
    return new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(8);
  }
}

describe("CtapHidServer protocol errors", () => {
  const serve = (opts = {}) => {
    const [client, auth] = createConnectionPair();
    const processor = new TestProcessor();
    const server = new CtapHidServer(auth, processor, { keepaliveInterval: 20, ...opts });
    server.start();
    return {
      raw: new Raw(client),
      processor,
      async close() {
        await server.stop();
        client.close();
      },
    };
  };
  const expectError = async (raw: Raw, cid: number, code: number) => {
    const f = await raw.recv();
    assert.equal(f.cid, cid);
    assert.equal(f.cmd, CTAPHID.ERROR);
    assert.deepEqual(f.payload, new Uint8Array([code]));
  };

  it("allocates distinct channels and resyncs on INIT", async () => {
    const { raw, close } = serve();
    try {
      const a = await raw.init();
      const b = await raw.init();
      assert.notEqual(a, b);
      assert.equal(await raw.init(a), a);
    } finally {
      await close();
    }
  });

  it("CHANNEL_BUSY for a second channel while one is processing or receiving", async () => {
    const { raw, close } = serve();
    try {
      const a = await raw.init();
      const b = await raw.init();
      await raw.send(a, CTAPHID.CBOR, cbor(CMD.SLOW, 10));
      await raw.send(b, CTAPHID.PING, range(3));
      await expectError(raw, b, HID_ERR.CHANNEL_BUSY);
      // Same channel again while busy.
      await raw.send(a, CTAPHID.PING, range(3));
      await expectError(raw, a, HID_ERR.CHANNEL_BUSY);
      const done = await raw.recv();
      assert.deepEqual([done.cid, done.cmd, toHex(done.payload)], [a, CTAPHID.CBOR, "00"]);
      // Receiving: a's first packet only, then b.
      await raw.conn.writePacket(fragment(a, CTAPHID.PING, range(100))[0]);
      await raw.send(b, CTAPHID.PING, range(3));
      await expectError(raw, b, HID_ERR.CHANNEL_BUSY);
    } finally {
      await close();
    }
  });

  it("INVALID_SEQ, INVALID_LEN, INVALID_CHANNEL, INVALID_CMD", async () => {
    const { raw, close } = serve();
    try {
      const a = await raw.init();
      const pkts = fragment(a, CTAPHID.PING, range(200));
      await raw.conn.writePacket(pkts[0]);
      await raw.conn.writePacket(pkts[2]);
      await expectError(raw, a, HID_ERR.INVALID_SEQ);
      // Init packet while continuation packets are expected.
      await raw.conn.writePacket(pkts[0]);
      await raw.conn.writePacket(pkts[0]);
      await expectError(raw, a, HID_ERR.INVALID_SEQ);
      // Spurious continuation packets are ignored.
      await raw.conn.writePacket(pkts[1]);
      await raw.send(a, CTAPHID.PING, range(2));
      assert.deepEqual((await raw.recv()).payload, range(2));
      const hexA = a.toString(16).padStart(8, "0");
      await raw.sendHex(`${hexA}81ffff`);
      await expectError(raw, a, HID_ERR.INVALID_LEN);
      await raw.sendHex(`ffffffff860004aabbccdd`);
      await expectError(raw, BROADCAST_CID, HID_ERR.INVALID_LEN);
      await raw.send(0x12345678, CTAPHID.PING);
      await expectError(raw, 0x12345678, HID_ERR.INVALID_CHANNEL);
      await raw.send(BROADCAST_CID, CTAPHID.PING);
      await expectError(raw, BROADCAST_CID, HID_ERR.INVALID_CHANNEL);
      await raw.send(0, CTAPHID.PING);
      await expectError(raw, 0, HID_ERR.INVALID_CHANNEL);
      await raw.send(0x12345678, CTAPHID.INIT, range(8));
      await expectError(raw, 0x12345678, HID_ERR.INVALID_CHANNEL);
      await raw.send(a, 0x55);
      await expectError(raw, a, HID_ERR.INVALID_CMD);
      await raw.send(a, CTAPHID.WINK, range(1));
      await expectError(raw, a, HID_ERR.INVALID_LEN);
      await raw.send(a, CTAPHID.LOCK, new Uint8Array([11]));
      await expectError(raw, a, HID_ERR.INVALID_PAR);
    } finally {
      await close();
    }
  });

  it("MSG_TIMEOUT after a gap between packets", async () => {
    const { raw, close } = serve({ msgTimeout: 60 });
    try {
      const a = await raw.init();
      const t0 = Date.now();
      await raw.conn.writePacket(fragment(a, CTAPHID.PING, range(100))[0]);
      await expectError(raw, a, HID_ERR.MSG_TIMEOUT);
      assert.ok(Date.now() - t0 >= 55);
      await raw.send(a, CTAPHID.PING, range(100));
      assert.deepEqual((await raw.recv()).payload, range(100));
    } finally {
      await close();
    }
  });

  it("keepalives every interval; CANCEL only affects its own channel", async () => {
    const { raw, processor, close } = serve();
    try {
      const a = await raw.init();
      const b = await raw.init();
      await raw.send(a, CTAPHID.CBOR, cbor(CMD.SLOW, 15));
      let keepalives = 0;
      let f;
      while (true) {
        const p = await raw.conn.readPacket(AbortSignal.timeout(1000));
        if (p[4] === 0xbb) {
          assert.equal(toHex(p.subarray(0, 8)), a.toString(16).padStart(8, "0") + "bb000101");
          keepalives++;
          // A CANCEL from another channel must not cancel a's request.
          if (keepalives === 1) await raw.send(b, CTAPHID.CANCEL);
          continue;
        }
        f = new Reassembler(a).push(p);
        break;
      }
      assert.ok(keepalives >= 2 && keepalives <= 9, `${keepalives} keepalives`);
      assert.equal(toHex(f!.payload), "00");
      assert.equal(processor.cancelled, 0);
      // CANCEL while idle is ignored (no reply), the next request works.
      await raw.send(a, CTAPHID.CANCEL);
      await raw.send(a, CTAPHID.CBOR, cbor(CMD.UP, 100));
      await wait(30);
      await raw.send(a, CTAPHID.CANCEL);
      const c = await raw.recv();
      assert.equal(toHex(c.payload), CTAP_STATUS.KEEPALIVE_CANCEL.toString(16));
      assert.equal(processor.cancelled, 1);
    } finally {
      await close();
    }
  });

  it("LOCK holds other channels off until released", async () => {
    const { raw, close } = serve();
    try {
      const a = await raw.init();
      const b = await raw.init();
      await raw.send(a, CTAPHID.LOCK, new Uint8Array([5]));
      assert.equal((await raw.recv()).cmd, CTAPHID.LOCK);
      await raw.send(b, CTAPHID.PING, range(1));
      await expectError(raw, b, HID_ERR.CHANNEL_BUSY);
      await raw.send(a, CTAPHID.LOCK, new Uint8Array([0]));
      await raw.recv();
      await raw.send(b, CTAPHID.PING, range(1));
      assert.deepEqual((await raw.recv()).payload, range(1));
    } finally {
      await close();
    }
  });
});

describe("shared device (hidraw semantics: every client sees every report)", () => {
  it("two clients with their own channels, each ignoring the other's traffic", async () => {
    const { server: conn, clients } = createHub(2);
    const server = new CtapHidServer(conn, new TestProcessor(), { keepaliveInterval: 20 });
    server.start();
    try {
      const d1 = await CtapHidDevice.open(DESC, clients[0]);
      const d2 = await CtapHidDevice.open(DESC, clients[1]);
      assert.notEqual(d1.channelId, d2.channelId);
      // d2 hits CHANNEL_BUSY while d1's slow request runs, and retries until it clears.
      const [r1, r2] = await Promise.all([
        d1.call(CTAPHID.CBOR, cbor(CMD.SLOW, 25)),
        wait(20).then(() => d2.ping(range(64))),
      ]);
      assert.deepEqual(r1, new Uint8Array([0]));
      assert.deepEqual(r2, range(64));
      const noRetry = new CtapHidDevice(DESC, clients[1], {
        cid: d2.channelId,
        ctaphidVersion: 2,
        deviceVersion: [5, 4, 3],
        capabilities: d2.capabilities,
      }, { busyTimeout: 0 });
      const slow = d1.call(CTAPHID.CBOR, cbor(CMD.SLOW, 10));
      await wait(20);
      await assert.rejects(noRetry.ping(range(1)), isCtap(HID_ERR.CHANNEL_BUSY));
      await slow;
      await d1.close();
      await d2.close();
    } finally {
      await server.stop();
      conn.close();
    }
  });
});

describe("garbage never hangs or escapes as an untyped error", () => {
  // Deterministic PRNG so a failure is reproducible.
  let seed = 0x2f6b1d3;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const garbage = (cid: string) => {
    const p = new Uint8Array(64);
    for (let i = 0; i < 64; i++) p[i] = Math.floor(rnd() * 256);
    if (rnd() < 0.7) p.set(fromHex(cid));
    if (rnd() < 0.3) p[4] = 0x81;
    if (rnd() < 0.3) p[5] = 0;
    return toHex(p);
  };

  it("client: random responses give a result or a typed error", async () => {
    for (let i = 0; i < 60; i++) {
      const n = 1 + Math.floor(rnd() * 4);
      const answer = Array.from({ length: n }, () => garbage("a1b2c3d4"));
      const s = scripted((f) => f.cmd === CTAPHID.INIT ? [initReply(f.payload)] : answer);
      try {
        const device = await CtapHidDevice.open(DESC, s.client, { readTimeout: 30 });
        try {
          const r = await device.ping(new Uint8Array([1]));
          assert.deepEqual(r, new Uint8Array([1]));
        } catch (e) {
          assert.ok(e instanceof HidError || e instanceof CtapError, `${e}`);
        }
      } finally {
        await s.close();
      }
    }
  });

  it("more stale reports than the drain limit: the next call resynchronizes", async () => {
    // Regression (fuzz): drain() stops after 256 reports; a device that had queued more after
    // a clean answer made the next call read the leftovers as its response (INVALID_CMD).
    const CID = 0x01020304;
    const [client, auth] = createConnectionPair();
    const stale = Array.from({ length: 300 }, () => fragment(CID, CTAPHID.MSG, range(3))[0]);
    const served = (async () => {
      let first = true;
      while (true) {
        let req: Uint8Array;
        try {
          req = await auth.readPacket();
        } catch {
          return;
        }
        const cmd = req[4] & 0x7f;
        const payload = req.subarray(7, 7 + ((req[5] << 8) | req[6]));
        const answer = first
          ? [fragment(CID, cmd, payload)[0], ...stale]
          : [fragment(CID, cmd, payload)[0]];
        first = false;
        // All at once, as reports already queued in the OS would be.
        await Promise.all(answer.map((p) => auth.writePacket(p)));
      }
    })();
    const info = {
      cid: CID,
      ctaphidVersion: 2,
      deviceVersion: [1, 0, 0] as const,
      capabilities: 5,
    };
    const device = new CtapHidDevice(DESC, client, info, { readTimeout: 50 });
    try {
      assert.deepEqual(await device.ping(range(5)), range(5));
      assert.deepEqual(await device.ping(range(7)), range(7));
      assert.deepEqual(await device.ping(range(9)), range(9));
    } finally {
      client.close();
      auth.close();
      await served;
    }
  });

  it("server: random packets are answered or ignored, and it keeps serving", async () => {
    const [client, auth] = createConnectionPair();
    const server = new CtapHidServer(auth, new TestProcessor(), { msgTimeout: 20 });
    server.start();
    const raw = new Raw(client);
    try {
      const a = await raw.init();
      const hexA = a.toString(16).padStart(8, "0");
      for (let i = 0; i < 300; i++) {
        await raw.conn.writePacket(fromHex(garbage(rnd() < 0.5 ? hexA : "ffffffff")));
      }
      await wait(60);
      const device = await CtapHidDevice.open(DESC, client);
      assert.ok(server.running);
      assert.deepEqual(await device.ping(range(100)), range(100));
    } finally {
      await server.stop();
      client.close();
    }
  });
});
