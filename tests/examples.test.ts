/**
 * Every example in examples/ runs with `--virtual` in its own process and must exit 0 and
 * print the line that proves it did its job (each one also checks its results itself and
 * exits 1 otherwise). The examples run in parallel, so the whole file takes about as long as
 * the slowest example.
 *
 * Each runtime runs them with itself (`deno run -A` / `bun`): the examples are what users run,
 * so both runtimes must run them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";

const isBun = "Bun" in globalThis;
const root = new URL("..", import.meta.url).pathname;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runExample(file: string, extra: readonly string[] = []): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env.FIDO2_PIN;
  delete env.FIDO2_VIRTUAL;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...(isBun ? [] : ["run", "-A"]), `examples/${file}`, "--virtual", ...extra],
      { cwd: root, env, timeout: 60_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Each example, its extra arguments and the output lines that show it worked. */
const CASES: readonly { file: string; args?: string[]; expect: RegExp[] }[] = [
  {
    file: "virtual_udp.ts",
    args: ["--self-test"],
    expect: [/listening on udp:\/\/127\.0\.0\.1:\d+/, /^Registered \S+… over UDP/m],
  },
  {
    file: "credential.ts",
    expect: [/verified: credential \S+…, attestation packed/, /^Done: registration and auth/m],
  },
  {
    file: "resident_key.ts",
    expect: [
      /the key holds 2 account\(s\) for example\.com/,
      /\[\d\] alice@example\.com {2}user handle "id:alice@example\.com"/,
      /\[\d\] bob@example\.com {2}user handle "id:bob@example\.com"/,
      /^Signed in as (alice|bob)@example\.com: verified/m,
    ],
  },
  { file: "hmac_secret.ts", expect: [/hmacCreateSecret: true/, /^Same secrets both times/m] },
  {
    file: "prf.ts",
    expect: [/prf enabled: true/, /evaluated at registration/, /evalByCredential chose/],
  },
  { file: "large_blobs.ts", expect: [/written: true/, /^The large blob came back unchanged/m] },
  {
    file: "cred_blob.ts",
    expect: [/credBlob read back: "theme=dark;lang=en"/, /^The credBlob came back unchanged/m],
  },
  {
    file: "verify_attestation.ts",
    expect: [
      /format: packed/,
      /AAGUID: 76697274-7561-6c2d-6669-646f322d7473/,
      /certificate subject: C=US, O=x-fido2 virtual authenticator/,
      /packed attestation signature verified with the certificate key/,
      /^Attestation verified/m,
    ],
  },
  {
    file: "verify_attestation.ts",
    args: ["--u2f"],
    expect: [/format: fido-u2f/, /fido-u2f attestation signature verified/],
  },
  {
    file: "credential_management.ts",
    expect: [
      /1 discoverable credential\(s\)/,
      /RP example\.com/,
      /cm-example-user: credential/,
      /0 discoverable credential\(s\)/,
      /^The example's credential was listed and deleted/m,
    ],
  },
  {
    file: "bio_enrollment.ts",
    expect: [
      /sensor kind touch, 3 samples per enrollment/,
      /sample rejected \(Fingerprint capture error: FP_POOR_QUALITY\)/,
      /"example finger"/,
      /^Enrolled, renamed and removed a fingerprint/m,
    ],
  },
  {
    file: "exampleserver.ts",
    expect: [
      /→ POST \/register\/begin \{"username":"alice"\}/,
      /← 200 \{"verified":true\}/,
      /← 200 \{"verified":true,"counter":\d+\}/,
      /^Registered and signed in over HTTP/m,
    ],
  },
  {
    file: "windows.ts",
    expect: [process.platform === "win32" ? /^Done: registration/m : /needs Windows/],
  },
];

// Start every example at once; each test waits for its own.
const runs = CASES.map((c) => runExample(c.file, c.args));

describe("examples (--virtual)", () => {
  CASES.forEach((c, i) => {
    const name = [c.file, ...(c.args ?? [])].join(" ");
    it(`${name} exits 0 and reports success`, async () => {
      const r = await runs[i];
      const context = `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      assert.equal(r.code, 0, `exit code ${r.code}${context}`);
      assert.doesNotMatch(r.stderr, /Failed:/, context);
      for (const re of c.expect) assert.match(r.stdout, re, context);
    });
  });
});
