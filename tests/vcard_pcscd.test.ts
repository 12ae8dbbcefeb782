// The virtual authenticator as a card in the REAL pcscd: connectVpcd puts it into the
// vsmartcard-vpcd reader of a private pcscd (tests/helpers/pcscd.ts), and a C client built
// against libpcsclite (tests/fixtures/pcsc_apdu.c; not this library's PC/SC binding) talks to
// it with SCardTransmit, as any PC/SC program would.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { decode, encode } from "../src/cbor.ts";
import type { CborMap } from "../src/cbor.ts";
import { CtapError } from "../src/ctap.ts";
import { Ctap2 } from "../src/ctap2/mod.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { TransportError } from "../src/errors.ts";
import { concat, randomBytes, toHex } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";
import {
  type PcscBed,
  PcscCallError,
  PcscClient,
  releasePcscd,
  usePcscd,
} from "./helpers/pcscd.ts";

const SELECT = "00a4040008a0000006472f000100";
const SCARD_W_REMOVED_CARD = 0x80100069;

function sw(resp: string): string {
  return resp.slice(-4);
}

function msg(p1: number, body: Uint8Array): string {
  return toHex(
    concat(new Uint8Array([0x80, 0x10, p1, 0x00, body.length]), body, new Uint8Array([0])),
  );
}

function makeCredential(exclude: Uint8Array[] = []): Uint8Array {
  const params = new Map<number, unknown>([
    [1, randomBytes(32)],
    [2, new Map([["id", "example.com"], ["name", "Example"]])],
    [3, new Map<string, unknown>([["id", randomBytes(16)], ["name", "a"], ["displayName", "A"]])],
    [4, [new Map<string, unknown>([["alg", -7], ["type", "public-key"]])]],
    ...(exclude.length
      ? [[5, exclude.map((id) => new Map<string, unknown>([["type", "public-key"], ["id", id]]))]]
      : []) as Array<[number, unknown]>,
  ]);
  return concat(new Uint8Array([0x01]), encode(params));
}

/** Runs a tool asynchronously: the card answers from this process's event loop. */
function run(
  cmd: string,
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: new URL("..", import.meta.url).pathname,
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    const timer = setTimeout(() => child.kill(), 30_000);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

async function collect(c: PcscClient, first: string): Promise<string> {
  let out = first.slice(0, -4);
  let r = first;
  while (sw(r).startsWith("61")) {
    r = await c.transmit(`00c00000${sw(r).slice(2)}`);
    out += r.slice(0, -4);
  }
  assert.equal(sw(r), "9000");
  return out;
}

describe("virtual card through the real pcscd", () => {
  let bed: PcscBed;
  let client: PcscClient;
  const reader = () => bed.readers[0];

  before(async () => {
    bed = await usePcscd();
    client = await PcscClient.open(bed);
  });

  after(async () => {
    await client?.close();
    await releasePcscd();
  });

  /**
   * Inserts `va` as a card into the first reader, connects to it and runs `body`; then pulls
   * the card (closes the vpcd link) and waits until pcscd has seen it go.
   */
  async function withCard(va: VirtualAuthenticator, body: () => Promise<void>): Promise<void> {
    const link = await va.connectVpcd({ host: bed.host, port: bed.ports[0] });
    try {
      await client.waitCard(reader(), true);
      await client.connect(reader());
      await body();
    } finally {
      await link.close();
    }
    await client.waitCard(reader(), false);
  }

  it("lists both vpcd readers", async () => {
    assert.deepEqual(await client.readers(), [...bed.readers]);
  });

  it("a card inserted with connectVpcd shows up with its ATR, protocol T=1", async () => {
    const va = new VirtualAuthenticator();
    const link = await va.connectVpcd({ host: bed.host, port: bed.ports[0] });
    try {
      await link.ready;
      await client.waitCard(reader(), true);
      const { protocol, atr } = await client.connect(reader());
      assert.equal(protocol, "T1");
      assert.equal(atr, toHex(link.card.atr));
      assert.equal(await client.transmit(SELECT), "5532465f56329000");
      await client.disconnect();
    } finally {
      await va.close();
    }
    await client.waitCard(reader(), false);
  });

  it("serves getInfo as short (61xx chained) and as extended APDUs", async () => {
    const va = new VirtualAuthenticator({ u2f: false });
    await withCard(va, async () => {
      assert.equal(
        await client.transmit(SELECT),
        toHex(new TextEncoder().encode("FIDO_2_0")) + "9000",
      );
      const short = await collect(client, await client.transmit("80108000010400"));
      const extended = await client.transmit("80108000000001040000");
      assert.equal(sw(extended), "9000");
      assert.equal(extended.slice(0, -4), short);
      const info = decode(Buffer.from(short.slice(2), "hex")) as CborMap;
      const direct = await va.authenticator.processCbor(new Uint8Array([4]), {
        signal: new AbortController().signal,
        keepalive() {},
      });
      assert.equal(short, toHex(direct));
      // A key without U2F: no U2F_V2 in getInfo either.
      assert.ok((info.get(1) as string[]).includes("FIDO_2_0"));
      assert.ok(!(info.get(1) as string[]).includes("U2F_V2"));
      await client.disconnect();
    });
  });

  it("reassembles a chained makeCredential (CLA 90) sent through pcscd", async () => {
    const va = new VirtualAuthenticator();
    await withCard(va, async () => {
      await client.transmit(SELECT);
      const mc = makeCredential([randomBytes(300), randomBytes(300)]);
      const links: Uint8Array[] = [];
      for (let i = 0; i < mc.length; i += 250) links.push(mc.subarray(i, i + 250));
      for (const l of links.slice(0, -1)) {
        const apdu = concat(
          new Uint8Array([0x90, 0x10, 0x80, 0x00, l.length]),
          l,
          new Uint8Array([0]),
        );
        assert.equal(await client.transmit(toHex(apdu)), "9000");
      }
      const result = await collect(client, await client.transmit(msg(0x80, links.at(-1)!)));
      assert.equal(result.slice(0, 2), "00");
      assert.equal((decode(Buffer.from(result.slice(2), "hex")) as CborMap).get(1), "packed");
      await client.disconnect();
    });
  });

  it("answers 9100 with UPNEEDED while waiting for a touch, then the result; cancel gives 2D", async () => {
    let approve!: () => void;
    let touched = new Promise<void>((r) => (approve = r));
    let decision: "approve" | "wait-cancel" = "approve";
    const va = new VirtualAuthenticator({
      userPresence: ({ signal }) =>
        decision === "approve"
          ? touched.then(() => "approve" as const)
          : new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason))
          ),
    });
    const link = await va.connectVpcd({
      host: bed.host,
      port: bed.ports[0],
      card: { statusDelayMs: 20 },
    });
    try {
      await client.waitCard(reader(), true);
      await client.connect(reader());
      await client.transmit(SELECT);
      assert.equal(await client.transmit(msg(0x80, makeCredential())), "029100");
      assert.equal(await client.transmit("8011000000"), "029100");
      approve();
      const done = await collect(client, await client.transmit("8011000000"));
      assert.equal(done.slice(0, 2), "00");

      decision = "wait-cancel";
      touched = new Promise<void>((r) => (approve = r));
      assert.equal(await client.transmit(msg(0x80, makeCredential())), "029100");
      assert.equal(await client.transmit("8011110000"), "2d9000");
      await client.disconnect();
    } finally {
      await link.close();
    }
    await client.waitCard(reader(), false);
  });

  it("card pulled out mid-command: the reader reports it removed (SCARD_W_REMOVED_CARD)", async () => {
    const va = new VirtualAuthenticator({ userPresence: () => new Promise(() => {}) });
    const link = await va.connectVpcd({
      host: bed.host,
      port: bed.ports[0],
      card: { statusDelayMs: 20 },
    });
    await client.waitCard(reader(), true);
    await client.connect(reader());
    await client.transmit(SELECT);
    assert.equal(await client.transmit(msg(0x80, makeCredential())), "029100");
    link.remove();
    await link.closed;
    const watcher = await PcscClient.open(bed);
    try {
      await watcher.waitCard(reader(), false);
    } finally {
      await watcher.close();
    }
    await assert.rejects(
      client.transmit("8011000000"),
      (e) => e instanceof PcscCallError && e.code === SCARD_W_REMOVED_CARD,
    );
    await client.disconnect();
    await va.close();
  });

  it("two readers hold two cards, each answering as its own profile", async () => {
    const a = new VirtualAuthenticator();
    const b = new VirtualAuthenticator({ u2f: false });
    const la = await a.connectVpcd({ host: bed.host, port: bed.ports[0] });
    const lb = await b.connectVpcd({ host: bed.host, port: bed.ports[1] });
    const second = await PcscClient.open(bed);
    try {
      await client.waitCard(bed.readers[0], true);
      await second.waitCard(bed.readers[1], true);
      await client.connect(bed.readers[0]);
      await second.connect(bed.readers[1]);
      assert.equal(await client.transmit(SELECT), "5532465f56329000");
      assert.equal(await second.transmit(SELECT), "4649444f5f325f309000");
      await client.disconnect();
      await second.disconnect();
    } finally {
      await second.close();
      await la.close();
      await lb.close();
    }
    await client.waitCard(bed.readers[0], false);
  });

  it("an off-the-shelf PC/SC tool (scriptor) selects the applet", async () => {
    const va = new VirtualAuthenticator();
    const link = await va.connectVpcd({ host: bed.host, port: bed.ports[0] });
    try {
      await client.waitCard(reader(), true);
      const r = await run(
        "scriptor",
        ["-r", reader()],
        "00 A4 04 00 08 A0 00 00 06 47 2F 00 01 00\n80 10 80 00 01 04 00\n",
        { ...bed.env },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /< 55 32 46 5F 56 32 90 00 : Normal processing\./);
      assert.match(
        r.stdout,
        /< 00 [0-9A-F \n]+61 [0-9A-F]{2} : 0x[0-9A-F]{2} bytes of response still available\./,
      );
    } finally {
      await link.close();
    }
    await client.waitCard(reader(), false);
  });

  it("U2F over the card: register (response chained with 61xx) and authenticate", async () => {
    const va = new VirtualAuthenticator();
    await withCard(va, async () => {
      await client.transmit(SELECT);
      const app = randomBytes(32);
      const first = await client.transmit(
        toHex(
          concat(
            new Uint8Array([0x00, 0x01, 0x03, 0x00, 64]),
            randomBytes(32),
            app,
            new Uint8Array([0]),
          ),
        ),
      );
      assert.match(sw(first), /^61/);
      const reg = Buffer.from(await collect(client, first), "hex");
      assert.equal(reg[0], 0x05);
      const kh = reg.subarray(67, 67 + reg[66]);
      const body = concat(randomBytes(32), app, new Uint8Array([kh.length]), kh);
      const auth = await client.transmit(
        toHex(
          concat(new Uint8Array([0x00, 0x02, 0x03, 0x00, body.length]), body, new Uint8Array([0])),
        ),
      );
      assert.equal(sw(auth), "9000");
      assert.equal(auth.slice(0, 2), "01");
      await client.disconnect();
    });
  });

  it("an extended APDU carries a 700-byte command; a reset card needs SELECT again", async () => {
    const va = new VirtualAuthenticator();
    await withCard(va, async () => {
      await client.transmit(SELECT);
      const mc = makeCredential([randomBytes(300), randomBytes(300)]);
      const apdu = concat(
        new Uint8Array([0x80, 0x10, 0x80, 0x00, 0x00, mc.length >> 8, mc.length & 0xff]),
        mc,
        new Uint8Array([0, 0]),
      );
      const r = await client.transmit(toHex(apdu));
      assert.equal(sw(r), "9000");
      assert.equal(r.slice(0, 2), "00");
      // SCARD_RESET_CARD: the reader resets the card, which forgets the selection.
      await client.disconnect("reset");
      await client.connect(reader());
      assert.equal(await client.transmit("80108000010400"), "6d00");
      await client.disconnect();
    });
  });

  for (const how of ["reset", "unpower"] as const) {
    it(`SCARD_${how === "reset" ? "RESET" : "UNPOWER"}_CARD power-cycles the authenticator: PIN_AUTH_BLOCKED cleared, retries kept`, async () => {
      const va = new VirtualAuthenticator({ pin: "1234" });
      // The same authenticator over USB, to block the PIN and read the state back.
      const usb = await va.device();
      const link = await va.connectVpcd({ host: bed.host, port: bed.ports[0] });
      try {
        // Inserting the card powers it up: block the PIN once it is in the reader.
        await client.waitCard(reader(), true);
        await client.connect(reader());
        assert.equal(await client.transmit(SELECT), "5532465f56329000");
        const pin = new ClientPin(await Ctap2.create(usb));
        for (const expected of [0x31, 0x31, 0x34]) {
          await assert.rejects(pin.getPinToken("0000"), (e: unknown) => {
            assert.ok(e instanceof CtapError && e.code === expected, String(e));
            return true;
          });
        }
        assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: true });
        // Leaving the card powered changes nothing.
        await client.disconnect("leave");
        await client.connect(reader());
        assert.equal(await client.transmit(SELECT), "5532465f56329000");
        assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: true });
        await client.disconnect(how);
        assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: false });
        assert.equal((await pin.getPinToken("1234")).length, 32);
        assert.deepEqual(await pin.getPinRetries(), { retries: 8, powerCycleState: false });
      } finally {
        await usb.close();
        await link.close();
      }
      await client.waitCard(reader(), false);
    });
  }

  it("examples/virtual_card.ts serves the card until SIGINT", async () => {
    const runtime = "Bun" in globalThis ? [] : ["run", "-A"];
    const child = spawn(process.execPath, [
      ...runtime,
      "examples/virtual_card.ts",
      "--host",
      bed.host,
      "--port",
      String(bed.ports[1]),
      "--profile",
      "fido2-only",
    ], { cwd: new URL("..", import.meta.url).pathname, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once("close", r));
    try {
      await client.waitCard(bed.readers[1], true, 30_000);
      await client.connect(bed.readers[1]);
      assert.equal(await client.transmit(SELECT), "4649444f5f325f309000");
      await client.disconnect();
    } finally {
      // process.kill, not child.kill: Deno's ChildProcess reports a signal it sent itself as
      // the exit cause (null, "SIGINT") even when the child handled it and exited 0.
      process.kill(child.pid!, "SIGINT");
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /inserted into the vpcd reader at \S+:\d+ \(SELECT answers FIDO_2_0\)/);
    assert.match(out, /^Card removed\.$/m);
    await client.waitCard(bed.readers[1], false);
  });

  for (const mode of ["short", "ext"] as const) {
    it(`python-fido2's NFC client (fido2.pcsc, ${mode} APDUs) registers and signs in with a PIN`, async () => {
      let touches = 0;
      const va = new VirtualAuthenticator({
        pin: "1234",
        // A slow touch: the card answers 9100 and python-fido2 polls NFCCTAP_GETRESPONSE.
        userPresence: () => {
          touches++;
          return new Promise((r) => setTimeout(() => r("approve"), 400));
        },
      });
      const link = await va.connectVpcd({ host: bed.host, port: bed.ports[0] });
      try {
        await client.waitCard(reader(), true);
        const r = await run(
          "/usr/bin/python3",
          ["tests/fixtures/pyfido2_nfc.py", reader(), "1234", mode],
          "",
          { ...bed.env },
        );
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^versions U2F_V2,FIDO_2_0,/m);
        // 2 = UPNEEDED, from the 9100 status updates.
        const reg = r.stdout.match(/^registered ([0-9a-f]{16}) keepalive 2$/m);
        assert.ok(reg, r.stdout);
        assert.match(r.stdout, new RegExp(`^authenticated ${reg[1]}$`, "m"));
        assert.equal(touches, 2);
      } finally {
        await link.close();
      }
      await client.waitCard(reader(), false);
    });
  }

  it("connectVpcd to a port where no reader listens is a TransportError naming the fix", async () => {
    const va = new VirtualAuthenticator();
    await assert.rejects(
      va.connectVpcd({ port: 1 }),
      (e) => e instanceof TransportError && /apt-get install pcscd vsmartcard-vpcd/.test(e.message),
    );
  });
});

describe("pcscd test bed", () => {
  it("a daemon restarted in the same process keeps the socket name libpcsclite cached", async () => {
    const first = await usePcscd();
    const name = first.env.PCSCLITE_CSOCK_NAME;
    await releasePcscd();
    const second = await usePcscd();
    try {
      assert.equal(second.env.PCSCLITE_CSOCK_NAME, name);
      const c = await PcscClient.open(second);
      try {
        assert.deepEqual(await c.readers(), [...second.readers]);
      } finally {
        await c.close();
      }
    } finally {
      await releasePcscd();
    }
  });
});
