/**
 * @x/fido2: a FIDO2 / WebAuthn client for Deno and Bun.
 *
 * ```ts
 * import { DefaultClientDataCollector, Fido2Client, listDevices } from "@x/fido2";
 * for await (const device of listDevices()) {
 *   const client = new Fido2Client(device, new DefaultClientDataCollector("https://example.com"));
 *   const registration = await client.makeCredential(optionsFromYourServer);
 * }
 * ```
 * @module
 */
export * from "./src/errors.ts";
export {
  type CallOptions,
  CAPABILITY,
  CTAP_STATUS,
  type CtapDevice,
  CtapError,
  type CtapProcessor,
  type RequestContext,
  STATUS,
} from "./src/ctap.ts";
export { Fido2Client, type Fido2ClientOptions } from "./src/client/fido2.ts";
export {
  type PlatformCredential,
  type Transport,
  type WebAuthnApi,
  WindowsApiError,
  WindowsClient,
  type WindowsClientOptions,
  windowsErrorCode,
} from "./src/client/windows.ts";
export {
  type ClosableClient,
  createClient,
  type CreateClientOptions,
} from "./src/client/factory.ts";
export {
  type ClientDataCollector,
  type CollectedData,
  DefaultClientDataCollector,
  type RpIdVerifier,
} from "./src/client/collector.ts";
export { UserInteraction } from "./src/client/interaction.ts";
export {
  AssertionSelection,
  type ClientAssertion,
  type ClientCallOptions,
  type CreationOptionsInput,
  type RequestOptionsInput,
  type WebAuthnClient,
} from "./src/client/selection.ts";
export { CLIENT_ERR, ClientError, PinRequiredError } from "./src/client/errors.ts";
export { AuthenticatorResponseError, type CheckedCommand } from "./src/client/validate.ts";
export {
  type AuthenticationExtensionProcessor,
  type AuthenticationProcessing,
  CredBlobExtension,
  type CredentialDescriptor,
  CredPropsExtension,
  CredProtectExtension,
  type Ctap2Extension,
  defaultExtensions,
  type ExtensionContext,
  type Fido2Extension,
  HmacSecretExtension,
  LargeBlobExtension,
  MinPinLengthExtension,
  type RegistrationExtensionProcessor,
  type RegistrationProcessing,
  ThirdPartyPaymentExtension,
  type TokenRenewer,
} from "./src/client/extensions.ts";
export { rpIdToAscii, verifyRpId } from "./src/rpid.ts";
export * from "./src/webauthn.ts";
export {
  CtapHidDevice,
  type CtapHidDeviceOptions,
  getDescriptor,
  HidAccessError,
  HidError,
  listDescriptors,
  listDevices,
  type ListDevicesOptions,
  openDevice,
  UdpHidConnection,
  type UnopenableDevice,
} from "./src/hid/mod.ts";
export {
  CardRemovedError,
  CtapPcscDevice,
  type CtapPcscDeviceOptions,
  listPcscDevices,
  type ListPcscDevicesOptions,
  NoCardError,
  NotFidoCardError,
  PcscError,
  ReaderGoneError,
  SharingViolationError,
  TransmitError,
} from "./src/pcsc/mod.ts";
