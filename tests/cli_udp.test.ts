/**
 * `fido2 --udp` against a simulator that behaves like the SoloKeys, Nitrokey and CanoKey
 * firmware simulators: it sends every answer to one fixed client port, whatever port the
 * request came from. The fixed port is chosen at run time (never 7112 itself, which another
 * test run on this machine may hold); the default is proven through `udpEndpoints`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { runCli } from "./helpers/run_cli.ts";
import { SIMULATOR_ANSWER_PORT, udpEndpoints } from "../src/cli/device.ts";
import { EXIT, UsageError } from "../src/cli/errors.ts";
import { CtapHidServer } from "../src/hid/server.ts";
import { type HidConnection, PacketQueue } from "../src/hid/connection.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", reject);
    socket.bind(port, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** A port that was free a moment ago (bound to 0, then released). */
async function freePort(): Promise<number> {
  const s = await bindUdp(0);
  const port = s.address().port;
  await closeUdp(s);
  return port;
}

/** A firmware-simulator stand-in: listens on an ephemeral port, answers to `answerPort`. */
async function fixedAnswerSimulator(answerPort: number) {
  const socket = await bindUdp(0);
  const packets = new PacketQueue();
  let requests = 0;
  // Answers to a port nobody listens on come back as ICMP errors (Bun reports them on the
  // socket); a firmware simulator ignores them too.
  socket.on("error", () => {});
  socket.on("message", (msg: Uint8Array) => {
    requests++;
    packets.push(new Uint8Array(msg).slice());
  });
  const conn: HidConnection = {
    writePacket: (p) =>
      new Promise((resolve, reject) =>
        socket.send(p, answerPort, "127.0.0.1", (e) => (e ? reject(e) : resolve()))
      ),
    readPacket: (signal) => Promise.resolve(packets.take() ?? packets.wait(signal)),
    close: () => packets.fail(new Error("closed")),
  };
  const va = new VirtualAuthenticator();
  const server = new CtapHidServer(conn, va.authenticator);
  server.start();
  return {
    port: socket.address().port,
    get requests() {
      return requests;
    },
    async close() {
      await server.stop();
      conn.close();
      await closeUdp(socket);
    },
  };
}

describe("cli --udp", () => {
  it("binds 7112 by default, --udp-local-port overrides it, bad values are usage errors", () => {
    assert.equal(SIMULATOR_ANSWER_PORT, 7112);
    assert.deepEqual(udpEndpoints({ udp: "127.0.0.1:8111" }), {
      host: "127.0.0.1",
      port: 8111,
      localPort: 7112,
    });
    assert.deepEqual(udpEndpoints({ udp: "[::1]:8111", udpLocalPort: "0" }), {
      host: "::1",
      port: 8111,
      localPort: 0,
    });
    assert.equal(udpEndpoints({ udp: "h:1", udpLocalPort: "65535" })?.localPort, 65535);
    assert.equal(udpEndpoints({ device: "/dev/hidraw0" }), undefined);
    for (const bad of ["65536", "-1", "x", "", "7112 ", "1e3"]) {
      assert.throws(
        () => udpEndpoints({ udp: "h:1", udpLocalPort: bad }),
        (e: unknown) => e instanceof UsageError && /0-65535 \(0 = any free port\)/.test(e.message),
        JSON.stringify(bad),
      );
    }
    assert.throws(
      () => udpEndpoints({ udpLocalPort: "0" }),
      (e: unknown) => e instanceof UsageError && /only applies to --udp/.test(e.message),
    );
  });

  it("reaches a simulator that answers to a fixed port when --udp-local-port names it", async () => {
    const answerPort = await freePort();
    const sim = await fixedAnswerSimulator(answerPort);
    try {
      const at = ["--udp", `127.0.0.1:${sim.port}`, "--udp-local-port", String(answerPort)];
      const r = await runCli(["info", ...at, "--json"]);
      assert.equal(r.code, EXIT.OK, r.stderr);
      const info = JSON.parse(r.stdout).info as { versions: string[] };
      assert.ok(info.versions.includes("FIDO_2_0"), r.stdout);
    } finally {
      await sim.close();
    }
  });

  it("names both ports and what to check when the answers go elsewhere", async () => {
    const answerPort = await freePort();
    const sim = await fixedAnswerSimulator(answerPort);
    try {
      const r = await runCli(["info", "--udp", `127.0.0.1:${sim.port}`, "--udp-local-port", "0"]);
      assert.equal(r.code, EXIT.NO_DEVICE, r.stderr);
      assert.ok(sim.requests > 0, "the simulator got the INIT");
      const m = new RegExp(
        `No authenticator answers at udp://127\\.0\\.0\\.1:${sim.port} \\(sent to port ${sim.port}, ` +
          `listened on local UDP port (\\d+)\\)\\. Check that the simulator is running and ` +
          `listens on port ${sim.port}, and that it sends its answers to port (\\d+)`,
      ).exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.equal(m[1], m[2]);
      assert.notEqual(Number(m[1]), 0);
      assert.match(r.stderr, /simulators answer to port 7112 only \(the default without/);
    } finally {
      await sim.close();
    }
  });

  it("a local port already in use is a device error that names the flag", async () => {
    const holder = await bindUdp(0);
    const taken = holder.address().port;
    try {
      const r = await runCli(["info", "--udp", "127.0.0.1:9", "--udp-local-port", String(taken)]);
      assert.equal(r.code, EXIT.NO_DEVICE, r.stderr);
      assert.match(r.stderr, new RegExp(`Cannot bind local UDP port ${taken} `));
      assert.match(r.stderr, /pass --udp-local-port N/);
    } finally {
      await closeUdp(holder);
    }
  });

  it("usage errors come before any device is opened", async () => {
    const r = await runCli(["info", "--virtual=", "--udp-local-port", "1"]);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /--udp-local-port only applies to --udp/);
  });
});
