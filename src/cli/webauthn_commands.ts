/**
 * `register` and `authenticate`: WebAuthn ceremonies through `Fido2Client`, taking the
 * W3C JSON options (from flags or `--options FILE`) and printing the W3C JSON response.
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { DefaultClientDataCollector } from "../client/collector.ts";
import { createClient } from "../client/factory.ts";
import { Fido2Client } from "../client/fido2.ts";
import { UserInteraction } from "../client/interaction.ts";
import type { WebAuthnClient } from "../client/selection.ts";
import { listDevices } from "../hid/mod.ts";
import { randomBytes } from "../utils.ts";
import { type Command, expectArgs, type OptionSpec } from "./command.ts";
import { type Context, forcePinChange } from "./context.ts";
import { UsageError } from "./errors.ts";
import { formatFields, formatTable } from "./output.ts";
import { b64, parseCredentialId, parseUint } from "./util.ts";
import { requireElevation } from "./windows.ts";

const UV_VALUES = ["required", "preferred", "discouraged"];

/** Routes the client's prompts to the terminal. */
class CliInteraction extends UserInteraction {
  constructor(readonly ctx: Context) {
    super();
  }
  override promptUp(): void {
    this.ctx.promptTouch();
  }
  override async requestPin(): Promise<string | undefined> {
    return await this.ctx.prompter.pin();
  }
}

async function readJson(source: string): Promise<Record<string, unknown>> {
  let text: string;
  if (source === "-") {
    const chunks: string[] = [];
    process.stdin.setEncoding("utf8");
    for await (const chunk of process.stdin) chunks.push(String(chunk));
    text = chunks.join("");
  } else {
    text = await readFile(source, "utf8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--options: not JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new UsageError("--options must hold a JSON object");
  }
  const obj = json as Record<string, unknown>;
  return (typeof obj.publicKey === "object" && obj.publicKey !== null)
    ? { ...(obj.publicKey as Record<string, unknown>) }
    : { ...obj };
}

function uvOption(ctx: Context): string | undefined {
  const uv = ctx.str("uv");
  if (uv !== undefined && !UV_VALUES.includes(uv)) {
    throw new UsageError(`--uv must be one of ${UV_VALUES.join(", ")}`);
  }
  return uv;
}

function challenge(ctx: Context): string {
  const c = ctx.str("challenge");
  return c === undefined ? b64(randomBytes(32)) : b64(parseCredentialId(c, "challenge"));
}

/**
 * The client for a ceremony: on Windows without a device option, `createClient` (webauthn.dll
 * when usable; a USB key needs an elevated prompt otherwise); else a `Fido2Client` over the
 * selected device.
 */
async function client(ctx: Context, origin: string, command: string): Promise<WebAuthnClient> {
  const collector = new DefaultClientDataCollector(origin);
  const ui = new CliInteraction(ctx);
  let c: Fido2Client;
  if (ctx.system.os === "win32" && !ctx.explicitDevice) {
    const created = await createClient(collector, {
      userInteraction: ui,
      platform: "win32",
      listDevices: async function* () {
        await requireElevation(ctx.system, command);
        yield* listDevices();
      },
    });
    ctx.onClose(() => created.close());
    if (!(created instanceof Fido2Client)) {
      ctx.out.status("Using Windows' security dialog (webauthn.dll)…");
      return created;
    }
    c = created;
  } else {
    c = new Fido2Client(await ctx.device(), collector, ui);
  }
  const info = await c.ready();
  if (info.forcePinChange) throw forcePinChange();
  return c;
}

const COMMON: Record<string, OptionSpec> = {
  rp: { type: "string", help: "RP_ID  relying party ID, e.g. example.com" },
  origin: { type: "string", help: "URL  origin of the client data (default https://RP_ID)" },
  uv: { type: "string", help: "required|preferred|discouraged  user verification" },
  challenge: { type: "string", help: "B64URL  challenge (default: random)" },
  options: { type: "string", help: "FILE|-  WebAuthn JSON options (flags override members)" },
  timeout: { type: "string", help: "MS  give up after MS milliseconds" },
};

function rpIdOf(ctx: Context, options: Record<string, unknown>, member: "rp" | "rpId"): string {
  const rpId = ctx.str("rp") ??
    (member === "rp"
      ? (options.rp as { id?: string } | undefined)?.id
      : options.rpId as string | undefined);
  if (typeof rpId !== "string" || rpId === "") throw new UsageError("--rp RP_ID is required");
  return rpId;
}

const register: Command = {
  name: "register",
  summary: "Create a credential (--json: RegistrationResponse JSON)",
  options: {
    ...COMMON,
    user: { type: "string", help: "NAME  user name (default: user)" },
    "display-name": { type: "string", help: "NAME  user display name (default: NAME)" },
    "user-id": { type: "string", help: "B64URL  user handle (default: random)" },
    rk: { type: "boolean", help: "make a discoverable credential (passkey)" },
    attestation: { type: "string", help: "KIND  none|indirect|direct|enterprise (default none)" },
    exclude: { type: "string", multiple: true, help: "ID  credential ID to exclude (repeat)" },
    "large-blob": { type: "boolean", help: "require large-blob support (for `blobs`)" },
  },
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const base = ctx.str("options") === undefined ? {} : await readJson(ctx.str("options")!);
    const rpId = rpIdOf(ctx, base, "rp");
    const origin = ctx.str("origin") ?? `https://${rpId}`;
    const baseUser = (base.user ?? {}) as Record<string, unknown>;
    const name = ctx.str("user") ?? (baseUser.name as string | undefined) ?? "user";
    const userId = ctx.str("user-id") !== undefined
      ? b64(parseCredentialId(ctx.str("user-id")!, "user ID"))
      : (baseUser.id as string | undefined) ?? b64(randomBytes(16));
    const sel = { ...(base.authenticatorSelection ?? {}) } as Record<string, unknown>;
    if (ctx.flag("rk")) {
      sel.residentKey = "required";
      sel.requireResidentKey = true;
    }
    const uv = uvOption(ctx);
    if (uv) sel.userVerification = uv;
    const extensions = { credProps: true, ...(base.extensions ?? {}) } as Record<string, unknown>;
    if (ctx.flag("large-blob")) extensions.largeBlob = { support: "required" };
    const exclude = ((ctx.options.exclude ?? []) as string[]).map((id) => ({
      type: "public-key",
      id: b64(parseCredentialId(id)),
    }));
    const timeout = ctx.str("timeout");
    const options = {
      pubKeyCredParams: [
        { type: "public-key", alg: -7 },
        { type: "public-key", alg: -8 },
        { type: "public-key", alg: -257 },
      ],
      ...base,
      rp: { ...(base.rp ?? {}), id: rpId, name: (base.rp as { name?: string })?.name ?? rpId },
      user: {
        ...baseUser,
        id: userId,
        name,
        displayName: ctx.str("display-name") ?? (baseUser.displayName as string) ?? name,
      },
      challenge: ctx.str("challenge") !== undefined || !base.challenge
        ? challenge(ctx)
        : base.challenge,
      authenticatorSelection: sel,
      attestation: ctx.str("attestation") ?? base.attestation ?? "none",
      extensions,
      ...(exclude.length ? { excludeCredentials: exclude } : {}),
      ...(timeout !== undefined ? { timeout: parseUint(timeout, "--timeout") } : {}),
    };
    const c = await client(ctx, origin, "register");
    const response = await c.makeCredential(options, { signal: ctx.signal });
    const json = response.toJSON();
    ctx.out.result(json, () => {
      const authData = response.response.attestationObject.authData;
      const props = response.clientExtensionResults?.credProps as { rk?: boolean } | undefined;
      return formatFields([
        ["Credential ID", response.id],
        ["RP ID", rpId],
        ["User", `${name} (${userId})`],
        ["AAGUID", authData.credentialData?.aaguid.toString() ?? "-"],
        ["Algorithm", String(response.response.publicKeyAlgorithm)],
        ["Discoverable", props?.rk === undefined ? "unknown" : String(props.rk)],
        ["User verified", String(authData.userVerified)],
        ["Attestation", response.response.attestationObject.fmt],
      ]);
    });
  },
};

const authenticate: Command = {
  name: "authenticate",
  args: "[CREDENTIAL_ID...]",
  summary: "Get an assertion (--json: AuthenticationResponse JSON)",
  options: {
    ...COMMON,
    cred: { type: "string", multiple: true, help: "ID  allowed credential ID (repeat)" },
    index: { type: "string", help: "N  which matching credential to answer with (default 0)" },
  },
  async run(ctx) {
    const base = ctx.str("options") === undefined ? {} : await readJson(ctx.str("options")!);
    const rpId = rpIdOf(ctx, base, "rpId");
    const origin = ctx.str("origin") ?? `https://${rpId}`;
    const ids = [...ctx.args, ...((ctx.options.cred ?? []) as string[])];
    const allow = ids.map((id) => ({ type: "public-key", id: b64(parseCredentialId(id)) }));
    const uv = uvOption(ctx);
    const timeout = ctx.str("timeout");
    const index = ctx.str("index") === undefined ? 0 : parseUint(ctx.str("index")!, "--index");
    const options = {
      ...base,
      rpId,
      challenge: ctx.str("challenge") !== undefined || !base.challenge
        ? challenge(ctx)
        : base.challenge,
      ...(allow.length ? { allowCredentials: allow } : {}),
      ...(uv ? { userVerification: uv } : {}),
      ...(timeout !== undefined ? { timeout: parseUint(timeout, "--timeout") } : {}),
    };
    const c = await client(ctx, origin, "authenticate");
    const selection = await c.getAssertion(options, { signal: ctx.signal });
    if (index >= selection.length) {
      throw new UsageError(`--index ${index}: only ${selection.length} credential(s) matched`);
    }
    const assertions = selection.getClientAssertions();
    if (ctx.out.json && assertions.length > 1 && ctx.str("index") === undefined) {
      ctx.out.status(`${assertions.length} credentials matched; answering with --index 0.`);
    }
    ctx.out.result(selection.getResponse(index).toJSON(), () => {
      const rows = assertions.map((a, i) => [
        i === index ? `*${i}` : ` ${i}`,
        b64(a.credentialId),
        a.user?.name ?? (a.userHandle ? b64(a.userHandle) : ""),
        String(a.authenticatorData.counter),
        a.authenticatorData.userVerified ? "yes" : "no",
      ]);
      return formatTable(["#", "CREDENTIAL ID", "USER", "SIGN COUNT", "UV"], rows);
    });
  },
};

/** WebAuthn ceremonies. */
export const webauthnCommands: readonly Command[] = [register, authenticate];
