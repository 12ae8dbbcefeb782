import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { generateRegistrationOptions, verifyRegistrationResponse } from "@simplewebauthn/server";
import { p256 } from "@noble/curves/nist.js";
import type { CborValue } from "../src/cbor.ts";
import { DefaultClientDataCollector } from "../src/client/collector.ts";
import { ClientError, PinRequiredError } from "../src/client/errors.ts";
import { verifyRpId } from "../src/rpid.ts";
import {
  Aaguid,
  AttestationObject,
  AttestedCredentialData,
  AuthenticatorAttestationResponse,
  AuthenticatorData,
  CredentialCreationOptions,
  FLAG,
  PublicKeyCredentialCreationOptions,
  PublicKeyCredentialRequestOptions,
  RegistrationResponse,
} from "../src/webauthn.ts";
import { concat, sha256, toHex, utf8Encode } from "../src/utils.ts";

const te = utf8Encode;
// python-fido2 tests/test_client.py constants (research vectors §6).
const APP_ID = "https://foo.example.com";
const RP = { id: "example.com", name: "Example RP" };
const USER = { id: te("user_id"), name: "A. User" };
const CHALLENGE = te("Y2hhbGxlbmdl");

const creation = (rp: { id?: string; name: string } = RP) =>
  new PublicKeyCredentialCreationOptions({
    rp,
    user: USER,
    challenge: CHALLENGE,
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  });
const request = (rpId?: string) =>
  new PublicKeyCredentialRequestOptions({ challenge: CHALLENGE, rpId });

async function badRequest(p: Promise<unknown>) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected ClientError, got ${e}`);
    assert.equal(e.code, ClientError.ERR.BAD_REQUEST);
    assert.equal(e.codeName, "BAD_REQUEST");
    return true;
  });
}

describe("DefaultClientDataCollector", () => {
  it("creation: webauthn.create client data, byte-identical to python-fido2 (§6.1)", async () => {
    const { clientData, rpId } = await new DefaultClientDataCollector(APP_ID)
      .collectClientData(creation());
    assert.equal(rpId, "example.com");
    assert.equal(clientData.type, "webauthn.create");
    assert.equal(clientData.origin, APP_ID);
    assert.deepEqual(clientData.challenge, CHALLENGE);
    assert.equal(clientData.crossOrigin, false);
    assert.equal(
      new TextDecoder().decode(clientData.raw),
      '{"type":"webauthn.create","challenge":"WTJoaGJHeGxibWRs","origin":"https://foo.example.com","crossOrigin":false}',
    );
    assert.equal(
      toHex(clientData.hash),
      "4cb73d7d16e9d339970123102ce754e6d069b6206afb465bdd0dfc43917fd1f7",
    );
  });

  it("request: webauthn.get, rpId from the options", async () => {
    const { clientData, rpId } = await new DefaultClientDataCollector(APP_ID)
      .collectClientData(request("example.com"));
    assert.equal(rpId, "example.com");
    assert.equal(clientData.type, "webauthn.get");
    assert.deepEqual(clientData.challenge, CHALLENGE);
  });

  it("wrong RP ID is BAD_REQUEST (test_make_credential_wrong_app_id)", async () => {
    const c = new DefaultClientDataCollector(APP_ID);
    await badRequest(c.collectClientData(creation({ id: "bar.example.com", name: "x" })));
    await badRequest(c.collectClientData(request("bar.example.com")));
    await badRequest(c.collectClientData(request("com")));
  });

  it("remembers the default check per origin and RP ID: each pair keeps its own answer", async () => {
    const pairs: [string, string][] = [
      ["https://login.example.com", "example.com"],
      ["https://login.evil.example", "example.com"],
      ["https://example.com", "login.example.com"],
      ["https://x y", "example.com"],
      ["https://x", "y example.com"],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [origin, rpId] of pairs) {
        const c = new DefaultClientDataCollector(origin);
        const outcome = await c.verifyRpId(rpId).then(() => true, () => false);
        assert.equal(outcome, verifyRpId(rpId, origin), `${origin} ${rpId} (round ${round})`);
      }
    }
  });

  it("derives the RP ID from the origin's host without port", async () => {
    const c = new DefaultClientDataCollector("https://foo.example.com:8443");
    assert.equal((await c.collectClientData(creation({ name: "x" }))).rpId, "foo.example.com");
    assert.equal((await c.collectClientData(request())).rpId, "foo.example.com");
    const l = new DefaultClientDataCollector("http://localhost:3000");
    assert.equal((await l.collectClientData(request())).rpId, "localhost");
    const v6 = new DefaultClientDataCollector("https://[::1]:8443");
    assert.equal((await v6.collectClientData(request())).rpId, "::1");
  });

  it("insecure or malformed origins are BAD_REQUEST, even with a derived RP ID", async () => {
    await badRequest(new DefaultClientDataCollector("http://example.com").collectClientData(
      request(),
    ));
    await badRequest(new DefaultClientDataCollector("not an origin").collectClientData(request()));
    await badRequest(
      new DefaultClientDataCollector("http://example.com").collectClientData(
        request("example.com"),
      ),
    );
  });

  it("uses a custom (async) verifier with (rpId, origin), and wraps its failures", async () => {
    const calls: [string, string][] = [];
    const c = new DefaultClientDataCollector("https://shop.example.org", async (id, origin) => {
      calls.push([id, origin]);
      await Promise.resolve();
      return id === "example.com"; // a related origin
    });
    const { rpId } = await c.collectClientData(request("example.com"));
    assert.equal(rpId, "example.com");
    assert.deepEqual(calls, [["example.com", "https://shop.example.org"]]);
    await badRequest(c.collectClientData(request("example.net")));
    const boom = new Error("network down");
    const t = new DefaultClientDataCollector(APP_ID, () => {
      throw boom;
    });
    await assert.rejects(t.collectClientData(request("example.com")), (e: unknown) => {
      assert.ok(e instanceof ClientError);
      assert.equal(e.code, ClientError.ERR.BAD_REQUEST);
      assert.equal(e.cause, boom);
      return true;
    });
    // a truthy non-boolean is not a yes
    const sloppy = new DefaultClientDataCollector(APP_ID, () => "yes" as unknown as boolean);
    await badRequest(sloppy.collectClientData(request("example.com")));
  });

  it("rejects option objects of the wrong kind", async () => {
    const c = new DefaultClientDataCollector(APP_ID);
    await badRequest(c.collectClientData({ challenge: CHALLENGE } as never));
  });

  it("property: client data carries the challenge and the collector's origin", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 64 }),
        fc.boolean(),
        fc.stringMatching(/^[a-z]{1,10}$/),
        async (challenge, create, sub) => {
          const origin = `https://${sub}.example.com`;
          const opts = create
            ? new PublicKeyCredentialCreationOptions({
              rp: RP,
              user: USER,
              challenge,
              pubKeyCredParams: [],
            })
            : new PublicKeyCredentialRequestOptions({ challenge, rpId: "example.com" });
          const { clientData } = await new DefaultClientDataCollector(origin)
            .collectClientData(opts);
          assert.deepEqual(clientData.challenge, challenge);
          assert.equal(clientData.origin, origin);
          assert.equal(clientData.type, create ? "webauthn.create" : "webauthn.get");
          assert.deepEqual(clientData.hash, sha256(clientData.raw));
        },
      ),
    );
  });

  it("end to end: simplewebauthn options -> collector -> signed registration -> verified", async () => {
    const origin = "https://login.example.com";
    const json = await generateRegistrationOptions({
      rpName: "Example",
      rpID: "example.com",
      userName: "alice",
    });
    const options = CredentialCreationOptions.fromJSON({ publicKey: json }).publicKey;
    const { clientData, rpId } = await new DefaultClientDataCollector(origin)
      .collectClientData(options);
    const priv = p256.utils.randomSecretKey();
    const pub = p256.getPublicKey(priv, false);
    const cose = new Map<CborValue, CborValue>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, pub.slice(1, 33)],
      [-3, pub.slice(33)],
    ]);
    const credId = te("credential-1");
    const authData = AuthenticatorData.create(
      sha256(te(rpId)),
      FLAG.UP | FLAG.UV,
      0,
      AttestedCredentialData.create(Aaguid.NONE, credId, cose),
    );
    const attStmt = new Map<CborValue, CborValue>([
      ["alg", -7],
      ["sig", p256.sign(concat(authData.raw, clientData.hash), priv, { format: "der" })],
    ]);
    const reg = new RegistrationResponse({
      rawId: credId,
      response: new AuthenticatorAttestationResponse({
        clientDataJSON: clientData,
        attestationObject: AttestationObject.create("packed", authData, attStmt),
      }),
    });
    const result = await verifyRegistrationResponse({
      response: JSON.parse(JSON.stringify(reg)),
      expectedChallenge: json.challenge,
      expectedOrigin: origin,
      expectedRPID: "example.com",
    });
    assert.equal(result.verified, true);
  });
});

describe("ClientError", () => {
  it("codes, names, messages and causes", () => {
    assert.deepEqual(ClientError.ERR, {
      OTHER_ERROR: 1,
      BAD_REQUEST: 2,
      CONFIGURATION_UNSUPPORTED: 3,
      DEVICE_INELIGIBLE: 4,
      TIMEOUT: 5,
    });
    const cause = new Error("x");
    const e = new ClientError(ClientError.ERR.TIMEOUT, "too slow", { cause });
    assert.equal(e.codeName, "TIMEOUT");
    assert.equal(e.message, "TIMEOUT: too slow");
    assert.equal(e.cause, cause);
    assert.equal(e.name, "ClientError");
    assert.ok(e instanceof Error);
    assert.equal(new ClientError(4).message, "DEVICE_INELIGIBLE");
    assert.equal(new ClientError(99).codeName, "UNKNOWN_99");
  });
  it("PinRequiredError is a BAD_REQUEST caused by 'PIN required'", () => {
    const e = new PinRequiredError();
    assert.ok(e instanceof ClientError);
    assert.equal(e.code, ClientError.ERR.BAD_REQUEST);
    assert.equal(e.name, "PinRequiredError");
    assert.equal((e.cause as Error).message, "PIN required");
    assert.match(e.message, /PIN required/);
  });
  it("verifyRpId is the default verifier", async () => {
    // Same decision as verifyRpId for a spread of cases.
    for (const [id, origin] of [["example.com", APP_ID], ["co.uk", "https://a.co.uk"]]) {
      const ok = await new DefaultClientDataCollector(origin).collectClientData(request(id)).then(
        () => true,
        () => false,
      );
      assert.equal(ok, verifyRpId(id, origin));
    }
  });
});
