/**
 * WindowsClient inside a `bun build --compile` binary (issue: its Worker used to load
 * ffi/webauthn_worker_main.ts from a file URL the binary lacks: ModuleNotFound). The user
 * script tests/fixtures/windows_user_script.ts is compiled for Linux and run against the fake
 * webauthn library (FIDO2_WEBAUTHN_LIB), which returns genuine P-256 results scripted through
 * FAKE_WEBAUTHN_SCRIPT; @simplewebauthn/server verifies what the binary printed. The Windows
 * build of the same script runs under Wine in tests/windows/exe.test.ts.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { verifyAuthenticationResponse, verifyRegistrationResponse } from "@simplewebauthn/server";
import { b64urlEncode } from "../src/utils.ts";
import { buildFakeWebAuthn } from "./helpers/webauthn_fixture.ts";
import { genuineScript } from "./helpers/genuine_webauthn_script.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "fido2-compiled-"));
const binary = join(dir, "user-script");

function build(): void {
  const r = spawnSync(
    join(root, "node_modules", ".bin", "bun"),
    [
      "build",
      "--compile",
      join(root, "tests/fixtures/windows_user_script.ts"),
      "--outfile",
      binary,
    ],
    { cwd: root, encoding: "utf8", timeout: 120_000 },
  );
  if (r.status !== 0) {
    throw new Error(`bun build --compile failed (${r.status ?? r.error?.message}): ${r.stderr}`);
  }
}

function run(args: string[], env: Record<string, string>): Record<string, unknown> {
  const r = spawnSync(binary, args, {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, FIDO2_WEBAUTHN_PATH: "", ...env },
  });
  assert.equal(r.error, undefined, String(r.error));
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(last);
  } catch {
    throw new Error(`no JSON from the binary (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return json;
}

describe("WindowsClient in a bun build --compile binary (Linux, fake webauthn library)", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("registers and authenticates; @simplewebauthn/server verifies both", async () => {
    build();
    const lib = buildFakeWebAuthn();
    const createChallenge = new Uint8Array(32).fill(1);
    const getChallenge = new Uint8Array(32).fill(2);
    const userId = new Uint8Array([9, 8, 7]);
    const script = genuineScript({
      origin: "https://example.com",
      rpId: "example.com",
      createChallenge,
      getChallenge,
      userId,
    });
    const scriptFile = join(dir, "script.txt");
    writeFileSync(scriptFile, script.text);
    const env = { FIDO2_WEBAUTHN_LIB: lib, FAKE_WEBAUTHN_SCRIPT: scriptFile };

    const reg = run(["register", b64urlEncode(createChallenge), b64urlEncode(userId)], env);
    const regResult = await verifyRegistrationResponse({
      response: reg as never,
      expectedChallenge: b64urlEncode(createChallenge),
      expectedOrigin: "https://example.com",
      expectedRPID: "example.com",
    });
    assert.equal(regResult.verified, true);
    assert.equal(regResult.registrationInfo!.fmt, "packed");

    const auth = run(["authenticate", b64urlEncode(getChallenge), reg.id as string], env);
    const authResult = await verifyAuthenticationResponse({
      response: auth as never,
      expectedChallenge: b64urlEncode(getChallenge),
      expectedOrigin: "https://example.com",
      expectedRPID: "example.com",
      credential: regResult.registrationInfo!.credential,
    });
    assert.equal(authResult.verified, true);
    assert.equal(
      (auth.response as { userHandle: string }).userHandle,
      b64urlEncode(userId),
    );
  });

  it("an AbortSignal cancels a dialog nobody answers (TIMEOUT within the signal's time)", () => {
    const out = run(["cancel"], { FIDO2_WEBAUTHN_LIB: buildFakeWebAuthn() });
    assert.equal(out.cancelled, "TIMEOUT", JSON.stringify(out));
    assert.ok((out.ms as number) < 3000, `took ${out.ms} ms (the fake gives up after 5 s)`);
  });
});
