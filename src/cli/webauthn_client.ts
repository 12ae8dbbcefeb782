/**
 * The client behind `register` and `authenticate`, in a module of its own so that the
 * WebAuthn client stack (Fido2Client, the client data collector with its public-suffix list,
 * webauthn.dll on Windows) is loaded only when a ceremony runs, not on every `fido2` start.
 * @module
 */
import { DefaultClientDataCollector } from "../client/collector.ts";
import { createClient } from "../client/factory.ts";
import { Fido2Client } from "../client/fido2.ts";
import { UserInteraction } from "../client/interaction.ts";
import type { WebAuthnClient } from "../client/selection.ts";
import { listDevices } from "../hid/mod.ts";
import { type Context, forcePinChange } from "./context.ts";
import { requireElevation } from "./windows.ts";

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

/**
 * The client for a ceremony: on Windows without a device option, `createClient` (webauthn.dll
 * when usable; a USB key needs an elevated prompt otherwise); else a `Fido2Client` over the
 * selected device.
 */
export async function ceremonyClient(
  ctx: Context,
  origin: string,
  command: string,
): Promise<WebAuthnClient> {
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
