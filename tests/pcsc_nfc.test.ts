// The NFC CTAP mapping (src/pcsc/) against a scripted card: the exact APDUs of SELECT, the
// getInfo probe, NFCCTAP_MSG/GETRESPONSE polling, cancellation, chaining both ways, extended
// length and its fallback, U2F passthrough. Where python-fido2 (fido2/pcsc.py) sends the same
// thing, the expected hex is its trace (shared/research/python-fido2-vectors.md §10).
import { describe, it } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import {
  ApduTransport,
  atrSupportsExtended,
  CardRemovedError,
  CtapPcscDevice,
  encodeExtended,
  encodeShort,
  listPcscDevices,
  NoCardError,
  NotFidoCardError,
  parseCommand,
  type PcscBackend,
  PcscError,
  pcscError,
  ReaderGoneError,
  SCARD,
  SharingViolationError,
  TransmitError,
} from "../src/pcsc/mod.ts";
import { CtapError } from "../src/ctap.ts";
import { ApduError, Ctap1 } from "../src/ctap1.ts";
import { AbortError, FormatError, TransportError } from "../src/errors.ts";
import { fromHex, toHex } from "../src/utils.ts";
import { main } from "../src/cli/main.ts";
import { spawnSync } from "node:child_process";
import { repoRoot } from "./helpers/build_fixture.ts";
import { EXIT } from "../src/cli/errors.ts";
import {
  FIDO_2_0,
  GET_INFO_HEX,
  INFO_OK,
  ScriptedCard,
  SELECT_HEX,
  U2F_V2,
} from "./helpers/scripted_card.ts";

const CBOR = 0x10;
const MSG = 0x03;

async function openCtap2(card: ScriptedCard, opts = {}) {
  card.script.unshift(U2F_V2, INFO_OK);
  return await CtapPcscDevice.open(card, { pollIntervalMs: 5, ...opts });
}

describe("ISO 7816 APDU encoding", () => {
  it("encodes the four short cases", () => {
    const h = { cla: 0, ins: 0xa4, p1: 4, p2: 0 };
    assert.equal(toHex(encodeShort({ ...h, data: new Uint8Array() })), "00a40400");
    assert.equal(toHex(encodeShort({ ...h, data: new Uint8Array(), le: 256 })), "00a4040000");
    assert.equal(toHex(encodeShort({ ...h, data: fromHex("0102") })), "00a40400020102");
    assert.equal(toHex(encodeShort({ ...h, data: fromHex("0102"), le: 5 })), "00a4040002010205");
    assert.throws(() => encodeShort({ ...h, data: new Uint8Array(256) }), FormatError);
    assert.throws(() => encodeShort({ ...h, cla: 256, data: new Uint8Array() }), FormatError);
  });

  it("encodes the extended cases (Le 65536 as 0000)", () => {
    const h = { cla: 0x80, ins: 0x10, p1: 0x80, p2: 0 };
    assert.equal(
      toHex(encodeExtended({ ...h, data: new Uint8Array(), le: 65536 })),
      "80108000000000",
    );
    assert.equal(toHex(encodeExtended({ ...h, data: fromHex("04") })), "8010800000000104");
    assert.equal(
      toHex(encodeExtended({ ...h, data: fromHex("04"), le: 65536 })),
      "80108000000001040000",
    );
  });

  it("parses every case back, including Ctap1's data-less extended form", () => {
    const cases: [string, number, number | undefined][] = [
      ["00a40400", 0, undefined],
      ["00a4040000", 0, 256],
      ["00a40400020102", 2, undefined],
      ["00a4040002010205", 2, 5],
      ["00a404000000020102", 2, undefined],
      ["00a4040000000201020100", 2, 256],
      ["00a40400000100", 0, 256],
      ["000300000000000000", 0, 65536], // Ctap1.sendApdu(VERSION): Lc 0000 + Le 0000
    ];
    for (const [hex, len, le] of cases) {
      const c = parseCommand(fromHex(hex));
      assert.equal(c.data.length, len, hex);
      assert.equal(c.le, le, hex);
      assert.equal(c.ins, hex === "000300000000000000" ? 3 : 0xa4);
    }
    assert.throws(() => parseCommand(fromHex("00a404")), FormatError);
    assert.throws(() => parseCommand(fromHex("00a4040005010203")), FormatError);
    assert.throws(() => parseCommand(fromHex("00a40400000005010203")), FormatError);
  });

  it("reads extended-length support from the ATR's card capabilities", () => {
    // 3B 85 80 01 | historical: 80 (compact-TLV) 73 (card capabilities, 3 bytes) 00 00 40 | TCK
    assert.equal(atrSupportsExtended(fromHex("3b858001807300004000")), true);
    assert.equal(atrSupportsExtended(fromHex("3b858001807300000000")), false);
    // A YubiKey NEO-style ATR: the historical bytes are text, not compact-TLV.
    assert.equal(atrSupportsExtended(fromHex("3b8d80015975626b65794e454f72335800")), false);
    assert.equal(atrSupportsExtended(undefined), false);
    assert.equal(atrSupportsExtended(fromHex("3b")), false);
  });
});

describe("CtapPcscDevice.open: SELECT and the CTAP2 probe", () => {
  it("sends python-fido2's SELECT and getInfo probe; U2F_V2 + getInfo → CBOR, version 2", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    assert.deepEqual(card.sent, [SELECT_HEX, GET_INFO_HEX]);
    assert.equal(dev.capabilities, 0x04);
    assert.equal(dev.version, 2);
    assert.equal(dev.appletVersion, "U2F_V2");
    assert.equal(String(dev), "CtapPcscDevice(Scripted Reader 00 00)");
  });

  it("FIDO_2_0 means CTAP2 without U2F: CBOR | NMSG", async () => {
    const card = new ScriptedCard([FIDO_2_0, INFO_OK]);
    const dev = await CtapPcscDevice.open(card);
    assert.equal(dev.capabilities, 0x04 | 0x08);
  });

  it("U2F_V2 whose getInfo is refused (6D00) is a U2F-only key: no CBOR, version 1", async () => {
    const card = new ScriptedCard([U2F_V2, "6d00"]);
    const dev = await CtapPcscDevice.open(card);
    assert.equal(dev.capabilities, 0);
    assert.equal(dev.version, 1);
  });

  it("a card without the FIDO applet (6A82) is NotFidoCardError and is disconnected", async () => {
    const card = new ScriptedCard(["6a82"]);
    await assert.rejects(CtapPcscDevice.open(card), NotFidoCardError);
    assert.equal(card.closed, "leave");
  });

  it("FIDO_2_0 that fails getInfo is NotFidoCardError", async () => {
    const card = new ScriptedCard([FIDO_2_0, "6f00"]);
    await assert.rejects(CtapPcscDevice.open(card), NotFidoCardError);
  });

  it("61xx on SELECT is followed by GET RESPONSE", async () => {
    const card = new ScriptedCard(["5532466103", "5f56329000", INFO_OK]);
    const dev = await CtapPcscDevice.open(card);
    assert.deepEqual(card.sent, [SELECT_HEX, "00c0000003", GET_INFO_HEX]);
    assert.equal(dev.appletVersion, "U2F_V2");
  });
});

describe("CTAP2 over NFCCTAP_MSG", () => {
  it("polls NFCCTAP_GETRESPONSE while the card answers 9100, reporting each new status", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("019100", "029100", "029100", "00a09000");
    const statuses: number[] = [];
    const resp = await dev.call(CBOR, fromHex("02" + "00".repeat(10)), {
      onKeepalive: (s) => statuses.push(s),
    });
    assert.equal(toHex(resp), "00a0");
    assert.deepEqual(statuses, [1, 2]);
    assert.deepEqual(card.sent.slice(2), [
      "801080000b020000000000000000000000",
      "8011000000",
      "8011000000",
      "8011000000",
    ]);
  });

  it("cancels with NFCCTAP_GETRESPONSE P1 0x11 and rejects with AbortError", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card, { pollIntervalMs: 10_000 });
    const ac = new AbortController();
    card.push(() => {
      setTimeout(() => ac.abort(new Error("user cancelled")), 20);
      return "029100";
    }, "2d9000");
    const t0 = Date.now();
    await assert.rejects(dev.call(CBOR, fromHex("02"), { signal: ac.signal }), AbortError);
    assert.ok(Date.now() - t0 < 5000, "the abort ends the 10 s poll pause at once");
    assert.deepEqual(card.sent.slice(2), ["80108000010200", "8011110000"]);
  });

  it("an already aborted signal sends nothing", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    await assert.rejects(
      dev.call(CBOR, fromHex("04"), { signal: AbortSignal.abort() }),
      AbortError,
    );
    assert.equal(card.sent.length, 2);
  });

  it("chains a 600-byte request in 250-byte pieces with CLA 0x90 (python-fido2's trace)", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("9000", "9000", "009000");
    await dev.call(CBOR, new Uint8Array(600));
    assert.deepEqual(card.sent.slice(2), [
      "90108000fa" + "00".repeat(250),
      "90108000fa" + "00".repeat(250),
      "8010800064" + "00".repeat(100) + "00",
    ]);
  });

  it("collects a long response with GET RESPONSE (61xx)", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("00" + "aa".repeat(255) + "6100", "bb".repeat(256) + "6105", "cccccccccc9000");
    const resp = await dev.call(CBOR, fromHex("04"));
    assert.equal(resp.length, 256 + 256 + 5);
    assert.deepEqual(card.sent.slice(3), ["00c0000000", "00c0000005"]);
  });

  it("re-selects the FIDO applet once when another program deselected it (6D00)", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("6d00", U2F_V2, INFO_OK);
    await dev.call(CBOR, fromHex("04"));
    assert.deepEqual(card.sent.slice(2), [GET_INFO_HEX, SELECT_HEX, GET_INFO_HEX]);
  });

  it("maps status words: 6D00 → INVALID_COMMAND, others → OTHER, with the SW kept", async () => {
    const card = new ScriptedCard([U2F_V2, "6d00"]);
    const dev = await CtapPcscDevice.open(card); // U2F-only: no re-selection
    card.push("6d00", "6a80");
    await assert.rejects(dev.call(CBOR, fromHex("04")), (e: unknown) => {
      assert.ok(e instanceof CtapError && e.code === CtapError.ERR.INVALID_COMMAND);
      assert.ok(e.cause instanceof ApduError && e.cause.code === 0x6d00);
      return true;
    });
    await assert.rejects(dev.call(CBOR, fromHex("04")), (e: unknown) => {
      assert.ok(e instanceof CtapError && e.code === CtapError.ERR.OTHER);
      assert.match(e.message, /6a80/);
      return true;
    });
  });

  it("a key that rejects P1 0x80 (6A86) gets NFCCTAP_MSG with P1 0 from then on", async () => {
    const card = new ScriptedCard([U2F_V2, "6a86", INFO_OK]);
    const dev = await CtapPcscDevice.open(card);
    assert.equal(dev.capabilities, 0x04);
    card.push("00019000");
    await dev.call(CBOR, fromHex("0a"));
    assert.deepEqual(card.sent.slice(1), [GET_INFO_HEX, "80100000010400", "80100000010a00"]);
  });

  it("an empty 9000 answer (no status byte) is a FormatError", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("9000");
    await assert.rejects(dev.call(CBOR, fromHex("04")), FormatError);
  });

  it("PING, WINK and LOCK have no NFC form: CtapError INVALID_COMMAND, nothing sent", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    for (const cmd of [0x01, 0x08, 0x04]) {
      await assert.rejects(
        dev.call(cmd),
        (e: unknown) => e instanceof CtapError && e.code === CtapError.ERR.INVALID_COMMAND,
      );
    }
    assert.equal(card.sent.length, 2);
  });

  it("holds a PC/SC transaction per call and rejects calls after close", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    assert.equal(card.transactions, 1, "SELECT and the probe in one transaction");
    card.push(INFO_OK);
    await dev.call(CBOR, fromHex("04"));
    assert.equal(card.transactions, 2);
    await dev.close();
    await dev.close();
    await assert.rejects(dev.call(CBOR, fromHex("04")), TransportError);
  });

  it("serializes concurrent calls: APDUs of two calls never interleave", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("019100", "00019000", "00029000");
    const [a, b] = await Promise.all([
      dev.call(CBOR, fromHex("0a")),
      dev.call(CBOR, fromHex("0b")),
    ]);
    assert.equal(toHex(a), "0001");
    assert.equal(toHex(b), "0002");
    assert.deepEqual(card.sent.slice(2), ["80108000010a00", "8011000000", "80108000010b00"]);
  });

  it("a transmit failure surfaces as the typed PC/SC error", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push(pcscError(SCARD.W_REMOVED_CARD, "SCardTransmit", card.reader));
    await assert.rejects(dev.call(CBOR, fromHex("04")), CardRemovedError);
  });
});

describe("extended length and its fallback", () => {
  it("an ATR advertising extended Lc/Le gets one extended APDU instead of a chain", async () => {
    const card = new ScriptedCard([], fromHex("3b858001807300004000"));
    const dev = await openCtap2(card);
    assert.equal(dev.extendedApdus, true);
    card.push("009000");
    await dev.call(CBOR, new Uint8Array(300));
    assert.equal(card.sent[2], "8010800000012c" + "00".repeat(300) + "0000");
  });

  it("a card that refuses the extended APDU (6700) gets the chain, and keeps getting it", async () => {
    const card = new ScriptedCard([], fromHex("3b858001807300004000"));
    const dev = await openCtap2(card);
    card.push("6700", "9000", "009000", "9000", "009000");
    await dev.call(CBOR, new Uint8Array(300));
    assert.equal(dev.extendedApdus, false);
    assert.deepEqual(card.sent.slice(3).map((h) => h.slice(0, 10)), ["90108000fa", "8010800032"]);
    await dev.call(CBOR, new Uint8Array(300));
    assert.deepEqual(card.sent.slice(5).map((h) => h.slice(0, 10)), ["90108000fa", "8010800032"]);
  });

  it("a card that refuses chaining (6884) gets an extended APDU", async () => {
    const card = new ScriptedCard();
    const dev = await openCtap2(card);
    card.push("6884", "009000");
    await dev.call(CBOR, new Uint8Array(300));
    assert.equal(dev.extendedApdus, true);
    assert.equal(card.sent[3].slice(0, 14), "8010800000012c");
  });

  it("forced short mode never switches", async () => {
    const t = new ApduTransport(() => Promise.resolve(fromHex("6884")), { mode: "short" });
    const r = await t.exchange({ cla: 0x80, ins: 0x10, p1: 0, p2: 0, data: new Uint8Array(300) });
    assert.equal(r.sw, 0x6884);
    assert.equal(t.extended, false);
  });
});

describe("U2F over ISO 7816", () => {
  it("re-emits Ctap1's extended APDU as a short one and returns data ‖ SW", async () => {
    const card = new ScriptedCard([U2F_V2, "6d00"]);
    const dev = await CtapPcscDevice.open(card);
    card.push("5532465f56329000");
    assert.equal(await new Ctap1(dev).getVersion(), "U2F_V2");
    assert.equal(card.sent[2], "0003000000");
    card.push("753266755f72657370" + "9000");
    const r = await dev.call(MSG, fromHex("0001000005010101010100"));
    assert.equal(card.sent[3], "0001000005010101010100");
    assert.equal(toHex(r), "753266755f726573709000");
  });

  it("passes 6985 (touch needed) through as the status word", async () => {
    const card = new ScriptedCard([U2F_V2, "6d00", "6985"]);
    const dev = await CtapPcscDevice.open(card);
    await assert.rejects(
      new Ctap1(dev).register(new Uint8Array(32), new Uint8Array(32)),
      (e: unknown) => e instanceof ApduError && e.code === 0x6985,
    );
    assert.equal(card.sent[2], "0001000040" + "00".repeat(64) + "00");
  });

  it("malformed MSG data is a FormatError, nothing sent", async () => {
    const card = new ScriptedCard([U2F_V2, "6d00"]);
    const dev = await CtapPcscDevice.open(card);
    await assert.rejects(dev.call(MSG, fromHex("0001")), FormatError);
    assert.equal(card.sent.length, 2);
  });
});

describe("PC/SC errors", () => {
  it("maps each SCARD code family to its class, naming the call and the fix", () => {
    const cases: [number, new (...a: never[]) => PcscError][] = [
      [SCARD.W_REMOVED_CARD, CardRemovedError],
      [SCARD.W_RESET_CARD, CardRemovedError],
      [SCARD.E_READER_UNAVAILABLE, ReaderGoneError],
      [SCARD.E_NO_SERVICE, ReaderGoneError],
      [SCARD.E_SHARING_VIOLATION, SharingViolationError],
      [SCARD.F_COMM_ERROR, TransmitError],
      [SCARD.E_NO_SMARTCARD, NoCardError],
    ];
    for (const [code, cls] of cases) {
      const e = pcscError(code, "SCardTransmit", "R 00 00");
      assert.ok(e instanceof cls, e.name);
      assert.ok(e instanceof TransportError);
      assert.equal(e.code, code);
      assert.match(e.message, /SCardTransmit on reader "R 00 00" failed: SCARD_/);
    }
    // Windows reports LONG results as negative 32-bit numbers: same code.
    assert.equal(pcscError(0x80100069 | 0, "x").code, 0x80100069);
    assert.match(pcscError(SCARD.E_NO_SERVICE, "SCardEstablishContext").message, /pcscd/);
    assert.equal(pcscError(0x80100099, "x").constructor, PcscError);
  });
});

describe("listPcscDevices", () => {
  function backend(cards: Record<string, ScriptedCard | undefined>): PcscBackend & {
    connected: string[];
  } {
    const connected: string[] = [];
    return {
      connected,
      listReaders: () =>
        Promise.resolve(Object.entries(cards).map(([name, c]) => ({ name, cardPresent: !!c }))),
      connect: (name: string) => {
        connected.push(name);
        return Promise.resolve(cards[name]!);
      },
    };
  }

  it("yields one device per reader with a FIDO card; filters by substring; skips others", async () => {
    const b = backend({
      "ACS ACR122U 00 00": new ScriptedCard([U2F_V2, INFO_OK], undefined, "ACS ACR122U 00 00"),
      "Empty Reader 00 00": undefined,
      "Virtual PCD 00 00": new ScriptedCard([FIDO_2_0, INFO_OK], undefined, "Virtual PCD 00 00"),
      "Virtual PCD 00 01": new ScriptedCard(["6a82"], undefined, "Virtual PCD 00 01"),
    });
    const skipped: string[] = [];
    const all = [];
    for await (const d of listPcscDevices("", { backend: b, onSkip: (r) => skipped.push(r) })) {
      all.push(d.reader);
    }
    assert.deepEqual(all, ["ACS ACR122U 00 00", "Virtual PCD 00 00"]);
    assert.deepEqual(skipped, ["Virtual PCD 00 01"]);
    assert.ok(!b.connected.includes("Empty Reader 00 00"));

    const b2 = backend({
      "ACS ACR122U 00 00": new ScriptedCard([U2F_V2, INFO_OK]),
      "Virtual PCD 00 00": new ScriptedCard([FIDO_2_0, INFO_OK], undefined, "Virtual PCD 00 00"),
    });
    const picked = [];
    for await (const d of listPcscDevices("Virtual", { backend: b2 })) picked.push(d.reader);
    assert.deepEqual(picked, ["Virtual PCD 00 00"]);
    assert.deepEqual(b2.connected, ["Virtual PCD 00 00"]);
  });
});

describe("fido2 --reader", () => {
  it("is one device selection among --device, --virtual, --udp: two of them is a usage error", async () => {
    let err = "";
    const io = {
      stdout: { write: (_t: string | Uint8Array) => true },
      stderr: { write: (t: string | Uint8Array) => (err += t) },
      env: {},
    };
    assert.equal(
      await main(["info", "--reader", "ACR", "--udp", "127.0.0.1:8111"], io),
      EXIT.USAGE,
    );
    assert.match(err, /Use only one of --device, --virtual, --udp and --reader/);
    err = "";
    assert.equal(
      await main(["info", "--help"], {
        ...io,
        stdout: { write: (t: string | Uint8Array) => (err += t) },
      }),
      EXIT.OK,
    );
    assert.match(err, /--reader NAME/);
  });
});

describe("loading", () => {
  it("importing @x/fido2/pcsc needs no permission; listing without --allow-ffi names the flag", () => {
    const script = 'import { listPcscDevices } from "./src/pcsc/mod.ts";\n' +
      'import { CtapPcscDevice } from "./mod.ts";\n' +
      "console.log(typeof listPcscDevices, typeof CtapPcscDevice);\n" +
      "try { for await (const _ of listPcscDevices()) break; } catch (e) {\n" +
      "  console.log((e as Error).name, (e as Error).message); }\n";
    const r = spawnSync(
      `${repoRoot}/node_modules/.bin/deno`,
      ["run", "--no-prompt", "--no-check", "--ext=ts", "-"],
      { cwd: repoRoot, input: script, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
    );
    assert.equal(r.status, 0, r.stderr);
    const [first, second] = r.stdout.trim().split("\n");
    assert.equal(first, "function function");
    assert.match(second, /^LibraryLoadError Deno needs --allow-ffi/);
  });
});
