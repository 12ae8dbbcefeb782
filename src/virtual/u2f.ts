/**
 * The U2F (CTAP1) side of the virtual authenticator: ISO 7816-4 APDU parsing (short and
 * extended encodings) and the REGISTER, AUTHENTICATE and VERSION commands with their status
 * words. Key handles are the same wrapped ids CTAP2 issues, so a U2F registration can be used
 * from CTAP2 (appid extension) and an ES256 CTAP2 credential from U2F.
 * @module
 */
import { CtapError } from "../ctap.ts";
import { concat, u16be, u32be, utf8Encode } from "../utils.ts";
import { createAttestation } from "./attestation_cert.ts";
import type { CredentialStore } from "./credential_store.ts";
import { COSE_ALG, generateKeyPair, p256RawPublicKey, sign } from "./keys.ts";
import type { RequestContext, StoredCredential, UserActionReason } from "./types.ts";

/** U2F / ISO 7816 status words. */
export const SW = {
  NO_ERROR: 0x9000,
  WRONG_LENGTH: 0x6700,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
} as const;

/** U2F instruction bytes. */
export const U2F_INS = { REGISTER: 0x01, AUTHENTICATE: 0x02, VERSION: 0x03 } as const;

/** AUTHENTICATE control byte (P1) values. */
export const U2F_AUTH = { CHECK_ONLY: 0x07, ENFORCE_UP: 0x03, DONT_ENFORCE_UP: 0x08 } as const;

/** A parsed command APDU. */
export interface Apdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  /** Expected response length (Ne), 0 when absent. */
  readonly le: number;
}

/** An APDU that cannot be parsed or processed: carries the status word to answer with. */
export class ApduStatus extends Error {
  override name = "ApduStatus";
  constructor(readonly sw: number, message?: string) {
    super(message ?? `APDU status 0x${sw.toString(16)}`);
  }
}

/** Parses a command APDU in short or extended form; bad lengths are SW 0x6700. */
export function parseApdu(apdu: Uint8Array): Apdu {
  const n = apdu.length;
  if (n < 4) {
    throw new ApduStatus(SW.WRONG_LENGTH, `APDU of ${n} bytes is shorter than its 4-byte header`);
  }
  const [cla, ins, p1, p2] = apdu;
  const header = { cla, ins, p1, p2 };
  if (n === 4) return { ...header, data: new Uint8Array(0), le: 0 };
  if (n === 5) return { ...header, data: new Uint8Array(0), le: apdu[4] || 256 };
  if (apdu[4] !== 0) {
    // Short Lc: header ‖ Lc ‖ data ‖ [Le].
    const lc = apdu[4];
    const rest = n - 5 - lc;
    if (rest !== 0 && rest !== 1) {
      throw new ApduStatus(SW.WRONG_LENGTH, `Short Lc ${lc} does not match the ${n}-byte APDU`);
    }
    return { ...header, data: apdu.slice(5, 5 + lc), le: rest ? apdu[5 + lc] || 256 : 0 };
  }
  if (n < 7) {
    throw new ApduStatus(SW.WRONG_LENGTH, `Truncated extended length in a ${n}-byte APDU`);
  }
  const l = (apdu[5] << 8) | apdu[6];
  if (n === 7) return { ...header, data: new Uint8Array(0), le: l || 65536 };
  if (l === 0) throw new ApduStatus(SW.WRONG_LENGTH, "Extended Lc of zero");
  const rest = n - 7 - l;
  if (rest !== 0 && rest !== 2) {
    throw new ApduStatus(SW.WRONG_LENGTH, `Extended Lc ${l} does not match the ${n}-byte APDU`);
  }
  const le = rest ? ((apdu[7 + l] << 8) | apdu[8 + l]) || 65536 : 0;
  return { ...header, data: apdu.slice(7, 7 + l), le };
}

/** An attestation key and its DER certificate. */
export interface U2fAttestation {
  readonly privateKey: Uint8Array;
  readonly certificate: Uint8Array;
}

/** What the U2F core needs from the authenticator that hosts it. */
export interface U2fCoreOptions {
  readonly store: CredentialStore;
  /** Attestation key/certificate; generated (self-signed) on first use when absent. */
  readonly attestation?: U2fAttestation;
  /** One-shot touch check: true when the user approved. */
  readonly userPresence: (reason: UserActionReason, signal: AbortSignal) => Promise<boolean>;
  /** Next signature counter value for a credential. */
  readonly nextCounter: (cred: StoredCredential) => number;
}

/** U2F command processing over the authenticator's credential store. */
export class U2fCore {
  readonly #o: U2fCoreOptions;
  #attestation?: U2fAttestation;
  #touch?: { reason: UserActionReason; result?: boolean; decidedAt?: number };

  constructor(options: U2fCoreOptions) {
    this.#o = options;
    this.#attestation = options.attestation;
  }

  /** The attestation in use, if one was given or has been generated. */
  attestationIfCreated(): U2fAttestation | undefined {
    return this.#attestation;
  }

  /**
   * Processes one APDU; always resolves with response data ‖ SW1 SW2. U2F needs no request
   * context: it never sends keepalives and answers "touch me" instead of waiting.
   */
  async process(apdu: Uint8Array, _ctx: RequestContext): Promise<Uint8Array> {
    try {
      const cmd = parseApdu(apdu);
      if (cmd.cla !== 0) throw new ApduStatus(SW.CLA_NOT_SUPPORTED);
      let data: Uint8Array;
      switch (cmd.ins) {
        case U2F_INS.REGISTER:
          data = await this.#register(cmd);
          break;
        case U2F_INS.AUTHENTICATE:
          data = await this.#authenticate(cmd);
          break;
        case U2F_INS.VERSION:
          if (cmd.data.length) throw new ApduStatus(SW.WRONG_LENGTH);
          data = utf8Encode("U2F_V2");
          break;
        default:
          throw new ApduStatus(SW.INS_NOT_SUPPORTED);
      }
      return concat(data, u16be(SW.NO_ERROR));
    } catch (e) {
      if (e instanceof ApduStatus) return u16be(e.sw);
      if (e instanceof CtapError) return u16be(SW.WRONG_DATA);
      throw e;
    }
  }

  /**
   * U2F has no keepalive: like a real key, answer "conditions not satisfied" at once while
   * the user decides and let the client poll. A touch already given (a hook that approves at
   * once) counts for the current request; a decided touch is kept for 10 s, for one request.
   */
  async #presence(reason: UserActionReason): Promise<boolean> {
    let t = this.#touch;
    if (
      t && (t.reason !== reason || (t.decidedAt !== undefined && Date.now() - t.decidedAt > 10_000))
    ) {
      t = this.#touch = undefined;
    }
    if (!t) {
      const entry: { reason: UserActionReason; result?: boolean; decidedAt?: number } = { reason };
      t = this.#touch = entry;
      const decide = (ok: boolean) => {
        entry.result = ok;
        entry.decidedAt = Date.now();
      };
      this.#o.userPresence(reason, new AbortController().signal).then(decide, () => decide(false));
      await new Promise((r) => setTimeout(r, 0));
    }
    if (t.result === undefined) return false;
    this.#touch = undefined;
    return t.result;
  }

  async #register(cmd: Apdu): Promise<Uint8Array> {
    if (cmd.data.length !== 64) throw new ApduStatus(SW.WRONG_LENGTH, "REGISTER needs 64 bytes");
    const challenge = cmd.data.subarray(0, 32);
    const application = cmd.data.subarray(32, 64);
    if (!(await this.#presence("u2fRegister"))) {
      throw new ApduStatus(SW.CONDITIONS_NOT_SATISFIED);
    }
    const key = generateKeyPair(COSE_ALG.ES256);
    const keyHandle = await this.#o.store.wrap(
      { alg: key.alg, privateKey: key.privateKey, credProtect: 1, hmacSecret: false },
      application,
    );
    const publicKey = p256RawPublicKey(key.privateKey);
    const att = (this.#attestation ??= createAttestation());
    const signature = sign(
      COSE_ALG.ES256,
      att.privateKey,
      concat(new Uint8Array([0]), application, challenge, keyHandle, publicKey),
    );
    return concat(
      new Uint8Array([0x05]),
      publicKey,
      new Uint8Array([keyHandle.length]),
      keyHandle,
      att.certificate,
      signature,
    );
  }

  async #authenticate(cmd: Apdu): Promise<Uint8Array> {
    const d = cmd.data;
    if (d.length < 65 || d.length !== 65 + d[64]) {
      throw new ApduStatus(SW.WRONG_LENGTH, "AUTHENTICATE data length mismatch");
    }
    const challenge = d.subarray(0, 32);
    const application = d.subarray(32, 64);
    const keyHandle = d.subarray(65);
    if (
      cmd.p1 !== U2F_AUTH.CHECK_ONLY && cmd.p1 !== U2F_AUTH.ENFORCE_UP &&
      cmd.p1 !== U2F_AUTH.DONT_ENFORCE_UP
    ) {
      throw new ApduStatus(SW.WRONG_DATA, "Unknown AUTHENTICATE control byte");
    }
    const cred = await this.#o.store.lookupByHash(keyHandle, application);
    if (!cred || cred.alg !== COSE_ALG.ES256) throw new ApduStatus(SW.WRONG_DATA, "Unknown key");
    // check-only: "conditions not satisfied" is the success answer.
    if (cmd.p1 === U2F_AUTH.CHECK_ONLY) throw new ApduStatus(SW.CONDITIONS_NOT_SATISFIED);
    const enforce = cmd.p1 === U2F_AUTH.ENFORCE_UP;
    if (enforce && !(await this.#presence("u2fAuthenticate"))) {
      throw new ApduStatus(SW.CONDITIONS_NOT_SATISFIED);
    }
    const flags = new Uint8Array([enforce ? 0x01 : 0x00]);
    const counter = u32be(this.#o.nextCounter(cred));
    const signature = sign(
      COSE_ALG.ES256,
      cred.privateKey,
      concat(application, flags, counter, challenge),
    );
    return concat(flags, counter, signature);
  }
}
