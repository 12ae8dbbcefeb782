// Fuzz target for WindowsClient (src/client/windows.ts) over the fake webauthn library
// (tests/fixtures/fake_webauthn.c, through the real FFI layer): the "DLL" returns arbitrary or
// mutated attestation objects, authenticator data, attestation statements, signatures and
// user handles. Invariant: a response that serializes, or a ClientError / FormatError, never
// another error. (The fake accepts authenticator data of 37 bytes and more only.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, encode } from "../../src/cbor.ts";
import { loadWebAuthn, type WebAuthnApi } from "../../ffi/webauthn.ts";
import { DefaultClientDataCollector } from "../../src/client/collector.ts";
import { ClientError } from "../../src/client/errors.ts";
import { WindowsClient } from "../../src/client/windows.ts";
import { FormatError } from "../../src/errors.ts";
import {
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
} from "../../src/webauthn.ts";
import { concat, sha256, utf8Encode } from "../../src/utils.ts";
import {
  GA_RESP,
  MC_RESP_PACKED,
  MC_RESP_SMALL,
  toAttestationObject,
} from "../fixtures/ctap_messages.ts";
import {
  buildFakeWebAuthn,
  type FakeControls,
  openFakeControls,
} from "../helpers/webauthn_fixture.ts";
import { bytes, edited, fuzzAsync, mutated, onlyAsync } from "./_fuzz.ts";

const ORIGIN = "https://example.com";
const ALLOWED = [ClientError, FormatError];

const field = (msg: Uint8Array, k: number) =>
  (decode(msg) as Map<unknown, unknown>).get(k) as Uint8Array;
const AUTH_DATA = [field(MC_RESP_PACKED, 2), field(MC_RESP_SMALL, 2)];
/** Authenticator data for example.com: the rpIdHash matches, so parsing goes deeper. */
const OWN_AUTH_DATA = AUTH_DATA.map((a) =>
  concat(sha256(utf8Encode("example.com")), a.subarray(32))
);
const ATT_OBJ = [toAttestationObject(MC_RESP_PACKED), toAttestationObject(MC_RESP_SMALL)];
const ATT_STMT = [encode((decode(MC_RESP_PACKED) as Map<unknown, unknown>).get(3))];
const GA_AUTH = concat(sha256(utf8Encode("example.com")), field(GA_RESP, 2).subarray(32));

/** At least `min` bytes: the fake refuses shorter inputs. */
function atLeast(min: number, arb: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return arb.map((b) => (b.length >= min ? b : concat(b, new Uint8Array(min - b.length))));
}

const authData = atLeast(
  37,
  fc.oneof(
    fc.constantFrom(...OWN_AUTH_DATA),
    mutated(OWN_AUTH_DATA),
    mutated(AUTH_DATA),
    bytes(200),
  ),
);
const attestation = fc.record({
  fmt: fc.constantFrom("packed", "none", "fido-u2f", "tpm", "x"),
  authenticatorData: authData,
  attestationStatement: atLeast(
    1,
    fc.oneof(fc.constantFrom(...ATT_STMT), mutated(ATT_STMT), bytes(80)),
  ),
  attestationObject: atLeast(
    1,
    fc.oneof(
      mutated(ATT_OBJ),
      fc.constantFrom(...ATT_OBJ).chain((o) => edited(o, ["fmt", "attStmt", "authData"])),
      bytes(120),
    ),
  ),
  credentialId: atLeast(1, fc.uint8Array({ maxLength: 80 })),
});
const assertion = fc.record({
  authenticatorData: atLeast(37, fc.oneof(fc.constant(GA_AUTH), mutated([GA_AUTH]), bytes(120))),
  signature: atLeast(1, fc.uint8Array({ maxLength: 80 })),
  credentialId: atLeast(1, fc.uint8Array({ maxLength: 80 })),
  userHandle: fc.oneof(fc.constant(undefined), fc.uint8Array({ maxLength: 64 })),
  allowed: fc.oneof(fc.constant(undefined), fc.uint8Array({ minLength: 1, maxLength: 16 })),
});

const creation = () =>
  new PublicKeyCredentialCreationOptions({
    rp: { name: "Example RP" },
    user: { id: new Uint8Array([1, 2, 3, 4]), name: "alice", displayName: "Alice" },
    challenge: new Uint8Array(32).fill(0xc1),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    attestation: "direct",
  });
/** A request allowing `id` (the fake answers with the first allowed credential). */
const request = (id: Uint8Array) =>
  new PublicKeyCredentialRequestOptions({
    challenge: new Uint8Array(32).fill(2),
    allowCredentials: [{ type: "public-key", id }],
  });

describe("fuzz: WindowsClient over a lying webauthn library", () => {
  let ctl: FakeControls;
  let api: WebAuthnApi;
  let client: WindowsClient;
  before(async () => {
    const path = buildFakeWebAuthn();
    ctl = await openFakeControls(path);
    api = await loadWebAuthn({ path });
    client = new WindowsClient(new DefaultClientDataCollector(ORIGIN), { api, hwnd: 0x42 });
  });
  after(() => {
    api?.close();
    ctl?.close();
  });

  it("makeCredential with arbitrary attestation bytes: a response or ClientError/FormatError", async () => {
    await fuzzAsync("webauthn.dll makeCredential", attestation, async (a) => {
      ctl.reset();
      ctl.scriptAttestation(a);
      const r = await onlyAsync(
        ALLOWED,
        async () => (await client.makeCredential(creation())).toJSON(),
      );
      if (r.ok) assert.equal(typeof (r.value as { id: unknown }).id, "string");
    }, { scale: 0.1 });
  });

  it("getAssertion with arbitrary assertion bytes: a response or ClientError/FormatError", async () => {
    await fuzzAsync("webauthn.dll getAssertion", assertion, async (a) => {
      ctl.reset();
      ctl.scriptAssertion(a);
      const r = await onlyAsync(
        ALLOWED,
        async () =>
          (await client.getAssertion(request(a.allowed ?? a.credentialId))).getResponse(0).toJSON(),
      );
      if (r.ok) assert.equal(typeof (r.value as { id: unknown }).id, "string");
    }, { scale: 0.1 });
  });
});
