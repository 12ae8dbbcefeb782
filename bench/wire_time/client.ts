/**
 * Large-blob wire time (issue 15 goal 4: a 4 KB large-blob array read or written costs no
 * more than the wire time plus 10 %), one runtime per run:
 *   node_modules/.bin/deno run -A bench/wire_time/client.ts
 *   node_modules/.bin/bun bench/wire_time/client.ts
 * (`npm run bench -- wiretime` runs both and prints one table.)
 *
 * The path a user takes to a USB key: loadHidApi({ path }) (the gcc-built fake libhidapi),
 * openDevice (CTAPHID_INIT), Ctap2.create (getInfo, once, not timed), then LargeBlobs
 * writeBlobArray / readBlobArray of a 4096-byte serialized array (maxSerializedLargeBlobArray
 * of the VirtualAuthenticator, as a YubiKey 5 reports it; maxMsgSize 1200, so 1136-byte
 * fragments). The authenticator runs in a process of its own (bench/wire_time/authenticator.ts)
 * and the fake paces the pipe like USB full speed: one 64-byte report per 1 ms frame each
 * way (tests/fixtures/fake_hidapi.c says how).
 *
 * Wire time: one frame per report of the fewest reports the spec allows for these bytes
 * (tests/helpers/large_blob_wire.ts: ⌊L/F⌋+1 reads, ⌈L/F⌉ writes of F = maxMsgSize − 64,
 * request and response of each round trip back to back), i.e. the CTAP round trips are part
 * of it, getInfo and channel setup are not. Printed per operation (medians of WIRE_REPS runs,
 * default 9, paced and unpaced runs alternating so both see the same load):
 *   reports out/in and frames used (the fake's counters) against the minimum, frames spanned
 *   (first to last frame used, idle frames included), the authenticator's own processing time
 *   (its processCbor, timed in its process), the paced wall time, the same operation unpaced
 *   (no wire: stack + loopback UDP + authenticator), and the ratio
 *   (measured − authenticator) / wire; and where the time between frames goes (the fake's
 *   latency counters, mean and max over all runs): the client's turnaround from a hid_write
 *   returning to the next one of the same message (OUT→OUT) and from reading a response to
 *   writing the next request (IN→OUT), and the authenticator's from a request report to its
 *   first answer. A frame is lost when one of them exceeds what is left of the frame.
 * A second authenticator with a PIN gives the write with a pinUvAuthParam per fragment and
 * the token acquisition it needs (no minimum computed for that one).
 *
 * Prints `WIRETIME {json}` lines (BENCH_JSON=1) or a table.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fakeHidapi } from "../_native.ts";
import { loadHidApi } from "../../ffi/hidapi.ts";
import { Ctap2 } from "../../src/ctap2/base.ts";
import { LargeBlobs } from "../../src/ctap2/blob.ts";
import { ClientPin } from "../../src/ctap2/pin.ts";
import { openDevice } from "../../src/hid/mod.ts";
import { repoRoot } from "../../tests/helpers/build_fixture.ts";
import {
  arrayOfSize,
  readRoundTrips,
  type RoundTrip,
  wireCount,
  writeRoundTrips,
} from "../../tests/helpers/large_blob_wire.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const RUNTIME = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun.version}`;
// 1000: bInterval 1, as YubiKeys; WIRE_FRAME_US=5000 models keys polled every 5 ms (the
// Trussed usbd-ctaphid class of Nitrokey 3 and Solo 2).
const FRAME_US = Number(process.env.WIRE_FRAME_US ?? 1000);
const REPS = Number(process.env.WIRE_REPS ?? 9);
const SIZE = 4096;

/** One result row (times in ms). */
interface Row {
  readonly runtime: string;
  readonly op: string;
  readonly roundTrips: number | null;
  readonly reportsOut: number;
  readonly reportsIn: number;
  readonly minReportsOut: number | null;
  readonly minReportsIn: number | null;
  readonly frames: number;
  readonly minFrames: number | null;
  readonly spanFrames: number;
  readonly wireMs: number | null;
  readonly authMs: number;
  readonly measuredMs: number;
  readonly unpacedMs: number;
  readonly ratio: number | null;
  /** The client's turnaround (µs) between back-to-back OUT reports: median of the means, max. */
  readonly outOut: Latency | null;
  /** The client's turnaround (µs) from reading a response to writing the next request. */
  readonly inOut: Latency | null;
  /** The authenticator's (µs): an OUT report handed to it → its first report back. */
  readonly reply: Latency | null;
}

/** A latency of the fake's counters over the runs: median of the per-run means, overall max. */
interface Latency {
  readonly meanUs: number;
  readonly maxUs: number;
}
const rows: Row[] = [];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The authenticator process and its processing-time counter. */
interface Authenticator {
  readonly port: number;
  /** ms spent in processCbor since the last call. */
  stats(): Promise<number>;
  stop(): void;
}

async function startAuthenticator(pin?: string): Promise<Authenticator> {
  const script = join(repoRoot, "bench", "wire_time", "authenticator.ts");
  const extra = pin ? ["--pin", pin] : [];
  const bun = join(repoRoot, "node_modules", ".bin", "bun");
  const [cmd, argv] = spawnSync(bun, ["--version"]).status === 0
    ? [bun, [script, ...extra]]
    : [join(repoRoot, "node_modules", ".bin", "deno"), ["run", "-A", script, ...extra]];
  const child: ChildProcess = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"] });
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const port = await Promise.race([
    next().then(Number),
    new Promise<never>((_, reject) => child.once("error", reject)),
  ]);
  return {
    port,
    async stats() {
      const line = next();
      child.stdin!.write("stats\n");
      return JSON.parse(await line).ms;
    },
    stop() {
      child.stdin!.end();
    },
  };
}

const fake = await fakeHidapi();
const api = await loadHidApi({ path: fake.path });

/** A key behind the fake, forwarding to `auth`, opened and getInfo'd unpaced. */
async function open(auth: Authenticator) {
  fake.pace(0);
  fake.forwardTo(auth.port);
  const device = await openDevice(fake.devicePath, api);
  return { device, ctap: await Ctap2.create(device) };
}

/** Collects one fake latency counter ("paced_reply_gap"…) over the paced runs. */
class LatencyCounter {
  readonly #means: number[] = [];
  #max = 0;
  constructor(readonly name: string) {}
  /** Reads the counter after a run (before the next resetFrames). */
  sample(): void {
    const n = fake.stat(`${this.name}s`);
    if (n === 0) return;
    this.#means.push(fake.stat(`${this.name}_us`) / n);
    this.#max = Math.max(this.#max, fake.stat(`${this.name}_max_us`));
  }
  get result(): Latency | null {
    return this.#means.length ? { meanUs: median(this.#means), maxUs: this.#max } : null;
  }
}

/**
 * Times `op` paced and unpaced, alternating, REPS times each (after one unpaced warm-up),
 * reading the fake's frame counters and the authenticator's processing time of each paced run.
 */
async function measure(
  auth: Authenticator,
  op: string,
  trips: readonly RoundTrip[] | undefined,
  run: () => Promise<unknown>,
): Promise<void> {
  fake.pace(0);
  await run();
  const paced: number[] = [], unpaced: number[] = [], authMs: number[] = [], ratio: number[] = [];
  const spans: number[] = [];
  const outOut = new LatencyCounter("paced_out_out_gap");
  const inOut = new LatencyCounter("paced_in_out_gap");
  const reply = new LatencyCounter("paced_reply_gap");
  const min = trips ? wireCount(trips) : undefined;
  const wireMs = min ? (min.frames * FRAME_US) / 1000 : undefined;
  let used = { out: 0, in: 0, frames: 0 };
  for (let r = 0; r < REPS; r++) {
    fake.pace(0);
    let t0 = performance.now();
    await run();
    unpaced.push(performance.now() - t0);
    fake.pace(FRAME_US);
    fake.resetFrames();
    await auth.stats();
    t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    const a = await auth.stats();
    const now = {
      out: fake.stat("paced_out"),
      in: fake.stat("paced_in"),
      frames: fake.stat("paced_frames"),
    };
    if (r > 0 && JSON.stringify(now) !== JSON.stringify(used)) {
      throw new Error(
        `${op}: the pipe carried ${JSON.stringify(now)}, before ${JSON.stringify(used)}`,
      );
    }
    used = now;
    spans.push(fake.stat("paced_span"));
    for (const c of [outOut, inOut, reply]) c.sample();
    paced.push(ms);
    authMs.push(a);
    if (wireMs) ratio.push((ms - a) / wireMs);
  }
  fake.pace(0);
  rows.push({
    runtime: RUNTIME,
    op,
    roundTrips: min?.roundTrips ?? null,
    reportsOut: used.out,
    reportsIn: used.in,
    minReportsOut: min?.reportsOut ?? null,
    minReportsIn: min?.reportsIn ?? null,
    frames: used.frames,
    minFrames: min?.frames ?? null,
    spanFrames: median(spans),
    wireMs: wireMs ?? null,
    authMs: median(authMs),
    measuredMs: median(paced),
    unpacedMs: median(unpaced),
    ratio: ratio.length ? median(ratio) : null,
    outOut: outOut.result,
    inOut: inOut.result,
    reply: reply.result,
  });
}

const array = arrayOfSize(SIZE);
{
  const auth = await startAuthenticator();
  const { device, ctap } = await open(auth);
  const blobs = new LargeBlobs(ctap);
  const f = ctap.info.maxMsgSize;
  await measure(
    auth,
    "write 4 KB array (LargeBlobs.writeBlobArray)",
    writeRoundTrips(SIZE, f),
    () => blobs.writeBlobArray(array),
  );
  await measure(
    auth,
    "read 4 KB array (LargeBlobs.readBlobArray)",
    readRoundTrips(SIZE, f),
    () => blobs.readBlobArray(),
  );
  await device.close();
  auth.stop();
}
{
  const auth = await startAuthenticator("1234");
  const { device, ctap } = await open(auth);
  const pin = new ClientPin(ctap);
  const lbw = ClientPin.PERMISSION.LARGE_BLOB_WRITE;
  await measure(
    auth,
    "PIN token with lbw (ClientPin.getPinToken)",
    undefined,
    () => pin.getPinToken("1234", lbw),
  );
  const blobs = new LargeBlobs(ctap, pin.protocol, await pin.getPinToken("1234", lbw));
  await measure(
    auth,
    "write 4 KB array with the token (pinUvAuthParam per fragment)",
    writeRoundTrips(SIZE, ctap.info.maxMsgSize, pin.protocol.version === 2 ? 32 : 16),
    () => blobs.writeBlobArray(array),
  );
  await device.close();
  auth.stop();
}

if (process.env.BENCH_JSON === "1") {
  for (const r of rows) console.log(`WIRETIME ${JSON.stringify(r)}`);
} else {
  const n = (x: number | null, d = 0) => (x === null ? "—" : x.toFixed(d));
  const lat = (l: Latency | null) => (l ? `${n(l.meanUs)} (${n(l.maxUs)})` : "—");
  console.log(`${RUNTIME}, ${FRAME_US} µs frames, medians of ${REPS}`);
  for (const r of rows) {
    console.log(
      `${r.op} | trips ${n(r.roundTrips)} | reports out ${r.reportsOut}/${
        n(r.minReportsOut)
      } in ${r.reportsIn}/${n(r.minReportsIn)} | frames ${r.frames}/${n(r.minFrames)} span ${
        n(r.spanFrames)
      } | wire ${n(r.wireMs, 1)} ms | authenticator ${n(r.authMs, 2)} ms | measured ${
        n(r.measuredMs, 2)
      } ms | unpaced ${n(r.unpacedMs, 2)} ms | (measured − auth)/wire ${
        n(r.ratio, 3)
      } | µs mean (max): client OUT→OUT ${lat(r.outOut)}, IN→OUT ${lat(r.inOut)}, authenticator ${
        lat(r.reply)
      }`,
    );
  }
}
process.exit(0);
