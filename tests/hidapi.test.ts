// ffi/hidapi.ts through a real dlopen: a fake libhidapi compiled from tests/fixtures/
// fake_hidapi.c (hidapi 0.14 ABI, plus 0.12 and pre-0.10 shapes), a UDP "authenticator" on
// node:dgram as the device's far end, and the system libhidapi when installed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import process from "node:process";
import { type HidApi, type HidApiConnection, loadHidApi } from "../ffi/hidapi.ts";
import { cString, LibraryLoadError, openLibrary } from "../ffi/runtime.ts";
import { AbortError, TransportError } from "../src/errors.ts";
import { toHex } from "../src/utils.ts";
import { buildFixture } from "./helpers/build_fixture.ts";

const FAKE_014 = buildFixture("fake_hidapi");
const FAKE_012 = buildFixture("fake_hidapi", {
  defines: { FAKE_VERSION_MINOR: 12, FAKE_NO_REPORT_DESCRIPTOR: true },
});
const FAKE_09 = buildFixture("fake_hidapi", {
  defines: { FAKE_VERSION_MINOR: 9, FAKE_NO_VERSION: true, FAKE_NO_REPORT_DESCRIPTOR: true },
});

const FIDO_DESCRIPTOR = "06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0";

/** The fake's control functions, bound through the same library file (same global state). */
async function control(path: string) {
  const lib = await openLibrary([path], {
    fake_hidapi_configure: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_set_udp_port: { parameters: ["i32"], result: "void" },
    fake_hidapi_fault: { parameters: ["buffer", "i32"], result: "i32" },
    fake_hidapi_stat: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_last_write: { parameters: ["buffer", "i32"], result: "i32" },
    fake_hidapi_reset: { parameters: [], result: "void" },
  });
  const s = lib.symbols;
  return {
    /** Resets faults and counters, then installs `devices` (rows of the fixture's format). */
    setup(devices: (string | number)[][], udpPort = 0): void {
      s.fake_hidapi_reset();
      const spec = devices.map((d) => d.join("\t")).join("\n");
      assert.equal(s.fake_hidapi_configure(cString(spec)), devices.length);
      s.fake_hidapi_set_udp_port(udpPort);
    },
    fault(name: string, value: number): void {
      assert.equal(s.fake_hidapi_fault(cString(name), value), 0, `unknown fault ${name}`);
    },
    stat(name: string): number {
      const v = s.fake_hidapi_stat(cString(name)) as number;
      assert.notEqual(v, -1, `unknown stat ${name}`);
      return v;
    },
    lastWrite(): Uint8Array {
      const buf = new Uint8Array(4097);
      const n = s.fake_hidapi_last_write(buf, buf.length) as number;
      assert.ok(n >= 0, "nothing was written");
      return buf.slice(0, n);
    },
  };
}

// path vid pid serial release manufacturer product usage_page usage interface bus [descriptor]
const KEY = [
  "/dev/hidraw3",
  "0x1050",
  "0x0407",
  "SN-ü😀",
  "0x0512",
  "Yubico Ä€",
  "YubiKey 😀 FIDO",
  "0xf1d0",
  "0x01",
  "1",
  "1",
];
const KEY_KBD = ["/dev/hidraw3", "0x1050", "0x0407", "SN-ü😀", "0x0512", "Yubico Ä€", "YubiKey"]
  .concat(["0x0001", "0x06", "1", "1"]);
const BT = ["/dev/hidraw7", "0x20a0", "0x42b1", "(null)", "0x0100", "", "(null)"]
  .concat(["0xf1d0", "0x01", "-1", "2", "0102abff"]);

/** A UDP peer playing the authenticator: records datagrams and answers through `handler`. */
async function startAuthenticator(
  handler?: (msg: Uint8Array, reply: (p: Uint8Array) => void) => void,
) {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
  const received: Uint8Array[] = [];
  let peer: { port: number; address: string } | undefined;
  const send = (p: Uint8Array) => {
    if (!peer) throw new Error("device has not written yet");
    sock.send(p, peer.port, peer.address);
  };
  sock.on("message", (msg, rinfo) => {
    peer = { port: rinfo.port, address: rinfo.address };
    const m = new Uint8Array(msg);
    received.push(m);
    handler?.(m, send);
  });
  return {
    port: sock.address().port,
    received,
    send,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** A CTAPHID INIT request on the broadcast channel. */
function initPacket(nonce: number[]): Uint8Array {
  const p = new Uint8Array(64);
  p.set([0xff, 0xff, 0xff, 0xff, 0x86, 0, 8, ...nonce]);
  return p;
}

function packet(fill: number): Uint8Array {
  return new Uint8Array(64).map((_, i) => (i * 7 + fill) & 0xff);
}

async function withConnection(
  api: HidApi,
  path: string,
  fn: (c: HidApiConnection) => Promise<void>,
): Promise<void> {
  const c = await api.open(path);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

describe("hidapi binding: loading and enumeration", () => {
  it("enumerates every field, including non-ASCII wide strings and NULLs", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY, KEY_KBD, BT]);
    const api = await loadHidApi({ path: FAKE_014 });
    assert.deepEqual(api.version, { major: 0, minor: 14, patch: 0 });
    const list = await api.enumerate();
    assert.deepEqual(list, [
      {
        path: "/dev/hidraw3",
        vendorId: 0x1050,
        productId: 0x0407,
        serialNumber: "SN-ü😀",
        releaseNumber: 0x0512,
        manufacturerString: "Yubico Ä€",
        productString: "YubiKey 😀 FIDO",
        usagePage: 0xf1d0,
        usage: 1,
        interfaceNumber: 1,
        busType: 1,
      },
      {
        path: "/dev/hidraw3",
        vendorId: 0x1050,
        productId: 0x0407,
        serialNumber: "SN-ü😀",
        releaseNumber: 0x0512,
        manufacturerString: "Yubico Ä€",
        productString: "YubiKey",
        usagePage: 1,
        usage: 6,
        interfaceNumber: 1,
        busType: 1,
      },
      {
        path: "/dev/hidraw7",
        vendorId: 0x20a0,
        productId: 0x42b1,
        serialNumber: undefined,
        releaseNumber: 0x0100,
        manufacturerString: "",
        productString: undefined,
        usagePage: 0xf1d0,
        usage: 1,
        interfaceNumber: -1,
        busType: 2,
      },
    ]);
    assert.equal(ctl.stat("enumerate"), 1);
    assert.equal(ctl.stat("free_enumeration"), 1, "the list must be freed");
  });

  it("returns an empty list when hid_enumerate gives NULL", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([]);
    const api = await loadHidApi({ path: FAKE_014 });
    assert.deepEqual(await api.enumerate(), []);
    assert.equal(ctl.stat("enumerate"), 1);
  });

  it("calls hid_init once per library however often it is loaded", async () => {
    const path = buildFixture("fake_hidapi", { defines: { FAKE_VERSION_PATCH: 7 } });
    const ctl = await control(path);
    const a = await loadHidApi({ path });
    const b = await loadHidApi({ path, readSliceMs: 20 });
    assert.notEqual(a, b);
    assert.deepEqual(a.version, { major: 0, minor: 14, patch: 7 });
    assert.equal(ctl.stat("init"), 1);
  });

  it("takes the library from FIDO2_HIDAPI_LIB", async () => {
    const before = process.env.FIDO2_HIDAPI_LIB;
    process.env.FIDO2_HIDAPI_LIB = FAKE_012;
    try {
      const api = await loadHidApi();
      assert.equal(api.libraryPath, FAKE_012);
    } finally {
      if (before === undefined) delete process.env.FIDO2_HIDAPI_LIB;
      else process.env.FIDO2_HIDAPI_LIB = before;
    }
  });

  it("fails with LibraryLoadError and an install hint for a missing library", async () => {
    await assert.rejects(loadHidApi({ path: "/nonexistent/libhidapi-nope.so" }), (e) => {
      assert.ok(e instanceof LibraryLoadError);
      assert.match(e.message, /FIDO2_HIDAPI_LIB/);
      assert.match(e.message, /libhidapi-nope/);
      return true;
    });
  });

  it("reads report descriptors when hid_get_report_descriptor exists (0.14)", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY, BT]);
    const api = await loadHidApi({ path: FAKE_014 });
    assert.equal(api.hasSymbol("hid_get_report_descriptor"), true);
    assert.equal(api.hasSymbol("hid_read_error"), false, "0.14 has no hid_read_error");
    assert.ok(api.getReportDescriptor);
    const d = await api.getReportDescriptor("/dev/hidraw3");
    assert.equal(toHex(d!), FIDO_DESCRIPTOR);
    assert.deepEqual(
      await api.getReportDescriptor("/dev/hidraw7"),
      Uint8Array.of(1, 2, 0xab, 0xff),
    );
    assert.equal(ctl.stat("open_handles"), 0, "the temporary handle is closed");
    await assert.rejects(api.getReportDescriptor("/dev/nope"), TransportError);
    await withConnection(api, "/dev/hidraw3", async (c) => {
      const again = await c.getReportDescriptor();
      assert.equal(toHex(again!), FIDO_DESCRIPTOR);
    });
  });

  it("handles a 0.12 library: no bus_type, no hid_get_report_descriptor", async () => {
    const ctl = await control(FAKE_012);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_012 });
    assert.deepEqual(api.version, { major: 0, minor: 12, patch: 0 });
    assert.equal(api.hasSymbol("hid_get_report_descriptor"), false);
    assert.equal(api.getReportDescriptor, undefined);
    assert.equal("getReportDescriptor" in api, false);
    const [info] = await api.enumerate();
    assert.equal(info.busType, undefined);
    assert.equal("busType" in info, false);
    assert.equal(info.productString, "YubiKey 😀 FIDO");
    assert.equal(info.interfaceNumber, 1);
    await withConnection(api, "/dev/hidraw3", async (c) => {
      assert.equal(await c.getReportDescriptor(), undefined);
    });
  });

  it("handles a library without any version API (before 0.10)", async () => {
    const ctl = await control(FAKE_09);
    ctl.setup([BT]);
    const api = await loadHidApi({ path: FAKE_09 });
    assert.equal(api.version, undefined);
    assert.equal(api.hasSymbol("hid_version"), false);
    const [info] = await api.enumerate();
    assert.equal(info.busType, undefined);
    assert.equal(info.vendorId, 0x20a0);
  });
});

describe("hidapi binding: report I/O", () => {
  it("round-trips reports over the UDP device double, report ID 0 prefixed", async () => {
    const auth = await startAuthenticator((msg, reply) => {
      if (msg[4] === 0x86) {
        const r = new Uint8Array(64);
        r.set([0xff, 0xff, 0xff, 0xff, 0x86, 0, 17, ...msg.subarray(7, 15), 1, 2, 3, 4, 2]);
        reply(r);
      } else {
        reply(msg.map((b) => b ^ 0x5a));
      }
    });
    try {
      const ctl = await control(FAKE_014);
      ctl.setup([KEY], auth.port);
      const api = await loadHidApi({ path: FAKE_014 });
      await withConnection(api, "/dev/hidraw3", async (c) => {
        const init = initPacket([9, 8, 7, 6, 5, 4, 3, 2]);
        await c.writePacket(init);
        const written = ctl.lastWrite();
        assert.equal(written.length, 65);
        assert.equal(written[0], 0, "report ID 0");
        assert.deepEqual(written.subarray(1), init);
        const resp = await c.readPacket();
        assert.deepEqual(auth.received[0], init, "the report ID is not sent on the wire");
        assert.equal(resp.length, 64);
        assert.deepEqual([...resp.subarray(0, 20)], [
          ...[0xff, 0xff, 0xff, 0xff, 0x86, 0, 17, 9, 8, 7, 6, 5, 4, 3, 2, 1, 2, 3, 4, 2],
        ]);
        for (let i = 0; i < 20; i++) {
          const p = packet(i);
          await c.writePacket(p);
          assert.deepEqual(await c.readPacket(), p.map((b) => b ^ 0x5a));
        }
      });
      assert.equal(ctl.stat("bad_handle"), 0);
    } finally {
      await auth.close();
    }
  });

  it("answers CTAPHID INIT through the fake's built-in loopback", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY], 0);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      await c.writePacket(initPacket([1, 2, 3, 4, 5, 6, 7, 8]));
      const r = await c.readPacket();
      assert.deepEqual([...r.subarray(4, 15)], [0x86, 0, 17, 1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });

  it("rejects packets of the wrong size before touching the device", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      await assert.rejects(c.writePacket(new Uint8Array(63)), TransportError);
      await assert.rejects(c.writePacket(new Uint8Array(65)), TransportError);
      assert.equal(ctl.stat("writes"), 0);
    });
  });

  it("aborts a pending read promptly and keeps later reports", async () => {
    const auth = await startAuthenticator();
    try {
      const ctl = await control(FAKE_014);
      ctl.setup([KEY], auth.port);
      const api = await loadHidApi({ path: FAKE_014 });
      await withConnection(api, "/dev/hidraw3", async (c) => {
        await c.writePacket(packet(1)); // lets the peer learn the device's address
        const ac = new AbortController();
        const t0 = performance.now();
        const pending = c.readPacket(ac.signal);
        setTimeout(() => ac.abort(new Error("user gave up")), 30);
        await assert.rejects(pending, (e) => {
          assert.ok(e instanceof AbortError);
          assert.equal((e.cause as Error).message, "user gave up");
          return true;
        });
        const waited = performance.now() - t0;
        assert.ok(waited < 500, `abort took ${waited.toFixed(0)} ms`);
        // An already aborted signal rejects without reading.
        await assert.rejects(c.readPacket(AbortSignal.abort()), AbortError);
        // The connection still works, and no report is lost to the aborted read.
        auth.send(packet(2));
        auth.send(packet(3));
        assert.deepEqual(await c.readPacket(), packet(2));
        assert.deepEqual(await c.readPacket(AbortSignal.timeout(5000)), packet(3));
      });
    } finally {
      await auth.close();
    }
  });

  it("serves concurrent readers in order", async () => {
    const auth = await startAuthenticator((msg, reply) => {
      reply(msg);
      reply(msg.map((b) => b + 1));
    });
    try {
      const ctl = await control(FAKE_014);
      ctl.setup([KEY], auth.port);
      const api = await loadHidApi({ path: FAKE_014 });
      await withConnection(api, "/dev/hidraw3", async (c) => {
        const a = c.readPacket();
        const b = c.readPacket();
        await c.writePacket(packet(10));
        assert.deepEqual(await a, packet(10));
        assert.deepEqual(await b, packet(10).map((x) => x + 1));
      });
    } finally {
      await auth.close();
    }
  });

  it("turns a read error into TransportError with hidapi's message", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("read_error", 1);
      await assert.rejects(c.readPacket(), (e) => {
        assert.ok(e instanceof TransportError);
        assert.match(e.message, /hid_read_timeout failed: fake: read error \(injected\)/);
        assert.match(e.message, /– gerät getrennt/, "wide error text decoded");
        return true;
      });
      // The fault was one-shot: the device answers again.
      await c.writePacket(packet(4));
      assert.deepEqual(await c.readPacket(), packet(4));
    });
  });

  it("prefers hid_read_error for read failures when the library has it (0.15)", async () => {
    const path = buildFixture("fake_hidapi", { defines: { FAKE_VERSION_MINOR: 15 } });
    const ctl = await control(path);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path });
    assert.equal(api.hasSymbol("hid_read_error"), true);
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("read_error", 1);
      await assert.rejects(
        c.readPacket(),
        (e) => e instanceof TransportError && /read error \(injected\) – gerät/.test(e.message),
      );
    });
  });

  it("rejects a short input report", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("short_read", 10);
      await c.writePacket(packet(5));
      await assert.rejects(c.readPacket(), /HID input report has 10 bytes, expected 64/);
    });
  });

  it("turns a write error into TransportError with hidapi's message", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("write_error", 1);
      await assert.rejects(
        c.writePacket(packet(6)),
        (e) => e instanceof TransportError && /write error \(injected\)/.test(e.message),
      );
    });
  });

  it("reports open failures with hidapi's reason", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    ctl.fault("open_fail", 1);
    await assert.rejects(api.open("/dev/hidraw3"), (e) => {
      assert.ok(e instanceof TransportError);
      assert.match(e.message, /\/dev\/hidraw3: fake: open failed \(injected\): Permission denied/);
      return true;
    });
    ctl.fault("open_fail", 0);
    await assert.rejects(api.open("/dev/hidraw9"), /no such device/);
    await assert.rejects(api.open("/dev/hidraw3", 0), RangeError);
    assert.equal(ctl.stat("open_handles"), 0);
  });

  it("closes once, rejects pending and later calls", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    const c = await api.open("/dev/hidraw3");
    assert.equal(ctl.stat("open_handles"), 1);
    const pending = c.readPacket();
    await new Promise((r) => setTimeout(r, 20)); // let a native read be in flight
    const closing = c.close();
    await assert.rejects(pending, (e) => e instanceof TransportError && /closed/.test(e.message));
    await Promise.all([closing, c.close()]);
    await c.close();
    assert.equal(c.closed, true);
    assert.equal(ctl.stat("close"), 1);
    assert.equal(ctl.stat("double_close"), 0);
    assert.equal(ctl.stat("bad_handle"), 0, "no native call after hid_close");
    assert.equal(ctl.stat("open_handles"), 0);
    await assert.rejects(c.readPacket(), TransportError);
    await assert.rejects(c.writePacket(packet(7)), TransportError);
    await assert.rejects(c.getReportDescriptor(), TransportError);
    assert.equal(ctl.stat("bad_handle"), 0);
  });

  it("never runs two native calls on one device at once", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("write_delay_ms", 15);
      const reads = [c.readPacket(), c.readPacket(), c.readPacket()];
      await new Promise((r) => setTimeout(r, 10));
      await Promise.all([c.writePacket(packet(1)), c.writePacket(packet(2))]);
      await c.writePacket(packet(3));
      assert.deepEqual(await Promise.all(reads), [packet(1), packet(2), packet(3)]);
      assert.equal(ctl.stat("max_concurrency"), 1);
    });
  });

  it("keeps the event loop responsive while a read waits", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      const pending = c.readPacket(AbortSignal.timeout(300));
      let last = performance.now();
      let worst = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 5);
      await assert.rejects(pending, AbortError);
      clearInterval(timer);
      // A read blocking the loop would hold the timer for most of the 300 ms wait; the margin
      // absorbs GC pauses on a loaded CI machine.
      assert.ok(worst < 90, `a 5 ms timer was held up for ${worst.toFixed(0)} ms`);
    });
  });

  it("waits for a report in the kernel, one native read per slice, without polling", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014, readSliceMs: 100 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      const before = ctl.stat("reads");
      await assert.rejects(c.readPacket(AbortSignal.timeout(500)), AbortError);
      // One zero-timeout try, then blocking slices (100, 200, 400 ms: empty ones double) until
      // the abort. Polling every few ms would make well over 50 calls.
      const reads = ctl.stat("reads") - before;
      assert.ok(reads >= 2 && reads <= 8, `${reads} native reads in 500 ms`);
    });
  });

  it("hands over a report that arrives on the next USB frame", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("pace_us", 1000);
      for (let i = 0; i < 5; i++) {
        await c.writePacket(packet(i));
        assert.deepEqual(await c.readPacket(), packet(i));
      }
      assert.equal(ctl.stat("max_concurrency"), 1);
    });
  });

  it("still wakes on a late report after the connection sat idle (Bun restarts its reader)", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("pace_us", 20000);
      await c.writePacket(packet(1));
      assert.deepEqual(await c.readPacket(), packet(1));
      // Longer than the 2 s after which Bun stops an idle reader Worker.
      await new Promise((r) => setTimeout(r, 2300));
      await c.writePacket(packet(2));
      assert.deepEqual(await c.readPacket(), packet(2));
    });
  });

  it("measures write+read round trips through the fake", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      const n = 200;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        await c.writePacket(packet(i));
        await c.readPacket();
      }
      const ms = (performance.now() - t0) / n;
      console.log(`hidapi fake loopback round trip: ${(ms * 1000).toFixed(0)} µs`);
      assert.ok(ms < 50, `round trip ${ms} ms`);
    });
  });
});

describe("hidapi binding: write policy", () => {
  it("writes on the JS thread while the device takes reports at once", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    // A generous limit: a preempted write on a loaded machine must not switch this connection.
    const api = await loadHidApi({ path: FAKE_014, syncWriteLimitMs: 500 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      for (let i = 0; i < 5; i++) {
        const before = ctl.stat("writes");
        const written = c.writePacket(packet(i));
        // An off-thread write would only be issued after a microtask (under the device lock).
        assert.equal(ctl.stat("writes"), before + 1, `write ${i} reached the device at once`);
        await written;
        assert.deepEqual(await c.readPacket(), packet(i));
      }
      assert.equal(c.offThreadWrites, false);
    });
  });

  it("moves writes off the JS thread after one slow write, and back after 16 fast ones", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014 }); // the default limit, 2 ms
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("write_delay_ms", 200);
      // The first slow write blocks the event loop: it is done before writePacket returns.
      const t0 = performance.now();
      const first = c.writePacket(packet(1));
      assert.ok(performance.now() - t0 >= 190, "the first write ran on the JS thread");
      await first;
      assert.equal(c.offThreadWrites, true);
      for (const i of [2, 3]) {
        // A timer due during the write fires while it is still in progress.
        let done = false;
        const timer = new Promise<boolean>((r) => setTimeout(() => r(done), 5));
        const written = c.writePacket(packet(i)).then(() => done = true);
        assert.equal(await timer, false, `write ${i} did not block the event loop`);
        await written;
      }
      for (const i of [1, 2, 3]) assert.deepEqual(await c.readPacket(), packet(i));
      ctl.fault("write_delay_ms", 0);
      // Fast again: off the JS thread for 16 writes in a row (each under 0.5 ms; a slower one,
      // on a loaded machine, starts the count again), then back on it.
      let offThread = 0;
      while (c.offThreadWrites && offThread < 500) {
        const before = ctl.stat("writes");
        const written = c.writePacket(packet(offThread));
        assert.equal(ctl.stat("writes"), before, "not written on the JS thread");
        await written;
        assert.deepEqual(await c.readPacket(), packet(offThread));
        offThread++;
      }
      assert.ok(offThread >= 16 && offThread < 500, `${offThread} writes off the JS thread`);
      const before = ctl.stat("writes");
      const written = c.writePacket(packet(9));
      assert.equal(ctl.stat("writes"), before + 1, "written on the JS thread again");
      await written;
      assert.equal(ctl.stat("max_concurrency"), 1);
    });
  });

  it("writes at once right after a blocking read hands its report over", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014, syncWriteLimitMs: 500 });
    await withConnection(api, "/dev/hidraw3", async (c) => {
      ctl.fault("pace_us", 20000); // each reply arrives on the next 20 ms frame: reads block
      await c.writePacket(packet(0));
      for (let i = 1; i <= 3; i++) {
        assert.deepEqual(await c.readPacket(), packet(i - 1));
        // The read's lock is released a few promise hops later, but the device is free: the
        // next request goes out now, not after a thread hop.
        const before = ctl.stat("writes");
        const written = c.writePacket(packet(i));
        assert.equal(ctl.stat("writes"), before + 1, `write ${i} reached the device at once`);
        await written;
      }
      assert.deepEqual(await c.readPacket(), packet(3));
      assert.equal(ctl.stat("max_concurrency"), 1);
    });
  });

  it("writes off the JS thread from the start with syncWriteLimitMs: 0", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    const api = await loadHidApi({ path: FAKE_014, syncWriteLimitMs: 0 });
    const c = await api.open("/dev/hidraw3");
    assert.equal(c.offThreadWrites, true);
    await c.writePacket(packet(1));
    assert.deepEqual(await c.readPacket(), packet(1));
    ctl.fault("write_error", 1);
    await assert.rejects(
      c.writePacket(packet(2)),
      (e) => e instanceof TransportError && /write error \(injected\)/.test(e.message),
    );
    // close() waits for a write in progress: hid_close never overlaps it.
    ctl.fault("write_delay_ms", 100);
    const written = c.writePacket(packet(3));
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all([written, c.close()]);
    assert.equal(ctl.stat("bad_handle"), 0);
    assert.equal(ctl.stat("max_concurrency"), 1);
    assert.equal(ctl.stat("open_handles"), 0);
  });

  it("rejects a syncWriteLimitMs that is not a number of milliseconds >= 0", async () => {
    for (const bad of [-1, NaN, "2" as unknown as number]) {
      await assert.rejects(
        loadHidApi({ path: FAKE_014, syncWriteLimitMs: bad }),
        (e) => e instanceof RangeError && /syncWriteLimitMs must be a number/.test(e.message),
      );
    }
  });
});

// The system library: .ci/run installs libhidapi-hidraw0. Without it this test fails (and its
// message names the package); it only does not apply off Linux.
const REAL = "libhidapi-hidraw.so.0";
const realSkip: string | false = process.platform !== "linux" && `${REAL} is the Linux library`;

describe("hidapi binding: system library", () => {
  it(`loads ${REAL} and enumerates without crashing`, { skip: realSkip }, async () => {
    const api = await loadHidApi({ path: REAL }).catch((e) => {
      throw new Error(`${REAL} is needed for this test: apt-get install -y libhidapi-hidraw0`, {
        cause: e,
      });
    });
    assert.ok(api.version, "hidraw builds have hid_version");
    const v = api.version!;
    const from014 = v.major > 0 || v.minor >= 14;
    assert.equal(api.hasSymbol("hid_get_report_descriptor"), from014);
    assert.equal(typeof api.getReportDescriptor === "function", from014);
    const list = await api.enumerate();
    assert.ok(Array.isArray(list));
    for (const d of list) {
      assert.equal(typeof d.path, "string");
      assert.ok(d.vendorId >= 0 && d.vendorId <= 0xffff);
      if (v.minor >= 13 || v.major > 0) assert.equal(typeof d.busType, "number");
    }
    await assert.rejects(api.open("/dev/hidraw-does-not-exist"), TransportError);
  });
});
