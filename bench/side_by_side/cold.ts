/**
 * Cold start: process start to the first getInfo answer (this library over UDP).
 *   deno run -A cold.ts PORT  /  bun cold.ts PORT
 * @module
 */
import process from "node:process";
import { Ctap2 } from "../../src/ctap2/base.ts";
import { CtapHidDevice, UdpHidConnection } from "../../src/hid/mod.ts";

const conn = await UdpHidConnection.open({ port: Number(process.argv[2]), localPort: 0 });
const ctap2 = await Ctap2.create(await CtapHidDevice.open(conn.descriptor, conn));
console.log(ctap2.info.versions);
await conn.close();
