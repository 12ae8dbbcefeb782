/**
 * A relying party over HTTP, end to end: a tiny server (node:http + @simplewebauthn/server,
 * on a random localhost port) with /register/begin, /register/complete, /authenticate/begin
 * and /authenticate/complete, and this script as its "browser", driving it with fetch and
 * Fido2Client. Everything on the wire is the standard WebAuthn JSON: the options go into
 * `makeCredential` / `getAssertion` as they arrive, the responses leave via `toJSON()`.
 *
 * The server plays https://example.com (the origin the client reports), while listening on
 * 127.0.0.1 so the example needs no TLS or DNS.
 *
 *   deno run -A examples/exampleserver.ts [--virtual]     bun examples/exampleserver.ts
 */
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from "@simplewebauthn/server";
import { exampleClient, ORIGIN, RP_ID, runExample } from "./_common.ts";

// ---------------------------------------------------------------------------------------
// The relying party

interface Account {
  challenge?: string;
  credentials: WebAuthnCredential[];
}

type Handler = (body: Record<string, unknown>) => Promise<unknown>;

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", () => {
      try {
        const text = new TextDecoder().decode(Buffer.concat(chunks));
        const v = text ? JSON.parse(text) : {};
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          throw new Error("body must be a JSON object");
        }
        resolve(v);
      } catch (e) {
        reject(e);
      }
    });
    req.on("error", reject);
  });
}

/** Starts the RP on a free port of 127.0.0.1; resolves with its URL and the server. */
async function startRelyingParty(): Promise<{ url: string; server: Server }> {
  const accounts = new Map<string, Account>();
  const account = (body: Record<string, unknown>) => {
    if (typeof body.username !== "string" || !body.username) throw new Error("username needed");
    let a = accounts.get(body.username);
    if (!a) accounts.set(body.username, a = { credentials: [] });
    return a;
  };
  const routes: Record<string, Handler> = {
    "/register/begin": async (body) => {
      const a = account(body);
      const options = await generateRegistrationOptions({
        rpName: "Example RP",
        rpID: RP_ID,
        userName: body.username as string,
        attestationType: "none",
        excludeCredentials: a.credentials.map((c) => ({ id: c.id })),
        authenticatorSelection: { userVerification: "discouraged" },
      });
      a.challenge = options.challenge;
      return options;
    },
    "/register/complete": async (body) => {
      const a = account(body);
      const result = await verifyRegistrationResponse({
        response: body.response as never,
        expectedChallenge: a.challenge ?? "",
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        requireUserVerification: false,
      });
      a.challenge = undefined;
      if (result.verified) a.credentials.push(result.registrationInfo.credential);
      return { verified: result.verified };
    },
    "/authenticate/begin": async (body) => {
      const a = account(body);
      const options = await generateAuthenticationOptions({
        rpID: RP_ID,
        allowCredentials: a.credentials.map((c) => ({ id: c.id })),
        userVerification: "discouraged",
      });
      a.challenge = options.challenge;
      return options;
    },
    "/authenticate/complete": async (body) => {
      const a = account(body);
      const response = body.response as { id?: string };
      const credential = a.credentials.find((c) => c.id === response?.id);
      if (!credential) throw new Error("unknown credential");
      const result = await verifyAuthenticationResponse({
        response: response as never,
        expectedChallenge: a.challenge ?? "",
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        credential,
        requireUserVerification: false,
      });
      a.challenge = undefined;
      if (result.verified) credential.counter = result.authenticationInfo.newCounter;
      return { verified: result.verified, counter: credential.counter };
    },
  };
  const server = createServer(async (req, res) => {
    const route = req.method === "POST" ? routes[req.url ?? ""] : undefined;
    let status = 200;
    let payload: unknown;
    if (!route) {
      status = 404;
      payload = { error: "not found" };
    } else {
      try {
        payload = await route(await readBody(req));
      } catch (e) {
        status = 400;
        payload = { error: (e as Error).message };
      }
    }
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(payload));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

// ---------------------------------------------------------------------------------------
// The "browser": fetch + Fido2Client

/** One JSON POST, printed the way a network panel would (long values shortened). */
async function post(url: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const text = JSON.stringify(body);
  console.log(`  → POST ${path} ${shorten(text)}`);
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: text,
  });
  const reply = await res.text();
  console.log(`  ← ${res.status} ${shorten(reply)}`);
  if (!res.ok) throw new Error(`${path} failed: ${reply}`);
  return JSON.parse(reply);
}

function shorten(json: string, max = 110): string {
  return json.length > max ? `${json.slice(0, max - 1)}…` : json;
}

await runExample({}, async (dev) => {
  const { url, server } = await startRelyingParty();
  console.log(`Relying party listening on ${url}`);
  try {
    const client = exampleClient(dev);
    const username = "alice";

    console.log("\nRegistration");
    const creationOptions = await post(url, "/register/begin", { username });
    const registration = await client.makeCredential(creationOptions);
    const reg = await post(url, "/register/complete", {
      username,
      response: registration.toJSON(),
    });
    if (reg.verified !== true) throw new Error("the server did not verify the registration");

    console.log("\nAuthentication");
    const requestOptions = await post(url, "/authenticate/begin", { username });
    const selection = await client.getAssertion(requestOptions);
    const auth = await post(url, "/authenticate/complete", {
      username,
      response: selection.getResponse(0).toJSON(),
    });
    if (auth.verified !== true) throw new Error("the server did not verify the assertion");
    console.log(`\nRegistered and signed in over HTTP (signature counter ${auth.counter}).`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
