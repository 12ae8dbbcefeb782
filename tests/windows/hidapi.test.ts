// ffi/hidapi.ts under Bun for Windows (Wine) against the mingw-built fake hidapi.dll: 2-byte
// wchar_t strings, enumeration, reads on the reader Worker, and the message for Windows'
// admin-only HID writes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cString, getEnv, openLibrary, wcharSize } from "../../ffi/runtime.ts";
import { loadHidApi } from "../../ffi/hidapi.ts";
import { TransportError } from "../../src/errors.ts";
import { openDevice } from "../../src/hid/mod.ts";

function fakeDll(): string {
  const dir = getEnv("FIDO2_TEST_FIXTURES");
  if (!dir) throw new Error("FIDO2_TEST_FIXTURES is not set: run scripts/test-windows.mjs");
  return `${dir}\\hidapi.dll`;
}

// path vid pid serial release manufacturer product usage_page usage interface bus
const KEY = [
  "\\\\?\\hid#vid_1050&pid_0407#fido",
  "0x1050",
  "0x0407",
  "SN-ü😀",
  "0x0512",
  "Yubico",
  "YubiKey 😀 FIDO",
  "0xf1d0",
  "0x01",
  "1",
  "1",
];

async function control() {
  const lib = await openLibrary([fakeDll()], {
    fake_hidapi_configure: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_fault: { parameters: ["buffer", "i32"], result: "i32" },
    fake_hidapi_reset: { parameters: [], result: "void" },
  });
  return lib.symbols;
}

describe("hidapi binding under Wine", () => {
  it("enumerates with 2-byte wide strings", async () => {
    assert.equal(wcharSize(), 2);
    const ctl = await control();
    ctl.fake_hidapi_reset();
    assert.equal(ctl.fake_hidapi_configure(cString(KEY.join("\t"))), 1);
    const api = await loadHidApi({ path: fakeDll() });
    const [info] = await api.enumerate();
    assert.equal(info.path, KEY[0]);
    assert.equal(info.vendorId, 0x1050);
    assert.equal(info.serialNumber, "SN-ü😀");
    assert.equal(info.productString, "YubiKey 😀 FIDO");
    assert.equal(info.usagePage, 0xf1d0);
  });

  it("CTAPHID over hidapi.dll: INIT, then a PING echoed through write and read", async () => {
    const ctl = await control();
    ctl.fake_hidapi_reset();
    ctl.fake_hidapi_configure(cString(KEY.join("\t")));
    const api = await loadHidApi({ path: fakeDll() });
    const device = await openDevice(KEY[0], api);
    try {
      const payload = new Uint8Array(300).map((_, i) => i & 0xff);
      assert.deepEqual(await device.ping(payload), payload);
    } finally {
      await device.close();
    }
  });

  it("a report that arrives later wakes the read on the reader Worker", async () => {
    const ctl = await control();
    ctl.fake_hidapi_reset();
    ctl.fake_hidapi_configure(cString(KEY.join("\t")));
    const api = await loadHidApi({ path: fakeDll() });
    const device = await openDevice(KEY[0], api);
    try {
      // Replies held for the next 20 ms frame: the zero-timeout read misses, the Worker waits.
      // (The fake paces one reply at a time: a one-report PING.)
      assert.equal(ctl.fake_hidapi_fault(cString("pace_us"), 20000), 0);
      const payload = new Uint8Array(40).map((_, i) => (i * 3) & 0xff);
      assert.deepEqual(await device.ping(payload), payload);
    } finally {
      ctl.fake_hidapi_fault(cString("pace_us"), 0);
      await device.close();
    }
  });

  it("a refused first write tells the user to use WindowsClient", async () => {
    const ctl = await control();
    ctl.fake_hidapi_reset();
    ctl.fake_hidapi_configure(cString(KEY.join("\t")));
    const api = await loadHidApi({ path: fakeDll() });
    const c = await api.open(KEY[0]);
    try {
      assert.equal(ctl.fake_hidapi_fault(cString("write_error"), 1), 0);
      await assert.rejects(
        c.writePacket(new Uint8Array(64)),
        (e) => e instanceof TransportError && /use WindowsClient/.test(e.message),
      );
    } finally {
      await c.close();
    }
  });
});
