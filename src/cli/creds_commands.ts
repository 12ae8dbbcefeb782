/**
 * `creds list|delete|update`: discoverable credentials through credential management.
 * @module
 */
import { CTAP_STATUS, CtapError } from "../ctap.ts";
import type { CredentialManagement, ManagedCredential, ManagedRp } from "../ctap2/credman.ts";
import { ClientPin } from "../ctap2/pin.ts";
import { bytesEqual } from "../utils.ts";
import { type Command, expectArgs } from "./command.ts";
import type { Context } from "./context.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";
import { formatTable } from "./output.ts";
import { b64, parseCredentialId } from "./util.ts";

/** One discoverable credential with its RP. */
export interface StoredCredential {
  readonly rp: ManagedRp["rp"];
  readonly credential: ManagedCredential;
}

/** Credential management with a token carrying `cm` plus `extraPermissions`. */
export async function credentialManagement(
  ctx: Context,
  extraPermissions = 0,
): Promise<{ cm: CredentialManagement; token: Awaited<ReturnType<Context["token"]>> }> {
  const { CredentialManagement } = await import("../ctap2/credman.ts");
  const ctap = await ctx.ctap2();
  if (!CredentialManagement.isSupported(ctap.info)) {
    throw new CliError(
      EXIT.UNSUPPORTED,
      "This authenticator does not support credential management",
    );
  }
  const token = await ctx.token(ClientPin.PERMISSION.CREDENTIAL_MGMT | extraPermissions);
  return { cm: new CredentialManagement(ctap, token.protocol, token.token), token };
}

/** Every discoverable credential, optionally only those of `rpId`. */
export async function enumerateAll(
  ctx: Context,
  cm: CredentialManagement,
  rpId?: string,
): Promise<StoredCredential[]> {
  const out: StoredCredential[] = [];
  for (const rp of await cm.enumerateRps(ctx.call())) {
    if (rpId !== undefined && rp.rp.id !== rpId) continue;
    for (const credential of await cm.enumerateCreds(rp.rpIdHash, ctx.call())) {
      out.push({ rp: rp.rp, credential });
    }
  }
  return out;
}

/** The stored credential with this ID, or exit code 7. */
export async function findCredential(
  ctx: Context,
  cm: CredentialManagement,
  id: Uint8Array,
): Promise<StoredCredential> {
  const found = (await enumerateAll(ctx, cm)).find((c) =>
    bytesEqual(c.credential.credentialId.id, id)
  );
  if (!found) {
    throw new CliError(EXIT.NOT_FOUND, `No discoverable credential with ID ${b64(id)}`);
  }
  return found;
}

/** JSON form of a stored credential. */
export function credentialJson(c: StoredCredential) {
  const u = c.credential.user;
  return {
    rpId: c.rp.id,
    ...(c.rp.name === undefined ? {} : { rpName: c.rp.name }),
    credentialId: b64(c.credential.credentialId.id),
    userId: b64(u.id),
    ...(u.name === undefined ? {} : { userName: u.name }),
    ...(u.displayName === undefined ? {} : { userDisplayName: u.displayName }),
    ...(c.credential.credProtect === undefined ? {} : { credProtect: c.credential.credProtect }),
    largeBlobKey: c.credential.largeBlobKey !== undefined,
  };
}

const list: Command = {
  name: "creds list",
  summary: "List discoverable credentials (passkeys)",
  options: { rp: { type: "string", help: "RP_ID  only this relying party" } },
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const { cm } = await credentialManagement(ctx);
    const meta = await cm.getMetadata(ctx.call());
    const creds = (await enumerateAll(ctx, cm, ctx.str("rp"))).map(credentialJson);
    const data = {
      existing: meta.existingResidentCredentialsCount,
      remaining: meta.maxPossibleRemainingResidentCredentialsCount,
      credentials: creds,
    };
    ctx.out.result(data, () => {
      const table = creds.length === 0 ? "No discoverable credentials.\n" : formatTable(
        ["RP ID", "USER", "DISPLAY NAME", "CREDENTIAL ID"],
        creds.map((c) => [c.rpId, c.userName ?? "", c.userDisplayName ?? "", c.credentialId]),
      );
      return `${table}${data.existing} stored, room for about ${data.remaining} more.\n`;
    });
  },
};

const del: Command = {
  name: "creds delete",
  args: "CREDENTIAL_ID",
  summary: "Delete a discoverable credential",
  async run(ctx) {
    expectArgs(ctx, this, 1);
    const id = parseCredentialId(ctx.args[0]);
    const { cm } = await credentialManagement(ctx);
    const found = await findCredential(ctx, cm, id);
    await cm.deleteCred(found.credential.credentialId, ctx.call());
    ctx.out.result(
      { deleted: b64(id), rpId: found.rp.id },
      () => `Deleted credential ${b64(id)} (${found.rp.id}).\n`,
    );
  },
};

const update: Command = {
  name: "creds update",
  args: "CREDENTIAL_ID",
  summary: "Change the user name / display name stored with a credential",
  options: {
    name: { type: "string", help: "NAME  new user name" },
    "display-name": { type: "string", help: "NAME  new display name" },
  },
  async run(ctx) {
    expectArgs(ctx, this, 1);
    const id = parseCredentialId(ctx.args[0]);
    const name = ctx.str("name");
    const displayName = ctx.str("display-name");
    if (name === undefined && displayName === undefined) {
      throw new UsageError("Give --name and/or --display-name");
    }
    const { cm } = await credentialManagement(ctx);
    const { CredentialManagement } = await import("../ctap2/credman.ts");
    if (!CredentialManagement.isUpdateSupported(cm.ctap.info)) {
      throw new CtapError(CTAP_STATUS.INVALID_COMMAND, "updateUserInformation is not supported");
    }
    const found = await findCredential(ctx, cm, id);
    const user = {
      id: found.credential.user.id,
      name: name ?? found.credential.user.name,
      displayName: displayName ?? found.credential.user.displayName,
    };
    await cm.updateUserInfo(found.credential.credentialId, user, ctx.call());
    ctx.out.result(
      { updated: b64(id), userName: user.name, userDisplayName: user.displayName },
      () => `Updated credential ${b64(id)}.\n`,
    );
  },
};

/** Credential management commands. */
export const credsCommands: readonly Command[] = [list, del, update];
