/**
 * `blobs list|get|put|delete`: per-credential large blobs (CTAP 2.1 largeBlobs), addressed
 * by credential ID; the largeBlobKey is found through credential management.
 * @module
 */
import process from "node:process";
import { ClientPin } from "../ctap2/pin.ts";
import { type Command, expectArgs } from "./command.ts";
import type { Context } from "./context.ts";
import {
  credentialJson,
  credentialManagement,
  enumerateAll,
  findCredential,
} from "./creds_commands.ts";
import { CliError, EXIT } from "./errors.ts";
import { formatTable } from "./output.ts";
import { b64, parseCredentialId } from "./util.ts";

async function largeBlobs(ctx: Context, write: boolean) {
  const { LargeBlobs } = await import("../ctap2/blob.ts");
  const ctap = await ctx.ctap2();
  if (!LargeBlobs.isSupported(ctap.info)) {
    throw new CliError(EXIT.UNSUPPORTED, "This authenticator does not support large blobs");
  }
  const { cm, token } = await credentialManagement(
    ctx,
    write ? ClientPin.PERMISSION.LARGE_BLOB_WRITE : 0,
  );
  return { cm, blobs: new LargeBlobs(ctap, token.protocol, token.token) };
}

async function keyOf(ctx: Context, cm: Parameters<typeof findCredential>[1], text: string) {
  const id = parseCredentialId(text);
  const found = await findCredential(ctx, cm, id);
  const key = found.credential.largeBlobKey;
  if (!key) {
    throw new CliError(
      EXIT.UNSUPPORTED,
      `Credential ${b64(id)} has no largeBlobKey (register it with --large-blob)`,
    );
  }
  return { id, key, found };
}

async function readInput(source: string): Promise<Uint8Array> {
  if (source !== "-") {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(source));
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(new Uint8Array(chunk as Uint8Array));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const list: Command = {
  name: "blobs list",
  summary: "List the credentials that have a large blob, with sizes",
  async run(ctx) {
    expectArgs(ctx, this, 0);
    const { cm, blobs } = await largeBlobs(ctx, false);
    const entries = await blobs.readBlobArray(ctx.call());
    const rows: (ReturnType<typeof credentialJson> & { size: number })[] = [];
    for (const c of await enumerateAll(ctx, cm)) {
      if (!c.credential.largeBlobKey) continue;
      const data = await blobs.getBlob(c.credential.largeBlobKey, ctx.call());
      if (data !== undefined) rows.push({ ...credentialJson(c), size: data.length });
    }
    const result = { entries: entries.length, blobs: rows };
    ctx.out.result(result, () =>
      (rows.length === 0 ? "No large blobs.\n" : formatTable(
        ["RP ID", "USER", "CREDENTIAL ID", "SIZE"],
        rows.map((r) => [r.rpId, r.userName ?? "", r.credentialId, String(r.size)]),
      )) +
      `${entries.length} entr${entries.length === 1 ? "y" : "ies"} in the large-blob array.\n`);
  },
};

const get: Command = {
  name: "blobs get",
  args: "CREDENTIAL_ID",
  summary: "Read a credential's large blob (raw to stdout, or --out FILE)",
  options: { out: { type: "string", short: "o", help: "FILE  write the blob to FILE" } },
  async run(ctx) {
    expectArgs(ctx, this, 1);
    const { cm, blobs } = await largeBlobs(ctx, false);
    const { id, key } = await keyOf(ctx, cm, ctx.args[0]);
    const data = await blobs.getBlob(key, ctx.call());
    if (data === undefined) throw new CliError(EXIT.NOT_FOUND, `No large blob for ${b64(id)}`);
    const file = ctx.str("out");
    if (file !== undefined) {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(file, data);
      ctx.out.result(
        { credentialId: b64(id), size: data.length, file },
        () => `Wrote ${data.length} bytes to ${file}.\n`,
      );
    } else if (ctx.out.json) {
      ctx.out.result({ credentialId: b64(id), size: data.length, data: b64(data) }, () => "");
    } else {
      ctx.out.stdout.write(data);
    }
  },
};

const put: Command = {
  name: "blobs put",
  args: "CREDENTIAL_ID FILE|-",
  summary: "Store FILE (or stdin) as a credential's large blob",
  async run(ctx) {
    expectArgs(ctx, this, 2);
    const data = await readInput(ctx.args[1]);
    const { cm, blobs } = await largeBlobs(ctx, true);
    const { id, key } = await keyOf(ctx, cm, ctx.args[0]);
    await blobs.putBlob(key, data, ctx.call());
    ctx.out.result(
      { credentialId: b64(id), size: data.length },
      () => `Stored ${data.length} bytes for ${b64(id)}.\n`,
    );
  },
};

const del: Command = {
  name: "blobs delete",
  args: "CREDENTIAL_ID",
  summary: "Delete a credential's large blob",
  async run(ctx) {
    expectArgs(ctx, this, 1);
    const { cm, blobs } = await largeBlobs(ctx, true);
    const { id, key } = await keyOf(ctx, cm, ctx.args[0]);
    if ((await blobs.getBlob(key, ctx.call())) === undefined) {
      throw new CliError(EXIT.NOT_FOUND, `No large blob for ${b64(id)}`);
    }
    await blobs.deleteBlob(key, ctx.call());
    ctx.out.result({ deleted: b64(id) }, () => `Deleted the large blob of ${b64(id)}.\n`);
  },
};

/** Large-blob commands. */
export const blobsCommands: readonly Command[] = [list, get, put, del];
