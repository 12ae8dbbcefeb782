/**
 * Costs of the WebAuthn JSON layer: parsing server options, serialising responses, and the
 * RP ID check a collector runs on every operation.
 */
import { bench } from "./_harness.ts";
import { verifyRpId } from "../src/rpid.ts";
import {
  CollectedClientData,
  CredentialCreationOptions,
  CredentialRequestOptions,
  RegistrationResponse,
} from "../src/webauthn.ts";

const CREATION = {
  publicKey: {
    rp: { name: "Example", id: "example.com" },
    user: { name: "alice", id: "YWxpY2UtaWQ", displayName: "Alice" },
    challenge: "cmVxdWVzdF9jaGFsbGVuZ2UtMzItYnl0ZXMtbG9uZw",
    pubKeyCredParams: [{ type: "public-key", alg: -8 }, { type: "public-key", alg: -7 }, {
      type: "public-key",
      alg: -257,
    }],
    timeout: 60000,
    excludeCredentials: [{ type: "public-key", id: "Y3JlZGVudGlhbF9pZA", transports: ["usb"] }],
    authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
    attestation: "none",
    hints: ["security-key"],
    extensions: { credProps: true },
  },
};
const REQUEST = {
  publicKey: {
    challenge: "cmVxdWVzdF9jaGFsbGVuZ2U",
    rpId: "example.com",
    allowCredentials: [{ type: "public-key", id: "Y3JlZGVudGlhbF9pZA" }],
    userVerification: "preferred",
  },
};
const REGISTRATION = {
  id: "KlUt_bdHftZf2EEz-GGWAQsiFbV9p10xW3uej-LjklpgGVUbq2HRZZFlnLrwC0lQ96v-ZmDi4Ab3aGi3ctcMJQ",
  rawId: "KlUt_bdHftZf2EEz-GGWAQsiFbV9p10xW3uej-LjklpgGVUbq2HRZZFlnLrwC0lQ96v-ZmDi4Ab3aGi3ctcMJQ",
  response: {
    clientDataJSON:
      "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiV1RKb2FHSkhlR3hpYldScyIsIm9yaWdpbiI6Imh0dHBzOi8vZm9vLmV4YW1wbGUuY29tIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
    attestationObject:
      "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjEo3mm9u6vuaVeN4wRgDTidR5oL6ufLTCrE9ISVYbOGUdBAAAAAAAAAAAAAAAAAAAAAAAAAAAAQCpVLf23R37WX9hBM_hhlgELIhW1faddMVt3no_i45JaYBlVG6th0WWRZZy68AtJUPer_mZg4uAG92hot3LXDCWlAQIDJiABIVggsXS8ScfKJUtw0uXCB87pzxdIIOvXfqPGVQjCbaUbZXwiWCAcxrlS-GIWl5NkgtoKbT04JqWQldr2zXwD4uYDhdL22Q",
  },
  authenticatorAttachment: "cross-platform",
  clientExtensionResults: {},
  type: "public-key",
};
const reg = RegistrationResponse.fromJSON(REGISTRATION);

bench("CredentialCreationOptions.fromJSON", () => {
  CredentialCreationOptions.fromJSON(CREATION);
});
bench("CredentialRequestOptions.fromJSON", () => {
  CredentialRequestOptions.fromJSON(REQUEST);
});
bench("RegistrationResponse.fromJSON", () => {
  RegistrationResponse.fromJSON(REGISTRATION);
});
bench("RegistrationResponse JSON.stringify (toJSON incl. SPKI)", () => {
  JSON.stringify(reg);
});
bench("CollectedClientData.create + hash", () => {
  CollectedClientData.create({
    type: "webauthn.get",
    challenge: "cmVxdWVzdF9jaGFsbGVuZ2U",
    origin: "https://login.example.com",
  }).hash;
});
bench("verifyRpId (subdomain, PSL lookup)", () => {
  verifyRpId("example.co.uk", "https://login.example.co.uk");
});
