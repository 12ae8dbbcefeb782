/**
 * Native helpers of the transport benchmarks: the UDP reflector (bench/udp_reflector.c, built
 * with gcc on first use) as a separate process, and the fake libhidapi
 * (tests/fixtures/fake_hidapi.c) with its control functions.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { cString, openLibrary } from "../ffi/runtime.ts";
import { buildFixture, repoRoot } from "../tests/helpers/build_fixture.ts";

/** A running reflector: every datagram sent to `port` comes straight back. */
export interface Reflector {
  readonly port: number;
  stop(): void;
}

function buildReflector(): string {
  const source = join(repoRoot, "bench", "udp_reflector.c");
  const hash = createHash("sha256").update(readFileSync(source)).digest("hex").slice(0, 16);
  const dir = join(repoRoot, ".cache", "bench");
  const out = join(dir, `udp_reflector-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync("gcc", ["-O2", "-Wall", "-o", tmp, source], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(
      `Cannot build bench/udp_reflector.c (install gcc: apt-get install -y gcc): ${
        r.error?.message ?? r.stderr
      }`,
    );
  }
  renameSync(tmp, out);
  return out;
}

/** Starts the reflector process; it exits when this process closes its stdin. */
export async function startReflector(): Promise<Reflector> {
  const child: ChildProcess = spawn(buildReflector(), [], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once("data", (d) => resolve(Number(String(d).trim())));
  });
  // deno-lint-ignore no-explicit-any
  (child as any).unref?.();
  return {
    port,
    stop: () => {
      child.stdin!.end();
      child.kill();
    },
  };
}

/** The fake libhidapi's path and its control functions (same library, same state). */
export async function fakeHidapi() {
  const path = buildFixture("fake_hidapi");
  const lib = await openLibrary([path], {
    fake_hidapi_configure: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_set_udp_port: { parameters: ["i32"], result: "void" },
    fake_hidapi_fault: { parameters: ["buffer", "i32"], result: "i32" },
    fake_hidapi_reset: { parameters: [], result: "void" },
    fake_hidapi_reset_frames: { parameters: [], result: "void" },
    fake_hidapi_stat: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_clock_ns: { parameters: [], result: "i64" },
    fake_hidapi_last_read_ns: { parameters: [], result: "i64" },
    // Raw hidapi calls, for the floors: on the JS thread, and Deno's off-thread flavour.
    hid_open_path: { parameters: ["buffer"], result: "ptr" },
    hid_close: { parameters: ["ptr"], result: "void" },
    hid_write: { parameters: ["ptr", "buffer", "usize"], result: "i32" },
    hid_read_timeout: { parameters: ["ptr", "buffer", "usize", "i32"], result: "i32" },
    hid_write_nb: {
      symbol: "hid_write",
      parameters: ["ptr", "buffer", "usize"],
      result: "i32",
      nonblocking: true,
    },
    hid_read_timeout_nb: {
      symbol: "hid_read_timeout",
      parameters: ["ptr", "buffer", "usize", "i32"],
      result: "i32",
      nonblocking: true,
    },
  });
  const s = lib.symbols;
  const device = ["/dev/hidraw0", "0x1050", "0x0407", "SN", "0x100", "Yubico", "Key"]
    .concat(["0xf1d0", "0x01", "0", "1"]).join("\t");
  s.fake_hidapi_reset();
  if (s.fake_hidapi_configure(cString(device)) !== 1) throw new Error("fake_hidapi_configure");
  s.fake_hidapi_set_udp_port(0); // built-in loopback: INIT answered, the rest echoed
  return {
    path,
    devicePath: "/dev/hidraw0",
    symbols: s,
    /** USB frame pacing in µs (0: no pacing): of the loopback replies, or of forwarded reports. */
    pace(us: number): void {
      s.fake_hidapi_fault(cString("pace_us"), us);
    },
    /** Forwards reports to a UDP authenticator on `port` (devices opened from now on). */
    forwardTo(port: number): void {
      s.fake_hidapi_set_udp_port(port);
    },
    /** A counter of the fake (fake_hidapi_stat), e.g. "paced_frames". */
    stat(name: string): number {
      const v = s.fake_hidapi_stat(cString(name)) as number;
      if (v === -1) throw new Error(`fake libhidapi has no counter ${name}`);
      return v;
    },
    /** Zeroes the paced-forwarding frame counters. */
    resetFrames(): void {
      s.fake_hidapi_reset_frames();
    },
    clockNs: (): number => s.fake_hidapi_clock_ns() as number,
    lastReadNs: (): number => s.fake_hidapi_last_read_ns() as number,
  };
}
