// Real Windows binaries under Wine: fido2.exe and the user script .exe that
// scripts/test-windows.mjs builds with `bun build --compile --target=bun-windows-x64`, run as
// child processes of bun.exe. They load webauthn.dll the way they would on Windows: from
// System32 (where the script installed the fake), with no FIDO2_WEBAUTHN_LIB. The fake returns
// genuine P-256 results scripted through FAKE_WEBAUTHN_SCRIPT, so @simplewebauthn/server
// verifies what the binaries print.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { verifyAuthenticationResponse, verifyRegistrationResponse } from "@simplewebauthn/server";
import { b64urlEncode } from "../../src/utils.ts";
import { EXIT } from "../../src/cli/errors.ts";
import { genuineScript } from "../helpers/genuine_webauthn_script.ts";

const EXES = process.env.FIDO2_TEST_EXES;
const exe = (name: string) => {
  if (!EXES) throw new Error("FIDO2_TEST_EXES is not set: run scripts/test-windows.mjs");
  return `${EXES}\\${name}`;
};
const fixture = (name: string) => `${process.env.FIDO2_TEST_FIXTURES}\\${name}`;

const dir = mkdtempSync(join(tmpdir(), "fido2-exe-"));
const ORIGIN = "https://example.com";
const RP_ID = "example.com";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a Windows program without any webauthn library override (System32's is used). */
function run(program: string, args: string[], env: Record<string, string> = {}): Run {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.FIDO2_WEBAUTHN_LIB;
  delete childEnv.FIDO2_WEBAUTHN_PATH;
  const r = spawnSync(program, args, { encoding: "utf8", timeout: 120_000, env: childEnv });
  assert.equal(r.error, undefined, `${program}: ${r.error}`);
  const clean = (s: string) =>
    s.replaceAll("\r\n", "\n").split("\n").filter((l) => !l.startsWith("Internal error:"))
      .join("\n");
  return { code: r.status, stdout: clean(r.stdout ?? ""), stderr: clean(r.stderr ?? "") };
}

/** The JSON document the program printed (the CLI pretty-prints it over several lines). */
function lastJson(r: Run): Record<string, unknown> {
  const text = r.stdout.trim();
  try {
    return JSON.parse(text.startsWith("{") ? text : text.split("\n").pop() ?? "");
  } catch {
    throw new Error(`no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

function scripted(name: string, createChallenge: Uint8Array, getChallenge: Uint8Array) {
  const userId = new Uint8Array([1, 2, 3, 4]);
  const script = genuineScript({
    origin: ORIGIN,
    rpId: RP_ID,
    createChallenge,
    getChallenge,
    userId,
  });
  const file = join(dir, `${name}.txt`);
  writeFileSync(file, script.text);
  return { userId, env: { FAKE_WEBAUTHN_SCRIPT: file } };
}

async function verifyBoth(
  reg: Record<string, unknown>,
  auth: Record<string, unknown>,
  createChallenge: Uint8Array,
  getChallenge: Uint8Array,
) {
  const r = await verifyRegistrationResponse({
    response: reg as never,
    expectedChallenge: b64urlEncode(createChallenge),
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
  });
  assert.equal(r.verified, true);
  const a = await verifyAuthenticationResponse({
    response: auth as never,
    expectedChallenge: b64urlEncode(getChallenge),
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: r.registrationInfo!.credential,
  });
  assert.equal(a.verified, true);
}

describe("Windows binaries under Wine (bun build --compile --target=bun-windows-x64)", () => {
  after(() => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Bun for Windows under Wine fails rm of a directory with EFAULT; it is only a temp dir.
    }
  });

  it("a user's compiled script registers and authenticates through WindowsClient", async () => {
    const c = new Uint8Array(32).fill(0x11);
    const g = new Uint8Array(32).fill(0x22);
    const { userId, env } = scripted("user", c, g);
    const reg = run(
      exe("user-script.exe"),
      ["register", b64urlEncode(c), b64urlEncode(userId)],
      env,
    );
    assert.equal(reg.code, 0, reg.stdout + reg.stderr);
    const regJson = lastJson(reg);
    const auth = run(
      exe("user-script.exe"),
      ["authenticate", b64urlEncode(g), regJson.id as string],
      env,
    );
    assert.equal(auth.code, 0, auth.stdout + auth.stderr);
    await verifyBoth(regJson, lastJson(auth), c, g);
  });

  it("a user's compiled script cancels a dialog nobody answers (TIMEOUT)", () => {
    const r = run(exe("user-script.exe"), ["cancel"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = lastJson(r);
    assert.equal(out.cancelled, "TIMEOUT", JSON.stringify(out));
    assert.ok((out.ms as number) < 3000, `took ${out.ms} ms (the fake gives up after 5 s)`);
  });

  it("fido2.exe register / authenticate --json go through webauthn.dll", async () => {
    const c = new Uint8Array(32).fill(0x33);
    const g = new Uint8Array(32).fill(0x44);
    const { userId, env } = scripted("cli", c, g);
    const reg = run(exe("fido2.exe"), [
      "register",
      "--rp",
      RP_ID,
      "--challenge",
      b64urlEncode(c),
      "--user-id",
      b64urlEncode(userId),
      "--json",
    ], env);
    assert.equal(reg.code, EXIT.OK, reg.stdout + reg.stderr);
    assert.match(reg.stderr, /webauthn\.dll/);
    const regJson = lastJson(reg);
    const auth = run(exe("fido2.exe"), [
      "authenticate",
      "--rp",
      RP_ID,
      "--challenge",
      b64urlEncode(g),
      `--cred=${regJson.id}`, // a base64url id may start with "-"
      "--json",
    ], env);
    assert.equal(auth.code, EXIT.OK, auth.stdout + auth.stderr);
    await verifyBoth(regJson, lastJson(auth), c, g);
  });

  it("fido2.exe info shows System32's webauthn.dll and its API version", () => {
    const r = run(exe("fido2.exe"), ["info", "--json"]);
    assert.equal(r.code, EXIT.OK, r.stdout + r.stderr);
    const json = lastJson(r) as { webauthn: Record<string, unknown>; elevated: boolean };
    assert.equal(String(json.webauthn.path).toLowerCase(), "c:\\windows\\system32\\webauthn.dll");
    assert.equal(json.webauthn.apiVersion, 9);
    assert.equal(json.webauthn.platformAuthenticator, true);
    assert.equal(typeof json.elevated, "boolean");
  });

  it("fido2.exe runs the PIN protocols on Bun for Windows (node:crypto ECDH and AES)", () => {
    // A virtual key, so the PIN/UV protocol runs in the exe itself: pin set (key agreement,
    // newPinEnc), creds list (a token: pinHashEnc out, the token decrypted back), a wrong PIN.
    const state = join(dir, "virtual.json");
    const set = run(exe("fido2.exe"), ["pin", "set", "--virtual", state], {
      FIDO2_NEW_PIN: "123456",
    });
    assert.equal(set.code, EXIT.OK, set.stdout + set.stderr);
    assert.match(set.stdout, /PIN set\./);
    const list = run(exe("fido2.exe"), ["creds", "list", "--virtual", state], {
      FIDO2_PIN: "123456",
    });
    assert.equal(list.code, EXIT.OK, list.stdout + list.stderr);
    assert.match(list.stdout, /No discoverable credentials\./);
    const wrong = run(exe("fido2.exe"), ["creds", "list", "--virtual", state], {
      FIDO2_PIN: "654321",
    });
    assert.equal(wrong.code, EXIT.PIN, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /PIN_INVALID/);
  });

  it("fido2.exe pin set in a non-elevated prompt says it needs an elevated one (exit 8)", () => {
    const r = run(fixture("run_unelevated.exe"), [exe("fido2.exe"), "pin", "set"]);
    assert.equal(r.code, EXIT.ELEVATION, r.stdout + r.stderr);
    assert.match(r.stderr, /fido2 pin set.*elevated prompt/s);
    assert.match(r.stderr, /Run as administrator/);
    const info = run(fixture("run_unelevated.exe"), [exe("fido2.exe"), "info", "--json"]);
    assert.equal(info.code, EXIT.OK, info.stdout + info.stderr);
    assert.equal(lastJson(info).elevated, false);
  });
});
