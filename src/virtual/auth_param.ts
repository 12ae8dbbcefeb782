/**
 * The pinUvAuthParam check the management commands (credential management, large blobs,
 * config, bio enrollment) share, so each reports missing or bad auth with the same statuses.
 * @module
 */
import { CtapError } from "../ctap.ts";
import type { PinUvAuthApi } from "./types.ts";

/**
 * Checks a management command's pinUvAuthParam over `message` with `permission`: absent
 * param → PUAT_REQUIRED, absent protocol → MISSING_PARAMETER, unsupported protocol →
 * INVALID_PARAMETER, then {@linkcode PinUvAuthApi.verifyToken}'s statuses (PIN_AUTH_INVALID
 * for a bad parameter, a missing permission or another RP; PIN_TOKEN_EXPIRED).
 */
export function checkAuthParam(
  pin: PinUvAuthApi | undefined,
  args: {
    readonly protocol: number | undefined;
    readonly param: Uint8Array | undefined;
    readonly message: Uint8Array;
    readonly permission: number;
    readonly rpId?: string;
  },
): void {
  if (args.param === undefined) {
    throw new CtapError(CtapError.ERR.PUAT_REQUIRED, "pinUvAuthParam required");
  }
  if (args.protocol === undefined) {
    throw new CtapError(CtapError.ERR.MISSING_PARAMETER, "pinUvAuthProtocol missing");
  }
  if (!pin || !pin.protocols.includes(args.protocol)) {
    throw new CtapError(CtapError.ERR.INVALID_PARAMETER, "Unsupported pinUvAuthProtocol");
  }
  // The token's UV flag is not required: lbw outlives the getAssertion that consumed it.
  pin.verifyToken({
    protocol: args.protocol,
    param: args.param,
    message: args.message,
    permission: args.permission,
    rpId: args.rpId,
  });
}
