// The datagram layer under the UDP transport (src/hid/datagram.ts): which API each runtime
// gets, and the errors for a taken port and for a native API that is not enabled.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { TransportError } from "../src/errors.ts";
import { bindDatagram, type DatagramApi, nativeDatagramBackend } from "../src/hid/datagram.ts";
import { CtapHidDevice, HidError, UdpHidConnection } from "../src/hid/mod.ts";
import { repoRoot } from "./helpers/build_fixture.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const ignore = { message: () => {}, error: () => {} };
const apis: DatagramApi[] = nativeDatagramBackend() ? ["node:dgram", "native"] : ["node:dgram"];

describe("datagram sockets", () => {
  it("picks the runtime's own API: Bun.udpSocket, Deno.listenDatagram only when enabled", () => {
    const expected = g.Bun
      ? "bun"
      : typeof g.Deno?.listenDatagram === "function"
      ? "deno"
      : undefined;
    assert.equal(nativeDatagramBackend(), expected);
  });

  for (const api of apis) {
    it(`${api}: a taken port is a TransportError naming it`, async () => {
      const first = await bindDatagram("127.0.0.1", 0, ignore, api);
      try {
        await assert.rejects(bindDatagram("127.0.0.1", first.port, ignore, api), (e) => {
          assert.ok(e instanceof TransportError, String(e));
          assert.match(e.message, new RegExp(`Cannot bind UDP 127\\.0\\.0\\.1:${first.port}`));
          return true;
        });
      } finally {
        await first.close();
      }
    });

    it(`${api}: sends and receives, reports the bound port and its backend`, async () => {
      const got: [Uint8Array, number][] = [];
      let arrived: () => void = () => {};
      const b = await bindDatagram("127.0.0.1", 0, {
        message: (d, port) => {
          got.push([d.slice(), port]);
          arrived();
        },
        error: (e) => assert.fail(e),
      }, api);
      const a = await bindDatagram("127.0.0.1", 0, ignore, api);
      try {
        assert.equal(a.backend, api === "node:dgram" ? "node:dgram" : nativeDatagramBackend());
        const wait = new Promise<void>((r) => (arrived = r));
        await a.send(Uint8Array.of(1, 2, 3), b.port, "127.0.0.1");
        await wait;
        assert.deepEqual(got, [[Uint8Array.of(1, 2, 3), a.port]]);
      } finally {
        await a.close();
        await b.close();
        await b.close();
      }
    });
  }

  it("node:dgram: a client socket is connected to its peer and sends nowhere else", async () => {
    const got: number[] = [];
    let arrived: () => void = () => {};
    const peer = await bindDatagram("127.0.0.1", 0, {
      message: (d) => {
        got.push(d[0]);
        arrived();
      },
      error: (e) => assert.fail(e),
    }, "node:dgram");
    const client = await bindDatagram(
      "127.0.0.1",
      0,
      ignore,
      "node:dgram",
      { address: "127.0.0.1", port: peer.port },
    );
    try {
      const wait = new Promise<void>((r) => (arrived = r));
      await client.send(Uint8Array.of(7), peer.port, "127.0.0.1");
      await wait;
      assert.deepEqual(got, [7]);
      assert.throws(
        () => client.send(Uint8Array.of(8), peer.port + 1, "127.0.0.1"),
        (e) =>
          e instanceof TransportError &&
          e.message.includes(`sends to 127.0.0.1:${peer.port} only`),
      );
    } finally {
      await client.close();
      await peer.close();
    }
  });

  for (const api of apis) {
    it(`${api}: a datagram said to be owned is never overwritten by the next one`, async () => {
      // The UDP connection keeps owned datagrams without copying them: if a runtime started
      // reusing its receive buffer, packets already queued would change under the reader.
      const kept: { data: Uint8Array; owned: boolean }[] = [];
      let arrived: () => void = () => {};
      const b = await bindDatagram("127.0.0.1", 0, {
        message: (data, _port, _address, owned) => {
          kept.push({ data: owned ? data : data.slice(), owned });
          if (kept.length === 3) arrived();
        },
        error: (e) => assert.fail(e),
      }, api);
      const a = await bindDatagram("127.0.0.1", 0, ignore, api);
      try {
        const wait = new Promise<void>((r) => (arrived = r));
        for (let i = 1; i <= 3; i++) await a.send(new Uint8Array(64).fill(i), b.port, "127.0.0.1");
        await wait;
        assert.deepEqual(kept.map((k) => k.owned), [true, true, true]);
        assert.deepEqual(
          kept.map((k) => k.data[0]).sort(),
          [1, 2, 3],
          "each kept datagram still holds its own bytes",
        );
        for (const k of kept) assert.ok(k.data.every((x) => x === k.data[0]));
      } finally {
        await a.close();
        await b.close();
      }
    });
  }

  for (const api of apis) {
    it(`${api}: nothing listening at the authenticator's port is a timeout, not a dead socket`, async () => {
      // A port that was free a moment ago: datagrams to it bounce (ICMP port unreachable).
      const probe = await bindDatagram("127.0.0.1", 0, ignore, api);
      const port = probe.port;
      await probe.close();
      const conn = await UdpHidConnection.open({ port, localPort: 0, api });
      try {
        await assert.rejects(
          CtapHidDevice.open(conn.descriptor, conn, { readTimeout: 300 }),
          (e) => e instanceof HidError && /No CTAPHID_INIT response/.test(e.message),
        );
        // The connection still works once something answers (here: another write).
        await conn.writePacket(new Uint8Array(64));
      } finally {
        await conn.close();
      }
    });
  }

  it("asking for the native API where Deno has not enabled it says which flag is missing", () => {
    // A Deno child without --unstable-net: the case Bun never has.
    const deno = `${repoRoot}/node_modules/.bin/deno`;
    const code = `
      import { bindDatagram } from "./src/hid/datagram.ts";
      try {
        await bindDatagram("127.0.0.1", 0, { message() {}, error() {} }, "native");
        console.log("bound");
      } catch (e) {
        console.log(e.name + ": " + e.message);
      }`;
    const r = spawnSync(deno, ["eval", "--no-check", code], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^TransportError: .*--unstable-net.*node:dgram/m);
  });
});
