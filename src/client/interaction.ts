/**
 * The hooks through which a client asks the human in front of the key for something.
 * @module
 */

/**
 * Override the methods to talk to your user. The defaults suit scripts: touch prompts are
 * silent, no PIN is available (so a PIN-protected operation fails with `PinRequiredError`)
 * and built-in user verification (a fingerprint on the key) is allowed.
 */
export class UserInteraction {
  /** Called once when the authenticator starts waiting for a touch. */
  promptUp(): void {}

  /**
   * Asked for the PIN when the operation needs one; resolve `undefined` to give up.
   * `permissions` are the pinUvAuthToken permission bits requested, `rpId` the scope.
   */
  requestPin(
    _permissions: number,
    _rpId?: string,
  ): Promise<string | undefined> | string | undefined {
    return undefined;
  }

  /** Asked before built-in user verification is started; resolve false to use the PIN. */
  requestUv(_permissions: number, _rpId?: string): Promise<boolean> | boolean {
    return true;
  }
}
