/**
 * CPU per `Fido2Client.getAssertion` (issue 15, goal 2), split by what sits under the client:
 *
 * - `device`: a CtapDevice that answers every CTAP2 command from a recording, with no
 *   transport at all: the client's own work (collector, hashing, CBOR, validation, results).
 * - `memory`: CtapHidDevice over the in-memory connection, the far end a CtapHidServer
 *   replaying the recording (its framing runs in this process too).
 * - `udp`: CtapHidDevice over UDP to the side-by-side authenticator process (its CPU is not
 *   this process's); `--api native|node:dgram` picks the datagram API.
 *
 * The recording is the VirtualAuthenticator's real answer to the first getAssertion, replayed
 * byte for byte (the client does not check signatures, so every replay passes its checks).
 * Modes run in alternating batches; each prints the median of its batches' CPU µs per op.
 * `--idle MS` pauses MS after every operation (the CPU of the pauses alone, measured in
 * batches of their own, is subtracted): code that runs after a pause finds cold caches, and
 * costs several times what it costs back to back, which is what a client over a transport to
 * an authenticator that takes a millisecond to sign sees.
 *
 *   deno run -A bench/client_cpu.ts [--modes device,memory,udp] [--batches 15] [--ops 200]
 *   bun bench/client_cpu.ts …
 * `--loop MODE --seconds S` runs one mode only, for a profiler (deno --v8-flags=--prof,
 * bun --cpu-prof).
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import type { CallOptions, CtapDevice, CtapProcessor, RequestContext } from "../src/ctap.ts";
import { createConnectionPair, CtapHidDevice, CtapHidServer } from "../src/hid/mod.ts";
import { UdpHidConnection } from "../src/hid/udp.ts";
import { b64urlEncode, randomBytes } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";

const ORIGIN = "https://example.com";
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

/** Answers from the virtual authenticator, then the recorded getAssertion answer forever. */
class Replay implements CtapProcessor {
  readonly capabilities: number;
  readonly deviceVersion: readonly [number, number, number];
  recorded?: Uint8Array;
  constructor(readonly inner: CtapProcessor) {
    this.capabilities = inner.capabilities;
    this.deviceVersion = inner.deviceVersion;
  }
  async processCbor(request: Uint8Array, ctx: RequestContext): Promise<Uint8Array> {
    if (request[0] === 0x02 && this.recorded) return this.recorded;
    const out = await this.inner.processCbor(request, ctx);
    if (request[0] === 0x02 && out[0] === 0) this.recorded = out;
    return out;
  }
  processMsg(apdu: Uint8Array, ctx: RequestContext): Promise<Uint8Array> {
    return this.inner.processMsg(apdu, ctx);
  }
}

const DIRECT_CONTEXT: RequestContext = { signal: new AbortController().signal, keepalive() {} };

/** The `device` mode: CTAP2 straight from the processor, no CTAPHID. */
class DirectDevice implements CtapDevice {
  readonly capabilities: number;
  constructor(readonly processor: Replay) {
    this.capabilities = processor.capabilities;
  }
  call(cmd: number, data: Uint8Array = new Uint8Array(0), _opts?: CallOptions) {
    if (cmd !== 0x10) return Promise.reject(new Error(`unexpected CTAPHID command ${cmd}`));
    return this.processor.processCbor(data, DIRECT_CONTEXT);
  }
  close() {}
}

/** The side-by-side authenticator in a process of its own; resolves with its port. */
function authenticatorProcess(): Promise<{ port: number; stop: () => void }> {
  const script = new URL("./side_by_side/authenticator.ts", import.meta.url).pathname;
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const child = g.Deno
    ? spawn(process.execPath, ["run", "-A", script], { stdio: ["pipe", "pipe", "inherit"] })
    : spawn(process.execPath, [script], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once(
      "data",
      (d) => resolve({ port: Number(String(d).trim()), stop: () => child.stdin!.end() }),
    );
  });
}

const va = new VirtualAuthenticator({});
const replay = new Replay(va.authenticator);

/**
 * A client and requests for a credential on its authenticator: `id`, or a new one (the
 * replaying clients share one, so that the recorded answer names their credential).
 */
async function clientFor(device: CtapDevice, id?: string) {
  const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN));
  await client.ready();
  id ??= (await client.makeCredential({
    rp: { id: "example.com", name: "Example" },
    user: { id: b64urlEncode(randomBytes(16)), name: "alice" },
    challenge: b64urlEncode(randomBytes(32)),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    authenticatorSelection: { userVerification: "discouraged" },
  })).id;
  const allow = [{ type: "public-key" as const, id }];
  const request = () => ({
    challenge: b64urlEncode(randomBytes(32)),
    rpId: "example.com",
    allowCredentials: allow,
    userVerification: "discouraged" as const,
  });
  return { client, request };
}
type Bench = Awaited<ReturnType<typeof clientFor>>;

// The recording, before any replaying client runs.
const recorder = await clientFor(new DirectDevice(replay));
await recorder.client.getAssertion(recorder.request());
if (!replay.recorded) throw new Error("no getAssertion answer was recorded");
const replayedId = recorder.request().allowCredentials[0].id;

const MEMORY = { path: "memory", vid: 0, pid: 0, reportSizeIn: 64, reportSizeOut: 64 };
const modes = arg("loop", arg("modes", "device,memory,udp")).split(",");
const clients = new Map<string, Bench>();
let stop = () => {};
for (const mode of modes) {
  if (mode === "device") clients.set(mode, await clientFor(new DirectDevice(replay), replayedId));
  else if (mode === "memory") {
    const [clientSide, deviceSide] = createConnectionPair(64);
    new CtapHidServer(deviceSide, replay).start();
    clients.set(mode, await clientFor(await CtapHidDevice.open(MEMORY, clientSide), replayedId));
  } else if (mode === "udp") {
    const auth = await authenticatorProcess();
    stop = auth.stop;
    const api = arg("api", "") as "native" | "node:dgram" | "";
    const conn = await UdpHidConnection.open({
      port: auth.port,
      localPort: 0,
      api: api || undefined,
    });
    clients.set(mode, await clientFor(await CtapHidDevice.open(conn.descriptor, conn)));
  } else throw new Error(`unknown mode ${mode}`);
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** `--idle MS`: a pause after every operation, as a real authenticator's signing time is. */
const idleMs = Number(arg("idle", "0"));
const pause = () => new Promise((r) => setTimeout(r, idleMs));

async function batch({ client, request }: Bench, ops: number): Promise<number> {
  const c0 = cpuUs();
  for (let i = 0; i < ops; i++) {
    const sel = await client.getAssertion(request());
    sel.getResponse(0);
    if (idleMs) await pause();
  }
  return (cpuUs() - c0) / ops;
}

/** The pauses alone, subtracted from every batch when `--idle` is given. */
const idleClient = {
  client: { getAssertion: () => Promise.resolve({ getResponse: () => {} }) },
  request: () => ({}),
} as unknown as Bench;

if (process.argv.includes("--loop")) {
  const client = clients.get(modes[0])!;
  const until = performance.now() + Number(arg("seconds", "10")) * 1000;
  let n = 0;
  while (performance.now() < until) {
    await batch(client, 100);
    n += 100;
  }
  console.log(`${modes[0]}: ${n} getAssertions`);
} else {
  const batches = Number(arg("batches", "15"));
  const ops = Number(arg("ops", "200"));
  const samples = new Map(modes.map((m) => [m, [] as number[]]));
  for (const c of clients.values()) await batch(c, ops); // warm-up
  for (let b = 0; b < batches; b++) {
    const idle = idleMs ? await batch(idleClient, ops) : 0;
    for (const m of modes) samples.get(m)!.push(await batch(clients.get(m)!, ops) - idle);
  }
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun.version}`;
  for (const [m, s] of samples) {
    s.sort((a, b) => a - b);
    const label = (m === "udp" ? `udp (${arg("api", "default")})` : m) +
      (idleMs ? `, ${idleMs} ms pauses` : "");
    console.log(
      `${runtime} ${label.padEnd(18)} CPU µs per getAssertion: median ${
        s[s.length >> 1].toFixed(1)
      }  (min ${s[0].toFixed(1)}, max ${s[s.length - 1].toFixed(1)})`,
    );
  }
}
stop();
process.exit(0);
