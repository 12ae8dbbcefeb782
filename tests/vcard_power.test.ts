// Power cycles of the virtual NFC card and what they mean for the client, through the card's
// APDU front end (src/virtual/card.ts) and this library's NFC mapping (CtapPcscDevice) over an
// in-memory card connection: a real NFC key has no power of its own, so the reader's power
// off / reset restarts the authenticator (CTAP 2.1 §6.5.2.2, §6.5.5), and python-fido2's
// client recovers from PIN_AUTH_BLOCKED by reconnecting. tests/pcsc_client.test.ts repeats the
// client half through the real pcscd.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fido2Client } from "../src/client/fido2.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError } from "../src/client/errors.ts";
import { UserInteraction } from "../src/client/interaction.ts";
import { CTAP_STATUS, type CtapDevice, CtapError } from "../src/ctap.ts";
import { Ctap2 } from "../src/ctap2/mod.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { CredentialManagement } from "../src/ctap2/credman.ts";
import { FormatError } from "../src/errors.ts";
import { type CardConnection, CtapPcscDevice, type Disposition } from "../src/pcsc/mod.ts";
import { fromHex, randomBytes, toHex } from "../src/utils.ts";
import {
  CtapCard,
  type CtapCardOptions,
  VirtualAuthenticator,
  type VirtualAuthenticatorOptions,
} from "../src/virtual/mod.ts";

const PIN = "1234";
const WRONG = "9999";
const ORIGIN = "https://example.com";

/** The card in a reader: power off + on for "unpower", a reset for "reset", as pcscd does. */
function reader(card: CtapCard, log: string[] = []): CardConnection {
  return {
    reader: "in-memory",
    atr: card.atr,
    transmit: (apdu) => card.transmit(apdu),
    reconnect(disposition: Disposition = "unpower") {
      log.push(disposition);
      if (disposition === "unpower") {
        card.powerOff();
        card.powerOn();
      } else if (disposition === "reset") {
        card.reset();
      }
      return Promise.resolve();
    },
    close() {},
  };
}

async function nfcKey(
  opts: VirtualAuthenticatorOptions = { pin: PIN },
  cardOpts?: CtapCardOptions,
) {
  const va = new VirtualAuthenticator(opts);
  const card = new CtapCard(va.authenticator, cardOpts);
  const reconnects: string[] = [];
  const device = await CtapPcscDevice.open(reader(card, reconnects));
  // A U2F-only card has no CTAP2 (its tests use only the device).
  const ctap = device.supportsCbor ? await Ctap2.create(device) : undefined as unknown as Ctap2;
  return { va, card, device, ctap, reconnects };
}

function ctapCode(code: number) {
  return (e: unknown) => {
    assert.ok(e instanceof CtapError, String(e));
    assert.equal(e.code, code, `0x${e.code.toString(16)} instead of 0x${code.toString(16)}`);
    return true;
  };
}

/** Three wrong PINs in a row: PIN_INVALID, PIN_INVALID, PIN_AUTH_BLOCKED (§6.5.5.7). */
async function threeWrongPins(pin: ClientPin): Promise<void> {
  await assert.rejects(pin.getPinToken(WRONG), ctapCode(CTAP_STATUS.PIN_INVALID));
  await assert.rejects(pin.getPinToken(WRONG), ctapCode(CTAP_STATUS.PIN_INVALID));
  await assert.rejects(pin.getPinToken(WRONG), ctapCode(CTAP_STATUS.PIN_AUTH_BLOCKED));
}

/** Power off then on (the key left the field and came back) or a reset, then SELECT again. */
const CYCLES: Record<string, (card: CtapCard) => void> = {
  "power off + power on": (card) => {
    card.powerOff();
    card.powerOn();
  },
  "reset": (card) => card.reset(),
};

describe("virtual card: power cycles restart the authenticator", () => {
  for (const [name, cycle] of Object.entries(CYCLES)) {
    it(`${name}: PIN_AUTH_BLOCKED is cleared, the PIN retries are not`, async () => {
      const { card, device, ctap } = await nfcKey();
      const pin = new ClientPin(ctap);
      await threeWrongPins(pin);
      // Blocked until the power cycle, even for the right PIN, which spends no retry.
      await assert.rejects(pin.getPinToken(PIN), ctapCode(CTAP_STATUS.PIN_AUTH_BLOCKED));
      assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: true });
      cycle(card);
      assert.equal(card.selected, false);
      await device.reconnect("leave"); // selects the applet again, no power change
      assert.deepEqual(await pin.getPinRetries(), { retries: 5, powerCycleState: false });
      assert.equal((await pin.getPinToken(PIN)).length, 32);
      assert.deepEqual(await pin.getPinRetries(), { retries: 8, powerCycleState: false });
    });

    it(`${name}: pinUvAuthTokens and the key agreement key are regenerated`, async () => {
      const { card, device, ctap } = await nfcKey();
      const pin = new ClientPin(ctap);
      const token = await pin.getPinToken(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT);
      const credman = new CredentialManagement(ctap, pin.protocol, token);
      assert.equal((await credman.getMetadata()).existingResidentCredentialsCount, 0);
      const before = await pin.getSharedSecret();
      cycle(card);
      await device.reconnect("leave");
      await assert.rejects(credman.getMetadata(), ctapCode(CTAP_STATUS.PIN_AUTH_INVALID));
      const after = await pin.getSharedSecret();
      assert.notEqual(toHex(after.sharedSecret), toHex(before.sharedSecret));
    });

    it(`${name}: pending getNextAssertion state is gone`, async () => {
      const { card, device, ctap } = await nfcKey({});
      for (const name of ["a", "b"]) {
        await ctap.makeCredential({
          clientDataHash: randomBytes(32),
          rp: { id: "example.com" },
          user: { id: randomBytes(8), name },
          pubKeyCredParams: [{ type: "public-key", alg: -7 }],
          options: { rk: true },
        });
      }
      const first = await ctap.getAssertion({
        rpId: "example.com",
        clientDataHash: randomBytes(32),
      });
      assert.equal(first.numberOfCredentials, 2);
      cycle(card);
      await device.reconnect("leave");
      await assert.rejects(ctap.getNextAssertion(), ctapCode(CTAP_STATUS.NOT_ALLOWED));
    });
  }

  it("an unpowered card answers 6985 until power on; SELECT is needed again", async () => {
    const { card } = await nfcKey();
    card.powerOff();
    assert.equal(toHex(await card.transmit(fromHex("80108000010400"))), "6985");
    card.powerOn();
    assert.equal(toHex(await card.transmit(fromHex("80108000010400"))), "6d00");
    const select = await card.transmit(fromHex("00a4040008a0000006472f000100"));
    assert.equal(toHex(select.subarray(-2)), "9000");
  });

  it("without power loss the state survives: SELECT again keeps the token", async () => {
    const { device, ctap } = await nfcKey();
    const pin = new ClientPin(ctap);
    const token = await pin.getPinToken(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT);
    await device.reconnect("leave");
    const credman = new CredentialManagement(ctap, pin.protocol, token);
    assert.equal((await credman.getMetadata()).existingResidentCredentialsCount, 0);
  });

  it("a power cycle restarts the 10 s window in which authenticatorReset is allowed", async () => {
    let now = 1_000_000;
    const { card, device, ctap } = await nfcKey({ now: () => now });
    now += 11_000;
    await assert.rejects(ctap.reset(), ctapCode(CTAP_STATUS.NOT_ALLOWED));
    card.reset();
    await device.reconnect("leave");
    await ctap.reset();
  });
});

/** Hands out the PINs in order (then the last again), counting the prompts. */
class ScriptedPins extends UserInteraction {
  asked = 0;
  constructor(readonly pins: readonly string[]) {
    super();
  }
  override requestPin(): string {
    return this.pins[Math.min(this.asked++, this.pins.length - 1)];
  }
}

function registration(name = "alice") {
  return {
    rp: { id: "example.com", name: "Example" },
    user: { id: randomBytes(16), name },
    challenge: randomBytes(32),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    authenticatorSelection: { userVerification: "required" },
  } as const;
}

function clientError(status: number) {
  return (e: unknown) => {
    assert.ok(e instanceof ClientError, String(e));
    assert.equal(e.code, ClientError.ERR.BAD_REQUEST);
    assert.ok(e.cause instanceof CtapError, `cause: ${e.cause}`);
    assert.equal(e.cause.code, status);
    return true;
  };
}

describe("Fido2Client: PIN_AUTH_BLOCKED over NFC reconnects once (python-fido2)", () => {
  it("the third wrong PIN blocks, the client power-cycles the card and the right PIN works", async () => {
    const { device, reconnects, va } = await nfcKey();
    const ui = new ScriptedPins([WRONG, WRONG, WRONG, PIN]);
    const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    assert.deepEqual(reconnects, []);
    const reg = await client.makeCredential(registration());
    assert.equal(ui.asked, 4, "asked again after the reconnect");
    assert.deepEqual(reconnects, ["unpower"]);
    assert.equal(reg.response.authenticatorData.userVerified, true);
    assert.equal(va.pinState!.pinRetries, 8, "the right PIN restores the retries");
  });

  it("the same for getAssertion", async () => {
    const { device, reconnects } = await nfcKey();
    const ui = new ScriptedPins([PIN, WRONG, WRONG, WRONG, PIN]);
    const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
    const reg = await client.makeCredential(registration());
    const request = {
      rpId: "example.com",
      challenge: randomBytes(32),
      allowCredentials: [{ type: "public-key", id: reg.rawId }],
      userVerification: "required",
    } as const;
    await assert.rejects(client.getAssertion(request), clientError(0x31));
    await assert.rejects(client.getAssertion(request), clientError(0x31));
    const got = await client.getAssertion(request);
    assert.equal(got.getResponse(0).response.authenticatorData.userVerified, true);
    assert.deepEqual(reconnects, ["unpower"]);
  });

  it("only once: a wrong PIN after the reconnect is PIN_INVALID, retries 8 − 4", async () => {
    const { device, reconnects, va } = await nfcKey();
    const ui = new ScriptedPins([WRONG]);
    const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    assert.equal(ui.asked, 4);
    assert.deepEqual(reconnects, ["unpower"]);
    assert.equal(va.pinState!.pinRetries, 4);
    // Once per ceremony: the next block (the 6th wrong PIN, the 3rd since the power cycle)
    // is recovered again, and the PIN asked after it is the 7th spent retry.
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    assert.deepEqual(reconnects, ["unpower"]);
    await assert.rejects(client.makeCredential(registration()), clientError(0x31));
    assert.deepEqual(reconnects, ["unpower", "unpower"]);
    assert.equal(ui.asked, 7);
    assert.equal(va.pinState!.pinRetries, 1);
  });

  it("a USB key cannot be power-cycled by the client: PIN_AUTH_BLOCKED surfaces", async () => {
    const va = new VirtualAuthenticator({ pin: PIN });
    const device = await va.device();
    try {
      assert.equal((device as CtapDevice).reconnect, undefined);
      const ui = new ScriptedPins([WRONG, WRONG, WRONG, PIN]);
      const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
      await assert.rejects(client.makeCredential(registration()), clientError(0x31));
      await assert.rejects(client.makeCredential(registration()), clientError(0x31));
      await assert.rejects(client.makeCredential(registration()), clientError(0x34));
      assert.equal(ui.asked, 3);
      await assert.rejects(client.makeCredential(registration()), clientError(0x34));
      va.powerCycle(); // unplug and replug
      await client.makeCredential(registration());
    } finally {
      await device.close();
      await va.close();
    }
  });

  it("PIN_BLOCKED (retries used up) is not retried: only a reset helps", async () => {
    const { device, reconnects, va } = await nfcKey({ pin: PIN, pinOptions: { maxPinRetries: 1 } });
    const ui = new ScriptedPins([WRONG]);
    const client = new Fido2Client(device, new DefaultClientDataCollector(ORIGIN), ui);
    await assert.rejects(client.makeCredential(registration()), clientError(0x32));
    assert.deepEqual(reconnects, []);
    assert.equal(va.pinState!.pinRetries, 0);
  });
});

describe("getInfo transports", () => {
  const transportsOf = async (opts: VirtualAuthenticatorOptions, asCard: boolean) => {
    const va = new VirtualAuthenticator(opts);
    if (asCard) new CtapCard(va.authenticator);
    const device = await va.device();
    try {
      return (await Ctap2.create(device)).info.transports;
    } finally {
      await device.close();
      await va.close();
    }
  };

  it('a key served as a card reports ["nfc", "usb"] (the YubiKey 5 NFC form), else ["usb"]', async () => {
    assert.deepEqual(await transportsOf({}, true), ["nfc", "usb"]);
    assert.deepEqual(await transportsOf({}, false), ["usb"]);
    assert.deepEqual(await transportsOf({ profile: "ctap2.1" }, true), ["nfc", "usb"]);
  });

  it("2.1-PRE lists them only as an NFC key (as recorded); 2.0 keys have no member 0x09", async () => {
    assert.deepEqual(await transportsOf({ profile: "ctap2.1-pre" }, true), ["nfc", "usb"]);
    assert.deepEqual(await transportsOf({ profile: "ctap2.1-pre" }, false), []);
    assert.deepEqual(await transportsOf({ profile: "ctap2.0" }, true), []);
  });

  it("the transports option is reported as given (the Token2 lists usb first)", async () => {
    assert.deepEqual(await transportsOf({ transports: ["usb", "nfc"] }, true), ["usb", "nfc"]);
    assert.deepEqual(await transportsOf({ transports: ["usb"] }, true), ["usb"]);
    assert.deepEqual(
      await transportsOf({ profile: "ctap2.0", transports: ["nfc"] }, false),
      ["nfc"],
    );
    assert.throws(
      () => new VirtualAuthenticator({ transports: "nfc" as never }),
      (e: unknown) => e instanceof FormatError && /transports must be an array/.test(e.message),
    );
  });

  it("a registration over NFC reports nfc in response.transports, CTAP2 and U2F", async () => {
    const nfc = await nfcKey({ profile: "ctap2.0", pin: PIN });
    assert.equal(nfc.device.transport, "nfc");
    const ui = new ScriptedPins([PIN]);
    const c20 = new Fido2Client(nfc.device, new DefaultClientDataCollector(ORIGIN), ui);
    // A 2.0 key lists no transports: the one it was used over is reported.
    assert.deepEqual((await c20.makeCredential(registration())).response.transports, ["nfc"]);
    const key = await nfcKey({ pin: PIN, transports: ["usb", "nfc"] });
    const c21 = new Fido2Client(key.device, new DefaultClientDataCollector(ORIGIN), ui);
    assert.deepEqual((await c21.makeCredential(registration())).response.transports, [
      "nfc",
      "usb",
    ]);
    const u2f = await nfcKey({ u2fOnly: true, clientPin: false });
    const cu = new Fido2Client(u2f.device, new DefaultClientDataCollector(ORIGIN));
    const reg = { ...registration(), authenticatorSelection: { userVerification: "discouraged" } };
    assert.deepEqual((await cu.makeCredential(reg as never)).response.transports, ["nfc"]);
  });

  it('a card with a contact ATR is a "smart-card"', async () => {
    const { device } = await nfcKey({}, { atr: fromHex("3b8c8001" + "00".repeat(12)) });
    assert.equal(device.transport, "nfc");
    const contact = await nfcKey({}, {
      atr: fromHex("3bfd1300008131fe158073c021c057597562694b657940"),
      transport: "smart-card",
    });
    assert.equal(contact.device.transport, "smart-card");
    assert.deepEqual((await contact.ctap.getInfo()).transports, ["smart-card", "usb"]);
  });
});
