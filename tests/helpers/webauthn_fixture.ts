/**
 * Builds tests/fixtures/fake_webauthn.c into a shared library (cached under .cache/fixtures/ by
 * source hash) and binds its test-control exports. Uses node: modules so it runs on Deno and Bun.
 * @module
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { cString, openLibrary, readCString } from "../../ffi/runtime.ts";

/** A copy in its own ArrayBuffer (FFI buffers must not be views into a shared pool). */
function own(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(new ArrayBuffer(Math.max(b.length, 1)));
  c.set(b);
  return c;
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const fixtures = join(root, "tests", "fixtures");

/** Where a build of the fake goes: Linux `.so` (gcc) or Win64 `.dll` (mingw-w64). */
export type FixtureTarget = "linux" | "win64";

const TARGETS = {
  linux: { cc: "gcc", file: "libfake_webauthn.so", flags: ["-fPIC"] },
  win64: { cc: "x86_64-w64-mingw32-gcc", file: "fake_webauthn.dll", flags: [] },
} as const;

/**
 * Compiles the fake webauthn library (once per source version) and returns its path. The
 * default target is the running OS; on Windows (Bun under Wine) there is no compiler, so the
 * `.dll` must have been built beforehand with `target: "win64"` on the Linux side.
 */
export function buildFakeWebAuthn(
  target: FixtureTarget = process.platform === "win32" ? "win64" : "linux",
): string {
  const sources = ["fake_webauthn.c", "fake_webauthn.h"].map((f) => join(fixtures, f));
  const hash = createHash("sha256");
  // Normalise line endings so a Windows checkout hashes like the Linux one.
  for (const s of sources) hash.update(readFileSync(s, "utf8").replace(/\r\n/g, "\n"));
  const dir = join(root, ".cache", "fixtures", hash.digest("hex").slice(0, 16));
  const t = TARGETS[target];
  const out = join(dir, t.file);
  if (existsSync(out)) return out;
  if (process.platform === "win32") {
    throw new Error(
      `${out} is missing: build it on Linux first with buildFakeWebAuthn("win64")`,
    );
  }
  mkdirSync(dir, { recursive: true });
  // Build to a unique name, then rename: concurrent test processes never see a partial file.
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  const args = ["-shared", ...t.flags, "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, sources[0]];
  execFileSync(t.cc, args, { stdio: ["ignore", "pipe", "pipe"] });
  renameSync(tmp, out);
  return out;
}

/** Test controls exported by the fake library. */
export interface FakeControls {
  /** The last MakeCredential/GetAssertion request as the fake saw it (null before any). */
  lastRequest(): Record<string, unknown> | null;
  /** Allocation, free and cancellation counters. */
  state(): Record<string, number | string>;
  /** API version the fake reports (-1: FAKE_WEBAUTHN_API_VERSION or 9). */
  setApiVersion(v: number): void;
  /** The next MakeCredential/GetAssertion fails with this HRESULT. */
  setNextHresult(hr: number): void;
  /** Output struct versions to return instead of the API's (0 = by API version). */
  setOutputVersions(attestation: number, assertion: number): void;
  setUvpaa(available: boolean): void;
  /**
   * MakeCredential/GetAssertion wait `ms` before their operation can be cancelled; a cancel
   * sent earlier is ignored, as the real DLL ignores one for an operation it does not run.
   */
  setStartDelay(ms: number): void;
  /**
   * How long a "linger.example" call keeps running after it ended (default 300 ms) before it
   * re-reads its request to detect memory the caller freed meanwhile (state().lingerCorrupt).
   */
  setLinger(ms: number): void;
  /** false: MakeCredential returns no Extensions array (outputs only in the authData). */
  setExtensionArray(on: boolean): void;
  /** Stores a platform credential for WebAuthNGetPlatformCredentialList. */
  addPlatformCredential(c: FakePlatformCredential): void;
  /** How many platform credentials the fake holds (DeletePlatformCredential removes one). */
  platformCredentialCount(): number;
  /** The next successful MakeCredential returns exactly these bytes (one shot). */
  scriptAttestation(r: ScriptedAttestation): void;
  /** The next successful GetAssertion returns exactly these bytes (one shot). */
  scriptAssertion(r: ScriptedAssertion): void;
  reset(): void;
  close(): void;
}

/** A genuine registration result for the fake to return. */
export interface ScriptedAttestation {
  fmt: string;
  authenticatorData: Uint8Array;
  /** CBOR attStmt. */
  attestationStatement: Uint8Array;
  attestationObject: Uint8Array;
  credentialId: Uint8Array;
}

/** A genuine authentication result for the fake to return. */
export interface ScriptedAssertion {
  authenticatorData: Uint8Array;
  signature: Uint8Array;
  credentialId: Uint8Array;
  /** Empty or absent: no user handle. */
  userHandle?: Uint8Array;
}

/** A platform credential scripted into the fake. */
export interface FakePlatformCredential {
  id: Uint8Array;
  rpId: string;
  rpName: string;
  userId: Uint8Array;
  userName: string;
  displayName: string;
  authenticatorName?: string;
  removable?: boolean;
  backedUp?: boolean;
  thirdPartyPayment?: boolean;
  /** WEBAUTHN_CTAP_TRANSPORT_* bits. */
  transports?: number;
}

/** Opens the fake library's control exports (same process-wide state as the binding sees). */
export async function openFakeControls(path: string): Promise<FakeControls> {
  const lib = await openLibrary([path], {
    fake_webauthn_last_request_json: { parameters: [], result: "ptr" },
    fake_webauthn_state_json: { parameters: [], result: "ptr" },
    fake_webauthn_set_api_version: { parameters: ["i32"], result: "void" },
    fake_webauthn_set_next_hresult: { parameters: ["i32"], result: "void" },
    fake_webauthn_set_output_versions: { parameters: ["i32", "i32"], result: "void" },
    fake_webauthn_set_uvpaa: { parameters: ["i32"], result: "void" },
    fake_webauthn_set_start_delay: { parameters: ["i32"], result: "void" },
    fake_webauthn_set_linger: { parameters: ["i32"], result: "void" },
    fake_webauthn_set_extension_array: { parameters: ["i32"], result: "void" },
    fake_webauthn_reset: { parameters: [], result: "void" },
    fake_webauthn_add_platform_credential: {
      parameters: [
        "buffer",
        "i32",
        "buffer",
        "buffer",
        "buffer",
        "i32",
        "buffer",
        "buffer",
        "buffer",
        "i32",
        "i32",
      ],
      result: "i32",
    },
    fake_webauthn_platform_credential_count: { parameters: [], result: "i32" },
    fake_webauthn_script_attestation: {
      parameters: ["buffer", "buffer", "i32", "buffer", "i32", "buffer", "i32", "buffer", "i32"],
      result: "i32",
    },
    fake_webauthn_script_assertion: {
      parameters: ["buffer", "i32", "buffer", "i32", "buffer", "i32", "buffer", "i32"],
      result: "i32",
    },
  });
  const s = lib.symbols;
  return {
    lastRequest: () => JSON.parse(readCString(s.fake_webauthn_last_request_json())!),
    state: () => JSON.parse(readCString(s.fake_webauthn_state_json())!),
    setApiVersion: (v) => s.fake_webauthn_set_api_version(v),
    setNextHresult: (hr) => s.fake_webauthn_set_next_hresult(hr | 0),
    setOutputVersions: (att, assertion) => s.fake_webauthn_set_output_versions(att, assertion),
    setUvpaa: (a) => s.fake_webauthn_set_uvpaa(a ? 1 : 0),
    setStartDelay: (ms) => s.fake_webauthn_set_start_delay(ms),
    setLinger: (ms) => s.fake_webauthn_set_linger(ms),
    setExtensionArray: (on) => s.fake_webauthn_set_extension_array(on ? 1 : 0),
    addPlatformCredential: (c) => {
      const flags = (c.removable ? 1 : 0) | (c.backedUp ? 2 : 0) | (c.thirdPartyPayment ? 4 : 0);
      const rc = s.fake_webauthn_add_platform_credential(
        own(c.id),
        c.id.length,
        cString(c.rpId),
        cString(c.rpName),
        own(c.userId),
        c.userId.length,
        cString(c.userName),
        cString(c.displayName),
        cString(c.authenticatorName ?? "Windows Hello"),
        flags,
        c.transports ?? 0x10,
      );
      if (rc !== 0) throw new Error("fake_webauthn_add_platform_credential refused the input");
    },
    platformCredentialCount: () => s.fake_webauthn_platform_credential_count(),
    scriptAttestation: (r) => {
      const rc = s.fake_webauthn_script_attestation(
        cString(r.fmt),
        own(r.authenticatorData),
        r.authenticatorData.length,
        own(r.attestationStatement),
        r.attestationStatement.length,
        own(r.attestationObject),
        r.attestationObject.length,
        own(r.credentialId),
        r.credentialId.length,
      );
      if (rc !== 0) throw new Error("fake_webauthn_script_attestation refused the input");
    },
    scriptAssertion: (r) => {
      const user = r.userHandle ?? new Uint8Array(0);
      const rc = s.fake_webauthn_script_assertion(
        own(r.authenticatorData),
        r.authenticatorData.length,
        own(r.signature),
        r.signature.length,
        own(r.credentialId),
        r.credentialId.length,
        own(user),
        user.length,
      );
      if (rc !== 0) throw new Error("fake_webauthn_script_assertion refused the input");
    },
    reset: () => s.fake_webauthn_reset(),
    close: () => lib.close(),
  };
}

/**
 * Runs `fn` with environment variables set (a string) or removed (undefined), restoring the
 * previous values afterwards, so a test's library override never leaks into the next test.
 */
export async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => T | Promise<T>,
): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) delete process.env[k];
      else process.env[k] = val;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}
