/**
 * CPU per stage of one Fido2Client.getAssertion (issue 15, goal 2), each stage timed alone,
 * warm and back to back (so smaller than its share of a call that follows a wait: see
 * `--idle` in client_cpu.ts). The stages are what a getAssertion over CTAPHID does, in order:
 * JSON options in, client data (RP ID check, clientDataJSON), its SHA-256, the request's CBOR,
 * CTAPHID framing both ways, the answer's CBOR, its parsing and checks, the result the RP gets.
 * The inputs are a real exchange with the VirtualAuthenticator, recorded once.
 *   deno run -A bench/client_stages.ts [ROOT]   (or bun …): ROOT, another checkout to compare
 * @module
 */
import process from "node:process";

const root = process.argv[2] ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const src = (m: string) => import(`${root}/src/${m}`);
const { DefaultClientDataCollector } = await src("client/collector.ts");
const { Fido2Client } = await src("client/fido2.ts");
const { unwrapRequestOptions, AssertionSelection } = await src("client/selection.ts");
const { checkAssertion } = await src("client/validate.ts");
const { AssertionResponse } = await src("ctap2/base.ts");
const { decode, encode } = await src("cbor.ts");
const { fragment, Reassembler } = await src("hid/framing.ts");
const { b64urlEncode, randomBytes, sha256 } = await src("utils.ts");
const { VirtualAuthenticator } = await src("virtual/mod.ts");

const va = new VirtualAuthenticator({});
const device = await va.device();
let request: Uint8Array | undefined;
let response: Uint8Array | undefined;
const call = device.call.bind(device);
device.call = async (cmd: number, data: Uint8Array, opts: unknown) => {
  const out = await call(cmd, data, opts);
  if (cmd === 0x10 && data[0] === 2) [request, response] = [data, out];
  return out;
};
const collector = new DefaultClientDataCollector("https://example.com");
const client = new Fido2Client(device, collector);
const reg = await client.makeCredential({
  rp: { id: "example.com", name: "Example" },
  user: { id: b64urlEncode(randomBytes(16)), name: "alice" },
  challenge: b64urlEncode(randomBytes(32)),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  authenticatorSelection: { userVerification: "discouraged" },
});
const json = () => ({
  challenge: b64urlEncode(randomBytes(32)),
  rpId: "example.com",
  allowCredentials: [{ type: "public-key", id: reg.id }],
  userVerification: "discouraged",
});
const selection = await client.getAssertion(json());
const [options] = unwrapRequestOptions(json());
const { clientData } = await collector.collectClientData(options);
const requestMap = decode(request!.subarray(1));
const responseMap = decode(response!.subarray(1));
const parsed = new AssertionResponse(responseMap);
const allowList = [{ type: "public-key", id: parsed.credential.id }];
const assertion = selection.getClientAssertions()[0];
const requestPackets = fragment(0x01020304, 0x10, request!, 64);
const responsePackets = fragment(0x01020304, 0x10, response!, 64);

const stages: [string, () => unknown][] = [
  ["request JSON -> options (unwrapRequestOptions)", () => unwrapRequestOptions(json())],
  ["client data: RP ID check + clientDataJSON", () => collector.collectClientData(options)],
  ["SHA-256 of clientDataJSON", () => sha256(clientData.raw)],
  ["CBOR encode of the request", () => encode(requestMap)],
  ["CTAPHID fragment request + reassemble answer", () => {
    fragment(0x01020304, 0x10, request!, 64);
    const r = new Reassembler(0x01020304, 64);
    for (const p of responsePackets) r.push(p);
  }],
  ["CBOR decode of the answer", () => decode(response!.subarray(1))],
  ["AssertionResponse (authData parse)", () => new AssertionResponse(responseMap)],
  [
    "checks (validate.ts checkAssertion)",
    () => checkAssertion(parsed, { rpId: "example.com", allowList, uv: false }),
  ],
  [
    "result: AssertionSelection + getResponse(0)",
    () => new AssertionSelection(clientData, [assertion]).getResponse(0),
  ],
  ["whole getAssertion, replaying device (for scale)", () => client.getAssertion(json())],
];
// The last stage replays: the device answers with the recorded bytes from now on.
device.call = (cmd: number, data: Uint8Array, opts: unknown) =>
  cmd === 0x10 && data[0] === 2 ? Promise.resolve(response!) : call(cmd, data, opts);
void requestPackets;

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun!.version}`;
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
// Every stage warmed up first, then measured in rotation: process CPU includes the JIT's and
// the GC's own threads, which would otherwise bill the first stages for compiling the rest.
for (const [, fn] of stages) for (let i = 0; i < 3000; i++) await fn();
const per: number[][] = stages.map(() => []);
for (let b = 0; b < 9; b++) {
  for (const [k, [, fn]] of stages.entries()) {
    const c0 = cpu();
    for (let i = 0; i < 2000; i++) await fn();
    per[k].push((cpu() - c0) / 2000);
  }
}
const results = stages.map(([name], k) => [name, per[k].sort((a, b) => a - b)[4]] as const);
console.log(`${runtime} (${root}): CPU µs per stage, median of 9 rotations of 2000 calls`);
for (const [name, us] of results) console.log(`  ${name.padEnd(50)} ${us.toFixed(2).padStart(7)}`);
process.exit(0);
