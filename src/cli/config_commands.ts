/**
 * `config always-uv|min-pin-length|ea`: authenticatorConfig.
 * @module
 */
import type { Config } from "../ctap2/config.ts";
import { ClientPin } from "../ctap2/pin.ts";
import { type Command, expectArgs } from "./command.ts";
import type { Context } from "./context.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";
import { parseUint } from "./util.ts";

async function config(ctx: Context): Promise<Config> {
  const { Config } = await import("../ctap2/config.ts");
  const ctap = await ctx.ctap2();
  if (!Config.isSupported(ctap.info)) {
    throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support authenticatorConfig");
  }
  const token = await ctx.optionalToken(ClientPin.PERMISSION.AUTHENTICATOR_CFG);
  return new Config(ctap, token?.protocol, token?.token);
}

const alwaysUv: Command = {
  name: "config always-uv",
  args: "[on|off]",
  summary: "Require UV for every operation (no argument: toggle)",
  async run(ctx) {
    expectArgs(ctx, this, 0, 1);
    const want = ctx.args[0];
    if (want !== undefined && want !== "on" && want !== "off") {
      throw new UsageError(`always-uv takes "on" or "off", got ${JSON.stringify(want)}`);
    }
    const ctap = await ctx.ctap2();
    const before = ctap.info.options.alwaysUv;
    if (before === undefined) {
      throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support alwaysUv");
    }
    let after = before;
    if (want === undefined || (want === "on") !== before) {
      await (await config(ctx)).toggleAlwaysUv(ctx.call());
      ctap.info = await ctap.getInfo(ctx.call());
      after = ctap.info.options.alwaysUv === true;
    }
    ctx.out.result({ alwaysUv: after }, () => `alwaysUv is ${after ? "on" : "off"}.\n`);
  },
};

const minPinLength: Command = {
  name: "config min-pin-length",
  args: "[LENGTH]",
  summary: "Raise the minimum PIN length, or force a PIN change",
  options: {
    "rp-id": {
      type: "string",
      multiple: true,
      help: "RP_ID  RP allowed to read the length (repeat)",
    },
    "force-change": { type: "boolean", help: "require a PIN change before the next use" },
  },
  async run(ctx) {
    expectArgs(ctx, this, 0, 1);
    const length = ctx.args[0] === undefined ? undefined : parseUint(ctx.args[0], "LENGTH");
    const rpIds = ctx.options["rp-id"] as string[] | undefined;
    const force = ctx.flag("force-change");
    if (length === undefined && rpIds === undefined && !force) {
      throw new UsageError("Give a LENGTH, --rp-id or --force-change");
    }
    const ctap = await ctx.ctap2();
    if (length !== undefined && length < ctap.info.minPinLength) {
      throw new UsageError(
        `The minimum PIN length can only grow (currently ${ctap.info.minPinLength})`,
      );
    }
    await (await config(ctx)).setMinPinLength({
      minPinLength: length,
      rpIds,
      forceChangePin: force,
    }, ctx.call());
    ctap.info = await ctap.getInfo(ctx.call());
    const data = { minPinLength: ctap.info.minPinLength, forcePinChange: ctap.info.forcePinChange };
    ctx.out.result(
      data,
      () =>
        `Minimum PIN length is ${data.minPinLength}${
          data.forcePinChange ? "; a PIN change is required" : ""
        }.\n`,
    );
  },
};

const ea: Command = {
  name: "config ea",
  summary: "Enable enterprise attestation",
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const ctap = await ctx.ctap2();
    if (ctap.info.options.ep === undefined) {
      throw new CliError(
        EXIT.UNSUPPORTED,
        "This authenticator does not support enterprise attestation",
      );
    }
    await (await config(ctx)).enableEnterpriseAttestation(ctx.call());
    ctx.out.result({ enterpriseAttestation: true }, () => "Enterprise attestation enabled.\n");
  },
};

/** authenticatorConfig commands. */
export const configCommands: readonly Command[] = [alwaysUv, minPinLength, ea];
