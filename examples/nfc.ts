/**
 * A security key on an NFC reader (or a contact smart-card reader) through PC/SC: lists the
 * readers, opens the key on the first one holding a FIDO card (`--reader NAME` picks by name),
 * then registers and authenticates, verified by @simplewebauthn/server.
 *
 *   deno run -A examples/nfc.ts                    bun examples/nfc.ts
 *   --reader NAME                                  (only readers whose name contains NAME)
 *   FIDO2_PIN=1234 ...                             (PIN for keys that have one)
 *   --virtual [--vpcd-port 35963]                  (first put the VirtualAuthenticator into the
 *                                                   vsmartcard-vpcd reader of a running pcscd)
 *
 * Linux needs pcscd running (apt-get install pcscd) and, for most USB NFC readers, the CCID
 * driver (libccid); macOS and Windows have PC/SC built in.
 */
import { DefaultClientDataCollector, Fido2Client } from "../mod.ts";
import { type CtapPcscDevice, listPcscDevices, openPcscBackend } from "../src/pcsc/mod.ts";
import { toHex } from "../src/utils.ts";
import {
  args,
  authenticateVerified,
  ConsoleInteraction,
  ORIGIN,
  registerVerified,
  reportFailure,
  wantsVirtual,
} from "./_common.ts";

const VIRTUAL_PIN = "1234";

function option(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Serves the VirtualAuthenticator as a card into the vpcd reader (from a Worker). */
async function insertVirtualCard(port: number): Promise<Worker> {
  const worker = new Worker(new URL("./_vcard_worker.ts", import.meta.url), { type: "module" });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no vpcd reader powered the card on port ${port} within 15 s`)),
        15_000,
      );
      worker.onmessage = (ev) => {
        clearTimeout(timer);
        ev.data.ready ? resolve() : reject(new Error(ev.data.error));
      };
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ port, pin: VIRTUAL_PIN });
    });
  } catch (e) {
    worker.terminate();
    throw e;
  }
  console.log(`Virtual authenticator inserted into the vpcd reader on port ${port}.`);
  return worker;
}

async function main(): Promise<void> {
  const filter = option("--reader") ?? "";
  const virtual = wantsVirtual();
  const worker = virtual ? await insertVirtualCard(Number(option("--vpcd-port") ?? 35963)) : null;
  try {
    const backend = await openPcscBackend();
    const readers = await backend.listReaders();
    backend.close?.();
    console.log(readers.length ? "Readers:" : "No PC/SC readers.");
    for (const r of readers) {
      console.log(`  ${r.name}: ${r.cardPresent ? `card, ATR ${toHex(r.atr!)}` : "empty"}`);
    }
    // A card inserted a moment ago shows up at the reader's next poll: retry for a while.
    for (let attempt = 0; attempt < (virtual ? 30 : 1); attempt++) {
      for await (const device of listPcscDevices(filter)) {
        try {
          console.log(
            `\nUsing ${device.reader}: applet ${device.appletVersion}, ` +
              `${device.supportsCbor ? "CTAP2" : "U2F only"}, ` +
              `${device.extendedApdus ? "extended-length" : "short, chained"} APDUs`,
          );
          await run(device, virtual);
        } finally {
          await device.close();
        }
        return;
      }
      if (virtual) await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `No FIDO key on a reader${filter ? ` matching "${filter}"` : ""}: put the key on the reader`,
    );
  } finally {
    worker?.terminate();
  }
}

async function run(device: CtapPcscDevice, virtual: boolean): Promise<void> {
  const client = new Fido2Client(
    device,
    new DefaultClientDataCollector(ORIGIN),
    new ConsoleInteraction(virtual ? VIRTUAL_PIN : undefined),
  );
  const info = await client.ready();
  console.log(`  versions ${info.versions.join(", ")}; AAGUID ${info.aaguid}`);

  console.log("\nRegistering a credential for example.com (keep the key on the reader)…");
  const { credential } = await registerVerified(client, { userName: "nfc-user" });
  console.log(`  verified: credential ${credential.id.slice(0, 24)}…`);

  console.log("\nAuthenticating…");
  await authenticateVerified(client, credential);
  console.log("  verified: assertion signed by the registered credential");
  console.log(`\nDone: registered and authenticated over PC/SC (${device.reader}).`);
}

try {
  await main();
} catch (e) {
  reportFailure(e);
}
