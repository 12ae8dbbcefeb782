// The NFC client matrix through the REAL PC/SC stack: this library's binding (ffi/pcsc.ts) →
// libpcsclite → a private pcscd → the vsmartcard-vpcd reader driver → the VirtualAuthenticator
// served as a card with connectVpcd (from a Worker, tests/helpers/vcard_host.ts). Every
// registration and assertion is checked by @simplewebauthn/server.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { createClient } from "../src/client/factory.ts";
import { UserInteraction } from "../src/client/interaction.ts";
import type { WebAuthnClient } from "../src/client/selection.ts";
import { Ctap2 } from "../src/ctap2/mod.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import {
  type CardConnection,
  CardRemovedError,
  CtapPcscDevice,
  listPcscDevices,
  openPcscBackend,
} from "../src/pcsc/mod.ts";
import { b64urlEncode, randomBytes, toHex } from "../src/utils.ts";
import { type PcscBed, releasePcscd, usePcscd } from "./helpers/pcscd.ts";
import { hostCard, type HostedCard } from "./helpers/vcard_host.ts";
import { repoRoot } from "./helpers/build_fixture.ts";
import type { CardSpec } from "./helpers/vcard_worker.ts";

const ORIGIN = "https://example.com";
const RP_ID = "example.com";
const PIN = "1234";

class Ui extends UserInteraction {
  prompts = 0;
  override promptUp(): void {
    this.prompts++;
  }
  override requestPin(): string | undefined {
    return PIN;
  }
}

let bed: PcscBed;
const cards: HostedCard[] = [];
const devices: CtapPcscDevice[] = [];

before(async () => {
  bed = await usePcscd();
});
afterEach(async () => {
  for (const d of devices.splice(0)) await d.close().catch(() => {});
  for (const c of cards.splice(0)) await c.stop();
});
after(async () => {
  await releasePcscd();
});

/** Serves a card in slot `slot` and opens it through listPcscDevices. */
async function card(spec: Omit<CardSpec, "port"> = {}, slot: 0 | 1 = 0) {
  // bed.host: a quick-ACK loopback address when it has one (~0.2 ms per APDU, not ~44 ms).
  const host = await hostCard({ pin: PIN, ...spec, port: bed.ports[slot], host: bed.host });
  cards.push(host);
  const device = await openReader(bed.readers[slot]);
  return { host, device };
}

async function openReader(reader: string): Promise<CtapPcscDevice> {
  // pcscd notices a new card on its next poll of the reader: wait for it (up to 10 s).
  const deadline = Date.now() + 10_000;
  while (true) {
    for await (const d of listPcscDevices(reader, { pollIntervalMs: 20 })) {
      devices.push(d);
      return d;
    }
    if (Date.now() > deadline) throw new Error(`no FIDO card showed up in "${reader}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function client(device: CtapPcscDevice, ui = new Ui()) {
  return new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
}

async function register(c: WebAuthnClient, extra: Record<string, unknown> = {}, uv = false) {
  const options = await generateRegistrationOptions({
    rpName: "Example",
    rpID: RP_ID,
    userName: "alice",
    attestationType: "none",
    ...extra,
  }) as unknown as Record<string, unknown>;
  const response = await c.makeCredential(options);
  const json = response.toJSON() as Record<string, unknown>;
  const v = await verifyRegistrationResponse({
    response: json as never,
    expectedChallenge: options.challenge as string,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: uv,
  });
  assert.equal(v.verified, true);
  return { json, credential: v.registrationInfo!.credential };
}

async function authenticate(
  c: WebAuthnClient,
  credential: { id: string; publicKey: Uint8Array; counter: number },
  extra: Record<string, unknown> = {},
) {
  const options = await generateAuthenticationOptions({
    rpID: RP_ID,
    allowCredentials: [{ id: credential.id }],
    userVerification: "discouraged",
    ...extra,
  });
  const selection = await c.getAssertion(options as unknown as Record<string, unknown>);
  const response = selection.getResponse(0);
  const v = await verifyAuthenticationResponse({
    response: response.toJSON() as never,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: credential as never,
    requireUserVerification: false,
  });
  assert.equal(v.verified, true);
  return response.toJSON() as Record<string, unknown>;
}

describe("NFC client matrix through pcscd", () => {
  it("registers and authenticates; the RP library verifies both", async () => {
    const { device } = await card();
    assert.equal(device.reader, bed.readers[0]);
    assert.equal(device.appletVersion, "U2F_V2");
    assert.equal(device.capabilities, 0x04);
    const c = client(device);
    const { credential, json } = await register(c);
    await authenticate(c, credential);
    assert.ok(c.info.versions.includes("FIDO_2_1"));
    assert.equal(device.extendedApdus, true, "the card's ATR advertises extended Lc/Le");
    // A key served as a card lists nfc in getInfo (as a YubiKey 5 NFC does), and so does the
    // registration (the RP stores it for later allowCredentials hints).
    assert.equal(device.transport, "nfc");
    assert.deepEqual(c.info.transports, ["nfc", "usb"]);
    assert.deepEqual((json.response as { transports: string[] }).transports, ["nfc", "usb"]);
  });

  it("PIN_AUTH_BLOCKED: after three wrong PINs the client power-cycles the card and the right PIN works", async () => {
    const { device } = await card();
    const pins = ["0000", "0000", "0000", PIN];
    let asked = 0;
    const ui = new class extends Ui {
      override requestPin(): string {
        return pins[asked++];
      }
    }();
    const c = client(device, ui);
    const uv = { authenticatorSelection: { userVerification: "required" } };
    for (let i = 0; i < 2; i++) {
      await assert.rejects(register(c, uv, true), (e: unknown) => {
        assert.ok(e instanceof ClientError, String(e));
        assert.equal((e.cause as { code?: number }).code, 0x31, "PIN_INVALID");
        return true;
      });
    }
    const pin = new ClientPin(await Ctap2.create(device));
    assert.deepEqual(await pin.getPinRetries(), { retries: 6, powerCycleState: false });
    // The third wrong PIN is PIN_AUTH_BLOCKED; the client reconnects (SCardReconnect with
    // SCARD_UNPOWER_CARD: pcscd → vpcd power off/on), asks again and the right PIN works.
    await register(c, uv, true);
    assert.equal(asked, 4);
    assert.deepEqual(await pin.getPinRetries(), { retries: 8, powerCycleState: false });
  });

  it("PIN_AUTH_BLOCKED outside a ceremony stays an error; reconnect() clears it, retries stay", async () => {
    const { device } = await card();
    const pin = new ClientPin(await Ctap2.create(device));
    for (const expected of [0x31, 0x31, 0x34, 0x34]) {
      await assert.rejects(pin.getPinToken("0000"), (e: unknown) => {
        assert.equal((e as { code?: number }).code, expected, String(e));
        return true;
      });
    }
    assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: true });
    await device.reconnect();
    assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: false });
    assert.equal((await pin.getPinToken(PIN)).length, 32);
  });

  for (const protocol of [1, 2]) {
    it(`PIN protocol ${protocol}: user verification with the PIN`, async () => {
      const { device } = await card({ pinProtocols: [protocol] });
      const c = client(device);
      await c.ready();
      assert.deepEqual(c.info.pinUvProtocols, [protocol]);
      const { credential } = await register(
        c,
        { authenticatorSelection: { userVerification: "required" } },
        true,
      );
      const json = await authenticate(c, credential, { userVerification: "required" });
      assert.ok(json.id);
    });
  }

  it("credential management lists the discoverable credential made over NFC", async () => {
    const { device } = await card();
    const c = client(device);
    const { credential } = await register(c, {
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
    }, true);
    const ctap = await Ctap2.create(device);
    const pin = new ClientPin(ctap);
    const token = await pin.getPinToken(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT);
    const cm = new CredentialManagement(ctap, pin.protocol, token);
    assert.equal((await cm.getMetadata()).existingResidentCredentialsCount, 1);
    const rps = await cm.enumerateRps();
    assert.deepEqual(rps.map((r) => r.rp.id), [RP_ID]);
    const creds = await cm.enumerateCreds(rps[0].rpIdHash);
    assert.equal(b64urlEncode(creds[0].credentialId.id), credential.id);
  });

  it("prf: the same salt gives the same secret over NFC", async () => {
    const { device } = await card();
    const c = client(device);
    const { json, credential } = await register(c, { extensions: { prf: {} } });
    assert.deepEqual((json.clientExtensionResults as Record<string, unknown>).prf, {
      enabled: true,
    });
    const first = b64urlEncode(new TextEncoder().encode("salt"));
    const prf = async () => {
      const out = await authenticate(c, credential, { extensions: { prf: { eval: { first } } } });
      return (out.clientExtensionResults as { prf: { results: { first: string } } }).prf.results
        .first;
    };
    const a = await prf();
    assert.equal(a, await prf());
    assert.equal(a.length, 43);
  });

  for (const mode of ["short", "extended"] as const) {
    it(`large blobs: a 3000-byte blob written and read back, ${mode} APDUs`, async () => {
      await card({}, 0);
      // Count the APDUs through a wrapped connection.
      const backend = await openPcscBackend();
      const raw = await backend.connect(bed.readers[0]);
      const apdus: string[] = [];
      const counted: CardConnection = {
        reader: raw.reader,
        atr: raw.atr,
        transmit: async (a) => {
          apdus.push(toHex(a.subarray(0, 2)));
          return await raw.transmit(a);
        },
        beginTransaction: () => raw.beginTransaction!(),
        endTransaction: () => raw.endTransaction!(),
        close: () => raw.close(),
      };
      const device = await CtapPcscDevice.open(counted, { pollIntervalMs: 20, apduMode: mode });
      devices.push(device);
      backend.close?.();
      const c = client(device);
      const options = await generateRegistrationOptions({
        rpName: "Example",
        rpID: RP_ID,
        userName: "bob",
        attestationType: "none",
        authenticatorSelection: { residentKey: "required" },
        extensions: { largeBlob: { support: "required" } },
      } as never) as unknown as Record<string, unknown>;
      const reg = await c.makeCredential(options);
      const id = (reg.toJSON() as { id: string }).id;
      const blob = randomBytes(3000);
      const write = await c.getAssertion({
        challenge: b64urlEncode(randomBytes(16)),
        rpId: RP_ID,
        allowCredentials: [{ type: "public-key", id }],
        extensions: { largeBlob: { write: b64urlEncode(blob) } },
      });
      assert.deepEqual(
        (write.getResponse(0).toJSON() as { clientExtensionResults: unknown })
          .clientExtensionResults,
        { largeBlob: { written: true } },
      );
      const read = await c.getAssertion({
        challenge: b64urlEncode(randomBytes(16)),
        rpId: RP_ID,
        allowCredentials: [{ type: "public-key", id }],
        extensions: { largeBlob: { read: true } },
      });
      const out = read.getResponse(0).toJSON() as {
        clientExtensionResults: { largeBlob: { blob: string } };
      };
      assert.equal(out.clientExtensionResults.largeBlob.blob, b64urlEncode(blob));
      // Short: fragments go out as command chains (CLA 0x90) and come back through GET
      // RESPONSE (61xx); extended: one APDU each way.
      assert.equal(apdus.includes("9010"), mode === "short");
      assert.equal(apdus.includes("00c0"), mode === "short");
    });
  }

  it("U2F fallback: a U2F-only card registers and authenticates through CTAP1 APDUs", async () => {
    const { device } = await card({ u2fOnly: true, pin: undefined });
    assert.equal(device.appletVersion, "U2F_V2");
    assert.equal(device.capabilities & 0x04, 0);
    const c = client(device);
    const { credential } = await register(c);
    await authenticate(c, credential);
  });

  it("cancellation while the card reports 9100 (touch pending): TIMEOUT, card still usable", async () => {
    const { host, device } = await card({ touch: "never" });
    const ui = new Ui();
    const c = client(device, ui);
    await c.ready();
    const ac = new AbortController();
    const touched = host.nextTouch();
    const pending = c.makeCredential(
      await generateRegistrationOptions({ rpName: "E", rpID: RP_ID, userName: "c" }) as never,
      { signal: ac.signal },
    );
    await touched;
    ac.abort();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof ClientError, String(e));
      assert.equal(e.code, ClientError.ERR.TIMEOUT);
      return true;
    });
    assert.ok(ui.prompts >= 1, "the UP_NEEDED status of the 9100 answers reached the prompt");
    const { info } = await Ctap2.create(device);
    assert.ok(info.versions.includes("FIDO_2_0"), "the card answers after the cancellation");
  });

  it("card removed mid-operation: a typed CardRemovedError", async () => {
    const { host, device } = await card({ touch: "never" });
    const c = client(device);
    await c.ready();
    const touched = host.nextTouch();
    const pending = c.makeCredential(
      await generateRegistrationOptions({ rpName: "E", rpID: RP_ID, userName: "d" }) as never,
    );
    await touched;
    await host.remove();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof ClientError, String(e));
      assert.ok(e.cause instanceof CardRemovedError, `cause: ${e.cause}`);
      assert.match((e.cause as Error).message, /SCARD_W_REMOVED_CARD|SCARD_W_RESET_CARD/);
      return true;
    });
  });

  it("reconnect power-cycles the card through pcscd (python's NFC reconnect) and selects again", async () => {
    const { device } = await card();
    const before = (await Ctap2.create(device)).info;
    await device.reconnect();
    assert.equal(device.appletVersion, "U2F_V2");
    const after = (await Ctap2.create(device)).info;
    assert.equal(after.aaguid.toString(), before.aaguid.toString());
  });

  it("two readers present: one device per reader, each its own authenticator", async () => {
    const a = [...randomBytes(16)];
    const b = [...randomBytes(16)];
    await card({ aaguid: a }, 0);
    await card({ aaguid: b }, 1);
    await openReader(bed.readers[1]);
    await openReader(bed.readers[0]);
    for (const d of devices.splice(0)) await d.close();
    const found: [string, string][] = [];
    const skipped: string[] = [];
    for await (
      const d of listPcscDevices("Virtual PCD", { onSkip: (r, e) => skipped.push(`${r}: ${e}`) })
    ) {
      devices.push(d);
      const { info } = await Ctap2.create(d);
      found.push([d.reader, toHex(info.aaguid.bytes)]);
    }
    assert.deepEqual(skipped, []);
    assert.deepEqual(found.map((f) => f[0]), [...bed.readers]);
    assert.deepEqual(found.map((f) => f[1]), [toHex(new Uint8Array(a)), toHex(new Uint8Array(b))]);
  });

  it("createClient picks the NFC key when no USB key is connected", async () => {
    await card();
    await openReader(bed.readers[0]).then((d) => d.close());
    devices.length = 0;
    const c = await createClient(new DefaultClientDataCollector(ORIGIN), {
      preferWindows: false,
      userInteraction: new Ui(),
      pcsc: bed.readers[0],
    });
    try {
      assert.ok(c instanceof Fido2Client);
      const { credential } = await register(c);
      await authenticate(c, credential);
    } finally {
      await c.close();
    }
  });

  it('`fido2 info --reader "Virtual PCD 00 00"` prints the card\'s getInfo', async () => {
    await card();
    await openReader(bed.readers[0]).then((d) => d.close());
    devices.length = 0;
    const argv = script("cli.ts");
    const r = await run(argv, ["info", "--reader", bed.readers[0], "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.device.transport, "pcsc");
    assert.equal(json.device.reader, bed.readers[0]);
    assert.equal(json.device.applet, "U2F_V2");
    assert.ok(json.info.versions.includes("FIDO_2_1"));
    const human = await run(argv, ["info", "--reader", bed.readers[0]]);
    assert.match(human.stdout, /Reader:\s+Virtual PCD 00 00/);
    assert.match(human.stdout, /Versions:\s+.*FIDO_2_1/);
    const missing = await run(argv, ["info", "--reader", "No Such Reader"]);
    assert.equal(missing.status, 3, missing.stderr);
    assert.match(missing.stderr, /No FIDO security key in a reader matching "No Such Reader"/);
    const list = await run(argv, ["list", "--json"]);
    const entries = JSON.parse(list.stdout) as { transport: string; reader?: string }[];
    assert.ok(entries.some((e) => e.transport === "pcsc" && e.reader === bed.readers[0]));
  });
});

describe("fido2 over NFC", () => {
  it("register, authenticate and creds list go through --reader", async () => {
    await card();
    await openReader(bed.readers[0]).then((d) => d.close());
    devices.length = 0;
    const argv = script("cli.ts");
    const at = ["--reader", bed.readers[0]];
    const reg = await run(argv, [
      "register",
      ...at,
      "--rp",
      RP_ID,
      "--user",
      "nfc-alice",
      "--rk",
      "--json",
    ]);
    assert.equal(reg.status, 0, reg.stderr);
    const id = (JSON.parse(reg.stdout) as { id: string }).id;
    const auth = await run(argv, ["authenticate", ...at, "--rp", RP_ID, id, "--json"]);
    assert.equal(auth.status, 0, auth.stderr);
    assert.equal((JSON.parse(auth.stdout) as { id: string }).id, id);
    const creds = await run(argv, ["creds", "list", ...at, "--json"]);
    assert.equal(creds.status, 0, creds.stderr);
    assert.ok(creds.stdout.includes(id), creds.stdout);
    const wink = await run(argv, ["wink", ...at]);
    assert.equal(wink.status, 6, "NFC has no wink: not supported");
  });
});

describe("examples/nfc.ts", () => {
  it("--virtual inserts a card into the vpcd reader, then registers and authenticates", async () => {
    const argv = script("examples/nfc.ts");
    const r = await run(argv, [
      "--virtual",
      "--vpcd-port",
      String(bed.ports[0]),
      "--reader",
      bed.readers[0],
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Using Virtual PCD 00 00: applet U2F_V2, CTAP2, extended-length APDUs/);
    assert.match(
      r.stdout,
      /^Done: registered and authenticated over PC\/SC \(Virtual PCD 00 00\)/m,
    );
  });
});

/** Runs a program asynchronously (the cards answer from this process); killed after 90 s. */
/** The command line that runs `file` on the runtime running the tests. */
function script(file: string): string[] {
  return process.versions.bun ? [process.execPath, file] : [process.execPath, "run", "-A", file];
}

function run(argv: string[], args: string[]) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(argv[0], [...argv.slice(1), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...bed.env, NO_COLOR: "1", FIDO2_PIN: PIN },
      timeout: 90_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
