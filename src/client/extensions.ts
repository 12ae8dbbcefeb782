/**
 * WebAuthn client extensions on top of CTAP2 authenticator extensions: what `Fido2Client`
 * sends for each client input and how authenticator outputs become client outputs.
 * @module
 */
import type { CborMap, CborValue } from "../cbor.ts";
import type { AssertionResponse, AttestationResponse, Ctap2 } from "../ctap2/base.ts";
import { LargeBlobs } from "../ctap2/blob.ts";
import type { Info } from "../ctap2/info.ts";
import type { PinUvAuthProtocol } from "../ctap2/pin_protocol.ts";
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { b64urlDecode, b64urlEncode, concat, sha256, utf8Encode } from "../utils.ts";
import { isPaymentRequested } from "../webauthn/extensions.ts";
import { ClientError } from "./errors.ts";

/** pinUvAuthToken permission for large blob writes (CTAP 2.1 §6.5.5.7). */
const PERM_LARGE_BLOB_WRITE = 0x10;

/** What an extension may use while processing one request. */
export interface ExtensionContext {
  /** The command set, for extensions that send their own commands (large blobs). */
  readonly ctap: Ctap2;
  /** The key's getInfo, to check which extensions it supports. */
  readonly info: Info;
  /** The PIN/UV protocol chosen for the request, when the key has one. */
  readonly protocol?: PinUvAuthProtocol;
  /** The RP ID of the request. */
  readonly rpId: string;
  /** Aborts any command the extension sends. */
  readonly signal?: AbortSignal;
}

/** A credential descriptor as the client sends it in allow/exclude lists. */
export interface CredentialDescriptor {
  /** Credential type, normally "public-key". */
  readonly type: string;
  /** The credential ID. */
  readonly id: Uint8Array;
  /** Transport hints, passed through unchanged. */
  readonly transports?: readonly string[];
}

/** Per-request processing of a registration extension. */
export interface RegistrationProcessing {
  /** pinUvAuthToken permissions this extension needs in addition to makeCredential. */
  readonly permissions?: number;
  /** Authenticator extension inputs (merged into makeCredential's extensions map). */
  prepareInputs?(token?: Uint8Array): Promise<Record<string, CborValue> | undefined>;
  /** Client extension outputs from the authenticator's response. */
  prepareOutputs?(
    response: AttestationResponse,
    token?: Uint8Array,
  ): Promise<Record<string, unknown> | undefined>;
}

/**
 * Gets a fresh pinUvAuthToken with exactly `permissions` for the running ceremony, without
 * asking the user again (the client reuses the PIN it collected).
 */
export type TokenRenewer = (permissions: number) => Promise<Uint8Array>;

/** Per-request processing of an authentication extension. */
export interface AuthenticationProcessing {
  /** pinUvAuthToken permissions this extension needs in addition to getAssertion. */
  readonly permissions?: number;
  /** `selected` is the credential chosen by pre-flight, when there is exactly one. */
  prepareInputs?(
    selected: CredentialDescriptor | undefined,
    token?: Uint8Array,
  ): Promise<Record<string, CborValue> | undefined>;
  /**
   * Client extension outputs from the authenticator's response. `renewToken`, when given,
   * replaces a token the authenticator consumed during the assertion.
   */
  prepareOutputs?(
    response: AssertionResponse,
    token?: Uint8Array,
    renewToken?: TokenRenewer,
  ): Promise<Record<string, unknown> | undefined>;
}

/** A client extension; returns no processing when its inputs are absent. */
export interface Fido2Extension {
  /** The client extension identifiers it handles (documentation and debugging). */
  readonly names: readonly string[];
  /**
   * Whether the authenticator behind `ctap` can serve this extension (python-fido2's
   * `is_supported(ctap)`); decided from getInfo, an absent entry meaning not supported.
   */
  isSupported?(ctap: { readonly info: Info }): boolean;
  /** Called for every registration; returns undefined when the extension has nothing to do. */
  makeCredential?(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
    request: { readonly rk: boolean },
  ): RegistrationProcessing | undefined;
  /** Called for every authentication; returns undefined when the extension has nothing to do. */
  getAssertion?(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
    allowCredentials: readonly CredentialDescriptor[],
  ): AuthenticationProcessing | undefined;
}

function unsupported(message: string): ClientError {
  return new ClientError(ClientError.ERR.CONFIGURATION_UNSUPPORTED, message);
}

function badRequest(message: string): ClientError {
  return new ClientError(ClientError.ERR.BAD_REQUEST, message);
}

/** Bytes from an in-memory input: a Uint8Array, an ArrayBuffer or a base64url string. */
function inputBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (typeof v === "string") {
    try {
      return b64urlDecode(v);
    } catch (e) {
      throw badRequest(`${what} is not valid base64url: ${(e as Error).message}`);
    }
  }
  throw badRequest(`${what} must be bytes`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function authExt(response: { authData: { extensions?: CborMap } }, name: string): CborValue {
  return response.authData.extensions?.get(name);
}

// ---------------------------------------------------------------------------------------
// hmac-secret, hmac-secret-mc and prf

/** Shared-secret session for one hmac-secret exchange. */
class HmacSession {
  #secret?: Uint8Array;
  constructor(
    private readonly ctx: ExtensionContext,
    private readonly protocol: PinUvAuthProtocol,
  ) {}

  /** The `{1: keyAgreement, 2: saltEnc, 3: saltAuth, 4: protocol}` authenticator input. */
  async input(salts: Uint8Array): Promise<CborMap> {
    const resp = await this.ctx.ctap.clientPin(
      { pinUvAuthProtocol: this.protocol.version, subCommand: 2 },
      { signal: this.ctx.signal },
    );
    const peer = resp?.get(1);
    if (!(peer instanceof Map)) throw new FormatError("getKeyAgreement returned no key");
    const { keyAgreement, sharedSecret } = await this.protocol.encapsulate(peer);
    this.#secret = sharedSecret;
    const saltEnc = await this.protocol.encrypt(sharedSecret, salts);
    const saltAuth = await this.protocol.authenticate(sharedSecret, saltEnc);
    return new Map<CborValue, CborValue>([
      [1, keyAgreement],
      [2, saltEnc],
      [3, saltAuth],
      [4, this.protocol.version],
    ]);
  }

  /** Decrypts the authenticator's output into one or two 32-byte secrets. */
  async output(value: CborValue): Promise<[Uint8Array, Uint8Array | undefined] | undefined> {
    if (value === undefined || !this.#secret) return undefined;
    if (!(value instanceof Uint8Array)) throw new FormatError("hmac-secret output must be bytes");
    const plain = await this.protocol.decrypt(this.#secret, value);
    if (plain.length !== 32 && plain.length !== 64) {
      throw new FormatError(`hmac-secret output has ${plain.length} bytes, expected 32 or 64`);
    }
    return [plain.slice(0, 32), plain.length === 64 ? plain.slice(32) : undefined];
  }
}

const PRF_PREFIX = utf8Encode("WebAuthn PRF");

/** The hmac-secret salt for a PRF input: SHA-256("WebAuthn PRF" ‖ 0x00 ‖ input). */
export function prfSalt(input: Uint8Array): Uint8Array {
  return sha256(concat(PRF_PREFIX, new Uint8Array([0]), input));
}

function prfValues(v: unknown, what: string): Uint8Array {
  if (!isRecord(v)) throw badRequest(`${what} must be {first, second?}`);
  const first = prfSalt(inputBytes(v.first, `${what}.first`));
  if (v.second === undefined) return first;
  return concat(first, prfSalt(inputBytes(v.second, `${what}.second`)));
}

function hmacSalts(v: unknown, what: string): Uint8Array {
  if (!isRecord(v)) throw badRequest(`${what} must be {salt1, salt2?}`);
  const s1 = inputBytes(v.salt1, `${what}.salt1`);
  if (s1.length !== 32) throw badRequest(`${what}.salt1 must be 32 bytes`);
  if (v.salt2 === undefined) return s1;
  const s2 = inputBytes(v.salt2, `${what}.salt2`);
  if (s2.length !== 32) throw badRequest(`${what}.salt2 must be 32 bytes`);
  return concat(s1, s2);
}

/** Decrypted hmac-secret outputs as the `prf` extension's `results`. */
function prfValuesOf([first, second]: [Uint8Array, Uint8Array | undefined]) {
  return second ? { first, second } : { first };
}

/** Decrypted hmac-secret outputs as the legacy `hmacGetSecret` output. */
function hmacGetSecretOf([output1, output2]: [Uint8Array, Uint8Array | undefined]) {
  return output2 ? { output1, output2 } : { output1 };
}

/**
 * `prf` (and, when enabled, the legacy `hmacCreateSecret` / `hmacGetSecret`) over the CTAP
 * hmac-secret and hmac-secret-mc extensions.
 */
export class HmacSecretExtension implements Fido2Extension {
  readonly names = ["prf", "hmacCreateSecret", "hmacGetSecret"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(ctap: { readonly info: Info }): boolean {
    const info = ctap.info;
    return info.extensions.includes("hmac-secret") &&
      (info.pinUvProtocols.includes(1) || info.pinUvProtocols.includes(2));
  }
  /** `allowHmacSecret` also enables the legacy hmacCreateSecret / hmacGetSecret inputs. */
  constructor(private readonly allowHmacSecret = false) {}

  #supported(ctx: ExtensionContext): boolean {
    return ctx.info.extensions.includes("hmac-secret") && ctx.protocol !== undefined;
  }

  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): RegistrationProcessing | undefined {
    const prf = inputs.prf;
    const legacy = this.allowHmacSecret && inputs.hmacCreateSecret === true;
    if (prf === undefined && !legacy) return undefined;
    if (prf !== undefined && !isRecord(prf)) throw badRequest("prf must be an object");
    if (isRecord(prf) && prf.evalByCredential !== undefined) {
      throw badRequest("prf.evalByCredential is not allowed when creating a credential");
    }
    if (!this.#supported(ctx)) {
      // The output says the credential has no PRF; that is not an error (WebAuthn L3 §10.1.4).
      return {
        prepareOutputs: () =>
          Promise.resolve(prf !== undefined ? { prf: { enabled: false } } : undefined),
      };
    }
    const session = new HmacSession(ctx, ctx.protocol!);
    let salts: Uint8Array | undefined;
    if (isRecord(prf) && prf.eval !== undefined) salts = prfValues(prf.eval, "prf.eval");
    else if (legacy && inputs.hmacGetSecret !== undefined) {
      salts = hmacSalts(inputs.hmacGetSecret, "hmacGetSecret");
    }
    const withMc = salts !== undefined && ctx.info.extensions.includes("hmac-secret-mc");
    return {
      prepareInputs: async () => {
        const out: Record<string, CborValue> = { "hmac-secret": true };
        if (withMc) out["hmac-secret-mc"] = await session.input(salts!);
        return out;
      },
      prepareOutputs: async (response) => {
        const enabled = authExt(response, "hmac-secret") === true;
        const results = withMc
          ? await session.output(authExt(response, "hmac-secret-mc"))
          : undefined;
        if (prf !== undefined) {
          const out: Record<string, unknown> = { enabled };
          if (results) out.results = prfValuesOf(results);
          return { prf: out };
        }
        const out: Record<string, unknown> = { hmacCreateSecret: enabled };
        if (results) out.hmacGetSecret = hmacGetSecretOf(results);
        return out;
      },
    };
  }

  /** Authentication processing, or undefined when the RP sent none of this extension's inputs. */
  getAssertion(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
    allowCredentials: readonly CredentialDescriptor[],
  ): AuthenticationProcessing | undefined {
    const prf = inputs.prf;
    const legacy = this.allowHmacSecret ? inputs.hmacGetSecret : undefined;
    if (prf === undefined && legacy === undefined) return undefined;
    let byCred: Map<string, unknown> | undefined;
    if (prf !== undefined) {
      if (!isRecord(prf)) throw badRequest("prf must be an object");
      if (prf.evalByCredential !== undefined) {
        if (!isRecord(prf.evalByCredential)) throw badRequest("prf.evalByCredential must be a map");
        if (allowCredentials.length === 0) {
          throw badRequest("prf.evalByCredential needs allowCredentials");
        }
        const allowed = new Set(allowCredentials.map((c) => b64urlEncode(c.id)));
        byCred = new Map();
        for (const [k, v] of Object.entries(prf.evalByCredential)) {
          // Keys are base64url credential IDs; anything else is a syntax error (L3 §10.1.4).
          try {
            b64urlDecode(k);
          } catch {
            throw badRequest(`prf.evalByCredential key ${JSON.stringify(k)} is not base64url`);
          }
          if (!allowed.has(k)) {
            throw badRequest(`prf.evalByCredential key ${k} is not in allowCredentials`);
          }
          byCred.set(k, v);
        }
      }
    }
    if (!this.#supported(ctx)) return undefined;
    const session = new HmacSession(ctx, ctx.protocol!);
    let sent = false;
    return {
      prepareInputs: async (selected) => {
        let salts: Uint8Array | undefined;
        if (isRecord(prf)) {
          const specific = selected && byCred?.get(b64urlEncode(selected.id));
          if (specific !== undefined) salts = prfValues(specific, "prf.evalByCredential entry");
          else if (prf.eval !== undefined) salts = prfValues(prf.eval, "prf.eval");
        } else salts = hmacSalts(legacy, "hmacGetSecret");
        if (!salts) return undefined;
        sent = true;
        return { "hmac-secret": await session.input(salts) };
      },
      prepareOutputs: async (response) => {
        if (!sent) return undefined;
        const results = await session.output(authExt(response, "hmac-secret"));
        if (!results) return undefined;
        if (prf !== undefined) return { prf: { results: prfValuesOf(results) } };
        return { hmacGetSecret: hmacGetSecretOf(results) };
      },
    };
  }
}

// ---------------------------------------------------------------------------------------
// largeBlob

/** `largeBlob` over largeBlobKey and the authenticator's large-blob array. */
export class LargeBlobExtension implements Fido2Extension {
  readonly names = ["largeBlob"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(ctap: { readonly info: Info }): boolean {
    return this.#supported(ctap.info);
  }

  #supported(info: Info): boolean {
    return info.extensions.includes("largeBlobKey") && info.options.largeBlobs === true;
  }

  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): RegistrationProcessing | undefined {
    const lb = inputs.largeBlob;
    if (lb === undefined) return undefined;
    if (!isRecord(lb)) throw badRequest("largeBlob must be an object");
    if (lb.read !== undefined || lb.write !== undefined) {
      throw badRequest("largeBlob read/write are not allowed when creating a credential");
    }
    const support = lb.support ?? "preferred";
    if (!this.#supported(ctx.info)) {
      if (support === "required") throw unsupported("Authenticator does not support largeBlob");
      return { prepareOutputs: () => Promise.resolve({ largeBlob: { supported: false } }) };
    }
    return {
      prepareInputs: () => Promise.resolve({ largeBlobKey: true }),
      prepareOutputs: (response) =>
        Promise.resolve({ largeBlob: { supported: response.largeBlobKey !== undefined } }),
    };
  }

  /** Authentication processing, or undefined when the RP sent none of this extension's inputs. */
  getAssertion(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
    allowCredentials: readonly CredentialDescriptor[],
  ): AuthenticationProcessing | undefined {
    const lb = inputs.largeBlob;
    if (lb === undefined) return undefined;
    if (!isRecord(lb)) throw badRequest("largeBlob must be an object");
    if (lb.support !== undefined) throw badRequest("largeBlob.support is only for registration");
    if (lb.read !== undefined && lb.write !== undefined) {
      throw badRequest("largeBlob cannot read and write at once");
    }
    if (lb.read === undefined && lb.write === undefined) return undefined;
    if (!this.#supported(ctx.info)) throw unsupported("Authenticator does not support largeBlob");
    const write = lb.write !== undefined ? inputBytes(lb.write, "largeBlob.write") : undefined;
    if (write && allowCredentials.length === 0) {
      // Writing needs to know which credential's blob to replace (WebAuthn L3 §10.1.5).
      throw unsupported("largeBlob.write needs allowCredentials");
    }
    return {
      permissions: write ? PERM_LARGE_BLOB_WRITE : 0,
      prepareInputs: () => Promise.resolve({ largeBlobKey: true }),
      prepareOutputs: async (response, token, renewToken) => {
        const key = response.largeBlobKey;
        if (!key) return undefined;
        if (write) {
          try {
            await new LargeBlobs(ctx.ctap, ctx.protocol, token).putBlob(key, write);
          } catch (e) {
            // Some firmware strips every permission from the token once getAssertion used it
            // (CTAP 2.1 keeps lbw). python-fido2 gives up here; a token with only lbw, from
            // the PIN given for this ceremony, makes the write work without a second prompt.
            const consumed = e instanceof CtapError && e.code === CTAP_STATUS.PIN_AUTH_INVALID;
            if (!consumed || !renewToken || !token) throw e;
            const fresh = await renewToken(PERM_LARGE_BLOB_WRITE);
            await new LargeBlobs(ctx.ctap, ctx.protocol, fresh).putBlob(key, write);
          }
          return { largeBlob: { written: true } };
        }
        const blob = await new LargeBlobs(ctx.ctap).getBlob(key);
        return { largeBlob: blob ? { blob } : {} };
      },
    };
  }
}

// ---------------------------------------------------------------------------------------
// credBlob, credProtect, minPinLength, credProps, thirdPartyPayment

/** `credBlob` (registration) and `getCredBlob` (authentication). */
export class CredBlobExtension implements Fido2Extension {
  readonly names = ["credBlob", "getCredBlob"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(ctap: { readonly info: Info }): boolean {
    return ctap.info.extensions.includes("credBlob");
  }
  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): RegistrationProcessing | undefined {
    if (inputs.credBlob === undefined) return undefined;
    const blob = inputBytes(inputs.credBlob, "credBlob");
    if (!ctx.info.extensions.includes("credBlob")) return undefined;
    const max = ctx.info.maxCredBlobLength ?? 0;
    if (blob.length > max) {
      throw unsupported(`credBlob is ${blob.length} bytes, the authenticator stores ${max}`);
    }
    return {
      prepareInputs: () => Promise.resolve({ credBlob: blob }),
      prepareOutputs: (response) => {
        const stored = authExt(response, "credBlob");
        return Promise.resolve(typeof stored === "boolean" ? { credBlob: stored } : undefined);
      },
    };
  }
  /** Authentication processing, or undefined when the RP sent none of this extension's inputs. */
  getAssertion(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): AuthenticationProcessing | undefined {
    if (inputs.getCredBlob !== true || !ctx.info.extensions.includes("credBlob")) return undefined;
    return {
      prepareInputs: () => Promise.resolve({ credBlob: true }),
      prepareOutputs: (response) => {
        const blob = authExt(response, "credBlob");
        if (blob === undefined) return Promise.resolve(undefined);
        if (!(blob instanceof Uint8Array)) throw new FormatError("credBlob output must be bytes");
        return Promise.resolve({ getCredBlob: blob });
      },
    };
  }
}

const CRED_PROTECT: Record<string, number> = {
  userVerificationOptional: 1,
  userVerificationOptionalWithCredentialIDList: 2,
  userVerificationRequired: 3,
};

/** `credentialProtectionPolicy` / `enforceCredentialProtectionPolicy` (CTAP credProtect). */
export class CredProtectExtension implements Fido2Extension {
  readonly names = ["credentialProtectionPolicy", "enforceCredentialProtectionPolicy"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(ctap: { readonly info: Info }): boolean {
    return ctap.info.extensions.includes("credProtect");
  }
  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): RegistrationProcessing | undefined {
    const policy = inputs.credentialProtectionPolicy;
    if (policy === undefined) return undefined;
    const level = typeof policy === "string" ? CRED_PROTECT[policy] : undefined;
    if (level === undefined) {
      throw badRequest(`Unknown credentialProtectionPolicy ${JSON.stringify(policy)}`);
    }
    const supported = ctx.info.extensions.includes("credProtect");
    if (!supported) {
      if (inputs.enforceCredentialProtectionPolicy === true && level > 1) {
        throw unsupported("Authenticator does not support credProtect");
      }
      return undefined;
    }
    return {
      prepareInputs: () => Promise.resolve({ credProtect: level }),
      prepareOutputs: (response) => {
        const got = authExt(response, "credProtect");
        const name = Object.entries(CRED_PROTECT).find(([, v]) => v === got)?.[0];
        return Promise.resolve(name ? { credentialProtectionPolicy: name } : undefined);
      },
    };
  }
}

/** `minPinLength`: asks the authenticator to report its minimum PIN length to this RP. */
export class MinPinLengthExtension implements Fido2Extension {
  readonly names = ["minPinLength"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(ctap: { readonly info: Info }): boolean {
    return ctap.info.extensions.includes("minPinLength");
  }
  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): RegistrationProcessing | undefined {
    if (inputs.minPinLength !== true) return undefined;
    if (!ctx.info.extensions.includes("minPinLength")) return undefined;
    return {
      prepareInputs: () => Promise.resolve({ minPinLength: true }),
      prepareOutputs: (response) => {
        const v = authExt(response, "minPinLength");
        return Promise.resolve(typeof v === "number" ? { minPinLength: v } : undefined);
      },
    };
  }
}

/** `credProps`: tells the RP whether a discoverable credential was created. */
export class CredPropsExtension implements Fido2Extension {
  readonly names = ["credProps"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(_ctap: { readonly info: Info }): boolean {
    return true; // Answered by the client from the request alone.
  }
  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    _ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
    request: { readonly rk: boolean },
  ): RegistrationProcessing | undefined {
    if (inputs.credProps !== true) return undefined;
    return { prepareOutputs: () => Promise.resolve({ credProps: { rk: request.rk } }) };
  }
}

/**
 * `payment` (Secure Payment Confirmation, `payment: { isPayment: true }`, alias
 * `thirdPartyPayment: true`) over the CTAP 2.2 thirdPartyPayment extension.
 */
export class ThirdPartyPaymentExtension implements Fido2Extension {
  readonly names = ["payment", "thirdPartyPayment"];
  /** Whether the key can serve this extension (from its getInfo). */
  isSupported(ctap: { readonly info: Info }): boolean {
    return ctap.info.extensions.includes("thirdPartyPayment");
  }
  #make(ctx: ExtensionContext, inputs: Readonly<Record<string, unknown>>) {
    if (!isPaymentRequested(inputs)) return undefined;
    if (!ctx.info.extensions.includes("thirdPartyPayment")) return undefined;
    return { prepareInputs: () => Promise.resolve({ thirdPartyPayment: true }) };
  }
  /** Registration processing, or undefined when the RP sent none of this extension's inputs. */
  makeCredential(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): RegistrationProcessing | undefined {
    return this.#make(ctx, inputs);
  }
  /** Authentication processing, or undefined when the RP sent none of this extension's inputs. */
  getAssertion(
    ctx: ExtensionContext,
    inputs: Readonly<Record<string, unknown>>,
  ): AuthenticationProcessing | undefined {
    return this.#make(ctx, inputs);
  }
}

/** The extensions a `Fido2Client` handles unless told otherwise. */
export function defaultExtensions(): Fido2Extension[] {
  return [
    new HmacSecretExtension(),
    new LargeBlobExtension(),
    new CredBlobExtension(),
    new CredProtectExtension(),
    new MinPinLengthExtension(),
    new CredPropsExtension(),
    new ThirdPartyPaymentExtension(),
  ];
}

/** python-fido2's name for {@linkcode Fido2Extension}. */
export type Ctap2Extension = Fido2Extension;
/** python-fido2's name for {@linkcode RegistrationProcessing}. */
export type RegistrationExtensionProcessor = RegistrationProcessing;
/** python-fido2's name for {@linkcode AuthenticationProcessing}. */
export type AuthenticationExtensionProcessor = AuthenticationProcessing;
