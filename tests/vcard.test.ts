// The virtual authenticator as an ISO 7816 card (src/virtual/card.ts) at the APDU level:
// what an NFC client (python-fido2's fido2/pcsc.py, libfido2's src/nfc.c) sends and expects
// per CTAP 2.1 §11.3, and what a real NFC key rejects.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Socket } from "node:net";
import fc from "fast-check";
import { decode, encode } from "../src/cbor.ts";
import type { CborMap } from "../src/cbor.ts";
import { concat, fromHex, randomBytes, sha256, toHex } from "../src/utils.ts";
import {
  contactlessAtr,
  CtapCard,
  type CtapCardOptions,
  parseCommandApdu,
  VirtualAuthenticator,
  type VirtualAuthenticatorOptions,
} from "../src/virtual/mod.ts";

const SELECT = "00a4040008a0000006472f000100";
const GET_INFO = "80108000010400";

function card(opts: VirtualAuthenticatorOptions = {}, cardOpts: CtapCardOptions = {}) {
  const va = new VirtualAuthenticator(opts);
  const c = new CtapCard(va.authenticator, cardOpts);
  const tx = async (hex: string) => toHex(await c.transmit(fromHex(hex)));
  return { va, card: c, tx };
}

/** A card whose user presence waits until `approve()`; status updates every `statusDelayMs`. */
function cardAwaitingTouch(statusDelayMs: number) {
  let approve!: () => void;
  const touched = new Promise<void>((r) => (approve = r));
  const c = card({
    userPresence: async () => {
      await touched;
      return "approve" as const;
    },
  }, { statusDelayMs });
  return { ...c, approve };
}

function sw(resp: string): string {
  return resp.slice(-4);
}

function data(resp: string): string {
  return resp.slice(0, -4);
}

/** Short APDU `cla ins p1 p2 Lc data Le=00`. */
function shortApdu(cla: number, ins: number, p1: number, p2: number, body: Uint8Array): string {
  return toHex(concat(new Uint8Array([cla, ins, p1, p2, body.length]), body, new Uint8Array([0])));
}

/** Collects a chained response: GET RESPONSE while SW is 61xx. */
async function collect(tx: (h: string) => Promise<string>, first: string): Promise<string> {
  let out = data(first);
  let r = first;
  while (sw(r).startsWith("61")) {
    r = await tx(`00c00000${sw(r).slice(2)}`);
    out += data(r);
  }
  assert.equal(sw(r), "9000");
  return out;
}

/** NFCCTAP_MSG with `p1`, short form, Le = 00. */
function msg(p1: number, body: Uint8Array): string {
  assert.ok(body.length <= 255);
  return shortApdu(0x80, 0x10, p1, 0x00, body);
}

function makeCredential(extra: Array<[number, unknown]> = []): Uint8Array {
  const params = new Map<number, unknown>([
    [1, randomBytes(32)],
    [2, new Map([["id", "example.com"], ["name", "Example"]])],
    [3, new Map<string, unknown>([["id", randomBytes(16)], ["name", "a"], ["displayName", "A"]])],
    [4, [new Map<string, unknown>([["alg", -7], ["type", "public-key"]])]],
    ...extra,
  ]);
  return concat(new Uint8Array([0x01]), encode(params));
}

describe("card: APDU parsing and ATR", () => {
  it("parses the four cases in short and extended form", () => {
    assert.deepEqual(parseCommandApdu(fromHex("80110000")).ne, 0);
    assert.equal(parseCommandApdu(fromHex("00c0000000")).ne, 256);
    const short = parseCommandApdu(fromHex("8010800001040a"));
    assert.equal(toHex(short.data), "04");
    assert.equal(short.ne, 10);
    const ext = parseCommandApdu(fromHex("801080000000020404" + "0000"));
    assert.equal(toHex(ext.data), "0404");
    assert.equal(ext.ne, 65536);
    assert.equal(ext.extended, true);
  });

  it("answers 6700 to an Lc that does not match the APDU", async () => {
    const { tx } = card();
    await tx(SELECT);
    assert.equal(await tx("801080000304"), "6700");
    assert.equal(await tx("8010800000000504"), "6700");
  });

  it("has a contactless ATR (3B 8n 80 01 …) whose TCK makes the XOR of T0..TCK zero", () => {
    const atr = contactlessAtr();
    assert.equal(toHex(atr.subarray(0, 4)), "3b8d8001");
    assert.equal(atr.subarray(1).reduce((x, b) => x ^ b, 0), 0);
    assert.equal(new TextDecoder().decode(atr.subarray(-8, -1)), "x/fido2");
    // Without extended length the card-capabilities byte drops bit 0x40.
    assert.equal(contactlessAtr("x/fido2", false)[8], 0x80);
    assert.equal(atr[8], 0xc0);
  });
});

describe("card: any APDU", () => {
  it("gets one response with a status word; before SELECT never 9000 (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const { card: c } = card();
        const r = await c.transmit(bytes);
        assert.ok(r.length >= 2);
        const sw = (r[r.length - 2] << 8) | r[r.length - 1];
        const selectsFido = bytes.length >= 13 && bytes[0] === 0 && bytes[1] === 0xa4 &&
          bytes[2] === 4 && toHex(bytes.subarray(4, 13)) === "08a0000006472f0001";
        if (!selectsFido) assert.notEqual(sw, 0x9000, toHex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("after SELECT, random APDUs never break the card: getInfo still works", async () => {
    const { tx } = card();
    await tx(SELECT);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 4, maxLength: 300 }), async (bytes) => {
        // Skip what would legitimately change the state under test (SELECT, power).
        fc.pre(!(bytes[0] === 0 && bytes[1] === 0xa4));
        const r = await tx(toHex(bytes));
        assert.ok(r.length >= 4);
      }),
      { numRuns: 300 },
    );
    // A chain left open by a random link ends at the next different command (6883) at most.
    let r = await tx("8010800000000104");
    if (r === "6883") r = await tx("8010800000000104");
    assert.equal(sw(r), "9000");
  });

  it("answers 6D00 to a chained link before SELECT", async () => {
    const { tx } = card();
    assert.equal(await tx("1001030001aa"), "6d00");
    assert.equal(await tx("901080000104"), "6d00");
  });
});

describe("card: SELECT", () => {
  it("rejects FIDO commands before the applet is selected", async () => {
    const { tx } = card();
    assert.equal(await tx(GET_INFO), "6d00");
    assert.equal(await tx("0003000000"), "6d00");
  });

  it("answers U2F_V2 when U2F is served, FIDO_2_0 for a CTAP2-only key", async () => {
    assert.equal(await card().tx(SELECT), toHex(new TextEncoder().encode("U2F_V2")) + "9000");
    assert.equal(
      await card({ u2f: false }).tx(SELECT),
      toHex(new TextEncoder().encode("FIDO_2_0")) + "9000",
    );
    assert.equal(await card({ u2fOnly: true }).tx(SELECT), "5532465f56329000");
  });

  it("answers 6A82 to another AID and 6A86 to other P1/P2, keeping the selection", async () => {
    const { tx, card: c } = card();
    assert.equal(await tx("00a4040007a000000527210100"), "6a82");
    assert.equal(c.selected, false);
    await tx(SELECT);
    assert.equal(await tx("00a4000008a0000006472f000100"), "6a86");
    assert.equal(c.selected, true);
  });

  it("answers 6E00 to an unknown class and 6881/6882 to channels and secure messaging", async () => {
    const { tx } = card();
    await tx(SELECT);
    assert.equal(await tx("a0100000010400"), "6e00");
    assert.equal(await tx("81100000010400"), "6881");
    assert.equal(await tx("8c100000010400"), "6882");
  });
});

describe("card: NFCCTAP_MSG", () => {
  it("serves getInfo: short APDUs chain the response with 61xx + GET RESPONSE", async () => {
    const { va, tx } = card();
    await tx(SELECT);
    const first = await tx(GET_INFO);
    assert.equal(data(first).length, 512, "256 bytes with Le = 00");
    assert.match(sw(first), /^61/);
    const whole = await collect(tx, first);
    const direct = await va.authenticator.processCbor(new Uint8Array([4]), {
      signal: new AbortController().signal,
      keepalive() {},
    });
    assert.equal(whole.slice(0, 2), "00");
    assert.deepEqual(decode(fromHex(whole.slice(2))), decode(direct.subarray(1)));
  });

  it("sends the whole response to an extended APDU, with or without Le", async () => {
    const { tx } = card();
    await tx(SELECT);
    const withLe = await tx("80108000000001040000");
    assert.equal(sw(withLe), "9000");
    assert.ok(data(withLe).length > 512);
    const noLe = await tx("8010800000000104");
    assert.equal(sw(noLe), "9000");
    assert.equal(noLe.length, withLe.length);
  });

  it("a card without extended length answers 6700 and its ATR says so", async () => {
    const { tx, card: c } = card({}, { extendedLength: false });
    await tx(SELECT);
    assert.equal(await tx("80108000000001040000"), "6700");
    assert.equal(c.atr[8], 0x80);
  });

  it("answers 6E00 to NFCCTAP on a U2F-only key and 6A86 to bad P1/P2", async () => {
    const u2f = card({ u2fOnly: true });
    await u2f.tx(SELECT);
    assert.equal(await u2f.tx(GET_INFO), "6e00");
    const { tx } = card();
    await tx(SELECT);
    assert.equal(await tx("80104000010400"), "6a86");
    assert.equal(await tx("80108001010400"), "6a86");
  });

  it("reassembles a chained command (CLA 90, 250-byte links) and answers its result", async () => {
    const { tx } = card();
    await tx(SELECT);
    const exclude = [1, 2].map(() =>
      new Map<string, unknown>([["type", "public-key"], ["id", randomBytes(300)]])
    );
    const mc = makeCredential([[5, exclude]]);
    assert.ok(mc.length > 500);
    const links: Uint8Array[] = [];
    for (let i = 0; i < mc.length; i += 250) links.push(mc.subarray(i, i + 250));
    for (const link of links.slice(0, -1)) {
      assert.equal(await tx(shortApdu(0x90, 0x10, 0x80, 0x00, link)), "9000");
    }
    const last = await tx(shortApdu(0x80, 0x10, 0x80, 0x00, links.at(-1)!));
    const whole = await collect(tx, last);
    assert.equal(whole.slice(0, 2), "00", "makeCredential succeeded");
    const att = decode(fromHex(whole.slice(2))) as CborMap;
    assert.equal(att.get(1), "packed");
  });

  it("answers 6883 when a chain is interrupted by another command, 6884 for SELECT", async () => {
    const { tx } = card();
    await tx(SELECT);
    assert.equal(await tx("901080000101"), "9000");
    assert.equal(await tx("80118000"), "6883");
    // The broken chain is gone: a fresh command works.
    assert.equal(sw(await tx("8010800000000104")), "9000");
    assert.equal(await tx("10a4040008a0000006472f000100"), "6884");
  });

  it("answers 9100 + UPNEEDED while waiting for a touch, then the result", async () => {
    const { tx, approve } = cardAwaitingTouch(20);
    await tx(SELECT);
    const mc = makeCredential();
    const first = await tx(msg(0x80, mc));
    assert.equal(first, "029100");
    assert.equal(await tx("80110000"), "029100");
    approve();
    const done = await tx("8011000000");
    assert.equal(done.slice(0, 2), "00");
    assert.match(sw(done), /^(9000|61..)$/);
    // Collected: nothing is pending any more.
    assert.equal(await tx("80110000"), "6985");
  });

  it("without P1 0x80 the card holds the answer until the command completes", async () => {
    const { tx, approve } = cardAwaitingTouch(5);
    await tx(SELECT);
    const mc = makeCredential();
    const answer = tx(msg(0x00, mc));
    const early = await Promise.race([answer, new Promise((r) => setTimeout(() => r("t"), 100))]);
    assert.equal(early, "t");
    approve();
    const r = await answer;
    assert.equal(r.slice(0, 2), "00");
  });

  it("NFCCTAP_GETRESPONSE with P1 0x11 cancels: CTAP2_ERR_KEEPALIVE_CANCEL", async () => {
    let asked = false;
    const { tx } = card({
      userPresence: ({ signal }) =>
        new Promise((_, reject) => {
          asked = true;
          signal.addEventListener("abort", () => reject(new Error("aborted")));
        }),
    }, { statusDelayMs: 10 });
    await tx(SELECT);
    const mc = makeCredential();
    assert.equal(await tx(msg(0x80, mc)), "029100");
    assert.ok(asked);
    assert.equal(await tx("8011110000"), "2d9000");
    assert.equal(await tx("80110000"), "6985");
  });

  it("SELECT and a power cycle drop a running command", async () => {
    const { tx, card: c } = card({ userPresence: () => new Promise(() => {}) }, {
      statusDelayMs: 10,
    });
    await tx(SELECT);
    const apdu = msg(0x80, makeCredential());
    assert.equal(sw(await tx(apdu)), "9100");
    await tx(SELECT);
    assert.equal(await tx("80110000"), "6985");
    assert.equal(sw(await tx(apdu)), "9100");
    c.powerOff();
    assert.equal(await tx("80110000"), "6985", "unpowered");
    c.powerOn();
    assert.equal(await tx("80110000"), "6d00", "fresh card: nothing selected");
  });
});

describe("card: U2F APDUs", () => {
  async function register(tx: (h: string) => Promise<string>, app: Uint8Array) {
    const reg = await collect(
      tx,
      await tx(shortApdu(0x00, 0x01, 0x03, 0x00, concat(randomBytes(32), app))),
    );
    const bytes = fromHex(reg);
    assert.equal(bytes[0], 0x05);
    return bytes.subarray(67, 67 + bytes[66]);
  }

  it("registers with a short APDU (response chained) and authenticates", async () => {
    const { tx } = card();
    await tx(SELECT);
    assert.equal(await tx("0003000000"), "5532465f56329000");
    const app = sha256(new TextEncoder().encode("example.com"));
    const kh = await register(tx, app);
    const body = concat(randomBytes(32), app, new Uint8Array([kh.length]), kh);
    // Check-only: a known key handle answers 6985.
    assert.equal(await tx(shortApdu(0x00, 0x02, 0x07, 0x00, body)), "6985");
    const auth = await tx(shortApdu(0x00, 0x02, 0x03, 0x00, body));
    assert.equal(sw(auth), "9000");
    assert.equal(auth.slice(0, 2), "01", "user presence flag");
    // The same in the extended form.
    const ext = toHex(concat(fromHex("0002030000"), new Uint8Array([0, body.length]), body));
    assert.equal(sw(await tx(ext + "0000")), "9000");
  });

  it("accepts a chained U2F command and rejects U2F on a CTAP2-only key", async () => {
    const { tx } = card();
    await tx(SELECT);
    const app = sha256(new TextEncoder().encode("example.org"));
    const kh = await register(tx, app);
    const body = concat(randomBytes(32), app, new Uint8Array([kh.length]), kh);
    assert.equal(await tx(shortApdu(0x10, 0x02, 0x03, 0x00, body.subarray(0, 40))), "9000");
    assert.equal(sw(await tx(shortApdu(0x00, 0x02, 0x03, 0x00, body.subarray(40)))), "9000");
    const fido2 = card({ u2f: false });
    await fido2.tx(SELECT);
    assert.equal(await fido2.tx("0003000000"), "6d00");
  });

  it("GET RESPONSE with nothing to send answers 6985", async () => {
    const { tx } = card();
    await tx(SELECT);
    assert.equal(await tx("00c0000000"), "6985");
  });
});

describe("card: trace", () => {
  it("sees every command and its response", async () => {
    const seen: string[] = [];
    const { tx } = card({}, { trace: (c, r) => seen.push(`${toHex(c)}>${toHex(r)}`) });
    await tx(SELECT);
    await tx("00c0000000");
    assert.deepEqual(seen, [`${SELECT}>5532465f56329000`, "00c0000000>6985"]);
  });
});

describe("connectVpcd: the vpcd protocol against a stand-in driver", () => {
  /** A fake vpcd: accepts one card, sends frames, reads length-prefixed answers. */
  async function fakeVpcd() {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    const accepted = new Promise<Socket>((r) => server.once("connection", r));
    let buffer: Uint8Array = new Uint8Array(0);
    const frames: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    void accepted.then((s) => {
      s.on("data", (d: Uint8Array) => {
        buffer = concat(buffer, d);
        while (buffer.length >= 2 && buffer.length >= 2 + ((buffer[0] << 8) | buffer[1])) {
          const n = (buffer[0] << 8) | buffer[1];
          frames.push(buffer.slice(2, 2 + n));
          buffer = buffer.slice(2 + n);
        }
        wake?.();
      });
      s.on("close", () => {
        closed = true;
        wake?.();
      });
    });
    const frame = (p: Uint8Array) => concat(new Uint8Array([p.length >> 8, p.length & 0xff]), p);
    return {
      port,
      accepted,
      /** Sends raw bytes (frames may be split anywhere). */
      async send(...chunks: Uint8Array[]) {
        const s = await accepted;
        for (const c of chunks) {
          s.write(c);
          await new Promise((r) => setTimeout(r, 5));
        }
      },
      frame,
      async next(): Promise<string> {
        while (!frames.length) {
          if (closed) throw new Error("card closed the link");
          await new Promise<void>((r) => (wake = r));
        }
        return toHex(frames.shift()!);
      },
      get closed() {
        return closed;
      },
      async close() {
        (await accepted).destroy();
        await new Promise((r) => server.close(r));
      },
    };
  }

  it("answers ATR requests and APDUs, with frames split across TCP chunks", async () => {
    const vpcd = await fakeVpcd();
    const va = new VirtualAuthenticator();
    const link = await va.connectVpcd({ port: vpcd.port });
    try {
      await vpcd.send(vpcd.frame(new Uint8Array([4])));
      assert.equal(await vpcd.next(), toHex(link.card.atr));
      await vpcd.send(vpcd.frame(new Uint8Array([1])));
      await link.ready;
      const select = vpcd.frame(fromHex(SELECT));
      // Length split from the payload, and the payload split in two.
      await vpcd.send(select.subarray(0, 1), select.subarray(1, 6), select.subarray(6));
      assert.equal(await vpcd.next(), "5532465f56329000");
      // Two frames in one chunk: power off, then an APDU the unpowered card refuses.
      await vpcd.send(concat(vpcd.frame(new Uint8Array([0])), vpcd.frame(fromHex(GET_INFO))));
      assert.equal(await vpcd.next(), "6985");
      assert.equal(link.card.selected, false);
      // Power on again: a fresh card, nothing selected.
      await vpcd.send(vpcd.frame(new Uint8Array([1])), vpcd.frame(fromHex(GET_INFO)));
      assert.equal(await vpcd.next(), "6d00");
      // Reset drops a selection too.
      await vpcd.send(vpcd.frame(fromHex(SELECT)));
      await vpcd.next();
      await vpcd.send(vpcd.frame(new Uint8Array([2])), vpcd.frame(fromHex(GET_INFO)));
      assert.equal(await vpcd.next(), "6d00");
    } finally {
      await link.close();
      await vpcd.close();
    }
  });

  it("remove() drops the link at once, with an APDU in flight unanswered", async () => {
    const vpcd = await fakeVpcd();
    const va = new VirtualAuthenticator({ userPresence: () => new Promise(() => {}) });
    const link = await va.connectVpcd({ port: vpcd.port });
    await vpcd.send(vpcd.frame(new Uint8Array([1])), vpcd.frame(fromHex(SELECT)));
    await vpcd.next();
    // Without P1 0x80 the card holds its answer until the touch that never comes.
    await vpcd.send(vpcd.frame(fromHex(msg(0x00, makeCredential()))));
    link.remove();
    await link.closed;
    await assert.rejects(vpcd.next(), /card closed the link/);
    assert.equal(link.card.powered, false);
    await vpcd.close();
    await va.close();
  });

  it("VirtualAuthenticator.close() takes the card out", async () => {
    const vpcd = await fakeVpcd();
    const va = new VirtualAuthenticator();
    const link = await va.connectVpcd({ port: vpcd.port });
    await vpcd.accepted;
    await va.close();
    await link.closed;
    await assert.rejects(vpcd.next(), /card closed the link/);
    await vpcd.close();
  });

  it("the reader going away (pcscd stopped) ends the link and unpowers the card", async () => {
    const vpcd = await fakeVpcd();
    const link = await new VirtualAuthenticator().connectVpcd({ port: vpcd.port });
    await vpcd.send(vpcd.frame(new Uint8Array([1])));
    await link.ready;
    assert.equal(link.card.powered, true);
    await vpcd.close();
    await link.closed;
    assert.equal(link.card.powered, false);
    await link.close(); // closing again is harmless
  });

  it("rejects a bad port with RangeError", async () => {
    await assert.rejects(new VirtualAuthenticator().connectVpcd({ port: 70000 }), RangeError);
  });
});
