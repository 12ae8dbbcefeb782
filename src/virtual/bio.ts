/**
 * authenticatorBioEnrollment (CTAP 2.1 §6.7, command 0x09 and the 0x40 prototype) for the
 * VirtualAuthenticator's simulated fingerprint sensor: enroll templates sample by sample,
 * list, rename and remove them with a pinUvAuthToken carrying the `be` permission.
 * @module
 */
import { type CborMap, type CborValue, encode } from "../cbor.ts";
import { CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { bytesEqual, concat, fromHex, randomBytes, toHex, utf8Encode } from "../utils.ts";
import type { CommandHandler } from "./authenticator.ts";
import { checkAuthParam } from "./auth_param.ts";
import { optional, required } from "./params.ts";
import { PERMISSION, type PinUvAuthApi, type RequestContext } from "./types.ts";

const SUB = {
  ENROLL_BEGIN: 0x01,
  ENROLL_CAPTURE_NEXT: 0x02,
  CANCEL: 0x03,
  ENUMERATE: 0x04,
  SET_NAME: 0x05,
  REMOVE: 0x06,
  SENSOR_INFO: 0x07,
} as const;

const MODALITY_FINGERPRINT = 0x01;
/** lastEnrollSampleStatus values the simulated sensor reports. */
export const SAMPLE_STATUS = { GOOD: 0x00, POOR_QUALITY: 0x07, NO_USER_ACTIVITY: 0x0d } as const;

/** A simulated finger touch during enrollment: resolves to a lastEnrollSampleStatus. */
export type CaptureSampleHook = (request: {
  readonly templateId: Uint8Array;
  readonly sample: number;
  readonly signal: AbortSignal;
}) => number | Promise<number>;

/** A template in the persisted state. */
export interface BioTemplateJson {
  /** Template ID (hex). */
  readonly id: string;
  /** Friendly name set through bio enrollment. */
  readonly name?: string;
}

/** Construction options of {@linkcode BioEnrollmentHandler}. */
export interface BioEnrollmentOptions {
  /** The PIN/UV state that verifies pinUvAuthParams. */
  readonly pinUvAuth?: PinUvAuthApi;
  /** Good samples an enrollment needs (default 4). */
  readonly samplesRequired?: number;
  /** Maximum enrolled templates (default 5); more is FP_DATABASE_FULL. */
  readonly maxTemplates?: number;
  /** maxTemplateFriendlyName in bytes (default 32). */
  readonly maxFriendlyName?: number;
  /** Decides each sample (default: a good sample at once). */
  readonly captureSample?: CaptureSampleHook;
  /** Enrolled templates at start (default: none). */
  readonly templates?: readonly BioTemplateJson[];
  /** A 2.1-PRE sensor: only userVerificationMgmtPreview (command 0x40) in getInfo. */
  readonly preview?: boolean;
}

interface Template {
  readonly id: Uint8Array;
  name?: string;
}

/** The bio enrollment command handler (register for 0x09 and 0x40). */
export class BioEnrollmentHandler implements CommandHandler {
  readonly #pin?: PinUvAuthApi;
  readonly #samples: number;
  readonly #maxTemplates: number;
  readonly #maxName: number;
  readonly #capture: CaptureSampleHook;
  readonly #preview: boolean;
  #templates: Template[];
  #enrollment?: { id: Uint8Array; remaining: number; sample: number };

  /** Starts with `options.templates` (none by default). */
  constructor(options: BioEnrollmentOptions = {}) {
    this.#pin = options.pinUvAuth;
    this.#samples = positive(options.samplesRequired ?? 4, "samplesRequired");
    this.#maxTemplates = positive(options.maxTemplates ?? 5, "maxTemplates");
    this.#maxName = positive(options.maxFriendlyName ?? 32, "maxFriendlyName");
    this.#capture = options.captureSample ?? (() => SAMPLE_STATUS.GOOD);
    this.#preview = options.preview ?? false;
    this.#templates = (options.templates ?? []).map((t) => {
      if (typeof t?.id !== "string" || (t.name !== undefined && typeof t.name !== "string")) {
        throw new FormatError("Invalid bio template state");
      }
      return { id: fromHex(t.id), name: t.name };
    });
  }

  /** bioEnroll (and the prototype's name): true once a finger is enrolled. */
  get infoOptions(): Readonly<Record<string, boolean>> {
    const enrolled = this.#templates.length > 0;
    if (this.#preview) return { userVerificationMgmtPreview: enrolled };
    return { bioEnroll: enrolled, userVerificationMgmtPreview: enrolled };
  }

  /** Whether any template is enrolled (built-in UV is usable). */
  get enrolled(): boolean {
    return this.#templates.length > 0;
  }

  /** Templates as JSON-safe data, for persistence. */
  exportState(): BioTemplateJson[] {
    return this.#templates.map((t) => ({ id: toHex(t.id), ...(t.name ? { name: t.name } : {}) }));
  }

  /** An enrollment in progress ends when another command arrives. */
  interrupt(): void {
    this.#enrollment = undefined;
  }

  async handle(params: CborMap | undefined, ctx: RequestContext): Promise<CborMap | undefined> {
    if (!params) throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "Missing parameters");
    if (optional(params, 6, "bool") === true) {
      return new Map<number, CborValue>([[1, MODALITY_FINGERPRINT]]);
    }
    const modality = required(params, 1, "uint");
    const sub = required(params, 2, "uint");
    const subParams = optional(params, 3, "map");
    const protocol = optional(params, 4, "uint");
    const param = optional(params, 5, "bytes");
    if (modality !== MODALITY_FINGERPRINT) {
      throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "Unsupported modality");
    }
    const auth = () => {
      const message = concat(
        new Uint8Array([modality, sub]),
        subParams === undefined ? new Uint8Array(0) : encode(subParams),
      );
      checkAuthParam(this.#pin, { protocol, param, message, permission: PERMISSION.BE });
    };
    if (sub !== SUB.ENROLL_CAPTURE_NEXT) this.#enrollment = undefined;
    switch (sub) {
      case SUB.SENSOR_INFO:
        // maxTemplateFriendlyName (0x08) is CTAP 2.1's: the recorded answer to libfido2's
        // prototype (0x40) request has fingerprintKind and maxCaptureSamples only.
        return new Map<number, CborValue>([
          [2, 1],
          [3, this.#samples],
          ...(this.#preview ? [] : [[8, this.#maxName] as [number, CborValue]]),
        ]);
      case SUB.ENROLL_BEGIN: {
        const timeout = subParams ? optional(subParams, 3, "uint") : undefined;
        auth();
        if (this.#templates.length >= this.#maxTemplates) {
          throw new CtapError(CtapError.ERR.FP_DATABASE_FULL);
        }
        const e = { id: randomBytes(8), remaining: this.#samples, sample: 0 };
        this.#enrollment = e;
        const status = await this.#takeSample(e, timeout, ctx);
        return new Map<number, CborValue>([[4, e.id], [5, status], [6, e.remaining]]);
      }
      case SUB.ENROLL_CAPTURE_NEXT: {
        const sp = subParams ?? missing();
        const id = required(sp, 1, "bytes");
        const timeout = optional(sp, 3, "uint");
        auth();
        const e = this.#enrollment;
        if (!e) throw new CtapError(CtapError.ERR.NOT_ALLOWED, "No enrollment in progress");
        if (!bytesEqual(id, e.id)) {
          throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "templateId mismatch");
        }
        const status = await this.#takeSample(e, timeout, ctx);
        return new Map<number, CborValue>([[5, status], [6, e.remaining]]);
      }
      case SUB.CANCEL:
        return undefined;
      case SUB.ENUMERATE: {
        auth();
        if (this.#templates.length === 0) throw new CtapError(CtapError.ERR.INVALID_OPTION);
        return new Map<number, CborValue>([[
          7,
          this.#templates.map((t) =>
            new Map<number, CborValue>(t.name ? [[1, t.id], [2, t.name]] : [[1, t.id]])
          ),
        ]]);
      }
      case SUB.SET_NAME: {
        const sp = subParams ?? missing();
        const id = required(sp, 1, "bytes");
        const name = required(sp, 2, "text");
        auth();
        if (utf8Encode(name).length > this.#maxName) {
          throw new CtapError(CtapError.ERR.INVALID_LENGTH, "Friendly name too long");
        }
        this.#template(id).name = name || undefined;
        return undefined;
      }
      case SUB.REMOVE: {
        const sp = subParams ?? missing();
        const id = required(sp, 1, "bytes");
        auth();
        const t = this.#template(id);
        this.#templates = this.#templates.filter((x) => x !== t);
        return undefined;
      }
      default:
        throw new CtapError(CtapError.ERR.INVALID_SUBCOMMAND);
    }
  }

  #template(id: Uint8Array): Template {
    const t = this.#templates.find((x) => bytesEqual(x.id, id));
    if (!t) throw new CtapError(CtapError.ERR.INVALID_OPTION, "Unknown templateId");
    return t;
  }

  /** One capture: asks the hook (with UP_NEEDED keepalives), commits after the last sample. */
  async #takeSample(
    e: { id: Uint8Array; remaining: number; sample: number },
    timeoutMs: number | undefined,
    ctx: RequestContext,
  ): Promise<number> {
    if (ctx.signal.aborted) throw new CtapError(CtapError.ERR.KEEPALIVE_CANCEL);
    ctx.keepalive(2);
    const keepalive = setInterval(() => ctx.keepalive(2), 100);
    const abort = new AbortController();
    let fail!: (e: CtapError) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    const onCancel = () => {
      abort.abort(ctx.signal.reason);
      fail(new CtapError(CtapError.ERR.KEEPALIVE_CANCEL));
    };
    ctx.signal.addEventListener("abort", onCancel, { once: true });
    const deadline = setTimeout(() => {
      abort.abort(new Error("capture timeout"));
      fail(new CtapError(CtapError.ERR.USER_ACTION_TIMEOUT));
    }, timeoutMs ?? 30_000);
    let status: number;
    try {
      status = await Promise.race([
        Promise.resolve().then(() =>
          this.#capture({ templateId: e.id, sample: e.sample, signal: abort.signal })
        ),
        failed,
      ]);
    } catch (err) {
      this.#enrollment = undefined;
      throw err;
    } finally {
      clearInterval(keepalive);
      clearTimeout(deadline);
      ctx.signal.removeEventListener("abort", onCancel);
    }
    if (!Number.isInteger(status) || status < 0 || status > 0x0e) {
      throw new CtapError(CtapError.ERR.OTHER, "Bad capture hook status");
    }
    e.sample++;
    if (status === SAMPLE_STATUS.GOOD) e.remaining--;
    if (e.remaining === 0) {
      this.#templates.push({ id: e.id });
      this.#enrollment = undefined;
    }
    return status;
  }
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new FormatError(`${what} must be an integer >= 1`);
  return n;
}

function missing(): never {
  throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "Missing subCommandParams");
}
