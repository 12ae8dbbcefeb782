/**
 * The runtime floor of the side-by-side benchmark: the very datagrams an operation exchanged
 * with the authenticator (recorded by client.ts: the reports sent, then how many came back),
 * replayed to the same authenticator process with no library at all, written the fastest way
 * the datagram API allows: the CPU and time that the runtime's own I/O and the authenticator's
 * pace cost, without any CTAPHID framing, CBOR or client logic.
 *   deno run -A [--unstable-net] floor.ts PORT N API FILE   (or bun floor.ts …)
 * API: "native" (Bun.udpSocket, Deno.listenDatagram) or "node:dgram". FILE: JSON, a list of
 * operations, each a list of exchanges { send: [hex…], read: count }. Prints one JSON line per
 * operation: median wall ms and mean CPU ms.
 * @module
 */
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fromHex } from "../../src/utils.ts";

const [port, n] = process.argv.slice(2, 4).map(Number);
const api = process.argv[4];
const ops: { send: Uint8Array[]; read: number }[][] = JSON.parse(
  readFileSync(process.argv[5], "utf8"),
).map((op: { send: string[]; read: number }[]) =>
  op.map((x) => ({ send: x.send.map(fromHex), read: x.read }))
);
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const HOST = "127.0.0.1";
/** An answer that never comes (the authenticator sent fewer datagrams than recorded). */
const TIMEOUT_MS = 2000;

type Exchange = (send: Uint8Array[], read: number) => Promise<void>;

/** Counts datagrams for callback APIs; resolves once `read` have arrived. */
function counting(sendAll: (send: Uint8Array[]) => void) {
  let want = 0;
  let done = () => {};
  const exchange: Exchange = (send, read) =>
    new Promise<void>((resolve, reject) => {
      want = read;
      const timer = setTimeout(() => reject(new Error("floor: answer missing")), TIMEOUT_MS);
      done = () => {
        clearTimeout(timer);
        resolve();
      };
      sendAll(send);
      if (read === 0) done();
    });
  return { exchange, onData: () => --want === 0 && done() };
}

async function open(): Promise<Exchange> {
  if (api === "native" && g.Bun) {
    const to: { sock?: { send(d: Uint8Array): boolean } } = {};
    const c = counting((send) => send.forEach((d) => to.sock!.send(d)));
    to.sock = await g.Bun.udpSocket({
      hostname: HOST,
      binaryType: "uint8array",
      connect: { hostname: HOST, port },
      socket: { data: c.onData },
    });
    return c.exchange;
  }
  if (api === "native") {
    const s = g.Deno.listenDatagram({ transport: "udp", port: 0, hostname: HOST });
    const to = { transport: "udp", hostname: HOST, port };
    const buf = new Uint8Array(2048);
    return async (send, read) => {
      for (const d of send) await s.send(d, to);
      for (let i = 0; i < read; i++) await s.receive(buf);
    };
  }
  // Deno's node:dgram allocates recvBufferSize bytes per datagram: keep it small, as
  // src/hid/datagram.ts does.
  const s = g.Deno
    ? dgram.createSocket({ type: "udp4", recvBufferSize: 4097 })
    : dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  await new Promise<void>((r) => s.connect(port, HOST, () => r()));
  const c = counting((send) => send.forEach((d) => s.send(d)));
  s.on("message", c.onData);
  return c.exchange;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const exchange = await open();
const out: { ms: number; cpuMs: number }[] = [];
for (const exchanges of ops) {
  const op = async () => {
    for (const x of exchanges) await exchange(x.send, x.read);
  };
  for (let i = 0; i < n; i++) await op(); // warm-up, as client.ts
  const walls: number[] = [];
  const c0 = cpuMs();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op();
    walls.push(performance.now() - t0);
  }
  const cpu = (cpuMs() - c0) / n;
  walls.sort((a, b) => a - b);
  out.push({ ms: walls[walls.length >> 1], cpuMs: cpu });
}
console.log(JSON.stringify(out));
process.exit(0);
