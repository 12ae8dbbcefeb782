// Fuzz targets for CTAP1/U2F (src/ctap1.ts): RegistrationData, SignatureData and the DER
// certificate walk over arbitrary and mutated bytes, and Ctap1 methods over a ScriptedDevice
// answering arbitrary APDU responses (any status word, truncated data). Invariant: a parsed
// value whose parts rebuild the input, or ApduError/FormatError (UnsupportedAlgorithmError for
// a non-P-256 certificate key), never another error.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  APDU,
  ApduError,
  certificatePublicKey,
  Ctap1,
  RegistrationData,
  SignatureData,
} from "../../src/ctap1.ts";
import { FormatError, UnsupportedAlgorithmError } from "../../src/errors.ts";
import { concat, fromHex } from "../../src/utils.ts";
import { ScriptedDevice } from "../helpers/scripted_device.ts";
import { U2F_REG_YUBICO, U2F_REGISTER_RESP } from "../helpers/vectors.ts";
import { bytes, fuzz, fuzzAsync, hex, mutated, only, onlyAsync } from "./_fuzz.ts";

const REG = [fromHex(U2F_REGISTER_RESP), fromHex(U2F_REG_YUBICO)];
const CERTS = REG.map((r) => new RegistrationData(r).certificate);
const AUTH = [
  fromHex(
    "0100000001304402204b5f0cd17534cedd8c34ee09570ef542a353df4436030ce43d406de870b847780220" +
      "267bb998fac9b7266eb60e7cb0b5eabdfd5ba9614f53c7b22272ec10047a923f",
  ),
];
const PARAM = new Uint8Array(32).fill(1);

/** A registration response with a key handle of any length and a cut or grown certificate. */
const regShaped = fc.tuple(
  fc.constantFrom(...REG),
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: -80, max: 80 }),
).map(([reg, khLen, certDelta]) => {
  const r = new RegistrationData(reg);
  const cert = certDelta < 0
    ? r.certificate.subarray(0, r.certificate.length + certDelta)
    : concat(r.certificate, new Uint8Array(certDelta));
  return concat(
    new Uint8Array([5]),
    r.publicKey,
    new Uint8Array([khLen]),
    new Uint8Array(Math.min(khLen, 40 + (khLen % 7))).fill(0xaa),
    cert,
    r.signature,
  );
});

/** A response body with a status word: 9000, a known U2F error, any word, or too short. */
function apduResponse(corpus: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const sw = fc.oneof(
    { weight: 4, arbitrary: fc.constant(APDU.OK) },
    { weight: 2, arbitrary: fc.constantFrom(...Object.values(APDU)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  );
  const body = fc.oneof(
    fc.constantFrom(...corpus),
    mutated(corpus),
    bytes(120),
    fc.constant(new Uint8Array(0)),
  );
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(body, sw).map(([b, w]) => concat(b, new Uint8Array([w >> 8, w & 0xff]))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1 }) },
  );
}

describe("fuzz: CTAP1 / U2F", () => {
  it("RegistrationData from arbitrary and mutated bytes: parts rebuild the input", () => {
    fuzz(
      "u2f RegistrationData",
      fc.oneof(mutated(REG), regShaped, bytes(200)),
      (data) => {
        const r = only([FormatError], () => new RegistrationData(data));
        if (!r.ok) return;
        const reg = r.value;
        assert.equal(reg.publicKey.length, 65);
        assert.equal(reg.certificate[0], 0x30);
        assert.ok(reg.signature.length > 0);
        const rebuilt = concat(
          new Uint8Array([5]),
          reg.publicKey,
          new Uint8Array([reg.keyHandle.length]),
          reg.keyHandle,
          reg.certificate,
          reg.signature,
        );
        assert.equal(hex(rebuilt), hex(data));
      },
    );
  });

  it("certificatePublicKey over mutated certificates: a P-256 point or a typed error", () => {
    fuzz(
      "u2f certificatePublicKey",
      fc.oneof(mutated(CERTS), bytes(120)),
      (cert) => {
        const r = only([FormatError, UnsupportedAlgorithmError], () => certificatePublicKey(cert));
        if (r.ok) {
          assert.equal(r.value.length, 65);
          assert.equal(r.value[0], 0x04);
        }
      },
    );
  });

  it("RegistrationData.verify on mutated registrations: boolean or a typed error", async () => {
    await fuzzAsync(
      "u2f RegistrationData.verify",
      mutated(REG),
      async (data) => {
        const r = only([FormatError], () => new RegistrationData(data));
        if (!r.ok) return;
        const v = await onlyAsync(
          [FormatError, UnsupportedAlgorithmError],
          () => r.value.verify(PARAM, PARAM),
        );
        if (v.ok) assert.equal(typeof v.value, "boolean");
      },
      { scale: 0.25 },
    );
  });

  it("SignatureData from arbitrary bytes: parts rebuild the input", () => {
    fuzz(
      "u2f SignatureData",
      fc.oneof(mutated(AUTH), bytes(100)),
      (data) => {
        const r = only([FormatError], () => new SignatureData(data));
        assert.equal(r.ok, data.length > 5);
        if (!r.ok) return;
        const s = r.value;
        const head = [
          s.userPresence,
          ...new Uint8Array(new Uint32Array([s.counter]).buffer).reverse(),
        ];
        assert.equal(hex(concat(Uint8Array.from(head), s.signature)), hex(data));
      },
    );
  });

  it("Ctap1 methods over arbitrary APDU responses: a value, ApduError or FormatError", async () => {
    await fuzzAsync(
      "u2f Ctap1 methods",
      fc.oneof(
        fc.tuple(fc.constant("register" as const), apduResponse(REG)),
        fc.tuple(fc.constant("authenticate" as const), apduResponse(AUTH)),
        fc.tuple(
          fc.constant("version" as const),
          apduResponse([new TextEncoder().encode("U2F_V2")]),
        ),
      ),
      async ([method, response]) => {
        const ctap1 = new Ctap1(new ScriptedDevice([response]));
        const r = await onlyAsync([ApduError, FormatError], (): Promise<unknown> => {
          if (method === "register") return ctap1.register(PARAM, PARAM);
          if (method === "authenticate") {
            return ctap1.authenticate(PARAM, PARAM, new Uint8Array(64));
          }
          return ctap1.getVersion();
        });
        const sw = response.length >= 2
          ? (response[response.length - 2] << 8) | response[response.length - 1]
          : -1;
        if (r.ok) assert.equal(sw, APDU.OK);
        else if (r.error instanceof ApduError) {
          assert.equal(r.error.code, sw);
          assert.equal(hex(r.error.data), hex(response.subarray(0, -2)));
        }
      },
    );
  });
});
