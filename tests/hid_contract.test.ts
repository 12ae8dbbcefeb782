// One contract for every HidConnection (issue 13 item 5): the in-memory pair, the UDP client
// and hidapi over FFI (through the gcc-built fake libhidapi, its reports relayed over UDP) must
// behave the same, because CtapHidDevice relies on it: drain() reads with an already-aborted
// signal and expects every report that has arrived, then AbortError.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { loadHidApi } from "../ffi/hidapi.ts";
import { cString, openLibrary } from "../ffi/runtime.ts";
import { AbortError, TransportError } from "../src/errors.ts";
import {
  createConnectionPair,
  CTAPHID,
  CtapHidDevice,
  type HidConnection,
  UdpHidConnection,
} from "../src/hid/mod.ts";
import { fragment } from "../src/hid/framing.ts";
import { type DatagramApi, nativeDatagramBackend } from "../src/hid/datagram.ts";
import { buildFixture } from "./helpers/build_fixture.ts";

const FAKE = buildFixture("fake_hidapi");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Loopback datagrams land well within this on a loaded machine. */
const ARRIVAL_MS = 150;

/** One implementation under test and the far end that feeds it. */
interface Rig {
  readonly conn: HidConnection;
  /** Sends reports from the device side; resolves once they have reached `conn`'s host. */
  deliver(...packets: Uint8Array[]): Promise<void>;
  /** The next report the device side received from `conn`. */
  received(): Promise<Uint8Array>;
  dispose(): Promise<void>;
}

/** A UDP socket on 127.0.0.1:0 that queues what it receives. */
async function udpPeer() {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const inbox: Uint8Array[] = [];
  const waiting: ((p: Uint8Array) => void)[] = [];
  let remote: { port: number; address: string } | undefined;
  sock.on("message", (m, r) => {
    remote = { port: r.port, address: r.address };
    const p = new Uint8Array(m);
    const w = waiting.shift();
    if (w) w(p);
    else inbox.push(p);
  });
  return {
    port: sock.address().port,
    async send(packets: Uint8Array[], to?: { port: number; address: string }) {
      const dest = to ?? remote;
      if (!dest) throw new Error("the peer has not heard from the connection yet");
      for (const p of packets) {
        await new Promise<void>((r) => sock.send(p, dest.port, dest.address, () => r()));
      }
      await sleep(ARRIVAL_MS);
    },
    next(): Promise<Uint8Array> {
      const p = inbox.shift();
      return p ? Promise.resolve(p) : new Promise((r) => waiting.push(r));
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

function memoryRig(): Promise<Rig> {
  const [conn, far] = createConnectionPair();
  return Promise.resolve({
    conn,
    async deliver(...packets) {
      for (const p of packets) await far.writePacket(p);
    },
    received: () => far.readPacket(),
    dispose: async () => await conn.close(),
  });
}

async function udpRig(api: DatagramApi): Promise<Rig> {
  const peer = await udpPeer();
  const conn = await UdpHidConnection.open({ port: peer.port, localPort: 0, api });
  return {
    conn,
    deliver: (...packets) => peer.send(packets, { port: conn.localPort, address: "127.0.0.1" }),
    received: () => peer.next(),
    dispose: async () => {
      await conn.close();
      await peer.close().catch(() => {});
    },
  };
}

async function hidapiRig(): Promise<Rig> {
  const ctl = await openLibrary([FAKE], {
    fake_hidapi_configure: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_set_udp_port: { parameters: ["i32"], result: "void" },
    fake_hidapi_reset: { parameters: [], result: "void" },
  });
  const peer = await udpPeer();
  ctl.symbols.fake_hidapi_reset();
  const dev = ["/dev/hidraw0", "0x1050", "0x0407", "SN", "0x100", "Yubico", "Key"]
    .concat(["0xf1d0", "0x01", "0", "1"]);
  assert.equal(ctl.symbols.fake_hidapi_configure(cString(dev.join("\t"))), 1);
  ctl.symbols.fake_hidapi_set_udp_port(peer.port);
  const api = await loadHidApi({ path: FAKE, readSliceMs: 20 });
  const conn = await api.open("/dev/hidraw0");
  // The device's socket is connected to the peer; one report tells the peer where it is.
  await conn.writePacket(new Uint8Array(64).fill(0xee));
  assert.equal((await peer.next())[0], 0xee);
  return {
    conn,
    deliver: (...packets) => peer.send(packets),
    received: () => peer.next(),
    dispose: async () => {
      await conn.close();
      await peer.close();
    },
  };
}

const report = (n: number) => new Uint8Array(64).map((_, i) => (i * 31 + n) & 0xff);

const IMPLEMENTATIONS: [string, () => Promise<Rig>][] = [
  ["in-memory pair", memoryRig],
  ["UDP client (node:dgram)", () => udpRig("node:dgram")],
  // Bun.udpSocket on Bun; Deno.listenDatagram where --unstable-net enables it (npm test does).
  ...(nativeDatagramBackend()
    ? [[`UDP client (${nativeDatagramBackend()})`, () => udpRig("native")] as [
      string,
      () => Promise<Rig>,
    ]]
    : []),
  ["hidapi (fake libhidapi)", hidapiRig],
];

for (const [name, makeRig] of IMPLEMENTATIONS) {
  describe(`HidConnection contract: ${name}`, () => {
    const withRig = (fn: (rig: Rig) => Promise<void>) => async () => {
      const rig = await makeRig();
      try {
        await fn(rig);
      } finally {
        await rig.dispose();
      }
    };

    it(
      "serves reports that have arrived even when the signal is already aborted",
      withRig(async (rig) => {
        await rig.deliver(report(1), report(2));
        const aborted = AbortSignal.abort();
        assert.deepEqual(await rig.conn.readPacket(aborted), report(1));
        assert.deepEqual(await rig.conn.readPacket(aborted), report(2));
        await assert.rejects(rig.conn.readPacket(aborted), AbortError);
      }),
    );

    it(
      "readArrived, where implemented, serves the same reports without waiting",
      withRig(async (rig) => {
        const readArrived = rig.conn.readArrived?.bind(rig.conn);
        // Every connection of this library implements the synchronous form.
        assert.equal(typeof readArrived, "function");
        assert.equal(readArrived!(), undefined);
        await rig.deliver(report(9), report(10));
        assert.deepEqual(readArrived!(), report(9));
        assert.deepEqual(await rig.conn.readPacket(AbortSignal.abort()), report(10));
        assert.equal(readArrived!(), undefined);
        await rig.conn.close();
        assert.throws(() => readArrived!(), TransportError);
      }),
    );

    it(
      "rejects an aborted read with nothing queued with AbortError at once",
      withRig(async (rig) => {
        const t0 = performance.now();
        await assert.rejects(rig.conn.readPacket(AbortSignal.abort("why")), (e) => {
          assert.ok(e instanceof AbortError);
          assert.equal((e as Error).cause, "why");
          return true;
        });
        assert.ok(performance.now() - t0 < 1000);
      }),
    );

    it(
      "aborts a pending read and keeps the report that comes later",
      withRig(async (rig) => {
        const ctl = new AbortController();
        const pending = rig.conn.readPacket(ctl.signal);
        await sleep(30);
        ctl.abort();
        await assert.rejects(pending, AbortError);
        await rig.deliver(report(3));
        assert.deepEqual(await rig.conn.readPacket(AbortSignal.abort()), report(3));
      }),
    );

    it(
      "hands reports to waiting readers in order",
      withRig(async (rig) => {
        const a = rig.conn.readPacket();
        const b = rig.conn.readPacket();
        await rig.deliver(report(4), report(5), report(6));
        assert.deepEqual(await a, report(4));
        assert.deepEqual(await b, report(5));
        assert.deepEqual(await rig.conn.readPacket(), report(6));
      }),
    );

    it(
      "writes whole reports and refuses other sizes with TransportError",
      withRig(async (rig) => {
        await rig.conn.writePacket(report(7));
        assert.deepEqual(await rig.received(), report(7));
        await assert.rejects(rig.conn.writePacket(new Uint8Array(63)), TransportError);
        await assert.rejects(rig.conn.writePacket(new Uint8Array(65)), TransportError);
      }),
    );

    it(
      "close rejects pending and later calls with TransportError, twice is fine",
      withRig(async (rig) => {
        const pending = assert.rejects(rig.conn.readPacket(), TransportError);
        await rig.conn.close();
        await pending;
        await assert.rejects(rig.conn.readPacket(), TransportError);
        await assert.rejects(rig.conn.readPacket(AbortSignal.abort()), TransportError);
        await assert.rejects(rig.conn.writePacket(report(8)), TransportError);
        await rig.conn.close();
      }),
    );

    it(
      "CtapHidDevice drops a stale report before its next call (drain)",
      withRig(async (rig) => {
        const cid = 0x01020304;
        const device = new CtapHidDevice(
          { path: "contract", vid: 0, pid: 0, reportSizeIn: 64, reportSizeOut: 64 },
          rig.conn,
          { cid, ctaphidVersion: 2, deviceVersion: [1, 0, 0], capabilities: 0 },
        );
        // A late answer to an earlier PING, then the device answers ours.
        await rig.deliver(fragment(cid, CTAPHID.PING, Uint8Array.of(0xde, 0xad))[0]);
        const call = device.ping(Uint8Array.of(1, 2, 3));
        const request = await rig.received();
        assert.deepEqual(request, fragment(cid, CTAPHID.PING, Uint8Array.of(1, 2, 3))[0]);
        await rig.deliver(request);
        assert.deepEqual(await call, Uint8Array.of(1, 2, 3));
      }),
    );
  });
}
