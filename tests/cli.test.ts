/**
 * The `fido2` CLI as users get it: compiled once with `bun build --compile` and driven as a
 * child process against `--virtual <state file>` (state persisted between invocations) and
 * against a VirtualAuthenticator served over UDP from this process.
 *
 * The compiled binary is the same whichever runtime runs this file, so both runtimes drive
 * it (about 20 s each, 45 s for both); each builds its own copy so parallel runs do not clash.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { VirtualAuthenticator } from "../src/virtual/mod.ts";
import { b64urlDecode, b64urlEncode, utf8Decode } from "../src/utils.ts";
import { buildFixture } from "./helpers/build_fixture.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const runtime = "Bun" in globalThis ? "bun" : "deno";
const binary = join(root, ".cache", `fido2-cli-test-${runtime}`);

function build(): string | undefined {
  const r = spawnSync(
    join(root, "node_modules", ".bin", "bun"),
    ["build", "--compile", join(root, "cli.ts"), "--outfile", binary],
    { cwd: root, encoding: "utf8", timeout: 60_000 },
  );
  if (r.status === 0) return undefined;
  return `bun build --compile failed (${r.status ?? r.error?.message}): ${r.stderr}`.trim();
}

// A failed build fails the suite (first test below, and every run() after it).
const buildFailure = build();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  /** Called with each stderr chunk; may send signals to the child. */
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
}

/** Runs the binary; fails the test if it does not exit within 15 s. */
function run(args: string[], opts: RunOptions = {}): Promise<Run> {
  if (buildFailure) return Promise.reject(new Error(`no CLI binary: ${buildFailure}`));
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
    delete env.FIDO2_PIN;
    delete env.FIDO2_NEW_PIN;
    Object.assign(env, opts.env);
    const child = spawn(binary, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fido2 ${args.join(" ")} did not exit within 15 s; stderr: ${stderr}`));
    }, 15_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      opts.onStderr?.(d, child);
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? "");
  });
}

function json(r: Run): Record<string, unknown> {
  assert.equal(r.code, 0, `exit ${r.code}; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function clientData(response: Record<string, unknown>): Record<string, unknown> {
  const raw = (response.response as { clientDataJSON: string }).clientDataJSON;
  return JSON.parse(utf8Decode(b64urlDecode(raw)));
}

describe("fido2 CLI (compiled binary)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fido2-cli-"));
  const state = join(dir, "state.json");
  const v = ["--virtual", state];

  it("compiles with bun build --compile", () => {
    assert.equal(buildFailure, undefined, buildFailure);
  });

  it("a key found but not openable is reported with the reason and the fix, not as no key", async () => {
    // The fake libhidapi, configured through its environment: one FIDO key, open fails.
    const env = {
      FIDO2_HIDAPI_LIB: buildFixture("fake_hidapi"),
      FAKE_HIDAPI_DEVICES: ["/dev/hidraw3", "0x1050", "0x0407", "SN1", "0x0512", "Yubico"]
        .concat(["YubiKey FIDO", "0xf1d0", "0x01", "1", "1"]).join("\t"),
      FAKE_HIDAPI_OPEN_FAIL: "1",
    };
    for (const args of [["list"], ["info"]]) {
      const r = await run(args, { env });
      assert.equal(r.code, 3, `fido2 ${args[0]}: exit ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, /Found 1 FIDO security key but could not open it/);
      assert.match(r.stderr, /\/dev\/hidraw3 \(1050:0407 YubiKey FIDO\): .*Permission denied/);
      if (process.platform === "linux") {
        assert.match(r.stderr, /ATTRS\{idVendor\}=="1050", ATTRS\{idProduct\}=="0407"/);
      }
      assert.doesNotMatch(r.stderr + r.stdout, /No FIDO security key/);
    }
  });

  it("documents the exit codes in --help", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    for (const code of ["2  usage", "3  no device", "4  PIN", "5  timeout or cancelled"]) {
      assert.ok(r.stdout.includes(code), `--help lacks "${code}"`);
    }
    assert.ok(r.stdout.includes("register") && r.stdout.includes("blobs put"));
  });

  it("info: human fields and JSON that parses", async () => {
    const human = await run(["info", ...v]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /AAGUID:\s+76697274-7561-6c2d-6669-646f322d7473/);
    const info = json(await run(["info", ...v, "--json"]));
    const i = info.info as { versions: string[]; options: Record<string, boolean> };
    assert.ok(i.versions.includes("FIDO_2_1"));
    assert.equal(i.options.clientPin, false);
    assert.equal((info.device as { path: string }).path, "virtual:memory");
  });

  it("pin set (new PIN from stdin), then retries and a persisted PIN", async () => {
    const set = await run(["pin", "set", ...v], { input: "123456\n" });
    assert.equal(set.code, 0, set.stderr);
    const retries = json(await run(["pin", "retries", ...v, "--json"]));
    assert.equal(retries.pinSet, true);
    assert.equal(retries.pinRetries, 8);
    const again = await run(["pin", "set", ...v, "--new-pin", "654321"]);
    assert.equal(again.code, 4, "a second `pin set` is a PIN problem");
    assert.match(again.stderr, /already set/);
  });

  let credentialId = "";
  let userId = "";

  it("register prints RegistrationResponse JSON; authenticate uses the printed ID", async () => {
    const challenge = b64urlEncode(new Uint8Array(32).fill(7));
    const reg = json(
      await run([
        "register",
        ...v,
        "--rp",
        "example.com",
        "--user",
        "alice",
        "--rk",
        "--challenge",
        challenge,
        "--json",
      ], { env: { FIDO2_PIN: "123456" } }),
    );
    credentialId = reg.id as string;
    assert.equal(reg.type, "public-key");
    assert.equal(reg.rawId, credentialId);
    const cd = clientData(reg);
    assert.equal(cd.type, "webauthn.create");
    assert.equal(cd.challenge, challenge);
    assert.equal(cd.origin, "https://example.com");
    assert.deepEqual(reg.clientExtensionResults, { credProps: { rk: true } });

    const auth = json(
      await run(["authenticate", ...v, "--rp", "example.com", credentialId, "--json"], {
        input: "123456\n",
      }),
    );
    assert.equal(auth.id, credentialId);
    assert.equal(clientData(auth).type, "webauthn.get");
    userId = (auth.response as { userHandle: string }).userHandle;
    assert.ok(userId.length > 0, "a discoverable credential returns its user handle");

    const human = await run(["authenticate", ...v, "--rp", "example.com", "--pin", "123456"]);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(human.stdout.includes(credentialId), "discoverable login lists the credential");
    assert.ok(human.stdout.includes("alice"));
  });

  it("a wrong PIN exits 4 and costs a retry", async () => {
    const r = await run(["authenticate", ...v, "--rp", "example.com", "--pin", "000000"]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /PIN_INVALID/);
    const retries = json(await run(["pin", "retries", ...v, "--json"]));
    assert.equal(retries.pinRetries, 7);
    const none = await run(["authenticate", ...v, "--rp", "example.com"]);
    assert.equal(none.code, 4, "no PIN on a non-interactive stdin is a PIN problem");
    assert.match(none.stderr, /--pin/);
  });

  it("pin change from two stdin lines", async () => {
    const r = await run(["pin", "change", ...v], { input: "123456\n24682468\n" });
    assert.equal(r.code, 0, r.stderr);
    const ok = await run(["authenticate", ...v, "--rp", "example.com", "--pin", "24682468"]);
    assert.equal(ok.code, 0, ok.stderr);
    const retries = json(await run(["pin", "retries", ...v, "--json"]));
    assert.equal(retries.pinRetries, 8, "a correct PIN restores the retries");
  });

  it("creds list / update / delete", async () => {
    const pin = { env: { FIDO2_PIN: "24682468" } };
    const list = json(await run(["creds", "list", ...v, "--json"], pin));
    const creds = list.credentials as Record<string, unknown>[];
    assert.equal(creds.length, 1);
    assert.equal(creds[0].credentialId, credentialId);
    assert.equal(creds[0].rpId, "example.com");
    assert.equal(creds[0].userName, "alice");
    assert.equal(creds[0].userId, userId);

    const upd = await run(["creds", "update", ...v, credentialId, "--name", "alice2"], pin);
    assert.equal(upd.code, 0, upd.stderr);
    const human = await run(["creds", "list", ...v], pin);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /example\.com\s+alice2/);

    const missing = await run(["creds", "delete", ...v, "AAAA"], pin);
    assert.equal(missing.code, 7, missing.stderr);
    const del = await run(["creds", "delete", ...v, credentialId], pin);
    assert.equal(del.code, 0, del.stderr);
    const after = json(await run(["creds", "list", ...v, "--json"], pin));
    assert.deepEqual(after.credentials, []);
    const gone = await run(["authenticate", ...v, "--rp", "example.com", credentialId], pin);
    assert.equal(gone.code, 7, gone.stderr);
  });

  it("blobs put / list / get / delete", async () => {
    const pin = { env: { FIDO2_PIN: "24682468" } };
    const reg = json(
      await run([
        "register",
        ...v,
        "--rp",
        "blobs.example",
        "--rk",
        "--large-blob",
        "--json",
      ], pin),
    );
    const id = reg.id as string;
    const data = "large blob payload \u00e9\n".repeat(40);
    const put = await run(["blobs", "put", ...v, id, "-"], { ...pin, input: data });
    assert.equal(put.code, 0, put.stderr);
    const list = json(await run(["blobs", "list", ...v, "--json"], pin));
    assert.equal(list.entries, 1);
    const blobs = list.blobs as { credentialId: string; size: number }[];
    assert.deepEqual(blobs.map((b) => [b.credentialId, b.size]), [[id, Buffer.from(data).length]]);
    const raw = await run(["blobs", "get", ...v, id], pin);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, data);
    const del = await run(["blobs", "delete", ...v, id], pin);
    assert.equal(del.code, 0, del.stderr);
    const gone = await run(["blobs", "get", ...v, id], pin);
    assert.equal(gone.code, 7, gone.stderr);
  });

  it("config always-uv / min-pin-length (forces a PIN change) / ea", async () => {
    const pin = { env: { FIDO2_PIN: "24682468" } };
    assert.deepEqual(json(await run(["config", "always-uv", "on", ...v, "--json"], pin)), {
      alwaysUv: true,
    });
    assert.deepEqual(json(await run(["config", "always-uv", ...v, "--json"], pin)), {
      alwaysUv: false,
    });
    const shrink = await run(["config", "min-pin-length", "3", ...v], pin);
    assert.equal(shrink.code, 2, shrink.stderr);
    const grow = json(await run(["config", "min-pin-length", "10", ...v, "--json"], pin));
    assert.deepEqual(grow, { minPinLength: 10, forcePinChange: true });
    const blocked = await run(["authenticate", ...v, "--rp", "example.com"], pin);
    assert.equal(blocked.code, 4, blocked.stderr);
    assert.match(blocked.stderr, /pin change/);
    const short = await run(["pin", "change", ...v, "--new-pin", "12345678"], pin);
    assert.equal(short.code, 4, short.stderr);
    const ok = await run(["pin", "change", ...v, "--new-pin", "1234567890"], pin);
    assert.equal(ok.code, 0, ok.stderr);
    const ea = await run(["config", "ea", ...v, "--pin", "1234567890", "--json"]);
    assert.deepEqual(json(ea), { enterpriseAttestation: true });
  });

  it("bio list / enroll / rename / delete (--virtual-uv)", async () => {
    const b = ["--virtual", join(dir, "bio.json"), "--virtual-uv"];
    const noPin = await run(["bio", "list", "--virtual", join(dir, "plain.json")]);
    assert.equal(noPin.code, 6, `no sensor: ${noPin.stderr}`);
    const uvOnly = await run(["bio", "list", ...b, "--json"]);
    assert.equal(uvOnly.code, 0, `a UV token without a PIN: ${uvOnly.stderr}`);
    assert.match(uvOnly.stderr, /fingerprint/);
    assert.equal((await run(["pin", "set", ...b, "--new-pin", "4321"])).code, 0);
    const pin = { env: { FIDO2_PIN: "4321" } };
    const before = json(await run(["bio", "list", ...b, "--json"], pin)) as unknown as unknown[];
    const enroll = await run(["bio", "enroll", ...b, "--name", "thumb", "--json"], pin);
    const added = json(enroll) as { templateId: string; name: string };
    assert.equal(added.name, "thumb");
    assert.match(enroll.stderr, /more needed/, "enrollment reports progress");
    const rename = await run(["bio", "rename", ...b, added.templateId, "left thumb"], pin);
    assert.equal(rename.code, 0, rename.stderr);
    const human = await run(["bio", "list", ...b], pin);
    assert.match(human.stdout, new RegExp(`${added.templateId}\\s+left thumb`));
    const del = await run(["bio", "delete", ...b, added.templateId], pin);
    assert.equal(del.code, 0, del.stderr);
    const after = json(await run(["bio", "list", ...b, "--json"], pin)) as unknown as unknown[];
    assert.equal(after.length, before.length);
    const missing = await run(["bio", "delete", ...b, added.templateId], pin);
    assert.equal(missing.code, 7, missing.stderr);
  });

  it("reset needs --yes without a terminal, then clears PIN and credentials", async () => {
    const refused = await run(["reset", ...v]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--yes/);
    const r = await run(["reset", ...v, "--yes", "--json"]);
    assert.deepEqual(json(r), { reset: true });
    const info = json(await run(["info", ...v, "--json"]));
    assert.equal((info.info as { options: Record<string, boolean> }).options.clientPin, false);
    const auth = await run(["authenticate", ...v, "--rp", "example.com"]);
    assert.equal(auth.code, 7, `no credentials left: ${auth.stderr}`);
    const state0 = JSON.parse(readFileSync(state, "utf8"));
    assert.ok(state0.authenticator, "the state file is still a valid state");
  });

  it("usage errors exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /Unknown command/],
      [["pin"], /needs a sub-command/],
      [["pin", "sett"], /Unknown sub-command/],
      [["info", "--bogus"], /bogus/],
      [["info", "--new-pin", "1"], /does not take --new-pin/],
      [["register", ...v], /--rp/],
      [["register", ...v, "--rp", "example.com", "--uv", "always"], /--uv/],
      [["creds", "delete", ...v], /Missing argument/],
      [["authenticate", ...v, "--rp", "x.com", "not base64!"], /base64url/],
      [["info", "--udp", "nonsense"], /HOST:PORT/],
      [["info", "--udp", "127.0.0.1:1", ...v], /only one of/],
      [["info", "--udp-local-port", "0", ...v], /--udp-local-port only applies to --udp/],
      [["info", "--udp", "127.0.0.1:1", "--udp-local-port", "70000"], /0-65535/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    cases.forEach(([args, message], i) => {
      const r = runs[i];
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
    });
  });

  it("missing devices exit 3", async () => {
    const hid = await run(["info", "--device", "/dev/nonexistent-fido"]);
    assert.equal(hid.code, 3, hid.stderr);
    // Port 0, never the default 7112: other test runs on this machine may hold it.
    const udp = await run(["info", "--udp", "127.0.0.1:9", "--udp-local-port", "0"]);
    assert.equal(udp.code, 3, udp.stderr);
    assert.match(
      udp.stderr,
      /No authenticator answers at udp:\/\/127\.0\.0\.1:9 \(sent to port 9, listened on local UDP port [1-9]\d*\)/,
    );
    assert.match(udp.stderr, /answer to port 7112/);
  });

  it("--udp: a VirtualAuthenticator served from this process", async () => {
    const va = new VirtualAuthenticator({ pin: "1234" });
    const server = await va.serveUdp(0);
    try {
      // serveUdp answers to the sender, so any local port works; 0 keeps 7112 free.
      const at = ["--udp", `127.0.0.1:${server.port}`, "--udp-local-port", "0"];
      const info = json(await run(["info", ...at, "--json"]));
      assert.equal((info.info as { options: Record<string, boolean> }).options.clientPin, true);
      assert.equal(info.pinRetries, 8);
      const reg = json(
        await run(["register", ...at, "--rp", "example.org", "--json", "--pin", "1234"]),
      );
      assert.equal(va.authenticator.credentials.size, 0, "non-discoverable: nothing stored");
      // Without an allow list a non-discoverable credential cannot be found.
      const none = await run(["authenticate", ...at, "--rp", "example.org", "--pin", "1234"]);
      assert.equal(none.code, 7, none.stderr);
      const auth = json(
        await run([
          "authenticate",
          ...at,
          "--rp",
          "example.org",
          "--cred",
          reg.id as string,
          "--json",
          "--pin",
          "1234",
        ]),
      );
      assert.equal(auth.id, reg.id);
    } finally {
      await server.close();
    }
  });

  it("Ctrl-C while waiting for a touch cancels (CTAPHID_CANCEL) and exits 5", async () => {
    let cancelled = false;
    const va = new VirtualAuthenticator({
      userPresence: ({ signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener("abort", () => {
            cancelled = true;
            reject(signal.reason);
          })
        ),
    });
    const server = await va.serveUdp(0);
    try {
      let sent = false;
      const at = ["--udp", `127.0.0.1:${server.port}`, "--udp-local-port", "0"];
      const r = await run(["register", ...at, "--rp", "a.com"], {
        onStderr: (text, child) => {
          if (!sent && text.includes("Touch your security key")) {
            sent = true;
            // process.kill, not child.kill: Deno's child.kill() reports the child as killed
            // by the signal even when it handled it and exited with its own code.
            process.kill(child.pid!, "SIGINT");
          }
        },
      });
      assert.ok(sent, `no touch prompt; stderr: ${r.stderr}`);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /Cancel/);
      assert.ok(cancelled, "the authenticator saw the cancel");
    } finally {
      await server.close();
    }
  });

  it("cleans up", () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
