/**
 * What every example shares: pick a device (the first USB key, or the VirtualAuthenticator
 * with `--virtual`, `FIDO2_VIRTUAL=1` or when no key is found) and talk to the person in front
 * of it on the console (touch prompts, the PIN from `FIDO2_PIN` or a prompt). On Windows the
 * WebAuthn-only examples (`npm run demo`) go through `createClient`, i.e. webauthn.dll, which
 * a non-elevated process needs to reach security keys and Windows Hello.
 *
 * Not part of the library: examples import it so that each of them shows only its topic.
 * @module
 */
import process from "node:process";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from "@simplewebauthn/server";
import {
  type AssertionSelection,
  ClientError,
  type ClosableClient,
  createClient,
  type CtapDevice,
  CtapError,
  DefaultClientDataCollector,
  Fido2Client,
  type Fido2Extension,
  listDevices,
  type RegistrationResponse,
  UserInteraction,
  type WebAuthnClient,
} from "../mod.ts";
import { VirtualAuthenticator, type VirtualAuthenticatorOptions } from "../src/virtual/mod.ts";
import { getEnv, platform } from "../ffi/runtime.ts";
import { toHex } from "../src/utils.ts";

/** The origin and RP ID every example registers for. */
export const ORIGIN = "https://example.com";
/** The RP ID matching {@linkcode ORIGIN}. */
export const RP_ID = "example.com";

/** Command-line arguments after the script name. */
export const args: readonly string[] = process.argv.slice(2);

/** Whether `--virtual` (or `FIDO2_VIRTUAL=1`) asks for the VirtualAuthenticator. */
export function wantsVirtual(): boolean {
  return args.includes("--virtual") || getEnv("FIDO2_VIRTUAL") === "1";
}

/**
 * Console prompts. With a virtual authenticator whose PIN the example set itself, the PIN is
 * answered without asking (and printed), so `--virtual` runs need no input.
 */
export class ConsoleInteraction extends UserInteraction {
  constructor(readonly knownPin?: string) {
    super();
  }
  override promptUp(): void {
    console.log("  Touch your security key…");
  }
  override requestPin(_permissions?: number, _rpId?: string): string | undefined {
    if (this.knownPin !== undefined) {
      console.log(`  (PIN of the virtual authenticator: ${this.knownPin})`);
      return this.knownPin;
    }
    const pin = getEnv("FIDO2_PIN") ?? prompt("  Enter the key's PIN:") ?? undefined;
    return pin || undefined;
  }
  override requestUv(): boolean {
    console.log("  Verify with your fingerprint on the key…");
    return true;
  }
}

/** The device an example runs against. */
export interface ExampleDevice {
  readonly device: CtapDevice;
  /** "USB key …" or "the built-in virtual authenticator". */
  readonly label: string;
  /** The VirtualAuthenticator, when that is what is used. */
  readonly virtual?: VirtualAuthenticator;
  /** Console prompts that know the virtual authenticator's PIN. */
  readonly interaction: ConsoleInteraction;
}

/** Options of {@linkcode openExampleDevice}. */
export interface OpenOptions {
  /** How to configure the VirtualAuthenticator (a PIN, built-in UV…). */
  readonly virtual?: VirtualAuthenticatorOptions;
  /** Delay before the simulated touch, so the touch prompt shows first (default 300 ms). */
  readonly touchDelayMs?: number;
}

/**
 * The first USB key hidapi finds, unless `--virtual` is given; without a key (or without
 * hidapi) the VirtualAuthenticator, with a notice saying so.
 */
export async function openExampleDevice(options: OpenOptions = {}): Promise<ExampleDevice> {
  if (!wantsVirtual()) {
    try {
      for await (const device of listDevices()) {
        return {
          device,
          label: `USB key ${device.descriptor.productName ?? device.descriptor.path}`,
          interaction: new ConsoleInteraction(),
        };
      }
      console.log("No USB security key found.");
    } catch (e) {
      console.log(`USB keys unavailable (${(e as Error).message.split("\n")[0]}).`);
    }
  }
  const delay = options.touchDelayMs ?? 300;
  const virtual = new VirtualAuthenticator({
    // Let the client's "touch your key" prompt show before the simulated touch.
    userPresence: async () => {
      await new Promise((r) => setTimeout(r, delay));
      console.log("  (virtual authenticator: touched)");
      return "approve" as const;
    },
    ...options.virtual,
  });
  return {
    device: await virtual.device(),
    label: "the built-in virtual authenticator",
    virtual,
    interaction: new ConsoleInteraction(options.virtual?.pin),
  };
}

/** A `Fido2Client` for {@linkcode ORIGIN} with the console prompts of `dev`. */
export function exampleClient(
  dev: ExampleDevice,
  extensions?: readonly Fido2Extension[],
): Fido2Client {
  return new Fido2Client(
    dev.device,
    new DefaultClientDataCollector(ORIGIN),
    dev.interaction,
    extensions,
  );
}

/** Prints an error the way a user can act on it (with its cause) and sets exit code 1. */
export function reportFailure(e: unknown): void {
  if (e instanceof ClientError) {
    console.error(
      `Failed: ${e.message}${e.cause ? ` (cause: ${(e.cause as Error).message})` : ""}`,
    );
  } else if (e instanceof CtapError) {
    console.error(`Failed: the authenticator answered ${e.message}`);
  } else if (e instanceof Error) {
    // The stack is noise for the expected failures (no PIN, unsupported feature…).
    console.error(`Failed: ${e.message}`);
    if (getEnv("FIDO2_DEBUG")) console.error(e.stack);
  } else console.error("Failed:", e);
  process.exitCode = 1;
}

/**
 * Opens the device, prints which one is used, runs `body`, reports a failure, closes the
 * device: the frame of every example.
 */
export async function runExample(
  options: OpenOptions,
  body: (dev: ExampleDevice) => Promise<void>,
): Promise<void> {
  const dev = await openExampleDevice(options);
  console.log(`Using ${dev.label}.`);
  try {
    await body(dev);
  } catch (e) {
    reportFailure(e);
  } finally {
    await dev.device.close();
  }
}

/** A client that only runs WebAuthn ceremonies, and what it is. */
export interface ExampleClient {
  readonly client: WebAuthnClient;
  readonly label: string;
  close(): Promise<void>;
}

/**
 * On Windows (unless `--virtual`): `createClient`, so webauthn.dll with Windows' own dialogs
 * (a USB key over hidapi only when webauthn.dll is missing); undefined when it finds no
 * authenticator. Elsewhere undefined: the caller opens a device as the other examples do.
 */
export async function openWindowsExampleClient(): Promise<ExampleClient | undefined> {
  if (platform() !== "win32" || wantsVirtual()) return undefined;
  let client: ClosableClient;
  try {
    client = await createClient(new DefaultClientDataCollector(ORIGIN), {
      userInteraction: new ConsoleInteraction(),
    });
  } catch (e) {
    console.log(`No authenticator through Windows (${(e as Error).message.split("\n")[0]}).`);
    return undefined;
  }
  const label = client instanceof Fido2Client
    ? "a USB key (webauthn.dll is unavailable)"
    : "Windows' security dialog (webauthn.dll: security keys and Windows Hello)";
  return { client, label, close: () => client.close() };
}

/**
 * The frame of the WebAuthn-only examples: webauthn.dll on Windows, else the device
 * {@linkcode runExample} opens (a USB key or the VirtualAuthenticator).
 */
export async function runClientExample(
  options: OpenOptions,
  body: (client: WebAuthnClient) => Promise<void>,
): Promise<void> {
  const windows = await openWindowsExampleClient();
  if (!windows) return await runExample(options, (dev) => body(exampleClient(dev)));
  console.log(`Using ${windows.label}.`);
  try {
    await body(windows.client);
  } catch (e) {
    reportFailure(e);
  } finally {
    await windows.close();
  }
}

/** Hex of the first `n` bytes, with an ellipsis when cut: enough to tell values apart. */
export function hexPreview(bytes: Uint8Array, n = 8): string {
  return toHex(bytes.subarray(0, n)) + (bytes.length > n ? "…" : "");
}

/** What the relying party keeps after a verified registration. */
export interface Registration {
  /** The client's response (its clientExtensionResults carry the extension outputs). */
  readonly response: RegistrationResponse;
  /** The credential as @simplewebauthn/server stores it. */
  readonly credential: WebAuthnCredential;
  /** The attestation statement format. */
  readonly fmt: string;
}

/** Options of {@linkcode registerVerified}. */
export interface RegisterOptions {
  readonly userName: string;
  readonly residentKey?: "discouraged" | "preferred" | "required";
  readonly userVerification?: "discouraged" | "preferred" | "required";
  readonly attestation?: "none" | "direct";
  /** Client extension inputs (bytes as Uint8Array). */
  readonly extensions?: Record<string, unknown>;
}

/**
 * Registration as a relying party does it: @simplewebauthn/server makes the options, the
 * client creates the credential, the server verifies the response (or this throws).
 */
export async function registerVerified(
  client: WebAuthnClient,
  o: RegisterOptions,
): Promise<Registration> {
  const options = await generateRegistrationOptions({
    rpName: "Example",
    rpID: RP_ID,
    userName: o.userName,
    attestationType: o.attestation ?? "none",
    authenticatorSelection: {
      residentKey: o.residentKey ?? "discouraged",
      userVerification: o.userVerification ?? "discouraged",
    },
  });
  const response = await client.makeCredential({ ...options, extensions: o.extensions });
  const reg = await verifyRegistrationResponse({
    response: response.toJSON() as never,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: o.userVerification === "required",
  });
  if (!reg.verified || !reg.registrationInfo) throw new Error("registration did not verify");
  return { response, credential: reg.registrationInfo.credential, fmt: reg.registrationInfo.fmt };
}

/**
 * Authentication with `credential` as a relying party does it; the server verifies the
 * first assertion (or this throws). Returns the selection for its extension outputs.
 */
export async function authenticateVerified(
  client: WebAuthnClient,
  credential: WebAuthnCredential,
  o: {
    readonly userVerification?: "discouraged" | "preferred" | "required";
    readonly extensions?: Record<string, unknown>;
  } = {},
): Promise<AssertionSelection> {
  const options = await generateAuthenticationOptions({
    rpID: RP_ID,
    allowCredentials: [{ id: credential.id }],
    userVerification: o.userVerification ?? "discouraged",
  });
  const selection = await client.getAssertion({ ...options, extensions: o.extensions });
  const auth = await verifyAuthenticationResponse({
    response: selection.getResponse(0).toJSON() as never,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential,
    requireUserVerification: o.userVerification === "required",
  });
  if (!auth.verified) throw new Error("authentication did not verify");
  return selection;
}
