// Fuzz targets for the CTAP2 command layer (src/ctap2/): Info from arbitrary and edited getInfo
// maps, and Ctap2 / CredentialManagement / LargeBlobs over a ScriptedDevice whose replies
// (status byte ‖ CBOR) are arbitrary, byte-mutated or well-formed-but-lying. Invariant: a
// result or a FormatError/CtapError, never another error, a hang or an unbounded loop
// (enumeration counts are capped by MAX_ENUMERATION).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CborMap, type CborValue, decode, encode } from "../../src/cbor.ts";
import { CtapError } from "../../src/ctap.ts";
import {
  CredentialManagement,
  Ctap2,
  encryptBlobEntry,
  type GetAssertionArgs,
  Info,
  LargeBlobs,
  type MakeCredentialArgs,
  type PinAuth,
  serializeBlobArray,
} from "../../src/ctap2/mod.ts";
import { MAX_ENUMERATION } from "../../src/ctap2/constants.ts";
import { FormatError } from "../../src/errors.ts";
import { concat, sha256 } from "../../src/utils.ts";
import {
  GA_RESP,
  INFO_CTAP20,
  INFO_CTAP21,
  MC_RESP_PACKED,
  MC_RESP_SMALL,
} from "../fixtures/ctap_messages.ts";
import { ScriptedDevice } from "../helpers/scripted_device.ts";
import { bytes, edited, fuzz, fuzzAsync, mutated, only, onlyAsync } from "./_fuzz.ts";

const TYPED = [FormatError, CtapError];
/** Half of FUZZ_RUNS per target keeps this file near 1.5 s in CI. */
const HALF = { scale: 0.5 };
const ok = (body: Uint8Array) => concat(new Uint8Array([0]), body);
const keys = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** One reply: a bare status, or status 0 with a mutated / edited / arbitrary body. */
function reply(corpus: readonly Uint8Array[], memberKeys: readonly number[]) {
  return fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }).map((s) => new Uint8Array([s])) },
    { weight: 4, arbitrary: mutated(corpus).map(ok) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(...corpus).chain((c) => edited(c, memberKeys)).map(ok),
    },
    { weight: 1, arbitrary: bytes(120) },
    { weight: 1, arbitrary: fc.constantFrom(...corpus).map(ok) },
  );
}

/** A Ctap2 (maxMsgSize 1200 plus `options`) whose device replies `replies`, then NOT_ALLOWED. */
function ctapOver(replies: Uint8Array[], extra: [number, CborValue][] = []) {
  const dev = new ScriptedDevice([...replies, "30"]);
  const info = new Info(new Map<CborValue, CborValue>([[1, ["FIDO_2_1"]], [5, 1200], ...extra]));
  return { dev, ctap: new Ctap2(dev, info) };
}

const INFO_KEYS = keys(26);

function checkInfo(info: Info): void {
  assert.ok(info.versions.every((v) => typeof v === "string"));
  assert.ok(Number.isSafeInteger(info.maxMsgSize) && info.maxMsgSize >= 0, "maxMsgSize");
  assert.ok(info.pinUvProtocols.every((p) => Number.isSafeInteger(p)));
  assert.ok(Object.values(info.options).every((v) => typeof v === "boolean"));
  assert.equal(info.aaguid.toString().length, 36);
}

const MC_ARGS: MakeCredentialArgs = {
  clientDataHash: new Uint8Array(32),
  rp: { id: "example.com" },
  user: { id: new Uint8Array([1]) },
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
};
const GA_ARGS: GetAssertionArgs = { rpId: "example.com", clientDataHash: new Uint8Array(32) };

/** GA_RESP announcing `n` credentials. */
function gaFirst(n: number): Uint8Array {
  const m = decode(GA_RESP) as CborMap;
  m.set(5, n);
  return encode(m);
}
const GA_CORPUS = [GA_RESP, gaFirst(2), gaFirst(3)];
const GA_REPLIES = fc.array(reply(GA_CORPUS, keys(9)), { minLength: 1, maxLength: 4 });

const CM_OPTS: [number, CborValue][] = [[4, new Map([["credMgmt", true]])]];
const RP_CORPUS = [
  encode(
    new Map<CborValue, CborValue>([
      [3, new Map([["id", "a.com"]])],
      [4, sha256(new Uint8Array(1))],
      [5, 2],
    ]),
  ),
  encode(
    new Map<CborValue, CborValue>([[3, new Map([["id", "b.com"], ["name", "B"]])], [
      4,
      new Uint8Array(32),
    ]]),
  ),
];
const credMap = (id: number, total?: number) =>
  encode(
    new Map<CborValue, CborValue>([
      [6, new Map<CborValue, CborValue>([["id", new Uint8Array([id])], ["name", "u"]])],
      [
        7,
        new Map<CborValue, CborValue>([["type", "public-key"], ["id", new Uint8Array([id, id])]]),
      ],
      [8, new Map<CborValue, CborValue>([[1, 2], [3, -7]])],
      ...(total === undefined ? [] : [[9, total] as [number, number]]),
      [10, 2],
      [11, new Uint8Array(32)],
    ]),
  );
const CRED_CORPUS = [credMap(1, 2), credMap(2)];
const fakePin: PinAuth = { version: 2, authenticate: () => new Uint8Array(32) };

// Large blobs with maxMsgSize 80: 16-byte fragments, so one array takes several replies.
const BLOB_KEY = new Uint8Array(32).fill(7);
const BLOB_ARRAY = serializeBlobArray([
  await encryptBlobEntry(BLOB_KEY, new Uint8Array([0x03, 0x00]), 0, new Uint8Array(12)),
  new Map([[1, new Uint8Array(20)]]),
]);
const BLOB_OPTS: [number, CborValue][] = [[4, new Map([["largeBlobs", true]])], [11, 1024]];
function fragments(serialized: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i <= serialized.length; i += 16) {
    out.push(encode(new Map([[1, serialized.subarray(i, i + 16)]])));
  }
  return out;
}
const BLOB_FRAGMENTS = [...fragments(BLOB_ARRAY), ...fragments(serializeBlobArray([]))];
/** The valid fragment sequence of BLOB_ARRAY with one reply replaced by a fuzzed one. */
const blobReplies = fc.tuple(
  fc.nat(),
  reply(BLOB_FRAGMENTS, [1, 2, 3]),
  fc.boolean(),
).map(([at, r, insert]) => {
  const replies = fragments(BLOB_ARRAY).map(ok);
  replies.splice(at % (replies.length + 1), insert ? 0 : 1, r);
  return replies;
});

describe("fuzz: CTAP2 responses", () => {
  it("Info from arbitrary, mutated and edited getInfo bodies: Info or FormatError", () => {
    fuzz(
      "ctap2 Info",
      fc.oneof(
        mutated([INFO_CTAP20, INFO_CTAP21]),
        fc.constantFrom(INFO_CTAP20, INFO_CTAP21).chain((c) => edited(c, INFO_KEYS)),
        bytes(200),
      ),
      (body) => {
        const m = only([FormatError], () => decode(body));
        if (!m.ok || !(m.value instanceof Map)) return;
        const r = only([FormatError], () => new Info(m.value as CborMap));
        if (r.ok) checkInfo(r.value);
      },
      HALF,
    );
  });

  it("Ctap2.create (getInfo) over arbitrary replies", async () => {
    await fuzzAsync(
      "ctap2 getInfo",
      reply([INFO_CTAP20, INFO_CTAP21], INFO_KEYS),
      async (body) => {
        const r = await onlyAsync(TYPED, () => Ctap2.create(new ScriptedDevice([body])));
        if (r.ok) checkInfo(r.value.info);
      },
      HALF,
    );
  });

  it("makeCredential over arbitrary replies: an attested credential or a typed error", async () => {
    await fuzzAsync(
      "ctap2 makeCredential",
      reply([MC_RESP_SMALL, MC_RESP_PACKED], keys(7)),
      async (body) => {
        const { ctap } = ctapOver([body]);
        const r = await onlyAsync(TYPED, () => ctap.makeCredential(MC_ARGS));
        if (!r.ok) return;
        assert.ok(r.value.authData.credentialData, "no attested credential data");
        assert.equal(typeof r.value.fmt, "string");
        only([FormatError], () => r.value.toAttestationObject());
      },
      HALF,
    );
  });

  it("getAssertion / getAssertions over lying replies: bounded, typed", async () => {
    await fuzzAsync(
      "ctap2 getAssertions",
      fc.tuple(fc.boolean(), GA_REPLIES),
      async ([all, replies]) => {
        const { dev, ctap } = ctapOver(replies);
        if (!all) {
          const r = await onlyAsync(TYPED, () => ctap.getAssertion(GA_ARGS));
          if (r.ok) assert.ok(r.value.signature instanceof Uint8Array);
          return;
        }
        const r = await onlyAsync(TYPED, () => ctap.getAssertions(GA_ARGS));
        assert.ok(dev.calls.length <= replies.length + 1, "called past the script");
        if (!r.ok) return;
        const n = r.value[0].numberOfCredentials ?? 1;
        assert.ok(n <= MAX_ENUMERATION);
        assert.equal(r.value.length, n);
      },
      HALF,
    );
  });

  it("credential management enumerations over lying replies: bounded, typed", async () => {
    await fuzzAsync(
      "ctap2 credMgmt enumerate",
      fc.oneof(
        fc.tuple(
          fc.constant("rps" as const),
          fc.array(reply(RP_CORPUS, keys(6)), { minLength: 1, maxLength: 4 }),
        ),
        fc.tuple(
          fc.constant("creds" as const),
          fc.array(reply(CRED_CORPUS, keys(13)), { minLength: 1, maxLength: 4 }),
        ),
      ),
      async ([what, replies]) => {
        const { ctap } = ctapOver(replies, CM_OPTS);
        const cm = new CredentialManagement(ctap, fakePin, new Uint8Array(32));
        const r = await onlyAsync(
          TYPED,
          (): Promise<unknown[]> =>
            what === "rps" ? cm.enumerateRps() : cm.enumerateCreds(new Uint8Array(32)),
        );
        if (r.ok) assert.ok(r.value.length <= Math.min(replies.length, MAX_ENUMERATION));
      },
      HALF,
    );
  });

  it("large-blob reads over fragment streams with one fuzzed reply: bounded, typed", async () => {
    await fuzzAsync(
      "ctap2 largeBlobs read",
      fc.tuple(fc.boolean(), blobReplies),
      async ([getBlob, replies]) => {
        const { ctap } = ctapOver(replies, [...BLOB_OPTS, [5, 80]]);
        const lb = new LargeBlobs(ctap);
        if (getBlob) {
          const r = await onlyAsync(TYPED, () => lb.getBlob(BLOB_KEY));
          if (r.ok && r.value !== undefined) assert.equal(r.value.length, 0);
          return;
        }
        const r = await onlyAsync(TYPED, () => lb.readBlobArray());
        if (r.ok) assert.ok(Array.isArray(r.value));
      },
      HALF,
    );
  });
});
