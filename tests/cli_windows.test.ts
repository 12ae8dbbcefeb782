/**
 * The `fido2` CLI's Windows paths, in process on Linux: `main()` is told it runs on win32
 * (elevated or not) and loads the fake webauthn library through FIDO2_WEBAUTHN_LIB. The same
 * commands run as a real fido2.exe under Wine in tests/windows/exe.test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CliRun, runCli } from "./helpers/run_cli.ts";
import { EXIT } from "../src/cli/errors.ts";
import type { CliSystem } from "../src/cli/windows.ts";
import { b64urlEncode } from "../src/utils.ts";
import {
  buildFakeWebAuthn,
  type FakeControls,
  openFakeControls,
  withEnv,
} from "./helpers/webauthn_fixture.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const windows = (elevated: boolean): CliSystem => ({
  os: "win32",
  isElevated: () => Promise.resolve(elevated),
});

function fido2(argv: string[], system: CliSystem): Promise<CliRun> {
  return runCli(argv, { system });
}

describe("fido2 CLI on Windows (in process, fake webauthn.dll)", () => {
  let path = "";
  let ctl: FakeControls;
  before(async () => {
    path = buildFakeWebAuthn();
    ctl = await openFakeControls(path);
  });
  after(() => ctl?.close());

  const lib = () => ({ FIDO2_WEBAUTHN_LIB: path, FIDO2_WEBAUTHN_PATH: undefined });

  it("register and authenticate go through webauthn.dll, with no admin rights", async () => {
    ctl.reset();
    await withEnv(lib(), async () => {
      const challenge = b64urlEncode(new Uint8Array(32).fill(7));
      const reg = await fido2(
        ["register", "--rp", "example.com", "--challenge", challenge, "--json"],
        windows(false),
      );
      assert.equal(reg.code, EXIT.OK, reg.stderr);
      const json: Json = JSON.parse(reg.stdout);
      assert.equal(json.type, "public-key");
      const r = ctl.lastRequest() as Json;
      assert.equal(r.function, "MakeCredential");
      assert.equal(r.rp.id, "example.com");
      assert.match(reg.stderr, /webauthn\.dll/);

      const auth = await fido2(
        // --cred=: a base64url id may start with "-".
        ["authenticate", "--rp", "example.com", `--cred=${json.id}`, "--json"],
        windows(false),
      );
      assert.equal(auth.code, EXIT.OK, auth.stderr);
      assert.equal(JSON.parse(auth.stdout).id, json.id);
      assert.equal((ctl.lastRequest() as Json).function, "GetAssertion");
    });
  });

  it("a dialog the user closes is exit code 5 (cancelled), like a declined touch", async () => {
    ctl.reset();
    ctl.setNextHresult(0x80090036); // NTE_USER_CANCELLED
    await withEnv(lib(), async () => {
      const r = await fido2(["register", "--rp", "example.com"], windows(false));
      assert.equal(r.code, EXIT.CANCELLED, r.stderr);
    });
  });

  it("--timeout cancels a dialog nobody answers (exit code 5)", async () => {
    ctl.reset();
    await withEnv(lib(), async () => {
      const t0 = Date.now();
      const r = await fido2(
        ["register", "--rp", "block.example", "--timeout", "300"],
        windows(false),
      );
      assert.equal(r.code, EXIT.CANCELLED, r.stderr);
      assert.ok(Date.now() - t0 < 4000, "cancelled, not the fake's 5 s wait");
      assert.equal((ctl.lastRequest() as Json).hresult, 0x80090036);
    });
  });

  for (const argv of [["pin", "set"], ["creds", "list"], ["reset", "-y"], ["wink"]]) {
    it(`\`fido2 ${argv.join(" ")}\` says it needs an elevated prompt (exit code 8)`, async () => {
      const r = await fido2(argv, windows(false));
      assert.equal(r.code, EXIT.ELEVATION, r.stderr);
      assert.match(r.stderr, new RegExp(`fido2 ${argv[0]}.*elevated prompt`, "s"));
      assert.match(r.stderr, /Run as administrator/);
    });
  }

  it("management commands on a --virtual key need no elevation", async () => {
    const r = await fido2(["pin", "set", "--virtual=", "--new-pin", "123456"], windows(false));
    assert.equal(r.code, EXIT.OK, r.stderr);
  });

  it("info shows webauthn.dll's API version and Windows Hello availability", async () => {
    ctl.reset();
    ctl.setApiVersion(7);
    ctl.setUvpaa(false);
    await withEnv(lib(), async () => {
      const r = await fido2(["info", "--json"], windows(false));
      assert.equal(r.code, EXIT.OK, r.stderr);
      const json: Json = JSON.parse(r.stdout);
      assert.deepEqual(json.webauthn, { path, apiVersion: 7, platformAuthenticator: false });
      assert.equal(json.elevated, false);
      const human = await fido2(["info"], windows(false));
      assert.match(human.stdout, /API version:\s+7/);
      assert.match(human.stdout, /Platform authenticator:\s+not available/);
      assert.match(human.stdout, /elevated prompt/);
    });
  });

  it("info says why webauthn.dll is unavailable", async () => {
    await withEnv({ FIDO2_WEBAUTHN_LIB: "/nonexistent/webauthn.so" }, async () => {
      const r = await fido2(["info", "--json"], windows(false));
      assert.equal(r.code, EXIT.OK, r.stderr);
      assert.match(JSON.parse(r.stdout).webauthn.error, /nonexistent/);
    });
  });
});
