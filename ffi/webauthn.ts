/**
 * webauthn.dll binding: symbols, x64 struct marshalling and HRESULT errors. It maps plain
 * TypeScript objects to the webauthn.h structs and back and holds no protocol logic (the
 * WebAuthn-level mapping lives in `src/client/windows.ts`).
 *
 * Struct versions follow the DLL's API version: every request is built with the newest struct
 * version that API supports, and outputs are read only up to the `dwVersion` the DLL returned.
 * Every offset comes from the {@linkcode LAYOUT} table (research/windows-webauthn.md §1.5);
 * Win64 and SysV x86-64 share these layouts, so a Linux fake library exercises the same code.
 *
 * This file is the entry point; the code lives in `ffi/webauthn/`: `layout.ts` (offsets, struct
 * versions, constants), `types.ts` and `errors.ts`, `request.ts` (building requests) and
 * `result.ts` (reading results) over `marshal.ts` (the arena, accessors and validators), and
 * `api.ts` (loading the DLL, making the calls, closing).
 * @module
 */
export { LibraryLoadError } from "./runtime.ts";
export {
  HMAC_SECRET_VALUES_FLAG,
  HRESULT,
  LAYOUT,
  MAX_KNOWN_API_VERSION,
  PLATFORM_CREDENTIALS_API_VERSION,
  STRUCT_VERSIONS,
  TRANSPORTS,
} from "./webauthn/layout.ts";
export type {
  Attachment,
  AttestationConveyance,
  EnterpriseAttestation,
  LargeBlobOperation,
  LargeBlobStatus,
  LargeBlobSupport,
  Transport,
  UserVerification,
} from "./webauthn/layout.ts";
export {
  WebAuthnClosedError,
  WebAuthnCloseTimeoutError,
  WebAuthnUnsupportedError,
  WindowsApiError,
} from "./webauthn/errors.ts";
export type * from "./webauthn/types.ts";
export { CLOSE_TIMEOUT_MS, LIBRARY_ENV, loadWebAuthn } from "./webauthn/api.ts";
export type { BlockingCaller, BlockingFunction, LoadWebAuthnOptions } from "./webauthn/api.ts";
