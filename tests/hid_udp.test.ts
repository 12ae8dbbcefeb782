import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { TransportError } from "../src/errors.ts";
import {
  createConnectionPair,
  CTAPHID,
  CtapHidDevice,
  CtapHidServer,
  fragment,
  type HidBackend,
  type HidConnection,
  type HidDeviceInfo,
  listDevices,
  openDevice,
  serveUdp,
  UdpHidConnection,
} from "../src/hid/mod.ts";
import { concat, fromHex } from "../src/utils.ts";
import { CMD, TestProcessor } from "./hid_helpers.ts";

const range = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);

describe("CTAPHID over UDP", () => {
  it("round trip on random ports", async () => {
    const processor = new TestProcessor();
    const srv = await serveUdp(processor, { port: 0, keepaliveInterval: 20 });
    const conn = await UdpHidConnection.open({ port: srv.port, localPort: 0 });
    try {
      assert.ok(srv.port > 0 && conn.localPort > 0);
      assert.equal(conn.descriptor.path, `udp://127.0.0.1:${srv.port}`);
      const device = await CtapHidDevice.open(conn.descriptor, conn);
      assert.deepEqual(device.deviceVersion, [5, 4, 3]);
      const body = range(1024);
      const r = await device.call(CTAPHID.CBOR, concat(new Uint8Array([CMD.ECHO]), body));
      assert.deepEqual(r, concat(new Uint8Array([0]), body));
      assert.deepEqual(await device.ping(range(7609)), range(7609));
      const seen: number[] = [];
      await device.call(CTAPHID.CBOR, new Uint8Array([CMD.PHASES, 5]), {
        onKeepalive: (s) => seen.push(s),
      });
      assert.deepEqual(seen, [1, 2]);
      await device.close();
      await device.close();
      await assert.rejects(conn.readPacket(), TransportError);
    } finally {
      await conn.close();
      await srv.close();
    }
  });

  it("ignores datagrams from anyone but the authenticator", async () => {
    const srv = await serveUdp(new TestProcessor(), { port: 0 });
    const conn = await UdpHidConnection.open({ port: srv.port, localPort: 0 });
    const intruder = dgram.createSocket("udp4");
    try {
      const device = await CtapHidDevice.open(conn.descriptor, conn);
      const fake = fragment(device.channelId, CTAPHID.PING, new Uint8Array([0xee]))[0];
      await new Promise<void>((res) =>
        intruder.send(fake, conn.localPort, "127.0.0.1", () => res())
      );
      // Nothing is delivered: the read times out instead of returning the forged report.
      await assert.rejects(
        conn.readPacket(AbortSignal.timeout(50)),
        (e) => (e as Error).name === "AbortError",
      );
      assert.deepEqual(await device.ping(fromHex("0102")), fromHex("0102"));
      await device.close();
    } finally {
      intruder.close();
      await conn.close();
      await srv.close();
    }
  });

  it("a port in use is a TransportError; writes are size-checked; reads abort", async () => {
    const srv = await serveUdp(new TestProcessor(), { port: 0 });
    try {
      await assert.rejects(serveUdp(new TestProcessor(), { port: srv.port }), TransportError);
      const conn = await UdpHidConnection.open({ port: srv.port, localPort: 0 });
      await assert.rejects(
        UdpHidConnection.open({ port: srv.port, localPort: conn.localPort }),
        TransportError,
      );
      await assert.rejects(conn.writePacket(new Uint8Array(10)), TransportError);
      await assert.rejects(
        conn.readPacket(AbortSignal.timeout(20)),
        (e) => (e as Error).name === "AbortError",
      );
      await conn.close();
      await assert.rejects(conn.writePacket(new Uint8Array(64)), TransportError);
    } finally {
      await srv.close();
    }
  });
});

describe("listDevices / openDevice over a HidBackend", () => {
  const FIDO_DESC = fromHex("06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0");
  const MOUSE_DESC = fromHex(
    "05010902a1010901a1000509190129051500250195057501810295017503810105010930093109381581257f" +
      "750895038106c0c0",
  );
  const info = (path: string, usagePage: number, usage: number): HidDeviceInfo => ({
    path,
    vendorId: 0x1050,
    productId: 0x0407,
    releaseNumber: 0x0100,
    productString: `dev ${path}`,
    serialNumber: "123",
    usagePage,
    usage,
    interfaceNumber: 0,
  });

  function backend(): HidBackend & { opened: string[]; cleanup(): Promise<void> } {
    const servers: CtapHidServer[] = [];
    const conns: HidConnection[] = [];
    const opened: string[] = [];
    return {
      opened,
      enumerate: () =>
        Promise.resolve([
          info("/dev/hidraw0", 0xf1d0, 1),
          info("/dev/hidraw0", 0xf1d0, 1), // listed twice (one entry per usage on macOS)
          info("/dev/hidraw1", 0x0001, 2), // mouse
          info("/dev/hidraw2", 0, 0), // libusb: FIDO per descriptor
          info("/dev/hidraw3", 0, 0), // libusb: mouse per descriptor
          info("/dev/hidraw4", 0xf1d0, 1), // FIDO but silent: skipped
          info("/dev/hidraw5", 0, 0), // libusb, descriptor unreadable: skipped
        ]),
      getReportDescriptor(path: string) {
        if (path === "/dev/hidraw2" || path === "/dev/hidraw0") return Promise.resolve(FIDO_DESC);
        if (path === "/dev/hidraw3") return Promise.resolve(MOUSE_DESC);
        if (path === "/dev/hidraw5") return Promise.reject(new Error("EACCES"));
        return Promise.resolve(undefined);
      },
      open(path: string, inSize?: number, outSize?: number) {
        opened.push(path);
        assert.equal(inSize, 64);
        assert.equal(outSize, 64);
        const [client, auth] = createConnectionPair();
        conns.push(auth, client);
        if (path !== "/dev/hidraw4") {
          const s = new CtapHidServer(auth, new TestProcessor());
          s.start();
          servers.push(s);
        }
        return Promise.resolve(client);
      },
      async cleanup() {
        for (const s of servers) await s.stop();
        for (const c of conns) await c.close();
      },
    };
  }

  it("yields only FIDO devices, via usage page or report descriptor", async () => {
    const b = backend();
    try {
      const found: CtapHidDevice[] = [];
      for await (const d of listDevices(b, { readTimeout: 50 })) found.push(d);
      assert.deepEqual(found.map((d) => d.descriptor.path), ["/dev/hidraw0", "/dev/hidraw2"]);
      assert.deepEqual(b.opened, ["/dev/hidraw0", "/dev/hidraw2", "/dev/hidraw4"]);
      assert.equal(found[0].descriptor.productName, "dev /dev/hidraw0");
      assert.equal(found[0].descriptor.vid, 0x1050);
      assert.deepEqual(await found[1].ping(range(3)), range(3));
      for (const d of found) await d.close();
    } finally {
      await b.cleanup();
    }
  });

  it("openDevice opens a FIDO path and refuses others", async () => {
    const b = backend();
    try {
      const d = await openDevice("/dev/hidraw2", b);
      assert.deepEqual(await d.ping(range(9)), range(9));
      await d.close();
      await assert.rejects(openDevice("/dev/hidraw1", b), /not a FIDO/);
      await assert.rejects(openDevice("/dev/hidraw3", b), TransportError);
      await assert.rejects(openDevice("/dev/nope", b), /No HID device/);
      await assert.rejects(openDevice("/dev/hidraw4", b, { readTimeout: 50 }), TransportError);
    } finally {
      await b.cleanup();
    }
  });
});
