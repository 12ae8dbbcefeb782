/**
 * `bio list|enroll|rename|delete`: fingerprint templates (CTAP 2.1 bioEnrollment).
 * @module
 */
import type { FPBioEnrollment } from "../ctap2/bio.ts";
import { ClientPin } from "../ctap2/pin.ts";
import { bytesEqual } from "../utils.ts";
import { type Command, expectArgs } from "./command.ts";
import type { Context } from "./context.ts";
import { CliError, EXIT } from "./errors.ts";
import { formatTable } from "./output.ts";
import { b64, parseCredentialId } from "./util.ts";

const MAX_BAD_SAMPLES = 10;

async function bio(ctx: Context): Promise<FPBioEnrollment> {
  const { BioEnrollment, FPBioEnrollment } = await import("../ctap2/bio.ts");
  const ctap = await ctx.ctap2();
  if (!BioEnrollment.isSupported(ctap.info)) {
    throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support fingerprints");
  }
  const token = await ctx.token(ClientPin.PERMISSION.BIO_ENROLL);
  return await FPBioEnrollment.create(ctap, token.protocol, token.token, ctx.call());
}

async function templateId(ctx: Context, b: FPBioEnrollment, text: string): Promise<Uint8Array> {
  const id = parseCredentialId(text, "template ID");
  const known = await b.enumerateEnrollments(ctx.call());
  if (!known.some((t) => bytesEqual(t.templateId, id))) {
    throw new CliError(EXIT.NOT_FOUND, `No fingerprint with template ID ${text}`);
  }
  return id;
}

const list: Command = {
  name: "bio list",
  summary: "List enrolled fingerprints",
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const templates = (await (await bio(ctx)).enumerateEnrollments(ctx.call())).map((t) => ({
      templateId: b64(t.templateId),
      ...(t.name === undefined ? {} : { name: t.name }),
    }));
    ctx.out.result(
      templates,
      () =>
        templates.length === 0 ? "No fingerprints enrolled.\n" : formatTable(
          ["TEMPLATE ID", "NAME"],
          templates.map((t) => [t.templateId, t.name ?? ""]),
        ),
    );
  },
};

const enroll: Command = {
  name: "bio enroll",
  summary: "Enroll a fingerprint (touch the sensor repeatedly)",
  options: { name: { type: "string", help: "NAME  friendly name for the fingerprint" } },
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const b = await bio(ctx);
    const { CaptureError } = await import("../ctap2/bio.ts");
    const enrollment = b.enroll();
    let id: Uint8Array | undefined;
    let bad = 0;
    ctx.out.status("Place your finger on the sensor…");
    try {
      while (id === undefined) {
        try {
          id = await enrollment.capture(ctx.call());
          if (id === undefined) {
            ctx.out.status(
              `Good sample; ${enrollment.remaining} more needed. Lift and touch again…`,
            );
          }
        } catch (e) {
          if (!(e instanceof CaptureError) || ++bad > MAX_BAD_SAMPLES) throw e;
          ctx.out.status(`Sample not usable (${e.message}); touch again…`);
        }
      }
    } catch (e) {
      if (enrollment.templateId !== undefined) {
        await enrollment.cancel().catch(() => undefined);
      }
      throw e;
    }
    const name = ctx.str("name");
    if (name !== undefined) await b.setName(id, name, ctx.call());
    ctx.out.result(
      { templateId: b64(id), ...(name === undefined ? {} : { name }) },
      () => `Enrolled fingerprint ${b64(id!)}${name === undefined ? "" : ` (${name})`}.\n`,
    );
  },
};

const rename: Command = {
  name: "bio rename",
  args: "TEMPLATE_ID NAME",
  summary: "Rename an enrolled fingerprint",
  async run(ctx) {
    expectArgs(ctx, this, 2);
    const b = await bio(ctx);
    const id = await templateId(ctx, b, ctx.args[0]);
    await b.setName(id, ctx.args[1], ctx.call());
    ctx.out.result({ templateId: b64(id), name: ctx.args[1] }, () => "Renamed.\n");
  },
};

const del: Command = {
  name: "bio delete",
  args: "TEMPLATE_ID",
  summary: "Delete an enrolled fingerprint",
  async run(ctx) {
    expectArgs(ctx, this, 1);
    const b = await bio(ctx);
    const id = await templateId(ctx, b, ctx.args[0]);
    await b.removeEnrollment(id, ctx.call());
    ctx.out.result({ deleted: b64(id) }, () => `Deleted fingerprint ${b64(id)}.\n`);
  },
};

/** Fingerprint commands. */
export const bioCommands: readonly Command[] = [list, enroll, rename, del];
