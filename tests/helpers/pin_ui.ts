/**
 * The `UserInteraction` most client tests need: it answers every PIN request with one fixed
 * PIN (or none) and counts the requests.
 * @module
 */
import { UserInteraction } from "../../src/client/interaction.ts";

/** Gives `pin` (undefined: no PIN) whenever the client asks; `pinRequests` counts the asks. */
export class PinUi extends UserInteraction {
  /** How many times the client asked for the PIN. */
  pinRequests = 0;
  constructor(readonly pin?: string) {
    super();
  }
  override requestPin(): string | undefined {
    this.pinRequests++;
    return this.pin;
  }
}
