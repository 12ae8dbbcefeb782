/**
 * authenticatorBioEnrollment (CTAP 2.3 §6.7): fingerprint enrollment and template management.
 * @module
 */
import { type CborMap, encode } from "../cbor.ts";
import { assertCtap2, type CallOptions, CTAP_STATUS, CtapError } from "../ctap.ts";
import { FormatError } from "../errors.ts";
import { concat } from "../utils.ts";
import type { Ctap2, PinAuth } from "./base.ts";
import type { Info } from "./info.ts";

/** Fingerprint sample status (lastEnrollSampleStatus). */
export const CaptureStatus = {
  FP_GOOD: 0x00,
  FP_TOO_HIGH: 0x01,
  FP_TOO_LOW: 0x02,
  FP_TOO_LEFT: 0x03,
  FP_TOO_RIGHT: 0x04,
  FP_TOO_FAST: 0x05,
  FP_TOO_SLOW: 0x06,
  FP_POOR_QUALITY: 0x07,
  FP_TOO_SKEWED: 0x08,
  FP_TOO_SHORT: 0x09,
  FP_MERGE_FAILURE: 0x0a,
  FP_EXISTS: 0x0b,
  FP_DATABASE_FULL: 0x0c,
  NO_USER_ACTIVITY: 0x0d,
  NO_UP_TRANSITION: 0x0e,
} as const;

const STATUS_NAMES = new Map<number, string>(
  Object.entries(CaptureStatus).map(([k, v]) => [v, k]),
);

/** A fingerprint sample was rejected; `code` is a {@linkcode CaptureStatus} value. */
export class CaptureError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "CaptureError";
  /** `code` is the {@linkcode CaptureStatus} the sensor reported. */
  constructor(readonly code: number) {
    super(`Fingerprint capture error: ${STATUS_NAMES.get(code) ?? `0x${code.toString(16)}`}`);
  }
}

/** Result of one enrollment sample. */
export interface CaptureResult {
  /** A {@linkcode CaptureStatus} value. */
  readonly status: number;
  /** Good samples still needed. */
  readonly remaining: number;
}

/** A stored fingerprint template. */
export interface TemplateInfo {
  /** Template ID, for setName / removeEnrollment. */
  readonly templateId: Uint8Array;
  /** Friendly name, when one was set. */
  readonly name?: string;
}

function uint(m: CborMap, key: number, what: string): number {
  const v = m.get(key);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new FormatError(`bioEnrollment: ${what} must be an unsigned integer`);
  }
  return v;
}

/** Common part of biometric enrollment: the modality and the authenticated call. */
export class BioEnrollment {
  /** Response keys. */
  static readonly RESULT = {
    MODALITY: 0x01,
    FINGERPRINT_KIND: 0x02,
    MAX_SAMPLES_REQUIRED: 0x03,
    TEMPLATE_ID: 0x04,
    LAST_SAMPLE_STATUS: 0x05,
    REMAINING_SAMPLES: 0x06,
    TEMPLATE_INFOS: 0x07,
    MAX_TEMPLATE_FRIENDLY_NAME: 0x08,
  } as const;
  /** Template info keys. */
  static readonly TEMPLATE_INFO = { ID: 0x01, NAME: 0x02 } as const;
  /** Modalities. */
  static readonly MODALITY = { FINGERPRINT: 0x01 } as const;

  /** Commands go through `ctap` for the given `modality`. */
  constructor(readonly ctap: Ctap2, readonly modality: number) {
    assertCtap2(ctap, "new BioEnrollment(ctap)");
  }

  /** The authenticator supports bio enrollment (final or 2.1 prototype). */
  static isSupported(info: Info): boolean {
    if ("bioEnroll" in info.options) return true;
    return info.versions.includes("FIDO_2_1_PRE") && "userVerificationMgmtPreview" in info.options;
  }

  /** Asks the authenticator for its modality. */
  async getModality(opts?: CallOptions): Promise<number> {
    const r = await this.ctap.bioEnrollment({ getModality: true }, opts);
    return uint(r, BioEnrollment.RESULT.MODALITY, "modality");
  }
}

/** Fingerprint enrollment with a pinUvAuthToken carrying the `be` permission. */
export class FPBioEnrollment extends BioEnrollment {
  /** Sub-commands. */
  static readonly CMD = {
    ENROLL_BEGIN: 0x01,
    ENROLL_CAPTURE_NEXT: 0x02,
    ENROLL_CANCEL: 0x03,
    ENUMERATE_ENROLLMENTS: 0x04,
    SET_NAME: 0x05,
    REMOVE_ENROLLMENT: 0x06,
    GET_SENSOR_INFO: 0x07,
  } as const;
  /** Sub-command parameter keys. */
  static readonly PARAM = { TEMPLATE_ID: 0x01, TEMPLATE_NAME: 0x02, TIMEOUT_MS: 0x03 } as const;

  /** `pinUvToken` needs the bioEnrollment permission. */
  constructor(ctap: Ctap2, readonly protocol: PinAuth, readonly pinUvToken: Uint8Array) {
    super(ctap, BioEnrollment.MODALITY.FINGERPRINT);
  }

  /** Builds the helper after checking that the authenticator's modality is fingerprint. */
  static async create(
    ctap: Ctap2,
    protocol: PinAuth,
    pinUvToken: Uint8Array,
    opts?: CallOptions,
  ): Promise<FPBioEnrollment> {
    const bio = new FPBioEnrollment(ctap, protocol, pinUvToken);
    const modality = await bio.getModality(opts);
    if (modality !== BioEnrollment.MODALITY.FINGERPRINT) {
      throw new CtapError(
        CTAP_STATUS.INVALID_OPTION,
        `Authenticator modality ${modality} is not fingerprint`,
      );
    }
    return bio;
  }

  async #call(
    subCmd: number,
    params?: Map<number, unknown>,
    auth = true,
    opts?: CallOptions,
  ): Promise<CborMap> {
    let pinUvAuthParam: Uint8Array | undefined;
    if (auth) {
      // modality ‖ subCommand ‖ cbor(subCommandParams)
      const message = concat(
        new Uint8Array([this.modality, subCmd]),
        params === undefined ? new Uint8Array(0) : encode(params),
      );
      pinUvAuthParam = await this.protocol.authenticate(this.pinUvToken, message);
    }
    return await this.ctap.bioEnrollment({
      modality: this.modality,
      subCommand: subCmd,
      subCommandParams: params,
      pinUvAuthProtocol: auth ? this.protocol.version : undefined,
      pinUvAuthParam,
    }, opts);
  }

  /** Sensor kind and samples needed per enrollment (no token needed). */
  async getFingerprintSensorInfo(
    opts?: CallOptions,
  ): Promise<
    {
      fingerprintKind: number;
      maxCaptureSamplesRequiredForEnroll: number;
      maxTemplateFriendlyName?: number;
    }
  > {
    const r = await this.#call(FPBioEnrollment.CMD.GET_SENSOR_INFO, undefined, false, opts);
    const R = BioEnrollment.RESULT;
    const out = {
      fingerprintKind: uint(r, R.FINGERPRINT_KIND, "fingerprintKind"),
      maxCaptureSamplesRequiredForEnroll: uint(r, R.MAX_SAMPLES_REQUIRED, "maxCaptureSamples"),
    };
    return r.has(R.MAX_TEMPLATE_FRIENDLY_NAME)
      ? {
        ...out,
        maxTemplateFriendlyName: uint(r, R.MAX_TEMPLATE_FRIENDLY_NAME, "maxTemplateFriendlyName"),
      }
      : out;
  }

  /** Starts an enrollment and takes the first sample. */
  async enrollBegin(
    timeoutMs?: number,
    opts?: CallOptions,
  ): Promise<CaptureResult & { templateId: Uint8Array }> {
    const params = timeoutMs === undefined
      ? undefined
      : new Map([[FPBioEnrollment.PARAM.TIMEOUT_MS, timeoutMs]]);
    const r = await this.#call(FPBioEnrollment.CMD.ENROLL_BEGIN, params, true, opts);
    const templateId = r.get(BioEnrollment.RESULT.TEMPLATE_ID);
    if (!(templateId instanceof Uint8Array)) {
      throw new FormatError("bioEnrollment: templateId must be a byte string");
    }
    return { templateId, ...capture(r) };
  }

  /** Takes the next sample of an enrollment in progress. */
  async enrollCaptureNext(
    templateId: Uint8Array,
    timeoutMs?: number,
    opts?: CallOptions,
  ): Promise<CaptureResult> {
    const P = FPBioEnrollment.PARAM;
    const params = new Map<number, unknown>([[P.TEMPLATE_ID, templateId]]);
    if (timeoutMs !== undefined) params.set(P.TIMEOUT_MS, timeoutMs);
    return capture(await this.#call(FPBioEnrollment.CMD.ENROLL_CAPTURE_NEXT, params, true, opts));
  }

  /** Cancels the enrollment in progress (no token needed). */
  async enrollCancel(opts?: CallOptions): Promise<void> {
    await this.#call(FPBioEnrollment.CMD.ENROLL_CANCEL, undefined, false, opts);
  }

  /** A context that drives an enrollment one sample at a time. */
  enroll(timeoutMs?: number): FPEnrollmentContext {
    return new FPEnrollmentContext(this, timeoutMs);
  }

  /** Stored templates (none → empty list). */
  async enumerateEnrollments(opts?: CallOptions): Promise<TemplateInfo[]> {
    let r: CborMap;
    try {
      r = await this.#call(FPBioEnrollment.CMD.ENUMERATE_ENROLLMENTS, undefined, true, opts);
    } catch (e) {
      if (e instanceof CtapError && e.code === CTAP_STATUS.INVALID_OPTION) return [];
      throw e;
    }
    const infos = r.get(BioEnrollment.RESULT.TEMPLATE_INFOS);
    if (infos === undefined) return [];
    if (!Array.isArray(infos)) {
      throw new FormatError("bioEnrollment: templateInfos must be an array");
    }
    return infos.map((t) => {
      const id = t instanceof Map ? t.get(1) : undefined;
      const name = t instanceof Map ? t.get(2) : undefined;
      if (!(id instanceof Uint8Array) || (name !== undefined && typeof name !== "string")) {
        throw new FormatError("bioEnrollment: malformed templateInfo");
      }
      return name === undefined ? { templateId: id } : { templateId: id, name };
    });
  }

  /** Names a template. */
  async setName(templateId: Uint8Array, name: string, opts?: CallOptions): Promise<void> {
    const P = FPBioEnrollment.PARAM;
    await this.#call(
      FPBioEnrollment.CMD.SET_NAME,
      new Map<number, unknown>([[P.TEMPLATE_ID, templateId], [P.TEMPLATE_NAME, name]]),
      true,
      opts,
    );
  }

  /** Deletes a template. */
  async removeEnrollment(templateId: Uint8Array, opts?: CallOptions): Promise<void> {
    await this.#call(
      FPBioEnrollment.CMD.REMOVE_ENROLLMENT,
      new Map([[FPBioEnrollment.PARAM.TEMPLATE_ID, templateId]]),
      true,
      opts,
    );
  }
}

function capture(r: CborMap): CaptureResult {
  return {
    status: uint(r, BioEnrollment.RESULT.LAST_SAMPLE_STATUS, "lastEnrollSampleStatus"),
    remaining: uint(r, BioEnrollment.RESULT.REMAINING_SAMPLES, "remainingSamples"),
  };
}

/** Drives one enrollment: call `capture()` until it returns the template ID. */
export class FPEnrollmentContext {
  /** The template being enrolled (after the first capture). */
  templateId?: Uint8Array;
  /** Good samples still needed (after the first capture). */
  remaining?: number;

  /** `timeoutMs` bounds each sample; the authenticator's default when absent. */
  constructor(readonly bio: FPBioEnrollment, readonly timeoutMs?: number) {}

  /**
   * Takes one sample. Resolves undefined while more are needed and the template ID when the
   * enrollment is complete; a bad sample is a {@linkcode CaptureError} (capture again).
   */
  async capture(opts?: CallOptions): Promise<Uint8Array | undefined> {
    let result: CaptureResult;
    if (this.templateId === undefined) {
      const r = await this.bio.enrollBegin(this.timeoutMs, opts);
      this.templateId = r.templateId;
      result = r;
    } else {
      result = await this.bio.enrollCaptureNext(this.templateId, this.timeoutMs, opts);
    }
    this.remaining = result.remaining;
    if (result.status !== CaptureStatus.FP_GOOD) throw new CaptureError(result.status);
    return result.remaining === 0 ? this.templateId : undefined;
  }

  /** Cancels the enrollment. */
  async cancel(opts?: CallOptions): Promise<void> {
    await this.bio.enrollCancel(opts);
  }
}
