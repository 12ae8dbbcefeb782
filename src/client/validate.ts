/**
 * Checks every authenticator answer against the request it answers, as Chromium's
 * `device/fido` request handlers do (`ResponseValid` in get_assertion_request_handler.cc and
 * make_credential_request_handler.cc). A key that answers for another RP, with a credential
 * that was not asked for, without the user presence or verification it was asked to obtain,
 * or with a key of an algorithm the RP did not offer, is lying or broken: its answer must not
 * reach the RP as if it were valid. Each failure is an {@linkcode AuthenticatorResponseError}
 * naming the check, the expected and the received value; the client reports it as a
 * `ClientError` OTHER_ERROR (Chromium: `kAuthenticatorResponseInvalid`, a NotAllowedError).
 *
 * Unrequested extension outputs are ignored, not rejected: they sit inside signed
 * authenticator data, keys return some unasked (credProtect, for one), and the client only
 * turns requested extensions into client extension results.
 * @module
 */
import { p256 } from "@noble/curves/nist.js";
import type { CborMap, CborValue } from "../cbor.ts";
import type { AssertionResponse } from "../ctap2/base.ts";
import { FormatError } from "../errors.ts";
import { bytesEqual, concat, sha256, toHex, utf8Encode } from "../utils.ts";
import type { AuthenticatorData } from "../webauthn/authdata.ts";
import { FLAG } from "../webauthn/authdata.ts";
import type { CredentialDescriptor } from "./extensions.ts";

/** WebAuthn L3 §5.1.3 / §7.1: credential IDs are at most 1023 bytes. */
const MAX_CREDENTIAL_ID = 1023;

/** The command whose answer failed a check. */
export type CheckedCommand =
  | "makeCredential"
  | "getAssertion"
  | "getNextAssertion"
  | "U2F register"
  | "U2F authenticate";

/**
 * An authenticator's answer is well-formed but does not answer the request that was sent
 * (a lying or broken key). `check` names the rule, `expected` and `received` say what the
 * client asked for and what came back.
 */
export class AuthenticatorResponseError extends FormatError {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "AuthenticatorResponseError";

  /** Builds the message from the parts, so every report reads the same way. */
  constructor(
    /** The command whose answer was rejected. */
    readonly command: CheckedCommand,
    /** The rule that failed, e.g. "rpIdHash", "credential", "flags.UV", "algorithm". */
    readonly check: string,
    /** What the request called for. */
    readonly expected: string,
    /** What the authenticator returned. */
    readonly received: string,
  ) {
    super(
      `The authenticator's ${command} response failed the ${check} check: expected ${expected}, ` +
        `received ${received}. The key is broken or not genuine; try another key.`,
    );
  }
}

/** Hex of at most 32 bytes, enough to tell values apart in a message. */
function hex(b: Uint8Array): string {
  return b.length > 32 ? `${toHex(b.subarray(0, 32))}… (${b.length} bytes)` : toHex(b);
}

function listText(list: readonly CredentialDescriptor[]): string {
  const shown = list.slice(0, 3).map((c) => hex(c.id)).join(", ");
  return `one of the ${list.length} allowed credential IDs (${shown}${
    list.length > 3 ? ", …" : ""
  })`;
}

/** SHA-256 of recently checked RP IDs: a client checks answers for the same few RP IDs. */
const rpIdHashes = new Map<string, Uint8Array>();

function rpIdHash(rpId: string): Uint8Array {
  let hash = rpIdHashes.get(rpId);
  if (!hash) {
    hash = sha256(utf8Encode(rpId));
    if (rpIdHashes.size >= 64) rpIdHashes.clear();
    rpIdHashes.set(rpId, hash);
  }
  return hash;
}

/** rpIdHash, the UP/UV flags and BE/BS consistency, common to both ceremonies. */
function checkAuthData(
  command: CheckedCommand,
  authData: AuthenticatorData,
  rpId: string,
  up: boolean,
  uv: boolean,
): void {
  const fail = (check: string, expected: string, received: string): never => {
    throw new AuthenticatorResponseError(command, check, expected, received);
  };
  const want = rpIdHash(rpId);
  if (!bytesEqual(authData.rpIdHash, want)) {
    fail("rpIdHash", `SHA-256(${JSON.stringify(rpId)}) = ${hex(want)}`, hex(authData.rpIdHash));
  }
  if (up && !(authData.flags & FLAG.UP)) {
    fail("flags.UP", "user presence (UP) set: it was requested", "UP clear");
  }
  if (uv && !(authData.flags & FLAG.UV)) {
    fail(
      "flags.UV",
      "user verification (UV) set: it was required (uv option or pinUvAuthParam)",
      "UV clear",
    );
  }
  // WebAuthn L3 §6.1: a credential that is not backup eligible cannot be backed up.
  if (authData.flags & FLAG.BS && !(authData.flags & FLAG.BE)) {
    fail("flags.BS", "backup state (BS) clear when backup eligibility (BE) is clear", "BS set");
  }
}

// ---------------------------------------------------------------------------------------
// getAssertion

/** What was sent in one authenticatorGetAssertion, for checking its answers. */
export interface AssertionRequest {
  /** The RP ID sent to the key: the request's RP ID, or the AppID when that was used. */
  readonly rpId: string;
  /** The allow list sent (absent or empty: discoverable credentials). */
  readonly allowList?: readonly CredentialDescriptor[];
  /**
   * The RP's allowCredentials, when the list sent is a subset of it or a placeholder no key
   * holds (sent to get a touch before NO_CREDENTIALS): the credential must be in both.
   */
  readonly rpAllowList?: readonly CredentialDescriptor[];
  /** User presence requested (the `up` option; CTAP default true). */
  readonly up?: boolean;
  /** User verification required: option `uv` or a pinUvAuthParam was sent. */
  readonly uv: boolean;
}

/**
 * The credential the answer is for: the one it names, which must be in the allow list when
 * one was sent, or, when it names none, the single entry of a one-entry list (CTAP 2.1
 * §6.2.2: "may be omitted if the allowList has exactly one credential"). Also used to check
 * pre-flight answers.
 */
export function assertedCredential(
  response: AssertionResponse,
  allowList: readonly CredentialDescriptor[] | undefined,
  command: CheckedCommand = "getAssertion",
): CredentialDescriptor {
  const list = allowList ?? [];
  const cred = response.credential;
  if (!cred) {
    if (list.length === 1) return list[0];
    throw new AuthenticatorResponseError(
      command,
      "credential",
      list.length === 0
        ? "the credential used (required without an allow list)"
        : `the credential used (it may only be omitted for a one-entry allow list; ${list.length} were sent)`,
      "no credential",
    );
  }
  if (cred.type !== "public-key") {
    throw new AuthenticatorResponseError(
      command,
      "credential",
      'a credential of type "public-key"',
      JSON.stringify(cred.type),
    );
  }
  if (list.length === 0) return cred;
  const match = list.find((c) => bytesEqual(c.id, cred.id));
  if (!match) {
    throw new AuthenticatorResponseError(command, "credential", listText(list), hex(cred.id));
  }
  return match;
}

/**
 * Checks one getAssertion / getNextAssertion answer and returns it naming its credential.
 * `index` is its position in the sequence (0 for getAssertion); `command` names it in errors.
 */
export function checkAssertion(
  response: AssertionResponse,
  request: AssertionRequest,
  index = 0,
  command: CheckedCommand = index === 0 ? "getAssertion" : "getNextAssertion",
): AssertionResponse {
  const fail = (check: string, expected: string, received: string): never => {
    throw new AuthenticatorResponseError(command, check, expected, received);
  };
  const cred = assertedCredential(response, request.allowList, command);
  const rpList = request.rpAllowList ?? [];
  if (rpList.length && !rpList.some((c) => bytesEqual(c.id, cred.id))) {
    fail("credential", `${listText(rpList)} (the RP's allowCredentials)`, hex(cred.id));
  }
  const authData = response.authData;
  checkAuthData(command, authData, request.rpId, request.up ?? true, request.uv);
  if (authData.flags & FLAG.AT || authData.credentialData) {
    fail("flags.AT", "no attested credential data in an assertion", "AT set");
  }
  const discoverable = (request.allowList ?? []).length === 0;
  const user = response.user;
  if (discoverable && !user) {
    // CTAP 2.1 §6.2.2: the user id is mandatory for discoverable credentials, and the RP
    // cannot find the account without it.
    fail("user", "a user entity with an id (no allow list: a discoverable credential)", "none");
  }
  // Names without UV are tolerated: CTAP 2.1 §6.2.2 forbids them, but CTAP 2.0 §5.2 tells a key
  // without a display to return them when several accounts match, so 2.0 keys do. Rejecting would
  // fail real keys and protect nobody: the key has already disclosed them.
  if (index === 0 && (response.numberOfCredentials ?? 1) > 1) {
    if (!discoverable) {
      fail(
        "numberOfCredentials",
        "at most 1 with an allow list (each credential is asked for by ID)",
        String(response.numberOfCredentials),
      );
    }
    if (!user) {
      fail("user", "a user entity when several accounts match", "none");
    }
  }
  if (index > 0 && response.userSelected) {
    fail("userSelected", "absent after the first assertion", "true");
  }
  return response.credential ? response : response.withCredential(cred);
}

/**
 * Checks the first answer, then reads and checks the `numberOfCredentials − 1` more that the
 * key announced (each a distinct credential), as `Ctap2.getAssertions` would read them.
 */
export async function collectAssertions(
  first: AssertionResponse,
  next: () => Promise<AssertionResponse>,
  request: AssertionRequest,
): Promise<AssertionResponse[]> {
  const out = [checkAssertion(first, request, 0)];
  const n = first.numberOfCredentials ?? 1;
  for (let i = 1; i < n; i++) {
    const a = checkAssertion(await next(), request, i);
    const id = a.credential!.id;
    if (out.some((o) => bytesEqual(o.credential!.id, id))) {
      throw new AuthenticatorResponseError(
        "getNextAssertion",
        "credential",
        `a credential not returned before (answer ${i + 1} of ${n})`,
        `${hex(id)} again`,
      );
    }
    out.push(a);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// makeCredential

/** What was sent in one authenticatorMakeCredential, for checking its answer. */
export interface RegistrationRequest {
  /** The RP ID sent. */
  readonly rpId: string;
  /** The COSE algorithms offered in pubKeyCredParams. */
  readonly algorithms: readonly number[];
  /** User verification required: option `uv` or a pinUvAuthParam was sent. */
  readonly uv: boolean;
  /** Whether enterprise attestation was requested (the `enterpriseAttestation` parameter). */
  readonly enterpriseAttestation?: boolean;
  /** The authenticator extension inputs sent, by identifier. */
  readonly extensions?: Readonly<Record<string, CborValue>>;
}

/** The parts of a makeCredential answer (a CTAP2 response or a U2F registration). */
export interface RegistrationAnswer {
  /** Attestation statement format identifier. */
  readonly fmt: string;
  /** Authenticator data with the new credential. */
  readonly authData: AuthenticatorData;
  /** Attestation statement. */
  readonly attStmt: CborMap;
  /** Enterprise attestation returned (CTAP 2.1). */
  readonly epAtt?: boolean;
}

type Shape = Record<string, "bytes" | "int" | "text" | "certs">;

/**
 * The attestation statement members each registered format requires (WebAuthn L3 §8); other
 * members may follow. Unknown formats pass: the RP decides whether it accepts them.
 */
const ATT_STMT: Record<string, Shape> = {
  none: {},
  packed: { alg: "int", sig: "bytes" },
  "fido-u2f": { sig: "bytes", x5c: "certs" },
  tpm: { ver: "text", alg: "int", x5c: "certs", sig: "bytes", certInfo: "bytes", pubArea: "bytes" },
  "android-key": { alg: "int", sig: "bytes", x5c: "certs" },
  "android-safetynet": { ver: "text", response: "bytes" },
  apple: { x5c: "certs" },
};

function hasShape(v: CborValue | undefined, kind: Shape[string]): boolean {
  switch (kind) {
    case "bytes":
      return v instanceof Uint8Array;
    case "int":
      return typeof v === "number" && Number.isInteger(v);
    case "text":
      return typeof v === "string";
    case "certs":
      return Array.isArray(v) && v.length > 0 && v.every((c) => c instanceof Uint8Array);
  }
}

/** The COSE key type each algorithm family needs (RFC 9053, RFC 8812). */
function keyTypeFor(alg: number): number | undefined {
  if ([-7, -9, -35, -36, -47, -51, -52].includes(alg)) return 2; // EC2
  if ([-8, -19].includes(alg)) return 1; // OKP
  if ([-37, -38, -39, -257, -258, -259, -65535].includes(alg)) return 3; // RSA
  return undefined;
}

function checkPublicKey(command: CheckedCommand, key: CborMap): void {
  const alg = key.get(3) as number;
  const kty = key.get(1);
  const want = keyTypeFor(alg);
  if (want !== undefined && kty !== want) {
    throw new AuthenticatorResponseError(
      command,
      "publicKey",
      `COSE key type ${want} for algorithm ${alg}`,
      `key type ${String(kty)}`,
    );
  }
  if (alg === -7) {
    // The algorithm nearly every key uses: the point must be on P-256.
    const x = key.get(-2);
    const y = key.get(-3);
    const ok = key.get(-1) === 1 && x instanceof Uint8Array && y instanceof Uint8Array &&
      x.length === 32 && y.length === 32 &&
      p256.utils.isValidPublicKey(concat(new Uint8Array([4]), x, y), false);
    if (!ok) {
      throw new AuthenticatorResponseError(
        command,
        "publicKey",
        "a P-256 point (crv 1, 32-byte x and y on the curve) for ES256",
        "an invalid key",
      );
    }
  }
}

/** Checks a registration answer (CTAP2 makeCredential or a U2F registration). */
export function checkRegistration(
  answer: RegistrationAnswer,
  request: RegistrationRequest,
  command: CheckedCommand = "makeCredential",
): void {
  const fail = (check: string, expected: string, received: string): never => {
    throw new AuthenticatorResponseError(command, check, expected, received);
  };
  const { authData, fmt, attStmt } = answer;
  checkAuthData(command, authData, request.rpId, true, request.uv);
  const cd = authData.credentialData;
  if (!(authData.flags & FLAG.AT) || !cd) {
    fail("flags.AT", "attested credential data (AT set)", "none");
  }
  const idLen = cd!.credentialId.length;
  if (idLen === 0 || idLen > MAX_CREDENTIAL_ID) {
    fail("credentialId", `a credential ID of 1 to ${MAX_CREDENTIAL_ID} bytes`, `${idLen} bytes`);
  }
  const alg = cd!.publicKey.get(3) as number;
  if (!request.algorithms.includes(alg)) {
    fail(
      "algorithm",
      `a credential key of one of the requested algorithms (${request.algorithms.join(", ")})`,
      `algorithm ${alg}`,
    );
  }
  checkPublicKey(command, cd!.publicKey);
  // WebAuthn L3 §6.5.2: identifiers are printable ASCII, at most 32 characters.
  if (!/^[\x20-\x7e]{1,32}$/.test(fmt)) {
    fail(
      "fmt",
      "an attestation format identifier (1-32 printable ASCII characters)",
      JSON.stringify(fmt),
    );
  }
  const shape = ATT_STMT[fmt];
  if (shape) {
    if (fmt === "none" && attStmt.size !== 0) {
      fail("attStmt", 'an empty attestation statement for fmt "none"', `${attStmt.size} members`);
    }
    for (const [member, kind] of Object.entries(shape)) {
      if (!hasShape(attStmt.get(member), kind)) {
        const what = kind === "certs"
          ? "a non-empty array of certificates"
          : `${kind === "int" ? "an" : "a"} ${kind}`;
        fail(
          "attStmt",
          `${member} as ${what} (fmt ${JSON.stringify(fmt)})`,
          describe(attStmt.get(member)),
        );
      }
    }
  }
  if (answer.epAtt === true && !request.enterpriseAttestation) {
    fail("epAtt", "no enterprise attestation: it was not requested", "epAtt true");
  }
  checkRegistrationExtensions(command, authData.extensions, request.extensions ?? {});
}

/** The output type of each requested registration extension (CTAP 2.1 §12). */
const MC_OUTPUT: Record<string, (v: CborValue) => boolean> = {
  "hmac-secret": (v) => typeof v === "boolean",
  credBlob: (v) => typeof v === "boolean",
  minPinLength: (v) => typeof v === "number" && Number.isInteger(v) && v >= 0,
  credProtect: (v) => v === 1 || v === 2 || v === 3,
};

/**
 * Outputs of requested extensions must have their type, and credProtect must be at least
 * the level asked for (Chromium's rule; a lower level would weaken what the RP asked for).
 * Outputs nobody asked for are left alone (see the module comment).
 */
function checkRegistrationExtensions(
  command: CheckedCommand,
  outputs: CborMap | undefined,
  sent: Readonly<Record<string, CborValue>>,
): void {
  if (!outputs) return;
  for (const [name, ok] of Object.entries(MC_OUTPUT)) {
    if (!(name in sent) || !outputs.has(name)) continue;
    const v = outputs.get(name)!;
    const asked = sent[name];
    if (!ok(v) || (name === "credProtect" && typeof asked === "number" && (v as number) < asked)) {
      throw new AuthenticatorResponseError(
        command,
        `extensions.${name}`,
        name === "credProtect"
          ? `a credProtect level from ${String(asked)} to 3`
          : `the ${name} output type of CTAP 2.1 §12`,
        describe(v) === "number" ? String(v) : describe(v),
      );
    }
  }
}

function describe(v: CborValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Map) return "a map";
  return typeof v;
}
