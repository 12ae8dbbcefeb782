// Fuzz target for the WebAuthn client (src/client/fido2.ts) over a ScriptedDevice: after a
// valid getInfo, the authenticator's makeCredential / getAssertion / clientPin replies are
// arbitrary, byte-mutated or well-formed-but-lying. Invariant: the call resolves with a
// response that serializes, or rejects with a ClientError whose cause is one of the library's
// typed errors (or none, for the client's own decisions), never anything else and never more
// device calls than the script holds.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CborMap, decode, encode } from "../../src/cbor.ts";
import { DefaultClientDataCollector } from "../../src/client/collector.ts";
import { ClientError, PinRequiredError } from "../../src/client/errors.ts";
import { Fido2Client } from "../../src/client/fido2.ts";
import { UserInteraction } from "../../src/client/interaction.ts";
import { CtapError } from "../../src/ctap.ts";
import { ApduError } from "../../src/ctap1.ts";
import { generateKeyAgreementKey } from "../../src/ctap2/key_agreement.ts";
import { PinPolicyError } from "../../src/ctap2/pin.ts";
import {
  AbortError,
  FormatError,
  TransportError,
  UnsupportedAlgorithmError,
} from "../../src/errors.ts";
import { b64urlEncode, concat, utf8Encode } from "../../src/utils.ts";
import {
  GA_RESP,
  INFO_CTAP20,
  INFO_CTAP21,
  MC_RESP_PACKED,
  MC_RESP_SMALL,
} from "../fixtures/ctap_messages.ts";
import { ScriptedDevice } from "../helpers/scripted_device.ts";
import { bytes, edited, fuzzAsync, mutated, onlyAsync } from "./_fuzz.ts";

const ORIGIN = "https://example.com";
const CAUSES = [
  CtapError,
  FormatError,
  TransportError,
  ApduError,
  AbortError,
  UnsupportedAlgorithmError,
  PinPolicyError,
];
/** Replies after the script, so a client that keeps calling ends instead of running off. */
const SPARE = 8;

const ok = (body: Uint8Array) => concat(new Uint8Array([0]), body);
const keys = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function reply(corpus: readonly Uint8Array[], memberKeys: readonly number[]) {
  return fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }).map((s) => new Uint8Array([s])) },
    { weight: 3, arbitrary: mutated(corpus).map(ok) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(...corpus).chain((c) => edited(c, memberKeys)).map(ok),
    },
    { weight: 1, arbitrary: bytes(100) },
    { weight: 2, arbitrary: fc.constantFrom(...corpus).map(ok) },
  );
}

const GA_MULTI = (() => {
  const m = decode(GA_RESP) as CborMap;
  m.set(4, new Map<string, unknown>([["id", new Uint8Array([1])], ["name", "a"]]) as CborMap);
  m.set(5, 2);
  return encode(m);
})();
const KA_REPLY = encode(new Map([[1, generateKeyAgreementKey().publicKey]]));
const TOKEN_REPLY = encode(new Map([[2, new Uint8Array(48).fill(3)]]));

const MC = reply([MC_RESP_SMALL, MC_RESP_PACKED], keys(7));
const GA = reply([GA_RESP, GA_MULTI], keys(8));
/** A clientPin reply: mostly the valid one, so the operation after it is reached too. */
const pinReply = (valid: Uint8Array) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(ok(valid)) },
    { weight: 1, arbitrary: reply([KA_REPLY, TOKEN_REPLY], [1, 2, 3]) },
  );

class WithPin extends UserInteraction {
  override requestPin(): string {
    return "123456";
  }
}

const mcOptions = {
  rp: { id: "example.com", name: "Example" },
  user: { id: b64urlEncode(utf8Encode("user")), name: "user" },
  challenge: b64urlEncode(new Uint8Array(16)),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
};
const gaOptions = { rpId: "example.com", challenge: b64urlEncode(new Uint8Array(16)) };

/** A script: valid getInfo, then (with a PIN) key agreement and token, then the operation. */
const scenario = fc.record({
  op: fc.constantFrom("mc" as const, "ga" as const),
  pin: fc.boolean(),
  ka: pinReply(KA_REPLY),
  token: pinReply(TOKEN_REPLY),
  mc: fc.array(MC, { minLength: 1, maxLength: 2 }),
  ga: fc.array(GA, { minLength: 1, maxLength: 3 }),
});

function vetRejection(e: ClientError): void {
  if (e instanceof PinRequiredError || e.cause === undefined) return;
  if (CAUSES.some((c) => e.cause instanceof c)) return;
  const c = e.cause;
  throw new Error(
    `ClientError ${e.message} has an untyped cause: ${c instanceof Error ? c.stack : String(c)}`,
  );
}

describe("fuzz: Fido2Client over lying authenticators", () => {
  it("makeCredential / getAssertion: a serializable response or a ClientError", async () => {
    await fuzzAsync("client operations", scenario, async (s) => {
      const info = s.pin ? INFO_CTAP21 : INFO_CTAP20;
      const script = [
        ok(info),
        ...(s.pin ? [s.ka, s.token] : []),
        ...(s.op === "mc" ? s.mc : s.ga),
      ];
      const dev = new ScriptedDevice([...script, ...Array(SPARE).fill("30")]);
      const client = new Fido2Client(
        dev,
        new DefaultClientDataCollector(ORIGIN),
        s.pin ? new WithPin() : new UserInteraction(),
      );
      const r = await onlyAsync([ClientError], async (): Promise<unknown> => {
        if (s.op === "mc") return (await client.makeCredential(mcOptions)).toJSON();
        const sel = await client.getAssertion(gaOptions);
        assert.ok(sel.getAssertions().length >= 1);
        return sel.getResponse(0).toJSON();
      });
      if (!r.ok) vetRejection(r.error as ClientError);
      else assert.equal(typeof (r.value as { id: unknown }).id, "string");
      assert.ok(dev.calls.length <= script.length + SPARE, "ran off the end of the script");
    }, { scale: 0.25 });
  });
});
