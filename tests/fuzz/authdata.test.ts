// Fuzz targets for src/webauthn/authdata.ts: AuthenticatorData, AttestedCredentialData and
// AttestationObject parsing of arbitrary and mutated bytes. Invariant: a parsed structure or a
// FormatError, never another error; whatever parses rebuilds to the same bytes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decode } from "../../src/cbor.ts";
import { FormatError } from "../../src/errors.ts";
import {
  AttestationObject,
  AttestedCredentialData,
  AuthenticatorData,
} from "../../src/webauthn/authdata.ts";
import {
  GA_RESP,
  MC_RESP_PACKED,
  MC_RESP_SMALL,
  toAttestationObject,
} from "../fixtures/ctap_messages.ts";
import { bytes, fuzz, hex, mutated, only } from "./_fuzz.ts";

function field(msg: Uint8Array, key: number): Uint8Array {
  const v = (decode(msg) as Map<unknown, unknown>).get(key);
  assert.ok(v instanceof Uint8Array);
  return v;
}

const AUTH_DATA = [field(MC_RESP_PACKED, 2), field(MC_RESP_SMALL, 2), field(GA_RESP, 2)];
const ACD = AUTH_DATA.slice(0, 2).map((a) => a.subarray(37));
const ATT_OBJ = [toAttestationObject(MC_RESP_PACKED), toAttestationObject(MC_RESP_SMALL)];

/** 32 bytes, a flags byte (AT/ED often set), a counter, then arbitrary bytes. */
const authDataShaped = fc.tuple(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x41, 0x45, 0x81, 0xc1, 0x01)),
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.oneof(bytes(160), mutated(ACD)),
).map(([h, f, c, rest]) => Uint8Array.from([...h, f, ...c, ...rest]));

function checkAuthData(input: Uint8Array): void {
  const r = only([FormatError], () => AuthenticatorData.parse(input));
  if (!r.ok) return;
  const ad = r.value;
  assert.equal(hex(ad.raw), hex(input));
  assert.equal(ad.attested, ad.credentialData !== undefined);
  assert.equal(ad.hasExtensionData, ad.extensions !== undefined);
  const rebuilt = AuthenticatorData.create(
    ad.rpIdHash,
    ad.flags,
    ad.counter,
    ad.credentialData,
    ad.extensions,
  );
  assert.equal(hex(rebuilt.raw), hex(input), "rebuilding authenticator data changed it");
}

function checkAcd(input: Uint8Array): void {
  const r = only([FormatError], () => AttestedCredentialData.unpackFrom(input));
  const p = only([FormatError], () => AttestedCredentialData.parse(input));
  if (!r.ok) {
    assert.ok(!p.ok, "parse accepted what unpackFrom rejects");
    return;
  }
  const [acd, rest] = r.value;
  assert.equal(hex(acd.raw) + hex(rest), hex(input));
  assert.equal(p.ok, rest.length === 0);
  const rebuilt = AttestedCredentialData.create(acd.aaguid, acd.credentialId, acd.publicKey);
  assert.equal(hex(rebuilt.raw), hex(acd.raw));
}

function checkAttObj(input: Uint8Array): void {
  const r = only([FormatError], () => AttestationObject.parse(input));
  if (!r.ok) return;
  const ao = r.value;
  assert.equal(hex(ao.raw), hex(input));
  const keys = (decode(input) as Map<unknown, unknown>).size;
  if (keys === 3) {
    const again = AttestationObject.create(ao.fmt, ao.authData, ao.attStmt);
    assert.equal(hex(again.raw), hex(input), "rebuilding the attestation object changed it");
  }
  assert.equal(ao.withoutAttestation().fmt, "none");
}

describe("fuzz: authenticator data", () => {
  it("AuthenticatorData.parse: arbitrary bytes", () => {
    fuzz("AuthenticatorData.parse arbitrary", bytes(128), checkAuthData);
  });
  it("AuthenticatorData.parse: header-shaped bytes with arbitrary or mutated tails", () => {
    fuzz("AuthenticatorData.parse shaped", authDataShaped, checkAuthData);
  });
  it("AuthenticatorData.parse: mutated real authenticator data", () => {
    fuzz("AuthenticatorData.parse mutated", mutated(AUTH_DATA), checkAuthData);
  });
  it("AttestedCredentialData: arbitrary and mutated bytes", () => {
    fuzz("AttestedCredentialData arbitrary", bytes(128), checkAcd, { scale: 0.5 });
    fuzz("AttestedCredentialData mutated", mutated(ACD), checkAcd);
  });
  it("AttestationObject.parse: arbitrary and mutated bytes", () => {
    fuzz("AttestationObject.parse arbitrary", bytes(128), checkAttObj, { scale: 0.5 });
    fuzz("AttestationObject.parse mutated", mutated(ATT_OBJ), checkAttObj);
  });
  it("the unmutated corpus parses (the targets above start from valid input)", () => {
    for (const a of AUTH_DATA) checkAuthData(a);
    for (const a of ATT_OBJ) assert.equal(AttestationObject.parse(a).fmt, "packed");
    for (const a of ACD) assert.equal(AttestedCredentialData.parse(a).credentialId.length, 64);
  });
});
