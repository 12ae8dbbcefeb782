import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isPublicSuffix, verifyRpId } from "../src/rpid.ts";

// python-fido2 tests/test_rpid.py (verbatim) and the DERIVED cases (research vectors §8).
const VECTORS: [string, string, boolean][] = [
  ["example.com", "https://register.example.com", true],
  ["example.com", "https://fido.example.com", true],
  ["example.com", "https://www.example.com:444", true],
  ["example.com", "http://example.com", false],
  ["example.com", "http://www.example.com", false],
  ["example.com", "https://example-test.com", false],
  ["companyA.hosting.example.com", "https://register.example.com", false],
  ["companyA.hosting.example.com", "https://companyB.hosting.example.com", false],
  ["co.uk", "https://foobar.co.uk", false],
  ["foobar.co.uk", "https://site.foobar.co.uk", true],
  ["appspot.com", "https://example.appspot.com", false],
  ["example.appspot.com", "https://example.appspot.com", true],
  ["example.ck", "https://evil.example.ck", false],
  ["example.np", "https://evil.example.np", false],
  ["example.ck", "https://example.ck", true],
  ["www.ck", "https://sub.www.ck", true],
  ["localhost", "http://localhost", true],
  ["localhost", "http://example.localhost", true],
  ["example.localhost", "http://example.localhost", true],
  ["localhost", "http://localhost:8000", true],
  ["localhost", "http://", false],
  // DERIVED
  ["", "https://example.com", false],
  ["example.com", "https://EXAMPLE.com", true],
  ["Example.com", "https://example.com", false],
  ["example.com", "https://example.com.", false],
  ["com", "https://example.com", false],
  ["example.com", "https://user:pw@www.example.com", true],
  ["127.0.0.1", "https://127.0.0.1", true],
  ["localhost", "https://localhost", true],
  ["sub.localhost", "http://localhost", false],
  ["example.com", "ftp://example.com", false],
  ["github.io", "https://foo.github.io", false],
  ["foo.github.io", "https://a.foo.github.io", true],
];

// Where this port is stricter or more complete than python-fido2.
const EXTRA: [string, string, boolean][] = [
  // IP literals only match exactly
  ["0.0.1", "https://127.0.0.1", false],
  ["1", "https://127.0.0.1", false],
  ["::1", "https://[::1]", true],
  ["[::1]", "https://[::1]:8443", true],
  ["::1", "https://[::2]", false],
  ["127.0.0.1", "http://127.0.0.1", false],
  // IDN: unicode RP ID vs punycode host, and the reverse
  ["bücher.example", "https://xn--bcher-kva.example", true],
  ["xn--bcher-kva.example", "https://bücher.example", true],
  ["xn--bcher-kva.example", "https://shop.xn--bcher-kva.example", true],
  ["bücher.example", "https://shop.bücher.example:8443", true],
  ["bucher.example", "https://bücher.example", false],
  // no port, path, userinfo or wildcard smuggled in the RP ID
  ["example.com:443", "https://example.com", false],
  ["example.com/", "https://example.com", false],
  ["user@example.com", "https://example.com", false],
  ["*.example.com", "https://a.example.com", false],
  [" example.com", "https://example.com", false],
  // origin oddities
  ["example.com", "not a url", false],
  ["example.com", "https://", false],
  ["example.com", "android:apk-key-hash:abc", false],
  ["example.com", "https://example.com/path?q#frag", true],
  ["example.com", "wss://example.com", false],
  ["localhost", "http://localhost.example.com", false],
  ["example.com", "http://example.com.localhost", false],
  // private public-suffix section (python bundles it too)
  ["blogspot.com", "https://me.blogspot.com", false],
  ["me.blogspot.com", "https://www.me.blogspot.com", true],
  ["s3.amazonaws.com", "https://bucket.s3.amazonaws.com", false],
  // unlisted single-label TLDs are not public suffixes (python semantics)
  ["corp", "https://intranet.corp", true],
];

describe("verifyRpId", () => {
  for (const [rpId, origin, expected] of VECTORS) {
    it(`python-fido2: ${JSON.stringify(rpId)} @ ${origin} -> ${expected}`, () => {
      assert.equal(verifyRpId(rpId, origin), expected);
    });
  }
  for (const [rpId, origin, expected] of EXTRA) {
    it(`extra: ${JSON.stringify(rpId)} @ ${origin} -> ${expected}`, () => {
      assert.equal(verifyRpId(rpId, origin), expected);
    });
  }
  it("non-string arguments are false, never a throw", () => {
    assert.equal(verifyRpId(undefined as unknown as string, "https://example.com"), false);
    assert.equal(verifyRpId("example.com", null as unknown as string), false);
  });
  it("isPublicSuffix", () => {
    for (const d of ["com", "co.uk", "github.io", "appspot.com", "example.ck"]) {
      assert.equal(isPublicSuffix(d), true, d);
    }
    for (const d of ["example.com", "www.ck", "localhost", "foo.github.io"]) {
      assert.equal(isPublicSuffix(d), false, d);
    }
  });
});

describe("verifyRpId properties", () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
  it("a registrable domain admits itself and every subdomain, never a sibling", () => {
    fc.assert(
      fc.property(
        label,
        fc.constantFrom("com", "co.uk", "org", "de", "example"),
        fc.array(label, { maxLength: 3 }),
        label,
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        (name, tld, subs, other, port) => {
          const rp = `${name}.${tld}`;
          // Some generated names are themselves public suffixes (e.g. "ae.org"): not RP IDs.
          fc.pre(!isPublicSuffix(rp));
          const p = port === undefined ? "" : `:${port}`;
          const host = [...subs, rp].join(".");
          assert.equal(verifyRpId(rp, `https://${host}${p}`), true);
          assert.equal(verifyRpId(rp, `http://${host}${p}`), false);
          if (other !== name) assert.equal(verifyRpId(rp, `https://${other}.${tld}`), false);
          assert.equal(verifyRpId(rp, `https://${name}x.${tld}`), false);
          assert.equal(verifyRpId(tld, `https://${host}`), tld === "example");
        },
      ),
    );
  });
  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        assert.equal(typeof verifyRpId(a, b), "boolean");
        assert.equal(typeof verifyRpId(a, "https://" + b), "boolean");
      }),
    );
  });
});
