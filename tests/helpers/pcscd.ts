/**
 * The smart-card test bed: a real pcscd with the vsmartcard-vpcd reader driver, so tests put
 * the virtual authenticator into "Virtual PCD 00 00" (and "… 00 01") with `connectVpcd` and
 * talk to it through the real PC/SC stack.
 *
 * Preferred: a PRIVATE pcscd per test process (`pcscd -f -c DIR`, its own reader.conf.d entry
 * on free TCP ports). pcsc-lite 1.9.9's daemon ignores PCSCLITE_CSOCK_NAME (only the client
 * library reads it), so the daemon runs in its own mount namespace (`unshare -m`, root) with
 * a private directory bound over /run/pcscd; clients reach its socket through
 * PCSCLITE_CSOCK_NAME = DIR/pcscd.comm. A system pcscd, if any, is untouched.
 * Otherwise (not root, no unshare, or FIDO2_PCSCD=system): the system pcscd with the
 * distribution's vpcd entry (port 35963), started here when it is not running and then
 * stopped again; a running one is never stopped.
 *
 * libpcsclite caches the socket name at its first use in a process, so there is one bed per
 * process: {@linkcode usePcscd} returns the same one until the last {@linkcode releasePcscd}.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { repoRoot } from "./build_fixture.ts";

/** The vpcd driver Debian's vsmartcard-vpcd installs. */
export const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/** The daemon and driver, scriptor, the C client's headers, python-fido2's NFC client. */
const PACKAGES = [
  "pcscd",
  "vsmartcard-vpcd",
  "pcsc-tools",
  "libpcsclite-dev",
  "gcc",
  "python3-fido2",
  "python3-pyscard",
];

/** The test bed could not be provided; the message says what is missing and how to fix it. */
export class PcscdUnavailable extends Error {
  override name = "PcscdUnavailable";
}

/** A pcscd with two vpcd reader slots. */
export interface PcscBed {
  /** "private": our own daemon; "started": the system one, started by us; "system": running. */
  readonly kind: "private" | "started" | "system";
  /** Reader names, slot order ("Virtual PCD 00 00", "Virtual PCD 00 01"). */
  readonly readers: readonly [string, string];
  /** The vpcd TCP port of each reader (pass to `connectVpcd({ host, port })`). */
  readonly ports: readonly [number, number];
  /**
   * The address the card connects to (pass to `connectVpcd({ host, port })`): 127.0.0.1, or
   * with a private daemon a loopback address of its own whose route acknowledges at once (see
   * {@linkcode quickAckHost}), which takes an APDU round trip from ~44 ms to ~0.2 ms.
   */
  readonly host: string;
  /**
   * Environment PC/SC clients need (PCSCLITE_CSOCK_NAME for a private daemon). Also set in
   * this process, including the C environment (so an in-process libpcsclite finds the daemon
   * when it first connects; it caches the socket name from then on).
   */
  readonly env: Readonly<Record<string, string>>;
  /** The daemon's log so far (private and started daemons; for failure messages). */
  log(): string;
}

let bed: Promise<PcscBed> | undefined;
let users = 0;
let stopBed: (() => Promise<void>) | undefined;

/** Starts (or shares) the bed; pair each call with {@linkcode releasePcscd}. */
export function usePcscd(): Promise<PcscBed> {
  users++;
  bed ??= start().catch((e) => {
    bed = undefined;
    throw e;
  });
  return bed;
}

/** Drops one user; the last one stops a daemon this process started. */
export async function releasePcscd(): Promise<void> {
  if (users === 0) return;
  if (--users > 0) return;
  const stop = stopBed;
  bed = undefined;
  stopBed = undefined;
  await stop?.();
}

/** Installs the packages the bed needs with apt-get when missing (root only). */
export function ensurePcscPackages(): void {
  const have = (p: string) => spawnSync("dpkg", ["-s", p], { stdio: "ignore" }).status === 0;
  const missing = PACKAGES.filter((p) => !have(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new PcscdUnavailable(
      `Missing ${missing.join(" ")}: run as root, or install them (apt-get install ${
        missing.join(" ")
      })`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      env,
      encoding: "utf8",
    });
  let r = install();
  if (r.status !== 0) {
    spawnSync("apt-get", ["update", "-qq"], { env });
    r = install();
  }
  if (r.status !== 0) {
    throw new PcscdUnavailable(
      `apt-get install ${missing.join(" ")} failed: ${(r.stderr || r.stdout || "").slice(-400)}`,
    );
  }
}

async function start(): Promise<PcscBed> {
  ensurePcscPackages();
  if (!existsSync(VPCD_DRIVER)) throw new PcscdUnavailable(`No vpcd driver at ${VPCD_DRIVER}`);
  const canPrivate = process.getuid?.() === 0 && onPath("unshare") &&
    process.env.FIDO2_PCSCD !== "system";
  if (canPrivate) {
    let last: unknown;
    // A port taken between our probe and the driver's bind fails the reader: try again.
    for (let i = 0; i < 4; i++) {
      try {
        return await startPrivate();
      } catch (e) {
        last = e;
        // Root without CAP_SYS_ADMIN (a restricted container): no namespace, use the system's.
        if (e instanceof PcscdUnavailable && /^unshare: |^mount: /m.test(e.message)) break;
        if (!(e instanceof PortRace)) throw e;
      }
    }
    if (!(last instanceof PcscdUnavailable)) throw last;
  }
  return await startSystem();
}

class PortRace extends Error {}

/** The socket name clients of this process use for every private daemon it starts. */
const STABLE_SOCKET = join(tmpdir(), `fido2-pcscd-${process.pid}.comm`);

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Private daemons started by this process so far (each gets its own loopback address). */
let instances = 0;

/**
 * Starts pcscd; SIGTERM stops it. For a private daemon it runs in its own mount namespace and
 * binds our directory ($1) over /run/pcscd, with our reader.conf.d ($2); with $1 and $2 empty
 * it is the system daemon with the system configuration. A watchdog subshell (which survives
 * a SIGKILL of this shell, as a runtime may send its children at exit) stops the daemon once
 * the test process ($3) is gone and removes the route ($4), the directory ($5) and the stable
 * socket link ($6) if it still points into that directory, so a killed runner leaves nothing
 * behind.
 */
const DAEMON = `
if [ -n "$1" ]; then
  mount --bind "$1" /run/pcscd || exit 1
  pcscd --foreground --info --config "$2" &
else
  pcscd --foreground --info &
fi
pid=$!
(
  trap '' TERM INT HUP
  while kill -0 "$3" 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done
  kill -TERM $pid 2>/dev/null
  i=0
  while kill -0 $pid 2>/dev/null && [ $i -lt 25 ]; do sleep 0.2; i=$((i + 1)); done
  [ -z "$4" ] || ip route del local "$4/32" dev lo table local 2>/dev/null
  [ -z "$5" ] || rm -rf "$5"
  [ -z "$6" ] || [ "$(readlink "$6")" != "$1/pcscd.comm" ] || rm -f "$6"
) </dev/null >/dev/null 2>&1 &
trap 'kill -TERM $pid 2>/dev/null' TERM INT HUP
wait $pid
wait $pid
`;
async function startPrivate(): Promise<PcscBed> {
  const port = await freePortPair();
  const dir = mkdtempSync(join(tmpdir(), "fido2-pcscd-"));
  const conf = join(dir, "reader.conf.d");
  const run = join(dir, "run");
  mkdirSync(conf);
  mkdirSync(run);
  writeFileSync(
    join(conf, "vpcd"),
    `FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:${port}\nLIBPATH ${VPCD_DRIVER}\n` +
      `CHANNELID ${port}\n`,
  );
  mkdirSync("/run/pcscd", { recursive: true });
  const quick = quickAckHost();
  const child = spawn(
    "unshare",
    [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      DAEMON,
      "sh",
      run,
      conf,
      String(
        process.pid,
      ),
      quick?.host ?? "",
      dir,
      STABLE_SOCKET,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const daemon = watch(child);
  const cleanup = async () => {
    await daemon.stop();
    quick?.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await daemon.until(/daemon ready/, 15_000);
  } catch (e) {
    await cleanup();
    throw e;
  }
  if (/Could not initialize connection|init failed/.test(daemon.log())) {
    await cleanup();
    throw new PortRace(`vpcd could not listen on ${port}:\n${daemon.log()}`);
  }
  // libpcsclite reads the socket name once per process: a daemon started later in this process
  // (the next test file) must be reachable under the same name, so clients get a stable link.
  const tmp = `${STABLE_SOCKET}.${Date.now()}`;
  symlinkSync(join(run, "pcscd.comm"), tmp);
  renameSync(tmp, STABLE_SOCKET);
  await exportEnv("PCSCLITE_CSOCK_NAME", STABLE_SOCKET);
  const socket = STABLE_SOCKET;
  stopBed = async () => {
    await cleanup();
    if (readlinkOr(STABLE_SOCKET) === join(run, "pcscd.comm")) {
      rmSync(STABLE_SOCKET, { force: true });
    }
  };
  return {
    kind: "private",
    host: quick?.host ?? "127.0.0.1",
    readers: ["Virtual PCD 00 00", "Virtual PCD 00 01"],
    ports: [port, port + 1],
    env: { PCSCLITE_CSOCK_NAME: socket },
    log: daemon.log,
  };
}

async function startSystem(): Promise<PcscBed> {
  const entry = readdirSync("/etc/reader.conf.d")
    .map((f) => readFileSync(join("/etc/reader.conf.d", f), "utf8"))
    .find((t) => /^\s*LIBPATH\s+\S*libifdvpcd/m.test(t));
  const device = entry?.match(/^\s*DEVICENAME\s+\/dev\/null:(\S+)/m);
  if (!entry || !device) {
    throw new PcscdUnavailable(
      "No vpcd reader in /etc/reader.conf.d: reinstall vsmartcard-vpcd " +
        "(apt-get install --reinstall vsmartcard-vpcd)",
    );
  }
  const port = Number(device[1]);
  const name = entry.match(/^\s*FRIENDLYNAME\s+"([^"]+)"/m)?.[1] ?? "Virtual PCD";
  const base = {
    host: "127.0.0.1",
    readers: [`${name} 00 00`, `${name} 00 01`] as const,
    ports: [port, port + 1] as const,
    env: {},
  };
  await exportEnv("PCSCLITE_CSOCK_NAME", undefined);
  if (existsSync("/run/pcscd/pcscd.comm")) {
    return { ...base, kind: "system", log: () => "(system pcscd: see its journal)" };
  }
  if (process.getuid?.() !== 0) {
    throw new PcscdUnavailable(
      "pcscd is not running and starting it needs root: start it (systemctl start pcscd)",
    );
  }
  const daemon = watch(
    spawn("sh", ["-c", DAEMON, "sh", "", "", String(process.pid), "", ""], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  await daemon.until(/daemon ready/, 15_000);
  stopBed = daemon.stop;
  return { ...base, kind: "started", log: daemon.log };
}

/**
 * Debian 12's vpcd driver (vsmartcard-vpcd 3.3+dfsg-2) writes a message's 2-byte length and
 * its payload as two TCP segments without TCP_NODELAY, so its Nagle holds the payload until
 * the card side acknowledges the length, which Linux delays by ~40 ms (delayed ACK in
 * interactive mode): every APDU costs ~44 ms, whatever the card does. node:net offers no
 * TCP_QUICKACK, but a route can carry `quickack 1`: this adds a /32 local route for a
 * loopback address of its own (127.77-126.x.y), so a card connecting to it is acknowledged
 * at once (measured: SELECT through pcscd 51 ms -> 0.17 ms). Removed at stop or exit; without
 * `ip` (or with FIDO2_PCSCD_QUICKACK=0) the bed uses 127.0.0.1 and the slow path.
 */
function quickAckHost(): { host: string; remove(): void } | undefined {
  if (process.env.FIDO2_PCSCD_QUICKACK === "0" || !onPath("ip")) return undefined;
  // One address per daemon: a stopped daemon's watchdog removes its route a moment later.
  const host = `127.${77 + (instances++ % 50)}.${(process.pid >> 8) & 0xff}.${
    (process.pid & 0xff) || 1
  }`;
  const route = ["local", `${host}/32`, "dev", "lo", "table", "local"];
  spawnSync("ip", ["route", "del", ...route], { stdio: "ignore" }); // a stale one from a crash
  const r = spawnSync("ip", ["route", "add", ...route, "quickack", "1"], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off("exit", remove);
    spawnSync("ip", ["route", "del", ...route], { stdio: "ignore" });
  };
  process.on("exit", remove);
  return { host, remove };
}

/**
 * Sets (or removes) a variable in process.env AND in the C environment, where an in-process
 * libpcsclite reads it with getenv(): Deno's process.env writes through, Bun's does not.
 */
async function exportEnv(name: string, value: string | undefined): Promise<void> {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  if (!("Bun" in globalThis)) return;
  // A computed specifier keeps Deno from resolving Bun's built-in module.
  const ffi = await import(["bun", "ffi"].join(":"));
  const libc = ffi.dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", {
    setenv: { args: ["cstring", "cstring", "i32"], returns: "i32" },
    unsetenv: { args: ["cstring"], returns: "i32" },
  });
  const c = (t: string) => new TextEncoder().encode(t + "\0");
  try {
    if (value === undefined) libc.symbols.unsetenv(c(name));
    else libc.symbols.setenv(c(name), c(value), 1);
  } finally {
    libc.close();
  }
}

/** Follows a daemon's output; stops it with SIGTERM (then SIGKILL) on request or at exit. */
function watch(child: ChildProcess) {
  let log = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const onData = (d: Uint8Array) => {
    log += new TextDecoder().decode(d);
    for (const w of waiters) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const kill = () => {
    if (!exited) child.kill("SIGTERM");
  };
  process.on("exit", kill);
  const gone = new Promise<void>((r) =>
    child.once("exit", () => {
      exited = true;
      process.off("exit", kill);
      for (const w of waiters) w();
      r();
    })
  );
  return {
    log: () => log,
    until(re: RegExp, ms: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(log)) done(resolve);
          else if (exited) done(() => reject(new PcscdUnavailable(`pcscd exited:\n${log}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new PcscdUnavailable(`pcscd not ready in ${ms} ms:\n${log}`))),
          ms,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(): Promise<void> {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Two consecutive free TCP ports (vpcd slot i listens on base + i, on all interfaces). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const a = await listen(0);
    const port = a.port;
    if (port >= 65535) {
      await a.close();
      continue;
    }
    const b = await listen(port + 1).catch(() => undefined);
    await a.close();
    if (b) {
      await b.close();
      return port;
    }
  }
  throw new PcscdUnavailable("No two consecutive free TCP ports found");
}

function listen(port: number): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port, host: "0.0.0.0" }, () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : port,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

// ------------------------------------------------------------------ the PC/SC test client

/** Builds `tests/fixtures/pcsc_apdu.c` against libpcsclite (cached under .cache/fixtures). */
export function buildPcscTool(): string {
  const source = join(repoRoot, "tests", "fixtures", "pcsc_apdu.c");
  const args = ["-O1", "-Wall", "-I/usr/include/PCSC"];
  const hash = createHash("sha256").update(readFileSync(source)).update(args.join("\0")).digest(
    "hex",
  ).slice(0, 16);
  const outDir = join(repoRoot, ".cache", "fixtures");
  const out = join(outDir, `pcsc_apdu-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  const r = spawnSync("gcc", [...args, "-o", tmp, source, "-lpcsclite"], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new PcscdUnavailable(
      `gcc could not build the PC/SC test client (apt-get install gcc libpcsclite-dev): ${
        r.error?.message ?? r.stderr
      }`,
    );
  }
  renameSync(tmp, out);
  return out;
}

/** An error answer of the PC/SC test client: `code` is the PC/SC return value. */
export class PcscCallError extends Error {
  override name = "PcscCallError";
  /** The SCARD_* return code (e.g. 0x80100069 SCARD_W_REMOVED_CARD). */
  readonly code: number;
  /** `code` is the PC/SC return value, `message` the client's text. */
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A PC/SC client process (the C tool, not this library's binding) on the bed's pcscd: one
 * request line, one answer line.
 */
export class PcscClient {
  readonly #child: ChildProcess;
  #buffer = "";
  readonly #lines: string[] = [];
  #wake?: () => void;
  #exited = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.on("data", (d: Uint8Array) => {
      this.#buffer += new TextDecoder().decode(d);
      let i;
      while ((i = this.#buffer.indexOf("\n")) >= 0) {
        this.#lines.push(this.#buffer.slice(0, i));
        this.#buffer = this.#buffer.slice(i + 1);
      }
      this.#wake?.();
    });
    child.once("exit", () => {
      this.#exited = true;
      this.#wake?.();
    });
  }

  /** Starts a client with the bed's environment. */
  static async open(bed: PcscBed): Promise<PcscClient> {
    const child = spawn(buildPcscTool(), [], {
      env: { ...process.env, ...bed.env },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const client = new PcscClient(child);
    await client.#answer();
    return client;
  }

  async #answer(): Promise<string> {
    while (this.#lines.length === 0) {
      if (this.#exited) throw new Error("PC/SC test client exited");
      await new Promise<void>((r) => (this.#wake = r));
    }
    const line = this.#lines.shift()!;
    if (line.startsWith("OK")) return line.slice(3);
    const m = line.match(/^ERR ([0-9a-f]+) (.*)$/);
    throw new PcscCallError(m ? parseInt(m[1], 16) : -1, m ? m[2] : line);
  }

  /** Sends one request line and returns the payload after "OK ". */
  call(line: string): Promise<string> {
    this.#child.stdin!.write(line + "\n");
    return this.#answer();
  }

  /** SCardListReaders. */
  async readers(): Promise<string[]> {
    const r = await this.call("readers");
    return r ? r.split("\t") : [];
  }

  /** Waits (SCardGetStatusChange) until a card is present in (or absent from) `reader`. */
  async waitCard(reader: string, present: boolean, ms = 10_000): Promise<void> {
    await this.call(`wait ${ms} ${present ? "present" : "absent"} ${reader}`);
  }

  /** SCardConnect (shared, T=0|T=1): the protocol and the ATR as hex. */
  async connect(reader: string): Promise<{ protocol: string; atr: string }> {
    const [protocol, atr] = (await this.call(`connect ${reader}`)).split(" ");
    return { protocol, atr };
  }

  /** SCardTransmit of a hex APDU; the response as hex (data ‖ SW). */
  transmit(apdu: string): Promise<string> {
    return this.call(`x ${apdu.replace(/\s+/g, "")}`);
  }

  /** Mean µs of `n` SCardTransmit calls of `apdu`, timed inside the C client. */
  async bench(n: number, apdu: string): Promise<number> {
    return Number(await this.call(`bench ${n} ${apdu.replace(/\s+/g, "")}`));
  }

  /** SCardDisconnect with the given disposition. */
  async disconnect(how: "leave" | "reset" | "unpower" = "leave"): Promise<void> {
    await this.call(`disconnect ${how}`);
  }

  /** Ends the client process. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((r) => this.#child.once("exit", () => r()));
    this.#child.stdin!.end("quit\n");
    await exited;
  }
}
