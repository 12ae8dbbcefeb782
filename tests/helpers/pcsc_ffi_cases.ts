/**
 * The ffi/pcsc.ts test cases, run against tests/fixtures/fake_pcsc.c built for one ABI: on
 * Linux for pcsclite and (same machine, other layout) macOS, under Wine for winscard.dll.
 * Each case checks what the fake library received field by field (its call log) and what the
 * binding made of the fake's answers.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cString, openLibrary, readCString } from "../../ffi/runtime.ts";
import { loadPcsc, type PcscAbi } from "../../ffi/pcsc.ts";
import { CONST } from "../../ffi/pcsc_abi.ts";
import {
  CardRemovedError,
  CtapPcscDevice,
  listPcscDevices,
  ReaderGoneError,
  SCARD,
  SharingViolationError,
  TransmitError,
} from "../../src/pcsc/mod.ts";
import { Ctap2 } from "../../src/ctap2/mod.ts";
import { GET_INFO_HEX, INFO_OK, SELECT_HEX, U2F_V2 } from "./scripted_card.ts";

const CONTROL = {
  fake_pcsc_reset: { parameters: [], result: "void" },
  fake_pcsc_add_reader: { parameters: ["buffer", "buffer", "i32"], result: "i32" },
  fake_pcsc_push: { parameters: ["buffer"], result: "i32" },
  fake_pcsc_fail: { parameters: ["buffer", "i32"], result: "void" },
  fake_pcsc_log: { parameters: [], result: "ptr" },
  fake_pcsc_layout: { parameters: [], result: "ptr" },
} as const;

/** Test controls of a loaded fake. */
export interface FakePcsc {
  reset(): void;
  addReader(name: string, atrHex: string, present: boolean): void;
  push(...hex: string[]): void;
  fail(fn: string, code: number): void;
  log(): string[];
  layout(): string;
}

/** Binds the control exports of the fake at `path` (same library instance as the binding's). */
export async function openFake(path: string): Promise<FakePcsc> {
  const lib = await openLibrary([path], CONTROL);
  const s = lib.symbols;
  return {
    reset: () => s.fake_pcsc_reset(),
    addReader: (name, atr, present) => {
      assert.ok(s.fake_pcsc_add_reader(cString(name), cString(atr), present ? 1 : 0) > 0);
    },
    push: (...hex) => hex.forEach((h) => assert.equal(s.fake_pcsc_push(cString(h)), 0)),
    fail: (fn, code) => s.fake_pcsc_fail(cString(fn), code | 0),
    log: () => (readCString(s.fake_pcsc_log()) ?? "").split("\n").filter(Boolean),
    layout: () => readCString(s.fake_pcsc_layout()) ?? "",
  };
}

const NFC_ATR = "3b8f8001804f0ca000000306030001000000006a";
/** Non-ASCII on purpose: UTF-8 in pcsclite/macOS, UTF-16 with a surrogate pair on Windows. */
const READER_2 = "Lecteur sans contact é 😀 00 00";

/** Registers the ffi/pcsc.ts cases for the fake at `path()` built with `abi`. */
export function definePcscFfiCases(label: string, path: () => string, abi: PcscAbi): void {
  let fake: FakePcsc;
  const load = () => loadPcsc({ path: path(), abi });
  const setup = async () => {
    fake ??= await openFake(path());
    fake.reset();
    fake.addReader("Empty Reader 00 00", "", false);
    fake.addReader(READER_2, NFC_ATR, true);
    return fake;
  };

  describe(`PC/SC binding, ${label}`, () => {
    it("the fake's struct layout is the binding's ABI table", async () => {
      const f = await setup();
      const L = abi.readerState;
      assert.equal(
        f.layout(),
        `abi=${abi.name} dword=${abi.dword} handle=${abi.handle} io=${abi.ioRequestSize} ` +
          `state=${L.size} event=${L.eventState} cbAtr=${L.cbAtr} rgbAtr=${L.rgbAtr}`,
      );
    });

    it("lists readers with card state and ATR through SCardGetStatusChange", async () => {
      const f = await setup();
      const pcsc = await load();
      const readers = await pcsc.listReaders();
      assert.deepEqual(readers.map((r) => [r.name, r.cardPresent]), [
        ["Empty Reader 00 00", false],
        [READER_2, true],
      ]);
      assert.equal(Buffer.from(readers[1].atr!).toString("hex"), NFC_ATR);
      pcsc.close();
      assert.deepEqual(f.log(), [
        "EstablishContext scope=0 r1=NULL r2=NULL",
        "ListReaders ctx=1 groups=NULL buf=NULL len=0",
        // Windows counts UTF-16 units: the emoji is a surrogate pair.
        `ListReaders ctx=1 groups=NULL buf=set len=${abi.wide ? 52 : 55}`,
        "GetStatusChange ctx=1 timeout=0 count=2 [0 current=0 user=NULL] [1 current=0 user=NULL]",
        "ReleaseContext ok=1",
      ]);
    });

    it("CtapPcscDevice over the library: SELECT, getInfo, transactions, disconnect", async () => {
      const f = await setup();
      f.push(U2F_V2, INFO_OK, INFO_OK);
      const devices = [];
      for await (const d of listPcscDevices("", { libraryPath: path(), backend: await load() })) {
        devices.push(d);
      }
      assert.equal(devices.length, 1);
      const dev = devices[0];
      assert.equal(dev.reader, READER_2);
      assert.equal(Buffer.from(dev.atr).toString("hex"), NFC_ATR);
      assert.equal(dev.capabilities, 0x04);
      const { info } = await Ctap2.create(dev);
      assert.deepEqual(info.versions, ["FIDO_2_0"]);
      await dev.close();
      const io = `pci.protocol=2 pci.length=${abi.ioRequestSize} recvPci=NULL capacity=65548`;
      const log = f.log().filter((l) => !l.startsWith("ListReaders") && !l.startsWith("Get"));
      assert.deepEqual(log, [
        "EstablishContext scope=0 r1=NULL r2=NULL",
        "Connect ctx=1 reader=1 share=2 protocols=3",
        `Status card=1 name=NULL atr_len=${abi.readerState.atrMax}`,
        "BeginTransaction card=1",
        `Transmit card=1 ${io} apdu=${SELECT_HEX}`,
        `Transmit card=1 ${io} apdu=${GET_INFO_HEX}`,
        "EndTransaction card=1 disposition=0",
        "BeginTransaction card=1",
        `Transmit card=1 ${io} apdu=${GET_INFO_HEX}`,
        "EndTransaction card=1 disposition=0",
        "Disconnect card=1 disposition=0",
      ]);
    });

    it("the context outlives listPcscDevices until the last device closes", async () => {
      const f = await setup();
      f.push(U2F_V2, INFO_OK);
      const pcsc = await load();
      const it = listPcscDevices("", { backend: pcsc });
      const dev = (await it.next()).value as CtapPcscDevice;
      pcsc.close();
      assert.ok(!f.log().includes("ReleaseContext ok=1"));
      await dev.close();
      assert.equal(f.log().at(-1), "ReleaseContext ok=1");
      await it.return(undefined);
    });

    it("reconnect power-cycles (SCARD_UNPOWER_CARD) and selects again", async () => {
      const f = await setup();
      f.push(U2F_V2, INFO_OK, U2F_V2, INFO_OK);
      const pcsc = await load();
      const dev = await CtapPcscDevice.open(await pcsc.connect(READER_2));
      await dev.reconnect();
      assert.ok(f.log().includes("Reconnect card=1 share=2 protocols=3 init=2"));
      await dev.close();
      pcsc.close();
    });

    it("typed errors: removed card, comm failure, sharing violation, no service", async () => {
      const f = await setup();
      f.push(U2F_V2, INFO_OK);
      const pcsc = await load();
      const dev = await CtapPcscDevice.open(await pcsc.connect(READER_2));
      f.fail("SCardTransmit", 0x80100069);
      await assert.rejects(Ctap2.create(dev), CardRemovedError);
      f.fail("SCardTransmit", 0x80100013);
      await assert.rejects(Ctap2.create(dev), TransmitError);
      f.fail("SCardConnect", 0x8010000b);
      await assert.rejects(pcsc.connect(READER_2), (e: unknown) => {
        assert.ok(e instanceof SharingViolationError);
        assert.match(e.message, /SCardConnect on reader ".*" failed: SCARD_E_SHARING_VIOLATION/);
        return true;
      });
      await dev.close();
      pcsc.close();
      f.fail("SCardEstablishContext", 0x8010001d);
      await assert.rejects(load(), ReaderGoneError);
    });

    it("no readers at all lists nothing (SCARD_E_NO_READERS_AVAILABLE)", async () => {
      const f = await setup();
      f.reset();
      const pcsc = await load();
      assert.deepEqual(await pcsc.listReaders(), []);
      pcsc.close();
    });
  });
}

/**
 * What tests/fixtures/pcsc_layout.c prints when built against the real headers of `abi`: the
 * binding's struct layout, the error codes it maps and the constants it passes.
 */
export function expectedHeaderLayout(abi: PcscAbi): string {
  const L = abi.readerState;
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return `abi=${abi.name} dword=${abi.dword} handle=${abi.handle} io=${abi.ioRequestSize} ` +
    `state=${L.size} event=${L.eventState} cbAtr=${L.cbAtr} rgbAtr=${L.rgbAtr} | ` +
    `removed=${hex(SCARD.W_REMOVED_CARD)} reset=${hex(SCARD.W_RESET_CARD)} ` +
    `sharing=${hex(SCARD.E_SHARING_VIOLATION)} noService=${hex(SCARD.E_NO_SERVICE)} ` +
    `readerUnavailable=${hex(SCARD.E_READER_UNAVAILABLE)} ` +
    `noReaders=${hex(SCARD.E_NO_READERS_AVAILABLE)} commError=${hex(SCARD.F_COMM_ERROR)} | ` +
    `shared=${CONST.SHARE_SHARED} exclusive=${CONST.SHARE_EXCLUSIVE} t0=${CONST.PROTOCOL_T0} ` +
    `t1=${CONST.PROTOCOL_T1} leave=${CONST.LEAVE_CARD} reset=${CONST.RESET_CARD} ` +
    `unpower=${CONST.UNPOWER_CARD} present=${CONST.STATE_PRESENT} ` +
    `exclusiveState=${CONST.STATE_EXCLUSIVE} mute=${CONST.STATE_MUTE}`;
}

/** Reads the layout string of a pcsc_layout.c build. */
export async function headerLayout(path: string): Promise<string> {
  const lib = await openLibrary([path], { pcsc_layout: { parameters: [], result: "ptr" } });
  try {
    return readCString(lib.symbols.pcsc_layout()) ?? "";
  } finally {
    lib.close();
  }
}
