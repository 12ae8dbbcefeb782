/**
 * Fingerprint enrollment (authenticatorBioEnrollment) on keys with a fingerprint sensor:
 * sensor information, enrolling a new finger sample by sample (with the sensor's feedback on
 * bad samples), listing, renaming and removing templates. It needs a pinUvAuthToken with the
 * `be` (bio enrollment) permission, obtained with the PIN.
 *
 * To be safe on a real key, only the finger enrolled here is renamed and removed. The virtual
 * authenticator gets built-in UV (`uv: true`), the PIN 1234 and a simulated sensor that
 * rejects the second sample as poor quality, to show the feedback.
 *
 *   deno run -A examples/bio_enrollment.ts [--virtual]
 */
import { Ctap2 } from "../src/ctap2/base.ts";
import { BioEnrollment, CaptureError, FPBioEnrollment } from "../src/ctap2/bio.ts";
import { ClientPin } from "../src/ctap2/pin.ts";
import { SAMPLE_STATUS } from "../src/virtual/mod.ts";
import { bytesEqual } from "../src/utils.ts";
import { type ExampleDevice, hexPreview, runExample } from "./_common.ts";

async function bioSession(dev: ExampleDevice): Promise<FPBioEnrollment> {
  const ctap = await Ctap2.create(dev.device);
  if (!BioEnrollment.isSupported(ctap.info)) {
    throw new Error("this authenticator has no fingerprint enrollment");
  }
  if (ctap.info.options.clientPin !== true) {
    throw new Error("bio enrollment needs a PIN: set one on the key first");
  }
  const pin = await dev.interaction.requestPin(ClientPin.PERMISSION.BIO_ENROLL);
  if (!pin) throw new Error("no PIN given");
  const clientPin = new ClientPin(ctap);
  const token = await clientPin.getPinToken(pin, ClientPin.PERMISSION.BIO_ENROLL);
  return await FPBioEnrollment.create(ctap, clientPin.protocol, token);
}

async function list(bio: FPBioEnrollment): Promise<void> {
  const templates = await bio.enumerateEnrollments();
  if (templates.length === 0) console.log("  (no fingerprints enrolled)");
  for (const t of templates) console.log(`  ${hexPreview(t.templateId)} "${t.name ?? ""}"`);
}

await runExample({
  virtual: {
    uv: true,
    pin: "1234",
    bioEnrollment: {
      samplesRequired: 3,
      captureSample: ({ sample }) => {
        console.log("  (virtual authenticator: finger placed)");
        return sample === 1 ? SAMPLE_STATUS.POOR_QUALITY : SAMPLE_STATUS.GOOD;
      },
    },
  },
}, async (dev) => {
  const bio = await bioSession(dev);
  const sensor = await bio.getFingerprintSensorInfo();
  console.log(
    `  sensor kind ${sensor.fingerprintKind === 1 ? "touch" : "swipe"}, ` +
      `${sensor.maxCaptureSamplesRequiredForEnroll} samples per enrollment`,
  );
  console.log("\nEnrolled fingerprints:");
  await list(bio);

  console.log("\nEnrolling a new finger…");
  const enrollment = bio.enroll();
  let templateId: Uint8Array | undefined;
  while (!templateId) {
    console.log("  Place your finger on the sensor…");
    try {
      templateId = await enrollment.capture();
      if (!templateId) console.log(`  good sample, ${enrollment.remaining} more needed`);
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      console.log(`  sample rejected (${e.message}), ${enrollment.remaining} more needed`);
    }
  }
  console.log(`  enrolled template ${hexPreview(templateId)}`);

  console.log('\nNaming it "example finger"…');
  await bio.setName(templateId, "example finger");
  await list(bio);

  console.log("\nRemoving it…");
  await bio.removeEnrollment(templateId);
  await list(bio);
  if ((await bio.enumerateEnrollments()).some((t) => bytesEqual(t.templateId, templateId))) {
    throw new Error("the removed template is still listed");
  }
  console.log("\nEnrolled, renamed and removed a fingerprint.");
});
