// WindowsClient against the fake webauthn library built for Linux (gcc .so), on Deno and Bun:
// the WebAuthn → webauthn.h mapping through the real FFI layer. The same scenarios run under
// Wine with the mingw-built webauthn.dll in tests/windows/windows_client.test.ts.
import { buildFakeWebAuthn } from "./helpers/webauthn_fixture.ts";
import { windowsClientCases } from "./helpers/windows_client_cases.ts";

windowsClientCases(() => buildFakeWebAuthn());
