/**
 * Genuine results for the fake webauthn library to return in a child process (a compiled
 * binary), through the file FAKE_WEBAUTHN_SCRIPT names: authenticator data, a packed
 * self-attestation and an assertion signed with a real P-256 key over the client data the
 * child will send. The client data is deterministic (type, challenge, origin), so it is
 * computed here from the challenges the test passes to the child.
 * @module
 */
import { p256 } from "@noble/curves/nist.js";
import { encode } from "../../src/cbor.ts";
import { concat, sha256, toHex, utf8Encode } from "../../src/utils.ts";
import { CollectedClientData } from "../../src/webauthn/clientdata.ts";

/** What the script is for. */
export interface GenuineScriptInput {
  readonly origin: string;
  readonly rpId: string;
  /** Challenge of the registration (raw bytes). */
  readonly createChallenge: Uint8Array;
  /** Challenge of the authentication. */
  readonly getChallenge: Uint8Array;
  /** The user handle the assertion returns. */
  readonly userId: Uint8Array;
}

/** The script file's text and the credential it describes. */
export interface GenuineScript {
  readonly text: string;
  readonly credentialId: Uint8Array;
  /** COSE_Key of the credential. */
  readonly publicKey: Uint8Array;
}

const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);

/** Builds the FAKE_WEBAUTHN_SCRIPT lines (see tests/fixtures/fake_webauthn.c). */
export function genuineScript(input: GenuineScriptInput): GenuineScript {
  const sk = p256.utils.randomSecretKey();
  const pub = p256.getPublicKey(sk, false);
  const credentialId = sha256(utf8Encode(`compiled ${input.rpId}`)).slice(0, 20);
  const publicKey = encode(
    new Map<number, unknown>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, pub.slice(1, 33)],
      [-3, pub.slice(33)],
    ]),
  );
  const clientData = (type: string, challenge: Uint8Array) =>
    CollectedClientData.create({ type, challenge, origin: input.origin, crossOrigin: false }).raw;
  const sign = (authData: Uint8Array, cd: Uint8Array) =>
    p256.sign(concat(authData, sha256(cd)), sk, { format: "der", lowS: true });
  const rpIdHash = sha256(utf8Encode(input.rpId));

  const regAuthData = concat(
    rpIdHash,
    new Uint8Array([0x45]), // UP | UV | AT
    u32(0),
    new Uint8Array(16).fill(0x77),
    new Uint8Array([0, credentialId.length]),
    credentialId,
    publicKey,
  );
  const sig = sign(regAuthData, clientData("webauthn.create", input.createChallenge));
  const attStmt = new Map<string, unknown>([["alg", -7], ["sig", sig]]);
  const attObj = encode(
    new Map<string, unknown>([["fmt", "packed"], ["attStmt", attStmt], ["authData", regAuthData]]),
  );
  const getAuthData = concat(rpIdHash, new Uint8Array([0x05]), u32(1));
  const signature = sign(getAuthData, clientData("webauthn.get", input.getChallenge));
  const text = [
    [
      "attestation",
      "packed",
      toHex(regAuthData),
      toHex(encode(attStmt)),
      toHex(attObj),
      toHex(credentialId),
    ],
    [
      "assertion",
      toHex(getAuthData),
      toHex(signature),
      toHex(credentialId),
      input.userId.length ? toHex(input.userId) : "-",
    ],
  ].map((l) => l.join(" ")).join("\n") + "\n";
  return { text, credentialId, publicKey };
}
