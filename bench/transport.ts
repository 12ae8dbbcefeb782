/**
 * CTAPHID transport overhead (issue 15 goal 1), one runtime per run:
 *   node_modules/.bin/deno run -A --unstable-net bench/transport.ts
 *   node_modules/.bin/bun bench/transport.ts
 * (`npm run bench -- transport` runs both and prints one table.)
 *
 * Per connection type, the runtime's own round trip of one 64-byte report (the floor) and a
 * CTAPHID PING of 8 bytes through CtapHidDevice over our connection (one report each way) are
 * timed in alternating batches, so both see the same machine load; the overhead is the median
 * of the paired per-batch differences. The far end answers at once and does no CTAPHID work:
 *   UDP: a C reflector process (bench/udp_reflector.c) sends each datagram back; a reflected
 *        PING request is a valid PING response;
 *   in-memory: a task on the other end of createConnectionPair writes back what it reads;
 *   hidapi: the gcc-built fake libhidapi echoes each report into its own socket at once.
 * Then hidapi at USB pacing (the fake delivers each reply on the next 1 ms frame): the time
 * from the native read returning to the reader's promise resolving, and the CPU a pending read
 * costs while nothing arrives.
 *
 * Prints `TRANSPORT {json}` lines (BENCH_JSON=1) or a table.
 * @module
 */
import dgram from "node:dgram";
import process from "node:process";
import { fakeHidapi, startReflector } from "./_native.ts";
import { loadHidApi } from "../ffi/hidapi.ts";
import { cString } from "../ffi/runtime.ts";
import {
  createConnectionPair,
  CTAPHID,
  CtapHidDevice,
  type DatagramApi,
  type HidConnection,
  UdpHidConnection,
} from "../src/hid/mod.ts";
import { nativeDatagramBackend } from "../src/hid/datagram.ts";
import { fragment } from "../src/hid/framing.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const RUNTIME = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun.version}`;
const PACED = "hidapi at USB pacing (1 ms frames): report arrival → reader resumes";
const IDLE_OPEN = "hidapi idle, device open, nobody reading: CPU µs per second";
const IDLE_READING = "hidapi idle, a read waiting for a report: CPU µs per second";
const ROUNDS = Number(process.env.TRANSPORT_ROUNDS ?? 60);
/** 1-second windows per idle CPU figure (the sleeping process is measured before and after). */
const IDLE_WINDOWS = Number(process.env.TRANSPORT_IDLE_WINDOWS ?? 3);
/** `TRANSPORT_ONLY=hidapi` (or udp, memory) runs one group, for quick runs while iterating. */
const ONLY = process.env.TRANSPORT_ONLY;
const want = (group: "udp" | "memory" | "hidapi") => !ONLY || ONLY === group;
const BATCH_MS = 4;

const CID = 0x11223344;
const DATA = new Uint8Array(8).fill(0x42);
const REQUEST = fragment(CID, CTAPHID.PING, DATA)[0];

/** One result row. */
interface Row {
  readonly runtime: string;
  readonly group: string;
  readonly floor: string;
  readonly floorUs: number;
  readonly stackUs: number;
  readonly overheadUs: number;
  readonly stackCpuUs: number;
}
const rows: Row[] = [];

type Op = () => Promise<unknown> | unknown;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function batch(op: Op, n: number): Promise<{ us: number; cpu: number }> {
  const c0 = cpuUs();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op();
  return { us: ((performance.now() - t0) * 1000) / n, cpu: (cpuUs() - c0) / n };
}

/** Floor and stack in alternating batches; medians of the batches and of the differences. */
async function paired(group: string, floorName: string, floor: Op, stack: Op): Promise<void> {
  // Warm-up (JIT) and batch sizing: a batch takes about BATCH_MS.
  let n = 16;
  for (const op of [floor, stack, floor, stack]) {
    while ((await batch(op, n)).us * n < BATCH_MS * 1000 && n < 1 << 16) n *= 2;
  }
  const f: number[] = [], s: number[] = [], d: number[] = [], c: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await batch(floor, n);
    const b = await batch(stack, n);
    f.push(a.us);
    s.push(b.us);
    d.push(b.us - a.us);
    c.push(b.cpu);
  }
  rows.push({
    runtime: RUNTIME,
    group,
    floor: floorName,
    floorUs: median(f),
    stackUs: median(s),
    overheadUs: median(d),
    stackCpuUs: median(c),
  });
}

/** A bare Worker that runs one hid_read_timeout per message and posts the result back. */
function rawReadWorker(libPath: string): Worker {
  const src = `
    import { dlopen } from "bun:ffi";
    const read = dlopen(${JSON.stringify(libPath)}, {
      hid_read_timeout: { args: ["ptr", "buffer", "usize", "i32"], returns: "i32" },
    }).symbols.hid_read_timeout;
    const buf = new Uint8Array(65);
    self.onmessage = (ev) => self.postMessage(read(ev.data, buf, 65, 1000));
  `;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  return new Worker(url, { type: "module" });
}

/**
 * A bare Worker that runs one hid_read_timeout per request through shared memory: it sleeps in
 * Atomics.wait on control[0], reads, then sets control[1] and notifies (the JS thread awaits
 * Atomics.waitAsync on it).
 */
function rawAtomicsWorker(libPath: string, dev: number, control: Int32Array): Worker {
  const src = `
    import { dlopen } from "bun:ffi";
    const read = dlopen(${JSON.stringify(libPath)}, {
      hid_read_timeout: { args: ["ptr", "buffer", "usize", "i32"], returns: "i32" },
    }).symbols.hid_read_timeout;
    const buf = new Uint8Array(65);
    self.onmessage = (ev) => {
      const c = ev.data;
      for (;;) {
        Atomics.wait(c, 0, 0);
        if (Atomics.load(c, 0) === 2) break;
        read(${dev}, buf, 65, 1000);
        Atomics.store(c, 0, 0);
        Atomics.store(c, 1, 1);
        Atomics.notify(c, 1);
      }
    };
  `;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const w = new Worker(url, { type: "module" });
  w.postMessage(control);
  return w;
}

/** A CtapHidDevice on `conn` with a fixed channel (the reflectors cannot answer INIT). */
function device(conn: HidConnection): CtapHidDevice {
  return new CtapHidDevice(
    { path: "bench", vid: 0, pid: 0, reportSizeIn: 64, reportSizeOut: 64 },
    conn,
    { cid: CID, ctaphidVersion: 2, deviceVersion: [1, 0, 0], capabilities: 0 },
  );
}

const ping = async (dev: CtapHidDevice) => {
  const echo = await dev.call(CTAPHID.PING, DATA);
  if (echo.length !== DATA.length) throw new Error("bad PING echo");
};

// ------------------------------------------------------------------ UDP

const reflector = want("udp") ? await startReflector() : undefined;

/** The runtime's own round trip with each datagram API, written the fastest way it allows. */
async function rawUdp(api: string): Promise<Op> {
  const port = reflector!.port;
  if (api === "node:dgram") {
    // In Deno, the small receive buffer our connection also asks for (see src/hid/datagram.ts).
    const s = g.Deno
      ? dgram.createSocket({ type: "udp4", recvBufferSize: 4097 })
      : dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    // Connected, as our connection is: a send to an address waits for an asynchronous
    // lookup, even of an IP literal, and a connected send does not.
    await new Promise<void>((r) => s.connect(port, "127.0.0.1", () => r()));
    s.unref();
    let done: (m: unknown) => void = () => {};
    s.on("message", (m) => done(m));
    return () =>
      new Promise((r) => {
        done = r;
        s.send(REQUEST);
      });
  }
  if (api === "bun") {
    let done: (m: unknown) => void = () => {};
    const s = await g.Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: { data: (_s: unknown, m: Uint8Array) => done(m) },
    });
    s.unref?.();
    return () =>
      new Promise((r) => {
        done = r;
        s.send(REQUEST, port, "127.0.0.1");
      });
  }
  const s = g.Deno.listenDatagram({ transport: "udp", port: 0, hostname: "127.0.0.1" });
  const to = { transport: "udp", hostname: "127.0.0.1", port };
  const buf = new Uint8Array(2048);
  return async () => {
    await s.send(REQUEST, to);
    await s.receive(buf);
  };
}

const native = nativeDatagramBackend();
const udpApis: [DatagramApi, string, string][] = [["node:dgram", "node:dgram", "node:dgram"]];
if (native) {
  udpApis.push(["native", native, native === "bun" ? "Bun.udpSocket" : "Deno.listenDatagram"]);
}
for (const [api, raw, label] of reflector ? udpApis : []) {
  const conn = await UdpHidConnection.open({ port: reflector!.port, localPort: 0, api });
  const dev = device(conn);
  await paired(`UDP (${label})`, `${label} 64 B round trip`, await rawUdp(raw), () => ping(dev));
  if (raw === "deno") {
    // A connection must keep receiving (unsolicited reports, stale replies to drain), so its
    // receive is pending before the reply arrives; Deno completes such a receive a loop turn
    // later than one issued after the reply is already there (the sequential floor above).
    const s = g.Deno.listenDatagram({ transport: "udp", port: 0, hostname: "127.0.0.1" });
    const to = { transport: "udp", hostname: "127.0.0.1", port: reflector!.port };
    const buf = new Uint8Array(2048);
    await paired(`UDP (${label})`, `${label}, receive pending before the send`, async () => {
      const r = s.receive(buf);
      await s.send(REQUEST, to);
      await r;
    }, () => ping(dev));
    s.close();
  }
  await conn.close();
}
reflector?.stop();

// ------------------------------------------------------------------ in-memory

if (want("memory")) {
  const [client, far] = createConnectionPair();
  void (async () => {
    for (;;) await far.writePacket(await far.readPacket());
  })().catch(() => {});
  const dev = device(client);
  await paired("in-memory", "writePacket + readPacket, echoing task", async () => {
    await client.writePacket(REQUEST);
    await client.readPacket();
  }, () => ping(dev));
  client.close();
}

// ------------------------------------------------------------------ hidapi

const fake = await fakeHidapi();
if (want("hidapi")) {
  const s = fake.symbols;
  const raw = s.hid_open_path(cString(fake.devicePath)) as number;
  const out = new Uint8Array(65);
  out.set(REQUEST, 1);
  const inBuf = new Uint8Array(65);
  const rawSync = () => {
    s.hid_write(raw, out, out.length);
    if ((s.hid_read_timeout(raw, inBuf, inBuf.length, 1000) as number) !== 64) {
      throw new Error("raw read");
    }
  };
  const api = await loadHidApi({ path: fake.path });
  const conn = await api.open(fake.devicePath);
  const dev = device(conn);
  await paired(
    "hidapi (fake, answers at once)",
    "hid_write + hid_read_timeout on the JS thread",
    rawSync,
    () => ping(dev),
  );
  if (conn.offThreadWrites) {
    console.error("note: a write took longer than syncWriteLimitMs: writes went off the JS thread");
  }
  if (g.Deno) {
    await paired(
      "hidapi (fake, answers at once)",
      "hid_write + hid_read_timeout, Deno nonblocking FFI",
      async () => {
        await s.hid_write_nb(raw, out, out.length);
        await s.hid_read_timeout_nb(raw, inBuf, inBuf.length, 1000);
      },
      () => ping(dev),
    );
  }
  s.hid_close(raw);

  // USB pacing: wake-up latency per report against the runtime's own ways to be woken by a
  // blocking read (Deno: a nonblocking FFI call; Bun: a bare Worker answering by postMessage,
  // or by Atomics.notify to an Atomics.waitAsync, the faster of the two in Bun 1.4). Floors and
  // the stack run in alternating batches (as paired() does): single runs moved by 2x.
  fake.pace(1000);
  const WAKE_BATCH = 10;
  const wakeBatch = async (
    read: () => Promise<unknown> | unknown,
    write: () => unknown,
    n: number,
  ) => {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      await write();
      await read();
      const now = fake.clockNs();
      lat.push((now - fake.lastReadNs()) / 1000);
    }
    return median(lat);
  };
  const raw2 = s.hid_open_path(cString(fake.devicePath)) as number;
  const write2 = () => s.hid_write(raw2, out, out.length);
  const floors: [string, () => Promise<unknown>][] = [];
  const workers: Worker[] = [];
  let quitAtomics: (() => void) | undefined;
  if (g.Deno) {
    floors.push([
      "raw nonblocking FFI read",
      () => s.hid_read_timeout_nb(raw2, inBuf, inBuf.length, 1000),
    ]);
  } else {
    const posting = rawReadWorker(fake.path);
    let done: () => void = () => {};
    posting.onmessage = () => done();
    floors.push([
      "raw hid_read_timeout on a bare Worker, postMessage",
      () =>
        new Promise<void>((r) => {
          done = r;
          posting.postMessage(raw2);
        }),
    ]);
    const control = new Int32Array(new SharedArrayBuffer(8));
    const notifying = rawAtomicsWorker(fake.path, raw2, control);
    floors.push([
      "raw hid_read_timeout on a bare Worker, Atomics.waitAsync",
      async () => {
        Atomics.store(control, 1, 0);
        Atomics.store(control, 0, 1);
        Atomics.notify(control, 0);
        // deno-lint-ignore no-explicit-any
        const w = (Atomics as any).waitAsync(control, 1, 0);
        if (w.async) await w.value;
      },
    ]);
    workers.push(posting, notifying);
    quitAtomics = () => {
      Atomics.store(control, 0, 2);
      Atomics.notify(control, 0);
    };
    rows.push({
      runtime: RUNTIME,
      group: PACED,
      floor: "blocking read on the JS thread (freezes the event loop)",
      floorUs: await wakeBatch(
        () => s.hid_read_timeout(raw2, inBuf, inBuf.length, 1000),
        write2,
        250,
      ),
      stackUs: NaN,
      overheadUs: NaN,
      stackCpuUs: NaN,
    });
  }
  const stackRead = () => conn.readPacket();
  const stackWrite = () => conn.writePacket(REQUEST);
  for (const [, read] of floors) await wakeBatch(read, write2, 50); // warm-up
  await wakeBatch(stackRead, stackWrite, 50);
  const fw: number[][] = floors.map(() => []);
  const sw: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, [, read]] of floors.entries()) {
      fw[i].push(await wakeBatch(read, write2, WAKE_BATCH));
    }
    sw.push(await wakeBatch(stackRead, stackWrite, WAKE_BATCH));
  }
  quitAtomics?.();
  for (const w of workers) w.terminate();
  s.hid_close(raw2);
  const paced = await batch(() => ping(dev), 200);
  for (const [i, [name]] of floors.entries()) {
    rows.push({
      runtime: RUNTIME,
      group: PACED,
      floor: name,
      floorUs: median(fw[i]),
      stackUs: median(sw),
      overheadUs: median(sw.map((x, r) => x - fw[i][r])),
      stackCpuUs: paced.cpu,
    });
  }

  // CPU µs per second: a sleeping process (the runtime's own idle cost), the device open with
  // nobody reading, and a read waiting for a report that never comes (a wake-up per slice).
  fake.pace(0);
  const cpuPerSecond = async (what: () => Promise<unknown>) => {
    const c0 = cpuUs();
    const t0 = performance.now();
    await what();
    return (cpuUs() - c0) / ((performance.now() - t0) / 1000);
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Medians of several 1 s windows: a single window catches the runtime's own garbage
  // collection or JIT work now and then (single windows read 0 to 15 ms/s on Bun).
  const windows = async (what: () => Promise<unknown>) => {
    const w: number[] = [];
    for (let i = 0; i < IDLE_WINDOWS; i++) w.push(await cpuPerSecond(what));
    return w;
  };
  await conn.close();
  await sleep(2000); // let the garbage of the runs above be collected first
  const before = await windows(() => sleep(1000));
  const conn2 = await api.open(fake.devicePath);
  // Past the 2 s after which Bun stops an idle reader Worker (an idle Worker costs CPU).
  await sleep(3000); // and past its teardown
  const open = median(await windows(() => sleep(1000)));
  // Bun starts its reader Worker again here (once, ~10 ms of CPU): not part of the steady state.
  await conn2.readPacket(AbortSignal.timeout(200)).catch(() => {});
  const reading = median(
    await windows(() => conn2.readPacket(AbortSignal.timeout(1000)).catch(() => {})),
  );
  await conn2.close();
  await sleep(3000);
  const baseline = median([...before, ...(await windows(() => sleep(1000)))]);
  for (const [group, cpu] of [[IDLE_OPEN, open], [IDLE_READING, reading]] as const) {
    rows.push({
      runtime: RUNTIME,
      group,
      floor: "sleeping process (median of 1 s windows)",
      floorUs: baseline,
      stackUs: cpu,
      overheadUs: cpu - baseline,
      stackCpuUs: NaN,
    });
  }
}

if (process.env.BENCH_JSON === "1") {
  for (const r of rows) console.log(`TRANSPORT ${JSON.stringify(r)}`);
} else {
  for (const r of rows) {
    console.log(
      `${r.group} | floor (${r.floor}) ${r.floorUs.toFixed(1)} µs | stack ${
        r.stackUs.toFixed(1)
      } µs | overhead ${r.overheadUs.toFixed(1)} µs | stack CPU ${r.stackCpuUs.toFixed(1)} µs/op`,
    );
  }
}
process.exit(0);
