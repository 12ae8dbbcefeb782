/**
 * Building webauthn.dll's requests: the MakeCredential and GetAssertion argument structs and
 * their options struct in the newest version the DLL's API version supports, and the platform
 * credential list options. Every field is validated first; a field the DLL's version lacks is
 * a `WebAuthnUnsupportedError`, bad input a `FormatError`. All memory comes from the caller's
 * arena, which must outlive the call.
 * @module
 */
import { FormatError } from "../../src/errors.ts";
import {
  ATTACHMENT,
  CONVEYANCE,
  ENTERPRISE,
  HMAC_SECRET_VALUES_FLAG,
  LARGE_BLOB_OPERATION,
  LARGE_BLOB_SUPPORT,
  LAYOUT,
  STRUCT_VERSIONS,
  USER_VERIFICATION,
} from "./layout.ts";
import { WebAuthnUnsupportedError } from "./errors.ts";
import type {
  ClientDataInput,
  CoseCredentialParameter,
  GetAssertionOptions,
  MakeCredentialOptions,
  PlatformCredentialListOptions,
  RpEntity,
  UserEntity,
} from "./types.ts";
import {
  type Arena,
  boolPayload,
  checkBytes,
  checkCredentials,
  checkGuid,
  checkString,
  checkU32,
  enumValue,
  hwndAddress,
  setBool,
  setPtr,
  writeClientData,
  writeCredentialList,
  writeCredentials,
  writeExtensions,
  writeSalt,
} from "./marshal.ts";

/** What a request is built for: the DLL's API version and the (capped) one structs follow. */
export interface ApiLevel {
  /** WebAuthNGetApiVersionNumber. */
  readonly api: number;
  /** The API version struct choices are made for: `api`, at most the newest known. */
  readonly v: number;
}

/**
 * The arguments of WebAuthNAuthenticatorMakeCredential before `ppCredentialAttestation`:
 * hWnd, rp, user, parameters, client data and options.
 */
export function writeMakeCredentialRequest(
  level: ApiLevel,
  arena: Arena,
  hwnd: number | bigint,
  rp: RpEntity,
  user: UserEntity,
  pubKeyCredParams: readonly CoseCredentialParameter[],
  clientData: ClientDataInput,
  options: MakeCredentialOptions,
): number[] {
  const hwndAddr = hwndAddress(hwnd);
  // rp
  if (!rp || typeof rp !== "object") throw new FormatError("rp must be an object");
  checkString(rp.id, "rp.id");
  checkString(rp.name, "rp.name");
  if (rp.icon !== undefined) checkString(rp.icon, "rp.icon");
  const R = LAYOUT.rp;
  const rpM = arena.alloc(R.size);
  rpM.dv.setUint32(R.dwVersion, 1, true);
  setPtr(rpM.dv, R.pwszId, arena.wstr(rp.id));
  setPtr(rpM.dv, R.pwszName, arena.wstr(rp.name));
  if (rp.icon !== undefined) setPtr(rpM.dv, R.pwszIcon, arena.wstr(rp.icon));
  // user
  if (!user || typeof user !== "object") throw new FormatError("user must be an object");
  checkBytes(user.id, "user.id", { min: 1, max: 64 });
  checkString(user.name, "user.name");
  checkString(user.displayName, "user.displayName");
  if (user.icon !== undefined) checkString(user.icon, "user.icon");
  const U = LAYOUT.user;
  const userM = arena.alloc(U.size);
  userM.dv.setUint32(U.dwVersion, 1, true);
  userM.dv.setUint32(U.cbId, user.id.length, true);
  setPtr(userM.dv, U.pbId, arena.bytes(user.id));
  setPtr(userM.dv, U.pwszName, arena.wstr(user.name));
  if (user.icon !== undefined) setPtr(userM.dv, U.pwszIcon, arena.wstr(user.icon));
  setPtr(userM.dv, U.pwszDisplayName, arena.wstr(user.displayName));
  // algorithms
  if (!Array.isArray(pubKeyCredParams) || pubKeyCredParams.length === 0) {
    throw new FormatError("pubKeyCredParams must be a non-empty array");
  }
  const P = LAYOUT.coseParameter;
  const params = arena.alloc(P.size * pubKeyCredParams.length);
  pubKeyCredParams.forEach((p, i) => {
    checkString(p?.type, `pubKeyCredParams[${i}].type`);
    if (!Number.isInteger(p.alg) || p.alg < -0x80000000 || p.alg > 0x7fffffff) {
      throw new FormatError(`pubKeyCredParams[${i}].alg must be a 32-bit integer`);
    }
    params.dv.setUint32(i * P.size + P.dwVersion, 1, true);
    setPtr(params.dv, i * P.size + P.pwszCredentialType, arena.wstr(p.type));
    params.dv.setInt32(i * P.size + P.lAlg, p.alg, true);
  });
  const PS = LAYOUT.coseParameters;
  const paramsM = arena.alloc(PS.size);
  paramsM.dv.setUint32(PS.cCredentialParameters, pubKeyCredParams.length, true);
  setPtr(paramsM.dv, PS.pCredentialParameters, params.addr);
  const cdAddr = writeClientData(arena, clientData);
  const optAddr = makeCredentialOptions(level, arena, options);
  return [hwndAddr, rpM.addr, userM.addr, paramsM.addr, cdAddr, optAddr];
}

/**
 * The arguments of WebAuthNAuthenticatorGetAssertion before `ppAssertion` (hWnd, rp id,
 * client data, options), and the BOOL the DLL sets when it used the appid.
 */
export function writeGetAssertionRequest(
  level: ApiLevel,
  arena: Arena,
  hwnd: number | bigint,
  rpId: string,
  clientData: ClientDataInput,
  options: GetAssertionOptions,
): { args: number[]; appIdOut?: DataView } {
  const hwndAddr = hwndAddress(hwnd);
  checkString(rpId, "rpId");
  const rpAddr = arena.wstr(rpId);
  const cdAddr = writeClientData(arena, clientData);
  const { addr: optAddr, appIdOut } = getAssertionOptions(level, arena, options);
  return { args: [hwndAddr, rpAddr, cdAddr, optAddr], appIdOut };
}

/** WEBAUTHN_GET_CREDENTIALS_OPTIONS for WebAuthNGetPlatformCredentialList. */
export function writeGetCredentialsOptions(
  arena: Arena,
  options: PlatformCredentialListOptions,
): number {
  const L = LAYOUT.getCredentialsOptions;
  const m = arena.alloc(L.size);
  m.dv.setUint32(L.dwVersion, 1, true);
  if (options.rpId !== undefined) {
    checkString(options.rpId, "rpId");
    if (!options.rpId) throw new FormatError("rpId must not be empty");
    setPtr(m.dv, L.pwszRpId, arena.wstr(options.rpId));
  }
  setBool(m.dv, L.bBrowserInPrivateMode, options.browserInPrivateMode);
  return m.addr;
}

function need(
  level: ApiLevel,
  feature: string,
  structVersion: number,
  table: readonly number[],
): void {
  const have = table[level.v];
  if (have >= structVersion) return;
  const api = table.findIndex((v) => v >= structVersion);
  throw new WebAuthnUnsupportedError(feature, api, level.api);
}

function needApi(level: ApiLevel, feature: string, api: number): void {
  if (level.api < api) throw new WebAuthnUnsupportedError(feature, api, level.api);
}

/**
 * The members both options structs gained in the same versions (jsonExt v7, hints v8,
 * remoteWebOrigin, the options JSON and authenticatorId v9); only their offsets differ.
 */
function writeSharedTail(
  level: ApiLevel,
  dv: DataView,
  arena: Arena,
  table: readonly number[],
  o: Pick<
    MakeCredentialOptions,
    "jsonExt" | "hints" | "remoteWebOrigin" | "optionsJson" | "authenticatorId"
  >,
  L: {
    readonly cbJsonExt: number;
    readonly pbJsonExt: number;
    readonly cCredentialHints: number;
    readonly ppwszCredentialHints: number;
    readonly pwszRemoteWebOrigin: number;
    readonly cbOptionsJson: number;
    readonly pbOptionsJson: number;
    readonly cbAuthenticatorId: number;
    readonly pbAuthenticatorId: number;
  },
): void {
  const blob = (data: Uint8Array, what: string, version: number, cb: number, pb: number) => {
    need(level, what, version, table);
    checkBytes(data, what);
    dv.setUint32(cb, data.length, true);
    setPtr(dv, pb, arena.bytes(data));
  };
  if (o.jsonExt !== undefined) blob(o.jsonExt, "jsonExt", 7, L.cbJsonExt, L.pbJsonExt);
  if (o.hints?.length) {
    need(level, "hints", 8, table);
    o.hints.forEach((h, i) => checkString(h, `hints[${i}]`));
    dv.setUint32(L.cCredentialHints, o.hints.length, true);
    setPtr(dv, L.ppwszCredentialHints, arena.wstrArray(o.hints));
  }
  if (o.remoteWebOrigin !== undefined) {
    need(level, "remoteWebOrigin", 9, table);
    checkString(o.remoteWebOrigin, "remoteWebOrigin");
    setPtr(dv, L.pwszRemoteWebOrigin, arena.wstr(o.remoteWebOrigin));
  }
  if (o.optionsJson !== undefined) {
    blob(o.optionsJson, "optionsJson", 9, L.cbOptionsJson, L.pbOptionsJson);
  }
  if (o.authenticatorId !== undefined) {
    blob(o.authenticatorId, "authenticatorId", 9, L.cbAuthenticatorId, L.pbAuthenticatorId);
  }
}

function makeCredentialOptions(level: ApiLevel, arena: Arena, o: MakeCredentialOptions): number {
  if (!o || typeof o !== "object") throw new FormatError("options must be an object");
  const table = STRUCT_VERSIONS.makeCredentialOptions;
  const v = table[level.v];
  const L = LAYOUT.makeCredentialOptions;
  const m = arena.alloc(L.size);
  const dv = m.dv;
  dv.setUint32(L.dwVersion, v, true);
  dv.setUint32(L.dwTimeoutMilliseconds, checkU32(o.timeoutMs, "timeoutMs"), true);
  const exclude = checkCredentials(o.excludeCredentials, "excludeCredentials");
  // Legacy list too (Chromium does this for CTAP1 keys); the DLL prefers the EX list.
  writeCredentials(arena, dv, L.CredentialList, exclude);
  if (exclude.length) setPtr(dv, L.pExcludeCredentialList, writeCredentialList(arena, exclude));

  const x = o.extensions ?? {};
  const exts: { id: string; payload: Uint8Array }[] = [];
  if (x.hmacSecret || x.prf) exts.push({ id: "hmac-secret", payload: boolPayload() });
  if (x.credProtect !== undefined) {
    needApi(level, "credProtect", 2);
    const protect = x.credProtect.level;
    if (![0, 1, 2, 3].includes(protect)) throw new FormatError("credProtect.level must be 0..3");
    const p = new Uint8Array(LAYOUT.credProtectIn.size);
    const pdv = new DataView(p.buffer);
    pdv.setUint32(LAYOUT.credProtectIn.dwCredProtect, protect, true);
    setBool(pdv, LAYOUT.credProtectIn.bRequireCredProtect, x.credProtect.enforce);
    exts.push({ id: "credProtect", payload: p });
  }
  if (x.credBlob !== undefined) {
    needApi(level, "credBlob", 3);
    checkBytes(x.credBlob, "extensions.credBlob", { min: 1 });
    const p = new Uint8Array(LAYOUT.credBlob.size);
    const pdv = new DataView(p.buffer);
    pdv.setUint32(LAYOUT.credBlob.cbCredBlob, x.credBlob.length, true);
    setPtr(pdv, LAYOUT.credBlob.pbCredBlob, arena.bytes(x.credBlob));
    exts.push({ id: "credBlob", payload: p });
  }
  if (x.minPinLength) {
    needApi(level, "minPinLength", 3);
    exts.push({ id: "minPinLength", payload: boolPayload() });
  }
  writeExtensions(arena, dv, L.Extensions, exts);

  dv.setUint32(
    L.dwAuthenticatorAttachment,
    enumValue(ATTACHMENT, o.attachment, "attachment"),
    true,
  );
  const rkRequired = o.requireResidentKey === true || o.residentKey === "required";
  if (
    o.residentKey !== undefined &&
    !["required", "preferred", "discouraged"].includes(o.residentKey)
  ) {
    throw new FormatError(`Unknown residentKey "${o.residentKey}"`);
  }
  setBool(dv, L.bRequireResidentKey, rkRequired);
  dv.setUint32(
    L.dwUserVerificationRequirement,
    enumValue(USER_VERIFICATION, o.userVerification, "userVerification"),
    true,
  );
  dv.setUint32(
    L.dwAttestationConveyancePreference,
    enumValue(CONVEYANCE, o.attestationConveyance, "attestationConveyance"),
    true,
  );
  // v2
  checkGuid(o.cancellationId, "cancellationId");
  setPtr(dv, L.pCancellationId, arena.bytes(o.cancellationId));
  // v4
  const ep = enumValue(ENTERPRISE, o.enterpriseAttestation, "enterpriseAttestation");
  const lb = enumValue(LARGE_BLOB_SUPPORT, x.largeBlob, "largeBlob support");
  const preferRk = o.residentKey === "preferred";
  if (ep) need(level, "enterpriseAttestation", 4, table);
  if (lb) need(level, "largeBlob", 4, table);
  if (preferRk) need(level, 'residentKey "preferred"', 4, table);
  if (v >= 4) {
    dv.setUint32(L.dwEnterpriseAttestation, ep, true);
    dv.setUint32(L.dwLargeBlobSupport, lb, true);
    setBool(dv, L.bPreferResidentKey, preferRk);
  }
  // v5
  if (o.browserInPrivateMode) need(level, "browserInPrivateMode", 5, table);
  if (v >= 5) setBool(dv, L.bBrowserInPrivateMode, o.browserInPrivateMode);
  // v6
  if (x.prf) need(level, "prf", 6, table);
  if (v >= 6) setBool(dv, L.bEnablePrf, x.prf !== undefined);
  // v7
  // v8
  if (x.prf?.eval && x.hmacSecretMc) {
    throw new FormatError("prf.eval and hmacSecretMc both use pPRFGlobalEval: give one");
  }
  if (x.prf?.eval) {
    need(level, "prf.eval", 8, table);
    setPtr(dv, L.pPRFGlobalEval, writeSalt(arena, x.prf.eval, "prf.eval"));
  }
  if (x.hmacSecretMc) {
    need(level, "hmacSecretMc", 8, table);
    const s = x.hmacSecretMc;
    checkBytes(s?.first, "hmacSecretMc.first", { min: 32, max: 32 });
    if (s.second !== undefined) checkBytes(s.second, "hmacSecretMc.second", { min: 32, max: 32 });
    setPtr(dv, L.pPRFGlobalEval, writeSalt(arena, s, "hmacSecretMc"));
    dv.setUint32(L.dwFlags, HMAC_SECRET_VALUES_FLAG, true);
  }
  if (o.thirdPartyPayment) need(level, "thirdPartyPayment", 8, table);
  if (v >= 8) setBool(dv, L.bThirdPartyPayment, o.thirdPartyPayment);
  writeSharedTail(level, dv, arena, table, o, {
    ...L,
    cbOptionsJson: L.cbPublicKeyCredentialCreationOptionsJSON,
    pbOptionsJson: L.pbPublicKeyCredentialCreationOptionsJSON,
  });
  return m.addr;
}

function getAssertionOptions(
  level: ApiLevel,
  arena: Arena,
  o: GetAssertionOptions,
): { addr: number; appIdOut?: DataView } {
  if (!o || typeof o !== "object") throw new FormatError("options must be an object");
  const table = STRUCT_VERSIONS.getAssertionOptions;
  const v = table[level.v];
  const L = LAYOUT.getAssertionOptions;
  const m = arena.alloc(L.size);
  const dv = m.dv;
  dv.setUint32(L.dwVersion, v, true);
  dv.setUint32(L.dwTimeoutMilliseconds, checkU32(o.timeoutMs, "timeoutMs"), true);
  const allow = checkCredentials(o.allowCredentials, "allowCredentials");
  writeCredentials(arena, dv, L.CredentialList, allow);
  if (allow.length) setPtr(dv, L.pAllowCredentialList, writeCredentialList(arena, allow));

  const x = o.extensions ?? {};
  const exts: { id: string; payload: Uint8Array }[] = [];
  if (x.credBlob) {
    needApi(level, "credBlob", 3);
    exts.push({ id: "credBlob", payload: boolPayload() });
  }
  writeExtensions(arena, dv, L.Extensions, exts);
  dv.setUint32(
    L.dwAuthenticatorAttachment,
    enumValue(ATTACHMENT, o.attachment, "attachment"),
    true,
  );
  dv.setUint32(
    L.dwUserVerificationRequirement,
    enumValue(USER_VERIFICATION, o.userVerification, "userVerification"),
    true,
  );
  // v2: appid, with the BOOL the DLL writes back.
  let appIdOut: DataView | undefined;
  if (o.appId !== undefined) {
    checkString(o.appId, "appId");
    setPtr(dv, L.pwszU2fAppId, arena.wstr(o.appId));
    const b = arena.alloc(4);
    appIdOut = b.dv;
    setPtr(dv, L.pbU2fAppId, b.addr);
  }
  // v3
  checkGuid(o.cancellationId, "cancellationId");
  setPtr(dv, L.pCancellationId, arena.bytes(o.cancellationId));
  // v5
  if (x.largeBlob !== undefined) {
    const op = enumValue(LARGE_BLOB_OPERATION, x.largeBlob.operation, "largeBlob operation");
    if (op) need(level, "largeBlob", 5, table);
    if (op === LARGE_BLOB_OPERATION.set) {
      checkBytes(x.largeBlob.data, "largeBlob.data", { min: 1 });
      dv.setUint32(L.cbCredLargeBlob, x.largeBlob.data!.length, true);
      setPtr(dv, L.pbCredLargeBlob, arena.bytes(x.largeBlob.data));
    } else if (x.largeBlob.data !== undefined) {
      throw new FormatError('largeBlob.data is only valid with operation "set"');
    }
    if (v >= 5) dv.setUint32(L.dwCredLargeBlobOperation, op, true);
  }
  // v6
  if (x.hmacSecret) {
    need(level, "hmacSecret salts", 6, table);
    const h = x.hmacSecret;
    const S = LAYOUT.hmacSaltValues;
    const sv = arena.alloc(S.size);
    if (h.global) {
      setPtr(sv.dv, S.pGlobalHmacSalt, writeSalt(arena, h.global, "hmacSecret.global"));
    }
    const list = h.byCredential ?? [];
    if (!h.global && list.length === 0) {
      throw new FormatError("hmacSecret needs global or per-credential salts");
    }
    if (h.raw) {
      for (const s of [h.global, ...list.map((c) => c.salts)]) {
        if (!s) continue;
        if (s.first?.length !== 32 || (s.second !== undefined && s.second.length !== 32)) {
          throw new FormatError("raw hmac-secret salts must be 32 bytes");
        }
      }
      dv.setUint32(L.dwFlags, HMAC_SECRET_VALUES_FLAG, true);
    }
    if (list.length) {
      const C = LAYOUT.credWithHmacSalt;
      const arr = arena.alloc(C.size * list.length);
      list.forEach((c, i) => {
        checkBytes(c?.id, `hmacSecret.byCredential[${i}].id`, { min: 1 });
        arr.dv.setUint32(i * C.size + C.cbCredID, c.id.length, true);
        setPtr(arr.dv, i * C.size + C.pbCredID, arena.bytes(c.id));
        setPtr(
          arr.dv,
          i * C.size + C.pHmacSecretSalt,
          writeSalt(arena, c.salts, `hmacSecret.byCredential[${i}].salts`),
        );
      });
      sv.dv.setUint32(S.cCredWithHmacSecretSaltList, list.length, true);
      setPtr(sv.dv, S.pCredWithHmacSecretSaltList, arr.addr);
    }
    setPtr(dv, L.pHmacSecretSaltValues, sv.addr);
  }
  if (o.browserInPrivateMode) need(level, "browserInPrivateMode", 6, table);
  if (v >= 6) setBool(dv, L.bBrowserInPrivateMode, o.browserInPrivateMode);
  // v7
  if (o.autoFill) need(level, "autoFill", 7, table);
  if (v >= 7) setBool(dv, L.bAutoFill, o.autoFill);
  writeSharedTail(level, dv, arena, table, o, {
    ...L,
    cbOptionsJson: L.cbPublicKeyCredentialRequestOptionsJSON,
    pbOptionsJson: L.pbPublicKeyCredentialRequestOptionsJSON,
  });
  return { addr: m.addr, appIdOut };
}
