// Issue 13, first-run errors: a plugged-in key that cannot be opened, Deno without
// --allow-ffi, a missing hidapi and an hidapi too old to report usage pages each get a
// message that names the cause and the fix (and never "no key found").
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { accessHint, defaultLibraryCandidates, loadHidApi, udevRule } from "../ffi/hidapi.ts";
import { cString, LibraryLoadError, openLibrary } from "../ffi/runtime.ts";
import {
  createConnectionPair,
  CtapHidServer,
  getDescriptor,
  HidAccessError,
  type HidBackend,
  type HidDeviceInfo,
  listDescriptors,
  listDevices,
  openDevice,
  type UnopenableDevice,
} from "../src/hid/mod.ts";
import { TransportError } from "../src/errors.ts";
import { fromHex } from "../src/utils.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";
import { buildFixture, repoRoot } from "./helpers/build_fixture.ts";

const FAKE_014 = buildFixture("fake_hidapi");
const FAKE_0100 = buildFixture("fake_hidapi", {
  defines: { FAKE_VERSION_MINOR: 10, FAKE_NO_REPORT_DESCRIPTOR: true },
});
const FAKE_09 = buildFixture("fake_hidapi", {
  defines: { FAKE_VERSION_MINOR: 9, FAKE_NO_VERSION: true, FAKE_NO_REPORT_DESCRIPTOR: true },
});
const FIDO_DESCRIPTOR = "06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0";
// path vid pid serial release manufacturer product usage_page usage interface bus
const KEY = ["/dev/hidraw3", "0x1050", "0x0407", "SN1", "0x0512", "Yubico", "YubiKey FIDO"]
  .concat(["0xf1d0", "0x01", "1", "1"]);
/** What hidapi before 0.10.1 reports for the same key on hidraw: usage page 0. */
const OLD_KEY = KEY.slice(0, 7).concat(["0", "0", "1", "1"]);

async function control(path: string) {
  const lib = await openLibrary([path], {
    fake_hidapi_configure: { parameters: ["buffer"], result: "i32" },
    fake_hidapi_fault: { parameters: ["buffer", "i32"], result: "i32" },
    fake_hidapi_reset: { parameters: [], result: "void" },
  });
  return {
    setup(devices: string[][]) {
      lib.symbols.fake_hidapi_reset();
      const spec = devices.map((d) => d.join("\t")).join("\n");
      assert.equal(lib.symbols.fake_hidapi_configure(cString(spec)), devices.length);
    },
    fault(name: string, value: number) {
      assert.equal(lib.symbols.fake_hidapi_fault(cString(name), value), 0);
    },
  };
}

describe("keys found but not openable (issue 13)", () => {
  it("listDevices ends with HidAccessError naming each key, the reason and the udev fix", async () => {
    const ctl = await control(FAKE_014);
    ctl.setup([KEY]);
    ctl.fault("open_fail", 1);
    const api = await loadHidApi({ path: FAKE_014 });
    try {
      const seen: UnopenableDevice[] = [];
      const opened: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const d of listDevices(api, { onUnopenable: (u) => seen.push(u) })) {
            opened.push(d.descriptor.path);
            await d.close();
          }
        })(),
        (e: unknown) => {
          assert.ok(e instanceof HidAccessError, `got ${e}`);
          assert.ok(e instanceof TransportError);
          assert.match(e.message, /^Found 1 FIDO security key but could not open it:/);
          assert.match(e.message, /\/dev\/hidraw3 \(1050:0407 YubiKey FIDO\): .*Permission denied/);
          if (process.platform === "linux") {
            assert.ok(e.message.includes(udevRule(0x1050, 0x0407)), e.message);
            assert.match(e.message, /udevadm/);
          }
          assert.equal(e.devices.length, 1);
          return true;
        },
      );
      assert.deepEqual(opened, []);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].descriptor.path, "/dev/hidraw3");
      // openDevice on the same key gives the same reason and fix.
      await assert.rejects(openDevice("/dev/hidraw3", api), (e: unknown) => {
        assert.ok(e instanceof TransportError);
        assert.match(e.message, /Permission denied/);
        if (process.platform === "linux") assert.match(e.message, /70-fido\.rules/);
        return true;
      });
    } finally {
      ctl.fault("open_fail", 0);
    }
  });

  it("keys that open are yielded; the others go to onUnopenable and raise nothing", async () => {
    const va = new VirtualAuthenticator();
    const info = (path: string): HidDeviceInfo => ({
      path,
      vendorId: 0x1050,
      productId: 0x0407,
      releaseNumber: 1,
      usagePage: 0xf1d0,
      usage: 1,
      interfaceNumber: 0,
    });
    const servers: CtapHidServer[] = [];
    const backend: HidBackend = {
      enumerate: () => Promise.resolve([info("/dev/hidraw1"), info("/dev/hidraw2")]),
      open(path) {
        if (path === "/dev/hidraw1") {
          return Promise.reject(new TransportError(`Could not open ${path}: Permission denied`));
        }
        const [client, device] = createConnectionPair(64);
        const s = new CtapHidServer(device, va.authenticator);
        s.start();
        servers.push(s);
        return Promise.resolve(client);
      },
      accessHint: (d, e) => accessHint("linux", d, e),
    };
    const skipped: UnopenableDevice[] = [];
    const paths: string[] = [];
    for await (const d of listDevices(backend, { onUnopenable: (u) => skipped.push(u) })) {
      paths.push(d.descriptor.path);
      await d.close();
    }
    for (const s of servers) await s.stop();
    assert.deepEqual(paths, ["/dev/hidraw2"]);
    assert.deepEqual(skipped.map((s) => s.descriptor.path), ["/dev/hidraw1"]);
    assert.ok(skipped[0].fix?.includes(udevRule(0x1050, 0x0407)));
  });

  it("the fix per platform: udev rule on Linux, WindowsClient/createClient on Windows", () => {
    const key = { vid: 0x20a0, pid: 0x42b1 };
    const denied = new TransportError("Could not open HID device /dev/hidraw0: Permission denied");
    const linux = accessHint("linux", key, denied)!;
    assert.ok(linux.includes(`ATTRS{idVendor}=="20a0", ATTRS{idProduct}=="42b1"`), linux);
    assert.match(linux, /TAG\+="uaccess"/);
    const win = accessHint("win32", key, new TransportError("hid_write failed: Access denied"))!;
    assert.match(win, /WindowsClient/);
    assert.match(win, /createClient/);
    assert.match(
      accessHint("linux", key, new Error("Device or resource busy"))!,
      /another program/,
    );
    assert.equal(accessHint("linux", key, new Error("No such device")), undefined);
  });
});

describe("hidapi loading (issue 13, issue 14 item 5)", () => {
  it("the load error lists each candidate on one line with the reason once", async () => {
    await assert.rejects(
      openLibrary(["/nonexistent/liba.so", "/nonexistent/libb.so"], {
        hid_init: { parameters: [], result: "i32" },
      }),
      (e: unknown) => {
        assert.ok(e instanceof LibraryLoadError);
        const lines = e.message.split("\n");
        assert.equal(lines.length, 3, e.message);
        assert.match(lines[1], /^ {2}\/nonexistent\/liba\.so: .*No such file/);
        assert.match(lines[2], /^ {2}\/nonexistent\/libb\.so: .*No such file/);
        for (const l of lines.slice(1)) {
          assert.equal(l.split("/nonexistent/").length, 2, `path repeated: ${l}`);
          assert.doesNotMatch(l, /Could not open library|Failed to open library/);
        }
        assert.deepEqual(e.failures.map((f) => f.path), [
          "/nonexistent/liba.so",
          "/nonexistent/libb.so",
        ]);
        return true;
      },
    );
    await assert.rejects(loadHidApi({ path: "/nonexistent/libhidapi-nope.so" }), (e: unknown) => {
      assert.ok(e instanceof LibraryLoadError);
      assert.match(
        e.message,
        /^libhidapi is not available\. Tried:\n {2}\/nonexistent\/libhidapi-nope\.so: /,
      );
      assert.match(e.message, /\nFix: .*FIDO2_HIDAPI_LIB/);
      assert.equal(e.message.split("libhidapi-nope.so").length, 2, e.message);
      return true;
    });
  });

  it("Windows: hidapi.dll only from the application directory, never by bare name", () => {
    assert.deepEqual(defaultLibraryCandidates("win32", ["C:\\Program Files\\app"]), [
      "C:\\Program Files\\app\\hidapi.dll",
    ]);
    assert.deepEqual(defaultLibraryCandidates("win32", ["C:\\app\\", "D:\\bin"]), [
      "C:\\app\\hidapi.dll",
      "D:\\bin\\hidapi.dll",
    ]);
    assert.deepEqual(defaultLibraryCandidates("win32", []), []);
    assert.ok(defaultLibraryCandidates("linux").includes("libhidapi-hidraw.so.0"));
  });

  it("Deno without --allow-ffi names the missing flag, not a missing hidapi", () => {
    // Inside the repository, so Deno resolves the npm dependencies through its config.
    mkdirSync(join(repoRoot, ".cache"), { recursive: true });
    const dir = mkdtempSync(join(repoRoot, ".cache", "noffi-"));
    try {
      const script = join(dir, "main.ts");
      writeFileSync(
        script,
        `import { listDevices } from ${JSON.stringify(join(repoRoot, "src/hid/mod.ts"))};\n` +
          "try { for await (const d of listDevices()) await d.close(); console.log('NO ERROR'); }\n" +
          "catch (e) { console.log(`${e.name}: ${e.message}`); }\n",
      );
      const r = spawnSync(
        join(repoRoot, "node_modules", ".bin", "deno"),
        ["run", "--no-check", "--allow-read", "--allow-env", script],
        { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^FfiPermissionError: .*--allow-ffi/);
      assert.doesNotMatch(r.stdout, /install hidapi/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("hidapi older than 0.10.1 (no usage page on hidraw)", () => {
  it("recognises keys by the report descriptor Linux exports in sysfs", async () => {
    const ctl = await control(FAKE_0100);
    ctl.setup([OLD_KEY]);
    const sysfs = mkdtempSync(join(tmpdir(), "fido2-sysfs-"));
    try {
      mkdirSync(join(sysfs, "hidraw3", "device"), { recursive: true });
      writeFileSync(
        join(sysfs, "hidraw3", "device", "report_descriptor"),
        fromHex(FIDO_DESCRIPTOR),
      );
      const api = await loadHidApi({ path: FAKE_0100, sysfsRoot: sysfs });
      assert.deepEqual(api.version, { major: 0, minor: 10, patch: 0 });
      const list = await listDescriptors(api);
      assert.deepEqual(list.map((d) => [d.path, d.vid, d.reportSizeIn]), [[
        "/dev/hidraw3",
        0x1050,
        64,
      ]]);
      assert.equal((await getDescriptor("/dev/hidraw3", api)).productName, "YubiKey FIDO");
    } finally {
      rmSync(sysfs, { recursive: true, force: true });
    }
  });

  it("without a readable descriptor, says why no key is listed and how to fix it", async () => {
    const ctl = await control(FAKE_09);
    ctl.setup([OLD_KEY]);
    const api = await loadHidApi({ path: FAKE_09, sysfsRoot: "/nonexistent" });
    assert.match(api.enumerationLimit ?? "", /older than 0\.10.*0\.10\.1 or later/);
    await assert.rejects(listDescriptors(api), (e: unknown) => {
      assert.ok(e instanceof HidAccessError, `got ${e}`);
      assert.match(e.message, /1 HID device\(s\) could not be checked.*hidapi older than 0\.10/);
      assert.match(e.message, /install hidapi 0\.10\.1 or later/);
      return true;
    });
    // A 0.14 library reports usage pages: no limit and the key is listed.
    const ctl14 = await control(FAKE_014);
    ctl14.setup([KEY]);
    const api14 = await loadHidApi({ path: FAKE_014 });
    assert.equal(api14.enumerationLimit, undefined);
    assert.deepEqual((await listDescriptors(api14)).map((d) => d.path), ["/dev/hidraw3"]);
  });
});

describe("listDescriptors / getDescriptor (python-fido2 parity)", () => {
  it("list keys without opening them; getDescriptor refuses non-FIDO and unknown paths", async () => {
    let opens = 0;
    const backend: HidBackend = {
      enumerate: () =>
        Promise.resolve([
          {
            path: "a",
            vendorId: 1,
            productId: 2,
            releaseNumber: 0,
            usagePage: 0xf1d0,
            usage: 1,
            interfaceNumber: 0,
          },
          {
            path: "b",
            vendorId: 1,
            productId: 3,
            releaseNumber: 0,
            usagePage: 1,
            usage: 6,
            interfaceNumber: 0,
          },
        ]),
      open: () => {
        opens++;
        return Promise.reject(new Error("must not open"));
      },
    };
    assert.deepEqual((await listDescriptors(backend)).map((d) => d.path), ["a"]);
    assert.equal((await getDescriptor("a", backend)).pid, 2);
    await assert.rejects(getDescriptor("b", backend), /not a FIDO authenticator/);
    await assert.rejects(getDescriptor("c", backend), /No HID device at c/);
    assert.equal(opens, 0);
  });
});
