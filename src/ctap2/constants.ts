/**
 * CTAP2 command and sub-command numbers, shared by the client (`Ctap2`, `ClientPin`) and the
 * virtual authenticator so the two sides cannot drift apart.
 * @module
 */

/** CTAP2 command bytes (CTAP 2.1 §6). */
export const CMD = {
  MAKE_CREDENTIAL: 0x01,
  GET_ASSERTION: 0x02,
  GET_INFO: 0x04,
  CLIENT_PIN: 0x06,
  RESET: 0x07,
  GET_NEXT_ASSERTION: 0x08,
  BIO_ENROLLMENT: 0x09,
  CREDENTIAL_MGMT: 0x0a,
  SELECTION: 0x0b,
  LARGE_BLOBS: 0x0c,
  CONFIG: 0x0d,
  BIO_ENROLLMENT_PRE: 0x40,
  CREDENTIAL_MGMT_PRE: 0x41,
} as const;

/** authenticatorClientPIN sub-commands (CTAP 2.1 §6.5.5). */
export const CLIENT_PIN_SUB = {
  GET_PIN_RETRIES: 0x01,
  GET_KEY_AGREEMENT: 0x02,
  SET_PIN: 0x03,
  CHANGE_PIN: 0x04,
  GET_PIN_TOKEN: 0x05,
  GET_TOKEN_USING_UV: 0x06,
  GET_UV_RETRIES: 0x07,
  GET_TOKEN_USING_PIN: 0x09,
} as const;

/** authenticatorCredentialManagement sub-commands (CTAP 2.1 §6.8). */
export const CREDENTIAL_MGMT_SUB = {
  GET_CREDS_METADATA: 0x01,
  ENUMERATE_RPS_BEGIN: 0x02,
  ENUMERATE_RPS_NEXT: 0x03,
  ENUMERATE_CREDS_BEGIN: 0x04,
  ENUMERATE_CREDS_NEXT: 0x05,
  DELETE_CREDENTIAL: 0x06,
  UPDATE_USER_INFO: 0x07,
} as const;

/**
 * Most items one enumeration may announce (numberOfCredentials, totalRPs, totalCredentials).
 * The spec sets no maximum, but every one of them costs a round trip and a kept response: a
 * lying count would otherwise loop and allocate without end. Real authenticators store at
 * most a few hundred discoverable credentials.
 */
export const MAX_ENUMERATION = 1024;
