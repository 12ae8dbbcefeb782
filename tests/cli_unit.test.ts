/**
 * The CLI's pure parts, in process: argv normalisation, HOST:PORT parsing, tables, the
 * error → exit code mapping, and `main()` with captured output.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { main, normalizeArgv } from "../src/cli/main.ts";
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
