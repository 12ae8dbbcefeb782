// createClient (src/client/factory.ts): webauthn.dll when it is available and the process is
// not elevated, else Fido2Client over the first authenticator. The Windows branch runs
// against the fake webauthn library (FIDO2_WEBAUTHN_LIB, platform "win32" injected); the
// Fido2Client branch against VirtualAuthenticators handed in through `listDevices`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient, type CreateClientOptions } from "../src/client/factory.ts";
import { Fido2Client } from "../src/client/fido2.ts";
import { WindowsClient } from "../src/client/windows.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import type { CtapDevice } from "../src/ctap.ts";
import { TransportError } from "../src/errors.ts";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";
import { isElevated } from "../ffi/win32.ts";
import { LIBRARY_ENV } from "../ffi/webauthn.ts";
import { platform } from "../ffi/runtime.ts";
import { PublicKeyCredentialCreationOptions } from "../src/webauthn.ts";
import {
  buildFakeWebAuthn,
  type FakeControls,
  openFakeControls,
  withEnv,
} from "./helpers/webauthn_fixture.ts";

const ORIGIN = "https://example.com";
const collector = new DefaultClientDataCollector(ORIGIN);
const E = ClientError.ERR;

let path = "";
let ctl: FakeControls;

before(async () => {
  path = buildFakeWebAuthn();
  ctl = await openFakeControls(path);
});
after(() => ctl?.close());

function creation(): PublicKeyCredentialCreationOptions {
  return new PublicKeyCredentialCreationOptions({
    rp: { name: "Example RP" },
    user: { id: new Uint8Array([1, 2, 3]), name: "alice", displayName: "Alice" },
    challenge: new Uint8Array(32).fill(9),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  });
}

/** Only FIDO2_WEBAUTHN_LIB set (to `lib`), its alias cleared. */
function libEnv(lib: string | undefined): Record<string, string | undefined> {
  return Object.fromEntries(
    LIBRARY_ENV.map((n) => [n, n === "FIDO2_WEBAUTHN_LIB" ? lib : undefined]),
  );
}

/** A device wrapper recording close(), or failing every call when `broken`. */
function tracked(device: CtapDevice, log: string[], name: string, broken = false): CtapDevice {
  return {
    get capabilities() {
      return device.capabilities;
    },
    call: (cmd, data, o) =>
      broken ? Promise.reject(new TransportError("unplugged")) : device.call(cmd, data, o),
    close: async () => {
      log.push(`close ${name}`);
      await device.close();
    },
  };
}

/** A lister over virtual authenticators that logs which devices it opened. */
function virtualDevices(log: string[], spec: { name: string; broken?: boolean }[]) {
  return async function* (): AsyncIterable<CtapDevice> {
    for (const s of spec) {
      log.push(`open ${s.name}`);
      const va = new VirtualAuthenticator({});
      yield tracked(await va.device(), log, s.name, s.broken);
    }
  };
}

const never = (): AsyncIterable<CtapDevice> => {
  throw new Error("listDevices must not be called on the webauthn.dll branch");
};

describe("createClient: the webauthn.dll branch", () => {
  it("Windows, library available, not elevated: a WindowsClient over that library", async () => {
    ctl.reset();
    await withEnv(libEnv(path), async () => {
      const client = await createClient(collector, {
        platform: "win32",
        listDevices: never,
        windows: { hwnd: 0x77 },
      });
      try {
        assert.ok(client instanceof WindowsClient);
        const reg = await client.makeCredential(creation());
        const r = ctl.lastRequest() as Record<string, unknown>;
        assert.equal(r.function, "MakeCredential");
        assert.equal(r.hwnd, 0x77, "windows options reach the WindowsClient");
        assert.equal(reg.rawId.length, 32);
        assert.equal((await client.api()).path, path);
      } finally {
        await client.close();
      }
    });
  });

  it("an elevated process gets webauthn.dll too (Windows Hello; no hidapi.dll or key needed)", async () => {
    // isElevated() is false off Windows; createClient must not consult it at all, so no
    // device list is needed even where IsUserAnAdmin would say true.
    await withEnv(libEnv(path), async () => {
      const client = await createClient(collector, { platform: "win32", listDevices: never });
      try {
        assert.ok(client instanceof WindowsClient);
        await client.makeCredential(creation());
      } finally {
        await client.close();
      }
    });
  });

  it("isElevated() from ffi/win32.ts is false off Windows", async () => {
    if (platform() !== "win32") assert.equal(await isElevated(), false);
  });
});

describe("createClient: the Fido2Client branch", () => {
  const fido2Cases: [string, CreateClientOptions, string | undefined][] = [
    ["preferWindows: false", { platform: "win32", preferWindows: false }, "lib"],
    ["not Windows", { platform: "linux" }, "lib"],
    ["no webauthn library", { platform: "win32" }, "/nonexistent/w.so"],
  ];
  for (const [name, opts, lib] of fido2Cases) {
    it(`${name}: Fido2Client over the first device, later ones never opened`, async () => {
      const log: string[] = [];
      await withEnv(libEnv(lib === "lib" ? path : lib), async () => {
        const client = await createClient(collector, {
          ...opts,
          listDevices: virtualDevices(log, [{ name: "a" }, { name: "b" }]),
        });
        assert.ok(client instanceof Fido2Client);
        assert.ok(!(client instanceof WindowsClient));
        const reg = await client.makeCredential(creation());
        assert.equal(reg.response.attestationObject.fmt, "none");
        assert.deepEqual(log, ["open a"]);
        await client.close();
        assert.deepEqual(log, ["open a", "close a"]);
      });
    });
  }

  it("a device that does not answer is closed and the next one is used", async () => {
    const log: string[] = [];
    const client = await createClient(collector, {
      platform: "linux",
      listDevices: virtualDevices(log, [{ name: "a", broken: true }, { name: "b" }]),
    });
    assert.deepEqual(log, ["open a", "close a", "open b"]);
    await client.makeCredential(creation());
    await client.close();
    assert.deepEqual(log, ["open a", "close a", "open b", "close b"]);
  });

  it("no device is DEVICE_INELIGIBLE; none answering too, with the failure as cause", async () => {
    await assert.rejects(
      createClient(collector, { platform: "linux", listDevices: virtualDevices([], []) }),
      (e) => {
        assert.ok(e instanceof ClientError);
        assert.equal(e.code, E.DEVICE_INELIGIBLE);
        assert.match(e.message, /No FIDO security key is connected/);
        return true;
      },
    );
    const log: string[] = [];
    await assert.rejects(
      createClient(collector, {
        platform: "linux",
        listDevices: virtualDevices(log, [{ name: "a", broken: true }]),
      }),
      (e) => {
        assert.ok(e instanceof ClientError);
        assert.equal(e.code, E.DEVICE_INELIGIBLE);
        assert.match(e.message, /1 tried/);
        assert.ok(e.cause instanceof ClientError, String(e.cause));
        return true;
      },
    );
    assert.deepEqual(log, ["open a", "close a"]);
  });

  it("the default lister goes through hidapi (lazily imported)", async () => {
    // Whatever this machine has: no hidapi (OTHER_ERROR), no key (DEVICE_INELIGIBLE) or a key.
    try {
      const client = await createClient(collector, { platform: "linux" });
      assert.ok(client instanceof Fido2Client);
      await client.close();
    } catch (e) {
      assert.ok(e instanceof ClientError, String(e));
      assert.ok([E.OTHER_ERROR, E.DEVICE_INELIGIBLE].includes(e.code as 1 | 4), e.message);
    }
  });

  it("a lister that fails (no hidapi) is OTHER_ERROR with the cause", async () => {
    const cause = new Error("libhidapi not found");
    await assert.rejects(
      createClient(collector, {
        platform: "linux",
        // deno-lint-ignore require-yield
        listDevices: async function* () {
          throw cause;
        },
      }),
      (e) => {
        assert.ok(e instanceof ClientError);
        assert.equal(e.code, E.OTHER_ERROR);
        assert.equal(e.cause, cause);
        return true;
      },
    );
  });
});
