/**
 * `pin set|change|retries`.
 * @module
 */
import { ClientPin } from "../ctap2/pin.ts";
import { type Command, expectArgs } from "./command.ts";
import { CliError, EXIT } from "./errors.ts";

const NEW_PIN = {
  "new-pin": { type: "string", help: "PIN  the new PIN (else FIDO2_NEW_PIN, else prompt)" },
} as const;

const set: Command = {
  name: "pin set",
  summary: "Set the first PIN of a key that has none",
  options: NEW_PIN,
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const ctap = await ctx.ctap2();
    if (ctap.info.options.clientPin === true) {
      throw new CliError(EXIT.PIN, "A PIN is already set; use `fido2 pin change`");
    }
    if (ctap.info.options.clientPin === undefined) {
      throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support a PIN");
    }
    const pin = await ctx.prompter.newPin();
    await new ClientPin(ctap).setPin(pin, ctx.call());
    ctx.out.result({ pinSet: true }, () => "PIN set.\n");
  },
};

const change: Command = {
  name: "pin change",
  summary: "Change the PIN (--pin is the current one)",
  options: NEW_PIN,
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const ctap = await ctx.ctap2();
    if (ctap.info.options.clientPin !== true) {
      throw new CliError(EXIT.PIN, "No PIN is set; use `fido2 pin set`");
    }
    const old = await ctx.prompter.pin();
    const pin = await ctx.prompter.newPin();
    await new ClientPin(ctap).changePin(old, pin, ctx.call());
    ctx.out.result({ pinChanged: true }, () => "PIN changed.\n");
  },
};

const retries: Command = {
  name: "pin retries",
  summary: "Show how many PIN (and UV) attempts are left",
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const ctap = await ctx.ctap2();
    const o = ctap.info.options;
    if (o.clientPin === undefined) {
      throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support a PIN");
    }
    const client = new ClientPin(ctap);
    const pin = await client.getPinRetries(ctx.call());
    const uvRetries = o.uv !== undefined && o.pinUvAuthToken === true
      ? await client.getUvRetries(ctx.call())
      : undefined;
    const data = {
      pinSet: o.clientPin === true,
      pinRetries: pin.retries,
      ...(pin.powerCycleState === undefined ? {} : { powerCycleRequired: pin.powerCycleState }),
      ...(uvRetries === undefined ? {} : { uvRetries }),
    };
    ctx.out.result(data, () => {
      let text = `PIN retries: ${pin.retries}${data.pinSet ? "" : " (no PIN set)"}\n`;
      if (pin.powerCycleState) text += "Unplug and replug the key before the next attempt.\n";
      if (uvRetries !== undefined) text += `UV retries: ${uvRetries}\n`;
      return text;
    });
  },
};

/** PIN commands. */
export const pinCommands: readonly Command[] = [set, change, retries];
