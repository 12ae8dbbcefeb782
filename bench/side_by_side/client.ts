/**
 * This library against a UDP authenticator: the same operations as client.py, printed as one
 * JSON line. Usage: deno run -A client.ts PORT PIN_PORT N  (or bun client.ts …)
 * @module
 */
import process from "node:process";
import { DefaultClientDataCollector } from "../../src/client/collector.ts";
import { Fido2Client } from "../../src/client/fido2.ts";
import { UserInteraction } from "../../src/client/interaction.ts";
import { Ctap2 } from "../../src/ctap2/base.ts";
import { LargeBlobs } from "../../src/ctap2/blob.ts";
import { CTAPHID, CtapHidDevice, UdpHidConnection } from "../../src/hid/mod.ts";
import { b64urlEncode, randomBytes, sha256, toHex } from "../../src/utils.ts";

const [port, pinPort, n] = process.argv.slice(2).map(Number);
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun.version}`;

interface Counter {
  cbor: number;
  log: (Uint8Array | undefined)[] | undefined;
  logReads: (on: boolean) => void;
}

/**
 * A UDP connection that counts CTAPHID_CBOR requests (one per CTAP2 round trip) and logs the
 * datagrams sent (their bytes) and read (a count): what the floor (floor.ts) replays.
 */
async function open(p: number) {
  const conn = await UdpHidConnection.open({ port: p, localPort: 0 });
  const counter: Counter = { cbor: 0, log: undefined, logReads: () => {} };
  const write = conn.writePacket.bind(conn);
  conn.writePacket = (packet: Uint8Array) => {
    if (packet[4] === (0x80 | CTAPHID.CBOR)) counter.cbor++;
    counter.log?.push(packet.slice());
    return write(packet);
  };
  // Reads are logged through wrappers installed only while logging: the async wrapper would
  // add a promise hop to every measured read.
  const read = conn.readPacket;
  const arrived = conn.readArrived;
  counter.logReads = (on: boolean) => {
    if (!on) {
      conn.readPacket = read;
      conn.readArrived = arrived;
      return;
    }
    conn.readPacket = async (signal?: AbortSignal) => {
      const packet = await read.call(conn, signal);
      counter.log?.push(undefined);
      return packet;
    };
    conn.readArrived = () => {
      const packet = arrived.call(conn);
      if (packet) counter.log?.push(undefined);
      return packet;
    };
  };
  const device = await CtapHidDevice.open(conn.descriptor, conn);
  return { device, counter };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The log as exchanges: datagrams sent (hex), then how many were read. */
function exchanges(log: (Uint8Array | undefined)[]): { send: string[]; read: number }[] {
  const out: { send: string[]; read: number }[] = [];
  for (const packet of log) {
    const last = out.at(-1);
    if (packet && (!last || last.read > 0)) out.push({ send: [toHex(packet)], read: 0 });
    else if (packet) last!.send.push(toHex(packet));
    else if (last) last.read++;
    else out.push({ send: [], read: 1 });
  }
  return out;
}

async function measure(
  op: () => Promise<unknown>,
  counter: Counter,
  count = n,
) {
  await op(); // the first call may set up state (a PIN token, an unknown key)
  const before = counter.cbor;
  counter.log = [];
  counter.logReads(true);
  await op();
  const roundTrips = counter.cbor - before;
  const datagrams = exchanges(counter.log);
  counter.log = undefined;
  counter.logReads(false);
  // Steady state: as many calls again before measuring, so the JIT has compiled the path
  // (client.py does the same, though CPython does not compile). Start-up is the cold rows'.
  for (let i = 0; i < count; i++) await op();
  const walls: number[] = [];
  const c0 = cpuMs();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await op();
    walls.push(performance.now() - t0);
  }
  const cpu = (cpuMs() - c0) / count;
  walls.sort((a, b) => a - b);
  const ms = walls.length % 2
    ? walls[walls.length >> 1]
    : (walls[walls.length / 2 - 1] + walls[walls.length / 2]) / 2;
  return { ms, cpuMs: cpu, roundTrips, datagrams };
}

const creation = (uv: "discouraged" | "required" = "discouraged") => ({
  rp: { id: "example.com", name: "Example" },
  user: { id: b64urlEncode(randomBytes(16)), name: "alice" },
  challenge: b64urlEncode(randomBytes(32)),
  pubKeyCredParams: [{ type: "public-key" as const, alg: -7 }],
  authenticatorSelection: { userVerification: uv },
});

class Pin extends UserInteraction {
  override requestPin() {
    return "1234";
  }
}

const { device, counter } = await open(port);
const client = new Fido2Client(device, new DefaultClientDataCollector("https://example.com"));
await client.ready();
const ctap2 = await Ctap2.create(device);
const reg = await client.makeCredential(creation());
const allow = [{ type: "public-key" as const, id: reg.id }];
const rawAllow = [{ type: "public-key", id: new Uint8Array(reg.rawId) }];
const cdh = sha256(new TextEncoder().encode("client data"));
const data8 = new Uint8Array(8).fill(0x42);

const out: Record<string, unknown> = { runtime };
out.ping = await measure(() => device.call(CTAPHID.PING, data8), counter);
out.ctap2GetAssertion = await measure(
  () =>
    ctap2.getAssertion({
      rpId: "example.com",
      clientDataHash: cdh,
      allowList: rawAllow,
      options: { up: false },
    }),
  counter,
);
out.clientGetAssertion = await measure(
  () =>
    client.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: "example.com",
      allowCredentials: allow,
      userVerification: "discouraged",
    }).then((selection) => selection.getResponse(0)), // as python's get_response(0)
  counter,
);
out.makeCredential = await measure(() => client.makeCredential(creation()), counter);

const blobs = new LargeBlobs(ctap2);
const blob = [new Map([[1, randomBytes(4000)]])];
const few = Math.max(5, Math.floor(n / 10));
out.largeBlobWrite4k = await measure(() => blobs.writeBlobArray(blob), counter, few);
out.largeBlobRead4k = await measure(() => blobs.readBlobArray(), counter, few);

const pinned = await open(pinPort);
const pinClient = new Fido2Client(
  pinned.device,
  new DefaultClientDataCollector("https://example.com"),
  new Pin(),
);
await pinClient.ready();
out.makeCredentialPin = await measure(
  () => pinClient.makeCredential(creation("required")),
  pinned.counter,
  Math.max(5, Math.floor(n / 4)),
);
// The four-round-trip case for python-fido2: a PIN is set and the RP asks for user
// verification (python: getInfo, getKeyAgreement, getPinToken, getAssertion).
const pinReg = await pinClient.makeCredential(creation("required"));
out.clientGetAssertionPin = await measure(
  () =>
    pinClient.getAssertion({
      challenge: b64urlEncode(randomBytes(32)),
      rpId: "example.com",
      allowCredentials: [{ type: "public-key" as const, id: pinReg.id }],
      userVerification: "required",
    }).then((selection) => selection.getResponse(0)),
  pinned.counter,
  Math.max(5, Math.floor(n / 4)),
);
console.log(JSON.stringify(out));
process.exit(0);
