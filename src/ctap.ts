/**
 * The transport-neutral device interface (client side), the command-processor interface
 * (authenticator side) and CTAP status codes.
 * @module
 */

/** Options accepted by every long-running device call. */
export interface CallOptions {
  /** Aborting sends CTAPHID_CANCEL and rejects with `AbortError` once the device answers. */
  readonly signal?: AbortSignal;
  /** Called once per keepalive status change (1 = PROCESSING, 2 = UP_NEEDED). */
  readonly onKeepalive?: (status: number) => void;
}

/** A device that speaks CTAP: a USB HID key, the virtual authenticator, a UDP simulator. */
export interface CtapDevice {
  /** CAPABILITY bit flags reported by the device (see {@linkcode CAPABILITY}). */
  readonly capabilities: number;
  /** Sends one CTAPHID command and resolves with the response payload. */
  call(cmd: number, data?: Uint8Array, opts?: CallOptions): Promise<Uint8Array>;
  /** Releases the device; calling it twice is harmless. */
  close(): Promise<void> | void;
  /**
   * Power-cycles the authenticator and connects again, where the transport can (an NFC key:
   * `CtapPcscDevice`). `Fido2Client` uses it to recover from PIN_AUTH_BLOCKED, which lasts
   * until the key loses power.
   */
  reconnect?(): Promise<void>;
  /**
   * The AuthenticatorTransport the device is reached over ("usb", "nfc", "smart-card"…), when
   * the transport knows; registrations report it in `response.transports`.
   */
  readonly transport?: string;
}

/** Per-request context a front end (CTAPHID, UDP, smart card) gives the command layer. */
export interface RequestContext {
  /** Aborted when the client sends CTAPHID_CANCEL for this request (or the device closes). */
  readonly signal: AbortSignal;
  /** Sends a CTAPHID KEEPALIVE with `status` (1 = PROCESSING, 2 = UP_NEEDED). */
  keepalive(status: number): void;
}

/**
 * The authenticator side of CTAP: what a front end (the CTAPHID server, the UDP simulator
 * socket, a smart card emulation) serves. The VirtualAuthenticator's core implements it; it
 * lives here so transports depend on this contract, never on the virtual key.
 */
export interface CtapProcessor {
  /** CTAPHID capability flags for the INIT response (WINK 1, CBOR 4, NMSG 8). */
  readonly capabilities: number;
  /** Device version (major, minor, build) for the INIT response. */
  readonly deviceVersion: readonly [number, number, number];
  /**
   * Whether CTAPHID_CBOR is served (default: the CBOR capability bit). Some U2F-only keys set
   * the bit and still answer CTAPHID_CBOR with ERR_INVALID_CMD.
   */
  readonly cbor?: boolean;
  /** CTAPHID_CBOR: `request` = command byte ‖ CBOR; resolves with status byte ‖ CBOR. */
  processCbor(request: Uint8Array, ctx: RequestContext): Promise<Uint8Array>;
  /** CTAPHID_MSG: a U2F APDU; resolves with response data ‖ SW1 SW2. */
  processMsg(apdu: Uint8Array, ctx: RequestContext): Promise<Uint8Array>;
  /** CTAPHID_WINK. */
  wink?(): void;
  /**
   * The authenticator lost power (an NFC key left the field, a reader powered the card down
   * or reset it): volatile state goes as CTAP 2.1 §6.5.2.2 says, persistent state stays.
   */
  powerCycle?(): void;
  /**
   * A front end serves the processor over `transport` (an AuthenticatorTransport such as
   * "nfc"), so getInfo `transports` can list what the key is really reachable over.
   */
  servedOver?(transport: string): void;
}

/** CTAPHID capability flags (INIT response byte 16). */
export const CAPABILITY = {
  WINK: 0x01,
  LOCK: 0x02,
  CBOR: 0x04,
  NMSG: 0x08,
} as const;

/** Keepalive status values. */
export const STATUS = {
  PROCESSING: 1,
  UPNEEDED: 2,
} as const;

/** Every CTAP status code by name (CTAP 2.3 §8.2 plus CTAP1/HID codes). */
export const CTAP_STATUS = {
  SUCCESS: 0x00,
  INVALID_COMMAND: 0x01,
  INVALID_PARAMETER: 0x02,
  INVALID_LENGTH: 0x03,
  INVALID_SEQ: 0x04,
  TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  LOCK_REQUIRED: 0x0a,
  INVALID_CHANNEL: 0x0b,
  CBOR_UNEXPECTED_TYPE: 0x11,
  INVALID_CBOR: 0x12,
  MISSING_PARAMETER: 0x14,
  LIMIT_EXCEEDED: 0x15,
  UNSUPPORTED_EXTENSION: 0x16,
  FP_DATABASE_FULL: 0x17,
  LARGE_BLOB_STORAGE_FULL: 0x18,
  CREDENTIAL_EXCLUDED: 0x19,
  PROCESSING: 0x21,
  INVALID_CREDENTIAL: 0x22,
  USER_ACTION_PENDING: 0x23,
  OPERATION_PENDING: 0x24,
  NO_OPERATIONS: 0x25,
  UNSUPPORTED_ALGORITHM: 0x26,
  OPERATION_DENIED: 0x27,
  KEY_STORE_FULL: 0x28,
  NOT_BUSY: 0x29,
  NO_OPERATION_PENDING: 0x2a,
  UNSUPPORTED_OPTION: 0x2b,
  INVALID_OPTION: 0x2c,
  KEEPALIVE_CANCEL: 0x2d,
  NO_CREDENTIALS: 0x2e,
  USER_ACTION_TIMEOUT: 0x2f,
  NOT_ALLOWED: 0x30,
  PIN_INVALID: 0x31,
  PIN_BLOCKED: 0x32,
  PIN_AUTH_INVALID: 0x33,
  PIN_AUTH_BLOCKED: 0x34,
  PIN_NOT_SET: 0x35,
  PUAT_REQUIRED: 0x36,
  PIN_POLICY_VIOLATION: 0x37,
  PIN_TOKEN_EXPIRED: 0x38,
  REQUEST_TOO_LARGE: 0x39,
  ACTION_TIMEOUT: 0x3a,
  UP_REQUIRED: 0x3b,
  UV_BLOCKED: 0x3c,
  INTEGRITY_FAILURE: 0x3d,
  INVALID_SUBCOMMAND: 0x3e,
  UV_INVALID: 0x3f,
  UNAUTHORIZED_PERMISSION: 0x40,
  OTHER: 0x7f,
  SPEC_LAST: 0xdf,
  EXTENSION_FIRST: 0xe0,
  EXTENSION_LAST: 0xef,
  VENDOR_FIRST: 0xf0,
  VENDOR_LAST: 0xff,
} as const;

/** Name of a CTAP status code (`UNKNOWN_ERR` for unassigned values). */
export type CtapStatusName = keyof typeof CTAP_STATUS;

const NAMES: Map<number, string> = new Map();
for (const [name, code] of Object.entries(CTAP_STATUS)) {
  if (!NAMES.has(code)) NAMES.set(code, name);
}

/** Returns the name of a status code, e.g. `PIN_INVALID` for 0x31. */
export function ctapStatusName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_ERR`;
}

/** A non-zero CTAP status returned by an authenticator (or raised locally with the same meaning). */
export class CtapError extends Error {
  /** Fixed, so `err.name` identifies the class even after bundling or minification. */
  override name = "CtapError";
  /** Status codes by name, e.g. `CtapError.ERR.PIN_INVALID`. */
  static readonly ERR: typeof CTAP_STATUS = CTAP_STATUS;
  /** The status byte. */
  readonly code: number;
  /** `message` defaults to the code and its status name. */
  constructor(code: number, message?: string, options?: { cause?: unknown }) {
    const name = ctapStatusName(code);
    super(
      message ?? `CTAP error: 0x${code.toString(16).padStart(2, "0")} - ${name}`,
      options,
    );
    this.code = code;
  }
  /** The status code's name, e.g. `PIN_INVALID`. */
  get statusName(): string {
    return ctapStatusName(this.code);
  }
}

/** A short description of a wrongly typed argument, for misuse errors. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "object" && typeof (value as { then?: unknown }).then === "function") {
    return "a Promise";
  }
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 60))}`;
  if (typeof value !== "object") return `${typeof value} ${String(value)}`;
  const name = (value as object).constructor?.name;
  return name && name !== "Object" ? `a ${name}` : "a plain object";
}

/** True when `value` has what every `CtapDevice` has: `call`, `close` and `capabilities`. */
export function isCtapDevice(value: unknown): value is CtapDevice {
  if (typeof value !== "object" || value === null) return false;
  const d = value as Partial<CtapDevice>;
  return typeof d.call === "function" && typeof d.close === "function" &&
    typeof d.capabilities === "number";
}

/**
 * Throws a `TypeError` naming what `who` was given and what it expects when `device` is not
 * a `CtapDevice`; a Promise (a forgotten `await`) is called out as such.
 */
export function assertCtapDevice(device: unknown, who: string): asserts device is CtapDevice {
  if (isCtapDevice(device)) return;
  const got = describeValue(device);
  const hint = got === "a Promise"
    ? " Did you forget `await` (e.g. `await va.device()`, `await CtapHidDevice.open(...)`)?"
    : "";
  throw new TypeError(
    `${who} expects a CtapDevice (an object with call(), close() and numeric capabilities), ` +
      `got ${got}.${hint}`,
  );
}

/**
 * Throws a `TypeError` when `ctap` is not a ready `Ctap2` (an object with `sendCbor` and the
 * key's `info`), e.g. a Promise from `Ctap2.create` that was not awaited.
 */
export function assertCtap2(ctap: unknown, who: string): void {
  const c = ctap as { sendCbor?: unknown; info?: unknown } | null;
  if (
    typeof c === "object" && c !== null && typeof c.sendCbor === "function" &&
    typeof c.info === "object" && c.info !== null
  ) return;
  const got = describeValue(ctap);
  const hint = got === "a Promise" ? " Did you forget `await` on `Ctap2.create(device)`?" : "";
  throw new TypeError(
    `${who} expects a Ctap2 (from \`await Ctap2.create(device)\`), got ${got}.${hint}`,
  );
}
