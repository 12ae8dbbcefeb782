/**
 * The CLI's pure parts, in process: argv normalisation, HOST:PORT parsing, tables, the
 * error → exit code mapping, and `main()` with captured output.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { main, normalizeArgv, parseCommandLine } from "../src/cli/main.ts";
import { parseHostPort } from "../src/cli/device.ts";
import { formatTable } from "../src/cli/output.ts";
import { CliError, EXIT, exitCodeFor, UsageError } from "../src/cli/errors.ts";
import { CTAP_STATUS, CtapError } from "../src/ctap.ts";
import { ClientError, PinRequiredError } from "../src/client/errors.ts";
import { AbortError, FormatError, TransportError } from "../src/errors.ts";
import { PinPolicyError } from "../src/ctap2/pin.ts";

describe("cli: argv", () => {
  it("--virtual takes a following file unless it is a command or an option", () => {
    assert.deepEqual(normalizeArgv(["--virtual", "s.json", "info"]), ["--virtual=s.json", "info"]);
    assert.deepEqual(normalizeArgv(["--virtual", "info"]), ["--virtual=", "info"]);
    assert.deepEqual(normalizeArgv(["info", "--virtual", "--json"]), [
      "info",
      "--virtual=",
      "--json",
    ]);
    assert.deepEqual(normalizeArgv(["creds", "list", "--virtual", "pin"]), [
      "creds",
      "list",
      "--virtual=pin",
    ]);
    assert.deepEqual(normalizeArgv(["info", "--virtual"]), ["info", "--virtual="]);
    assert.deepEqual(normalizeArgv(["info", "--", "--virtual"]), ["info", "--", "--virtual"]);
  });

  // base64url credential IDs may start with "-" (and even "--"); before, parseArgs took them
  // as (unknown) options and every such ID was a usage error.
  const dashId = "-AAAAAAAAAAAAAAAAAAAAA";
  it('a credential ID that starts with "-" is a value where the command takes one', () => {
    const p = (argv: string[]) => {
      const r = parseCommandLine(argv);
      return { command: r.command?.name, positionals: r.positionals, values: { ...r.values } };
    };
    assert.deepEqual(p(["creds", "delete", dashId, "--virtual=x"]), {
      command: "creds delete",
      positionals: [dashId],
      values: { virtual: "x" },
    });
    assert.deepEqual(p(["creds", "delete", "--", dashId]).positionals, [dashId]);
    assert.deepEqual(p(["creds", "delete", "--x-AAAAAAAAAAAAAAAAAAA"]).positionals, [
      "--x-AAAAAAAAAAAAAAAAAAA",
    ]);
    // blobs put CREDENTIAL_ID FILE|-: the ID in its slot, "-" (stdin) stays a plain value.
    assert.deepEqual(p(["blobs", "put", dashId, "-"]).positionals, [dashId, "-"]);
    // bio template IDs are base64url too (a random one starting with "-" made bio rename flaky).
    assert.deepEqual(p(["bio", "rename", dashId, "thumb"]).positionals, [dashId, "thumb"]);
    assert.deepEqual(p(["bio", "delete", dashId]).positionals, [dashId]);
    // authenticate [CREDENTIAL_ID...] and its --cred / register's --exclude (repeatable).
    const a = p(["authenticate", "--rp", "example.com", dashId, "-B", "--cred", "-C", "--json"]);
    assert.deepEqual(a.positionals, [dashId, "-B"]);
    assert.deepEqual(a.values, { rp: "example.com", cred: ["-C"], json: true });
    assert.deepEqual(p(["register", "--rp", "e.com", "--exclude", "-E", "--exclude=-F"]).values, {
      rp: "e.com",
      exclude: ["-E", "-F"],
    });
    // Known options keep their meaning next to such IDs, short ones as parseArgs reads them.
    assert.deepEqual(p(["creds", "delete", dashId, "-h"]).values, { help: true });
    assert.deepEqual(p(["blobs", "get", dashId, "-oblob.bin"]), {
      command: "blobs get",
      positionals: [dashId],
      values: { out: "blob.bin" },
    });
    assert.deepEqual(p(["blobs", "get", dashId, "-o", "b"]).values, { out: "b" });
    assert.deepEqual(p(["reset", "-yh"]).values, { yes: true, help: true });
  });

  it('a "-" argument anywhere else is a usage error that names the ways to pass an ID', () => {
    const bad: [string[], RegExp][] = [
      [["info", dashId], /^Unknown option -AAAA\S* for `fido2 info`\. A credential ID that/],
      [["blobs", "put", "AAAA", "-x"], /^Unknown option -x for `fido2 blobs put`/],
      [["-x", "info"], /^Unknown option -x\. /],
      [["register", "--rp", "-x"], /^--rp needs a value; .* write --rp=-x$/],
      [["authenticate", "--rp", "e.com", "--pin", "-1234"], /^--pin needs a value; .*--pin=-1234$/],
    ];
    for (const [argv, re] of bad) {
      assert.throws(() => parseCommandLine(argv), (e: unknown) => {
        assert.ok(e instanceof UsageError, argv.join(" "));
        assert.match(e.message, re, argv.join(" "));
        return true;
      });
    }
    assert.deepEqual(parseCommandLine(["info", "--", dashId]).positionals, [dashId]);
  });

  it('main(): authenticate with a "-" credential ID reaches the authenticator', async () => {
    let err = "";
    const io = {
      stdout: { write: () => 0 },
      stderr: { write: (t: string | Uint8Array) => (err += t) },
      env: {},
    };
    // The in-memory key has no such credential: NO_CREDENTIALS (exit 7), not a usage error.
    const code = await main(["authenticate", "--virtual=", "--rp", "example.com", dashId], io);
    assert.equal(code, EXIT.NOT_FOUND, err);
    assert.match(err, /NO_CREDENTIALS/);
  });

  it("HOST:PORT", () => {
    assert.deepEqual(parseHostPort("127.0.0.1:8111"), { host: "127.0.0.1", port: 8111 });
    assert.deepEqual(parseHostPort("[::1]:7"), { host: "::1", port: 7 });
    for (const bad of ["localhost", ":80", "h:0", "h:70000", "h:8x", "::1:80"]) {
      assert.throws(() => parseHostPort(bad), UsageError, bad);
    }
  });

  it("tables pad every column but the last", () => {
    assert.equal(
      formatTable(["A", "LONG"], [["xyz", "1"], ["", "22"]]),
      "A    LONG\n---  ----\nxyz  1\n     22\n",
    );
  });
});

describe("cli: exit codes", () => {
  const S = CTAP_STATUS;
  const cases: [unknown, number][] = [
    [new UsageError("x"), EXIT.USAGE],
    [new CliError(EXIT.NO_DEVICE, "x"), EXIT.NO_DEVICE],
    [new CtapError(S.PIN_INVALID), EXIT.PIN],
    [new CtapError(S.PIN_BLOCKED), EXIT.PIN],
    [new CtapError(S.KEEPALIVE_CANCEL), EXIT.CANCELLED],
    [new CtapError(S.USER_ACTION_TIMEOUT), EXIT.CANCELLED],
    [new CtapError(S.INVALID_COMMAND), EXIT.UNSUPPORTED],
    [new CtapError(S.NO_CREDENTIALS), EXIT.NOT_FOUND],
    [new CtapError(S.INVALID_CBOR), EXIT.ERROR],
    [
      new ClientError(ClientError.ERR.BAD_REQUEST, "x", {
        cause: new CtapError(S.PIN_AUTH_BLOCKED),
      }),
      EXIT.PIN,
    ],
    [new ClientError(ClientError.ERR.TIMEOUT, "x", { cause: new AbortError() }), EXIT.CANCELLED],
    [new ClientError(ClientError.ERR.CONFIGURATION_UNSUPPORTED), EXIT.UNSUPPORTED],
    [new ClientError(ClientError.ERR.DEVICE_INELIGIBLE), EXIT.NOT_FOUND],
    [new PinRequiredError(), EXIT.PIN],
    [new PinPolicyError("short"), EXIT.PIN],
    [new AbortError(), EXIT.CANCELLED],
    [new TransportError("gone"), EXIT.NO_DEVICE],
    [new FormatError("bad"), EXIT.ERROR],
    [new Error("?"), EXIT.ERROR],
    ["string", EXIT.ERROR],
  ];
  it("maps every error class and CTAP status group", () => {
    for (const [err, code] of cases) {
      assert.equal(exitCodeFor(err), code, String((err as Error)?.message ?? err));
    }
  });

  it("main() writes help to stdout and usage errors to stderr", async () => {
    let out = "";
    let err = "";
    const io = {
      stdout: { write: (t: string | Uint8Array) => (out += t) },
      stderr: { write: (t: string | Uint8Array) => (err += t) },
      env: {},
    };
    assert.equal(await main(["pin", "change", "--help"], io), EXIT.OK);
    assert.match(out, /Usage: fido2 pin change/);
    assert.match(out, /--new-pin PIN/);
    assert.equal(await main(["wink", "extra"], io), EXIT.USAGE);
    assert.match(err, /Too many arguments/);
    assert.equal(await main([], io), EXIT.USAGE);
    assert.match(out, /Exit codes:/);
  });

  it("main() runs a command against an in-memory virtual authenticator", async () => {
    let out = "";
    const io = {
      stdout: { write: (t: string | Uint8Array) => (out += t) },
      stderr: { write: () => 0 },
      env: {},
    };
    assert.equal(await main(["pin", "retries", "--virtual=", "--json"], io), EXIT.OK);
    assert.deepEqual(JSON.parse(out), { pinSet: false, pinRetries: 8, powerCycleRequired: false });
  });
});
