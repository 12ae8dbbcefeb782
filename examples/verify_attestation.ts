/**
 * Attestation: ask for "direct" attestation, parse the attestation object and check its
 * statement by hand (what a relying party library does inside), then let
 * @simplewebauthn/server confirm it.
 *
 * - `packed` with `x5c`: signature over authenticatorData ‖ SHA-256(clientDataJSON) with the
 *   key of the attestation certificate (AAGUID and certificate subject printed);
 * - `packed` self attestation: the same signature with the credential's own key;
 * - `fido-u2f` (U2F-only keys): signature over 0x00 ‖ rpIdHash ‖ clientDataHash ‖
 *   credentialId ‖ public key, with the certificate key.
 *
 * With `--virtual` the virtual key gets a freshly made attestation certificate; add `--u2f`
 * for a U2F-only virtual key (fido-u2f format).
 *
 *   deno run -A examples/verify_attestation.ts [--virtual [--u2f]]
 */
import { generateRegistrationOptions, verifyRegistrationResponse } from "@simplewebauthn/server";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { CoseKey, ES256 } from "../src/cose.ts";
import type { AttestationObject, AuthenticatorAttestationResponse } from "../mod.ts";
import { concat } from "../src/utils.ts";
import { DEFAULT_AAGUID } from "../src/virtual/mod.ts";
import { createAttestation } from "../src/virtual/attestation_cert.ts";
import { args, exampleClient, ORIGIN, RP_ID, runExample } from "./_common.ts";

const NAMES: Record<string, string> = {
  "2.5.4.6": "C",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.3": "CN",
};

/** The certificate's subject as "C=…, O=…, CN=…" and its public key as a COSE key. */
function readCertificate(der: Uint8Array, alg: number): { subject: string; key: CoseKey } {
  const cert = AsnConvert.parse(der, Certificate);
  const subject = cert.tbsCertificate.subject
    .flatMap((rdn) => rdn.map((a) => `${NAMES[a.type] ?? a.type}=${a.value.toString()}`))
    .join(", ");
  const spki = new Uint8Array(cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
  if (alg !== -7 || spki.length !== 65 || spki[0] !== 4) {
    throw new Error(`this example checks ES256 (P-256) certificates only, got alg ${alg}`);
  }
  return { subject, key: ES256.fromCtap1(spki) };
}

/** Checks the statement's signature; returns a one-line description of what was checked. */
async function verifyStatement(att: AttestationObject, clientDataHash: Uint8Array) {
  const { fmt, attStmt, authData } = att;
  const cred = authData.credentialData;
  if (!cred) throw new Error("no attested credential data");
  const sig = attStmt.get("sig");
  const x5c = attStmt.get("x5c");
  if (!(sig instanceof Uint8Array)) throw new Error(`${fmt} statement has no signature`);
  const certDer = Array.isArray(x5c) && x5c[0] instanceof Uint8Array ? x5c[0] : undefined;
  if (fmt === "packed") {
    const alg = attStmt.get("alg") as number;
    const signed = concat(authData.raw, clientDataHash);
    if (certDer) {
      const { subject, key } = readCertificate(certDer, alg);
      console.log(`  certificate subject: ${subject}`);
      if (!await key.verify(signed, sig)) throw new Error("packed x5c signature is invalid");
      return "packed attestation signature verified with the certificate key";
    }
    const key = CoseKey.parse(cred.publicKey);
    if (key.alg !== alg) throw new Error("self attestation alg differs from the key's");
    if (!await key.verify(signed, sig)) throw new Error("packed self signature is invalid");
    return "packed self attestation verified with the credential key";
  }
  if (fmt === "fido-u2f") {
    if (!certDer) throw new Error("fido-u2f statement has no certificate");
    const { subject, key } = readCertificate(certDer, -7);
    console.log(`  certificate subject: ${subject}`);
    const point = (CoseKey.parse(cred.publicKey) as ES256).point();
    const signed = concat(
      new Uint8Array([0]),
      authData.rpIdHash,
      clientDataHash,
      cred.credentialId,
      point,
    );
    if (!await key.verify(signed, sig)) throw new Error("fido-u2f signature is invalid");
    return "fido-u2f attestation signature verified with the certificate key";
  }
  throw new Error(`this example does not check the "${fmt}" format`);
}

const u2f = args.includes("--u2f");
await runExample({
  virtual: { attestation: createAttestation(DEFAULT_AAGUID), ...(u2f ? { u2fOnly: true } : {}) },
}, async (dev) => {
  const client = exampleClient(dev);
  console.log('\nRegistering with attestation "direct"…');
  const options = await generateRegistrationOptions({
    rpName: "Example",
    rpID: RP_ID,
    userName: "attested-user",
    attestationType: "direct",
    authenticatorSelection: { userVerification: "discouraged" },
  });
  const registration = await client.makeCredential(options as never);
  const response = registration.response as AuthenticatorAttestationResponse;
  const att = response.attestationObject;
  console.log(`  format: ${att.fmt}`);
  console.log(`  AAGUID: ${att.authData.credentialData?.aaguid}`);
  console.log(`  ${await verifyStatement(att, response.clientDataJSON.hash)}`);

  const reg = await verifyRegistrationResponse({
    response: registration.toJSON() as never,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: false,
  });
  if (!reg.verified) throw new Error("@simplewebauthn/server rejected the attestation");
  console.log("\nAttestation verified (by hand and by @simplewebauthn/server).");
});
