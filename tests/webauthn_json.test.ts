import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { p256, p384 } from "@noble/curves/nist.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { type CborValue, encode } from "../src/cbor.ts";
import {
  Aaguid,
  AttestationConveyancePreference,
  AttestationObject,
  AttestedCredentialData,
  AuthenticationExtensionsClientInputs,
  AuthenticationExtensionsClientOutputs,
  AuthenticationResponse,
  AuthenticatorAssertionResponse,
  AuthenticatorAttestationResponse,
  AuthenticatorData,
  AuthenticatorSelectionCriteria,
  CollectedClientData,
  type CollectedClientDataInit,
  coseKeyToSpki,
  CredentialCreationOptions,
  CredentialRequestOptions,
  FLAG,
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialDescriptor,
  PublicKeyCredentialParameters,
  PublicKeyCredentialRequestOptions,
  PublicKeyCredentialRpEntity,
  PublicKeyCredentialUserEntity,
  RegistrationResponse,
  UserVerificationRequirement,
} from "../src/webauthn.ts";
import { FormatError } from "../src/errors.ts";
import {
  b64urlDecode,
  b64urlEncode,
  concat,
  fromHex,
  randomBytes,
  sha256,
  toHex,
  utf8Encode,
} from "../src/utils.ts";

const te = (s: string) => utf8Encode(s);
/** Same members in the same order (what a byte-exact JSON comparison needs). */
const sameJson = (a: unknown, b: unknown) => assert.equal(JSON.stringify(a), JSON.stringify(b));
const formatError = (fn: () => unknown, path: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    assert.ok(
      e.message.startsWith(path + ":"),
      `message ${JSON.stringify(e.message)} should name ${path}`,
    );
    return true;
  });

describe("base64url", () => {
  it("round-trips any bytes, unpadded, url-safe alphabet", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const s = b64urlEncode(bytes);
        assert.match(s, /^[A-Za-z0-9_-]*$/);
        assert.equal(s.length, Math.ceil((bytes.length * 4) / 3));
        assert.deepEqual(b64urlDecode(s), bytes);
      }),
    );
  });
  it("matches the platform's base64 (converted) for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const std = btoa(String.fromCharCode(...bytes));
        const url = std.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
        assert.equal(b64urlEncode(bytes), url);
        assert.deepEqual(b64urlDecode(std), bytes);
      }),
    );
  });
  it("rejects characters outside the alphabet", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^A-Za-z0-9_\-+/=]/.test(s)),
        (s) => {
          assert.throws(() => b64urlDecode(s), FormatError);
        },
      ),
    );
  });
});

describe("CollectedClientData (python-fido2 §7.1)", () => {
  const JSON_TEXT =
    '{"type":"webauthn.create","challenge":"cdySOP-1JI4J_BpOeO9ut25rlZJueF16aO6auTTYAis","origin":"https://demo.yubico.com","crossOrigin":false}';
  const B64 =
    "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiY2R5U09QLTFKSTRKX0JwT2VPOXV0MjVybFpKdWVGMTZhTzZhdVRUWUFpcyIsIm9yaWdpbiI6Imh0dHBzOi8vZGVtby55dWJpY28uY29tIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ";

  it("parses the vector", () => {
    const c = CollectedClientData.parse(te(JSON_TEXT));
    assert.equal(c.type, "webauthn.create");
    assert.equal(c.type, CollectedClientData.TYPE.CREATE);
    assert.equal(c.origin, "https://demo.yubico.com");
    assert.equal(
      toHex(c.challenge),
      "71dc9238ffb5248e09fc1a4e78ef6eb76e6b95926e785d7a68ee9ab934d8022b",
    );
    assert.equal(c.crossOrigin, false);
    assert.equal(c.b64, B64);
    assert.equal(toHex(c.hash), "8b20a0b904b4747aacae71d55bf60b4eb2583f7e639f55f40baac23c2600c178");
    assert.equal(c.toJSON(), B64);
    assert.deepEqual(CollectedClientData.fromJSON(B64).raw, c.raw);
  });

  it("create() builds the same object parse() reads back from its bytes", () => {
    const inits = [
      { type: "webauthn.get", challenge: fromHex("00ff10"), origin: "https://example.com" },
      {
        type: "webauthn.create",
        challenge: "cdySOP-1JI4J_BpOeO9ut25rlZJueF16aO6auTTYAis",
        origin: "https://a.example",
        crossOrigin: true,
        topOrigin: "https://top.example",
      },
      { type: "webauthn.get", challenge: "AAAA", origin: "https://\u00fcber.example", extra: 1 },
    ];
    for (const init of inits) {
      const made = CollectedClientData.create(init);
      const read = CollectedClientData.parse(made.raw);
      for (const k of ["type", "challenge", "origin", "crossOrigin", "topOrigin", "raw"] as const) {
        assert.deepEqual(made[k], read[k], k);
      }
      assert.deepEqual({ ...made.fields }, { ...read.fields });
      assert.ok(Object.isFrozen(made.fields));
    }
    // Not a string (from untyped callers): what parse() makes of it is an error.
    const badTop = { type: "webauthn.get", challenge: "AA", origin: "o", topOrigin: 1 };
    assert.throws(
      () => CollectedClientData.create(badTop as unknown as CollectedClientDataInit),
      FormatError,
    );
  });

  it("create() is byte-identical to the vector (challenge as string or bytes)", () => {
    const a = CollectedClientData.create({
      type: "webauthn.create",
      challenge: "cdySOP-1JI4J_BpOeO9ut25rlZJueF16aO6auTTYAis",
      origin: "https://demo.yubico.com",
    });
    assert.equal(new TextDecoder().decode(a.raw), JSON_TEXT);
    const b = CollectedClientData.create({
      type: "webauthn.create",
      challenge: fromHex("71dc9238ffb5248e09fc1a4e78ef6eb76e6b95926e785d7a68ee9ab934d8022b"),
      origin: "https://demo.yubico.com",
    });
    assert.deepEqual(b.raw, a.raw);
    const c = CollectedClientData.create({
      type: "webauthn.create",
      challenge: a.challenge,
      origin: "https://demo.yubico.com",
      crossOrigin: true,
    });
    assert.equal(c.crossOrigin, true);
  });

  it("create() appends topOrigin then extra members in order", () => {
    const c = CollectedClientData.create({
      type: "webauthn.get",
      challenge: new Uint8Array([1, 2, 3]),
      origin: "https://a.example",
      crossOrigin: true,
      topOrigin: "https://top.example",
      other_keys_can_be_added_here: "do not compare clientDataJSON against a template",
    });
    assert.equal(
      new TextDecoder().decode(c.raw),
      '{"type":"webauthn.get","challenge":"AQID","origin":"https://a.example","crossOrigin":true,' +
        '"topOrigin":"https://top.example",' +
        '"other_keys_can_be_added_here":"do not compare clientDataJSON against a template"}',
    );
    assert.equal(c.topOrigin, "https://top.example");
    assert.equal(
      c.fields.other_keys_can_be_added_here,
      "do not compare clientDataJSON against a template",
    );
  });

  it("keeps the exact bytes of foreign client data (spacing, key order)", () => {
    const text = '{ "origin": "https://x.example", "challenge": "AA", "type": "webauthn.get" }';
    const c = CollectedClientData.parse(te(text));
    assert.equal(new TextDecoder().decode(c.raw), text);
    assert.equal(c.crossOrigin, false);
    assert.deepEqual(c.challenge, new Uint8Array([0]));
  });

  it("rejects malformed client data with the member path", () => {
    formatError(() => CollectedClientData.parse(te("not json")), "clientDataJSON");
    formatError(() => CollectedClientData.parse(te("[1]")), "clientDataJSON");
    formatError(
      () => CollectedClientData.parse(te('{"challenge":"AA","origin":"o"}')),
      "clientDataJSON.type",
    );
    formatError(
      () => CollectedClientData.parse(te('{"type":"t","challenge":"A!","origin":"o"}')),
      "clientDataJSON.challenge",
    );
    formatError(
      () => CollectedClientData.parse(te('{"type":"t","challenge":"AA","origin":1}')),
      "clientDataJSON.origin",
    );
    formatError(
      () =>
        CollectedClientData.parse(
          te('{"type":"t","challenge":"AA","origin":"o","crossOrigin":"yes"}'),
        ),
      "clientDataJSON.crossOrigin",
    );
    formatError(() => CollectedClientData.parse(new Uint8Array([0xff, 0xfe])), "clientDataJSON");
    formatError(() => CollectedClientData.fromJSON(42), "clientDataJSON");
  });

  it("property: create() then parse keeps every field", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("webauthn.create", "webauthn.get"),
        fc.uint8Array({ maxLength: 64 }),
        fc.string(),
        fc.boolean(),
        fc.option(fc.string(), { nil: undefined }),
        (type, challenge, origin, crossOrigin, topOrigin) => {
          const c = CollectedClientData.create({
            type,
            challenge,
            origin,
            crossOrigin,
            topOrigin,
          });
          const p = CollectedClientData.fromJSON(c.toJSON());
          assert.equal(p.type, type);
          assert.deepEqual(p.challenge, challenge);
          assert.equal(p.origin, origin);
          assert.equal(p.crossOrigin, crossOrigin);
          assert.equal(p.topOrigin, topOrigin);
          assert.deepEqual(p.raw, c.raw);
        },
      ),
    );
  });
});

describe("AuthenticatorSelectionCriteria (python-fido2 §7.2)", () => {
  it("emits both residentKey and requireResidentKey", () => {
    const o = new AuthenticatorSelectionCriteria({
      authenticatorAttachment: "platform",
      requireResidentKey: true,
      userVerification: "required",
    });
    assert.deepEqual(o.toJSON(), {
      authenticatorAttachment: "platform",
      requireResidentKey: true,
      residentKey: "required",
      userVerification: "required",
    });
  });
  it("drops unknown enum strings", () => {
    assert.equal(
      new AuthenticatorSelectionCriteria({ authenticatorAttachment: "invalid" })
        .authenticatorAttachment,
      undefined,
    );
    assert.equal(
      new AuthenticatorSelectionCriteria({ userVerification: "invalid" }).userVerification,
      undefined,
    );
    assert.equal(
      new AuthenticatorSelectionCriteria({ residentKey: "invalid" }).residentKey,
      "discouraged",
    );
    const j = AuthenticatorSelectionCriteria.fromJSON({
      authenticatorAttachment: "invalid",
      userVerification: "sometimes",
      residentKey: "perhaps",
    });
    assert.deepEqual(j.toJSON(), { residentKey: "discouraged", requireResidentKey: false });
  });
  it("defaults and reconciliation", () => {
    const d = new AuthenticatorSelectionCriteria();
    assert.equal(d.residentKey, "discouraged");
    assert.equal(d.requireResidentKey, false);
    assert.equal(d.authenticatorAttachment, undefined);
    assert.equal(d.userVerification, undefined);
    assert.equal(
      new AuthenticatorSelectionCriteria({ requireResidentKey: true }).residentKey,
      "required",
    );
    assert.equal(
      new AuthenticatorSelectionCriteria({ requireResidentKey: false }).requireResidentKey,
      false,
    );
    for (const [rk, rrk] of [["required", true], ["preferred", false], ["discouraged", false]]) {
      assert.equal(
        new AuthenticatorSelectionCriteria({ residentKey: rk as string })
          .requireResidentKey,
        rrk,
      );
      // residentKey wins over a contradicting legacy flag
      assert.equal(
        AuthenticatorSelectionCriteria.fromJSON({ residentKey: rk, requireResidentKey: !rrk })
          .requireResidentKey,
        rrk,
      );
    }
  });
  it("type errors name the member", () => {
    formatError(() => AuthenticatorSelectionCriteria.fromJSON({ residentKey: 1 }), "residentKey");
    formatError(
      () => AuthenticatorSelectionCriteria.fromJSON({ requireResidentKey: "yes" }),
      "requireResidentKey",
    );
    formatError(() => AuthenticatorSelectionCriteria.fromJSON([]), "value");
  });
});

describe("entities, parameters, descriptors (python-fido2 §7.3)", () => {
  it("rp entity", () => {
    const rp = new PublicKeyCredentialRpEntity({ name: "Example", id: "example.com" });
    assert.deepEqual(rp.toJSON(), { id: "example.com", name: "Example" });
    assert.equal(
      toHex(rp.idHash!),
      "a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947",
    );
    formatError(() => PublicKeyCredentialRpEntity.fromJSON({ id: "example.com" }), "name");
    assert.equal(PublicKeyCredentialRpEntity.fromJSON({ name: "x" }).id, undefined);
  });
  it("user entity", () => {
    const u = new PublicKeyCredentialUserEntity({
      name: "Example",
      id: te("user"),
      displayName: "Display",
    });
    assert.deepEqual(u.toJSON(), { id: "dXNlcg", name: "Example", displayName: "Display" });
    formatError(() => PublicKeyCredentialUserEntity.fromJSON({ name: "x" }), "id");
    formatError(() => PublicKeyCredentialUserEntity.fromJSON({ id: "@@" }), "id");
    // An empty user handle stays an empty string (python-fido2 issue #277 turned it into []).
    assert.deepEqual(PublicKeyCredentialUserEntity.fromJSON({ id: "" }).toJSON(), { id: "" });
  });
  it("parameters", () => {
    const p = new PublicKeyCredentialParameters({ type: "public-key", alg: -7 });
    assert.deepEqual(p.toJSON(), { type: "public-key", alg: -7 });
    assert.equal(
      PublicKeyCredentialParameters.fromJSON({ type: "invalid-type", alg: -7 }).isKnownType,
      false,
    );
    formatError(() => PublicKeyCredentialParameters.fromJSON({ type: "public-key" }), "alg");
    formatError(
      () => PublicKeyCredentialParameters.fromJSON({ type: "public-key", alg: 1.5 }),
      "alg",
    );
  });
  it("descriptors", () => {
    const d = new PublicKeyCredentialDescriptor({ type: "public-key", id: te("credential_id") });
    assert.deepEqual(d.toJSON(), { type: "public-key", id: "Y3JlZGVudGlhbF9pZA" });
    assert.equal(d.transports, undefined);
    const t = PublicKeyCredentialDescriptor.fromJSON({
      type: "public-key",
      id: "Y3JlZGVudGlhbF9pZA",
      transports: ["usb", "nfc"],
    });
    assert.deepEqual(t.transports, ["usb", "nfc"]);
    // Unknown transports are dropped (python keeps a None element instead).
    const b = PublicKeyCredentialDescriptor.fromJSON({
      type: "public-key",
      id: "eA",
      transports: ["usb", "bogus", "valid_value"],
    });
    assert.deepEqual(b.toJSON(), { type: "public-key", id: "eA", transports: ["usb"] });
    assert.equal(
      PublicKeyCredentialDescriptor.fromJSON({ type: "wrong-type", id: "eA" }).isKnownType,
      false,
    );
    formatError(
      () => PublicKeyCredentialDescriptor.fromJSON({ type: "public-key", id: "eA", transports: 3 }),
      "transports",
    );
    formatError(
      () =>
        PublicKeyCredentialDescriptor.fromJSON({ type: "public-key", id: "eA", transports: [3] }),
      "transports[0]",
    );
  });
});

describe("creation / request options (python-fido2 §7.4)", () => {
  const CREATION_JSON =
    '{"rp": {"name": "Example", "id": "example.com"}, "user": {"name": "A. User", "id": "dXNlcl9pZA"}, "challenge": "cmVxdWVzdF9jaGFsbGVuZ2U", "pubKeyCredParams": [{"type": "public-key", "alg": -7}], "timeout": 10000, "excludeCredentials": [{"type": "public-key", "id": "Y3JlZGVudGlhbF9pZA"}], "authenticatorSelection": {"authenticatorAttachment": "platform", "residentKey": "required", "userVerification": "required", "requireResidentKey": true}, "attestation": "direct"}';
  const REQUEST_JSON =
    '{"challenge": "cmVxdWVzdF9jaGFsbGVuZ2U", "timeout": 10000, "rpId": "example.com", "allowCredentials": [{"type": "public-key", "id": "Y3JlZGVudGlhbF9pZA"}], "userVerification": "discouraged"}';

  it("creation options built in code serialise to the vector", () => {
    const o = new PublicKeyCredentialCreationOptions({
      rp: { name: "Example", id: "example.com" },
      user: { name: "A. User", id: te("user_id") },
      challenge: te("request_challenge"),
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      timeout: 10000,
      excludeCredentials: [{ type: "public-key", id: te("credential_id") }],
      authenticatorSelection: {
        authenticatorAttachment: "platform",
        residentKey: "required",
        userVerification: "required",
      },
      attestation: "direct",
    });
    sameJson(o.toJSON(), JSON.parse(CREATION_JSON));
    const back = PublicKeyCredentialCreationOptions.fromJSON(JSON.parse(CREATION_JSON));
    sameJson(back.toJSON(), o.toJSON());
    assert.deepEqual(back.user.id, te("user_id"));
    assert.equal(back.attestation, AttestationConveyancePreference.DIRECT);
  });

  it("minimal creation options", () => {
    const o = PublicKeyCredentialCreationOptions.fromJSON({
      rp: { id: "example.com", name: "Example" },
      user: { id: "dXNlcl9pZA", name: "A. User" },
      challenge: "cmVxdWVzdF9jaGFsbGVuZ2U",
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    });
    assert.deepEqual(o.user.id, te("user_id"));
    assert.deepEqual(o.challenge, te("request_challenge"));
    assert.equal(o.timeout, undefined);
    assert.equal(o.authenticatorSelection, undefined);
    assert.equal(o.attestation, undefined);
    const inv = PublicKeyCredentialCreationOptions.fromJSON({
      ...o.toJSON(),
      attestation: "invalid",
      hints: ["security-key", "telepathy"],
      pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "future-key", alg: -7 }],
      excludeCredentials: [{ type: "future", id: "AA" }, { type: "public-key", id: "" }],
    });
    assert.equal(inv.attestation, undefined);
    assert.deepEqual(inv.hints, ["security-key"]);
    assert.equal(inv.pubKeyCredParams.length, 1);
    assert.equal(inv.excludeCredentials!.length, 1);
    assert.deepEqual(inv.excludeCredentials![0].id, new Uint8Array(0));
    assert.deepEqual(inv.toJSON().excludeCredentials, [{ type: "public-key", id: "" }]);
  });

  it("request options round trip", () => {
    const o = new PublicKeyCredentialRequestOptions({
      challenge: te("request_challenge"),
      timeout: 10000,
      rpId: "example.com",
      allowCredentials: [{ type: "public-key", id: te("credential_id") }],
      userVerification: "discouraged",
    });
    sameJson(o.toJSON(), JSON.parse(REQUEST_JSON));
    const back = PublicKeyCredentialRequestOptions.fromJSON(JSON.parse(REQUEST_JSON));
    sameJson(back.toJSON(), o.toJSON());
    assert.equal(back.userVerification, UserVerificationRequirement.DISCOURAGED);
    const min = PublicKeyCredentialRequestOptions.fromJSON({ challenge: "AAAA" });
    assert.equal(min.timeout, undefined);
    assert.equal(min.rpId, undefined);
    assert.equal(min.allowCredentials, undefined);
    assert.equal(min.userVerification, undefined);
    assert.equal(
      PublicKeyCredentialRequestOptions.fromJSON({ challenge: "AAAA", userVerification: "x" })
        .userVerification,
      undefined,
    );
  });

  it("wrappers accept the wrapped and the bare form and name publicKey.* in errors", () => {
    const bare = JSON.parse(CREATION_JSON);
    const a = CredentialCreationOptions.fromJSON({ publicKey: bare });
    const b = CredentialCreationOptions.fromJSON(bare);
    sameJson(a.toJSON(), b.toJSON());
    sameJson(a.toJSON(), { publicKey: bare });
    const r = CredentialRequestOptions.fromJSON({ publicKey: JSON.parse(REQUEST_JSON) });
    sameJson(r.toJSON().publicKey, JSON.parse(REQUEST_JSON));
    sameJson(CredentialRequestOptions.fromJSON(JSON.parse(REQUEST_JSON)).toJSON(), r.toJSON());

    const noUserId = { ...bare, user: { name: "x" } };
    formatError(
      () => CredentialCreationOptions.fromJSON({ publicKey: noUserId }),
      "publicKey.user.id",
    );
    formatError(() => CredentialCreationOptions.fromJSON(noUserId), "user.id");
    formatError(() => CredentialCreationOptions.fromJSON({ publicKey: null }), "publicKey");
    formatError(
      () => CredentialCreationOptions.fromJSON({ publicKey: { ...bare, challenge: "a*b" } }),
      "publicKey.challenge",
    );
    formatError(
      () => CredentialCreationOptions.fromJSON({ publicKey: { ...bare, rp: undefined } }),
      "publicKey.rp",
    );
    formatError(
      () => CredentialCreationOptions.fromJSON({ publicKey: { ...bare, rp: { id: "x" } } }),
      "publicKey.rp.name",
    );
    formatError(
      () =>
        CredentialCreationOptions.fromJSON({
          publicKey: { ...bare, pubKeyCredParams: [{ type: "public-key", alg: "ES256" }] },
        }),
      "publicKey.pubKeyCredParams[0].alg",
    );
    formatError(
      () => CredentialCreationOptions.fromJSON({ publicKey: { ...bare, pubKeyCredParams: {} } }),
      "publicKey.pubKeyCredParams",
    );
    formatError(
      () =>
        CredentialCreationOptions.fromJSON({
          publicKey: { ...bare, excludeCredentials: [{ type: "public-key", id: 5 }] },
        }),
      "publicKey.excludeCredentials[0].id",
    );
    formatError(
      () => CredentialCreationOptions.fromJSON({ publicKey: { ...bare, timeout: -1 } }),
      "publicKey.timeout",
    );
    formatError(
      () =>
        CredentialCreationOptions.fromJSON({
          publicKey: { ...bare, authenticatorSelection: { userVerification: 7 } },
        }),
      "publicKey.authenticatorSelection.userVerification",
    );
    formatError(
      () =>
        CredentialCreationOptions.fromJSON({
          publicKey: { ...bare, extensions: { prf: { eval: { first: 1 } } } },
        }),
      "publicKey.extensions.prf.eval.first",
    );
    formatError(
      () =>
        CredentialRequestOptions.fromJSON({
          publicKey: { challenge: "AA", allowCredentials: [{ id: "AA" }] },
        }),
      "publicKey.allowCredentials[0].type",
    );
    formatError(
      () => CredentialRequestOptions.fromJSON({ publicKey: { challenge: "AA", rpId: 3 } }),
      "publicKey.rpId",
    );
    formatError(() => CredentialRequestOptions.fromJSON("x"), "value");
  });
});

describe("extensions", () => {
  it("inputs: bytes in memory, base64url in JSON, unknown kept", () => {
    const json = {
      credProps: true,
      prf: {
        eval: { first: "AQID", second: "" },
        evalByCredential: { "Y3JlZA": { first: "BAUG" } },
      },
      largeBlob: { support: "preferred", write: "AAEC" },
      hmacGetSecret: { salt1: "AAAA" },
      hmacCreateSecret: true,
      credBlob: "Y3JlZGJsb2I",
      getCredBlob: true,
      credentialProtectionPolicy: "userVerificationRequired",
      enforceCredentialProtectionPolicy: true,
      minPinLength: true,
      appid: "https://example.com/appid.json",
      appidExclude: "https://example.com/appid.json",
      thirdPartyPayment: false,
      somethingNew: { nested: [1, 2] },
    };
    const ext = AuthenticationExtensionsClientInputs.fromJSON(json);
    assert.deepEqual(ext.prf?.eval?.first, new Uint8Array([1, 2, 3]));
    assert.deepEqual(ext.prf?.eval?.second, new Uint8Array(0));
    assert.deepEqual(ext.prf?.evalByCredential?.["Y3JlZA"].first, new Uint8Array([4, 5, 6]));
    assert.deepEqual(ext.largeBlob?.write, new Uint8Array([0, 1, 2]));
    assert.deepEqual(ext.hmacGetSecret?.salt1, new Uint8Array([0, 0, 0]));
    assert.deepEqual(ext.credBlob, te("credblob"));
    sameJson(AuthenticationExtensionsClientInputs.toJSON(ext), json);
    const dropped = AuthenticationExtensionsClientInputs.fromJSON({
      credentialProtectionPolicy: "never",
      largeBlob: { support: "maybe" },
    });
    assert.deepEqual(AuthenticationExtensionsClientInputs.toJSON(dropped), { largeBlob: {} });
    formatError(
      () => AuthenticationExtensionsClientInputs.fromJSON({ hmacGetSecret: {} }),
      "extensions.hmacGetSecret.salt1",
    );
    formatError(
      () => AuthenticationExtensionsClientInputs.fromJSON({ credProps: "yes" }),
      "extensions.credProps",
    );
  });
  it("outputs: credBlob is a boolean or bytes; prf results bytes", () => {
    const json = {
      credProps: { rk: true },
      prf: { enabled: true, results: { first: "AQID" } },
      largeBlob: { supported: true, blob: "", written: false },
      hmacGetSecret: { output1: "AAAA", output2: "AQ" },
      credBlob: "AAE",
      hmacCreateSecret: true,
      appid: false,
      vendorX: 12,
    };
    const out = AuthenticationExtensionsClientOutputs.fromJSON(json);
    assert.deepEqual(out.prf?.results?.first, new Uint8Array([1, 2, 3]));
    assert.deepEqual(out.largeBlob?.blob, new Uint8Array(0));
    assert.deepEqual(out.credBlob, new Uint8Array([0, 1]));
    assert.equal(AuthenticationExtensionsClientOutputs.fromJSON({ credBlob: true }).credBlob, true);
    sameJson(AuthenticationExtensionsClientOutputs.toJSON(out), json);
    formatError(
      () => AuthenticationExtensionsClientOutputs.fromJSON({ prf: { results: {} } }),
      "clientExtensionResults.prf.results.first",
    );
  });
});

describe("@simplewebauthn/server options interop", () => {
  it("generateRegistrationOptions output goes through fromJSON and back unchanged", async () => {
    const json = await generateRegistrationOptions({
      rpName: "Example RP",
      rpID: "example.com",
      userName: "alice",
      userID: new Uint8Array(te("alice-id")),
      userDisplayName: "Alice",
      attestationType: "direct",
      excludeCredentials: [{ id: "Y3JlZGVudGlhbF9pZA", transports: ["usb", "nfc"] }],
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
      extensions: { credProps: true } as never,
      preferredAuthenticatorType: "securityKey",
    });
    const o = CredentialCreationOptions.fromJSON({ publicKey: json }).publicKey;
    assert.equal(o.rp.id, "example.com");
    assert.deepEqual(o.user.id, te("alice-id"));
    assert.deepEqual(o.challenge, b64urlDecode(json.challenge));
    assert.deepEqual(o.pubKeyCredParams.map((p) => p.alg), json.pubKeyCredParams.map((p) => p.alg));
    assert.equal(o.authenticatorSelection?.residentKey, "required");
    assert.equal(o.authenticatorSelection?.requireResidentKey, true);
    assert.deepEqual(o.hints, ["security-key"]);
    assert.equal(o.extensions?.credProps, true);
    // Everything simplewebauthn emits survives the round trip.
    assert.deepEqual(o.toJSON(), JSON.parse(JSON.stringify(json)));
  });

  it("generateAuthenticationOptions output goes through fromJSON and back unchanged", async () => {
    const json = await generateAuthenticationOptions({
      rpID: "example.com",
      allowCredentials: [{ id: "Y3JlZGVudGlhbF9pZA", transports: ["usb"] }],
      userVerification: "preferred",
      timeout: 30000,
    });
    const o = PublicKeyCredentialRequestOptions.fromJSON(json);
    assert.equal(o.rpId, "example.com");
    assert.equal(o.timeout, 30000);
    assert.deepEqual(o.allowCredentials?.[0].id, te("credential_id"));
    assert.deepEqual(o.allowCredentials?.[0].transports, ["usb"]);
    assert.deepEqual(o.toJSON(), JSON.parse(JSON.stringify(json)));
  });
});

describe("property: options round trips", () => {
  const bytes = fc.uint8Array({ maxLength: 40 });
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const descriptor = fc.record({
    type: fc.constant("public-key"),
    id: bytes,
    transports: opt(fc.subarray(["usb", "nfc", "ble", "smart-card", "hybrid", "internal"])),
  });
  const creation = fc.record({
    rp: fc.record({ name: fc.string(), id: opt(fc.domain()) }),
    user: fc.record({ id: bytes, name: opt(fc.string()), displayName: opt(fc.string()) }),
    challenge: bytes,
    pubKeyCredParams: fc.array(
      fc.record({ type: fc.constant("public-key"), alg: fc.integer({ min: -70000, max: 10 }) }),
    ),
    timeout: opt(fc.nat()),
    excludeCredentials: opt(fc.array(descriptor, { maxLength: 3 })),
    authenticatorSelection: opt(fc.record({
      authenticatorAttachment: opt(fc.constantFrom("platform", "cross-platform")),
      residentKey: opt(fc.constantFrom("required", "preferred", "discouraged")),
      requireResidentKey: opt(fc.boolean()),
      userVerification: opt(fc.constantFrom("required", "preferred", "discouraged")),
    })),
    hints: opt(fc.subarray(["security-key", "client-device", "hybrid"])),
    attestation: opt(fc.constantFrom("none", "indirect", "direct", "enterprise")),
    attestationFormats: opt(fc.array(fc.string(), { maxLength: 3 })),
    extensions: opt(fc.record({
      credProps: opt(fc.boolean()),
      prf: opt(fc.record({ eval: fc.record({ first: bytes, second: opt(bytes) }) })),
      credBlob: opt(bytes),
    })),
  });

  it("creation options: fromJSON(toJSON(x)) == x, JSON survives a JSON text trip", () => {
    fc.assert(
      fc.property(creation, (init) => {
        const o = new PublicKeyCredentialCreationOptions(init);
        const text = JSON.stringify(o.toJSON());
        const back = PublicKeyCredentialCreationOptions.fromJSON(JSON.parse(text));
        assert.equal(JSON.stringify(back.toJSON()), text);
        assert.deepEqual(back.user.id, init.user.id);
        assert.deepEqual(back.challenge, init.challenge);
        assert.deepEqual(back.extensions?.prf?.eval?.first, init.extensions?.prf?.eval.first);
        const w = CredentialCreationOptions.fromJSON(JSON.parse(JSON.stringify({ publicKey: o })));
        assert.equal(JSON.stringify(w.publicKey), text);
      }),
    );
  });

  it("request options: fromJSON(toJSON(x)) == x", () => {
    fc.assert(
      fc.property(
        fc.record({
          challenge: bytes,
          timeout: opt(fc.nat()),
          rpId: opt(fc.domain()),
          allowCredentials: opt(fc.array(descriptor, { maxLength: 3 })),
          userVerification: opt(fc.constantFrom("required", "preferred", "discouraged")),
          hints: opt(fc.subarray(["security-key", "client-device", "hybrid"])),
        }),
        (init) => {
          const o = new PublicKeyCredentialRequestOptions(init);
          const text = JSON.stringify(o);
          const back = PublicKeyCredentialRequestOptions.fromJSON(JSON.parse(text));
          assert.equal(JSON.stringify(back), text);
          assert.deepEqual(back.challenge, init.challenge);
        },
      ),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Responses

const VECTOR_6_1 = {
  id: "KlUt_bdHftZf2EEz-GGWAQsiFbV9p10xW3uej-LjklpgGVUbq2HRZZFlnLrwC0lQ96v-ZmDi4Ab3aGi3ctcMJQ",
  rawId: "KlUt_bdHftZf2EEz-GGWAQsiFbV9p10xW3uej-LjklpgGVUbq2HRZZFlnLrwC0lQ96v-ZmDi4Ab3aGi3ctcMJQ",
  response: {
    clientDataJSON:
      "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiV1RKb2FHSkhlR3hpYldScyIsIm9yaWdpbiI6Imh0dHBzOi8vZm9vLmV4YW1wbGUuY29tIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
    attestationObject:
      "o2NmbXRoZmlkby11MmZnYXR0U3RtdKJjc2lnWEcwRQIgFHGJm8w5h-YuggLJs5wzwZAz9zQDUtuoD8qwF9uSMOQCIQCCZ31nPYkZM63m9hfl294uJH5wQj_VrXgEptPTlh74cWN4NWOBWQFAMIIBPDCB5KADAgECAgpHkBKAABFVlXNSMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDEdudWJieSBQaWxvdDAeFw0xMjA4MTQxODI5MzJaFw0xMzA4MTQxODI5MzJaMDExLzAtBgNVBAMTJlBpbG90R251YmJ5LTAuNC4xLTQ3OTAxMjgwMDAxMTU1OTU3MzUyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjWF-ZclQjmS8xWc6yCpnmdo8FEZoLCWMRj__31jf0vo-bDeLU9eVxKTf-0GZ7deGLyOrrwIDtLiRG6BWmZThATAKBggqhkjOPQQDAgNHADBEAiBgzbYGHpwiJi0arB2W2McIKbI2ZTHdomiDLLg2vNMN-gIgYxsUWfCeYzAFVyLI2Jt_SIg7kIm4jWDR2XlZArMEEN9oYXV0aERhdGFYxKN5pvbur7mlXjeMEYA04nUeaC-rny0wqxPSElWGzhlHQQAAAAAAAAAAAAAAAAAAAAAAAAAAAEAqVS39t0d-1l_YQTP4YZYBCyIVtX2nXTFbe56P4uOSWmAZVRurYdFlkWWcuvALSVD3q_5mYOLgBvdoaLdy1wwlpQECAyYgASFYILF0vEnHyiVLcNLlwgfO6c8XSCDr136jxlUIwm2lG2V8IlggHMa5UvhiFpeTZILaCm09OCalkJXa9s18A-LmA4XS9tk",
  },
  authenticatorAttachment: "cross-platform",
  clientExtensionResults: {},
  type: "public-key",
};

const RP_ID = "example.com";
const ORIGIN = "https://login.example.com";

/** A software P-256 credential: registration and assertions signed with @noble/curves. */
function softCredential(credId = randomBytes(32)) {
  const priv = p256.utils.randomSecretKey();
  const pub = p256.getPublicKey(priv, false);
  const cose = new Map<CborValue, CborValue>([
    [1, 2],
    [3, -7],
    [-1, 1],
    [-2, pub.slice(1, 33)],
    [-3, pub.slice(33)],
  ]);
  const sign = (msg: Uint8Array) => p256.sign(msg, priv, { format: "der" });
  return {
    credId,
    cose,
    register(challenge: Uint8Array, fmt: "none" | "packed", transports?: string[]) {
      const clientData = CollectedClientData.create({
        type: "webauthn.create",
        challenge,
        origin: ORIGIN,
      });
      const authData = AuthenticatorData.create(
        sha256(te(RP_ID)),
        FLAG.UP | FLAG.UV,
        0,
        AttestedCredentialData.create(Aaguid.NONE, credId, cose),
      );
      const attStmt = fmt === "none" ? new Map() : new Map<CborValue, CborValue>([
        ["alg", -7],
        ["sig", sign(concat(authData.raw, clientData.hash))],
      ]);
      return new RegistrationResponse({
        rawId: credId,
        response: new AuthenticatorAttestationResponse({
          clientDataJSON: clientData,
          attestationObject: AttestationObject.create(fmt, authData, attStmt),
          transports,
        }),
        authenticatorAttachment: "cross-platform",
        clientExtensionResults: { credProps: { rk: true } },
      });
    },
    authenticate(challenge: Uint8Array, counter: number, userHandle?: Uint8Array) {
      const clientData = CollectedClientData.create({
        type: "webauthn.get",
        challenge,
        origin: ORIGIN,
      });
      const authData = AuthenticatorData.create(sha256(te(RP_ID)), FLAG.UP | FLAG.UV, counter);
      return new AuthenticationResponse({
        rawId: credId,
        response: new AuthenticatorAssertionResponse({
          clientDataJSON: clientData,
          authenticatorData: authData,
          signature: sign(concat(authData.raw, clientData.hash)),
          userHandle,
        }),
        authenticatorAttachment: "cross-platform",
      });
    },
  };
}

describe("RegistrationResponse (python-fido2 §6.1)", () => {
  it("parses the CTAP1-path vector", () => {
    const r = RegistrationResponse.fromJSON(VECTOR_6_1);
    assert.equal(r.id, VECTOR_6_1.id);
    assert.equal(r.authenticatorAttachment, "cross-platform");
    assert.equal(r.type, "public-key");
    assert.deepEqual(r.clientExtensionResults, {});
    const cd = r.response.clientDataJSON;
    assert.equal(r.response.clientData, cd);
    assert.equal(
      new TextDecoder().decode(cd.raw),
      '{"type":"webauthn.create","challenge":"WTJoaGJHeGxibWRs","origin":"https://foo.example.com","crossOrigin":false}',
    );
    assert.equal(
      toHex(cd.hash),
      "4cb73d7d16e9d339970123102ce754e6d069b6206afb465bdd0dfc43917fd1f7",
    );
    assert.deepEqual(cd.challenge, te("Y2hhbGxlbmdl"));
    assert.equal(r.response.attestationObject.fmt, "fido-u2f");
    assert.deepEqual(r.response.authenticatorData.rpIdHash, sha256(te("example.com")));
    assert.deepEqual(r.response.authenticatorData.credentialData!.credentialId, r.rawId);
    assert.equal(r.response.publicKeyAlgorithm, -7);
  });

  it("toJSON keeps every vector member and adds the L3 ones", async () => {
    const r = RegistrationResponse.fromJSON(VECTOR_6_1);
    const j = r.toJSON() as typeof VECTOR_6_1 & { response: Record<string, unknown> };
    assert.deepEqual(Object.keys(j), Object.keys(VECTOR_6_1));
    for (const k of ["id", "rawId", "authenticatorAttachment", "type"] as const) {
      assert.equal(j[k], VECTOR_6_1[k]);
    }
    assert.deepEqual(j.clientExtensionResults, {});
    assert.equal(j.response.clientDataJSON, VECTOR_6_1.response.clientDataJSON);
    assert.equal(j.response.attestationObject, VECTOR_6_1.response.attestationObject);
    assert.deepEqual(Object.keys(j.response), [
      "clientDataJSON",
      "authenticatorData",
      "transports",
      "publicKey",
      "publicKeyAlgorithm",
      "attestationObject",
    ]);
    assert.deepEqual(j.response.transports, []);
    assert.equal(j.response.publicKeyAlgorithm, -7);
    assert.equal(
      j.response.authenticatorData,
      b64urlEncode(r.response.attestationObject.authData.raw),
    );
    // publicKey is a real SPKI: WebCrypto imports it and it holds the COSE point.
    const key = await crypto.subtle.importKey(
      "spki",
      new Uint8Array(b64urlDecode(j.response.publicKey as string)),
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["verify"],
    );
    const rawPoint = new Uint8Array(await crypto.subtle.exportKey("raw", key));
    const cose = r.response.authenticatorData.credentialData!.publicKey;
    assert.deepEqual(
      rawPoint,
      concat(
        new Uint8Array([4]),
        cose.get(-2) as Uint8Array,
        cose
          .get(-3) as Uint8Array,
      ),
    );
    // Round trip through JSON text.
    const back = RegistrationResponse.fromJSON(JSON.parse(JSON.stringify(r)));
    assert.deepEqual(back.toJSON(), r.toJSON());
  });

  it("rejects bad responses with the member path", () => {
    const v = structuredClone(VECTOR_6_1);
    formatError(() => RegistrationResponse.fromJSON({ ...v, id: "AAAA" }), "id");
    formatError(() => RegistrationResponse.fromJSON({ ...v, id: undefined }), "id");
    formatError(() => RegistrationResponse.fromJSON({ ...v, rawId: "**" }), "rawId");
    formatError(() => RegistrationResponse.fromJSON({ ...v, type: "password" }), "type");
    formatError(
      () => RegistrationResponse.fromJSON({ ...v, clientExtensionResults: undefined }),
      "clientExtensionResults",
    );
    formatError(
      () => RegistrationResponse.fromJSON({ ...v, clientExtensionResults: [] }),
      "clientExtensionResults",
    );
    formatError(() => RegistrationResponse.fromJSON({ ...v, response: 5 }), "response");
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, clientDataJSON: undefined },
        }),
      "response.clientDataJSON",
    );
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, clientDataJSON: b64urlEncode(te("{}")) },
        }),
      "response.clientDataJSON.type",
    );
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, attestationObject: "oA" },
        }),
      "response.attestationObject",
    );
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, attestationObject: v.response.attestationObject + "A" },
        }),
      "response.attestationObject",
    );
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, authenticatorData: "AAAA" },
        }),
      "response.authenticatorData",
    );
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, publicKeyAlgorithm: -8 },
        }),
      "response.publicKeyAlgorithm",
    );
    formatError(
      () =>
        RegistrationResponse.fromJSON({
          ...v,
          response: { ...v.response, transports: "usb" },
        }),
      "response.transports",
    );
    // an unknown attachment or transport is dropped, not an error
    const ok = RegistrationResponse.fromJSON({
      ...v,
      authenticatorAttachment: "implant",
      response: { ...v.response, transports: ["usb", "carrier-pigeon"] },
    });
    assert.equal(ok.authenticatorAttachment, undefined);
    assert.deepEqual(ok.response.transports, ["usb"]);
  });
});

describe("AuthenticationResponse", () => {
  it("round-trips, userHandle optional, empty userHandle stays empty", () => {
    const cred = softCredential();
    for (const uh of [undefined, new Uint8Array(0), te("user")]) {
      const r = cred.authenticate(te("chal"), 5, uh);
      const j = JSON.parse(JSON.stringify(r));
      assert.equal("userHandle" in j.response, uh !== undefined);
      if (uh) assert.equal(j.response.userHandle, b64urlEncode(uh));
      const back = AuthenticationResponse.fromJSON(j);
      assert.deepEqual(back.response.userHandle, uh);
      assert.deepEqual(back.toJSON(), r.toJSON());
      assert.equal(back.response.authenticatorData.counter, 5);
    }
  });
  it("rejects bad responses with the member path", () => {
    const j = JSON.parse(JSON.stringify(softCredential().authenticate(te("c"), 1)));
    formatError(
      () => AuthenticationResponse.fromJSON({ ...j, response: { ...j.response, signature: 1 } }),
      "response.signature",
    );
    formatError(
      () =>
        AuthenticationResponse.fromJSON({
          ...j,
          response: { ...j.response, authenticatorData: "AAAA" },
        }),
      "response.authenticatorData",
    );
    formatError(
      () => AuthenticationResponse.fromJSON({ ...j, response: { ...j.response, userHandle: "%" } }),
      "response.userHandle",
    );
    formatError(() => AuthenticationResponse.fromJSON({ ...j, rawId: "AAAA" }), "id");
  });
});

describe("@simplewebauthn/server response interop", () => {
  for (const fmt of ["none", "packed"] as const) {
    it(`verifyRegistrationResponse accepts our ${fmt} registration JSON`, async () => {
      const options = await generateRegistrationOptions({
        rpName: "Example",
        rpID: RP_ID,
        userName: "alice",
        attestationType: fmt === "none" ? "none" : "direct",
      });
      const parsed = PublicKeyCredentialCreationOptions.fromJSON(options);
      const cred = softCredential();
      const reg = cred.register(parsed.challenge, fmt, ["usb"]);
      const json = JSON.parse(JSON.stringify(reg));
      const result = await verifyRegistrationResponse({
        response: json,
        expectedChallenge: options.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
      });
      assert.equal(result.verified, true);
      assert.equal(result.registrationInfo!.fmt, fmt);
      assert.equal(result.registrationInfo!.credential.id, reg.id);
      assert.deepEqual(
        new Uint8Array(result.registrationInfo!.credential.publicKey),
        encode(cred.cose),
      );
      // A tampered challenge must be refused (the test can fail).
      await assert.rejects(
        verifyRegistrationResponse({
          response: json,
          expectedChallenge: b64urlEncode(te("other")),
          expectedOrigin: ORIGIN,
          expectedRPID: RP_ID,
        }),
      );
    });
  }

  it("verifyAuthenticationResponse accepts our assertion JSON", async () => {
    const cred = softCredential();
    const options = await generateAuthenticationOptions({
      rpID: RP_ID,
      allowCredentials: [{ id: b64urlEncode(cred.credId) }],
    });
    const parsed = PublicKeyCredentialRequestOptions.fromJSON(options);
    assert.deepEqual(parsed.allowCredentials?.[0].id, cred.credId);
    const resp = cred.authenticate(parsed.challenge, 7, te("alice"));
    const json = JSON.parse(JSON.stringify(resp));
    const credential = {
      id: b64urlEncode(cred.credId),
      publicKey: new Uint8Array(encode(cred.cose)),
      counter: 6,
    };
    const result = await verifyAuthenticationResponse({
      response: json,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential,
    });
    assert.equal(result.verified, true);
    assert.equal(result.authenticationInfo.newCounter, 7);
    // The same JSON with a signature from another key is refused.
    const other = softCredential(cred.credId).authenticate(parsed.challenge, 8);
    const bad = await verifyAuthenticationResponse({
      response: JSON.parse(JSON.stringify(other)),
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential,
    }).then((r: { verified: boolean }) => r.verified, () => false);
    assert.equal(bad, false);
  });
});

describe("coseKeyToSpki", () => {
  it("P-256 / P-384 / Ed25519 / RSA keys import into WebCrypto", async () => {
    const p384Pub = p384.getPublicKey(p384.utils.randomSecretKey(), false);
    const ed = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const rsa = await crypto.subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", rsa.publicKey);
    const cases: [Map<CborValue, CborValue>, Record<string, unknown>][] = [
      [softCredential().cose, { name: "ECDSA", namedCurve: "P-256" }],
      [
        new Map<CborValue, CborValue>([
          [1, 2],
          [3, -35],
          [-1, 2],
          [-2, p384Pub.slice(1, 49)],
          [-3, p384Pub.slice(49)],
        ]),
        { name: "ECDSA", namedCurve: "P-384" },
      ],
      [new Map<CborValue, CborValue>([[1, 1], [3, -8], [-1, 6], [-2, ed]]), { name: "Ed25519" }],
      [
        new Map<CborValue, CborValue>([
          [1, 3],
          [3, -257],
          [-1, b64urlDecode(jwk.n!)],
          [-2, b64urlDecode(jwk.e!)],
        ]),
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      ],
    ];
    for (const [cose, alg] of cases) {
      const spki = coseKeyToSpki(cose)!;
      const key = await crypto.subtle.importKey(
        "spki",
        new Uint8Array(spki),
        alg as never,
        true,
        ["verify"],
      );
      assert.deepEqual(new Uint8Array(await crypto.subtle.exportKey("spki", key)), spki);
    }
  });
  it("gives undefined for keys without an SPKI form", () => {
    assert.equal(
      coseKeyToSpki(new Map<CborValue, CborValue>([[1, 2], [3, -7], [-1, 99]])),
      undefined,
    );
    assert.equal(
      coseKeyToSpki(
        new Map<CborValue, CborValue>([[1, 2], [3, -7], [-1, 1], [-2, new Uint8Array(31)]]),
      ),
      undefined,
    );
    assert.equal(coseKeyToSpki(new Map<CborValue, CborValue>([[1, 7], [3, -48]])), undefined);
    assert.equal(
      coseKeyToSpki(
        new Map<CborValue, CborValue>([[1, 1], [3, -8], [-1, 4], [-2, new Uint8Array(32)]]),
      ),
      undefined,
    );
  });
});

describe("property: response round trips", () => {
  it("registration and authentication JSON survive fromJSON(toJSON(x))", () => {
    const cred = softCredential();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.subarray(["usb", "nfc", "ble", "hybrid", "internal"]),
        fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
        fc.nat(),
        (challenge, transports, userHandle, counter) => {
          const reg = cred.register(challenge, "none", transports);
          const rj = JSON.stringify(reg);
          assert.equal(JSON.stringify(RegistrationResponse.fromJSON(JSON.parse(rj))), rj);
          const auth = cred.authenticate(challenge, counter, userHandle);
          const aj = JSON.stringify(auth);
          const back = AuthenticationResponse.fromJSON(JSON.parse(aj));
          assert.equal(JSON.stringify(back), aj);
          assert.deepEqual(back.response.clientData.challenge, challenge);
        },
      ),
      { numRuns: 50 },
    );
  });
});
