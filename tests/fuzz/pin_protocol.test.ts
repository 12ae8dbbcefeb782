// Fuzz targets for src/ctap2/pin_protocol.ts: decrypt/encrypt/authenticate/validateToken with
// arbitrary key and data lengths (a result of the right length exactly when the lengths are
// legal, otherwise FormatError), encapsulate on arbitrary peer keys (FormatError) and the
// authenticator-side decapsulate (CtapError INVALID_PARAMETER).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { CborMap, CborValue } from "../../src/cbor.ts";
import { CTAP_STATUS, CtapError } from "../../src/ctap.ts";
import { decapsulate, generateKeyAgreementKey } from "../../src/ctap2/key_agreement.ts";
import { PinProtocolV1, PinProtocolV2, verify } from "../../src/ctap2/pin_protocol.ts";
import { FormatError } from "../../src/errors.ts";
import { bytesEqual } from "../../src/utils.ts";
import { fuzz, fuzzAsync, only, onlyAsync } from "./_fuzz.ts";

const v1 = new PinProtocolV1();
const v2 = new PinProtocolV2();
const protocol = fc.constantFrom(v1, v2);

/** Lengths around the legal ones (16-byte blocks, 32/64-byte keys) and anything up to 200. */
const length = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 80, 96),
  fc.integer({ min: 0, max: 200 }),
);
const sized = length.chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

function legalKey(p: PinProtocolV1, key: Uint8Array): boolean {
  return p.version === 1 ? key.length === 32 : key.length === 64;
}

const peerKey = generateKeyAgreementKey().publicKey;

/** COSE-ish maps around a key-agreement key: right labels, wrong types/lengths/points. */
const peerMap: fc.Arbitrary<CborMap> = fc.tuple(
  fc.subarray([1, 3, -1, -2, -3]),
  fc.array(
    fc.tuple(
      fc.constantFrom(1, 3, -1, -2, -3),
      fc.oneof(
        fc.constantFrom<CborValue>(1, 2, -25, 6),
        sized,
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 4 }),
      ),
    ),
    { maxLength: 5 },
  ),
).map(([keep, edits]) => {
  const m = new Map<CborValue, CborValue>([...peerKey].filter(([k]) => keep.includes(k as number)));
  for (const [k, v] of edits) m.set(k, v);
  return m;
});

describe("fuzz: PIN/UV auth protocols", () => {
  it("decrypt of arbitrary lengths: plaintext of the right length or FormatError", async () => {
    await fuzzAsync(
      "pin decrypt lengths",
      fc.tuple(protocol, sized, sized),
      async ([p, key, ct]) => {
        const r = await onlyAsync([FormatError], () => p.decrypt(key, ct));
        const legalCt = p.version === 1
          ? ct.length % 16 === 0
          : ct.length >= 16 && ct.length % 16 === 0;
        assert.equal(r.ok, legalKey(p, key) && legalCt, `v${p.version} ${key.length}/${ct.length}`);
        if (r.ok) assert.equal(r.value.length, ct.length - (p.version === 2 ? 16 : 0));
      },
    );
  });

  it("encrypt then decrypt returns the plaintext; other lengths are FormatError", async () => {
    await fuzzAsync(
      "pin encrypt/decrypt round trip",
      fc.tuple(protocol, fc.uint8Array({ minLength: 64, maxLength: 64 }), sized),
      async ([p, secret, pt]) => {
        const key = p.version === 1 ? secret.subarray(0, 32) : secret;
        const r = await onlyAsync([FormatError], () => p.encrypt(key, pt));
        assert.equal(r.ok, pt.length % 16 === 0);
        if (!r.ok) return;
        assert.equal(r.value.length, pt.length + (p.version === 2 ? 16 : 0));
        assert.ok(bytesEqual(await p.decrypt(key, r.value), pt));
      },
    );
  });

  it("authenticate / validateToken / verify with arbitrary lengths", () => {
    fuzz("pin authenticate lengths", fc.tuple(protocol, sized, sized, sized), ([p, k, m, sig]) => {
      const a = only([FormatError], () => p.authenticate(k, m));
      const keyOk = p.version === 1 || k.length === 32 || k.length === 64;
      assert.equal(a.ok, keyOk);
      if (a.ok) {
        assert.equal(a.value.length, p.version === 1 ? 16 : 32);
        assert.equal(verify(p.version, k, m, a.value), true);
      }
      const v = only([FormatError], () => verify(p.version, k, m, sig));
      assert.equal(v.ok, keyOk);
      if (v.ok && a.ok) assert.equal(v.value, bytesEqual(a.value, sig));
      const t = only([FormatError], () => p.validateToken(sig));
      const tokenOk = sig.length === 32 || (p.version === 1 && sig.length === 16);
      assert.equal(t.ok, tokenOk);
    });
  });

  it("encapsulate on arbitrary peer keys: FormatError, or a secret the authenticator shares", async () => {
    const kak = generateKeyAgreementKey();
    await fuzzAsync(
      "pin encapsulate peer keys",
      fc.tuple(protocol, fc.oneof(peerMap, fc.constant(kak.publicKey))),
      async ([p, peer]) => {
        const r = await onlyAsync([FormatError], () => p.encapsulate(peer));
        const d = only([CtapError], () => decapsulate(p.version, kak.privateKey, peer));
        if (!d.ok) {
          assert.equal((d.error as CtapError).code, CTAP_STATUS.INVALID_PARAMETER);
        }
        if (!r.ok) return;
        // A peer point accepted by the platform must be one it can agree on with: only our
        // own authenticator key yields a secret we can cross-check.
        if (peer === kak.publicKey) {
          const mine = decapsulate(p.version, kak.privateKey, r.value.keyAgreement);
          assert.ok(bytesEqual(mine, r.value.sharedSecret));
        }
      },
      { scale: 0.1 },
    );
  });

  it("decapsulate with unknown protocol versions is INVALID_PARAMETER", () => {
    fuzz("pin decapsulate versions", fc.integer(), (version) => {
      const kak = generateKeyAgreementKey();
      const d = only([CtapError], () => decapsulate(version, kak.privateKey, peerKey));
      assert.equal(d.ok, version === 1 || version === 2);
      if (!d.ok) assert.equal((d.error as CtapError).code, CTAP_STATUS.INVALID_PARAMETER);
    }, { scale: 0.05 });
  });
});
